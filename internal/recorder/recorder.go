// Package recorder runs a Pulumi program under Pulumi's mocks and records the resource
// graph it declares: every registered resource with its type, name, URN, parent,
// provider, dependencies, resource options and inputs, and the stack outputs.
//
// The tests and the offline tool (cmd/lamina) share it, so what `lamina render` prints is
// exactly what the tests assert on. Nothing here talks to a Pulumi engine, a cluster or a
// secrets provider.
package recorder

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"
)

// Masks stand in for values that a reviewer must not see or that do not exist yet.
const (
	// SecretMask replaces every secret value.
	SecretMask = "[secret]"
	// UnknownMask replaces every value that is only known after a resource is created.
	UnknownMask = "[unknown]"
)

// Options say which stack to run and how.
type Options struct {
	// Project and Stack name the run; they appear in every URN.
	Project, Stack string
	// Config is the stack's configuration as the engine hands it to a program
	// ("namespace:key" to value; structured values as JSON).
	Config map[string]string
	// SecretKeys lists the config keys whose values are secret.
	SecretKeys []string
	// Preview runs as `pulumi preview` before the first `up` does: outputs that a
	// resource only has after it is created are unknown.
	Preview bool
	// Outputs, when set and Preview is false, gives the outputs a custom resource would
	// have after creation beyond its inputs (for example a command's stdout). Outputs
	// named in the resource's additionalSecretOutputs are made secret, as the engine does.
	Outputs func(r *Resource) resource.PropertyMap
	// References are the outputs of the stacks the program reads through a
	// StackReference, by the stack's name (its last part: staging for
	// organization/lamina/staging). In a preview, a stack or an output not given is
	// unknown, as it is before that stack's first up; otherwise it is an error.
	References map[string]resource.PropertyMap
	// Before, when set, runs before the program on the same context. Tests register
	// stack transformations here to stand for an edit of the program.
	Before func(ctx *pulumi.Context) error
}

// Graph is what a program declared.
type Graph struct {
	Project   string         `json:"project"`
	Stack     string         `json:"stack"`
	Resources []*Resource    `json:"resources"`
	Outputs   map[string]any `json:"outputs"`

	raw map[string]Value
}

// Timeouts are a resource's customTimeouts option.
type Timeouts struct {
	Create string `json:"create,omitempty"`
	Update string `json:"update,omitempty"`
	Delete string `json:"delete,omitempty"`
}

// Resource is one registered resource. Options that matter to a reviewer are present
// only when set.
type Resource struct {
	URN          string         `json:"urn"`
	Type         string         `json:"type"`
	Name         string         `json:"name"`
	Parent       string         `json:"parent,omitempty"`
	Provider     string         `json:"provider,omitempty"`
	Dependencies []string       `json:"dependencies"`
	Inputs       map[string]any `json:"inputs"`

	Protect             bool     `json:"protect,omitempty"`
	RetainOnDelete      bool     `json:"retainOnDelete,omitempty"`
	DeleteBeforeReplace bool     `json:"deleteBeforeReplace,omitempty"`
	IgnoreChanges       []string `json:"ignoreChanges,omitempty"`
	// ReplacementTrigger is the value whose change makes the engine replace the
	// resource, as the render shows it.
	ReplacementTrigger      any       `json:"replacementTrigger,omitempty"`
	CustomTimeouts          *Timeouts `json:"customTimeouts,omitempty"`
	AdditionalSecretOutputs []string  `json:"additionalSecretOutputs,omitempty"`

	// Custom is false for component resources.
	Custom bool `json:"-"`

	raw resource.PropertyMap
}

// Raw returns the resource's inputs as registered, secrets and unknowns included, for
// tests that must look behind the masks.
func (r *Resource) Raw() resource.PropertyMap { return r.raw }

// Value is a resolved output: its plain value and whether it is known and secret.
type Value struct {
	Value  any
	Known  bool
	Secret bool

	// property is the output as another stack's StackReference reads it: computed
	// when any part of it is unknown.
	property resource.PropertyValue
}

// StackOutputs are the graph's outputs as a StackReference of its stack reads them,
// secrets kept secret, without those that are not known in whole.
func (g *Graph) StackOutputs() resource.PropertyMap {
	out := resource.PropertyMap{}
	for name, v := range g.raw {
		if !v.property.ContainsUnknowns() {
			out[resource.PropertyKey(name)] = v.property
		}
	}
	return out
}

// RawOutput returns a stack output as resolved, behind the masks. The entries of a
// pulumi.Map output resolve one by one and arrive masked already.
func (g *Graph) RawOutput(name string) (Value, bool) {
	v, ok := g.raw[name]
	return v, ok
}

type mocks struct {
	opts Options

	mu        sync.Mutex
	resources []*Resource
}

// Run executes program under mocks and returns the graph it declared. When the program
// fails (a configuration error, say), the error comes back with what was registered
// before it.
func Run(opts Options, program pulumi.RunFunc) (*Graph, error) {
	m := &mocks{opts: opts}
	outputs := map[string]Value{}
	body := func(ctx *pulumi.Context) error {
		if opts.Before != nil {
			if err := opts.Before(ctx); err != nil {
				return err
			}
		}
		if err := program(ctx); err != nil {
			return err
		}
		for name, input := range ctx.GetCurrentExportMap() {
			v, err := await(ctx, input)
			if err != nil {
				return fmt.Errorf("stack output %q: %w", name, err)
			}
			outputs[name] = v
		}
		return nil
	}
	configure := func(info *pulumi.RunInfo) {
		info.Config = opts.Config
		info.ConfigSecretKeys = opts.SecretKeys
		info.DryRun = opts.Preview
	}
	err := pulumi.RunErr(body, pulumi.WithMocks(opts.Project, opts.Stack, m), configure)

	g := &Graph{Project: opts.Project, Stack: opts.Stack, Outputs: map[string]any{}, raw: outputs}
	for name, v := range outputs {
		g.Outputs[name] = maskValue(v)
	}
	g.Resources = orderResources(m.resources)
	return g, err
}

// await resolves a stack output. The entries of a pulumi.Map resolve one by one, so that
// one unknown entry does not hide the known ones.
func await(ctx *pulumi.Context, input pulumi.Input) (Value, error) {
	if m, ok := input.(pulumi.Map); ok {
		out := map[string]any{}
		props := resource.PropertyMap{}
		for k, e := range m {
			v, err := await(ctx, e)
			if err != nil {
				return Value{}, err
			}
			out[k] = maskValue(v)
			props[resource.PropertyKey(k)] = v.property
		}
		return Value{Value: out, Known: true, property: resource.NewProperty(props)}, nil
	}
	res, err := internals.UnsafeAwaitOutput(ctx.Context(), pulumi.ToOutput(input))
	if err != nil {
		return Value{}, err
	}
	v := Value{Value: res.Value, Known: res.Known, Secret: res.Secret}
	switch {
	case !res.Known:
		v.property = resource.MakeComputed(resource.NewProperty(""))
	default:
		v.property = resource.NewPropertyValue(res.Value)
	}
	if res.Secret {
		v.property = resource.MakeSecret(v.property)
	}
	return v, nil
}

// NewResource records one registration and answers with the resource's state.
func (m *mocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	rpc := args.RegisterRPC
	if rpc == nil && args.TypeToken == stackReferenceType {
		return m.stackReference(args)
	}
	if rpc == nil {
		return "", nil, fmt.Errorf("%s %q: reading existing resources is not supported offline", args.TypeToken, args.Name)
	}
	// The mock monitor drops unknown inputs; decode the request again keeping them.
	inputs, err := plugin.UnmarshalProperties(rpc.GetObject(), plugin.MarshalOptions{
		KeepUnknowns: true, KeepSecrets: true, KeepResources: true,
	})
	if err != nil {
		return "", nil, fmt.Errorf("%s %q: decoding inputs: %w", args.TypeToken, args.Name, err)
	}
	r := &Resource{
		URN:                     m.urn(rpc.GetParent(), args.TypeToken, args.Name),
		Type:                    args.TypeToken,
		Name:                    args.Name,
		Parent:                  rpc.GetParent(),
		Provider:                providerURN(rpc.GetProvider()),
		Dependencies:            sortedUnique(rpc.GetDependencies()),
		Custom:                  args.Custom,
		Protect:                 rpc.GetProtect(),
		RetainOnDelete:          rpc.GetRetainOnDelete(),
		DeleteBeforeReplace:     rpc.GetDeleteBeforeReplace(),
		IgnoreChanges:           rpc.GetIgnoreChanges(),
		AdditionalSecretOutputs: rpc.GetAdditionalSecretOutputs(),
		raw:                     inputs,
	}
	if v := rpc.GetReplacementTrigger(); v != nil {
		trigger, err := plugin.UnmarshalPropertyValue("replacementTrigger", v, plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true})
		if err != nil {
			return "", nil, fmt.Errorf("%s %q: decoding replacementTrigger: %w", args.TypeToken, args.Name, err)
		}
		if trigger != nil {
			r.ReplacementTrigger = maskProperty(*trigger)
		}
	}
	if t := rpc.GetCustomTimeouts(); t != nil && (t.GetCreate() != "" || t.GetUpdate() != "" || t.GetDelete() != "") {
		r.CustomTimeouts = &Timeouts{Create: t.GetCreate(), Update: t.GetUpdate(), Delete: t.GetDelete()}
	}
	r.Inputs = maskObject(inputs)

	m.mu.Lock()
	for _, prev := range m.resources {
		if prev.URN == r.URN {
			m.mu.Unlock()
			// The engine refuses this too; the mock monitor does not.
			return "", nil, fmt.Errorf("duplicate resource URN %s", r.URN)
		}
	}
	m.resources = append(m.resources, r)
	m.mu.Unlock()

	if !args.Custom {
		return "", resource.PropertyMap{}, nil
	}
	state := resource.PropertyMap{}
	for k, v := range args.Inputs {
		state[k] = v
	}
	if m.opts.Preview {
		// Pulumi's mock monitor cannot carry a secret whose value is unknown (it fails
		// with "malformed RPC secret"), so in a preview a secret output is known: the
		// mask itself. What a reviewer sees is the same: "[secret]".
		for _, k := range r.AdditionalSecretOutputs {
			if _, ok := state[resource.PropertyKey(k)]; !ok {
				state[resource.PropertyKey(k)] = resource.MakeSecret(resource.NewProperty(SecretMask))
			}
		}
		return args.Name + "-id", state, nil
	}
	if m.opts.Outputs != nil {
		secret := map[string]bool{}
		for _, k := range r.AdditionalSecretOutputs {
			secret[k] = true
		}
		for k, v := range m.opts.Outputs(r) {
			if secret[string(k)] {
				v = resource.MakeSecret(v)
			}
			state[k] = v
		}
	}
	return args.Name + "-id", state, nil
}

// stackReferenceType is the type of a pulumi.StackReference, which reads another
// stack's outputs.
const stackReferenceType = "pulumi:pulumi:StackReference"

// stackReference records a StackReference and answers with the referenced stack's
// outputs from Options.References.
func (m *mocks) stackReference(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	name := args.Inputs["name"].StringValue()
	short := name[strings.LastIndex(name, "/")+1:]
	outputs, ok := m.opts.References[short]
	if !ok && !m.opts.Preview {
		return "", nil, fmt.Errorf("stack reference %q: no outputs of stack %s given (recorder.Options.References)", args.Name, short)
	}
	parent := args.ReadRPC.GetParent()
	r := &Resource{
		URN:          m.urn(parent, args.TypeToken, args.Name),
		Type:         args.TypeToken,
		Name:         args.Name,
		Parent:       parent,
		Dependencies: []string{},
		Custom:       true,
		raw:          args.Inputs,
		Inputs:       maskObject(args.Inputs),
	}
	m.mu.Lock()
	m.resources = append(m.resources, r)
	m.mu.Unlock()
	var secrets []resource.PropertyValue
	for k, v := range outputs {
		if v.ContainsSecrets() {
			secrets = append(secrets, resource.NewProperty(string(k)))
		}
	}
	if outputs == nil {
		outputs = resource.PropertyMap{}
	}
	return name, resource.PropertyMap{
		"name":              resource.NewProperty(name),
		"outputs":           resource.NewProperty(outputs),
		"secretOutputNames": resource.NewProperty(secrets),
	}, nil
}

// Call answers invokes. The program makes none; one appearing is a change worth noticing.
func (m *mocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return nil, fmt.Errorf("invoke %s is not supported offline: an invoke reads live state, which render cannot have", args.Token)
}

// urn computes a resource's URN the way the engine (and Pulumi's mock monitor) does.
func (m *mocks) urn(parent, typ, name string) string {
	parentType := tokens.Type("")
	if p := resource.URN(parent); p != "" && p.QualifiedType() != resource.RootStackType {
		parentType = p.QualifiedType()
	}
	return string(resource.NewURN(tokens.QName(m.opts.Stack), tokens.PackageName(m.opts.Project),
		parentType, tokens.Type(typ), name))
}

// providerURN strips the ID from a provider reference ("<urn>::<id>").
func providerURN(ref string) string {
	if i := strings.LastIndex(ref, "::"); i > 0 && strings.HasPrefix(ref, "urn:") {
		return ref[:i]
	}
	return ref
}

func sortedUnique(in []string) []string {
	out := make([]string, 0, len(in))
	seen := map[string]bool{}
	for _, s := range in {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// orderResources sorts resources so that every resource follows everything it waits for
// (dependencies, provider, parent); among resources free to go, the URN decides. The
// result does not depend on the order in which the program's goroutines registered them.
func orderResources(in []*Resource) []*Resource {
	byURN := map[string]*Resource{}
	for _, r := range in {
		byURN[r.URN] = r
	}
	waitsFor := func(r *Resource) []string {
		var out []string
		for _, u := range append([]string{r.Parent, r.Provider}, r.Dependencies...) {
			if _, ok := byURN[u]; ok && u != r.URN {
				out = append(out, u)
			}
		}
		return out
	}
	pending := map[string]int{}
	dependents := map[string][]string{}
	for _, r := range in {
		for _, u := range waitsFor(r) {
			pending[r.URN]++
			dependents[u] = append(dependents[u], r.URN)
		}
	}
	var ready []string
	for _, r := range in {
		if pending[r.URN] == 0 {
			ready = append(ready, r.URN)
		}
	}
	out := make([]*Resource, 0, len(in))
	for len(ready) > 0 {
		sort.Strings(ready)
		u := ready[0]
		ready = ready[1:]
		out = append(out, byURN[u])
		for _, d := range dependents[u] {
			if pending[d]--; pending[d] == 0 {
				ready = append(ready, d)
			}
		}
	}
	// A cycle cannot come out of a Pulumi program; keep anything left anyway, by URN.
	if len(out) < len(in) {
		var rest []string
		for _, r := range in {
			if pending[r.URN] > 0 {
				rest = append(rest, r.URN)
			}
		}
		sort.Strings(rest)
		for _, u := range rest {
			out = append(out, byURN[u])
		}
	}
	return out
}

// Find returns the resource of the given type and name, or nil.
func (g *Graph) Find(typ, name string) *Resource {
	for _, r := range g.Resources {
		if r.Type == typ && r.Name == name {
			return r
		}
	}
	return nil
}

// ByType returns every resource of the given type, in graph order.
func (g *Graph) ByType(typ string) []*Resource {
	var out []*Resource
	for _, r := range g.Resources {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

// Resource returns the resource with the given URN, or nil.
func (g *Graph) Resource(urn string) *Resource {
	for _, r := range g.Resources {
		if r.URN == urn {
			return r
		}
	}
	return nil
}

// DependsOn reports whether r waits for the resource with URN target, directly or
// through the resources it waits for (its dependencies and its provider).
func (g *Graph) DependsOn(r *Resource, target string) bool {
	seen := map[string]bool{}
	var walk func(*Resource) bool
	walk = func(x *Resource) bool {
		for _, u := range append([]string{x.Provider}, x.Dependencies...) {
			if u == "" || seen[u] {
				continue
			}
			seen[u] = true
			if u == target {
				return true
			}
			if next := g.Resource(u); next != nil && walk(next) {
				return true
			}
		}
		return false
	}
	return walk(r)
}
