package stacks

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"

	"github.com/lamina-os/lamina-infra/components/chromadb"
	"github.com/lamina-os/lamina-infra/components/dashboard"
	"github.com/lamina-os/lamina-infra/components/llmserve"
	"github.com/lamina-os/lamina-infra/components/network"
	"github.com/lamina-os/lamina-infra/internal/outputs"
	"github.com/lamina-os/lamina-infra/stacks/config"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/lamina-os/lamina-infra/components/cluster"
	"github.com/lamina-os/lamina-infra/components/colima"
)

// Platform is everything a stack builds.
type Platform struct {
	// VM is the Colima VM, nil with cluster.target existing.
	VM *colima.ColimaVM
	// Cluster is the Ready cluster and its providers.
	Cluster *cluster.Cluster
	// Mesh is the namespaces, MetalLB, cert-manager, Istio, the edge and network security.
	Mesh *MeshPlatform
	// Monitoring is Prometheus and kube-state-metrics.
	Monitoring *MonitoringPlatform
	// Agents are lamina-llm-serve, ChromaDB, the agent server and the dashboard.
	Agents *AgentPlatform
	// Build is the build tier, nil without lamina:build.enabled.
	Build *BuildPlatform
	// Docker is the Docker target, with which none of the above exists.
	Docker *DockerPlatform
}

// Capture is a pulumi.RunOption that fills src with the configuration the engine passes
// to this run. The Go SDK offers no way to list config keys from a Context, and a typo
// can only be told from an unknown key by seeing them all.
func Capture(src *config.Source) pulumi.RunOption {
	return func(info *pulumi.RunInfo) {
		src.Project, src.Stack = info.Project, info.Stack
		src.Origin = "the configuration of stack " + info.Stack
		src.Values = make(map[string]string, len(info.Config))
		for k, v := range info.Config {
			src.Values[k] = v
		}
		src.Secret = map[string]bool{}
		for _, k := range info.ConfigSecretKeys {
			src.Secret[k] = true
		}
		src.Stat = os.Stat
		if home, err := os.UserHomeDir(); err == nil {
			src.ObserveVM = colima.Observer{Dir: filepath.Join(home, ".lamina", "colima")}.Observe
		}
	}
}

// Program is the whole Pulumi program: load the stack's configuration from src (reporting
// every problem before a single resource is registered), then build the platform. main.go,
// the tests and `lamina render` all run it.
func Program(src *config.Source) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		cfg, err := config.Load(src)
		if err != nil {
			return err
		}
		_, err = Build(ctx, cfg, src.ObserveVM)
		return err
	}
}

// Build wires the components of a stack together and exports its outputs. observeVM,
// when set, looks at the Colima VM (config.Source.ObserveVM).
func Build(ctx *pulumi.Context, cfg *config.Config, observeVM func(profile string, dryRun bool) (string, string, error)) (*Platform, error) {
	p := &Platform{}
	if cfg.Cluster.Target == config.TargetDocker {
		var err error
		p.Docker, err = buildDocker(ctx, cfg, observeVM)
		return p, err
	}
	args := cluster.ClusterArgs{
		ReadyTimeout:  cfg.Cluster.ReadyTimeout.Duration,
		APIServerPort: cfg.Cluster.APIServerPort,
		StorageClass:  cfg.Cluster.StorageClass,
		NodeCIDR:      cfg.Cluster.NodeCIDR,
	}
	// daemon stands for the Docker daemon the images are built on (colima only).
	var daemon string
	switch cfg.Cluster.Target {
	case config.TargetColima:
		vm, observed, err := newColimaVM(ctx, cfg, observeVM)
		if err != nil {
			return nil, err
		}
		daemon = observed
		p.VM = vm
		args.KubeContext = vm.KubeContext
		args.ClusterIdentifier = "colima:" + cfg.Colima.Profile
		// Read again: the readiness and rollouts after any start, restart or resize
		// (the VM's summary, or a start); the kubeconfig, and with it the providers, only
		// when the VM was made anew or was found not running. A resize or an upgrade of
		// this program restarts the VM without touching the providers, so its preview
		// shows what the up will do. A VM found not running cannot be read in a preview:
		// its resources are shown as updates, and the program says why (newColimaVM).
		args.Refresh = pulumi.Sprintf("%s\nstart=%s", vm.State, vm.Args.StartGeneration)
		args.Instance = pulumi.String(vm.Args.Generation + "\nstart=" + vm.Args.StartGeneration)
		args.After, args.Started = []pulumi.Resource{vm.VM}, []pulumi.Resource{vm.Start}
		args.Nodes = []string{vm.Args.NodeName()}
		if cfg.Builds() {
			args.DockerHost = vm.DockerHost
		}
	case config.TargetExisting:
		args.DataDir, args.DataSubdirs = cfg.Data.Dir, config.DataSubdirs
		args.KubeContext = pulumi.String(cfg.Cluster.Context)
		args.KubeconfigPath = cfg.Cluster.Kubeconfig
		args.ClusterIdentifier = "existing:" + cfg.Cluster.Context
		if cfg.Cluster.DockerHost != "" && cfg.Builds() {
			args.DockerHost = pulumi.String(cfg.Cluster.DockerHost)
		}
	case config.TargetShared:
		ref, kubeContext, err := joinPlatform(ctx, cfg)
		if err != nil {
			return nil, err
		}
		args.KubeContext = kubeContext
		args.ClusterIdentifier = "shared:" + cfg.Cluster.Platform
		args.StorageClassExists = true
		args.DataDir, args.DataSubdirs, args.DataDirOnMac = cfg.Data.Dir, sharedDataSubdirs, true
		if cfg.Builds() {
			// The platform's daemon, whose images its nodes run.
			args.DockerHost = ref.GetStringOutput(pulumi.String("dockerHost"))
		}
	}
	cl, err := cluster.NewCluster(ctx, "cluster", args)
	if err != nil {
		return nil, err
	}
	p.Cluster = cl
	var needers []network.Needer
	if cfg.Shared() {
		if p.Mesh, err = joinMesh(ctx, cfg, cl); err != nil {
			return nil, err
		}
		needers = []network.Needer{p.Mesh.Members}
	} else {
		if p.Mesh, err = buildMesh(ctx, cfg, cl, spansTarget(cfg)); err != nil {
			return nil, err
		}
		if p.Monitoring, err = buildMonitoring(ctx, cfg, cl, p.Mesh); err != nil {
			return nil, err
		}
		needers = append([]network.Needer{p.Mesh.Istio}, p.Monitoring.needers()...)
	}
	if p.Agents, err = buildAgents(ctx, cfg, cl, p.Mesh, daemon); err != nil {
		return nil, err
	}
	if cfg.Build.Enabled && !cfg.Shared() {
		if p.Build, err = buildBuildTier(ctx, cfg, cl, p.Mesh, daemon); err != nil {
			return nil, err
		}
	}
	if err = connectMesh(ctx, cfg, cl, p.Mesh, slices.Concat(needers, p.Agents.needers())...); err != nil {
		return nil, err
	}

	ctx.Export("schemaVersion", pulumi.Int(outputs.SchemaVersion))
	ctx.Export("stack", pulumi.String(ctx.Stack()))
	ctx.Export("profile", pulumi.String(cfg.Profile))
	ctx.Export("clusterTarget", pulumi.String(cfg.Cluster.Target))
	ctx.Export("kubeconfig", cl.Kubeconfig)
	ctx.Export("kubeContext", cl.KubeContext)
	ctx.Export("nodes", cl.Nodes)
	ctx.Export("storageClass", cl.StorageClass)
	ctx.Export("dataDir", pulumi.String(cfg.Data.Dir))
	dataDirs := pulumi.StringMap{}
	subdirs := config.DataSubdirs
	if cfg.Shared() {
		subdirs = sharedDataSubdirs
	}
	for _, sub := range subdirs {
		dataDirs[sub] = pulumi.String(path.Join(cfg.Data.Dir, sub))
	}
	ctx.Export("dataDirs", dataDirs)
	var declared []string
	for _, ns := range cfg.DeclaredNamespaces() {
		declared = append(declared, cfg.NamespaceOf(ns))
	}
	ctx.Export("namespaces", pulumi.ToStringArray(declared))
	urls := pulumi.StringMap{}
	for host, url := range p.Mesh.Edge.URLs {
		urls[host+"."+cfg.Edge.Domain] = pulumi.String(url)
	}
	ctx.Export("gatewayAddress", pulumi.String(cfg.Edge.Address))
	ctx.Export("urls", urls)
	ctx.Export("mtlsMode", pulumi.String("STRICT"))
	if p.Monitoring != nil {
		ctx.Export("grafanaAdminUser", p.Monitoring.Grafana.AdminUser)
		ctx.Export("grafanaAdminPassword", p.Monitoring.Grafana.AdminPassword)
	}
	if cfg.Cluster.Target == config.TargetColima {
		// What each tenant (a shared stack) may request in this VM; it checks its own
		// requests against it.
		ctx.Export("tenants", tenantShares(cfg))
	}
	if cfg.Shared() {
		ctx.Export("platform", pulumi.String(cfg.Cluster.Platform))
	}
	// What the agent stack runs: the images a promotion takes.
	refs := pulumi.Map{chromadb.Name: pulumi.String(cfg.Chroma.Image)}
	for workload, im := range p.Agents.Images {
		refs[workload] = im.Ref
	}
	ctx.Export("images", refs)
	if p.Build != nil {
		build := pulumi.Map{
			"namespace": pulumi.String(cfg.NamespaceOf(config.NamespaceBuild)),
			"image":     p.Build.Image.Ref,
			"commit":    pulumi.String(cfg.Build.Commit),
			"cacheDir":  pulumi.String(path.Join(cfg.Data.Dir, config.BuildDir, "cache")),
		}
		if p.Build.Tier.Job != nil {
			build["job"] = p.Build.Tier.Job.Metadata.Name().Elem()
		}
		ctx.Export("build", build)
	}
	// As in urls: the gateway's URL of the route, without a path.
	ctx.Export("llmURL", pulumi.String(p.Mesh.Edge.URLs[llmserve.Host]))
	ctx.Export("dashboardURL", pulumi.String(p.Mesh.Edge.URLs[dashboard.Host]))
	ctx.Export("modelsDir", pulumi.String(path.Join(cfg.Data.Dir, modelsVolume)))
	if p.VM != nil {
		exportVM(ctx, p.VM)
		ctx.Export("dockerHost", p.VM.DockerHost)
	}
	return p, nil
}

// newColimaVM declares the stack's Colima VM, after looking at it (observeVM, when set):
// with k3s, or for the Docker target the docker runtime alone. daemon stands for the
// VM's Docker daemon, which the images are built on.
func newColimaVM(ctx *pulumi.Context, cfg *config.Config, observeVM func(profile string, dryRun bool) (string, string, error)) (vm *colima.ColimaVM, daemon string, err error) {
	var generation string
	if observeVM != nil {
		if generation, daemon, err = observeVM(cfg.Colima.Profile, ctx.DryRun()); err != nil {
			return nil, "", err
		}
	}
	args := ColimaArgs(cfg)
	// The VM's command runs again when the VM is (to be) made anew, its start whenever
	// it was found not running.
	args.Generation, args.StartGeneration = daemon, generation
	if ctx.DryRun() && colima.WillStart(generation) {
		// The one preview Pulumi cannot make exact: the cluster is not there to compare.
		_ = ctx.Log.Warn(fmt.Sprintf("Colima profile %s is not running, so this preview cannot read its cluster: it shows the Kubernetes resources as updates. `pulumi up` starts the VM first and changes only what differs. For the exact plan, start it (colima start --profile %s) and preview again.",
			cfg.Colima.Profile, cfg.Colima.Profile), nil)
	}
	vm, err = colima.NewColimaVM(ctx, "colima", args)
	return vm, daemon, err
}

// ColimaArgs are the stack's Colima VM as the configuration asks for it (the doctor prints
// its start for a VM a user must create in a terminal).
func ColimaArgs(cfg *config.Config) colima.ColimaVMArgs {
	return colima.ColimaVMArgs{
		Profile:      cfg.Colima.Profile,
		CPUs:         cfg.Colima.CPUs,
		MemoryGiB:    cfg.Colima.MemoryGiB,
		DiskGiB:      cfg.Colima.DiskGiB,
		Arch:         cfg.Colima.Arch,
		K3sVersion:   cfg.Colima.K3sVersion,
		K3sPort:      cfg.Cluster.APIServerPort,
		PodCIDR:      cfg.Cluster.PodCIDR,
		ServiceCIDR:  cfg.Cluster.ServiceCIDR,
		ExtraK3sArgs: cfg.Colima.K3sArgs,
		DNS:          cfg.Colima.DNS,
		DataDir:      cfg.Data.Dir,
		DataSubdirs:  config.DataSubdirs,
		NodeCIDR:     cfg.Cluster.NodeCIDR,
		Protect:      cfg.Colima.Protect,
		NoKubernetes: cfg.Cluster.Target == config.TargetDocker,
		VMType:       cfg.Colima.VMType,
	}
}

// exportVM exports the VM's profile and size.
func exportVM(ctx *pulumi.Context, vm *colima.ColimaVM) {
	ctx.Export("colimaProfile", vm.Profile)
	ctx.Export("vm", pulumi.Map{"cpus": vm.CPUs, "memoryGiB": vm.MemoryGiB, "diskGiB": vm.DiskGiB, "address": vm.Address})
}
