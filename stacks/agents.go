package stacks

import (
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/lamina-os/lamina-infra/components/chromadb"
	"github.com/lamina-os/lamina-infra/components/cluster"
	"github.com/lamina-os/lamina-infra/components/core"
	"github.com/lamina-os/lamina-infra/components/dashboard"
	"github.com/lamina-os/lamina-infra/components/gpu"
	"github.com/lamina-os/lamina-infra/components/images"
	"github.com/lamina-os/lamina-infra/components/llmserve"
	"github.com/lamina-os/lamina-infra/components/monitoring"
	"github.com/lamina-os/lamina-infra/components/network"
	"github.com/lamina-os/lamina-infra/stacks/config"
)

// AgentPlatform is what the agent stack declares.
type AgentPlatform struct {
	ModelStore   *corev1.PersistentVolumeClaim
	ChromaVolume *corev1.PersistentVolumeClaim
	// Images are the Lamina images by workload (lamina-llm-serve, lamina-core,
	// lamina-dashboard).
	Images   map[string]*images.Image
	LLMServe *llmserve.LLMServe
	// GPU is the GPU's device plugin, with lamina:llm.accelerator gpu.
	GPU       *gpu.DevicePlugin
	ChromaDB  *chromadb.ChromaDB
	Core      *core.Core
	Dashboard *dashboard.Dashboard
}

// buildAgents declares the agent stack after istiod: the model store and lamina-llm-serve,
// ChromaDB, the unified agent server and the dashboard, with their images.
// daemon changes when the Docker daemon the images are built on is new.
func buildAgents(ctx *pulumi.Context, cfg *config.Config, cl *cluster.Cluster, mesh *MeshPlatform, daemon string) (*AgentPlatform, error) {
	k8s := pulumi.Providers(cl.Provider)
	names := mesh.Namespaces.Names
	// The agent stack's namespaces, named after the stack when it shares a platform.
	systemNS, llmNS, dashboardNS := cfg.NamespaceOf(config.NamespaceLaminaSystem), cfg.NamespaceOf(config.NamespaceLLMServe), cfg.NamespaceOf(config.NamespaceDashboard)
	a := &AgentPlatform{Images: map[string]*images.Image{}}
	var err error

	var promoted map[string]pulumi.StringOutput
	if from := cfg.Images.PromoteFrom; from != "" {
		if promoted, err = promotedImages(ctx, from); err != nil {
			return nil, err
		}
	}
	for _, im := range []struct {
		workload string
		image    config.Image
	}{{llmserve.Name, cfg.Images.LLMServe}, {core.Name, cfg.Images.Core}, {dashboard.Name, cfg.Images.Dashboard}} {
		var from pulumi.StringInput
		if ref, ok := promoted[im.workload]; ok {
			from = ref
		}
		if a.Images[im.workload], err = newImage(ctx, cfg, im.workload, im.image, from, daemon, onDaemon(cl)...); err != nil {
			return nil, err
		}
	}

	l := cfg.LLM
	if a.ModelStore, err = volume(ctx, cfg, cl, names[llmNS], modelsVolume, l.ModelStoreSize); err != nil {
		return nil, err
	}
	llmImage := a.Images[llmserve.Name]
	var gpuResource string
	llmReady := mesh.sidecars()
	if l.Accelerator == config.AcceleratorGPU {
		// The GPU's device plugin, before the servers that request what it advertises.
		if a.GPU, err = gpu.NewDevicePlugin(ctx, "gpu", gpu.DevicePluginArgs{
			Image: l.DevicePluginImage, Shares: l.Replicas,
		}, k8s); err != nil {
			return nil, err
		}
		gpuResource, llmReady = gpu.Resource, append(llmReady, a.GPU)
	}
	if a.LLMServe, err = llmserve.NewLLMServe(ctx, "llm-serve", llmserve.LLMServeArgs{
		Namespace:     names[llmNS],
		NamespaceName: llmNS,
		Downloads:     l.Downloads,
		Image:         llmImage.Ref,
		PullPolicy:    llmImage.PullPolicy,
		Replicas:      l.Replicas,
		Resources:     l.Resources,
		RunAsUser:     l.Security.RunAsUser, RunAsGroup: l.Security.RunAsGroup,
		Env:        l.Env,
		Catalogue:  catalogueOf(l),
		Claim:      modelsVolume + "-data",
		ClaimReady: a.ModelStore,
		IstioReady: llmReady,
		GPU:        gpuResource,
		Placement:  l.Placement,
	}, k8s); err != nil {
		return nil, err
	}

	ch := cfg.Chroma
	if a.ChromaVolume, err = volume(ctx, cfg, cl, names[systemNS], chromaVolume, ch.StorageSize); err != nil {
		return nil, err
	}
	var token pulumi.StringInput
	if ch.AuthToken != "" {
		token = pulumi.ToSecret(pulumi.String(ch.AuthToken)).(pulumi.StringOutput)
	}
	if a.ChromaDB, err = chromadb.NewChromaDB(ctx, "chromadb", chromadb.ChromaDBArgs{
		Namespace:     names[systemNS],
		NamespaceName: systemNS,
		Clients:       []network.Peer{core.Identity(systemNS)},
		Image:         ch.Image,
		Resources:     ch.Resources,
		RunAsUser:     ch.Security.RunAsUser, RunAsGroup: ch.Security.RunAsGroup,
		Token:      token,
		Claim:      chromaVolume + "-data",
		ClaimReady: a.ChromaVolume,
		IstioReady: mesh.sidecars(),
	}, k8s); err != nil {
		return nil, err
	}

	co := cfg.Core
	coreImage := a.Images[core.Name]
	if a.Core, err = core.NewCore(ctx, "core", core.CoreArgs{
		Namespace:     names[systemNS],
		NamespaceName: systemNS,
		Image:         coreImage.Ref,
		PullPolicy:    coreImage.PullPolicy,
		Mode:          co.Mode,
		Agents:        co.Agents,
		Replicas:      co.Replicas,
		LLMURL:        a.LLMServe.Workload.URL,
		ChromaHost:    a.ChromaDB.Workload.Host,
		ChromaPort:    chromadb.Port,
		LLM:           llmserve.Endpoint(llmNS),
		Chroma:        a.ChromaDB.Endpoint,
		Resources:     co.Resources,
		RunAsUser:     co.Security.RunAsUser, RunAsGroup: co.Security.RunAsGroup,
		Env:       co.Env,
		DependsOn: append([]pulumi.Resource{a.ChromaDB.Secret}, mesh.sidecars()...),
	}, k8s); err != nil {
		return nil, err
	}

	d := cfg.Dashboard
	dashImage := a.Images[dashboard.Name]
	if a.Dashboard, err = dashboard.NewDashboard(ctx, "dashboard", dashboard.DashboardArgs{
		Namespace:     names[dashboardNS],
		NamespaceName: dashboardNS,
		Image:         dashImage.Ref,
		PullPolicy:    dashImage.PullPolicy,
		PrometheusURL: monitoring.ServiceURL(config.NamespaceMonitoring),
		Prometheus:    monitoring.Endpoint(config.NamespaceMonitoring),
		APIServer:     cl.APIServer,
		Resources:     d.Resources,
		RunAsUser:     d.Security.RunAsUser, RunAsGroup: d.Security.RunAsGroup,
		Env:       d.Env,
		DependsOn: mesh.sidecars(),
	}, k8s); err != nil {
		return nil, err
	}
	return a, nil
}

// needers are the agent stack's components, which declare their flows, routes and
// offers (ChromaDB opens no flow and serves no hostname; it admits the agent server).
func (a *AgentPlatform) needers() []network.Needer {
	return []network.Needer{a.LLMServe, a.ChromaDB, a.Core, a.Dashboard}
}
