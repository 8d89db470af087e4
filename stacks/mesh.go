package stacks

import (
	"fmt"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/lamina-os/lamina-infra/components/certmanager"
	"github.com/lamina-os/lamina-infra/components/cluster"
	"github.com/lamina-os/lamina-infra/components/edge"
	"github.com/lamina-os/lamina-infra/components/istio"
	"github.com/lamina-os/lamina-infra/components/metallb"
	"github.com/lamina-os/lamina-infra/components/namespaces"
	"github.com/lamina-os/lamina-infra/components/network"
	"github.com/lamina-os/lamina-infra/components/security"
	"github.com/lamina-os/lamina-infra/internal/kube"
	"github.com/lamina-os/lamina-infra/stacks/config"
)

// trustDomain is Istio's default SPIFFE trust domain.
const trustDomain = "cluster.local"

// MeshPlatform is what the mesh, edge and network security parts of a stack declare.
type MeshPlatform struct {
	Namespaces  *namespaces.Namespaces
	MetalLB     *metallb.MetalLB
	CertManager *certmanager.CertManager
	Istio       *istio.Istio
	Edge        *edge.Edge
	Security    *security.NetworkSecurity
}

// buildMesh declares the namespaces, MetalLB, cert-manager and Istio on the cluster; the
// edge and the network security follow every component (connectMesh).
func buildMesh(ctx *pulumi.Context, cfg *config.Config, cl *cluster.Cluster, spans istio.Tracing) (*MeshPlatform, error) {
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
		Chart:     chart(cfg, &cfg.MetalLB.Chart),
		Namespace: names[config.NamespaceMetalLB],
		Addresses: cfg.MetalLB.Addresses,
	}, k8s); err != nil {
		return nil, err
	}

	if m.CertManager, err = certmanager.NewCertManager(ctx, "cert-manager", certmanager.CertManagerArgs{
		Chart:          chart(cfg, &cfg.CertManager.Chart),
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
	if m.Istio, err = istio.NewIstio(ctx, "istio", istio.IstioArgs{
		Charts: istio.Charts{
			Base: chart(cfg, &cfg.Mesh.Charts.Base), CNI: chart(cfg, &cfg.Mesh.Charts.CNI),
			Istiod: chart(cfg, &cfg.Mesh.Charts.Istiod), Gateway: chart(cfg, &cfg.Mesh.Charts.Gateway),
		},
		Namespace:            names[config.NamespaceIstio],
		GatewayNamespace:     names[config.NamespaceGateway],
		RootNamespace:        config.NamespaceIstio,
		GatewayNamespaceName: config.NamespaceGateway,
		Workloads:            config.WorkloadNamespaces,
		WorkloadNames:        names,
		Kubelet:              cl.Kubelet,
		CNI:                  mc.CNI,
		WaitForRollout: func(name, workload string, revision pulumi.StringInput, opts ...pulumi.ResourceOption) (pulumi.Resource, error) {
			return cl.WaitForRollout(ctx, name, config.NamespaceIstio, workload, mc.Charts.CNI.Timeout.Duration, revision, opts...)
		},
		IstiodReplicas:  mc.IstiodReplicas,
		IstiodResources: resourcesOf(mc.IstiodResources),
		ProxyResources:  resourcesOf(mc.ProxyResources),
		Gateway: istio.Gateway{
			MinReplicas: mc.Gateway.MinReplicas, MaxReplicas: mc.Gateway.MaxReplicas,
			Resources: resourcesOf(mc.Gateway.Resources), Address: cfg.Edge.Address,
		},
		GatewayDependsOn: []pulumi.Resource{m.MetalLB.Pool, m.MetalLB.Advertisement},
		// Spans go where the observability part of the stack receives them.
		Tracing:    spans,
		AccessLogs: mc.AccessLogs,
		CircuitBreaker: istio.CircuitBreaker{
			Consecutive5xxErrors: cb.Consecutive5xxErrors, Interval: cb.Interval.Duration, BaseEjectionTime: cb.BaseEjectionTime.Duration,
			MaxEjectionPercent: cb.MaxEjectionPercent, MaxConnections: cb.MaxConnections,
			HTTP1MaxPendingRequests: cb.HTTP1MaxPendingRequests, HTTP2MaxRequests: cb.HTTP2MaxRequests,
		},
	}, k8s); err != nil {
		return nil, err
	}

	return m, nil
}

// connectMesh declares the edge and the network security once every component has
// said what it needs: the edge serves their hostnames, and the network is closed but
// for the flows they open and the edge's own.
func connectMesh(ctx *pulumi.Context, cfg *config.Config, cl *cluster.Cluster, m *MeshPlatform, components ...network.Needer) error {
	k8s := pulumi.Providers(cl.Provider)
	needs, err := network.Collect(components...)
	if err != nil {
		return err
	}
	if m.Edge, err = edge.NewEdge(ctx, "edge", edge.EdgeArgs{
		Namespace:        m.Namespaces.Names[config.NamespaceGateway],
		GatewayNamespace: config.NamespaceGateway,
		Selector:         istio.GatewaySelector,
		Gateway:          istio.GatewayPeer(config.NamespaceGateway),
		Domain:           cfg.Edge.Domain,
		Routes:           needs.Routes,
		NamespaceNames:   m.Namespaces.Names,
		Issuer:           m.CertManager.IssuerName,
		IssuerReady:      m.CertManager.Ready,
		IstioReady:       m.Istio.Ready,
	}, k8s); err != nil {
		return err
	}
	// Again with the edge's flows, so that what the gateway reaches is held to what
	// each server admits as well.
	if needs, err = network.Collect(append(components, m.Edge)...); err != nil {
		return err
	}
	if m.Security, err = security.NewNetworkSecurity(ctx, "network-security", security.NetworkSecurityArgs{
		Authorized:     config.WorkloadNamespaces,
		Policed:        meshNamespaces(),
		NamespaceNames: m.Namespaces.Names,
		TrustDomain:    trustDomain,
		Flows:          needs.Flows,
		DNS:            cluster.DNS,
		IstioReady:     m.Istio.Ready,
	}, k8s); err != nil {
		return err
	}
	return nil
}

// meshNamespaces are the namespaces of injected pods: the gateway's and the workloads'.
func meshNamespaces() []string {
	return append([]string{config.NamespaceGateway}, config.WorkloadNamespaces...)
}

// chart is the release's pin c of cfg, with its extra values and where they are
// configured (the key Config.Charts lists for it).
func chart(cfg *config.Config, c *config.HelmChart) kube.Chart {
	pins := cfg.Charts()
	i := slices.IndexFunc(pins, func(p config.ChartPin) bool { return p.Chart == c })
	if i < 0 {
		panic(fmt.Sprintf("stacks: chart %s is not a pin of the configuration (config.Config.Charts)", c.Name)) // a programming error
	}
	return kube.Chart{Repository: c.Repository, Name: c.Name, Version: c.Version, Timeout: c.Timeout.Duration,
		Values: c.Values, ValuesKey: pins[i].Key + ".values"}
}

func resourcesOf(r config.Resources) kube.Resources {
	return kube.Resources{
		Requests: kube.Quantities{CPU: r.Requests.CPU, Memory: r.Requests.Memory},
		Limits:   kube.Quantities{CPU: r.Limits.CPU, Memory: r.Limits.Memory},
	}
}
