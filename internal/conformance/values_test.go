package conformance

import (
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

// freeForm lists, chart by chart, the values keys the program sets that the chart's
// values.yaml does not declare and its templates do not read by name: blocks the chart
// hands whole to the application it installs (or to Kubernetes), whose keys the
// application defines. An entry covers the keys under it. Anything else a chart does
// not know is a mistake to remove; a test keeps this list exact, and fails when the
// chart ignores a key listed here.
var freeForm = map[string]map[string]string{
	"istiod": {
		"meshConfig": "Istio's MeshConfig: the chart merges it into the mesh ConfigMap that istiod reads",
		"resources":  "the container's resources: the chart writes the block whole into istiod's Deployment",
	},
	"jaeger": {
		"jaeger.podSecurityContext": "the pod's securityContext: the chart writes the block whole into Jaeger's Deployment",
	},
	"grafana": {
		`["grafana.ini"]`: "Grafana's own configuration: the chart writes the block whole into grafana.ini",
	},
	"kiali-server": {
		"external_services.prometheus": "Kiali's configuration: the chart writes its values, less kiali_route_url, " +
			"whole into Kiali's config.yaml, and Kiali 2.x reads external_services.prometheus.url",
		"deployment.resources": "the container's resources: the chart writes the block whole into Kiali's Deployment",
	},
	"loki": {
		"loki.limits_config": "Loki's own limits_config: the chart writes the block whole into Loki's configuration",
	},
	"opentelemetry-collector": {
		"config": "the collector's own configuration: the chart merges it over its defaults and writes it whole " +
			"into the collector's ConfigMap",
	},
}

// freeFormEntry is the entry of freeForm that covers key, if any.
func freeFormEntry(chart, key string) (string, bool) {
	for entry := range freeForm[chart] {
		if key == entry || strings.HasPrefix(key, entry+".") || strings.HasPrefix(key, entry+"[") {
			return entry, true
		}
	}
	return "", false
}

// offlineCaps are the capabilities of a render without a cluster: the pinned k3s
// version, and the API versions Helm knows of itself.
func offlineCaps(t *testing.T, stack string) capabilities {
	t.Helper()
	kube, err := stackKubeVersion(t, stack)
	if err != nil {
		t.Fatal(err)
	}
	return capabilities{KubeVersion: kube, APIVersions: chartutil.DefaultVersionSet}
}

// istioDefaults is where Istio's charts keep their defaults: their zzz_profile.yaml
// template lays the block, with the profile, under the release's values.
const istioDefaults = "_internal_defaults_do_not_set"

// defaults are a chart's own values with its subcharts', as Helm coalesces them before
// it lays the release's values over them.
func defaults(t *testing.T, ch *chart.Chart, values map[string]any) map[string]any {
	t.Helper()
	if err := chartutil.ProcessDependenciesWithMerge(ch, runtime.DeepCopyJSON(values)); err != nil {
		t.Fatal(err)
	}
	d, err := chartutil.CoalesceValues(ch, map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	if inner, ok := d[istioDefaults].(map[string]any); ok {
		delete(d, istioDefaults)
		return chartutil.CoalesceTables(d, inner)
	}
	return d
}

// undeclared lists the paths of set that defaults do not declare. A key the defaults
// declare as an empty map, or as anything but a map, is an open block: what goes under
// it is the chart's to pass on.
func undeclared(prefix []string, set, defaults map[string]any) [][]string {
	var out [][]string
	for _, k := range slices.Sorted(maps.Keys(set)) {
		path := append(slices.Clone(prefix), k)
		d, ok := defaults[k]
		if !ok {
			out = append(out, path)
			continue
		}
		sm, sok := set[k].(map[string]any)
		dm, dok := d.(map[string]any)
		if sok && dok && len(dm) > 0 {
			out = append(out, undeclared(path, sm, dm)...)
		}
	}
	return out
}

var plainKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// keyPath writes a path of values keys as config keys are written: dots between plain
// keys, ["..."] around the others.
func keyPath(path []string) string {
	var b strings.Builder
	for i, k := range path {
		switch {
		case !plainKey.MatchString(k):
			fmt.Fprintf(&b, "[%q]", k)
		case i > 0:
			b.WriteString("." + k)
		default:
			b.WriteString(k)
		}
	}
	return b.String()
}

// readByName holds when a template of the chart, or of the subchart the path leads
// into, reads the path as .Values.<path>.
func readByName(ch *chart.Chart, path []string) bool {
	for _, k := range path {
		if !plainKey.MatchString(k) {
			return false
		}
	}
	ref := regexp.MustCompile(regexp.QuoteMeta(".Values."+strings.Join(path, ".")) + `\b`)
	for _, f := range ch.Templates {
		if ref.Match(f.Data) {
			return true
		}
	}
	for _, dep := range ch.Dependencies() {
		if len(path) > 1 && path[0] == dep.Name() && readByName(dep, path[1:]) {
			return true
		}
	}
	return false
}

// without returns a copy of values without the key at path.
func without(values map[string]any, path []string) map[string]any {
	out := runtime.DeepCopyJSON(values)
	m := out
	for _, k := range path[:len(path)-1] {
		m = m[k].(map[string]any)
	}
	delete(m, path[len(path)-1])
	return out
}

// renderedLines are the lines of everything a release renders.
func renderedLines(t *testing.T, r helmRelease, caps capabilities) map[string]bool {
	t.Helper()
	cr, err := renderRelease(t, r, caps)
	if err != nil {
		t.Fatal(err)
	}
	lines := map[string]bool{}
	for _, o := range cr.all() {
		b, _ := yaml.Marshal(o.Obj)
		for _, l := range strings.Split(string(b), "\n") {
			lines[o.String()+": "+l] = true
		}
	}
	return lines
}

// baseline is what a release renders with the program's values, less the lines that
// differ between two renders of the same values (generated certificates, random
// tokens): noise, not change.
type baseline struct {
	release helmRelease
	caps    capabilities
	lines   map[string]bool
	noise   map[string]bool
}

func newBaseline(t *testing.T, r helmRelease, caps capabilities) *baseline {
	t.Helper()
	a, b := renderedLines(t, r, caps), renderedLines(t, r, caps)
	noise := map[string]bool{}
	for l := range a {
		if !b[l] {
			noise[l] = true
		}
	}
	for l := range b {
		if !a[l] {
			noise[l] = true
		}
	}
	return &baseline{release: r, caps: caps, lines: a, noise: noise}
}

// affects holds when removing the key at path changes what the release renders.
func (b *baseline) affects(t *testing.T, path []string) bool {
	t.Helper()
	r := b.release
	r.Values = without(r.Values, path)
	m := renderedLines(t, r, b.caps)
	for l := range b.lines {
		if !b.noise[l] && !m[l] {
			return true
		}
	}
	for l := range m {
		if !b.noise[l] && !b.lines[l] {
			return true
		}
	}
	return false
}

// unknownKey is a values key a release sets that its chart's values.yaml does not
// declare and its templates do not read by name.
type unknownKey struct {
	Key string
	// Entry is the freeForm entry that covers the key, if one does.
	Entry string
	// Ignored holds when the chart renders the same without the key.
	Ignored bool
}

// unknownKeys lists the keys of r's values its chart does not know.
func unknownKeys(t *testing.T, r helmRelease, caps capabilities) []unknownKey {
	t.Helper()
	ch := loadChart(t, r.Chart)
	var base *baseline
	var out []unknownKey
	for _, path := range undeclared(nil, r.Values, defaults(t, ch, r.Values)) {
		if readByName(ch, path) {
			continue
		}
		if base == nil {
			base = newBaseline(t, r, caps)
		}
		k := unknownKey{Key: keyPath(path), Ignored: !base.affects(t, path)}
		k.Entry, _ = freeFormEntry(r.Chart.Name, k.Key)
		out = append(out, k)
	}
	return out
}

// Every values key the program sets is one its chart declares in values.yaml or reads
// by name, or is listed in freeForm as configuration the chart passes on whole, and
// changes what the chart renders: nothing the program sets is silently ignored.
func TestEveryValuesKeyIsDeclaredOrListedAsFreeForm(t *testing.T) {
	used := map[string]bool{}
	for _, stack := range stacks {
		caps := offlineCaps(t, stack)
		for _, res := range releases(render(t, stack)) {
			r := releaseOf(res)
			t.Run(stack+"/"+r.Name, func(t *testing.T) {
				for _, k := range unknownKeys(t, r, caps) {
					switch {
					case k.Ignored:
						t.Errorf("release %s sets %s, which chart %s does not declare, and without which the chart renders the same: remove it",
							r.Name, k.Key, r.Chart)
					case k.Entry == "":
						t.Errorf("release %s sets %s, which chart %s's values.yaml does not declare and its templates do not read by name: "+
							"remove it, or list it in freeForm with the application that reads it", r.Name, k.Key, r.Chart)
					default:
						used[r.Chart.Name+" "+k.Entry] = true
						t.Logf("%s: %s is free-form: %s", r.Name, k.Key, freeForm[r.Chart.Name][k.Entry])
					}
				}
			})
		}
	}
	for chart, entries := range freeForm {
		for entry := range entries {
			if !used[chart+" "+entry] {
				t.Errorf("freeForm lists %s of chart %s, which no release of either stack sets undeclared: drop it from the list", entry, chart)
			}
		}
	}
}

// The check bites on what the program once set: Kiali's istio_namespace (gone from
// Kiali 2.x, unknown to the chart) and Loki's singleBinary.persistence.volumeClaimsEnabled
// (a key of other Loki targets; false changes nothing for the single binary).
func TestUnknownValuesKeysAreFound(t *testing.T) {
	caps := offlineCaps(t, "development")
	for chart, tc := range map[string]struct {
		set  func(values map[string]any)
		want unknownKey
	}{
		"kiali-server": {func(v map[string]any) { v["istio_namespace"] = "istio-system" },
			unknownKey{Key: "istio_namespace"}},
		"loki": {func(v map[string]any) {
			nested(v, "singleBinary", "persistence").(map[string]any)["volumeClaimsEnabled"] = false
		}, unknownKey{Key: "singleBinary.persistence.volumeClaimsEnabled", Ignored: true}},
	} {
		t.Run(chart, func(t *testing.T) {
			r := releaseOfChart(t, "development", chart)
			tc.set(r.Values)
			if got := unknownKeys(t, r, caps); !slices.Contains(got, tc.want) {
				t.Errorf("unknown keys = %+v, want %+v among them", got, tc.want)
			}
		})
	}
}

// Helm enforces a chart's values.schema.json when it templates a release: a value of
// the wrong type, and a misspelt key where the chart forbids unknown keys, are refused
// with the chart and the key.
func TestChartSchemasRejectBadValues(t *testing.T) {
	caps := offlineCaps(t, "development")
	for name, tc := range map[string]struct {
		release helmRelease
		want    string
	}{
		"MetalLB: a string where a boolean goes": {helmRelease{
			Name: "metallb", Namespace: "metallb-system",
			Chart:  pin{Repo: "https://metallb.github.io/metallb", Name: "metallb", Version: "0.15.2"},
			Values: map[string]any{"speaker": map[string]any{"frr": map[string]any{"enabled": "no"}}},
		}, "/speaker/frr/enabled"},
		"cert-manager: a misspelt key": {helmRelease{
			Name: "cert-manager", Namespace: "cert-manager",
			Chart:  pin{Repo: "https://charts.jetstack.io", Name: "cert-manager", Version: "v1.21.2"},
			Values: map[string]any{"crd": map[string]any{"enabled": true}},
		}, "additional properties 'crd' not allowed"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := renderRelease(t, tc.release, caps)
			for _, want := range []string{"release " + tc.release.Name, "chart " + tc.release.Chart.Name, tc.want} {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("error = %v\nwant one containing %s", err, want)
				}
			}
		})
	}
}

// Vector's own templates reach its configuration through the chart's tpl: every log
// stream is labelled from the pod's metadata, the app label's key quoted as Vector's
// path syntax needs.
func TestVectorLabelsStreamsWithItsOwnTemplates(t *testing.T) {
	want := map[string]any{
		"namespace": "{{ kubernetes.pod_namespace }}",
		"pod":       "{{ kubernetes.pod_name }}",
		"container": "{{ kubernetes.container_name }}",
		"app":       `{{ kubernetes.pod_labels."app.kubernetes.io/name" }}`,
		"node":      "{{ kubernetes.pod_node_name }}",
	}
	for _, stack := range stacks {
		t.Run(stack, func(t *testing.T) {
			cr, err := renderRelease(t, releaseOfChart(t, stack, "vector"), offlineCaps(t, stack))
			if err != nil {
				t.Fatal(err)
			}
			var config string
			for _, o := range cr.Objects {
				if o.Obj["kind"] == "ConfigMap" {
					config, _ = nested(o.Obj, "data", "vector.yaml").(string)
				}
			}
			var parsed map[string]any
			if err := yaml.Unmarshal([]byte(config), &parsed); err != nil {
				t.Fatalf("vector.yaml: %v\n%s", err, config)
			}
			if got := nested(parsed, "sinks", "loki", "labels"); !reflect.DeepEqual(got, want) {
				t.Errorf("the Loki sink's labels in vector.yaml are %v, want %v", got, want)
			}
		})
	}
}
