package stacks

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/lamina-os/lamina-infra/components/certmanager"
	"github.com/lamina-os/lamina-infra/components/cluster"
	"github.com/lamina-os/lamina-infra/components/edge"
	"github.com/lamina-os/lamina-infra/components/istio"
	"github.com/lamina-os/lamina-infra/components/metallb"
	"github.com/lamina-os/lamina-infra/components/namespaces"
	"github.com/lamina-os/lamina-infra/components/network"
	"github.com/lamina-os/lamina-infra/components/security"
	"github.com/lamina-os/lamina-infra/stacks/config"
)

// trustDomain is Istio's default SPIFFE trust domain.
const trustDomain = "cluster.local"

// MeshPlatform is what the mesh, edge and network security parts of a stack declare.
// A shared stack has no MetalLB, cert-manager or Istio of its own: its namespaces are
// Members of its platform's mesh.
type MeshPlatform struct {
	Namespaces  *namespaces.Namespaces
	MetalLB     *metallb.MetalLB
	CertManager *certmanager.CertManager
	Istio       *istio.Istio
	Members     *istio.Members
	Edge        *edge.Edge
	Security    *security.NetworkSecurity
}

// sidecars is what injected pods wait for: the stack's own Istio, if it has one.
func (m *MeshPlatform) sidecars() []pulumi.Resource {
	if m.Istio == nil {
		return nil
	}
	return m.Istio.Sidecars
}

// ready is what Istio's custom resources wait for (CRDs and istiod), and issuer what
// certificates are signed by, in this stack.
func (m *MeshPlatform) ready() []pulumi.Resource {
	if m.Istio == nil {
		return nil
	}
	return m.Istio.Ready
}

// buildMesh declares the namespaces, MetalLB, cert-manager and Istio on the cluster; the
// edge and the network security follow every component (connectMesh).
func buildMesh(ctx *pulumi.Context, cfg *config.Config, cl *cluster.Cluster, spans istio.Tracing) (*MeshPlatform, error) {
	k8s := pulumi.Providers(cl.Provider)
	m := &MeshPlatform{}
	var err error

	var decl []namespaces.Namespace
	for _, ns := range cfg.DeclaredNamespaces() {
		decl = append(decl, namespaces.Namespace{Name: ns, OutOfMeshReason: cfg.Namespaces.OutOfMesh[ns], PodSecurity: cfg.Namespaces.PodSecurity[ns],
			Keep: holdsClaims(cfg, ns)})
	}
	if m.Namespaces, err = namespaces.NewNamespaces(ctx, "namespaces", namespaces.NamespacesArgs{Namespaces: decl}, k8s); err != nil {
		return nil, err
	}
	names := m.Namespaces.Names

	// The gateway asks MetalLB for the edge's address: the program's own, from the
	// stack's pool, in its VM; elsewhere a MetalLB the cluster runs honours it, and
	// another balancer chooses for itself.
	var gatewayAfter []pulumi.Resource
	if cfg.RunsMetalLB() {
		if m.MetalLB, err = metallb.NewMetalLB(ctx, "metallb", metallb.MetalLBArgs{
			Chart:     chart(cfg, &cfg.MetalLB.Chart),
			Namespace: names[config.NamespaceMetalLB],
			Addresses: cfg.MetalLB.Addresses,
		}, k8s); err != nil {
			return nil, err
		}
		gatewayAfter = []pulumi.Resource{m.MetalLB.Pool, m.MetalLB.Advertisement}
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
	if m.Istio, err = istio.NewIstio(ctx, "istio", istio.IstioArgs{
		Charts: istio.Charts{
			Base: chart(cfg, &cfg.Mesh.Charts.Base), CNI: chart(cfg, &cfg.Mesh.Charts.CNI),
			Istiod: chart(cfg, &cfg.Mesh.Charts.Istiod), Gateway: chart(cfg, &cfg.Mesh.Charts.Gateway),
		},
		Namespace:            names[config.NamespaceIstio],
		GatewayNamespace:     names[config.NamespaceGateway],
		RootNamespace:        config.NamespaceIstio,
		GatewayNamespaceName: config.NamespaceGateway,
		Workloads:            cfg.Workloads(),
		WorkloadNames:        names,
		Kubelet:              cl.Kubelet,
		CNI:                  mc.CNI,
		WaitForRollout: func(name, workload string, revision pulumi.StringInput, opts ...pulumi.ResourceOption) (pulumi.Resource, error) {
			return cl.WaitForRollout(ctx, name, config.NamespaceIstio, workload, mc.Charts.CNI.Timeout.Duration, revision, opts...)
		},
		IstiodReplicas:  mc.IstiodReplicas,
		IstiodResources: mc.IstiodResources,
		ProxyResources:  mc.ProxyResources,
		Gateway: istio.Gateway{
			MinReplicas: mc.Gateway.MinReplicas, MaxReplicas: mc.Gateway.MaxReplicas,
			Resources: mc.Gateway.Resources, Address: cfg.Edge.Address,
		},
		GatewayDependsOn: gatewayAfter,
		// Spans go where the observability part of the stack receives them.
		Tracing:        spans,
		AccessLogs:     mc.AccessLogs,
		CircuitBreaker: circuitBreaker(mc.CircuitBreaker),
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
	// A shared stack's certificate is signed by its platform's issuer.
	issuer, issuerReady := certmanager.IssuerName(cfg.CertManager.Issuer, cfg.CertManager.ExistingIssuer), []pulumi.Resource(nil)
	gateway := pulumi.String(config.NamespaceGateway).ToStringOutput()
	if m.CertManager != nil {
		issuer, issuerReady = m.CertManager.IssuerName, m.CertManager.Ready
	}
	if gw, ok := m.Namespaces.Names[config.NamespaceGateway]; ok {
		gateway = gw
	}
	if m.Edge, err = edge.NewEdge(ctx, "edge", edge.EdgeArgs{
		Name:             cfg.ClusterName("gateway"),
		Namespace:        gateway,
		GatewayNamespace: config.NamespaceGateway,
		Selector:         istio.GatewaySelector,
		Gateway:          istio.GatewayPeer(config.NamespaceGateway),
		Domain:           cfg.Edge.Domain,
		Routes:           needs.Routes,
		NamespaceNames:   m.Namespaces.Names,
		Issuer:           issuer,
		IssuerReady:      issuerReady,
		IstioReady:       m.ready(),
	}, k8s); err != nil {
		return err
	}
	// Again with the edge's flows, so that what the gateway reaches is held to what
	// each server admits as well.
	if needs, err = network.Collect(append(components, m.Edge)...); err != nil {
		return err
	}
	args := security.NetworkSecurityArgs{
		Authorized:     cfg.Workloads(),
		Policed:        meshNamespaces(cfg),
		NamespaceNames: m.Namespaces.Names,
		TrustDomain:    trustDomain,
		Flows:          needs.Flows,
		DNS:            cluster.DNS,
		IstioReady:     m.ready(),
	}
	if cfg.Shared() {
		// Its own namespaces closed as the platform's are; in the platform's, only the
		// policies of its own flows, under its name.
		var own []string
		for _, ns := range cfg.DeclaredNamespaces() {
			own = append(own, cfg.NamespaceOf(ns))
		}
		args.Authorized, args.Policed = own, own
		args.Joined, args.JoinedPrefix = joinedNamespaces, cfg.Stack()
	}
	if m.Security, err = security.NewNetworkSecurity(ctx, "network-security", args, k8s); err != nil {
		return err
	}
	return nil
}

// meshNamespaces are the namespaces of injected pods: the gateway's and the workloads'.
func meshNamespaces(cfg *config.Config) []string {
	return append([]string{config.NamespaceGateway}, cfg.Workloads()...)
}

// joinedNamespaces are the platform's namespaces a shared stack's flows reach into: the
// gateway's (to its routes), Prometheus's (scrapes, the dashboard's queries) and the
// tracing's (spans).
var joinedNamespaces = []string{config.NamespaceGateway, config.NamespaceMonitoring, config.NamespaceObservability}
