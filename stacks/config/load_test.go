package config_test

import (
	"errors"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lamina-os/lamina-infra/stacks/config"
)

// The stack files carry the proposal's sizing, and each one's plan for the other stack's
// VM matches what the other stack file really asks for.
func TestStackFilesCarryTheProposalSizing(t *testing.T) {
	dev, err := config.Load(stackSource(t, "development", nil), nil)
	require.NoError(t, err)
	prod, err := config.Load(stackSource(t, "production", nil), nil)
	require.NoError(t, err)

	assert.Equal(t, []int{12, 128, 200}, []int{dev.Colima.CPUs, dev.Colima.MemoryGiB, dev.Colima.DiskGiB})
	assert.Equal(t, []int{16, 256, 500}, []int{prod.Colima.CPUs, prod.Colima.MemoryGiB, prod.Colima.DiskGiB})
	for _, c := range []*config.Config{dev, prod} {
		h := c.Host
		assert.Equal(t, []int{32, 512, 4, 64, 64}, []int{h.CPUs, h.MemoryGiB, h.MacOSCPUs, h.MacOSMemoryGiB, h.ReserveMemoryGiB})
	}
	assert.Equal(t, []config.PlannedVM{{Stack: "production", CPUs: prod.Colima.CPUs, MemoryGiB: prod.Colima.MemoryGiB, Addresses: prod.MetalLB.Addresses}}, dev.Host.SideBySide)
	assert.Equal(t, []config.PlannedVM{{Stack: "development", CPUs: dev.Colima.CPUs, MemoryGiB: dev.Colima.MemoryGiB, Addresses: dev.MetalLB.Addresses}}, prod.Host.SideBySide)
	assert.NotEqual(t, dev.Colima.Profile, prod.Colima.Profile)
	assert.NotEqual(t, dev.Data.Dir, prod.Data.Dir)

	// The stack files only restate what the profiles default to: a stack with no
	// settings at all gets the same sizing.
	for _, stack := range bothStacks {
		none := &config.Source{Stack: stack, Origin: "no settings", Values: map[string]string{}, Secret: map[string]bool{}}
		if stack == "production" {
			require.NoError(t, none.AssumeSecret(grafanaPassword))
		}
		bare, err := config.Load(none, nil)
		require.NoError(t, err)
		full, err := config.Load(stackSource(t, stack, nil), nil)
		require.NoError(t, err)
		assert.Equal(t, bare, full, stack)
	}
}

// Each bad configuration is refused with every problem at once, each naming its key and
// what is allowed. (That the program then registers nothing: stacks' TestBadConfigurationRegistersNothing.)
func TestInvalidConfigurationIsRefusedWithEveryProblem(t *testing.T) {
	for _, tc := range []struct {
		name      string
		stack     string
		overrides map[string]string
		secret    []string
		want      []string
	}{
		{
			name:      "sizes out of range",
			overrides: map[string]string{"lamina:colima": `{"cpus":0,"memoryGiB":1,"diskGiB":10}`},
			want: []string{
				"lamina:colima.cpus: 0 is out of range; allowed: 1 to 28",
				"lamina:colima.diskGiB: 10 is out of range; allowed: 20 to 8192",
				"lamina:colima.memoryGiB: 1 is out of range; allowed: 2 to 384",
			},
		},
		{
			name: "models set to load that do not fit in llm-serve's memory limit",
			overrides: map[string]string{"lamina:llm": `{"resources": {"requests": {"memory": "24Gi"}, "limits": {"memory": "32Gi"}},` +
				`"models": {"llama3.3-70b-q4_k_m": {"load": true}}}`},
			want: []string{
				"lamina:llm.models: the models set to load (llama3.1-8b-q4_k_m 5Gi, llama3.2-3b-q4_k_m 2Gi, llama3.3-70b-q4_k_m 40Gi) need 47Gi, 15Gi more than lamina:llm.resources.limits.memory (32Gi); set load false on one or raise the limit",
			},
		},
		{
			name:      "a GPU on a VM that has none",
			overrides: map[string]string{"lamina:llm": `{"accelerator": "gpu"}`},
			want: []string{
				`lamina:llm.accelerator: is gpu, but lamina:colima.vmType is "vz", whose containers get no GPU; set lamina:colima.vmType to krunkit (Apple silicon, macOS 14 or later, krunkit installed) or lamina:llm.accelerator to none`,
			},
		},
		{
			name: "what krunkit cannot run",
			overrides: map[string]string{
				"lamina:colima": `{"vmType": "krunkit", "arch": "x86_64", "memoryGiB": 128}`,
				"lamina:llm":    `{"accelerator": "cuda"}`,
			},
			want: []string{
				`lamina:colima.arch: "x86_64" with lamina:colima.vmType krunkit: krunkit runs only the Mac's own architecture; allowed: aarch64`,
				`lamina:colima.memoryGiB: 128 GiB with lamina:colima.vmType krunkit: krunkit refuses more than 61440 MiB (the VM's memory and the GPU's share 62 GiB of address space); allowed: 2 to 60`,
				`lamina:llm.accelerator: "cuda" is not allowed; allowed: none, gpu`,
			},
		},
		{
			name: "models that do not fit in the GPU's memory beside the VM's",
			overrides: map[string]string{
				"lamina:colima": `{"vmType": "krunkit", "memoryGiB": 24}`,
				"lamina:llm": `{"accelerator": "gpu", "replicas": 1, "resources": {"requests": {"cpu": "1", "memory": "4Gi"}, "limits": {"memory": "8Gi"}},` +
					`"models": {"llama3.3-70b-q4_k_m": {"load": true}}}`,
			},
			want: []string{
				"lamina:llm.models: the models set to load (llama3.1-8b-q4_k_m 5Gi, llama3.2-3b-q4_k_m 2Gi, llama3.3-70b-q4_k_m 40Gi) need 47Gi on the GPU for 1 servers, more than the 37 GiB krunkit leaves it beside 24 GiB of VM memory (61 GiB minus lamina:colima.memoryGiB); lower lamina:colima.memoryGiB, set load false on one, or lower lamina:llm.replicas",
			},
		},
		{
			name: "models on the GPU that, with the VM, do not fit in the Mac",
			overrides: map[string]string{
				"lamina:host":   `{"cpus": 12, "memoryGiB": 64, "macosCPUs": 2, "macosMemoryGiB": 16, "reserveMemoryGiB": 8, "sideBySide": []}`,
				"lamina:colima": `{"vmType": "krunkit", "cpus": 10, "memoryGiB": 36}`,
				"lamina:llm": `{"accelerator": "gpu", "resources": {"requests": {"cpu": "1", "memory": "4Gi"}, "limits": {"cpu": "4", "memory": "8Gi"}},` +
					`"models": {"llama3.1-8b-q4_k_m": {"size": "6Gi"}}}`,
			},
			want: []string{
				"lamina:llm.models: on the GPU (8Gi) with the VM's 36 GiB make 44Gi, more than the 40 GiB the host leaves for VMs (lamina:host.memoryGiB minus macosMemoryGiB and reserveMemoryGiB): the GPU's memory is the Mac's",
			},
		},
		{
			name:      "a GPU on a platform this stack does not own",
			stack:     "staging",
			overrides: map[string]string{"lamina:llm": `{"accelerator": "gpu"}`},
			want: []string{
				"lamina:llm.accelerator: is gpu, but lamina:cluster.target is shared: the GPU reaches pods only in this stack's own krunkit VM; allowed: none, or gpu with lamina:cluster.target colima or docker",
			},
		},
		{
			name:      "a shared stack that keeps its own namespaces or its platform's out of the mesh",
			stack:     "staging",
			overrides: map[string]string{"lamina:namespaces": `{"outOfMesh": {"lamina-system": "no reason", "cert-manager": "webhooks"}}`},
			want: []string{
				"lamina:namespaces.outOfMesh.cert-manager: is its platform's namespace: a shared stack declares only lamina-system, lamina-llm-serve, lamina-dashboard; remove it",
				"lamina:namespaces.outOfMesh.lamina-system: a shared stack keeps none of its namespaces (lamina-system, lamina-llm-serve, lamina-dashboard) out of the mesh; remove it",
			},
		},
		{
			name:      "workloads that do not fit in the VM",
			overrides: map[string]string{"lamina:colima": `{"cpus":7,"memoryGiB":48}`},
			want: []string{
				"lamina:colima.cpus: 7 cores cannot hold the workloads: their requests, sidecars included, come to 10.65 cores (4.05 of it to start the new pod of lamina-llm-serve before the old one stops), 4.65 more than the 6 the VM has for them after 1 for k3s and system pods; the largest: lamina-llm-serve 1 × 4.05 cores (lamina:llm.resources), prometheus 1 × 0.55 cores (lamina:monitoring.prometheus.resources), loki 1 × 0.3 cores (lamina:logs.loki.resources). Raise the VM's cores or lower those requests",
				"lamina:colima.memoryGiB: 48 GiB cannot hold the workloads: their requests, sidecars included, come to 103.6Gi (48.1Gi of it to start the new pod of lamina-llm-serve before the old one stops), 59.6Gi more than the 44Gi the VM has for them after 4Gi for k3s and system pods; the largest: lamina-llm-serve 1 × 48.1Gi (lamina:llm.resources), prometheus 1 × 2.1Gi (lamina:monitoring.prometheus.resources), chromadb 1 × 1.1Gi (lamina:chroma.resources). Raise the VM's memory or lower those requests",
			},
		},
		{
			name: "a catalogue llm-serve could not serve",
			overrides: map[string]string{"lamina:llm": `{"defaults": {"reasoning": "gone", "conversational": "llama3.1-8b-q4_k_m"}, "models": {` +
				`"Big Model": {"path": "../escape.gguf", "backend": "mlx", "quantization": "4 bit", "size": "huge", "useCases": []},` +
				`"llama3.2-3b-q4_k_m": {"path": "Llama-3.2-3B-Instruct-Q4_K_M.bin", "download": {"huggingface": "nope", "ollama": "llama3.2"}}}}`},
			want: []string{
				`lamina:llm.defaults.conversational: llama3.1-8b-q4_k_m does not list the use case conversational; its use cases: analytical, security`,
				`lamina:llm.defaults.reasoning: "gone" is not an enabled model of lamina:llm.models`,
				`lamina:llm.models["Big Model"]: is not a model name; allowed: lower-case letters, digits, '.', '_' and '-', starting and ending with a letter or digit`,
				`lamina:llm.models["Big Model"].backend: "mlx" is not allowed; allowed: llama.cpp`,
				`lamina:llm.models["Big Model"].download: names no source; allowed: huggingface with file, or ollama`,
				`lamina:llm.models["Big Model"].path: "../escape.gguf" is not a clean path inside the model store; allowed: a relative path such as llama/model.gguf`,
				`lamina:llm.models["Big Model"].quantization: "4 bit" is not a quantization label; allowed: letters, digits and '_' such as Q4_K_M`,
				`lamina:llm.models["Big Model"].size: "huge" is not a size from 1Mi to 4Ti`,
				`lamina:llm.models["Big Model"].useCases: is empty; name at least one use case`,
				`lamina:llm.models["llama3.2-3b-q4_k_m"].download: names both huggingface and ollama; allowed: one source`,
				`lamina:llm.models["llama3.2-3b-q4_k_m"].path: "Llama-3.2-3B-Instruct-Q4_K_M.bin" is not a .gguf file; llama.cpp serves GGUF files only`,
			},
		},
		{
			name: "an agent server and images the program cannot run",
			overrides: map[string]string{
				"lamina:core":   `{"mode": "single-agent", "agents": ["clara", "Luna", "clara"], "env": {"CHROMA_HOST": "elsewhere", "1BAD": "x"}}`,
				"lamina:images": `{"checkout": "relative/dir", "core": {"context": "../outside"}, "dashboard": {"build": false, "reference": "Not A Ref"}}`,
			},
			want: []string{
				`lamina:core.agents: lists 3 agents; single-agent mode runs exactly one (or set lamina:core.mode to multi-agent)`,
				`lamina:core.agents[1]: "Luna" is not an agent name; allowed: a lower-case name such as clara`,
				`lamina:core.agents[2]: clara is listed twice`,
				`lamina:core.env.1BAD: is not an environment variable name; allowed: letters, digits and '_', not starting with a digit`,
				`lamina:core.env.CHROMA_HOST: is set by the program; allowed: any name but AGENT_NAME, CHROMADB_TOKEN, CHROMA_HOST, CHROMA_PORT, LAMINA_AGENTS, LAMINA_LLM_URL, SERVER_MODE`,
				`lamina:images.checkout: "relative/dir" is not a checkout directory; allowed: an absolute, clean path or one starting with ~/`,
				`lamina:images.core.context: "../outside" is not a clean path inside lamina:images.checkout; allowed: a relative path such as packages/lamina-core or .`,
				`lamina:images.dashboard.reference: "Not A Ref" is not an image reference; allowed: name:tag or name@sha256:<64 hex digits>, in lower case`,
			},
		},
		{
			name: "an existing cluster with no Docker daemon to build on",
			overrides: map[string]string{
				"lamina:cluster": `{"target": "existing", "kubeconfig": "~/.kube/config", "context": "k3s", "nodeCIDR": "10.0.0.0/24"}`,
				"lamina:colima":  "",
				"lamina:storage": `{"class": "local-path"}`,
				"lamina:edge":    `{"address": "10.0.0.10"}`,
			},
			want: []string{
				"lamina:images.core.build: is true, but lamina:cluster.target existing has no lamina:cluster.dockerHost to build on; set the nodes' Docker daemon there, or set build false with a reference",
				"lamina:images.dashboard.build: is true, but lamina:cluster.target existing has no lamina:cluster.dockerHost to build on; set the nodes' Docker daemon there, or set build false with a reference",
				"lamina:images.llmServe.build: is true, but lamina:cluster.target existing has no lamina:cluster.dockerHost to build on; set the nodes' Docker daemon there, or set build false with a reference",
			},
		},
		{
			name:      "a secret in a workload's environment",
			overrides: map[string]string{"lamina:core": `{"env": {"API_KEY": "hunter2"}}`},
			secret:    []string{"lamina:core"},
			want: []string{
				"lamina:core.env: lamina:core is a secret in the stack file, but env values go into the pod spec and the state in plaintext; keep secrets out of env (a Kubernetes Secret the workload reads is the way), and set lamina:core without --secret",
			},
		},
		{
			name:      "a VM bigger than the host budget",
			overrides: map[string]string{"lamina:colima": `{"cpus":30,"memoryGiB":400}`},
			want: []string{
				"lamina:colima.cpus: 30 cores exceed the 28 the host leaves for VMs (lamina:host.cpus 32 minus lamina:host.macosCPUs 4); allowed: 1 to 28",
				"lamina:colima.memoryGiB: 400 GiB exceed the 384 GiB the host leaves for VMs (lamina:host.memoryGiB 512 minus macosMemoryGiB 64 and reserveMemoryGiB 64); allowed: 2 to 384",
			},
		},
		{
			name:      "both stacks together over the budget",
			overrides: map[string]string{"lamina:colima": `{"cpus":14,"memoryGiB":160}`},
			want: []string{
				"lamina:colima.cpus: 14 cores with the side-by-side VMs of production (16 cores) make 30, more than the 28 cores the host leaves for VMs (lamina:host.cpus minus lamina:host.macosCPUs); allowed with them: 1 to 12",
				"lamina:colima.memoryGiB: 160 GiB with the side-by-side VMs of production (256 GiB) make 416 GiB, more than the 384 GiB the host leaves for VMs (lamina:host.memoryGiB minus macosMemoryGiB and reserveMemoryGiB); allowed with them: 2 to 128",
			},
		},
		{
			name:      "a host that leaves nothing for VMs",
			overrides: map[string]string{"lamina:host": `{"cpus":4,"memoryGiB":64,"macosCPUs":4,"sideBySide":[{"stack":"development","cpus":1,"memoryGiB":0}]}`},
			want: []string{
				"lamina:colima.cpus: 12 cores exceed the 0 the host leaves for VMs (lamina:host.cpus 4 minus lamina:host.macosCPUs 4); allowed: 1 to 1",
				"lamina:colima.memoryGiB: 128 GiB exceed the -64 GiB the host leaves for VMs (lamina:host.memoryGiB 64 minus macosMemoryGiB 64 and reserveMemoryGiB 64); allowed: 2 to 2",
				"lamina:host.macosCPUs: 4 is out of range; allowed: 0 to 3",
				"lamina:host.reserveMemoryGiB: macOS (64 GiB) and the reserve (64 GiB) leave no memory of lamina:host.memoryGiB (64 GiB) for VMs; together they must stay below it",
				"lamina:host.sideBySide[0].memoryGiB: 0 is out of range; allowed: 1 to 65536",
				"lamina:host.sideBySide[0].stack: names this stack (development); list only the other stacks that share the host",
			},
		},
		{
			name: "VM settings Colima and k3s would not take",
			overrides: map[string]string{"lamina:colima": `{"profile":"default","arch":"arm64","k3sVersion":"1.35",` +
				`"k3sArgs":["--disable=traefik","--tls-san=a,b","no-dashes","--cluster-cidr=10.0.0.0/8"],"dns":["1.1.1"]}`},
			want: []string{
				`lamina:colima.arch: "arm64" is not allowed; allowed: aarch64, x86_64`,
				`lamina:colima.dns[0]: "1.1.1" is not an IP address`,
				`lamina:colima.k3sArgs[0]: "--disable=traefik" is set by the program; use lamina:cluster.podCIDR or lamina:cluster.serviceCIDR for the networks, and leave traefik and servicelb disabled (Istio and MetalLB replace them)`,
				`lamina:colima.k3sArgs[1]: "--tls-san=a,b" contains ','; Colima splits --k3s-arg values on commas, so give each value as its own item`,
				`lamina:colima.k3sArgs[2]: "no-dashes" is not a k3s server argument; allowed: one argument per item, starting with --`,
				`lamina:colima.k3sArgs[3]: "--cluster-cidr=10.0.0.0/8" is set by the program; use lamina:cluster.podCIDR or lamina:cluster.serviceCIDR for the networks, and leave traefik and servicelb disabled (Istio and MetalLB replace them)`,
				`lamina:colima.k3sVersion: "1.35" is not a k3s release tag; allowed: the form v1.35.0+k3s1`,
				`lamina:colima.profile: "default" is not allowed; allowed: lower-case letters, digits and '-', 1 to 40 characters, starting and ending with a letter or digit, not default or colima (the user's own VM)`,
			},
		},
		{
			name:      "a relative data directory",
			overrides: map[string]string{"lamina:data": `{"dir":"lamina/data"}`},
			want:      []string{`lamina:data.dir: "lamina/data" is not absolute; allowed: an absolute path`},
		},
		{
			name:      "a data directory that macOS empties",
			overrides: map[string]string{"lamina:data": `{"dir":"/private/tmp/lamina"}`},
			want:      []string{`lamina:data.dir: "/private/tmp/lamina" is under a temporary directory that macOS empties; allowed: a directory that survives a reboot`},
		},
		{
			name:      "a data directory Colima cannot mount",
			overrides: map[string]string{"lamina:data": `{"dir":"/Users/Shared/lamina:dev"}`},
			want:      []string{`lamina:data.dir: "/Users/Shared/lamina:dev" contains ',' or ':', which Colima's --mount cannot take`},
		},
		{
			name:      "an unclean data directory",
			overrides: map[string]string{"lamina:data": `{"dir":"/Users/Shared/../lamina/"}`},
			want:      []string{`lamina:data.dir: "/Users/Shared/../lamina/" is not clean; allowed: the same path written as /Users/lamina`},
		},
		{
			name:      "networks that are not CIDRs or overlap",
			overrides: map[string]string{"lamina:cluster": `{"nodeCIDR":"192.168.64.1/24","podCIDR":"10.42.0.0/16","serviceCIDR":"10.42.128.0/17","storageClass":"Lamina_Host"}`},
			want: []string{
				"lamina:cluster.nodeCIDR: 192.168.64.1/24 has host bits set; allowed: the network address, here 192.168.64.0/24",
				"lamina:cluster.serviceCIDR: 10.42.128.0/17 overlaps lamina:cluster.podCIDR (10.42.0.0/16); the node, pod and service networks must be disjoint",
				`lamina:cluster.storageClass: "Lamina_Host" is not a Kubernetes name; allowed: lower-case letters, digits, '-' and '.', starting and ending with a letter or digit`,
			},
		},
		{
			name:      "a network that is not IPv4",
			overrides: map[string]string{"lamina:cluster": `{"podCIDR":"fd00::/64"}`},
			want:      []string{`lamina:cluster.podCIDR: "fd00::/64" is not an IPv4 CIDR; allowed: the form 10.42.0.0/16`},
		},
		{
			name:      "an existing cluster without its kubeconfig, its networks, or a class for two of its volumes",
			overrides: map[string]string{"lamina:cluster": `{"target":"existing","dockerHost":"docker.sock"}`, "lamina:storage": `{"volumes": {"models": {"class": "nfs"}, "prometheus": {"class": "longhorn"}, "grafana": {"class": "longhorn"}}}`},
			want: []string{
				`lamina:cluster.context: "" is not a kubeconfig context; required with lamina:cluster.target existing: a name without spaces`,
				`lamina:cluster.dockerHost: "docker.sock" is not a Docker host; allowed: empty, or unix://, tcp:// or ssh:// followed by an address`,
				`lamina:cluster.kubeconfig: "" is not a kubeconfig path; required with lamina:cluster.target existing: an absolute path or one starting with ~/`,
				`lamina:cluster.nodeCIDR: is required with lamina:cluster.target existing: the network of the cluster's nodes, which the network policies open the API server and the kubelets to (a profile's value is the Colima VM's network)`,
				`lamina:edge.address: is required with lamina:cluster.target existing: the address the cluster's load balancer gives the gateway, which the outputs' URLs and lamina hosts use (a profile's value is an address of the Colima VM's network)`,
				`lamina:storage.class: is required with lamina:cluster.target existing, for loki, chromadb: a volume there is a claim of one of the cluster's StorageClasses, which its provisioner places; a directory of lamina:data.dir on one node is the colima target's; set this, or a class for each of those volumes (lamina:storage.volumes): on several nodes a replicated or shared class, as a node-local one (k3s's local-path) pins each volume to one node`,
			},
		},
		{
			name:      "settings of an existing cluster with colima",
			overrides: map[string]string{"lamina:cluster": `{"target":"colima","context":"colima-dev"}`},
			want:      []string{"lamina:cluster.context: is only for lamina:cluster.target existing; with colima the program uses the profile's own; remove it"},
		},
		{
			name:      "an unknown target and a bad timeout",
			overrides: map[string]string{"lamina:cluster": `{"target":"k3d","readyTimeout":"5 minutes"}`},
			want: []string{
				`lamina:cluster.readyTimeout: "5 minutes" is not a duration such as 90s or 5m`,
				`lamina:cluster.target: "k3d" is not allowed; allowed: colima, existing, shared, docker`,
			},
		},
		{
			name:      "a timeout out of range",
			overrides: map[string]string{"lamina:cluster": `{"readyTimeout":"1h"}`},
			want:      []string{"lamina:cluster.readyTimeout: 1h0m0s is out of range; allowed: 30s to 30m0s"},
		},
		{
			name:      "a domain under .local",
			overrides: map[string]string{"lamina:edge": `{"domain":"lamina.local"}`},
			want: []string{`lamina:edge.domain: "lamina.local" is under .local, which macOS resolves by multicast DNS (Bonjour) before /etc/hosts: ` +
				"lookups are slow or fail; allowed: another domain, such as one under home.arpa"},
		},
		{
			name:      "an API server port that is no port",
			overrides: map[string]string{"lamina:cluster": `{"apiServerPort":70000}`},
			want:      []string{"lamina:cluster.apiServerPort: 70000 is not a port; allowed: 1 to 65535"},
		},
		{
			name:      "values of the wrong type",
			overrides: map[string]string{"lamina:colima": `{"cpus":"twelve","memoryGiB":12.5,"protect":"yes","k3sArgs":"--x"}`, "lamina:data": `"/Users/Shared/lamina"`},
			want: []string{
				`lamina:colima.cpus: expected a whole number, got "twelve"`,
				`lamina:colima.k3sArgs: expected a list, got "--x"`,
				"lamina:colima.memoryGiB: expected a whole number, got 12.5",
				`lamina:colima.protect: expected true or false, got "yes"`,
				"lamina:data: expected an object with keys dir, got \"/Users/Shared/lamina\"",
			},
		},
		{
			name: "typos anywhere in the tree",
			overrides: map[string]string{
				"lamina:colima":       `{"cpu":12,"memory":128}`,
				"lamina:colim":        `{}`,
				"lamina-infra:colima": `{"cpus":12}`,
				"lamna:host":          `{}`,
				"lamina:host":         `{"sideBySide":[{"stack":"production","cpus":16,"mem":256}]}`,
			},
			want: []string{
				`lamina-infra:colima: the program does not read namespace "lamina-infra"; did you mean lamina:colima?`,
				"lamina:colim: unknown key; did you mean lamina:colima?",
				"lamina:colima.cpu: unknown key; did you mean lamina:colima.cpus?",
				"lamina:colima.memory: unknown key; did you mean lamina:colima.memoryGiB?",
				"lamina:host.sideBySide[0].mem: unknown key; did you mean lamina:host.sideBySide[0].memoryGiB?",
				"lamina:host.sideBySide[0].memoryGiB: 0 is out of range; allowed: 1 to 65536",
				`lamna:host: the program does not read namespace "lamna"; did you mean lamina:host?`,
			},
		},
		{
			name:      "an unknown key far from every known one",
			overrides: map[string]string{"lamina:zipkin": `{}`},
			want:      []string{"lamina:zipkin: unknown key; known keys: build, certManager, chroma, cluster, colima, core, dashboard, data, docker, edge, grafana, host, images, kiali, llm, logs, mesh, metallb, monitoring, namespaces, profile, storage, tracing"},
		},
		{
			name:      "a secret value of the wrong type is not shown",
			overrides: map[string]string{"lamina:colima": `{"cpus":"hunter2"}`},
			secret:    []string{"lamina:colima"},
			want:      []string{"lamina:colima.cpus: expected a whole number, got a secret value"},
		},
		{
			name:      "LoadBalancer addresses macOS cannot reach or that collide",
			overrides: map[string]string{"lamina:metallb": `{"addresses":["192.168.65.10-192.168.65.20","10.43.0.0/28","192.168.64.215/32","bogus"]}`},
			want: []string{
				"lamina:edge.address: 192.168.64.200 is not among lamina:metallb.addresses, so MetalLB would not hand it out",
				"lamina:metallb.addresses[0]: 192.168.65.10-192.168.65.20 is outside lamina:cluster.nodeCIDR 192.168.64.0/24, so macOS could not reach it",
				"lamina:metallb.addresses[1]: 10.43.0.0-10.43.0.15 is outside lamina:cluster.nodeCIDR 192.168.64.0/24, so macOS could not reach it",
				"lamina:metallb.addresses[1]: 10.43.0.0-10.43.0.15 overlaps lamina:cluster.serviceCIDR 10.43.0.0/16",
				"lamina:metallb.addresses[2]: 192.168.64.215-192.168.64.215 overlaps 192.168.64.210-192.168.64.219, the addresses of stack production (lamina:host.sideBySide[0].addresses); both VMs share macOS's network",
				`lamina:metallb.addresses[3]: "bogus" is not an IPv4 CIDR or range; allowed: the form 192.168.64.200-192.168.64.209 or 192.168.64.240/29`,
			},
		},
		{
			name:      "restricted namespaces without Istio CNI",
			overrides: map[string]string{"lamina:mesh": `{"cni": false}`},
			want: []string{
				"lamina:namespaces.podSecurity.istio-gateway: is baseline, but without lamina:mesh.cni every sidecar's init container needs NET_ADMIN and NET_RAW, which only privileged allows; set lamina:mesh.cni to true or this to privileged",
				"lamina:namespaces.podSecurity.lamina-dashboard: is restricted, but without lamina:mesh.cni every sidecar's init container needs NET_ADMIN and NET_RAW, which only privileged allows; set lamina:mesh.cni to true or this to privileged",
				"lamina:namespaces.podSecurity.lamina-llm-serve: is restricted, but without lamina:mesh.cni every sidecar's init container needs NET_ADMIN and NET_RAW, which only privileged allows; set lamina:mesh.cni to true or this to privileged",
				"lamina:namespaces.podSecurity.lamina-system: is restricted, but without lamina:mesh.cni every sidecar's init container needs NET_ADMIN and NET_RAW, which only privileged allows; set lamina:mesh.cni to true or this to privileged",
				"lamina:namespaces.podSecurity.observability: is restricted, but without lamina:mesh.cni every sidecar's init container needs NET_ADMIN and NET_RAW, which only privileged allows; set lamina:mesh.cni to true or this to privileged",
			},
		},
		{
			name:      "a workload namespace out of the mesh and unknown levels",
			overrides: map[string]string{"lamina:namespaces": `{"outOfMesh": {"monitoring": "noisy", "cert-manager": " "}, "podSecurity": {"lamina-system": "strict", "kube-system": "privileged"}}`},
			want: []string{
				"lamina:namespaces.outOfMesh.cert-manager: gives no reason; say why the namespace stays out of the mesh",
				"lamina:namespaces.outOfMesh.monitoring: only system namespaces stay out of the mesh; allowed: istio-system, metallb-system, cert-manager",
				"lamina:namespaces.podSecurity.kube-system: is not a namespace of the platform; allowed: istio-gateway, istio-system, metallb-system, cert-manager, monitoring, observability, lamina-system, lamina-llm-serve, lamina-dashboard, lamina-build",
				`lamina:namespaces.podSecurity.lamina-system: "strict" is not a Pod Security level; allowed: restricted, baseline, privileged`,
			},
		},
		{
			name: "charts, resources and sizing of the mesh, and a pin of the old shape",
			overrides: map[string]string{
				"lamina:mesh": `{"istiodResources": {"requests": {"cpu": "4", "memory": "lots"}}, "gateway": {"minReplicas": 3, "maxReplicas": 2}, "tracingSamplingPercent": 150,
					"charts": {"base": {"repository": "http://charts"}, "cni": {"name": "Istio CNI"}, "gateway": {"version": "1.x", "timeout": "2h"}}}`,
				"lamina:metallb": `{"chart": {"repo": "https://metallb.github.io/metallb"}}`,
			},
			want: []string{
				`lamina:mesh.charts.base.repository: "http://charts" is not an https:// URL`,
				`lamina:mesh.charts.cni.name: "Istio CNI" is not a chart name; allowed: lower-case letters, digits and '-'`,
				`lamina:mesh.charts.gateway.timeout: 2h0m0s is out of range; allowed: 1m0s to 1h0m0s`,
				`lamina:mesh.charts.gateway.version: "1.x" is not an exact chart version; allowed: the form 1.31.1 or v1.21.2`,
				`lamina:mesh.charts.gateway.version: "1.x" differs from lamina:mesh.charts.base.version "1.31.1"; Istio's charts must share one version`,
				"lamina:mesh.gateway.maxReplicas: 2 is out of range; allowed: 3 to 10",
				"lamina:mesh.istiodResources.requests.cpu: 4 is more than the limit 2",
				`lamina:mesh.istiodResources.requests.memory: "lots" is not a Kubernetes quantity such as 500m, 2, 512Mi or 2Gi`,
				"lamina:mesh.tracingSamplingPercent: 150 is out of range; allowed: 0 to 100",
				"lamina:metallb.chart.repo: is no longer a setting: renamed repository; every chart pin is repository, name, version, timeout and values",
			},
		},
		{
			name: "extra chart values that touch what the program owns",
			overrides: map[string]string{"lamina:grafana": `{"chart": {"values": {
				"replicas": 1, "podLabels": {"team": "agents", "sidecar.istio.io/inject": "false"},
				"podSecurityContext": {"runAsUser": 0}, "adminPassword": "hunter2", "serviceAccount": {"name": "root"},
				"persistence": {"enabled": false}, "fullnameOverride": "graf",
				"sidecar": {"containers": [{"name": "x", "securityContext": {"privileged": true}}]},
				"admin": {"userKey": "u"}, "env": {"GF_AUTH_ANONYMOUS_ENABLED": "true"},
				"extraObjects": [{"kind": "Secret"}], "nested": [[{"seccompProfile": {"type": "Unconfined"}}]]}}}`,
				"lamina:mesh": `{"charts": {"gateway": {"values": {"name": "other-gateway", "podAnnotations": {"team": "edge"}}}}}`},
			want: []string{
				"lamina:grafana.chart.values.admin: is owned by the program (the administrator's credentials, which come from the Secret the program writes); set it through the typed settings or not at all",
				"lamina:grafana.chart.values.adminPassword: is owned by the program (a secret or authentication: Helm keeps values in plaintext in its release record, and the program keeps secrets as Pulumi secrets and decides who signs in); set it through the typed settings or not at all",
				"lamina:grafana.chart.values.env.GF_AUTH_ANONYMOUS_ENABLED: is owned by the program (a secret or authentication: Helm keeps values in plaintext in its release record, and the program keeps secrets as Pulumi secrets and decides who signs in); set it through the typed settings or not at all",
				"lamina:grafana.chart.values.extraObjects: is owned by the program (objects the chart would apply unseen by the policy pack: declare them in the program); set it through the typed settings or not at all",
				"lamina:grafana.chart.values.fullnameOverride: is owned by the program (a name the routes and the network policies refer to); set it through the typed settings or not at all",
				"lamina:grafana.chart.values.nested[0][0].seccompProfile: is owned by the program (a security context: the namespaces enforce Pod Security restricted); set it through the typed settings or not at all",
				"lamina:grafana.chart.values.persistence: is owned by the program (persistence: the data lives on the host data directory's volumes); set it through the typed settings or not at all",
				"lamina:grafana.chart.values.podLabels[\"sidecar.istio.io/inject\"]: is owned by the program (a mesh label or annotation: the program decides what is in the mesh and which pods the gateway is); set it through the typed settings or not at all",
				"lamina:grafana.chart.values.podSecurityContext: is owned by the program (a security context: the namespaces enforce Pod Security restricted); set it through the typed settings or not at all",
				"lamina:grafana.chart.values.serviceAccount: is owned by the program (a service account: the authorization policies name each workload's identity); set it through the typed settings or not at all",
				"lamina:grafana.chart.values.sidecar.containers[0].securityContext: is owned by the program (a security context: the namespaces enforce Pod Security restricted); set it through the typed settings or not at all",
				"lamina:mesh.charts.gateway.values.name: is owned by the program (the gateway's name, from which the chart names its service account, the identity the authorization policies admit); set it through the typed settings or not at all",
			},
		},
		{
			name:      "an ACME issuer without its account",
			overrides: map[string]string{"lamina:certManager": `{"issuer": "acme", "acmeEmail": "me"}`},
			want: []string{
				`lamina:certManager.acmeEmail: "me" is not an e-mail address; required with lamina:certManager.issuer acme`,
				`lamina:certManager.acmeServer: "" is not an https:// URL; required with lamina:certManager.issuer acme`,
			},
		},
		{
			name:      "a hostname that cannot be, and routes from before the components served their own",
			overrides: map[string]string{"lamina:edge": `{"domain": "Lamina", "routes": {"grafana": {"namespace": "monitoring", "service": "grafana", "port": 80}}}`},
			want: []string{
				`lamina:edge.domain: "Lamina" is not a DNS name; allowed: lower-case labels separated by dots, such as dev.lamina.home.arpa`,
				"lamina:edge.routes: is no longer a setting: each component serves its own hostname now (grafana, prometheus, jaeger, kiali, llm, dashboard and core under lamina:edge.domain); remove the key",
			},
		},
		{
			name:      "a Prometheus that cannot be",
			overrides: map[string]string{"lamina:monitoring": `{"prometheus": {"retention": "7 days", "scrapeInterval": "1s", "storageSize": "512Mi", "resources": {"limits": {"memory": "1Gi"}}}}`},
			want: []string{
				"lamina:monitoring.prometheus.resources.requests.memory: 2Gi is more than the limit 1Gi",
				`lamina:monitoring.prometheus.retention: "7 days" is not a retention; allowed: a whole number of hours, days or weeks such as 36h, 7d or 4w`,
				"lamina:monitoring.prometheus.scrapeInterval: 1s is out of range; allowed: 5s to 5m0s",
				`lamina:monitoring.prometheus.storageSize: "512Mi" is not a size from 1Gi to 10Ti`,
			},
		},
		{
			name:      "a Grafana that cannot be",
			overrides: map[string]string{"lamina:grafana": `{"adminUser": "the boss", "storageSize": "2Ti", "resources": {"requests": {"cpu": "lots"}}}`},
			want: []string{
				`lamina:grafana.adminUser: "the boss" is not a user name; allowed: 1 to 64 letters, digits, '-', '_', '.' or '@'`,
				`lamina:grafana.resources.requests.cpu: "lots" is not a Kubernetes quantity such as 500m, 2, 512Mi or 2Gi`,
				`lamina:grafana.storageSize: "2Ti" is not a size from 1Gi to 1Ti`,
			},
		},
		{
			name:      "a production stack file with an open Kiali and no Grafana password",
			overrides: map[string]string{"lamina:kiali": `{"authStrategy": "anonymous"}`},
			stack:     "production",
			want: []string{
				"lamina:grafana.adminPassword: is required in production; set it with: pulumi config set --secret --path lamina:grafana.adminPassword <password> -s production",
				"lamina:kiali.authStrategy: anonymous lets anyone who reaches kiali in; production allows: token, openid",
			},
		},
		{
			name:      "an OpenID client without its parts",
			overrides: map[string]string{"lamina:kiali": `{"authStrategy": "openid", "openID": {"issuerURI": "http://idp"}}`},
			want: []string{
				"lamina:kiali.openID.clientID: is empty; required with authStrategy openid",
				"lamina:kiali.openID.clientSecret: is empty; required with authStrategy openid; set it with: pulumi config set --secret --path lamina:kiali.openID.clientSecret <secret> -s development",
				`lamina:kiali.openID.issuerURI: "http://idp" is not an https:// URL; required with authStrategy openid`,
			},
		},
		{
			name:      "a retention beyond two years",
			overrides: map[string]string{"lamina:monitoring": `{"prometheus": {"retention": "200w"}}`},
			want:      []string{"lamina:monitoring.prometheus.retention: 200w is out of range; allowed: 1d to 730d"},
		},
		{
			name:      "a profile that does not exist",
			overrides: map[string]string{"lamina:profile": "prod"},
			want:      []string{`lamina:profile: "prod" is not a profile; allowed: development, docker, production, staging`},
		},
		{
			name:  "a stack whose name is not a profile",
			stack: "qa",
			want:  []string{`lamina:profile: not set, and the stack name "qa" is not a profile; set it to one of: development, docker, production, staging`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stack := tc.stack
			var src *config.Source
			if stack == "" {
				src = stackSource(t, "development", tc.overrides)
			} else {
				src = &config.Source{Project: "lamina-infra", Stack: stack, Origin: "Pulumi." + stack + ".yaml", Values: tc.overrides}
			}
			src.Secret = map[string]bool{}
			for _, k := range tc.secret {
				src.Secret[k] = true
			}
			_, err := config.Load(src, nil)
			var cerr *config.ConfigError
			require.True(t, errors.As(err, &cerr), "want a ConfigError, got %v", err)
			var got []string
			for _, p := range cerr.Problems {
				got = append(got, p.String())
				assert.True(t, knownKey(p.Key) || strings.Contains(p.Message, "did you mean") || strings.Contains(p.Message, "known keys") ||
					strings.Contains(p.Message, "no longer a setting"),
					"problem names no known key: %s", p)
			}
			assert.Equal(t, tc.want, got)
			assert.True(t, strings.HasPrefix(err.Error(), "stack "+src.Stack+": "), err.Error())
			assert.NotContains(t, err.Error(), "hunter2")

		})
	}
}

func TestConfigErrorMessage(t *testing.T) {
	_, err := config.Load(stackSource(t, "production", map[string]string{"lamina:colima": `{"cpus":0,"diskGiB":10}`}), nil)
	require.Error(t, err)
	assert.Equal(t, "stack production: 2 configuration problems in Pulumi.production.yaml; nothing was changed:\n"+
		"  lamina:colima.cpus: 0 is out of range; allowed: 1 to 28\n"+
		"  lamina:colima.diskGiB: 10 is out of range; allowed: 20 to 8192", err.Error())
}

// A secure value in a stack file reaches the program as the placeholder, flagged secret,
// so the offline render needs no passphrase.
func TestStackFileSecureValues(t *testing.T) {
	src, err := config.ParseStackFile("Pulumi.x.yaml", "lamina-infra", "development", []byte(`
config:
  lamina:profile: development
  lamina:colima:
    cpus: 12
    token:
      secure: v1:abc==
  lamina:host:
    cpus: 32
`))
	require.NoError(t, err)
	assert.Equal(t, map[string]bool{"lamina:colima": true}, src.Secret)
	assert.JSONEq(t, `{"cpus":12,"token":"[secret]"}`, src.Values["lamina:colima"])
	assert.JSONEq(t, `{"cpus":32}`, src.Values["lamina:host"])
	assert.Equal(t, "development", src.Values["lamina:profile"])

	_, err = config.ParseStackFile("Pulumi.x.yaml", "p", "s", []byte("config:\n  colima: {}\n"))
	assert.EqualError(t, err, `Pulumi.x.yaml: config key "colima" is not of the form <namespace>:<name>; the program reads keys of the form lamina:<section>`)
	_, err = config.ParseStackFile("Pulumi.x.yaml", "p", "s", []byte("config: [1, 2\n"))
	assert.ErrorContains(t, err, "Pulumi.x.yaml: not a Pulumi stack settings file: ")
}

// knownKey reports whether key ("lamina:colima.k3sArgs[1]") is a path of the config tree.
func knownKey(key string) bool {
	path, ok := strings.CutPrefix(key, config.Namespace+":")
	if !ok {
		return false
	}
	// A map entry written key["name"] is one part of the path.
	path = regexp.MustCompile(`\["[^"]*"\]`).ReplaceAllString(path, ".entry")
	t := reflect.TypeFor[config.Config]()
	for _, part := range strings.Split(path, ".") {
		name, _, _ := strings.Cut(part, "[")
		found := false
		for t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		if t.Kind() == reflect.Interface {
			return true // free-form values (a chart's extra values): any path is one
		}
		if t.Kind() == reflect.Map {
			t = t.Elem() // this part is the map's key
			continue
		}
		if t.Kind() != reflect.Struct {
			return false
		}
		for i := 0; i < t.NumField(); i++ {
			if tag, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); tag == name {
				t, found = t.Field(i).Type, true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
