// Package offline runs the real program for a stack of the project under Pulumi's mocks,
// from the stack's settings file, with no engine, cluster or passphrase, and checks what
// it declares against the policy pack. `lamina render`, `lamina check` and the tests
// share it.
package offline

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"gopkg.in/yaml.v3"

	"github.com/lamina-os/lamina-infra/internal/recorder"
	"github.com/lamina-os/lamina-infra/policy"
	"github.com/lamina-os/lamina-infra/stacks"
	"github.com/lamina-os/lamina-infra/stacks/config"
)

// Render runs the program for stack as `pulumi preview` would before the first `up`:
// what only exists after creation is unknown. assumeSecrets name fields
// (lamina:section.field) to take as set to a secret this checkout does not hold.
func Render(dir, stack string, assumeSecrets ...string) (*recorder.Graph, error) {
	g, _, err := RenderWith(dir, stack, assumeSecrets...)
	return g, err
}

// RenderWith is Render, and returns too the renders of the stacks the stack reads
// through a StackReference (its platform, the stack it promotes from), whose outputs
// its own render read: what they know before their first up, the rest unknown.
func RenderWith(dir, stack string, assumeSecrets ...string) (*recorder.Graph, map[string]*recorder.Graph, error) {
	return render(dir, stack, assumeSecrets, map[string]bool{})
}

func render(dir, stack string, assumeSecrets []string, seen map[string]bool) (*recorder.Graph, map[string]*recorder.Graph, error) {
	if seen[stack] {
		return nil, nil, fmt.Errorf("stack %s reads its own outputs through its references (lamina:cluster.platform, lamina:images.promoteFrom)", stack)
	}
	seen[stack] = true
	defer delete(seen, stack)
	src, err := Source(dir, stack)
	if err != nil {
		return nil, nil, err
	}
	for _, path := range assumeSecrets {
		if err := src.AssumeSecret(path); err != nil {
			return nil, nil, fmt.Errorf("--assume-secret: %w", err)
		}
	}
	opts := recorder.Options{Preview: true, References: map[string]resource.PropertyMap{}}
	refs := map[string]*recorder.Graph{}
	// A configuration the program refuses renders nothing: the program says why.
	if cfg, err := config.Load(src, nil); err == nil {
		for _, other := range References(cfg) {
			g, _, err := render(dir, other, assumeSecrets, seen)
			if err != nil {
				return nil, nil, fmt.Errorf("stack %s reads stack %s: %w", stack, other, err)
			}
			refs[other], opts.References[other] = g, g.StackOutputs()
		}
	}
	g, err := Run(src, nil, opts)
	return g, refs, err
}

// References are the stacks whose outputs a stack reads.
func References(cfg *config.Config) []string {
	var out []string
	if cfg.Shared() {
		out = append(out, cfg.Cluster.Platform)
	}
	if from := cfg.Images.PromoteFrom; from != "" && !slices.Contains(out, from) {
		out = append(out, from)
	}
	return out
}

// Source reads a stack's settings file from the project in dir.
func Source(dir, stack string) (*config.Source, error) {
	project, err := ProjectName(dir)
	if err != nil {
		return nil, err
	}
	return config.ReadStackFile(dir, project, stack)
}

// Run runs the program on src under mocks, asking probes about the machine (nil: nothing,
// as `lamina render` does); opts supplies Preview and Outputs, the rest comes from src.
func Run(src *config.Source, probes config.Probes, opts recorder.Options) (*recorder.Graph, error) {
	opts.Project, opts.Stack = src.Project, src.Stack
	opts.Config = src.Values
	opts.SecretKeys = nil
	for k := range src.Secret {
		opts.SecretKeys = append(opts.SecretKeys, k)
	}
	sort.Strings(opts.SecretKeys)
	return recorder.Run(opts, stacks.Program(src, probes))
}

// Hostnames are the stack's hostnames, as its render's urls output lists them: the
// components declare them, so only the program knows them.
func Hostnames(src *config.Source) ([]string, error) {
	g, err := Run(src, nil, recorder.Options{Preview: true})
	if err != nil {
		return nil, err
	}
	urls, _ := g.Outputs["urls"].(map[string]any)
	return slices.Sorted(maps.Keys(urls)), nil
}

// ProjectName reads the project's name from Pulumi.yaml in dir.
func ProjectName(dir string) (string, error) {
	path := filepath.Join(dir, "Pulumi.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("no Pulumi project here: %w (run from the repository root or pass --dir)", err)
	}
	var project struct {
		Name string `yaml:"name"`
	}
	if err := yaml.Unmarshal(data, &project); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	if project.Name == "" {
		return "", errors.New(path + ": no project name")
	}
	return project.Name, nil
}

// Check evaluates the policy pack on every resource of g, as Pulumi's OPA analyzer does
// in `pulumi preview --policy-pack policy`, and runs the pack's stack-wide checks. The
// analyzer sees what the graph shows: secrets and unknowns masked. cluster are the
// renders of the other stacks on the same cluster, for the stack-wide checks.
func Check(ctx context.Context, pack *policy.Pack, g *recorder.Graph, cluster ...*recorder.Graph) (*policy.Report, error) {
	var others []policy.Resource
	for _, c := range cluster {
		others = append(others, resources(c)...)
	}
	stackURN := resource.DefaultRootStackURN(tokens.QName(g.Stack), tokens.PackageName(g.Project))
	return pack.Check(ctx, g.Stack, string(stackURN), resources(g), others)
}

// resources are what g declares as the policy pack sees them.
func resources(g *recorder.Graph) []policy.Resource {
	resources := make([]policy.Resource, 0, len(g.Resources))
	for _, r := range g.Resources {
		resources = append(resources, policy.Resource{
			URN:                 r.URN,
			Type:                r.Type,
			Name:                r.Name,
			Properties:          r.Inputs,
			Protect:             r.Protect,
			DeleteBeforeReplace: r.DeleteBeforeReplace,
			IgnoreChanges:       r.IgnoreChanges,
			Parent:              r.Parent,
		})
	}
	return resources
}
