package conformance

import (
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	kubefake "helm.sh/helm/v3/pkg/kube/fake"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/repo"
	"helm.sh/helm/v3/pkg/storage"
	"helm.sh/helm/v3/pkg/storage/driver"
	"sigs.k8s.io/yaml"
)

// mirrorEnv points at the chart mirror: one folder per chart repository URL, each with
// its index.yaml (../shared/charts beside the repository by default).
const mirrorEnv = "LAMINA_CHART_MIRROR"

var (
	mirrorOnce sync.Once
	mirrorPath string
	mirrorSkip string
)

// mirror returns the chart mirror's directory, or skips the test (fails it in CI) when
// there is none.
func mirror(t testing.TB) string {
	t.Helper()
	mirrorOnce.Do(func() {
		dir := os.Getenv(mirrorEnv)
		if dir == "" {
			dir = filepath.Join(root, "..", "shared", "charts")
		}
		abs, err := filepath.Abs(dir)
		if err == nil {
			_, err = os.Stat(abs)
		}
		if err != nil {
			mirrorSkip = fmt.Sprintf("no chart mirror at %s (%v): point %s at a folder with one directory per chart repository URL, "+
				"each holding its index.yaml and the chart archives", dir, err, mirrorEnv)
			return
		}
		mirrorPath = abs
	})
	if mirrorSkip != "" {
		if os.Getenv(requiredEnv) != "" {
			t.Fatalf("%s is set, so the chart tests must run: %s", requiredEnv, mirrorSkip)
		}
		t.Skip(mirrorSkip)
	}
	return mirrorPath
}

// pin is a chart as a release pins it.
type pin struct {
	Repo, Name, Version string
}

func (p pin) String() string { return fmt.Sprintf("%s %s from %s", p.Name, p.Version, p.Repo) }

// helmRelease is a helm.sh/v3 Release of the render, as the provider reads its inputs.
type helmRelease struct {
	URN, Name, Namespace string
	Chart                pin
	Values               map[string]any
	SkipCRDs             bool
	// Dependencies are the URNs the release waits for.
	Dependencies []string
}

func releaseOf(r resource) helmRelease {
	s := func(k string) string { v, _ := r.Inputs[k].(string); return v }
	repoOpts, _ := r.Inputs["repositoryOpts"].(map[string]any)
	repoURL, _ := repoOpts["repo"].(string)
	values, _ := r.Inputs["values"].(map[string]any)
	skip, _ := r.Inputs["skipCrds"].(bool)
	return helmRelease{
		URN: r.URN, Name: s("name"), Namespace: s("namespace"),
		Chart:  pin{Repo: repoURL, Name: s("chart"), Version: s("version")},
		Values: withoutNulls(values).(map[string]any), SkipCRDs: skip,
		Dependencies: r.Dependencies,
	}
}

// releaseOfChart is stack's release of chart, with values of its own to change.
func releaseOfChart(t testing.TB, stack, chart string) helmRelease {
	t.Helper()
	for _, r := range releases(render(t, stack)) {
		if rel := releaseOf(r); rel.Chart.Name == chart {
			return rel
		}
	}
	t.Fatalf("%s installs no release of chart %s", stack, chart)
	return helmRelease{}
}

// withoutNulls drops null map entries and list items, as the provider does with values
// unless allowNullValues is set.
func withoutNulls(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			if e != nil {
				out[k] = withoutNulls(e)
			}
		}
		return out
	case []any:
		out := []any{}
		for _, e := range x {
			if e != nil {
				out = append(out, withoutNulls(e))
			}
		}
		return out
	case nil:
		return map[string]any{}
	}
	return v
}

// mirrorFolder is where the mirror keeps a repository: its URL without the scheme.
func mirrorFolder(repoURL string) (string, error) {
	u, err := url.Parse(repoURL)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("repository %q is not a URL", repoURL)
	}
	return filepath.Join(u.Host, filepath.FromSlash(strings.Trim(u.Path, "/"))), nil
}

// archive finds a pinned chart's archive in the mirror through the repository's
// index.yaml, as Helm resolves a chart in a repository.
func archive(dir string, p pin) (string, error) {
	folder, err := mirrorFolder(p.Repo)
	if err != nil {
		return "", err
	}
	index := filepath.Join(dir, folder, "index.yaml")
	idx, err := repo.LoadIndexFile(index)
	if err != nil {
		return "", fmt.Errorf("the mirror has no repository %s: %w", p.Repo, err)
	}
	cv, err := idx.Get(p.Name, p.Version)
	if err != nil || cv.Version != p.Version {
		var have []string
		for _, v := range idx.Entries[p.Name] {
			have = append(have, v.Version)
		}
		return "", fmt.Errorf("the mirror's %s lists %s at %v, not %s: add the chart to the mirror with the version bump",
			index, p.Name, have, p.Version)
	}
	if len(cv.URLs) == 0 {
		return "", fmt.Errorf("%s: %s %s has no URL", index, p.Name, p.Version)
	}
	path := filepath.Join(dir, folder, filepath.FromSlash(cv.URLs[0]))
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("%s lists %s %s at %s, which the mirror lacks: %w", index, p.Name, p.Version, cv.URLs[0], err)
	}
	return path, nil
}

// loadChart loads a pinned chart from the mirror. Every call loads it anew: Helm
// prunes a loaded chart's disabled subcharts in place.
func loadChart(t testing.TB, p pin) *chart.Chart {
	t.Helper()
	path, err := archive(mirror(t), p)
	if err != nil {
		t.Fatalf("chart %s: %v", p, err)
	}
	c, err := loader.Load(path)
	if err != nil {
		t.Fatalf("chart %s: loading %s: %v", p, path, err)
	}
	return c
}

// capabilities are what Helm reads from the cluster at install time.
type capabilities struct {
	KubeVersion *chartutil.KubeVersion
	APIVersions chartutil.VersionSet
}

// template renders a release as the provider installs it: Helm's install action with
// the release's name, namespace and values, the chart's values.schema.json enforced,
// and the given capabilities; a dry run, so nothing reaches a cluster and lookup finds
// nothing, as on a first install.
func template(ch *chart.Chart, r helmRelease, caps capabilities) (*release.Release, error) {
	cfg := &action.Configuration{
		KubeClient: &kubefake.PrintingKubeClient{Out: io.Discard},
		Releases:   storage.Init(driver.NewMemory()),
		Capabilities: &chartutil.Capabilities{
			KubeVersion: *caps.KubeVersion,
			APIVersions: caps.APIVersions,
			HelmVersion: chartutil.DefaultCapabilities.HelmVersion,
		},
		Log: func(string, ...any) {},
	}
	install := action.NewInstall(cfg)
	install.DryRun, install.DryRunOption = true, "client"
	install.ReleaseName, install.Namespace = r.Name, r.Namespace
	install.SkipCRDs = r.SkipCRDs
	return install.Run(ch, r.Values)
}

// object is one Kubernetes object a chart renders, with the template it came from.
type object struct {
	Source string
	Obj    map[string]any
}

func (o object) String() string {
	ns, _ := nested(o.Obj, "metadata", "namespace").(string)
	name, _ := nested(o.Obj, "metadata", "name").(string)
	if ns != "" {
		name = ns + "/" + name
	}
	return fmt.Sprintf("%s %s (%s)", o.Obj["kind"], name, o.Source)
}

var docSeparator = regexp.MustCompile(`(?m)^---\s*$`)

// parseManifest splits a rendered manifest into its objects, in the order Helm
// installs them.
func parseManifest(source, manifest string) ([]object, error) {
	var out []object
	for _, doc := range docSeparator.Split(manifest, -1) {
		src := source
		if first, _, _ := strings.Cut(strings.TrimSpace(doc), "\n"); strings.HasPrefix(first, "# Source: ") {
			src = strings.TrimPrefix(first, "# Source: ")
		}
		obj := map[string]any{}
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			return nil, fmt.Errorf("%s: %w", src, err)
		}
		if len(obj) == 0 {
			continue
		}
		out = append(out, object{Source: src, Obj: obj})
	}
	return out, nil
}

// chartRender is what one release puts on the cluster, in Helm's order: the CRDs of
// its crds/ folders, the pre-install hooks, the templates, the post-install hooks.
type chartRender struct {
	Release helmRelease
	Chart   *chart.Chart
	CRDs    []object
	Pre     []object
	Objects []object
	Post    []object
}

func (c *chartRender) all() []object {
	return slices.Concat(c.CRDs, c.Pre, c.Objects, c.Post)
}

// renderRelease templates r from the mirror with caps.
func renderRelease(t testing.TB, r helmRelease, caps capabilities) (*chartRender, error) {
	ch := loadChart(t, r.Chart)
	rel, err := template(ch, r, caps)
	if err != nil {
		return nil, fmt.Errorf("release %s (chart %s): %w", r.Name, r.Chart, err)
	}
	out := &chartRender{Release: r, Chart: ch}
	if !r.SkipCRDs {
		for _, crd := range ch.CRDObjects() {
			objs, err := parseManifest(crd.Filename, string(crd.File.Data))
			if err != nil {
				return nil, fmt.Errorf("release %s (chart %s): %w", r.Name, r.Chart, err)
			}
			out.CRDs = append(out.CRDs, objs...)
		}
	}
	if out.Objects, err = parseManifest("", rel.Manifest); err != nil {
		return nil, fmt.Errorf("release %s (chart %s): %w", r.Name, r.Chart, err)
	}
	hooks := slices.Clone(rel.Hooks)
	sort.SliceStable(hooks, func(i, j int) bool {
		if hooks[i].Weight != hooks[j].Weight {
			return hooks[i].Weight < hooks[j].Weight
		}
		return hooks[i].Name < hooks[j].Name
	})
	for _, h := range hooks {
		objs, err := parseManifest(h.Path, h.Manifest)
		if err != nil {
			return nil, fmt.Errorf("release %s (chart %s): %w", r.Name, r.Chart, err)
		}
		switch {
		case slices.Contains(h.Events, release.HookPreInstall):
			out.Pre = append(out.Pre, objs...)
		case slices.Contains(h.Events, release.HookPostInstall):
			out.Post = append(out.Post, objs...)
		}
	}
	return out, nil
}

// crdVersions are the API versions, and the kinds in them, that CRD objects serve, in
// the form of Helm's .Capabilities.APIVersions.
func crdVersions(objs []object) chartutil.VersionSet {
	var out chartutil.VersionSet
	for _, o := range objs {
		if o.Obj["kind"] != "CustomResourceDefinition" {
			continue
		}
		group, _ := nested(o.Obj, "spec", "group").(string)
		kind, _ := nested(o.Obj, "spec", "names", "kind").(string)
		versions, _ := nested(o.Obj, "spec", "versions").([]any)
		for _, v := range versions {
			vm, _ := v.(map[string]any)
			name, _ := vm["name"].(string)
			if served, _ := vm["served"].(bool); !served {
				continue
			}
			out = append(out, group+"/"+name, group+"/"+name+"/"+kind)
		}
	}
	return out
}

// nested reads a value at a path of map keys.
func nested(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

// Every chart a release of either stack pins is in the mirror, found through its
// repository's index.yaml as Helm finds it: a version bump comes with its chart.
func TestEveryPinnedChartIsInTheMirror(t *testing.T) {
	dir := mirror(t)
	seen := map[pin]bool{}
	for _, stack := range stacks {
		for _, r := range releases(render(t, stack)) {
			p := releaseOf(r).Chart
			if seen[p] {
				continue
			}
			seen[p] = true
			if _, err := archive(dir, p); err != nil {
				t.Errorf("%s: release %s pins chart %s: %v", stack, r.Name, p, err)
			}
		}
	}
	if len(seen) < 12 {
		t.Errorf("only %d charts pinned across both stacks", len(seen))
	}
	// The check bites: a version the mirror does not hold is refused with the versions
	// it does.
	_, err := archive(dir, pin{Repo: "https://charts.jetstack.io", Name: "cert-manager", Version: "v0.0.1"})
	if err == nil || !strings.Contains(err.Error(), "lists cert-manager at [v1.21.2], not v0.0.1") {
		t.Errorf("a missing version: error = %v", err)
	}
}
