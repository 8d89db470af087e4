// Package tracing provides Tracing: Jaeger v2 (jaegertracing's chart) as one all-in-one
// process that receives OTLP from Istio's proxies and serves the query API and the UI,
// with a bounded in-memory store.
package tracing

import (
	"fmt"

	helmv3 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/lamina-os/lamina-infra/internal/kube"
)

// Names and ports of what the component declares; Istio's tracing provider, the routes,
// the flows and Kiali derive from them.
const (
	ReleaseName = "jaeger"
	// Service is Jaeger's one Service (the chart's fullname for a release named jaeger).
	Service = "jaeger"
	// OTLPPort receives spans (OTLP over gRPC); QueryPort serves the UI and HTTP API;
	// QueryGRPCPort the gRPC query API Kiali uses.
	OTLPPort      = 4317
	QueryPort     = 16686
	QueryGRPCPort = 16685
	// AppName is the app.kubernetes.io/name label of Jaeger's pods.
	AppName = "jaeger"
	// store names the in-memory trace store in Jaeger's configuration.
	store = "memstore"
)

// Host is Jaeger's in-cluster host name in namespace.
func Host(namespace string) string {
	return fmt.Sprintf("%s.%s.svc.cluster.local", Service, namespace)
}

// TracingArgs configure Tracing.
type TracingArgs struct {
	// Chart pins jaegertracing's chart.
	Chart kube.Chart
	// Namespace is the observability namespace's name.
	Namespace pulumi.StringInput
	// MaxTraces bounds the in-memory store.
	MaxTraces int
	// Resources size Jaeger.
	Resources kube.Resources
	// IstioReady is what sidecar injection needs: the release waits for it.
	IstioReady []pulumi.Resource
}

// Tracing is the Jaeger release.
type Tracing struct {
	pulumi.ResourceState

	Release *helmv3.Release
}

// values are the chart values the program sets (charts/jaeger/values.yaml, 4.x).
type values struct {
	Jaeger struct {
		Replicas  int            `json:"replicas"`
		Resources kube.Resources `json:"resources"`
	} `json:"jaeger"`
	// UserConfig replaces the image's built-in configuration: the only way to bound the
	// memory store.
	UserConfig map[string]any `json:"userconfig"`
}

// config is Jaeger v2's configuration (an OpenTelemetry collector's, with Jaeger's
// extensions): OTLP in, batched into the memory store, queried by jaeger_query, with the
// health check the chart's probes call.
func config(maxTraces int) map[string]any {
	return map[string]any{
		"service": map[string]any{
			"extensions": []any{"jaeger_storage", "jaeger_query", "healthcheckv2"},
			"pipelines": map[string]any{"traces": map[string]any{
				"receivers": []any{"otlp"}, "processors": []any{"batch"}, "exporters": []any{"jaeger_storage_exporter"},
			}},
		},
		"extensions": map[string]any{
			"healthcheckv2": map[string]any{"use_v2": true, "http": map[string]any{"endpoint": "0.0.0.0:13133"}},
			"jaeger_query": map[string]any{
				"storage": map[string]any{"traces": store},
				"http":    map[string]any{"endpoint": fmt.Sprintf("0.0.0.0:%d", QueryPort)},
				"grpc":    map[string]any{"endpoint": fmt.Sprintf("0.0.0.0:%d", QueryGRPCPort)},
			},
			"jaeger_storage": map[string]any{"backends": map[string]any{
				store: map[string]any{"memory": map[string]any{"max_traces": maxTraces}},
			}},
		},
		"receivers": map[string]any{"otlp": map[string]any{"protocols": map[string]any{
			"grpc": map[string]any{"endpoint": fmt.Sprintf("0.0.0.0:%d", OTLPPort)},
			"http": map[string]any{"endpoint": "0.0.0.0:4318"},
		}}},
		"processors": map[string]any{"batch": map[string]any{}},
		"exporters":  map[string]any{"jaeger_storage_exporter": map[string]any{"trace_storage": store}},
	}
}

// NewTracing installs Jaeger. One replica: each replica of an in-memory store would
// hold only the traces it happened to receive.
func NewTracing(ctx *pulumi.Context, name string, args TracingArgs, opts ...pulumi.ResourceOption) (*Tracing, error) {
	t := &Tracing{}
	if err := ctx.RegisterComponentResource("lamina:tracing:Tracing", name, t, opts...); err != nil {
		return nil, err
	}
	var v values
	v.Jaeger.Replicas = 1
	v.Jaeger.Resources = args.Resources
	v.UserConfig = config(args.MaxTraces)
	var err error
	t.Release, err = kube.Release(ctx, ReleaseName, args.Chart, args.Namespace, v,
		pulumi.Parent(t), pulumi.DependsOn(args.IstioReady))
	if err != nil {
		return nil, err
	}
	if err := ctx.RegisterResourceOutputs(t, pulumi.Map{"maxTraces": pulumi.Int(args.MaxTraces)}); err != nil {
		return nil, err
	}
	return t, nil
}
