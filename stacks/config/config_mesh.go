package config

import (
	"slices"
	"strings"

	"github.com/lamina-os/lamina-infra/internal/spec"
)

// Resources are a container's requests and limits; Quantities CPU and memory amounts.
// Their fields are documented in package spec, which the components share.
type (
	Resources  = spec.Resources
	Quantities = spec.Quantities
)

// Namespaces says which namespaces stay out of the mesh and which Pod Security level
// each namespace enforces.
type Namespaces struct {
	// OutOfMesh lists the system namespaces kept out of the mesh, each with its reason.
	// Allowed: the system namespaces the stack declares, all of them, each with a reason
	// (the API server calls their webhooks and has no mesh identity): istio-system,
	// cert-manager and, with target colima, metallb-system; a shared stack, none.
	OutOfMesh map[string]string `json:"outOfMesh"`
	// PodSecurity is the Pod Security Standard each namespace enforces. Allowed: every
	// declared namespace, each restricted, baseline or privileged.
	PodSecurity map[string]string `json:"podSecurity"`
}

// MetalLB gives LoadBalancer Services addresses reachable from macOS. The program runs
// it with target colima only; with existing the section is refused.
type MetalLB struct {
	// Chart pins MetalLB's chart.
	Chart HelmChart `json:"chart"`
	// Addresses are what MetalLB may hand out: ranges (a.b.c.d-a.b.c.e) or CIDRs. Allowed:
	// inside cluster.nodeCIDR, outside podCIDR and serviceCIDR, disjoint from the
	// addresses of the side-by-side stacks.
	Addresses []string `json:"addresses"`
}

// Certificate issuers.
const (
	// IssuerSelfSignedCA creates a self-signed root CA and a CA ClusterIssuer from it.
	IssuerSelfSignedCA = "selfsigned-ca"
	// IssuerACME creates an ACME ClusterIssuer (HTTP-01 through the Istio gateway).
	IssuerACME = "acme"
	// IssuerExisting uses a ClusterIssuer that already exists in the cluster.
	IssuerExisting = "existing"
)

// CertManager issues the gateway's certificate.
type CertManager struct {
	// Chart pins cert-manager's chart (its CRDs included).
	Chart HelmChart `json:"chart"`
	// Issuer is selfsigned-ca (a local root CA made here), acme or existing.
	Issuer string `json:"issuer"`
	// ACMEServer is the ACME directory URL (issuer acme). Allowed: an https:// URL.
	ACMEServer string `json:"acmeServer"`
	// ACMEEmail is the ACME account's contact (issuer acme). Allowed: an e-mail address.
	ACMEEmail string `json:"acmeEmail"`
	// ExistingIssuer names the ClusterIssuer to use (issuer existing). Allowed: a
	// Kubernetes name.
	ExistingIssuer string `json:"existingIssuer"`
}

// Mesh is Istio: charts, control plane, gateway, mTLS traffic policy and telemetry.
type Mesh struct {
	// Charts pin Istio's four charts, which share a version.
	Charts IstioCharts `json:"charts"`
	// CNI installs Istio's CNI node agent, so that sidecars need no NET_ADMIN init
	// container and workload namespaces can enforce Pod Security restricted.
	CNI bool `json:"cni"`
	// IstiodReplicas is the number of istiod replicas (2 or more adds a
	// PodDisruptionBudget). Allowed: 1 to 5.
	IstiodReplicas int `json:"istiodReplicas"`
	// IstiodResources are istiod's requests and limits.
	IstiodResources Resources `json:"istiodResources"`
	// ProxyResources are every sidecar's requests and limits.
	ProxyResources Resources `json:"proxyResources"`
	// Gateway sizes the ingress gateway.
	Gateway GatewaySize `json:"gateway"`
	// TracingSamplingPercent is the share of requests traced. Allowed: 0 to 100.
	TracingSamplingPercent float64 `json:"tracingSamplingPercent"`
	// AccessLogs turns on Envoy access logs mesh-wide.
	AccessLogs bool `json:"accessLogs"`
	// CircuitBreaker is the traffic policy of every in-mesh destination.
	CircuitBreaker CircuitBreaker `json:"circuitBreaker"`
}

// GatewaySize sizes the ingress gateway.
type GatewaySize struct {
	// MinReplicas and MaxReplicas bound the autoscaler; equal values mean a fixed
	// number of replicas. Allowed: 1 to 10, min not above max.
	MinReplicas int `json:"minReplicas"`
	// MaxReplicas is the autoscaler's upper bound. Allowed: minReplicas to 10.
	MaxReplicas int `json:"maxReplicas"`
	// Resources are each gateway pod's requests and limits.
	Resources Resources `json:"resources"`
}

// CircuitBreaker is outlier detection and connection pooling for in-mesh traffic.
type CircuitBreaker struct {
	// Consecutive5xxErrors ejects a host after this many 5xx in a row. Allowed: 1 to 100.
	Consecutive5xxErrors int `json:"consecutive5xxErrors"`
	// Interval is how often hosts are analysed. Allowed: 1s to 5m.
	Interval Duration `json:"interval"`
	// BaseEjectionTime is the shortest ejection. Allowed: 1s to 1h.
	BaseEjectionTime Duration `json:"baseEjectionTime"`
	// MaxEjectionPercent caps the share of hosts ejected at once. Allowed: 0 to 100.
	MaxEjectionPercent int `json:"maxEjectionPercent"`
	// MaxConnections caps TCP connections per destination host. Allowed: 1 to 100000.
	MaxConnections int `json:"maxConnections"`
	// HTTP1MaxPendingRequests caps queued requests per host. Allowed: 1 to 100000.
	HTTP1MaxPendingRequests int `json:"http1MaxPendingRequests"`
	// HTTP2MaxRequests caps concurrent requests per host. Allowed: 1 to 100000.
	HTTP2MaxRequests int `json:"http2MaxRequests"`
}

// Edge is how macOS reaches the platform: one HTTPS gateway, one hostname per UI or API.
type Edge struct {
	// Domain is the DNS suffix of every hostname. Allowed: a DNS name, not under .local
	// (macOS resolves .local by multicast DNS before /etc/hosts).
	Domain string `json:"domain"`
	// Address is the gateway's LoadBalancer address, asked of MetalLB by the Service's
	// metallb.io/loadBalancerIPs. Allowed: with target colima, an address inside
	// metallb.addresses; with target existing, required: the address the cluster's own
	// load balancer gives the gateway's Service (a MetalLB of the cluster's honours the
	// request; other balancers choose for themselves, and the outputs' URLs use this).
	Address string `json:"address"`
}

// The platform's namespaces, each declared once (components/namespaces).
const (
	NamespaceIstio         = "istio-system"
	NamespaceGateway       = "istio-gateway"
	NamespaceMetalLB       = "metallb-system"
	NamespaceCertManager   = "cert-manager"
	NamespaceMonitoring    = "monitoring"
	NamespaceObservability = "observability"
	NamespaceLaminaSystem  = "lamina-system"
	NamespaceLLMServe      = "lamina-llm-serve"
	NamespaceDashboard     = "lamina-dashboard"
)

// WorkloadNamespaces hold the platform's applications: sidecar injection, STRICT mTLS,
// default-deny authorization and network policy.
var WorkloadNamespaces = []string{NamespaceMonitoring, NamespaceObservability, NamespaceLaminaSystem, NamespaceLLMServe, NamespaceDashboard}

// SystemNamespaces hold infrastructure whose webhooks the API server calls; they stay
// out of the mesh. A stack declares those of them it runs (Config.Systems).
var SystemNamespaces = []string{NamespaceIstio, NamespaceMetalLB, NamespaceCertManager}

// RunsMetalLB says whether the stack installs MetalLB: only in its own Colima VM, whose
// addresses macOS reaches. An existing cluster has its own load balancer (a cloud's,
// k3s's servicelb, or a MetalLB its admins run), and a shared stack uses its platform's.
func (c *Config) RunsMetalLB() bool { return c.Cluster.Target == TargetColima }

// Systems are the system namespaces this stack declares: all of SystemNamespaces but
// MetalLB's where it runs none; a shared stack declares none.
func (c *Config) Systems() []string {
	if c.Shared() {
		return nil
	}
	if c.RunsMetalLB() {
		return slices.Clone(SystemNamespaces)
	}
	return slices.DeleteFunc(slices.Clone(SystemNamespaces), func(ns string) bool { return ns == NamespaceMetalLB })
}

// AgentNamespaces hold the agent stack: the only namespaces a shared stack declares.
var AgentNamespaces = []string{NamespaceLaminaSystem, NamespaceLLMServe, NamespaceDashboard}

// Shared reports whether the stack joins another stack's platform (cluster.target
// shared).
func (c *Config) Shared() bool { return c.Cluster.Target == TargetShared }

// DeclaredNamespaces are the namespaces this stack declares, by the names the program
// and the configuration (lamina:namespaces) know them by: every one (with the build
// tier, lamina-build too), or with target shared the agent stack's.
func (c *Config) DeclaredNamespaces() []string {
	if c.Shared() {
		return slices.Clone(AgentNamespaces)
	}
	return append([]string{NamespaceGateway}, append(c.Systems(), c.Workloads()...)...)
}

// Workloads are the workload namespaces this stack declares beside the gateway's and
// the system ones: WorkloadNamespaces and, with the build tier, lamina-build.
func (c *Config) Workloads() []string {
	ws := slices.Clone(WorkloadNamespaces)
	if c.Build.Enabled && !c.Shared() {
		ws = append(ws, NamespaceBuild)
	}
	return ws
}

// ClusterName is the name of a cluster-wide object (or one in a namespace of the
// platform's) called name: lamina-<name>, and for a shared stack lamina-<stack>-<name>,
// so that the stacks on one cluster never declare the same object.
func (c *Config) ClusterName(name string) string {
	if c.Shared() {
		return Namespace + "-" + c.stack + "-" + name
	}
	return Namespace + "-" + name
}

// NamespaceOf is the name namespace ns (one the platform declares) has in the cluster. A
// shared stack's agent namespaces carry the stack's name, so that two stacks never share
// one: lamina-<stack>, lamina-<stack>-llm-serve, lamina-<stack>-dashboard. Every other
// namespace is the platform's, under its own name.
func (c *Config) NamespaceOf(ns string) string {
	if !c.Shared() || !slices.Contains(AgentNamespaces, ns) {
		return ns
	}
	if ns == NamespaceLaminaSystem {
		return "lamina-" + c.stack
	}
	return strings.Replace(ns, "lamina-", "lamina-"+c.stack+"-", 1)
}

// Pod Security Standards levels.
var podSecurityLevels = []string{"restricted", "baseline", "privileged"}
