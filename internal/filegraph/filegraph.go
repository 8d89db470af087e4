// Package filegraph computes, for one Go package directory, which of its non-test
// files refer to which: file A points at file B when an identifier used in A denotes
// something declared in B — a package-level function, type, var or const, a method,
// or a field. Tests use it to keep a package's files calling only downward
// (stacks/config's layers); cmd/filegraph prints a package's graph. The program does
// not import it.
package filegraph

import (
	"fmt"
	"go/token"
	"go/types"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"golang.org/x/tools/go/packages"
)

// Graph is the file-to-file reference graph of one package. File names are base
// names, since every file of a package lies in the same directory.
type Graph struct {
	// Package is the import path of the package.
	Package string
	// Dir is the absolute directory it was loaded from.
	Dir string
	// Files are the package's non-test .go files that the build includes, sorted.
	Files []string
	// Edges maps a file to the other files it refers to, sorted. A file that refers
	// to no other file has no key.
	Edges map[string][]string

	// refs holds, for each edge, the sorted names that make it: "Name",
	// "Type.Method" or "Type.Field".
	refs map[[2]string][]string
}

// mode is what Load asks of go/packages: the target package's syntax and type
// information. Without NeedDeps, its imports are read from export data.
const mode = packages.NeedName | packages.NeedFiles | packages.NeedSyntax |
	packages.NeedTypes | packages.NeedTypesInfo

// Load type-checks the package in dir (dir is also where the go command runs, so it
// must lie inside a module) and returns its file graph. Test files are left out. A
// package that does not type-check is an error, for its graph would be partial.
func Load(dir string) (*Graph, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	cfg := &packages.Config{Mode: mode, Dir: abs, Tests: false}
	pkgs, err := packages.Load(cfg, ".")
	if err != nil {
		return nil, fmt.Errorf("filegraph: load %s: %w", dir, err)
	}
	if len(pkgs) != 1 {
		return nil, fmt.Errorf("filegraph: %s holds %d packages, want 1", dir, len(pkgs))
	}
	pkg := pkgs[0]
	if len(pkg.Errors) > 0 {
		msgs := make([]string, 0, len(pkg.Errors))
		for _, e := range pkg.Errors {
			msgs = append(msgs, e.Error())
		}
		return nil, fmt.Errorf("filegraph: %s: %s", dir, strings.Join(msgs, "; "))
	}
	return build(pkg, abs), nil
}

// build walks the package's uses and selections and records, for each, an edge
// from the file of the use to the file of the declaration.
func build(pkg *packages.Package, dir string) *Graph {
	g := &Graph{
		Package: pkg.PkgPath,
		Dir:     dir,
		Edges:   map[string][]string{},
		refs:    map[[2]string][]string{},
	}
	for _, f := range pkg.GoFiles {
		g.Files = append(g.Files, filepath.Base(f))
	}
	sort.Strings(g.Files)

	fset, info, scope := pkg.Fset, pkg.TypesInfo, pkg.Types.Scope()
	// ours reports the file that declares obj when obj is this package's and lies
	// at package level, or is a method or a field; "" otherwise (locals, labels,
	// parameters, type parameters, other packages' objects).
	ours := func(obj types.Object) string {
		if obj == nil || obj.Pkg() != pkg.Types || !obj.Pos().IsValid() {
			return ""
		}
		switch o := obj.(type) {
		case *types.Func:
			if o.Signature().Recv() == nil && o.Parent() != scope {
				return ""
			}
		case *types.Var:
			if !o.IsField() && o.Parent() != scope {
				return ""
			}
		default:
			if obj.Parent() != scope {
				return ""
			}
		}
		return filepath.Base(fset.Position(obj.Pos()).Filename)
	}
	fileOf := func(pos token.Pos) string { return filepath.Base(fset.Position(pos).Filename) }

	seen := map[[2]string]map[string]bool{}
	add := func(from string, obj types.Object) {
		to := ours(obj)
		if from == "" || to == "" || from == to {
			return
		}
		k := [2]string{from, to}
		if seen[k] == nil {
			seen[k] = map[string]bool{}
		}
		seen[k][qualifiedName(obj)] = true
	}

	for id, obj := range info.Uses {
		add(fileOf(id.Pos()), obj)
	}
	// A selection x.f also crosses the embedded fields that promote f to x's type;
	// those fields are used without being named, so Uses does not hold them.
	for sel, s := range info.Selections {
		from := fileOf(sel.Pos())
		t := s.Recv()
		idx := s.Index()
		for _, i := range idx[:len(idx)-1] {
			st, ok := structOf(t)
			if !ok || i >= st.NumFields() {
				break
			}
			field := st.Field(i)
			add(from, field)
			t = field.Type()
		}
	}

	for k, names := range seen {
		g.Edges[k[0]] = append(g.Edges[k[0]], k[1])
		list := make([]string, 0, len(names))
		for n := range names {
			list = append(list, n)
		}
		sort.Strings(list)
		g.refs[k] = list
	}
	for _, to := range g.Edges {
		sort.Strings(to)
	}
	return g
}

// structOf returns the struct beneath t, through one pointer, if there is one.
func structOf(t types.Type) (*types.Struct, bool) {
	if p, ok := types.Unalias(t).(*types.Pointer); ok {
		t = p.Elem()
	}
	st, ok := t.Underlying().(*types.Struct)
	return st, ok
}

// qualifiedName names obj as a reader of the package would: a method or field with
// its type's name in front.
func qualifiedName(obj types.Object) string {
	switch o := obj.(type) {
	case *types.Func:
		if recv := o.Signature().Recv(); recv != nil {
			return typeName(recv.Type()) + "." + o.Name()
		}
	case *types.Var:
		if o.IsField() {
			if owner := fieldOwner(o); owner != "" {
				return owner + "." + o.Name()
			}
		}
	}
	return obj.Name()
}

// fieldOwner names the package-level type that declares field v, or "" when v
// belongs to an anonymous struct.
func fieldOwner(v *types.Var) string {
	if v.Pkg() == nil {
		return ""
	}
	scope := v.Pkg().Scope()
	for _, n := range scope.Names() {
		tn, ok := scope.Lookup(n).(*types.TypeName)
		if !ok {
			continue
		}
		if st, ok := tn.Type().Underlying().(*types.Struct); ok {
			for i := range st.NumFields() {
				if st.Field(i).Origin() == v.Origin() {
					return tn.Name()
				}
			}
		}
	}
	return ""
}

// typeName is a receiver's type name without pointer or type arguments.
func typeName(t types.Type) string {
	if p, ok := types.Unalias(t).(*types.Pointer); ok {
		t = p.Elem()
	}
	switch n := types.Unalias(t).(type) {
	case *types.Named:
		return n.Obj().Name()
	case *types.Interface:
		return "interface"
	}
	return t.String()
}

// Arrows is the number of file-to-file edges.
func (g *Graph) Arrows() int {
	n := 0
	for _, to := range g.Edges {
		n += len(to)
	}
	return n
}

// HasEdge reports whether from refers to to.
func (g *Graph) HasEdge(from, to string) bool {
	for _, t := range g.Edges[from] {
		if t == to {
			return true
		}
	}
	return false
}

// Why returns the names declared in to that from uses, sorted; nil when from does
// not refer to to.
func (g *Graph) Why(from, to string) []string {
	return g.refs[[2]string{from, to}]
}

// Mutual returns the pairs of files that refer to each other, each pair in name
// order and the pairs sorted.
func (g *Graph) Mutual() [][2]string {
	var out [][2]string
	for from, tos := range g.Edges {
		for _, to := range tos {
			if from < to && g.HasEdge(to, from) {
				out = append(out, [2]string{from, to})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i][0] != out[j][0] {
			return out[i][0] < out[j][0]
		}
		return out[i][1] < out[j][1]
	})
	return out
}

// Cycles returns the strongly connected components of more than one file (Tarjan's
// algorithm): sets of files each of which reaches every other. Each component is
// sorted, and the components are sorted by their first file.
func (g *Graph) Cycles() [][]string {
	nodes := g.nodes()
	index := map[string]int{}
	low := map[string]int{}
	onStack := map[string]bool{}
	var stack []string
	var out [][]string
	next := 0

	var visit func(v string)
	visit = func(v string) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		onStack[v] = true
		for _, w := range g.Edges[v] {
			if _, done := index[w]; !done {
				visit(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] != index[v] {
			return
		}
		var scc []string
		for {
			w := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			onStack[w] = false
			scc = append(scc, w)
			if w == v {
				break
			}
		}
		if len(scc) > 1 {
			sort.Strings(scc)
			out = append(out, scc)
		}
	}
	for _, v := range nodes {
		if _, done := index[v]; !done {
			visit(v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

// nodes is every file that is in Files or on either end of an edge, sorted, so that
// a Graph built by hand needs no Files.
func (g *Graph) nodes() []string {
	set := map[string]bool{}
	for _, f := range g.Files {
		set[f] = true
	}
	for from, tos := range g.Edges {
		set[from] = true
		for _, to := range tos {
			set[to] = true
		}
	}
	out := make([]string, 0, len(set))
	for f := range set {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// whyLimit caps how many names Report lists for one direction of a mutual pair.
const whyLimit = 8

// Report describes the graph for a reader, in Markdown: the counts, every edge,
// the mutual pairs with the names that make each direction, and the cycles.
func (g *Graph) Report() string {
	var b strings.Builder
	mutual, cycles := g.Mutual(), g.Cycles()
	fmt.Fprintf(&b, "### %s (%s)\n\n", g.Package, g.Dir)
	fmt.Fprintf(&b, "- files: %d\n- file→file arrows: %d\n- mutual pairs: %d\n- cycles (SCCs of more than one file): %d",
		len(g.Files), g.Arrows(), len(mutual), len(cycles))
	if len(cycles) > 0 {
		sizes := make([]string, len(cycles))
		for i, c := range cycles {
			sizes[i] = fmt.Sprint(len(c))
		}
		fmt.Fprintf(&b, " (sizes %s)", strings.Join(sizes, ", "))
	}
	b.WriteString("\n\nEdges:\n\n")
	for _, f := range g.nodes() {
		if tos := g.Edges[f]; len(tos) > 0 {
			fmt.Fprintf(&b, "- %s → %s\n", f, strings.Join(tos, ", "))
		}
	}
	b.WriteString("\nMutual pairs:\n\n")
	if len(mutual) == 0 {
		b.WriteString("- none\n")
	}
	for _, p := range mutual {
		fmt.Fprintf(&b, "- %s ⇄ %s\n  - %s → %s: %s\n  - %s → %s: %s\n", p[0], p[1],
			p[0], p[1], names(g.Why(p[0], p[1])), p[1], p[0], names(g.Why(p[1], p[0])))
	}
	b.WriteString("\nCycles:\n\n")
	if len(cycles) == 0 {
		b.WriteString("- none\n")
	}
	for _, c := range cycles {
		fmt.Fprintf(&b, "- {%s} (%d files)\n", strings.Join(c, ", "), len(c))
	}
	return b.String()
}

// names lists up to whyLimit names and counts the rest.
func names(list []string) string {
	if len(list) <= whyLimit {
		return strings.Join(list, ", ")
	}
	return fmt.Sprintf("%s, … (%d more)", strings.Join(list[:whyLimit], ", "), len(list)-whyLimit)
}

// Against checks the graph against layers of files, the lowest first: each arrow must
// go to a lower layer, or stay inside one of the layers numbered in within (files that
// refer to one another by nature, such as a tree of types). It returns one message per
// arrow that does not, and per file that has no layer, sorted.
func (g *Graph) Against(layers [][]string, within ...int) []string {
	layer := map[string]int{}
	for i, files := range layers {
		for _, f := range files {
			layer[f] = i
		}
	}
	var out []string
	for _, f := range g.Files {
		from, ok := layer[f]
		if !ok {
			out = append(out, fmt.Sprintf("%s has no layer: give it one", f))
			continue
		}
		for _, to := range g.Edges[f] {
			l, ok := layer[to]
			if !ok || l < from || l == from && slices.Contains(within, l) {
				continue
			}
			out = append(out, fmt.Sprintf("%s uses %s (%s), which is not below it", f, to, strings.Join(g.Why(f, to), ", ")))
		}
	}
	sort.Strings(out)
	return out
}
