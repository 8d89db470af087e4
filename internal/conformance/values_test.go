package conformance

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/yaml"
)

// chartSchemas say where a chart the program installs keeps its values.yaml and
// values.schema.json, in the Go module of the chart's version; reason says why a chart
// has none to check against.
var chartSchemas = map[string]struct {
	Module, Dir string
	Reason      string
}{
	"metallb":      {Module: "go.universe.tf/metallb", Dir: "charts/metallb"},
	"cert-manager": {Module: "github.com/cert-manager/cert-manager", Dir: "deploy/charts/cert-manager"},
	"prometheus": {Reason: "prometheus-community's prometheus chart ships a values.schema.json, but its charts are not " +
		"published as a Go module and chart repositories are not reachable here"},
	"grafana": {Reason: "grafana-community's grafana chart ships no values.schema.json"},
	"loki": {Reason: "grafana-community's loki chart ships a values.schema.json, but its charts are not published " +
		"as a Go module and chart repositories are not reachable here"},
	"vector":       {Reason: "vectordotdev's vector chart ships no values.schema.json"},
	"jaeger":       {Reason: "jaegertracing's jaeger chart ships no values.schema.json"},
	"kiali-server": {Reason: "kiali's kiali-server chart ships no values.schema.json"},
	"opentelemetry-collector": {Reason: "open-telemetry's opentelemetry-collector chart ships a strict values.schema.json, but its " +
		"charts are not published as a Go module and chart repositories are not reachable here"},
	"base":   {Reason: "Istio's base chart ships no values.schema.json"},
	"cni":    {Reason: "Istio's cni chart ships no values.schema.json"},
	"istiod": {Reason: "Istio's istiod chart ships no values.schema.json (its values are typed in istio.io/istio's values_types.proto)"},
	"gateway": {Reason: "Istio's gateway chart has a values.schema.json, but only in istio.io/istio, which the module proxy " +
		"serves without release tags (1.31.1 is refused), so no copy matches the pinned chart"},
}

// schema compiles a chart's values.schema.json and reads its default values.
func schema(t *testing.T, dir string) (*jsonschema.Schema, map[string]any) {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "values.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	url := "file://" + filepath.ToSlash(filepath.Join(dir, "values.schema.json"))
	if err := c.AddResource(url, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(url)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defaults := map[string]any{}
	if err := yaml.Unmarshal(data, &defaults); err != nil {
		t.Fatal(err)
	}
	return s, defaults
}

// validate checks values as Helm does: merged over the chart's defaults.
func validate(s *jsonschema.Schema, defaults, values map[string]any) error {
	merged := merge(defaults, values)
	b, err := json.Marshal(merged)
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return err
	}
	return s.Validate(inst)
}

// merge lays values over defaults, maps key by key, as Helm coalesces them.
func merge(defaults, values map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range defaults {
		out[k] = v
	}
	for k, v := range values {
		if vm, ok := v.(map[string]any); ok {
			if dm, ok := out[k].(map[string]any); ok {
				out[k] = merge(dm, vm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// Every release's values pass its chart's values.schema.json, where the chart's
// version ships one in a Go module.
func TestHelmValuesMatchTheChartSchemas(t *testing.T) {
	for _, stack := range stacks {
		for _, r := range releases(render(t, stack)) {
			chart, _ := r.Inputs["chart"].(string)
			t.Run(stack+"/"+chart, func(t *testing.T) {
				where, ok := chartSchemas[chart]
				if !ok {
					t.Fatalf("chart %s: say where its values.schema.json is, or why it has none", chart)
				}
				if where.Reason != "" {
					t.Skip(where.Reason)
				}
				s, defaults := schema(t, filepath.Join(goModule(t, where.Module).Dir, where.Dir))
				values, _ := r.Inputs["values"].(map[string]any)
				if err := validate(s, defaults, values); err != nil {
					t.Errorf("values of %s do not match the chart's schema: %v", r.URN, err)
				}
			})
		}
	}
}

// The schema check bites: a value of the wrong type, and a misspelt key where the chart
// forbids unknown keys, are refused.
func TestChartSchemasRejectBadValues(t *testing.T) {
	for name, tc := range map[string]struct {
		chart  string
		values map[string]any
		want   string
	}{
		"MetalLB: a string where a boolean goes": {"metallb",
			map[string]any{"speaker": map[string]any{"frr": map[string]any{"enabled": "no"}}}, "/speaker/frr/enabled"},
		"cert-manager: a misspelt key": {"cert-manager",
			map[string]any{"crd": map[string]any{"enabled": true}}, "additional properties 'crd' not allowed"},
	} {
		t.Run(name, func(t *testing.T) {
			where := chartSchemas[tc.chart]
			s, defaults := schema(t, filepath.Join(goModule(t, where.Module).Dir, where.Dir))
			err := validate(s, defaults, tc.values)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v\nwant one containing %s", err, tc.want)
			}
		})
	}
}
