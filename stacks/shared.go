package stacks

import (
	"fmt"
	"path"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/lamina-os/lamina-infra/components/cluster"
	"github.com/lamina-os/lamina-infra/components/istio"
	"github.com/lamina-os/lamina-infra/components/monitoring"
	"github.com/lamina-os/lamina-infra/components/namespaces"
	"github.com/lamina-os/lamina-infra/components/tracing"
	"github.com/lamina-os/lamina-infra/stacks/config"
)

// sharedDataSubdirs are the subdirectories of a shared stack's data.dir: the agent
// stack's volumes only.
var sharedDataSubdirs = []string{modelsVolume, chromaVolume}

// joinPlatform reads the platform stack (cluster.platform) and checks that this stack
// may join it: the platform lists it as a tenant whose share holds this stack's
// requests, its data directory lies inside the platform's (which the platform's VM
// mounts), and its gateway address is the platform's. The kube context it returns
// carries the verdict, so no Kubernetes resource is declared for a stack that may not
// join.
func joinPlatform(ctx *pulumi.Context, cfg *config.Config) (*pulumi.StackReference, pulumi.StringOutput, error) {
	platform := cfg.Cluster.Platform
	ref, err := stackReference(ctx, "platform", platform)
	if err != nil {
		return nil, pulumi.StringOutput{}, err
	}
	cpu, memory, _, _ := config.Totals(cfg.Demands())
	check := func(args []any) (string, error) {
		kubeContext, _ := args[0].(string)
		tenants, _ := args[1].(map[string]any)
		dataDir, _ := args[2].(string)
		address, _ := args[3].(string)
		share, ok := tenants[cfg.Stack()].(map[string]any)
		if !ok {
			return "", fmt.Errorf("lamina:cluster.platform: stack %s does not list %s among its tenants; add {stack: %s, cpu: ..., memory: ...} to its lamina:colima.tenants and run pulumi up -s %s first",
				platform, cfg.Stack(), cfg.Stack(), platform)
		}
		shareCPU, _ := share["cpu"].(float64)
		shareMemory, _ := share["memory"].(float64)
		if cpu > shareCPU || memory > shareMemory {
			return "", fmt.Errorf("lamina:cluster.platform: this stack's pods request %s cores and %s (sidecars and a rollout's second pod included), more than the %s cores and %s stack %s reserves for it in lamina:colima.tenants; lower this stack's requests or raise its share there",
				config.FormatCores(cpu), config.FormatGiB(memory), config.FormatCores(shareCPU), config.FormatGiB(shareMemory), platform)
		}
		if dataDir != "" && !strings.HasPrefix(cfg.Data.Dir, dataDir+"/") {
			return "", fmt.Errorf("lamina:data.dir: %s is outside %s, the data directory of stack %s, which its VM mounts; allowed: a directory inside it, such as %s",
				cfg.Data.Dir, dataDir, platform, path.Join(dataDir, "tenants", cfg.Stack()))
		}
		if address != "" && address != cfg.Edge.Address {
			return "", fmt.Errorf("lamina:edge.address: %s is not the address of the gateway of stack %s (%s), which serves this stack's hostnames; set it to %s",
				cfg.Edge.Address, platform, address, address)
		}
		return kubeContext, nil
	}
	kubeContext := pulumi.All(ref.GetStringOutput(pulumi.String("kubeContext")), ref.GetOutput(pulumi.String("tenants")),
		ref.GetOutput(pulumi.String("dataDir")), ref.GetOutput(pulumi.String("gatewayAddress"))).ApplyT(check).(pulumi.StringOutput)
	return ref, kubeContext, nil
}

// tenantShares is the tenants output: each tenant's share of the VM, in cores and bytes.
func tenantShares(cfg *config.Config) pulumi.Map {
	out := pulumi.Map{}
	for _, t := range cfg.Colima.Tenants {
		cpu, _ := config.ParseQuantity(t.CPU)
		memory, _ := config.ParseQuantity(t.Memory)
		out[t.Stack] = pulumi.Map{"cpu": pulumi.Float64(cpu), "memory": pulumi.Float64(memory)}
	}
	return out
}

// joinMesh declares a shared stack's namespaces in the platform's mesh: their mesh
// policies and the flows that put them under the platform's observability (Prometheus
// scrapes them, their sidecars send spans).
func joinMesh(ctx *pulumi.Context, cfg *config.Config, cl *cluster.Cluster) (*MeshPlatform, error) {
	k8s := pulumi.Providers(cl.Provider)
	m := &MeshPlatform{}
	var decl []namespaces.Namespace
	var own []string
	for _, ns := range cfg.DeclaredNamespaces() {
		name := cfg.NamespaceOf(ns)
		own = append(own, name)
		decl = append(decl, namespaces.Namespace{Name: name, PodSecurity: cfg.Namespaces.PodSecurity[ns]})
	}
	var err error
	if m.Namespaces, err = namespaces.NewNamespaces(ctx, "namespaces", namespaces.NamespacesArgs{Namespaces: decl}, k8s); err != nil {
		return nil, err
	}
	cb := cfg.Mesh.CircuitBreaker
	if m.Members, err = istio.NewMembers(ctx, "mesh-members", istio.MembersArgs{
		RootNamespace:  config.NamespaceIstio,
		Kubelet:        cl.Kubelet,
		Namespaces:     own,
		NamespaceNames: m.Namespaces.Names,
		CircuitBreaker: circuitBreaker(cb),
	}, k8s); err != nil {
		return nil, err
	}
	for _, ns := range own {
		m.Members.Open(monitoring.Scrape(config.NamespaceMonitoring, ns),
			tracing.SpansFrom(config.NamespaceObservability, cfg.Tracing.Collector.Enabled, ns))
	}
	return m, nil
}
