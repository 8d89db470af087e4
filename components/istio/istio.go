// Package istio provides Istio: the upstream base, cni, istiod and gateway charts, and the
// mesh-wide policy that makes mutual TLS strict, configures the traffic policy of every
// in-mesh destination and turns on tracing, metrics and access logs.
package istio

import (
	"fmt"
	"strconv"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/lamina-os/lamina-infra/components/network"
	"github.com/lamina-os/lamina-infra/internal/kube"
	"github.com/lamina-os/lamina-infra/internal/spec"
)

// Names of what the component declares, which other components refer to.
const (
	BaseRelease = "istio-base"
	CNIRelease  = "istio-cni"
	// CNIDaemonSet is the node agent's DaemonSet, as the cni chart names it.
	CNIDaemonSet   = "daemonset/istio-cni-node"
	IstiodRelease  = "istiod"
	GatewayRelease = "istio-ingressgateway"
	// GatewayServiceAccount is the gateway pods' service account: the gateway chart names
	// it after the release.
	GatewayServiceAccount = GatewayRelease
	// TracingProvider, AccessLogProvider and MetricsProvider are the extension providers
	// istiod's meshConfig defines and the mesh-wide Telemetry uses.
	TracingProvider   = "jaeger"
	AccessLogProvider = "access-log"
	MetricsProvider   = "prometheus"
	// APIServerHost is the Kubernetes API server's in-cluster name: the one destination
	// reached with its own TLS rather than Istio's.
	APIServerHost = "kubernetes.default.svc.cluster.local"
)

// GatewaySelector selects the gateway's pods; the chart derives istio=<release name
// without "istio-">, and the program sets it explicitly.
var GatewaySelector = map[string]string{"istio": "ingressgateway"}

// Ports of istiod and of every injected pod.
const (
	// IstiodXDSPort serves configuration and certificates to sidecars and gateways;
	// IstiodMonitoringPort its metrics and debug state.
	IstiodXDSPort        = 15012
	IstiodMonitoringPort = 15014
	// AgentPort is the sidecar agent's: merged metrics and the kubelet's rewritten
	// probes; StatusPort the gateway's readiness; EnvoyMetricsPort Envoy's own metrics.
	AgentPort        = 15020
	StatusPort       = 15021
	EnvoyMetricsPort = 15090
)

// GatewayPeer is the ingress gateway's pods in namespace ns, with their mesh identity.
func GatewayPeer(ns string) network.Peer {
	return network.Pods(ns, GatewaySelector).As(GatewayServiceAccount)
}

// istiod is istiod's pods in the mesh's root namespace.
func istiod(root string) network.Peer { return network.Pods(root, map[string]string{"app": "istiod"}) }

// IstiodMonitoring is istiod's metrics and debug state, which Prometheus scrapes and
// Kiali reads, in the mesh's root namespace.
func IstiodMonitoring(root string) network.Endpoint {
	return network.Endpoint{Peer: istiod(root), Ports: network.TCP(IstiodMonitoringPort)}
}

// IstioArgs configure Istio.
type IstioArgs struct {
	// Charts pin the four releases.
	Charts Charts
	// Namespace is istio-system's name (the mesh's root namespace); GatewayNamespace the
	// ingress gateway's.
	Namespace, GatewayNamespace pulumi.StringInput
	// RootNamespace and GatewayNamespaceName name the same two namespaces as strings.
	RootNamespace, GatewayNamespaceName string
	// Workloads are the workload namespaces, in order, and WorkloadNames their names as
	// outputs of the namespaces component.
	Workloads     []string
	WorkloadNames map[string]pulumi.StringOutput
	// Kubelet is where the kubelet's probes come from (the nodes' addresses).
	Kubelet network.Peer
	// CNI installs the CNI node agent (k3s paths) and makes sidecars use it.
	CNI bool
	// WaitForRollout declares a step that waits until every pod of workload (kind/name,
	// in the mesh's root namespace) is Ready, and runs again when revision changes
	// (cluster.Cluster.WaitForRollout). With CNI it waits for the node agent: Helm's own
	// wait does not, on one node (see CNIAgent).
	WaitForRollout func(name, workload string, revision pulumi.StringInput, opts ...pulumi.ResourceOption) (pulumi.Resource, error)
	// IstiodReplicas is istiod's fixed number of replicas.
	IstiodReplicas int
	// IstiodResources and ProxyResources size istiod and every sidecar.
	IstiodResources, ProxyResources kube.Resources
	// Gateway sizes the ingress gateway.
	Gateway Gateway
	// GatewayDependsOn is what the gateway's LoadBalancer Service needs to get its
	// address (MetalLB's pool): Helm waits for it.
	GatewayDependsOn []pulumi.Resource
	// Tracing says where spans go and how many requests are traced.
	Tracing Tracing
	// AccessLogs turns on Envoy access logs mesh-wide.
	AccessLogs bool
	// CircuitBreaker is the traffic policy of every in-mesh destination.
	CircuitBreaker CircuitBreaker
}

// Charts are the four releases' charts, which share a version.
type Charts struct {
	Base, CNI, Istiod, Gateway kube.Chart
}

// Gateway sizes the ingress gateway.
type Gateway struct {
	MinReplicas, MaxReplicas int
	Resources                kube.Resources
	// Address is the LoadBalancer address the gateway's Service asks MetalLB for (the
	// program's, or one the cluster runs); empty asks for none.
	Address string
}

// Tracing sends spans to an OpenTelemetry collector (Jaeger's).
type Tracing struct {
	CollectorHost   string
	CollectorPort   int
	SamplingPercent float64
}

// CircuitBreaker is outlier detection and connection pooling.
type CircuitBreaker struct {
	Consecutive5xxErrors                      int
	Interval, BaseEjectionTime                time.Duration
	MaxEjectionPercent, MaxConnections        int
	HTTP1MaxPendingRequests, HTTP2MaxRequests int
}

// Istio is the installed mesh.
type Istio struct {
	pulumi.ResourceState

	// Base installs the CRDs and the default validating webhook; Istiod the control
	// plane; Gateway the ingress gateway; CNI the node agent (nil without CNI).
	Base, CNI, Istiod, Gateway *kube.HelmRelease
	// CNIAgent waits until the node agent's pods are Ready (nil without CNI). The CNI
	// release alone does not: its DaemonSet allows one unavailable pod, so on a
	// one-node cluster Helm's wait ends once the pod is scheduled.
	CNIAgent pulumi.Resource
	// Ready is what every Istio custom resource waits for: the CRDs and istiod, whose
	// webhook validates them.
	Ready []pulumi.Resource
	// Sidecars is what every mesh workload waits for: Ready, whose webhook injects the
	// sidecar, and the CNI node agent Ready, which sets up the injected pod's traffic
	// redirection (without it the pod's istio-validation init container fails).
	Sidecars []pulumi.Resource

	// The flows every injected pod and the gateway need: istiod, the kubelet's probes,
	// and clients outside the cluster to the gateway.
	network.Declaration
}

// NewIstio installs the charts in order (base and cni at once, istiod after base, then
// the gateway) and declares the mesh-wide policy. istiod runs outside the mesh, so it
// does not wait for the CNI node agent; what runs inside waits for both (Sidecars).
func NewIstio(ctx *pulumi.Context, name string, args IstioArgs, opts ...pulumi.ResourceOption) (*Istio, error) {
	c := &Istio{}
	if err := ctx.RegisterComponentResource("lamina:istio:Istio", name, c, opts...); err != nil {
		return nil, err
	}
	var err error
	c.Base, err = kube.Release(ctx, BaseRelease, args.Charts.Base, args.Namespace,
		baseValues{DefaultRevision: "default"}, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	c.Istiod, err = kube.Release(ctx, IstiodRelease, args.Charts.Istiod, args.Namespace,
		istiodValuesFor(args), pulumi.Parent(c), pulumi.DependsOn([]pulumi.Resource{c.Base}))
	if err != nil {
		return nil, err
	}
	c.Ready = []pulumi.Resource{c.Base, c.Istiod}
	c.Sidecars = c.Ready
	if args.CNI {
		c.CNI, err = kube.Release(ctx, CNIRelease, args.Charts.CNI, args.Namespace,
			cniValues{Global: platform{Platform: "k3s"}}, pulumi.Parent(c))
		if err != nil {
			return nil, err
		}
		if args.WaitForRollout == nil {
			return nil, fmt.Errorf("istio: CNI needs WaitForRollout, to wait for the node agent")
		}
		c.CNIAgent, err = args.WaitForRollout(name+"-cni-agent", CNIDaemonSet, c.CNI.Revision(),
			pulumi.Parent(c), pulumi.DependsOn([]pulumi.Resource{c.CNI}))
		if err != nil {
			return nil, err
		}
		c.Sidecars = []pulumi.Resource{c.Base, c.Istiod, c.CNI, c.CNIAgent}
	}

	// The gateway's pods are injected (gateway template) by istiod's webhook.
	c.Gateway, err = kube.Release(ctx, GatewayRelease, args.Charts.Gateway, args.GatewayNamespace,
		gatewayValuesFor(args.Gateway), pulumi.Parent(c),
		pulumi.DependsOn(append(append([]pulumi.Resource{}, c.Sidecars...), args.GatewayDependsOn...)))
	if err != nil {
		return nil, err
	}

	if err := c.meshPolicy(ctx, name, args); err != nil {
		return nil, err
	}
	for _, ns := range append([]string{args.GatewayNamespaceName}, args.Workloads...) {
		c.Open(memberFlows(args.RootNamespace, args.Kubelet, ns)...)
	}
	// Clients on macOS reach the gateway's listeners through MetalLB's address.
	c.Open(network.Flow{Name: "clients", From: network.Peer{CIDR: "0.0.0.0/0"}, To: GatewayPeer(args.GatewayNamespaceName), Ports: network.TCP(80, 443)})
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"gatewayServiceAccount": pulumi.String(GatewayServiceAccount),
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// meshPolicy declares STRICT mTLS in the root namespace and in every workload namespace,
// an ISTIO_MUTUAL traffic policy with the circuit breaker for every workload namespace,
// the API server's exception, and mesh-wide telemetry.
func (c *Istio) meshPolicy(ctx *pulumi.Context, name string, args IstioArgs) error {
	after := pulumi.DependsOn(c.Ready)
	cr := func(resource, apiVersion, kind, object string, ns pulumi.StringInput, spec any) error {
		_, err := kube.CustomResource(ctx, name+"-"+resource, apiVersion, kind,
			kube.Meta(object, ns, nil), spec, pulumi.Parent(c), after)
		return err
	}
	if err := cr("mesh-mtls", "security.istio.io/v1", "PeerAuthentication", "default", args.Namespace, strict); err != nil {
		return err
	}
	for _, ns := range args.Workloads {
		if err := memberPolicies(ctx, name, ns, args.WorkloadNames[ns], args.CircuitBreaker, pulumi.Parent(c), after); err != nil {
			return err
		}
	}
	// The API server is outside the mesh and speaks its own TLS: the sidecar passes it
	// through. The only destination without Istio's mutual TLS.
	apiServer := destinationRuleSpec{Host: APIServerHost, TrafficPolicy: trafficPolicy{TLS: &tlsSettings{Mode: "DISABLE"}}}
	if err := cr("apiserver-traffic", "networking.istio.io/v1", "DestinationRule", "kubernetes-api-server", args.Namespace, apiServer); err != nil {
		return err
	}
	telemetry := telemetrySpec{
		Tracing: []tracing{{Providers: []provider{{Name: TracingProvider}}, RandomSamplingPercentage: args.Tracing.SamplingPercent}},
		Metrics: []providers{{Providers: []provider{{Name: MetricsProvider}}}},
	}
	if args.AccessLogs {
		telemetry.AccessLogging = []providers{{Providers: []provider{{Name: AccessLogProvider}}}}
	}
	return cr("mesh-telemetry", "telemetry.istio.io/v1", "Telemetry", "mesh-default", args.Namespace, telemetry)
}

// strict is mutual TLS required: the mesh's and every workload namespace's.
var strict = peerAuthenticationSpec{MTLS: mtls{Mode: "STRICT"}}

// memberPolicies declares what a workload namespace of the mesh has: STRICT mTLS, and an
// ISTIO_MUTUAL traffic policy with the circuit breaker for its services.
func memberPolicies(ctx *pulumi.Context, name, ns string, nsName pulumi.StringInput, cb CircuitBreaker, opts ...pulumi.ResourceOption) error {
	cr := func(resource, apiVersion, kind, object string, spec any) error {
		_, err := kube.CustomResource(ctx, name+"-"+resource, apiVersion, kind, kube.Meta(object, nsName, nil), spec, opts...)
		return err
	}
	policy := trafficPolicy{
		TLS: &tlsSettings{Mode: "ISTIO_MUTUAL"},
		ConnectionPool: &connectionPool{
			TCP:  tcpPool{MaxConnections: cb.MaxConnections},
			HTTP: httpPool{HTTP1MaxPendingRequests: cb.HTTP1MaxPendingRequests, HTTP2MaxRequests: cb.HTTP2MaxRequests},
		},
		OutlierDetection: &outlierDetection{
			Consecutive5xxErrors: cb.Consecutive5xxErrors,
			Interval:             duration(cb.Interval),
			BaseEjectionTime:     duration(cb.BaseEjectionTime),
			MaxEjectionPercent:   cb.MaxEjectionPercent,
		},
	}
	if err := cr(ns+"-mtls", "security.istio.io/v1", "PeerAuthentication", "default", strict); err != nil {
		return err
	}
	// In the services' own namespace and exported everywhere, so it applies to every
	// client of these services.
	rule := destinationRuleSpec{Host: "*." + ns + ".svc.cluster.local", TrafficPolicy: policy}
	return cr(ns+"-traffic", "networking.istio.io/v1", "DestinationRule", "mutual-tls", rule)
}

// memberFlows are what every namespace of injected pods needs: its sidecars reach
// istiod, and the kubelet probes them.
func memberFlows(root string, kubelet network.Peer, ns string) []network.Flow {
	return []network.Flow{
		{Name: "istiod", From: network.Namespace(ns), To: istiod(root), Ports: network.TCP(IstiodXDSPort)},
		{Name: "kubelet-probes", From: kubelet, To: network.Namespace(ns), Ports: network.TCP(AgentPort, StatusPort)},
	}
}

// MembersArgs are the namespaces that join a mesh another stack installed.
type MembersArgs struct {
	// RootNamespace is the mesh's (istio-system), where istiod runs.
	RootNamespace string
	// Kubelet is where the kubelet's probes come from.
	Kubelet network.Peer
	// Namespaces are the joining namespaces, NamespaceNames their names as outputs of the
	// namespaces component (whose injection label puts their pods in the mesh).
	Namespaces     []string
	NamespaceNames map[string]pulumi.StringOutput
	// CircuitBreaker is the traffic policy's, as the platform's own namespaces have it.
	CircuitBreaker CircuitBreaker
}

// Members are namespaces of a shared stack in the platform's mesh: each gets what a
// workload namespace of the platform gets (STRICT mTLS, the mutual-TLS traffic policy,
// the flows to istiod and from the kubelet). The mesh-wide policies stay the platform's.
type Members struct {
	pulumi.ResourceState
	network.Declaration
}

// NewMembers declares the namespaces' mesh policies.
func NewMembers(ctx *pulumi.Context, name string, args MembersArgs, opts ...pulumi.ResourceOption) (*Members, error) {
	c := &Members{}
	if err := ctx.RegisterComponentResource("lamina:istio:Members", name, c, opts...); err != nil {
		return nil, err
	}
	for _, ns := range args.Namespaces {
		if err := memberPolicies(ctx, name, ns, args.NamespaceNames[ns], args.CircuitBreaker, pulumi.Parent(c)); err != nil {
			return nil, err
		}
		c.Open(memberFlows(args.RootNamespace, args.Kubelet, ns)...)
	}
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"namespaces": pulumi.ToStringArray(args.Namespaces)}); err != nil {
		return nil, err
	}
	return c, nil
}

// duration writes d as a protobuf Duration's JSON, which Istio's fields take: seconds,
// with a fraction when there is one (1.5s; whole seconds were all it kept before, so a
// configured 1500ms became 1s).
func duration(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
}

// Chart values, typed after each chart's values.yaml (release-1.31). Only what the
// program sets is declared; the charts' defaults hold for the rest.

type baseValues struct {
	// DefaultRevision creates the default validating webhook for the "default" revision.
	DefaultRevision string `json:"defaultRevision"`
}

type platform struct {
	// Platform applies the chart's built-in overrides for a distribution (k3s: its CNI
	// configuration and binary directories).
	Platform string `json:"platform"`
}

type cniValues struct {
	Global platform `json:"global"`
}

type istiodValues struct {
	Global struct {
		Platform string `json:"platform,omitempty"`
		Proxy    struct {
			Resources kube.Resources `json:"resources"`
			// SeccompProfile lets injected containers meet Pod Security restricted.
			SeccompProfile struct {
				Type string `json:"type"`
			} `json:"seccompProfile"`
		} `json:"proxy"`
	} `json:"global"`
	// CNI.Enabled makes injection rely on the CNI node agent instead of an istio-init
	// container with NET_ADMIN and NET_RAW. (The chart still reads the pre-1.22 place,
	// pilot.cni, but only by copying pilot over its top-level values.)
	CNI struct {
		Enabled bool `json:"enabled"`
	} `json:"cni"`
	// AutoscaleEnabled is off: replicaCount is fixed (a PDB comes with 2 or more).
	AutoscaleEnabled bool           `json:"autoscaleEnabled"`
	ReplicaCount     int            `json:"replicaCount"`
	Resources        kube.Resources `json:"resources"`
	MeshConfig       meshConfig     `json:"meshConfig"`
	// TopologySpreadConstraints spread istiod's replicas (its pods are istio: pilot, the
	// chart's selector without a revision).
	TopologySpreadConstraints []spec.TopologySpread `json:"topologySpreadConstraints,omitempty"`
}

// meshConfig is merged over istiod's generated mesh configuration.
type meshConfig struct {
	EnableTracing bool `json:"enableTracing"`
	// DefaultConfig.Tracing is empty: tracing is configured by the Telemetry API and
	// the providers below, not by the legacy proxy options.
	DefaultConfig struct {
		Tracing struct{} `json:"tracing"`
	} `json:"defaultConfig"`
	// ExtensionProviders are what Telemetry resources may name.
	ExtensionProviders []extensionProvider `json:"extensionProviders"`
}

type extensionProvider struct {
	Name          string `json:"name"`
	OpenTelemetry *struct {
		Service string `json:"service"`
		Port    int    `json:"port"`
	} `json:"opentelemetry,omitempty"`
	EnvoyFileAccessLog *struct {
		Path string `json:"path"`
	} `json:"envoyFileAccessLog,omitempty"`
	Prometheus *struct{} `json:"prometheus,omitempty"`
}

func istiodValuesFor(args IstioArgs) istiodValues {
	var v istiodValues
	if args.CNI {
		v.Global.Platform = "k3s"
	}
	v.Global.Proxy.Resources = args.ProxyResources
	v.Global.Proxy.SeccompProfile.Type = "RuntimeDefault"
	v.CNI.Enabled = args.CNI
	v.AutoscaleEnabled = false
	v.ReplicaCount = args.IstiodReplicas
	v.TopologySpreadConstraints = spec.Spread(args.IstiodReplicas, map[string]string{"istio": "pilot"}, true)
	v.Resources = args.IstiodResources
	v.MeshConfig.EnableTracing = true
	otel := extensionProvider{Name: TracingProvider}
	otel.OpenTelemetry = &struct {
		Service string `json:"service"`
		Port    int    `json:"port"`
	}{args.Tracing.CollectorHost, args.Tracing.CollectorPort}
	logs := extensionProvider{Name: AccessLogProvider}
	logs.EnvoyFileAccessLog = &struct {
		Path string `json:"path"`
	}{"/dev/stdout"}
	v.MeshConfig.ExtensionProviders = []extensionProvider{otel, logs, {Name: MetricsProvider, Prometheus: &struct{}{}}}
	return v
}

type gatewayValues struct {
	// Labels are added to the pods; istio selects them for the Gateway resource.
	Labels  map[string]string `json:"labels"`
	Service struct {
		Type        string            `json:"type"`
		Annotations map[string]string `json:"annotations"`
	} `json:"service"`
	// ReplicaCount applies when autoscaling is off.
	ReplicaCount *int `json:"replicaCount,omitempty"`
	Autoscaling  struct {
		Enabled                        bool `json:"enabled"`
		MinReplicas                    int  `json:"minReplicas,omitempty"`
		MaxReplicas                    int  `json:"maxReplicas,omitempty"`
		TargetCPUUtilizationPercentage int  `json:"targetCPUUtilizationPercentage,omitempty"`
	} `json:"autoscaling"`
	// PodDisruptionBudget is rendered only with more than one replica.
	PodDisruptionBudget *struct {
		MinAvailable int `json:"minAvailable"`
	} `json:"podDisruptionBudget,omitempty"`
	Resources kube.Resources `json:"resources"`
	// TopologySpreadConstraints spread the gateway's pods when it may have several.
	TopologySpreadConstraints []spec.TopologySpread `json:"topologySpreadConstraints,omitempty"`
}

func gatewayValuesFor(g Gateway) gatewayValues {
	var v gatewayValues
	v.Labels = GatewaySelector
	v.Service.Type = "LoadBalancer"
	if g.Address != "" {
		v.Service.Annotations = map[string]string{"metallb.io/loadBalancerIPs": g.Address}
	}
	if g.MinReplicas == g.MaxReplicas {
		n := g.MinReplicas
		v.ReplicaCount = &n
	} else {
		v.Autoscaling.Enabled = true
		v.Autoscaling.MinReplicas, v.Autoscaling.MaxReplicas = g.MinReplicas, g.MaxReplicas
		v.Autoscaling.TargetCPUUtilizationPercentage = 80
	}
	if g.MinReplicas > 1 {
		v.PodDisruptionBudget = &struct {
			MinAvailable int `json:"minAvailable"`
		}{g.MinReplicas - 1}
	}
	v.Resources = g.Resources
	v.TopologySpreadConstraints = spec.Spread(g.MaxReplicas, GatewaySelector, true)
	return v
}

// Specs of Istio's custom resources (istio.io/api v1.31).

type mtls struct {
	Mode string `json:"mode"`
}

type peerAuthenticationSpec struct {
	MTLS mtls `json:"mtls"`
}

type tlsSettings struct {
	Mode string `json:"mode"`
}

type tcpPool struct {
	MaxConnections int `json:"maxConnections"`
}

type httpPool struct {
	HTTP1MaxPendingRequests int `json:"http1MaxPendingRequests"`
	HTTP2MaxRequests        int `json:"http2MaxRequests"`
}

type connectionPool struct {
	TCP  tcpPool  `json:"tcp"`
	HTTP httpPool `json:"http"`
}

type outlierDetection struct {
	Consecutive5xxErrors int    `json:"consecutive5xxErrors"`
	Interval             string `json:"interval"`
	BaseEjectionTime     string `json:"baseEjectionTime"`
	MaxEjectionPercent   int    `json:"maxEjectionPercent"`
}

type trafficPolicy struct {
	TLS              *tlsSettings      `json:"tls,omitempty"`
	ConnectionPool   *connectionPool   `json:"connectionPool,omitempty"`
	OutlierDetection *outlierDetection `json:"outlierDetection,omitempty"`
}

type destinationRuleSpec struct {
	Host          string        `json:"host"`
	TrafficPolicy trafficPolicy `json:"trafficPolicy"`
}

type provider struct {
	Name string `json:"name"`
}

type providers struct {
	Providers []provider `json:"providers"`
}

type tracing struct {
	Providers                []provider `json:"providers"`
	RandomSamplingPercentage float64    `json:"randomSamplingPercentage"`
}

type telemetrySpec struct {
	Tracing       []tracing   `json:"tracing"`
	Metrics       []providers `json:"metrics"`
	AccessLogging []providers `json:"accessLogging,omitempty"`
}
