// Package tracing provides Tracing: Jaeger v2 (jaegertracing's chart) as one all-in-one
// process that serves the query API and the UI with a bounded in-memory store, and
// receives OTLP from Istio's proxies, directly or through an OpenTelemetry collector.
package tracing

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/lamina-os/lamina-infra/components/network"
	"github.com/lamina-os/lamina-infra/internal/kube"
	"github.com/lamina-os/lamina-infra/internal/spec"
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

	// CollectorRelease is the OpenTelemetry collector's release; CollectorService its
	// Service (the chart's fullname for that release name), which takes OTLP on OTLPPort.
	CollectorRelease = "opentelemetry-collector"
	CollectorService = "opentelemetry-collector"
	// CollectorAppName is the app.kubernetes.io/name label of its pods, and
	// CollectorServiceAccount their identity.
	CollectorAppName        = "opentelemetry-collector"
	CollectorServiceAccount = "opentelemetry-collector"
	// collectorImage is the collector distribution the chart requires naming.
	collectorImage = "otel/opentelemetry-collector-k8s"

	// imageUser is the user and group both images run as (their Dockerfiles' USER);
	// the namespace enforces Pod Security restricted, so the pods say so explicitly.
	imageUser = 10001
)

// SpansTarget says where the proxies send spans, given whether a collector runs: its
// host name in namespace and the app.kubernetes.io/name of the pods behind it.
func SpansTarget(namespace string, collector bool) (host, app string) {
	if collector {
		return CollectorHost(namespace), CollectorAppName
	}
	return Host(namespace), AppName
}

// SpansFrom is the flow of the spans every sidecar of namespace ns sends to the tracing
// of namespace (to its collector, when there is one).
func SpansFrom(namespace string, collector bool, ns string) network.Flow {
	_, app := SpansTarget(namespace, collector)
	spans := network.Endpoint{Peer: network.App(namespace, app), Ports: network.TCP(OTLPPort)}
	return spans.From("spans-from-"+ns, network.Namespace(ns).As(network.AnyServiceAccount))
}

// UIHost is the hostname's first label Jaeger's UI is served under.
const UIHost = "jaeger"

// Query is Jaeger's UI and HTTP API in namespace, which Grafana queries; QueryGRPC its
// gRPC query API, which Kiali uses.
func Query(namespace string) network.Endpoint {
	return network.Endpoint{Peer: network.App(namespace, AppName), Ports: network.TCP(QueryPort)}
}

// QueryGRPC is Jaeger's gRPC query API in namespace.
func QueryGRPC(namespace string) network.Endpoint {
	return network.Endpoint{Peer: network.App(namespace, AppName), Ports: network.TCP(QueryGRPCPort)}
}

// CollectorHost is the collector's in-cluster host name in namespace.
func CollectorHost(namespace string) string {
	return kube.ServiceHost(CollectorService, namespace)
}

// Host is Jaeger's in-cluster host name in namespace.
func Host(namespace string) string {
	return kube.ServiceHost(Service, namespace)
}

// TracingArgs configure Tracing.
type TracingArgs struct {
	// Chart pins jaegertracing's chart.
	Chart kube.Chart
	// Namespace is the observability namespace's name; NamespaceName the same, known
	// now, for the addresses of the Services.
	Namespace     pulumi.StringInput
	NamespaceName string
	// MaxTraces bounds the in-memory store.
	MaxTraces int
	// Resources size Jaeger.
	Resources kube.Resources
	// Collector, when set, puts an OpenTelemetry collector in front of Jaeger.
	Collector *Collector
	// IstioReady is what a mesh workload waits for (istio.Istio.Sidecars): the releases wait for it.
	IstioReady []pulumi.Resource
	// MeshNamespaces send spans: every sidecar of them, and the gateway.
	MeshNamespaces []string
}

// Collector is the OpenTelemetry collector's chart and size.
type Collector struct {
	Chart     kube.Chart
	Replicas  int
	Resources kube.Resources
}

// Tracing is the Jaeger release and, when configured, the collector's.
type Tracing struct {
	pulumi.ResourceState

	Release *kube.HelmRelease
	// Collector is nil without a collector.
	Collector *kube.HelmRelease
	// SpansHost is where the proxies send spans: the collector when there is one,
	// Jaeger otherwise; SpansAppName labels the pods that receive them.
	SpansHost, SpansAppName string

	// The spans every mesh namespace sends, the collector's export and the UI's hostname.
	network.Declaration
}

// collectorValues are the opentelemetry-collector chart's values the program sets. The
// chart merges config into its defaults: its other receivers and its metrics and logs
// pipelines (the collector's own telemetry, to its debug exporter) stay as they are.
type collectorValues struct {
	Mode               string                        `json:"mode"`
	ReplicaCount       int                           `json:"replicaCount"`
	Resources          kube.Resources                `json:"resources"`
	PodSecurityContext kube.PodSecurityContext       `json:"podSecurityContext"`
	SecurityContext    kube.ContainerSecurityContext `json:"securityContext"`
	Image              struct {
		Repository string `json:"repository"`
	} `json:"image"`
	Command struct {
		Name string `json:"name"`
	} `json:"command"`
	Config map[string]any `json:"config"`
	// TopologySpreadConstraints spread several replicas across nodes and zones, and
	// PodDisruptionBudget (the chart's templates/pdb.yaml, off by default) lets a
	// drain take one of them at a time.
	TopologySpreadConstraints []spec.TopologySpread `json:"topologySpreadConstraints,omitempty"`
	PodDisruptionBudget       *collectorBudget      `json:"podDisruptionBudget,omitempty"`
}

type collectorBudget struct {
	Enabled        bool `json:"enabled"`
	MaxUnavailable int  `json:"maxUnavailable"`
}

// collectorSelector is what the chart's Deployment selects its pods by in mode
// deployment (templates/deployment.yaml: the selectorLabels and component helpers of
// templates/_helpers.tpl, chart 0.170.0).
var collectorSelector = map[string]string{
	"app.kubernetes.io/name":     CollectorAppName,
	"app.kubernetes.io/instance": CollectorRelease,
	"component":                  "standalone-collector",
}

// collectorConfig receives OTLP, keeps the collector within its memory, batches, and
// exports to Jaeger. The sidecars on both ends carry the traffic over mutual TLS, so
// the exporter itself speaks plain gRPC.
func collectorConfig(jaegerHost string) map[string]any {
	const exporter = "otlp_grpc/jaeger"
	return map[string]any{
		"receivers": map[string]any{
			"otlp": map[string]any{"protocols": map[string]any{
				"grpc": map[string]any{"endpoint": fmt.Sprintf("${env:MY_POD_IP}:%d", OTLPPort)},
				"http": map[string]any{"endpoint": "${env:MY_POD_IP}:4318"},
			}},
		},
		"processors": map[string]any{
			"memory_limiter": map[string]any{"check_interval": "1s", "limit_percentage": 80, "spike_limit_percentage": 25},
			"batch":          map[string]any{},
		},
		"exporters": map[string]any{
			exporter: map[string]any{"endpoint": fmt.Sprintf("%s:%d", jaegerHost, OTLPPort), "tls": map[string]any{"insecure": true}},
		},
		"service": map[string]any{"pipelines": map[string]any{
			"traces": map[string]any{
				"receivers": []any{"otlp"}, "processors": []any{"memory_limiter", "batch"}, "exporters": []any{exporter},
			},
		}},
	}
}

// values are the chart values the program sets (charts/jaeger/values.yaml, 4.x).
type values struct {
	Jaeger struct {
		Replicas           int                           `json:"replicas"`
		Resources          kube.Resources                `json:"resources"`
		PodSecurityContext kube.PodSecurityContext       `json:"podSecurityContext"`
		SecurityContext    kube.ContainerSecurityContext `json:"securityContext"`
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
	v.Jaeger.PodSecurityContext, v.Jaeger.SecurityContext = kube.Restricted(imageUser, imageUser)
	v.UserConfig = config(args.MaxTraces)
	var err error
	t.Release, err = kube.Release(ctx, ReleaseName, args.Chart, args.Namespace, v,
		pulumi.Parent(t), pulumi.DependsOn(args.IstioReady))
	if err != nil {
		return nil, err
	}
	t.SpansHost, t.SpansAppName = SpansTarget(args.NamespaceName, args.Collector != nil)
	if c := args.Collector; c != nil {
		cv := collectorValues{Mode: "deployment", ReplicaCount: c.Replicas, Resources: c.Resources, Config: collectorConfig(Host(args.NamespaceName))}
		cv.Image.Repository = collectorImage
		cv.PodSecurityContext, cv.SecurityContext = kube.Restricted(imageUser, imageUser)
		cv.Command.Name = "otelcol-k8s"
		if c.Replicas > 1 {
			cv.TopologySpreadConstraints = spec.Spread(c.Replicas, collectorSelector, true)
			cv.PodDisruptionBudget = &collectorBudget{Enabled: true, MaxUnavailable: 1}
		}
		// Not after Jaeger: the collector queues spans and retries its export until
		// Jaeger answers, so both install at once.
		t.Collector, err = kube.Release(ctx, CollectorRelease, c.Chart, args.Namespace, cv,
			pulumi.Parent(t), pulumi.DependsOn(args.IstioReady))
		if err != nil {
			return nil, err
		}
	}
	for _, ns := range args.MeshNamespaces {
		t.Open(SpansFrom(args.NamespaceName, args.Collector != nil, ns))
	}
	if args.Collector != nil {
		jaeger := network.Endpoint{Peer: network.App(args.NamespaceName, AppName), Ports: network.TCP(OTLPPort)}
		t.Open(jaeger.From("collector-to-jaeger", network.App(args.NamespaceName, CollectorAppName).As(CollectorServiceAccount)))
	}
	t.Serve(network.Route{Host: UIHost, Namespace: args.NamespaceName, Service: Service, Port: QueryPort})
	if err := ctx.RegisterResourceOutputs(t, pulumi.Map{"maxTraces": pulumi.Int(args.MaxTraces), "spansHost": pulumi.String(t.SpansHost)}); err != nil {
		return nil, err
	}
	return t, nil
}
