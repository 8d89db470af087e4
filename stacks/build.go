package stacks

import (
	"path"
	"slices"

	"github.com/lamina-os/lamina-infra/components/chromadb"
	"github.com/lamina-os/lamina-infra/components/network"
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
	}
}

// Program is the whole Pulumi program: load the stack's configuration from src (reporting
// every problem before a single resource is registered), then build the platform, asking
// probes about the machine it runs on (ThisMac under the engine; nil offline). main.go, the
// tests and `lamina render` all run it.
func Program(src *config.Source, probes config.Probes) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		cfg, err := config.Load(src, probes)
		if err != nil {
			return err
		}
		_, err = Build(ctx, cfg, probes)
		return err
	}
}

// Build wires the components of a stack together and exports its outputs. probes, when
// set, are asked about the Colima VM (config.Probes).
func Build(ctx *pulumi.Context, cfg *config.Config, probes config.Probes) (*Platform, error) {
	p := &Platform{}
	var (
		out Outputs
		err error
	)
	if cfg.Cluster.Target == config.TargetDocker {
		p.Docker, out, err = buildDocker(ctx, cfg, probes)
	} else {
		out, err = p.buildKubernetes(ctx, cfg, probes)
	}
	if err != nil {
		return nil, err
	}
	return p, out.export(ctx)
}

// buildKubernetes declares a stack on a Kubernetes cluster: its VM (colima), the cluster,
// the mesh, the observability and the agents.
func (p *Platform) buildKubernetes(ctx *pulumi.Context, cfg *config.Config, probes config.Probes) (Outputs, error) {
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
		vm, observed, err := newColimaVM(ctx, cfg, probes)
		if err != nil {
			return Outputs{}, err
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
		_ = ctx.Log.Info(cfg.CapacityUnchecked(), nil)
		// Every volume is a claim of the cluster's classes (config.Load refuses less): no
		// directory on a node, and no class of the program's.
		args.StorageClassExists, args.StorageClass = true, cfg.Storage.Class
		args.KubeContext = pulumi.String(cfg.Cluster.Context)
		args.KubeconfigPath = cfg.Cluster.Kubeconfig
		args.ClusterIdentifier = "existing:" + cfg.Cluster.Context
		if cfg.Cluster.DockerHost != "" && cfg.Builds() {
			args.DockerHost = pulumi.String(cfg.Cluster.DockerHost)
		}
	case config.TargetShared:
		ref, kubeContext, err := joinPlatform(ctx, cfg)
		if err != nil {
			return Outputs{}, err
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
		return Outputs{}, err
	}
	p.Cluster = cl
	var needers []network.Needer
	if cfg.Shared() {
		if p.Mesh, err = joinMesh(ctx, cfg, cl); err != nil {
			return Outputs{}, err
		}
		needers = []network.Needer{p.Mesh.Members}
	} else {
		if p.Mesh, err = buildMesh(ctx, cfg, cl, spansTarget(cfg)); err != nil {
			return Outputs{}, err
		}
		if p.Monitoring, err = buildMonitoring(ctx, cfg, cl, p.Mesh); err != nil {
			return Outputs{}, err
		}
		needers = append([]network.Needer{p.Mesh.Istio}, p.Monitoring.needers()...)
	}
	if p.Agents, err = buildAgents(ctx, cfg, cl, p.Mesh, daemon); err != nil {
		return Outputs{}, err
	}
	if cfg.Build.Enabled && !cfg.Shared() {
		if p.Build, err = buildBuildTier(ctx, cfg, cl, p.Mesh, daemon); err != nil {
			return Outputs{}, err
		}
	}
	if err = connectMesh(ctx, cfg, cl, p.Mesh, slices.Concat(needers, p.Agents.needers())...); err != nil {
		return Outputs{}, err
	}

	subdirs := config.DataSubdirs
	if cfg.Shared() {
		subdirs = sharedDataSubdirs
	}
	out := newOutputs(ctx, cfg, cfg.Edge.Address, p.Mesh.Edge.URLs, subdirs)
	out.Kubeconfig, out.KubeContext, out.Nodes, out.StorageClass = cl.Kubeconfig, cl.KubeContext, cl.Nodes, cl.StorageClass
	var declared []string
	for _, ns := range cfg.DeclaredNamespaces() {
		declared = append(declared, cfg.NamespaceOf(ns))
	}
	out.Namespaces = pulumi.ToStringArray(declared)
	if p.Monitoring != nil {
		out.GrafanaUser, out.GrafanaPass = p.Monitoring.Grafana.AdminUser, p.Monitoring.Grafana.AdminPassword
	}
	if cfg.Cluster.Target == config.TargetColima {
		// What each tenant (a shared stack) may request in this VM; it checks its own
		// requests against it.
		out.Tenants = tenantShares(cfg)
	}
	if cfg.Shared() {
		out.Platform = pulumi.String(cfg.Cluster.Platform)
	}
	// What the agent stack runs: the images a promotion takes.
	refs := pulumi.Map{chromadb.Name: pulumi.String(cfg.Chroma.Image)}
	for workload, im := range p.Agents.Images {
		refs[workload] = im.Ref
	}
	out.Images = refs
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
		out.Build = build
	}
	if p.VM != nil {
		out.withVM(p.VM)
	}
	return out, nil
}
