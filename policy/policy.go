// Package policy loads the Lamina policy pack (the *.rego files and PulumiPolicy.yaml in
// this directory) and evaluates it the way Pulumi's OPA analyzer does: every rule named
// deny_* (mandatory) or warn_* (advisory) is queried once per resource, as
// data.<package>.<rule>, with the resource's input properties as input, under the Rego
// v0 parser that the analyzer uses (the pack's `import rego.v1` makes v1 syntax legal
// there).
//
// The analyzer sees one resource at a time, so invariants of the whole stack (a
// mesh-wide STRICT PeerAuthentication, a default-deny AuthorizationPolicy in every mesh
// namespace) are checked here in Go, by CheckStack; `lamina check` runs both.
package policy

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"gopkg.in/yaml.v3"
)

//go:embed *.rego PulumiPolicy.yaml
var files embed.FS

// Level is a rule's enforcement level, as Pulumi names it.
type Level string

// Enforcement levels.
const (
	// Mandatory violations block `pulumi preview` and `pulumi up`.
	Mandatory Level = "mandatory"
	// Advisory violations are reported and block nothing.
	Advisory Level = "advisory"
)

// The analyzer's naming contract: which rules are policies, and how strict.
var (
	mandatoryName = regexp.MustCompile(`^(deny|violation)(_[a-zA-Z0-9]+)*$`)
	advisoryName  = regexp.MustCompile(`^warn(_[a-zA-Z0-9]+)*$`)
)

// Rule is one policy of the pack.
type Rule struct {
	Name        string
	Title       string
	Description string
	Level       Level
	// File is the .rego file that defines the rule.
	File string

	query rego.PreparedEvalQuery
}

// Pack is the loaded, compiled policy pack.
type Pack struct {
	// Name is the Rego package, which the analyzer reports as the pack's name.
	Name        string
	Version     string
	Description string
	Rules       []*Rule

	compiler *ast.Compiler
	// inMesh is the helper rule namespace_in_mesh, which the stack-wide checks ask of
	// every Namespace, prepared once.
	inMesh rego.PreparedEvalQuery
}

// Load compiles the pack embedded from this directory.
func Load() (*Pack, error) {
	return LoadFS(files)
}

// LoadFS compiles a pack from the top level of fsys: every *.rego file, all in one
// package, and PulumiPolicy.yaml.
func LoadFS(fsys fs.FS) (*Pack, error) {
	manifest, err := fs.ReadFile(fsys, "PulumiPolicy.yaml")
	if err != nil {
		return nil, fmt.Errorf("policy pack: %w", err)
	}
	var meta struct {
		Description string `yaml:"description"`
		Runtime     string `yaml:"runtime"`
		Version     string `yaml:"version"`
	}
	if err := yaml.Unmarshal(manifest, &meta); err != nil {
		return nil, fmt.Errorf("policy pack: PulumiPolicy.yaml: %w", err)
	}
	if meta.Runtime != "opa" {
		return nil, fmt.Errorf("policy pack: PulumiPolicy.yaml: runtime is %q; the pack is Rego, so it must be opa", meta.Runtime)
	}

	names, err := fs.Glob(fsys, "*.rego")
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, errors.New("policy pack: no .rego files")
	}
	modules := map[string]*ast.Module{}
	for _, name := range names {
		src, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		m, err := ast.ParseModuleWithOpts(name, string(src), ast.ParserOptions{
			RegoVersion:       ast.RegoV0,
			ProcessAnnotation: true,
		})
		if err != nil {
			return nil, fmt.Errorf("policy pack: %w", err)
		}
		modules[name] = m
	}
	compiler := ast.NewCompiler()
	if compiler.Compile(modules); compiler.Failed() {
		return nil, fmt.Errorf("policy pack: %w", compiler.Errors)
	}

	p := &Pack{Version: meta.Version, Description: meta.Description, compiler: compiler}
	annotations := compiler.GetAnnotationSet()
	seen := map[string]string{}
	for _, file := range names {
		m := compiler.Modules[file]
		pkg := strings.TrimPrefix(m.Package.Path.String(), "data.")
		if p.Name == "" {
			p.Name = pkg
		} else if pkg != p.Name {
			return nil, fmt.Errorf("policy pack: %s is package %s, the others %s; Pulumi's OPA analyzer needs one package per pack", file, pkg, p.Name)
		}
		for _, r := range m.Rules {
			name := r.Head.Name.String()
			if name == "" {
				name = r.Head.Ref().String()
			}
			var level Level
			switch {
			case mandatoryName.MatchString(name):
				level = Mandatory
			case advisoryName.MatchString(name):
				level = Advisory
			default:
				continue
			}
			if prev, ok := seen[name]; ok {
				// The analyzer warns and skips a second definition of a policy rule.
				return nil, fmt.Errorf("policy pack: rule %s is defined in %s and again in %s; define each policy once (collect cases in a helper set)", name, prev, file)
			}
			seen[name] = file
			rule := &Rule{Name: name, Level: level, File: file}
			for _, a := range annotations.GetRuleScope(r) {
				rule.Title, rule.Description = a.Title, a.Description
			}
			p.Rules = append(p.Rules, rule)
		}
	}
	sort.Slice(p.Rules, func(i, j int) bool { return p.Rules[i].Name < p.Rules[j].Name })
	for _, rule := range p.Rules {
		q, err := p.prepare("data." + p.Name + "." + rule.Name)
		if err != nil {
			return nil, err
		}
		rule.query = q
	}
	if p.inMesh, err = p.prepare("data." + p.Name + ".namespace_in_mesh"); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Pack) prepare(query string) (rego.PreparedEvalQuery, error) {
	q, err := rego.New(
		rego.Query(query),
		rego.Compiler(p.compiler),
		rego.SetRegoVersion(ast.RegoV0),
	).PrepareForEval(context.Background())
	if err != nil {
		return q, fmt.Errorf("policy pack: preparing %s: %w", query, err)
	}
	return q, nil
}

// Rule returns the named rule, or nil.
func (p *Pack) Rule(name string) *Rule {
	for _, r := range p.Rules {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// Resource is what the analyzer is handed for one resource.
type Resource struct {
	URN  string
	Type string
	Name string
	// Properties are the resource's inputs.
	Properties map[string]any
	// Options are the resource options that change how Pulumi treats it.
	Protect             bool
	DeleteBeforeReplace bool
	IgnoreChanges       []string
	Parent              string
}

// Input builds the analyzer's input for r: the properties at the top level, and the
// resource's type, URN, name, options and properties under both their plain and their
// __-prefixed names, the properties winning a clash with a plain name.
func Input(r Resource) map[string]any {
	props := r.Properties
	if props == nil {
		props = map[string]any{}
	}
	options := map[string]any{
		"protect":             r.Protect,
		"deleteBeforeReplace": r.DeleteBeforeReplace,
		"ignoreChanges":       stringsOrEmpty(r.IgnoreChanges),
		"parent":              r.Parent,
	}
	in := map[string]any{
		"type":       r.Type,
		"urn":        r.URN,
		"name":       r.Name,
		"options":    options,
		"provider":   map[string]any{},
		"properties": props,
	}
	for k, v := range props {
		in[k] = v
	}
	in["__type"], in["__urn"], in["__name"] = r.Type, r.URN, r.Name
	in["__options"], in["__properties"], in["__provider"] = options, props, map[string]any{}
	return in
}

func stringsOrEmpty(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// Violation is one policy's finding on one resource, or on the stack.
type Violation struct {
	Policy  string `json:"policy"`
	URN     string `json:"urn"`
	Message string `json:"message"`
	Level   Level  `json:"level"`
}

// Evaluate runs every rule of the pack on one resource.
func (p *Pack) Evaluate(ctx context.Context, r Resource) ([]Violation, error) {
	in := Input(r)
	var out []Violation
	for _, rule := range p.Rules {
		msgs, err := messages(ctx, rule.query, in)
		if err != nil {
			return nil, fmt.Errorf("evaluating %s on %s: %w", rule.Name, r.URN, err)
		}
		for _, m := range msgs {
			out = append(out, Violation{Policy: rule.Name, URN: r.URN, Message: m, Level: rule.Level})
		}
	}
	return out, nil
}

// messages evaluates a policy rule as the analyzer does: its value is a set (a JSON
// array) of messages, each a violation.
func messages(ctx context.Context, q rego.PreparedEvalQuery, input any) ([]string, error) {
	rs, err := q.Eval(ctx, rego.EvalInput(input))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, result := range rs {
		for _, expr := range result.Expressions {
			values, ok := expr.Value.([]any)
			if !ok {
				continue
			}
			for _, v := range values {
				s, ok := v.(string)
				if !ok {
					s = fmt.Sprint(v)
				}
				out = append(out, s)
			}
		}
	}
	return out, nil
}

// value evaluates a prepared query (data, a helper rule) for input and returns its
// value, or nil when it is undefined.
func value(ctx context.Context, q rego.PreparedEvalQuery, input any) (any, error) {
	rs, err := q.Eval(ctx, rego.EvalInput(input))
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return nil, nil
	}
	return rs[0].Expressions[0].Value, nil
}

// data evaluates the pack's data name.
func (p *Pack) data(ctx context.Context, name string) (any, error) {
	q, err := p.prepare("data." + p.Name + "." + name)
	if err != nil {
		return nil, err
	}
	return value(ctx, q, nil)
}

func (p *Pack) stringValue(ctx context.Context, name string) (string, error) {
	v, err := p.data(ctx, name)
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("policy pack: %s is %T, want a string", name, v)
	}
	return s, nil
}

func (p *Pack) stringSet(ctx context.Context, name string) ([]string, error) {
	v, err := p.data(ctx, name)
	if err != nil {
		return nil, err
	}
	values, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("policy pack: %s is %T, want a set of strings", name, v)
	}
	out := make([]string, 0, len(values))
	for _, e := range values {
		s, ok := e.(string)
		if !ok {
			return nil, fmt.Errorf("policy pack: %s holds %T, want strings", name, e)
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out, nil
}
