package filegraph

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// writeModule writes a module example.com/x holding files into a fresh directory
// and returns it.
func writeModule(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	files["go.mod"] = "module example.com/x\n\ngo 1.22\n"
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// load is Load that fails the test on an error.
func load(t *testing.T, dir string) *Graph {
	t.Helper()
	t.Setenv("GOWORK", "off")
	t.Setenv("GOFLAGS", "-mod=mod")
	g, err := Load(dir)
	if err != nil {
		t.Fatalf("Load(%s): %v", dir, err)
	}
	return g
}

// assertEdges fails unless g's edges are exactly want.
func assertEdges(t *testing.T, g *Graph, want map[string][]string) {
	t.Helper()
	if !reflect.DeepEqual(g.Edges, want) {
		t.Errorf("edges:\n got %v\nwant %v", g.Edges, want)
	}
}

func TestLoadFindsThreeFileCycle(t *testing.T) {
	// a.go → b.go → c.go → a.go. a2.go's local name and the test files' uses
	// must add nothing.
	dir := writeModule(t, map[string]string{
		"a.go":        "package x\n\nvar Names = []string{\"a\"}\n\nfunc A() int { return B() }\n",
		"b.go":        "package x\n\nfunc B() int { return C }\n",
		"c.go":        "package x\n\nvar C = len(Names)\n",
		"a2.go":       "package x\n\nfunc local() int { n := 1; return n }\n",
		"a_test.go":   "package x\n\nimport \"testing\"\n\nfunc TestA(t *testing.T) { _ = A() + B() + local() }\n",
		"doc_test.go": "package x_test\n\nimport \"example.com/x\"\n\nvar _ = x.C\n",
	})
	g := load(t, dir)
	if g.Package != "example.com/x" {
		t.Errorf("Package = %q, want example.com/x", g.Package)
	}
	if want := []string{"a.go", "a2.go", "b.go", "c.go"}; !reflect.DeepEqual(g.Files, want) {
		t.Errorf("Files = %v, want %v (test files left out)", g.Files, want)
	}
	assertEdges(t, g, map[string][]string{
		"a.go": {"b.go"},
		"b.go": {"c.go"},
		"c.go": {"a.go"},
	})
	if got := g.Arrows(); got != 3 {
		t.Errorf("Arrows() = %d, want 3", got)
	}
	if got, want := g.Cycles(), [][]string{{"a.go", "b.go", "c.go"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("Cycles() = %v, want %v", got, want)
	}
	if got := g.Mutual(); len(got) != 0 {
		t.Errorf("Mutual() = %v, want none", got)
	}
	if got, want := g.Why("c.go", "a.go"), []string{"Names"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Why(c.go, a.go) = %v, want %v", got, want)
	}
}

func TestLoadMethodCallPointsAtMethodFile(t *testing.T) {
	// c.go declares T, b.go declares T's method M and Make, which returns a T.
	base := map[string]string{
		"b.go": "package x\n\nfunc (t T) M() int { return t.n }\n\nfunc Make() T { return T{n: 1} }\n",
		"c.go": "package x\n\ntype T struct{ n int }\n",
	}
	cases := []struct {
		name string
		a    string
		want map[string][]string
	}{{
		name: "type not named in caller",
		a:    "package x\n\nfunc Use() int { return Make().M() }\n",
		want: map[string][]string{"a.go": {"b.go"}, "b.go": {"c.go"}},
	}, {
		name: "type named in caller",
		a:    "package x\n\nfunc Use(t T) int { return t.M() }\n",
		want: map[string][]string{"a.go": {"b.go", "c.go"}, "b.go": {"c.go"}},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{"a.go": tc.a}
			for k, v := range base {
				files[k] = v
			}
			g := load(t, writeModule(t, files))
			assertEdges(t, g, tc.want)
			if got := g.Why("a.go", "b.go"); !contains(got, "T.M") {
				t.Errorf("Why(a.go, b.go) = %v, want it to hold T.M", got)
			}
			if got := g.Cycles(); len(got) != 0 {
				t.Errorf("Cycles() = %v, want none", got)
			}
		})
	}
}

func TestLoadCountsFieldsAndPromotingEmbeddedFields(t *testing.T) {
	// Outer (b.go) embeds Inner (c.go), which declares F. a.go reads o.F naming
	// Outer; d.go reads New().F without naming it, so only the selection's
	// unnamed step through the embedded field Outer.Inner points d.go at b.go.
	dir := writeModule(t, map[string]string{
		"a.go": "package x\n\nfunc Get(o *Outer) int { return o.F }\n",
		"b.go": "package x\n\ntype Outer struct{ Inner }\n",
		"c.go": "package x\n\ntype Inner struct{ F int }\n",
		"d.go": "package x\n\nvar _ = New().F\n",
		"n.go": "package x\n\nfunc New() *Outer { return nil }\n",
	})
	g := load(t, dir)
	assertEdges(t, g, map[string][]string{
		"a.go": {"b.go", "c.go"},
		"b.go": {"c.go"},
		"d.go": {"b.go", "c.go", "n.go"},
		"n.go": {"b.go"},
	})
	if got, want := g.Why("a.go", "c.go"), []string{"Inner.F"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Why(a.go, c.go) = %v, want %v", got, want)
	}
	if got, want := g.Why("d.go", "b.go"), []string{"Outer.Inner"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Why(d.go, b.go) = %v, want %v", got, want)
	}
}

func TestMutualAndCyclesOfTwoFilesReferringToEachOther(t *testing.T) {
	dir := writeModule(t, map[string]string{
		"a.go": "package x\n\ntype A struct{ b *B }\n",
		"b.go": "package x\n\ntype B struct{ a *A }\n",
		"c.go": "package x\n\nvar c A\n",
	})
	g := load(t, dir)
	if got, want := g.Mutual(), [][2]string{{"a.go", "b.go"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("Mutual() = %v, want %v", got, want)
	}
	if got, want := g.Cycles(), [][]string{{"a.go", "b.go"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("Cycles() = %v, want %v", got, want)
	}
	report := g.Report()
	for _, want := range []string{"- files: 3", "- file→file arrows: 3", "- a.go ⇄ b.go", "{a.go, b.go}"} {
		if !strings.Contains(report, want) {
			t.Errorf("Report() lacks %q:\n%s", want, report)
		}
	}
}

func TestCyclesFindsEachStronglyConnectedComponent(t *testing.T) {
	// Two cycles joined by a one-way arrow, a self-contained chain, and a file
	// with no arrows at all.
	g := &Graph{
		Files: []string{"lone.go"},
		Edges: map[string][]string{
			"a.go": {"b.go"},
			"b.go": {"c.go"},
			"c.go": {"a.go", "d.go"},
			"d.go": {"e.go"},
			"e.go": {"d.go"},
			"p.go": {"q.go"},
			"q.go": {"r.go"},
		},
	}
	want := [][]string{{"a.go", "b.go", "c.go"}, {"d.go", "e.go"}}
	if got := g.Cycles(); !reflect.DeepEqual(got, want) {
		t.Errorf("Cycles() = %v, want %v", got, want)
	}
	if got, want := g.Mutual(), [][2]string{{"d.go", "e.go"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("Mutual() = %v, want %v", got, want)
	}
	if got := g.Arrows(); got != 8 {
		t.Errorf("Arrows() = %d, want 8", got)
	}
}

func TestLoadRejectsPackageThatDoesNotTypeCheck(t *testing.T) {
	dir := writeModule(t, map[string]string{"a.go": "package x\n\nvar A = undefined\n"})
	t.Setenv("GOWORK", "off")
	if g, err := Load(dir); err == nil {
		t.Fatalf("Load = %v, want an error", g)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestAgainstNamesEachArrowThatDoesNotGoDown(t *testing.T) {
	g := &Graph{
		Files: []string{"load.go", "check.go", "a.go", "b.go", "new.go"},
		Edges: map[string][]string{
			"load.go":  {"check.go", "a.go"},
			"check.go": {"load.go"}, // up
			"a.go":     {"b.go"},    // inside the type layer: allowed
			"b.go":     {"a.go"},
		},
	}
	layers := [][]string{{"a.go", "b.go"}, {"check.go"}, {"load.go"}}
	want := []string{
		"check.go uses load.go (), which is not below it",
		"new.go has no layer: give it one",
	}
	if got := g.Against(layers, 0); !reflect.DeepEqual(got, want) {
		t.Fatalf("Against = %q, want %q", got, want)
	}
	// Without the exception, the type layer's two arrows are reported too.
	if got := g.Against(layers); len(got) != 4 {
		t.Fatalf("Against without within = %q, want 4 messages", got)
	}
}
