package config

import (
	"sort"
	"time"
)

// Environment profiles.
const (
	Development = "development"
	Production  = "production"
	// Staging is the agent stack alone, small, on production's cluster and platform.
	Staging = "staging"
)

// profiles give every field of Config its default per environment. The figures are the
// infrastructure proposal's: a 32-core, 512 GiB Mac of which macOS keeps 4 cores and
// 64 GiB and 64 GiB stay in reserve; development runs a 12-core, 128 GiB, 200 GiB-disk VM
// and production a 16-core, 256 GiB, 500 GiB-disk VM, side by side.
var profiles = map[string]func() Config{
	Development: func() Config {
		return Config{
			Profile:     Development,
			Host:        macStudio(planned(Production, productionVM(), productionPool)),
			Data:        Data{Dir: "/Users/Shared/lamina/development"},
			Cluster:     colimaCluster(5 * time.Minute),
			Colima:      developmentVM(),
			Namespaces:  namespacesDefaults(),
			MetalLB:     metalLB(developmentPool),
			CertManager: certManager(),
			Mesh: mesh(meshSize{istiodReplicas: 1, gatewayMin: 1, gatewayMax: 1, tracingPercent: 100,
				istiod: resources("250m", "512Mi", "2", "2Gi"), gateway: resources("100m", "128Mi", "1", "512Mi")}),
			Edge: edgeDefaults("dev.lamina.home.arpa", "192.168.64.200"),
			// The original's development values: a week at 30 s on 50 GiB.
			Monitoring: monitoring("7d", 30*time.Second, "50Gi",
				resources("500m", "2Gi", "2", "4Gi"), resources("50m", "64Mi", "200m", "256Mi")),
			Grafana: grafana("10Gi", resources("100m", "256Mi", "1", "1Gi")),
			Logs:    logs("7d", "20Gi", resources("250m", "512Mi", "2", "2Gi"), resources("50m", "64Mi", "500m", "256Mi")),
			Tracing: tracing(50000, resources("100m", "256Mi", "1", "1Gi"), false, 1),
			Kiali:   kiali(KialiAnonymous, resources("50m", "128Mi", "500m", "512Mi")),
			Images:  images(),
			// One server that can hold a 70B model beside the small ones in the 128 GiB VM.
			LLM: llm(1, resources("4", "48Gi", "8", "64Gi"), "500Gi", map[string]string{"LAMINA_ENV": Development, "LOG_LEVEL": "DEBUG"},
				true, developmentModels()),
			Chroma:    chroma("20Gi", resources("250m", "1Gi", "2", "4Gi")),
			Core:      core(ModeMultiAgent, 1, resources("250m", "1Gi", "2", "4Gi"), map[string]string{"LAMINA_ENV": Development, "LOG_LEVEL": "DEBUG"}),
			Dashboard: dashboard(resources("100m", "256Mi", "500m", "1Gi"), map[string]string{"LAMINA_ENV": Development}),
			// Production's cluster runs the checks; development runs them on the Mac.
			Build:  build(false),
			Docker: dockerDefaults(),
		}
	},
	Production: func() Config {
		return Config{
			Profile:     Production,
			Host:        macStudio(planned(Development, developmentVM(), developmentPool)),
			Data:        Data{Dir: "/Users/Shared/lamina/production"},
			Cluster:     colimaCluster(10 * time.Minute),
			Colima:      productionVM(),
			Namespaces:  namespacesDefaults(),
			MetalLB:     metalLB(productionPool),
			CertManager: certManager(),
			Mesh: mesh(meshSize{istiodReplicas: 2, gatewayMin: 2, gatewayMax: 5, tracingPercent: 10,
				istiod: resources("500m", "2Gi", "4", "4Gi"), gateway: resources("500m", "512Mi", "2", "1Gi")}),
			Edge: edgeDefaults("lamina.home.arpa", "192.168.64.210"),
			// The original's production values: a month at 15 s on 200 GiB.
			Monitoring: monitoring("30d", 15*time.Second, "200Gi",
				resources("1", "4Gi", "4", "16Gi"), resources("100m", "128Mi", "500m", "512Mi")),
			Grafana: grafana("20Gi", resources("250m", "512Mi", "2", "2Gi")),
			Logs:    logs("30d", "100Gi", resources("500m", "1Gi", "4", "8Gi"), resources("100m", "128Mi", "1", "512Mi")),
			Tracing: tracing(500000, resources("500m", "2Gi", "2", "8Gi"), true, 2),
			Kiali:   kiali(KialiToken, resources("100m", "256Mi", "1", "1Gi")),
			Images:  images(),
			// Three servers, each holding a 70B model and a small one, in the 256 GiB VM.
			LLM: llm(3, resources("2", "64Gi", "8", "80Gi"), "2Ti", map[string]string{"LAMINA_ENV": Production, "LOG_LEVEL": "INFO"},
				false, productionModels()),
			Chroma:    chroma("100Gi", resources("500m", "2Gi", "2", "8Gi")),
			Core:      core(ModeMultiAgent, 2, resources("500m", "2Gi", "2", "4Gi"), map[string]string{"LAMINA_ENV": Production, "LOG_LEVEL": "INFO"}),
			Dashboard: dashboard(resources("100m", "256Mi", "500m", "1Gi"), map[string]string{"LAMINA_ENV": Production}),
			Build:     build(true),
			Docker:    dockerDefaults(),
		}
	},
}

// staging is production's configuration but for what a shared stack declares: the agent
// stack, sized to try a release on the small models, in production's VM, behind
// production's gateway under a domain of its own.
func staging() Config {
	c := profiles[Production]()
	c.Profile = Staging
	c.Cluster.Target, c.Cluster.Platform = TargetShared, Production
	// Inside production's data directory, which production's VM mounts.
	c.Data.Dir = "/Users/Shared/lamina/production/tenants/staging"
	c.Colima.Tenants = nil
	c.Namespaces = Namespaces{OutOfMesh: map[string]string{}, PodSecurity: map[string]string{}}
	for _, ns := range AgentNamespaces {
		c.Namespaces.PodSecurity[ns] = "restricted"
	}
	c.Edge.Domain = "staging.lamina.home.arpa"
	env := map[string]string{"LAMINA_ENV": Staging, "LOG_LEVEL": "INFO"}
	// One server holding the small models; the 70B ones stay on disk. Requests are
	// small (production's own leave 1.7 of the VM's cores); the limits let it burst.
	c.LLM = llm(1, resources("400m", "8Gi", "4", "16Gi"), "500Gi", env, false, developmentModels())
	c.Chroma = chroma("10Gi", resources("100m", "1Gi", "1", "2Gi"))
	c.Core = core(ModeMultiAgent, 1, resources("100m", "1Gi", "1", "2Gi"), env)
	c.Dashboard = dashboard(resources("50m", "256Mi", "500m", "1Gi"), map[string]string{"LAMINA_ENV": Staging})
	c.Build = build(false) // production's
	return c
}

// stagingShare is what production reserves in its VM for staging's pods: staging's
// requests (sidecars and a rollout's second pod included) with room to spare.
var stagingShare = Tenant{Stack: Staging, CPU: "1500m", Memory: "24Gi"}

// k3sVersion is the k3s release both profiles pin (Colima's default at the time of writing).
const k3sVersion = "v1.35.0+k3s1"

// macStudio is the M3 Ultra host the proposal sizes for, sharing it with one other VM.
func macStudio(other PlannedVM) Host {
	return Host{
		CPUs:             32,
		MemoryGiB:        512,
		MacOSCPUs:        4,
		MacOSMemoryGiB:   64,
		ReserveMemoryGiB: 64,
		SideBySide:       []PlannedVM{other},
	}
}

func developmentVM() Colima { return colimaVM("lamina-development", 12, 128, 200, false) }

// productionVM is protected: `pulumi destroy` refuses to delete it. Staging runs in it.
//
// It stays a vz VM, its models on CPU cores (lamina:llm.accelerator none), on purpose:
// krunkit, the only VM type that gives containers the GPU, holds at most 60 GiB of
// memory, and leaves the GPU 61 GiB minus that. Production's platform, three servers
// each holding a 70B model, and staging ask for about 240 GiB; on krunkit one 70B model
// (40 GiB on the GPU) leaves the VM 21 GiB. The GPU suits a smaller stack of its own
// (README, "Models on the GPU").
func productionVM() Colima {
	vm := colimaVM("lamina-production", 16, 256, 500, true)
	vm.VMType = VMTypeVZ
	vm.Tenants = []Tenant{stagingShare}
	return vm
}

// planned is the other stack's VM as this stack's host budget plans for it.
func planned(stack string, vm Colima, pool []string) PlannedVM {
	return PlannedVM{Stack: stack, CPUs: vm.CPUs, MemoryGiB: vm.MemoryGiB, Addresses: pool}
}

// The stacks' LoadBalancer pools: both VMs sit on macOS's vmnet shared network, so they
// take disjoint ranges, high in the /24 where vmnet's DHCP leases (handed out from .2
// upwards) do not reach with a handful of VMs.
var (
	developmentPool = []string{"192.168.64.200-192.168.64.209"}
	productionPool  = []string{"192.168.64.210-192.168.64.219"}
)

// namespacesDefaults keeps the three system namespaces out of the mesh and gives every
// namespace the strictest Pod Security level its pods can meet.
func namespacesDefaults() Namespaces {
	return Namespaces{
		OutOfMesh: map[string]string{
			NamespaceIstio:       "the control plane itself; the API server, which has no mesh identity, calls istiod's webhooks",
			NamespaceMetalLB:     "the speaker answers ARP on the host network; the API server calls the controller's webhook",
			NamespaceCertManager: "the API server, which has no mesh identity, calls cert-manager's webhook; STRICT mTLS would refuse it",
		},
		PodSecurity: map[string]string{
			NamespaceIstio:         "privileged", // the CNI node agent: host network and host paths
			NamespaceMetalLB:       "privileged", // the speaker: host network, NET_RAW
			NamespaceCertManager:   "restricted",
			NamespaceGateway:       "baseline",   // the gateway chart sets no seccomp profile
			NamespaceMonitoring:    "privileged", // Vector reads every node's pod logs through host paths
			NamespaceObservability: "restricted",
			NamespaceLaminaSystem:  "restricted",
			NamespaceLLMServe:      "restricted",
			NamespaceDashboard:     "restricted",
			NamespaceBuild:         "restricted", // with lamina:build.enabled
		},
	}
}

// withoutMetalLB takes MetalLB's namespace out of the profile's namespace settings, for
// a stack that runs none (Config.RunsMetalLB): the namespace is not declared, and a
// stack that still sets it is told so.
func (c *Config) withoutMetalLB() {
	delete(c.Namespaces.OutOfMesh, NamespaceMetalLB)
	delete(c.Namespaces.PodSecurity, NamespaceMetalLB)
}

func metalLB(pool []string) MetalLB {
	return MetalLB{
		Chart:     pin("https://metallb.github.io/metallb", "metallb", "0.15.2"),
		Addresses: pool,
	}
}

func certManager() CertManager {
	return CertManager{
		Chart:  pin("https://charts.jetstack.io", "cert-manager", "v1.21.2"),
		Issuer: IssuerSelfSignedCA,
	}
}

// istioCharts pins Istio's four charts at version.
func istioCharts(version string) IstioCharts {
	const repository = "https://istio-release.storage.googleapis.com/charts"
	return IstioCharts{
		Base:    pin(repository, "base", version),
		CNI:     pin(repository, "cni", version),
		Istiod:  pin(repository, "istiod", version),
		Gateway: pin(repository, "gateway", version),
	}
}

type meshSize struct {
	istiodReplicas, gatewayMin, gatewayMax int
	tracingPercent                         float64
	istiod, gateway                        Resources
}

func mesh(size meshSize) Mesh {
	return Mesh{
		Charts:                 istioCharts("1.31.1"),
		CNI:                    true,
		IstiodReplicas:         size.istiodReplicas,
		IstiodResources:        size.istiod,
		ProxyResources:         resources("50m", "128Mi", "2", "1Gi"),
		Gateway:                GatewaySize{MinReplicas: size.gatewayMin, MaxReplicas: size.gatewayMax, Resources: size.gateway},
		TracingSamplingPercent: size.tracingPercent,
		AccessLogs:             true,
		CircuitBreaker: CircuitBreaker{
			Consecutive5xxErrors:    5,
			Interval:                Duration{30 * time.Second},
			BaseEjectionTime:        Duration{30 * time.Second},
			MaxEjectionPercent:      50,
			MaxConnections:          1024,
			HTTP1MaxPendingRequests: 1024,
			HTTP2MaxRequests:        1024,
		},
	}
}

// monitoring pins prometheus-community's prometheus chart (kube-state-metrics is its
// subchart) and sizes it.
func monitoring(retention string, interval time.Duration, storage string, server, kubeStateMetrics Resources) Monitoring {
	return Monitoring{Prometheus: Prometheus{
		Chart:                     pin("https://prometheus-community.github.io/helm-charts", "prometheus", "29.27.0"),
		Retention:                 retention,
		ScrapeInterval:            Duration{interval},
		StorageSize:               storage,
		Resources:                 server,
		KubeStateMetricsResources: kubeStateMetrics,
	}}
}

// grafana pins grafana-community's grafana chart (the chart moved there from grafana's
// own repository in 2026) and sizes it. The password comes from the stack's secrets.
func grafana(storage string, r Resources) Grafana {
	return Grafana{
		Chart:       pin("https://grafana-community.github.io/helm-charts", "grafana", "12.11.1"),
		AdminUser:   "admin",
		StorageSize: storage,
		Resources:   r,
	}
}

// logs pins grafana-community's loki chart (the OSS chart moved there; grafana's own
// now packages the enterprise edition) and vectordotdev's vector chart, and sizes them.
func logs(retention, storage string, loki, vector Resources) Logs {
	return Logs{
		Loki: Loki{
			Chart:       pin("https://grafana-community.github.io/helm-charts", "loki", "18.11.0"),
			Retention:   retention,
			StorageSize: storage,
			Resources:   loki,
		},
		Vector: Vector{
			Chart:     pin("https://helm.vector.dev", "vector", "0.57.0"),
			Resources: vector,
		},
	}
}

// tracing pins jaegertracing's chart (4.x is Jaeger v2), bounds its store, and puts an
// OpenTelemetry collector in front of it when collector is set.
func tracing(maxTraces int, r Resources, collector bool, collectors int) Tracing {
	return Tracing{
		Jaeger: Jaeger{
			Chart:     pin("https://jaegertracing.github.io/helm-charts", "jaeger", "4.11.1"),
			MaxTraces: maxTraces,
			Resources: r,
		},
		Collector: Collector{
			Enabled:   collector,
			Chart:     pin("https://open-telemetry.github.io/opentelemetry-helm-charts", "opentelemetry-collector", "0.170.0"),
			Replicas:  collectors,
			Resources: resources("100m", "256Mi", "1", "1Gi"),
		},
	}
}

// kiali pins kiali's kiali-server chart with an authentication strategy.
func kiali(strategy string, r Resources) Kiali {
	return Kiali{
		Chart:        pin("https://kiali.org/helm-charts", "kiali-server", "2.29.0"),
		AuthStrategy: strategy,
		Resources:    r,
	}
}

// images builds the three Lamina images from a checkout in ~/src/lamina-os, each from
// its package's Dockerfile.
func images() Images {
	pkg := func(name string) Image {
		return Image{Build: true, Context: "packages/" + name, Dockerfile: "packages/" + name + "/Dockerfile"}
	}
	return Images{Checkout: "~/src/lamina-os", LLMServe: pkg("lamina-llm-serve"), Core: pkg("lamina-core"), Dashboard: pkg("lamina-dashboard")}
}

// build is the build tier, enabled or not: the checkout's build-env image and make check.
// A check requests little (production's VM has 0.1 of its cores left beside staging)
// and may burst to half the VM.
func build(enabled bool) Build {
	return Build{
		Enabled:   enabled,
		Image:     Image{Build: true, Context: "build-env", Dockerfile: "build-env/Dockerfile"},
		Command:   []string{"make", "check"},
		Resources: resources("100m", "1Gi", "8", "16Gi"),
		Security:  lamina,
		Timeout:   Duration{30 * time.Minute},
	}
}

// lamina is the user and group the Lamina images create (uid and gid 1000).
var lamina = Security{RunAsUser: 1000, RunAsGroup: 1000}

// devicePluginImage is squat's generic-device-plugin at its release 0.1.0 (March 2026).
const devicePluginImage = "ghcr.io/squat/generic-device-plugin:0.1.0"

func llm(replicas int, r Resources, store string, env map[string]string, downloads bool, models map[string]Model) LLMServe {
	// Development downloads what its catalogue names; production, closed to the
	// internet, gets its models copied from development's store on the same Mac.
	return LLMServe{
		Replicas: replicas, Resources: r, Security: lamina, Env: env, ModelStoreSize: store, Models: models,
		Downloads: downloads, Accelerator: AcceleratorNone, DevicePluginImage: devicePluginImage,
		Defaults: map[string]string{"conversational": "llama3.2-3b-q4_k_m", "analytical": "llama3.1-8b-q4_k_m", "reasoning": "llama3.3-70b-q4_k_m"},
	}
}

// gguf is a llama.cpp model published as one GGUF file of a Hugging Face repository.
func gguf(repo, file, quantization, size, description string, load bool, useCases ...string) Model {
	return Model{
		Path: file, Backend: BackendLlamaCpp, Quantization: quantization, Size: size, Description: description,
		UseCases: useCases, Download: ModelDownload{HuggingFace: repo, File: file}, Load: load,
	}
}

// catalogue is the models both stacks know; load says which ones each server holds.
func catalogue(load70B bool) map[string]Model {
	return map[string]Model{
		"llama3.2-3b-q4_k_m": gguf("bartowski/Llama-3.2-3B-Instruct-GGUF", "Llama-3.2-3B-Instruct-Q4_K_M.gguf", "Q4_K_M", "2Gi",
			"Llama 3.2 3B Instruct: quick conversation", true, "conversational"),
		"llama3.1-8b-q4_k_m": gguf("bartowski/Meta-Llama-3.1-8B-Instruct-GGUF", "Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf", "Q4_K_M", "5Gi",
			"Llama 3.1 8B Instruct: analysis and tools", true, "analytical", "security"),
		"llama3.3-70b-q4_k_m": gguf("bartowski/Llama-3.3-70B-Instruct-GGUF", "Llama-3.3-70B-Instruct-Q4_K_M.gguf", "Q4_K_M", "40Gi",
			"Llama 3.3 70B Instruct: reasoning", load70B, "reasoning", "analytical"),
		"deepseek-r1-distill-llama-70b-q4_k_m": gguf("bartowski/DeepSeek-R1-Distill-Llama-70B-GGUF", "DeepSeek-R1-Distill-Llama-70B-Q4_K_M.gguf", "Q4_K_M", "40Gi",
			"DeepSeek R1 distilled into Llama 70B: step-by-step reasoning", false, "reasoning"),
	}
}

// developmentModels keep the 70B models on disk and load them on demand.
func developmentModels() map[string]Model { return catalogue(false) }

// productionModels keep Llama 3.3 70B loaded in every server.
func productionModels() map[string]Model { return catalogue(true) }

func chroma(storage string, r Resources) Chroma {
	return Chroma{Image: "chromadb/chroma:0.6.3", StorageSize: storage, Resources: r, Security: lamina}
}

// core runs the four agents of the proposal.
func core(mode string, replicas int, r Resources, env map[string]string) Core {
	return Core{Mode: mode, Agents: []string{"clara", "luna", "vesna", "phi"}, Replicas: replicas, Resources: r, Security: lamina, Env: env}
}

func dashboard(r Resources, env map[string]string) Dashboard {
	return Dashboard{Resources: r, Security: lamina, Env: env}
}

func resources(cpuRequest, memoryRequest, cpuLimit, memoryLimit string) Resources {
	return Resources{
		Requests: Quantities{CPU: cpuRequest, Memory: memoryRequest},
		Limits:   Quantities{CPU: cpuLimit, Memory: memoryLimit},
	}
}

// edgeDefaults serves the platform under domain at address; each component names its
// own hostname (grafana.<domain> and so on).
func edgeDefaults(domain, address string) Edge {
	return Edge{Domain: domain, Address: address}
}

// colimaVM is an Apple-silicon VM on the pinned k3s release with no extra k3s
// arguments and Colima's default DNS.
func colimaVM(profile string, cpus, memoryGiB, diskGiB int, protect bool) Colima {
	return Colima{
		Profile:    profile,
		CPUs:       cpus,
		MemoryGiB:  memoryGiB,
		DiskGiB:    diskGiB,
		Arch:       "aarch64",
		VMType:     VMTypeVZ,
		K3sVersion: k3sVersion,
		K3sArgs:    []string{},
		DNS:        []string{},
		Tenants:    []Tenant{},
		Protect:    protect,
	}
}

func colimaCluster(readyTimeout time.Duration) Cluster {
	return Cluster{
		Target:       TargetColima,
		ReadyTimeout: Duration{readyTimeout},
		// k3s's own default, pinned: Colima would choose a random port.
		APIServerPort: 6443,
		// macOS's vmnet shared network, which Colima's vz VMs join with --network-address.
		NodeCIDR: "192.168.64.0/24",
		// k3s's own defaults.
		PodCIDR:      "10.42.0.0/16",
		ServiceCIDR:  "10.43.0.0/16",
		StorageClass: "lamina-host",
	}
}

func init() {
	profiles[Staging] = staging
	profiles[DockerProfile] = docker
}

// docker is development's configuration for a 16 GB Mac (8 cores; macOS keeps 3 cores
// and 6 GiB, 2 GiB stay in reserve): the Docker target in a 4-core, 8 GiB Colima VM
// without Kubernetes, one llm-serve with the 3B model loaded and the 8B one on disk, and
// minimal Grafana, Loki and Vector.
func docker() Config {
	c := profiles[Development]()
	c.Profile = DockerProfile
	c.Host = Host{CPUs: 8, MemoryGiB: 16, MacOSCPUs: 3, MacOSMemoryGiB: 6, ReserveMemoryGiB: 2, SideBySide: []PlannedVM{}}
	c.Data.Dir = "/Users/Shared/lamina/docker"
	c.Cluster.Target = TargetDocker
	c.Colima = colimaVM("lamina-docker", 4, 8, 60, false)
	env := map[string]string{"LAMINA_ENV": Development, "LOG_LEVEL": "INFO"}
	// The small models only: the 3B one loaded, the 8B one loaded on demand and doing the
	// reasoning the 70B ones do on a larger Mac.
	all := developmentModels()
	small, large := all["llama3.2-3b-q4_k_m"], all["llama3.1-8b-q4_k_m"]
	large.Load = false
	large.UseCases = append(large.UseCases, "reasoning")
	models := map[string]Model{"llama3.2-3b-q4_k_m": small, "llama3.1-8b-q4_k_m": large}
	c.LLM = llm(1, resources("500m", "2Gi", "3", "3Gi"), "40Gi", env, true, models)
	c.LLM.Defaults = map[string]string{"conversational": "llama3.2-3b-q4_k_m", "analytical": "llama3.1-8b-q4_k_m", "reasoning": "llama3.1-8b-q4_k_m"}
	c.Chroma = chroma("5Gi", resources("100m", "256Mi", "1", "768Mi"))
	c.Core = core(ModeMultiAgent, 1, resources("100m", "512Mi", "1", "1Gi"), env)
	c.Dashboard = dashboard(resources("50m", "128Mi", "500m", "256Mi"), map[string]string{"LAMINA_ENV": Development})
	c.Build = build(false)
	return c
}

// dockerDefaults are the Docker target's settings, in every profile: the mesh on
// 10.213.0.0/20, the edge on this Mac's loopback, nginx 1.28 unprivileged, certificates
// for two years, and Grafana, Loki and Vector at the images the charts pin.
func dockerDefaults() Docker {
	return Docker{
		Subnet:        "10.213.0.0/20",
		EdgeAddress:   "127.0.0.1",
		EdgePort:      8443,
		ProxyImage:    "nginxinc/nginx-unprivileged:1.28-alpine",
		TLSDays:       730,
		TLSGeneration: 1,
		Grafana:       Container{Image: "grafana/grafana:13.2.0", Memory: "256Mi", CPUs: "500m"},
		Loki:          Container{Image: "grafana/loki:3.7.6", Memory: "384Mi", CPUs: "500m"},
		Vector:        Container{Image: "timberio/vector:0.56.0-distroless-libc", Memory: "128Mi", CPUs: "250m"},
	}
}

// Profiles returns the names of the environment profiles, sorted.
func Profiles() []string {
	names := make([]string, 0, len(profiles))
	for n := range profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Defaults returns the configuration a stack of the given profile gets when its stack
// file sets nothing.
func Defaults(profile string) (Config, bool) {
	p, ok := profiles[profile]
	if !ok {
		return Config{}, false
	}
	return p(), true
}
