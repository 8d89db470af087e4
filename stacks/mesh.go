package stacks

import (
	"github.com/lamina-os/lamina-infra/stacks/config"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"maps"
	"slices"

	"github.com/lamina-os/lamina-infra/components/certmanager"
	"github.com/lamina-os/lamina-infra/components/chromadb"
	"github.com/lamina-os/lamina-infra/components/cluster"
	"github.com/lamina-os/lamina-infra/components/core"
	"github.com/lamina-os/lamina-infra/components/dashboard"
	"github.com/lamina-os/lamina-infra/components/edge"
	"github.com/lamina-os/lamina-infra/components/grafana"
	"github.com/lamina-os/lamina-infra/components/istio"
	"github.com/lamina-os/lamina-infra/components/kiali"
	"github.com/lamina-os/lamina-infra/components/llmserve"
	"github.com/lamina-os/lamina-infra/components/logs"
	"github.com/lamina-os/lamina-infra/components/metallb"
	"github.com/lamina-os/lamina-infra/components/monitoring"
	"github.com/lamina-os/lamina-infra/components/namespaces"
	"github.com/lamina-os/lamina-infra/components/security"
	"github.com/lamina-os/lamina-infra/components/tracing"
	"github.com/lamina-os/lamina-infra/internal/kube"
)

const (
	// trustDomain is Istio's default SPIFFE trust domain.
	trustDomain = "cluster.local"
	// appLabel is the label every workload behind a route carries, with its Service's name.
	appLabel = "app.kubernetes.io/name"
)

// apiClients are the workload namespaces whose pods read the Kubernetes API (service
// discovery, log metadata, Kiali's view of the mesh, the dashboard's read-only view).
// lamina-system is not one: neither the agent server nor ChromaDB mounts a token.
var apiClients = []string{config.NamespaceMonitoring, config.NamespaceObservability, config.NamespaceDashboard}

// Mesh is what the mesh, edge and network security parts of a stack declare.
type MeshPlatform struct {
	Namespaces  *namespaces.Namespaces
	MetalLB     *metallb.MetalLB
	CertManager *certmanager.CertManager
	Istio       *istio.Istio
	Edge        *edge.Edge
	Security    *security.NetworkSecurity
}

// buildMesh declares the namespaces, MetalLB, cert-manager, Istio, the edge and the
// network security on the cluster.
func buildMesh(ctx *pulumi.Context, cfg *config.Config, cl *cluster.Cluster) (*MeshPlatform, error) {
	k8s := pulumi.Providers(cl.Provider)
	m := &MeshPlatform{}
	var err error

	var decl []namespaces.Namespace
	for _, ns := range config.AllNamespaces() {
		decl = append(decl, namespaces.Namespace{Name: ns, OutOfMeshReason: cfg.Namespaces.OutOfMesh[ns], PodSecurity: cfg.Namespaces.PodSecurity[ns]})
	}
	if m.Namespaces, err = namespaces.NewNamespaces(ctx, "namespaces", namespaces.NamespacesArgs{Namespaces: decl}, k8s); err != nil {
		return nil, err
	}
	names := m.Namespaces.Names

	if m.MetalLB, err = metallb.NewMetalLB(ctx, "metallb", metallb.MetalLBArgs{
		Chart:     chart(cfg.MetalLB.Chart, "metallb"),
		Namespace: names[config.NamespaceMetalLB],
		Addresses: cfg.MetalLB.Addresses,
	}, k8s); err != nil {
		return nil, err
	}

	if m.CertManager, err = certmanager.NewCertManager(ctx, "cert-manager", certmanager.CertManagerArgs{
		Chart:          chart(cfg.CertManager.Chart, "cert-manager"),
		Namespace:      names[config.NamespaceCertManager],
		Issuer:         cfg.CertManager.Issuer,
		RootCommonName: "Lamina " + cfg.Stack() + " root CA",
		ACMEServer:     cfg.CertManager.ACMEServer,
		ACMEEmail:      cfg.CertManager.ACMEEmail,
		ExistingIssuer: cfg.CertManager.ExistingIssuer,
	}, k8s); err != nil {
		return nil, err
	}

	mc := cfg.Mesh
	cb := mc.CircuitBreaker
	spansHost, _ := tracing.SpansTarget(config.NamespaceObservability, cfg.Tracing.Collector.Enabled)
	if m.Istio, err = istio.NewIstio(ctx, "istio", istio.IstioArgs{
		Repo: mc.Charts.Repo, Version: mc.Charts.Version, Timeout: mc.Charts.Timeout.Duration,
		Namespace:        names[config.NamespaceIstio],
		GatewayNamespace: names[config.NamespaceGateway],
		Workloads:        config.WorkloadNamespaces,
		WorkloadNames:    names,
		CNI:              mc.CNI,
		WaitForRollout: func(name, workload string, revision pulumi.StringInput, opts ...pulumi.ResourceOption) (pulumi.Resource, error) {
			return cl.WaitForRollout(ctx, name, config.NamespaceIstio, workload, mc.Charts.Timeout.Duration, revision, opts...)
		},
		IstiodReplicas:  mc.IstiodReplicas,
		IstiodResources: resourcesOf(mc.IstiodResources),
		ProxyResources:  resourcesOf(mc.ProxyResources),
		Gateway: istio.Gateway{
			MinReplicas: mc.Gateway.MinReplicas, MaxReplicas: mc.Gateway.MaxReplicas,
			Resources: resourcesOf(mc.Gateway.Resources), Address: cfg.Edge.Address,
		},
		GatewayDependsOn: []pulumi.Resource{m.MetalLB.Pool, m.MetalLB.Advertisement},
		// Spans go to the Jaeger the tracing component declares.
		Tracing: istio.Tracing{CollectorHost: spansHost, CollectorPort: tracing.OTLPPort,
			SamplingPercent: mc.TracingSamplingPercent},
		AccessLogs: mc.AccessLogs,
		CircuitBreaker: istio.CircuitBreaker{
			Consecutive5xxErrors: cb.Consecutive5xxErrors, Interval: cb.Interval.Duration, BaseEjectionTime: cb.BaseEjectionTime.Duration,
			MaxEjectionPercent: cb.MaxEjectionPercent, MaxConnections: cb.MaxConnections,
			HTTP1MaxPendingRequests: cb.HTTP1MaxPendingRequests, HTTP2MaxRequests: cb.HTTP2MaxRequests,
		},
	}, k8s); err != nil {
		return nil, err
	}

	var routes []edge.Route
	for _, host := range slices.Sorted(maps.Keys(cfg.Edge.Routes)) {
		r := cfg.Edge.Routes[host]
		routes = append(routes, edge.Route{Host: host, Namespace: r.Namespace, NamespaceName: names[r.Namespace], Service: r.Service, Port: r.Port})
	}
	if m.Edge, err = edge.NewEdge(ctx, "edge", edge.EdgeArgs{
		Namespace:        names[config.NamespaceGateway],
		GatewayNamespace: config.NamespaceGateway,
		Selector:         istio.GatewaySelector,
		Domain:           cfg.Edge.Domain,
		Routes:           routes,
		Issuer:           m.CertManager.IssuerName,
		IssuerReady:      m.CertManager.Ready,
		IstioReady:       m.Istio.Ready,
	}, k8s); err != nil {
		return nil, err
	}

	meshNamespaces := append([]string{config.NamespaceGateway}, config.WorkloadNamespaces...)
	if m.Security, err = security.NewNetworkSecurity(ctx, "network-security", security.NetworkSecurityArgs{
		Authorized:     config.WorkloadNamespaces,
		Policed:        meshNamespaces,
		NamespaceNames: names,
		TrustDomain:    trustDomain,
		Flows:          platformFlows(cfg, meshNamespaces),
		IstioReady:     m.Istio.Ready,
	}, k8s); err != nil {
		return nil, err
	}
	return m, nil
}

// platformFlows are the flows the mesh and the edge need. Later parts of the platform
// add their own.
func platformFlows(cfg *config.Config, meshNamespaces []string) []security.Flow {
	tcp := func(ports ...int) []security.Port {
		var out []security.Port
		for _, p := range ports {
			out = append(out, security.Port{Number: p, Protocol: "TCP"})
		}
		return out
	}
	gateway := security.Peer{Namespace: config.NamespaceGateway, Pods: istio.GatewaySelector, ServiceAccount: istio.GatewayServiceAccount}
	monitoringPods := func(app string) security.Peer {
		return security.Peer{Namespace: config.NamespaceMonitoring, Pods: map[string]string{appLabel: app}}
	}
	prometheus := monitoringPods(monitoring.AppName)
	_, spansApp := tracing.SpansTarget(config.NamespaceObservability, cfg.Tracing.Collector.Enabled)
	observabilityPods := func(app string) security.Peer {
		return security.Peer{Namespace: config.NamespaceObservability, Pods: map[string]string{appLabel: app}}
	}
	kialiPeer := security.Peer{Namespace: config.NamespaceObservability, Pods: map[string]string{appLabel: kiali.InstanceName}, ServiceAccount: kiali.InstanceName}
	grafanaPeer := security.Peer{Namespace: config.NamespaceMonitoring, Pods: map[string]string{appLabel: grafana.AppName}, ServiceAccount: grafana.ServiceAccount}
	agentPods := func(ns, app string) security.Peer {
		return security.Peer{Namespace: ns, Pods: map[string]string{appLabel: app}}
	}
	corePeer := security.Peer{Namespace: config.NamespaceLaminaSystem, Pods: map[string]string{appLabel: core.Name}, ServiceAccount: core.Name}
	var flows []security.Flow
	for _, ns := range meshNamespaces {
		all := security.Peer{Namespace: ns}
		flows = append(flows,
			security.Flow{Name: "dns", From: all, To: security.Peer{Namespace: "kube-system", Pods: map[string]string{"k8s-app": "kube-dns"}},
				Ports: []security.Port{{Number: 53, Protocol: "UDP"}, {Number: 53, Protocol: "TCP"}}},
			// Sidecars and gateways fetch configuration and certificates from istiod.
			security.Flow{Name: "istiod", From: all, To: security.Peer{Namespace: config.NamespaceIstio, Pods: map[string]string{"app": "istiod"}}, Ports: tcp(15012)},
			// The kubelet probes through the sidecar's agent (15020) and the gateway's status port.
			security.Flow{Name: "kubelet-probes", From: security.Peer{CIDR: cfg.Cluster.NodeCIDR}, To: all, Ports: tcp(15020, 15021)},
			// Prometheus scrapes the merged metrics of every pod and Envoy's own.
			security.Flow{Name: "prometheus-scrape-" + ns, From: prometheus, To: all, Ports: tcp(15020, 15090)},
			// Every sidecar and the gateway send their spans to Jaeger or its collector.
			security.Flow{Name: "spans-from-" + ns, From: security.Peer{Namespace: ns, ServiceAccount: security.AnyServiceAccount},
				To: observabilityPods(spansApp), Ports: tcp(tracing.OTLPPort)},
		)
	}
	if cfg.Tracing.Collector.Enabled {
		flows = append(flows, security.Flow{Name: "collector-to-jaeger",
			From: security.Peer{Namespace: config.NamespaceObservability, Pods: map[string]string{appLabel: tracing.CollectorAppName}, ServiceAccount: tracing.CollectorServiceAccount},
			To:   observabilityPods(tracing.AppName), Ports: tcp(tracing.OTLPPort)})
	}
	flows = append(flows,
		// Grafana queries Prometheus and Loki; Vector pushes to Loki.
		security.Flow{Name: "grafana-to-prometheus", From: grafanaPeer, To: monitoringPods(monitoring.AppName), Ports: tcp(monitoring.ServicePort)},
		security.Flow{Name: "grafana-to-loki", From: grafanaPeer, To: monitoringPods(logs.LokiAppName), Ports: tcp(logs.LokiPort)},
		// Kiali reads the same Prometheus, Jaeger and Grafana, and istiod's state.
		security.Flow{Name: "kiali-to-prometheus", From: kialiPeer, To: monitoringPods(monitoring.AppName), Ports: tcp(monitoring.ServicePort)},
		security.Flow{Name: "kiali-to-jaeger", From: kialiPeer,
			To: security.Peer{Namespace: config.NamespaceObservability, Pods: map[string]string{appLabel: tracing.AppName}}, Ports: tcp(tracing.QueryGRPCPort)},
		security.Flow{Name: "kiali-to-grafana", From: kialiPeer, To: monitoringPods(grafana.AppName), Ports: tcp(grafana.ContainerPort)},
		security.Flow{Name: "kiali-to-istiod", From: kialiPeer, To: security.Peer{Namespace: config.NamespaceIstio, Pods: map[string]string{"app": "istiod"}}, Ports: tcp(15014)},
		security.Flow{Name: "grafana-to-jaeger", From: grafanaPeer,
			To: security.Peer{Namespace: config.NamespaceObservability, Pods: map[string]string{appLabel: tracing.AppName}}, Ports: tcp(tracing.QueryPort)},
		security.Flow{Name: "vector-to-loki",
			From: security.Peer{Namespace: config.NamespaceMonitoring, Pods: map[string]string{appLabel: logs.VectorAppName}, ServiceAccount: logs.VectorServiceAccount},
			To:   monitoringPods(logs.LokiAppName), Ports: tcp(logs.LokiPort)},
		// The agent server calls lamina-llm-serve and ChromaDB, which admits nobody else;
		// the dashboard queries Prometheus.
		security.Flow{Name: "core-to-llm-serve", From: corePeer, To: agentPods(config.NamespaceLLMServe, llmserve.Name), Ports: tcp(llmserve.Port)},
		security.Flow{Name: "core-to-chromadb", From: corePeer, To: agentPods(config.NamespaceLaminaSystem, chromadb.Name), Ports: tcp(chromadb.Port)},
		security.Flow{Name: "dashboard-to-prometheus",
			From: security.Peer{Namespace: config.NamespaceDashboard, Pods: map[string]string{appLabel: dashboard.Name}, ServiceAccount: dashboard.Name},
			To:   monitoringPods(monitoring.AppName), Ports: tcp(monitoring.ServicePort)},
		security.Flow{Name: "prometheus-scrape-istiod", From: prometheus, To: security.Peer{Namespace: config.NamespaceIstio, Pods: map[string]string{"app": "istiod"}}, Ports: tcp(15014)},
		// Clients on macOS reach the gateway's listeners through MetalLB's address.
		security.Flow{Name: "clients", From: security.Peer{CIDR: "0.0.0.0/0"}, To: gateway, Ports: tcp(80, 443)},
	)
	if cfg.LLM.Downloads {
		// llm-serve fetches models from Hugging Face or Ollama over HTTPS.
		flows = append(flows, security.Flow{Name: "llm-serve-downloads",
			From: agentPods(config.NamespaceLLMServe, llmserve.Name), To: security.Peer{CIDR: "0.0.0.0/0"}, Ports: tcp(443)})
	}
	for _, ns := range apiClients {
		flows = append(flows, security.Flow{Name: "apiserver", From: security.Peer{Namespace: ns}, To: security.Peer{CIDR: cfg.Cluster.NodeCIDR}, Ports: tcp(cfg.Cluster.APIServerPort)})
	}
	for _, host := range slices.Sorted(maps.Keys(cfg.Edge.Routes)) {
		r := cfg.Edge.Routes[host]
		flows = append(flows, security.Flow{
			Name: "gateway-to-" + host,
			From: gateway,
			To:   security.Peer{Namespace: r.Namespace, Pods: map[string]string{appLabel: r.Service}},
		})
	}
	return flows
}

func chart(c config.HelmChart, name string) kube.Chart {
	return kube.Chart{Repo: c.Repo, Name: name, Version: c.Version, Timeout: c.Timeout.Duration}
}

func resourcesOf(r config.Resources) kube.Resources {
	return kube.Resources{
		Requests: kube.Quantities{CPU: r.Requests.CPU, Memory: r.Requests.Memory},
		Limits:   kube.Quantities{CPU: r.Limits.CPU, Memory: r.Limits.Memory},
	}
}
