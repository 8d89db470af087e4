package stacks_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/lamina-os/lamina-infra/components/llmserve"
	"github.com/lamina-os/lamina-infra/internal/recorder"
	"github.com/lamina-os/lamina-infra/stacks"
	"github.com/lamina-os/lamina-infra/stacks/config"
	"github.com/lamina-os/lamina-infra/stacks/offline"
)

// object returns the Kubernetes object of a kind with a name, failing without one.
func object(t *testing.T, g *recorder.Graph, k, name string) *recorder.Resource {
	t.Helper()
	for _, r := range kind(g, k) {
		if nameOf(r) == name {
			return r
		}
	}
	t.Fatalf("no %s %s", k, name)
	return nil
}

// container returns the first container of a pod controller.
func container(r *recorder.Resource) map[string]any {
	c, _ := list(field(r.Inputs, "spec", "template", "spec", "containers"))[0].(map[string]any)
	return c
}

// envOf returns a container's environment: plain values as strings, references as the
// reference object.
func envOf(c map[string]any) map[string]any {
	out := map[string]any{}
	for _, e := range list(c["env"]) {
		if v, ok := field(e, "value").(string); ok {
			out[field(e, "name").(string)] = v
		} else {
			out[field(e, "name").(string)] = field(e, "valueFrom")
		}
	}
	return out
}

// Each stack's servers: one llm-serve in development, three behind a disruption budget
// in production, each with its configured resources and the restricted security context.
func TestAgentWorkloadsAreSizedPerStack(t *testing.T) {
	for stack, want := range map[string]struct {
		llmReplicas, coreReplicas int
		llmLimits                 map[string]any
		pdbs                      []string
	}{
		"development": {1, 1, map[string]any{"cpu": "8", "memory": "64Gi"}, nil},
		"production":  {3, 2, map[string]any{"cpu": "8", "memory": "80Gi"}, []string{"lamina-core", "lamina-llm-serve"}},
	} {
		t.Run(stack, func(t *testing.T) {
			g := preview(t, stackSource(t, stack, nil))
			llm := object(t, g, "Deployment", "lamina-llm-serve")
			assert.Equal(t, "lamina-llm-serve", namespaceOf(llm))
			assert.Equal(t, float64(want.llmReplicas), field(llm.Inputs, "spec", "replicas"))
			assert.Equal(t, float64(want.coreReplicas), field(object(t, g, "Deployment", "lamina-core").Inputs, "spec", "replicas"))
			assert.Equal(t, float64(1), field(object(t, g, "StatefulSet", "chromadb").Inputs, "spec", "replicas"))
			c := container(llm)
			assert.Equal(t, want.llmLimits, field(c, "resources", "limits"))
			assert.Equal(t, "/health", field(c, "readinessProbe", "httpGet", "path"))
			assert.Equal(t, float64(8000), field(list(c["ports"])[0], "containerPort"))

			var pdbs []string
			for _, pdb := range kind(g, "PodDisruptionBudget") {
				if namespaceOf(pdb) == "lamina-llm-serve" || namespaceOf(pdb) == "lamina-system" {
					pdbs = append(pdbs, nameOf(pdb))
					assert.Equal(t, float64(1), field(pdb.Inputs, "spec", "maxUnavailable"))
				}
			}
			slices.Sort(pdbs)
			assert.Equal(t, want.pdbs, pdbs)

			for _, w := range []*recorder.Resource{llm, object(t, g, "Deployment", "lamina-core"),
				object(t, g, "Deployment", "lamina-dashboard"), object(t, g, "StatefulSet", "chromadb")} {
				sc := container(w)["securityContext"]
				assert.Equal(t, true, field(sc, "runAsNonRoot"), w.Name)
				assert.Equal(t, float64(1000), field(sc, "runAsUser"), w.Name)
				assert.Equal(t, float64(1000), field(sc, "runAsGroup"), w.Name)
				assert.Equal(t, false, field(sc, "allowPrivilegeEscalation"), w.Name)
				assert.Equal(t, []any{"ALL"}, field(sc, "capabilities", "drop"), w.Name)
				assert.Equal(t, "RuntimeDefault", field(w.Inputs, "spec", "template", "spec", "securityContext", "seccompProfile", "type"), w.Name)
			}
		})
	}
}

// With the GPU, llm-serve's pods request lamina.io/gpu, which the device plugin in
// kube-system advertises (shared by as many pods as there are servers), and stay at the
// restricted level: no hostPath, no privilege. Each checks for a Vulkan device before it
// serves, offloads every layer, and is stopped before its replacement starts.
func TestGPUServersRequestTheDeviceAndStayRestricted(t *testing.T) {
	overrides, _ := withDataDir(t, "development", nil)
	g := preview(t, gpuDevelopment(t, overrides))

	plugin := object(t, g, "DaemonSet", "lamina-gpu-device-plugin")
	assert.Equal(t, "kube-system", namespaceOf(plugin))
	pc := container(plugin)
	assert.Equal(t, "ghcr.io/squat/generic-device-plugin:0.1.0", pc["image"])
	assert.Equal(t, []any{"--domain=lamina.io", `--device={"name":"gpu","groups":[{"count":1,"paths":[{"path":"/dev/dri/renderD*"}]}]}`, "--listen=:8080"}, pc["args"])
	assert.Equal(t, true, field(pc, "securityContext", "privileged"))
	var hostPaths []any
	for _, v := range list(field(plugin.Inputs, "spec", "template", "spec", "volumes")) {
		hostPaths = append(hostPaths, field(v, "hostPath", "path"))
	}
	assert.Equal(t, []any{"/var/lib/kubelet/device-plugins", "/dev"}, hostPaths)

	llm := object(t, g, "Deployment", "lamina-llm-serve")
	assert.True(t, g.DependsOn(llm, plugin.URN), "the servers wait for the plugin")
	c := container(llm)
	assert.Equal(t, map[string]any{"cpu": "8", "memory": "12Gi", "lamina.io/gpu": "1"}, field(c, "resources", "limits"))
	assert.Equal(t, "1", field(c, "resources", "requests", "lamina.io/gpu"))
	pod := field(llm.Inputs, "spec", "template", "spec").(map[string]any)
	inits := list(pod["initContainers"])
	require.Len(t, inits, 1)
	check := inits[0].(map[string]any)
	assert.Equal(t, "preflight", check["name"])
	assert.Equal(t, c["image"], check["image"])
	assert.Equal(t, llmserve.VulkanCheck, toStrings(check["command"]))
	assert.Equal(t, "1", field(check, "resources", "limits", "lamina.io/gpu"))
	for _, ctr := range []any{c, check} {
		assert.Equal(t, false, field(ctr, "securityContext", "privileged"))
		assert.Equal(t, false, field(ctr, "securityContext", "allowPrivilegeEscalation"))
		assert.Equal(t, []any{"ALL"}, field(ctr, "securityContext", "capabilities", "drop"))
	}
	for _, v := range list(pod["volumes"]) {
		assert.Nil(t, field(v, "hostPath"), "no hostPath in llm-serve's pods")
	}
	assert.Equal(t, map[string]any{"maxSurge": float64(0), "maxUnavailable": float64(1)}, field(llm.Inputs, "spec", "strategy", "rollingUpdate"),
		"two servers' models would not fit on the GPU side by side")

	text := field(object(t, g, "ConfigMap", "lamina-llm-serve-models").Inputs, "data", "models.yaml").(string)
	assert.Regexp(t, `- --threads\n\s+- "8"\n\s+- --n-gpu-layers\n\s+- "999"\n`, text, "every layer on the GPU")

	// A krunkit VM mounts the data directory with reverse sshfs, where chown fails: no
	// chart chowns it (Grafana's would, as root, before Grafana starts).
	assert.Equal(t, map[string]any{"enabled": false}, field(g.Find(releaseType, "grafana").Inputs["values"], "initChownData"))

	// Without the GPU, none of it.
	cpu := preview(t, stackSource(t, "development", overrides))
	assert.Empty(t, kind(cpu, "DaemonSet"))
	assert.Nil(t, field(object(t, cpu, "Deployment", "lamina-llm-serve").Inputs, "spec", "template", "spec", "initContainers"))
}

func toStrings(v any) []string {
	var out []string
	for _, s := range list(v) {
		out = append(out, s.(string))
	}
	return out
}

// models.yaml is the catalogue of the stack's configuration: its enabled models with
// their fields, llama.cpp with a server's CPU limit as threads, the defaults; the pods
// carry its digest, so a catalogue change rolls them.
func TestModelsConfigMapComesFromTheCatalogue(t *testing.T) {
	src := stackSource(t, "development", nil)
	src.Values["lamina:llm"] = `{"models": {
		"deepseek-r1-distill-llama-70b-q4_k_m": {"disabled": true},
		"phi-4-q8": {"path": "phi/phi-4-Q8_0.gguf", "backend": "llama.cpp", "quantization": "Q8_0", "size": "16Gi",
			"useCases": ["reasoning"], "download": {"ollama": "phi4:14b-q8_0"}, "load": true}}}`
	g := preview(t, src)
	cm := object(t, g, "ConfigMap", "lamina-llm-serve-models")
	text, _ := field(cm.Inputs, "data", "models.yaml").(string)
	var doc struct {
		Models map[string]struct {
			Path, Backend, Quantization, Size string
			UseCases                          []string `yaml:"use_cases"`
			Download                          map[string]map[string]string
			Load                              bool
		}
		Backends map[string]struct {
			Executable  string
			DefaultArgs []string `yaml:"default_args"`
		}
		Defaults map[string]string
	}
	require.NoError(t, yaml.Unmarshal([]byte(text), &doc))
	assert.Equal(t, []string{"llama3.1-8b-q4_k_m", "llama3.2-3b-q4_k_m", "llama3.3-70b-q4_k_m", "phi-4-q8"},
		slices.Sorted(maps.Keys(doc.Models)), "the disabled model is left out, the added one is in")
	phi := doc.Models["phi-4-q8"]
	assert.Equal(t, "phi/phi-4-Q8_0.gguf", phi.Path)
	assert.Equal(t, "Q8_0", phi.Quantization)
	assert.Equal(t, "16Gi", phi.Size)
	assert.Equal(t, []string{"reasoning"}, phi.UseCases)
	assert.Equal(t, map[string]map[string]string{"ollama": {"model": "phi4:14b-q8_0"}}, phi.Download)
	assert.True(t, phi.Load)
	assert.Equal(t, map[string]map[string]string{"huggingface": {"repo_id": "bartowski/Llama-3.3-70B-Instruct-GGUF", "filename": "Llama-3.3-70B-Instruct-Q4_K_M.gguf"}},
		doc.Models["llama3.3-70b-q4_k_m"].Download)
	assert.Equal(t, "llama-server", doc.Backends["llama.cpp"].Executable)
	assert.Equal(t, []string{"--ctx-size", "8192", "--threads", "8"}, doc.Backends["llama.cpp"].DefaultArgs)
	assert.Equal(t, "llama3.3-70b-q4_k_m", doc.Defaults["reasoning"])

	llm := object(t, g, "Deployment", "lamina-llm-serve")
	sum := sha256.Sum256([]byte(text))
	assert.Equal(t, hex.EncodeToString(sum[:]), field(llm.Inputs, "spec", "template", "metadata", "annotations", "lamina.dev/models-checksum"))
	mounts := map[string]string{}
	for _, m := range list(container(llm)["volumeMounts"]) {
		mounts[field(m, "mountPath").(string)] = field(m, "name").(string)
	}
	assert.Equal(t, map[string]string{"/app/models": "models", "/app/models.yaml": "catalogue"}, mounts)
	assert.True(t, g.DependsOn(llm, cm.URN))
}

// The model store is the host's data.dir/models on this stack's node (the VM's hostname,
// which the program passes to Colima), retained when released, mounted by every llm-serve
// replica, and its host path is a stack output.
func TestModelStoreSurvivesAndSitsOnThisStacksNode(t *testing.T) {
	for _, stack := range bothStacks {
		t.Run(stack, func(t *testing.T) {
			mac := newFakeMac(t, "colima", "kubectl")
			node := "colima-lamina-" + stack
			mac.env["FAKE_KUBECTL_NODE"] = node
			overrides, dataDir := withDataDir(t, stack, nil)
			g := deploy(t, stackSource(t, stack, overrides), mac)

			pv := g.Find("kubernetes:core/v1:PersistentVolume", "models-data-volume")
			claim := g.Find("kubernetes:core/v1:PersistentVolumeClaim", "models-data-claim")
			require.NotNil(t, pv)
			require.NotNil(t, claim)
			assert.False(t, pv.Protect || pv.RetainOnDelete || claim.Protect || claim.RetainOnDelete)
			assert.Equal(t, "Retain", field(pv.Inputs, "spec", "persistentVolumeReclaimPolicy"))
			assert.Equal(t, filepath.Join(dataDir, "models"), field(pv.Inputs, "spec", "local", "path"))
			term := list(field(pv.Inputs, "spec", "nodeAffinity", "required", "nodeSelectorTerms"))[0]
			assert.Equal(t, []any{node}, field(list(field(term, "matchExpressions"))[0], "values"))
			assert.Equal(t, "lamina-llm-serve", field(claim.Inputs, "metadata", "namespace"))
			assert.Equal(t, filepath.Join(dataDir, "models"), g.Outputs["modelsDir"])

			llm := object(t, g, "Deployment", "lamina-llm-serve")
			var claims []any
			for _, v := range list(field(llm.Inputs, "spec", "template", "spec", "volumes")) {
				if c := field(v, "persistentVolumeClaim", "claimName"); c != nil {
					claims = append(claims, c)
				}
			}
			assert.Equal(t, []any{nameOf(claim)}, claims)
			assert.True(t, g.DependsOn(llm, claim.URN))
		})
	}
}

// A rebuilt image with new content changes the reference of its Deployment and nothing
// else; a rebuild with the same content changes nothing at all. Built images run from
// the node's own daemon, each through the cluster's Docker provider.
func TestImageContentChangeRollsOnlyItsDeployment(t *testing.T) {
	overrides, _ := withDataDir(t, "development", nil)
	mac := newFakeMac(t, "colima", "kubectl")
	run := func(llmID string) *recorder.Graph {
		delete(mac.builds, "lamina-llm-serve-image-build")
		if llmID != "" {
			mac.builds["lamina-llm-serve-image-build"] = llmID
		}
		return deploy(t, stackSource(t, "development", overrides), mac)
	}
	before, same := run(""), run("")
	changed := run("sha256:" + strings.Repeat("ab", 32))

	inputs := func(g *recorder.Graph) map[string]string {
		out := map[string]string{}
		for _, r := range g.Resources {
			b, err := json.Marshal(r.Inputs)
			require.NoError(t, err)
			out[r.URN] = string(b)
		}
		return out
	}
	diff := func(a, b *recorder.Graph) []string {
		x, y := inputs(a), inputs(b)
		require.Equal(t, slices.Sorted(maps.Keys(x)), slices.Sorted(maps.Keys(y)), "the same resources")
		var out []string
		for urn, v := range x {
			if y[urn] != v {
				out = append(out, urn[strings.LastIndex(urn, "::")+2:])
			}
		}
		slices.Sort(out)
		return out
	}
	assert.Empty(t, diff(before, same), "the same content changes nothing")
	assert.Equal(t, []string{"lamina-llm-serve-image-tag", "llm-serve"}, diff(before, changed),
		"new content changes the content tag and the Deployment only")

	llm := object(t, changed, "Deployment", "lamina-llm-serve")
	assert.Equal(t, "lamina/lamina-llm-serve:"+strings.Repeat("ab", 32), container(llm)["image"])
	assert.Equal(t, "Never", container(llm)["imagePullPolicy"], "the image is on the node's own daemon")
	images, _ := changed.Outputs["images"].(map[string]any)
	assert.Equal(t, container(llm)["image"], images["lamina-llm-serve"])
	assert.Equal(t, "chromadb/chroma:0.6.3", images["chromadb"])

	docker := changed.Find("pulumi:providers:docker", "cluster-docker")
	require.NotNil(t, docker)
	builds := changed.ByType(dockerImageType)
	require.Len(t, builds, 3)
	home, err := os.UserHomeDir()
	require.NoError(t, err)
	for _, r := range append(builds, changed.ByType("docker:index/tag:Tag")...) {
		assert.Equal(t, docker.URN, r.Provider, r.Name)
	}
	build := changed.Find(dockerImageType, "lamina-core-image-build")
	assert.Equal(t, filepath.Join(home, "src/lamina-os/packages/lamina-core"), field(build.Inputs, "build", "context"))
	assert.Equal(t, filepath.Join(home, "src/lamina-os/packages/lamina-core/Dockerfile"), field(build.Inputs, "build", "dockerfile"))
	assert.Equal(t, true, build.Inputs["skipPush"], "nothing is pushed anywhere")
}

// Prebuilt images are used as given, pulled once; production refuses moving tags.
func TestPrebuiltImagesAndProductionTags(t *testing.T) {
	const ref = "ghcr.io/lamina-os/lamina-dashboard@sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	src := stackSource(t, "production", nil)
	src.Values["lamina:images"] = `{"dashboard": {"build": false, "reference": "` + ref + `"}}`
	g := preview(t, src)
	c := container(object(t, g, "Deployment", "lamina-dashboard"))
	assert.Equal(t, ref, c["image"])
	assert.Equal(t, "IfNotPresent", c["imagePullPolicy"])
	assert.Nil(t, g.Find(dockerImageType, "lamina-dashboard-image-build"), "nothing is built for it")
	assert.NotNil(t, g.Find("pulumi:providers:docker", "cluster-docker"), "the other images are built")

	// With nothing to build, no Docker provider is declared: a stack needs no Docker
	// daemon, nor the Docker plugin, to run prebuilt images.
	src.Values["lamina:images"] = `{"dashboard": {"build": false, "reference": "` + ref + `"}, "core": {"build": false, "reference": "` + ref + `"}, "llmServe": {"build": false, "reference": "` + ref + `"}}`
	src.Values["lamina:build"] = `{"image": {"build": false, "reference": "ghcr.io/lamina-os/lamina-build:1.0.0"}}`
	assert.Empty(t, preview(t, src).ByType("pulumi:providers:docker"))

	for _, bad := range []string{"lamina/dashboard:latest", "lamina/dashboard"} {
		src := stackSource(t, "production", nil)
		src.Values["lamina:images"] = `{"dashboard": {"build": false, "reference": "` + bad + `"}}`
		_, err := offline.Run(src, nil, recorder.Options{Preview: true})
		require.Error(t, err, bad)
		assert.Contains(t, err.Error(), `lamina:images.dashboard.reference: "`+bad+`" names no fixed version; production refuses latest and untagged images`)
	}
	dev := stackSource(t, "development", nil)
	dev.Values["lamina:images"] = `{"dashboard": {"build": false, "reference": "lamina/dashboard:latest"}}`
	preview(t, dev)
}

// ChromaDB's token is a Pulumi secret from the stack file to the Secret both ChromaDB and
// the agent server read by reference; it is never in plaintext in the render, a pod spec
// or an output. Without one, a token is generated once; in plaintext, it is refused.
func TestChromaTokenIsSecretEndToEnd(t *testing.T) {
	const token = "chroma-7f3e2d1c-never-printed-anywhere"
	g := deploySecret(t, "chroma", "authToken", token)

	assertOnlyInSecret(t, g, "chromadb-auth", token)
	assert.Equal(t, "lamina-system", namespaceOf(object(t, g, "Secret", "chromadb-auth")))
	assert.Nil(t, g.Find("command:local:Command", "chromadb-token"), "a configured token is not generated")

	ref := map[string]any{"secretKeyRef": map[string]any{"name": "chromadb-auth", "key": "token"}}
	assert.Equal(t, ref, envOf(container(object(t, g, "StatefulSet", "chromadb")))["CHROMA_SERVER_AUTHN_CREDENTIALS"])
	assert.Equal(t, ref, envOf(container(object(t, g, "Deployment", "lamina-core")))["CHROMADB_TOKEN"])

	gen := preview(t, stackSource(t, "production", nil)).Find("command:local:Command", "chromadb-token")
	require.NotNil(t, gen, "without a configured token one is generated")
	assert.Equal(t, "openssl rand -hex 32", gen.Inputs["create"])
	assert.Equal(t, []string{"stdout"}, gen.AdditionalSecretOutputs)

	plain := stackSource(t, "development", map[string]string{"lamina:chroma": `{"authToken": "` + token + `"}`})
	_, err := offline.Run(plain, nil, recorder.Options{Preview: true})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "lamina:chroma.authToken: is in plaintext in the stack file; remove it and set it as a secret with: pulumi config set --secret --path lamina:chroma.authToken <token> -s development")
	assert.NotContains(t, err.Error(), token)
}

// The agent server finds llm-serve and ChromaDB at the Services the program declares,
// and runs the configured agents in the configured mode.
func TestCoreIsWiredToTheDeclaredServices(t *testing.T) {
	forBothStacks(t, func(t *testing.T, g *recorder.Graph, cfg *config.Config) {
		core := container(object(t, g, "Deployment", "lamina-core"))
		env := envOf(core)
		llm := object(t, g, "Service", "lamina-llm-serve")
		chroma := object(t, g, "Service", "chromadb")
		port := func(svc *recorder.Resource) float64 {
			return field(list(field(svc.Inputs, "spec", "ports"))[0], "port").(float64)
		}
		assert.Equal(t, "http://lamina-llm-serve."+namespaceOf(llm)+".svc.cluster.local:8000", env["LAMINA_LLM_URL"])
		deployment := object(t, g, "Deployment", "lamina-core")
		assert.True(t, g.DependsOn(deployment, llm.URN) && g.DependsOn(deployment, chroma.URN),
			"the addresses come from the declared Services' outputs")
		assert.Equal(t, float64(8000), port(llm))
		assert.Equal(t, "chromadb."+namespaceOf(chroma)+".svc.cluster.local", env["CHROMA_HOST"])
		assert.Equal(t, "8000", env["CHROMA_PORT"])
		assert.Equal(t, float64(8000), port(chroma))
		assert.Equal(t, "multi-agent", env["SERVER_MODE"])
		assert.Equal(t, "clara,luna,vesna,phi", env["LAMINA_AGENTS"])
		assert.Equal(t, []any{"--host", "0.0.0.0", "--port", "8080"}, core["args"])
		assert.Equal(t, cfg.Core.Env["LAMINA_ENV"], env["LAMINA_ENV"])
		for _, managed := range config.ManagedEnv["lamina:core.env"] {
			assert.Contains(t, env, managed, "config refuses only what the program sets")
		}
		for _, managed := range config.ManagedEnv["lamina:dashboard.env"] {
			assert.Contains(t, envOf(container(object(t, g, "Deployment", "lamina-dashboard"))), managed)
		}
	})

	src := stackSource(t, "development", nil)
	src.Values["lamina:core"] = `{"mode": "single-agent", "agents": ["vesna"]}`
	core := container(object(t, preview(t, src), "Deployment", "lamina-core"))
	assert.Equal(t, []any{"--host", "0.0.0.0", "--port", "8080", "--agent", "vesna"}, core["args"])
}

// The dashboard may read, and only read, what it shows; no other Lamina workload gets an
// API token.
func TestDashboardRBACIsReadOnly(t *testing.T) {
	forBothStacks(t, func(t *testing.T, g *recorder.Graph, _ *config.Config) {
		role := object(t, g, "ClusterRole", "lamina-dashboard-read")
		got := map[string][]any{}
		for _, rule := range list(role.Inputs["rules"]) {
			assert.Equal(t, []any{"get", "list", "watch"}, field(rule, "verbs"))
			group := list(field(rule, "apiGroups"))[0].(string)
			got[group] = list(field(rule, "resources"))
		}
		assert.Equal(t, map[string][]any{
			"":                    {"pods", "services", "namespaces", "endpoints"},
			"apps":                {"deployments", "replicasets"},
			"networking.istio.io": {"virtualservices", "gateways"},
		}, got)
		binding := object(t, g, "ClusterRoleBinding", "lamina-dashboard-read")
		assert.Equal(t, "lamina-dashboard-read", field(binding.Inputs, "roleRef", "name"))
		assert.Equal(t, []any{map[string]any{"kind": "ServiceAccount", "name": "lamina-dashboard", "namespace": "lamina-dashboard"}},
			binding.Inputs["subjects"])

		for _, name := range []string{"lamina-llm-serve", "lamina-core", "chromadb", "lamina-dashboard"} {
			sa := object(t, g, "ServiceAccount", name)
			assert.Equal(t, name == "lamina-dashboard", sa.Inputs["automountServiceAccountToken"], name)
		}
	})
}

// ChromaDB admits the agent server's identity and nobody else; llm-serve admits the agent
// server and the gateway; the dashboard reads Prometheus; only development's llm-serve
// reaches the internet, to download models.
func TestAgentFlowsAreExactlyTheDesignedOnes(t *testing.T) {
	forBothStacks(t, func(t *testing.T, g *recorder.Graph, cfg *config.Config) {
		admitted := func(ns, app string) []string {
			var out []string
			for _, ap := range kind(g, "AuthorizationPolicy") {
				if namespaceOf(ap) != ns || field(ap.Inputs, "spec", "selector", "matchLabels", "app.kubernetes.io/name") != app {
					continue
				}
				for _, rule := range list(field(ap.Inputs, "spec", "rules")) {
					for _, from := range list(field(rule, "from")) {
						for _, p := range list(field(from, "source", "principals")) {
							out = append(out, p.(string))
						}
					}
				}
			}
			slices.Sort(out)
			return out
		}
		core := "cluster.local/ns/lamina-system/sa/lamina-core"
		gateway := "cluster.local/ns/istio-gateway/sa/istio-ingressgateway"
		assert.Equal(t, []string{core}, admitted("lamina-system", "chromadb"))
		assert.Equal(t, []string{gateway, core}, admitted("lamina-llm-serve", "lamina-llm-serve"))
		assert.Equal(t, []string{gateway}, admitted("lamina-system", "lamina-core"))
		assert.Equal(t, []string{gateway}, admitted("lamina-dashboard", "lamina-dashboard"))
		assert.Contains(t, admitted("monitoring", "prometheus"), "cluster.local/ns/lamina-dashboard/sa/lamina-dashboard")

		// Egress to the internet: only llm-serve, only HTTPS, only where it downloads.
		var internet []string
		for _, np := range kind(g, "NetworkPolicy") {
			for _, rule := range list(field(np.Inputs, "spec", "egress")) {
				for _, to := range list(field(rule, "to")) {
					if field(to, "ipBlock", "cidr") == "0.0.0.0/0" {
						internet = append(internet, namespaceOf(np)+"/"+nameOf(np))
						assert.Equal(t, map[string]any{"app.kubernetes.io/name": "lamina-llm-serve"}, field(np.Inputs, "spec", "podSelector", "matchLabels"))
						assert.Equal(t, []any{map[string]any{"port": float64(443), "protocol": "TCP"}}, field(rule, "ports"))
					}
				}
			}
		}
		if cfg.LLM.Downloads {
			assert.Len(t, internet, 1, "llm-serve downloads models")
		} else {
			assert.Empty(t, internet, "no workload reaches the internet")
		}
	})
}

// Scripts find the agent stack's URLs and images in the outputs.
func TestAgentOutputs(t *testing.T) {
	g := preview(t, stackSource(t, "production", nil))
	urls, _ := g.Outputs["urls"].(map[string]any)
	assert.Equal(t, "https://llm.lamina.home.arpa", g.Outputs["llmURL"])
	assert.Equal(t, urls["llm.lamina.home.arpa"], g.Outputs["llmURL"])
	assert.Equal(t, "https://dashboard.lamina.home.arpa", g.Outputs["dashboardURL"])
	assert.Equal(t, "/Users/Shared/lamina/production/models", g.Outputs["modelsDir"])
	images, _ := g.Outputs["images"].(map[string]any)
	assert.Equal(t, []string{"chromadb", "lamina-core", "lamina-dashboard", "lamina-llm-serve"}, slices.Sorted(maps.Keys(images)))
	assert.Equal(t, recorder.UnknownMask, images["lamina-core"], "a build's reference is known once it is built")
}

// Under `pulumi up` the program looks for the build checkout before changing anything:
// a missing checkout or Dockerfile is a configuration problem naming its key. Offline
// runs do not look at the files of the machine that renders.
func TestMissingBuildInputsAreReportedBeforeAnyChange(t *testing.T) {
	checkout := t.TempDir()
	for _, dir := range []string{"packages/lamina-llm-serve", "packages/lamina-core", "packages/lamina-dashboard"} {
		require.NoError(t, os.MkdirAll(filepath.Join(checkout, dir), 0o755))
	}
	for _, f := range []string{"packages/lamina-llm-serve/Dockerfile", "packages/lamina-dashboard/Dockerfile"} {
		require.NoError(t, os.WriteFile(filepath.Join(checkout, f), []byte("FROM scratch\n"), 0o644))
	}
	src := stackSource(t, "development", map[string]string{"lamina:images": `{"checkout": "` + checkout + `"}`})
	g, err := offline.Run(src, stacks.Mac{}, recorder.Options{Preview: true})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "1 configuration problem")
	assert.Contains(t, err.Error(), "lamina:images.core.dockerfile: "+filepath.Join(checkout, "packages/lamina-core/Dockerfile")+" is not a file of the checkout")
	assert.Empty(t, g.Resources, "nothing is registered")

	src = stackSource(t, "development", map[string]string{"lamina:images": `{"checkout": "` + filepath.Join(checkout, "gone") + `"}`})
	_, err = offline.Run(src, stacks.Mac{}, recorder.Options{Preview: true})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "lamina:images.checkout: "+filepath.Join(checkout, "gone")+" is not a directory here; clone Lamina OS there")

	require.NoError(t, os.WriteFile(filepath.Join(checkout, "packages/lamina-core/Dockerfile"), []byte("FROM scratch\n"), 0o644))
	src = stackSource(t, "development", map[string]string{"lamina:images": `{"checkout": "` + checkout + `"}`})
	previewOn(t, src, stacks.Mac{})
}

// The capacity check counts the extra pod of a rollout exactly where the program's
// Deployments start a new pod before stopping an old one: single replicas. Production's
// three llm-serve pods roll one down, one up, needing no room beyond their own.
func TestRolloutsAreWhatTheCapacityCheckCounts(t *testing.T) {
	forBothStacks(t, func(t *testing.T, g *recorder.Graph, cfg *config.Config) {
		checked := 0
		for _, d := range cfg.Demands() {
			var deployment *recorder.Resource
			for _, r := range kind(g, "Deployment") {
				if nameOf(r) == d.Name && strings.HasPrefix(d.Key, "lamina:") && field(r.Inputs, "spec", "strategy") != nil {
					deployment = r
				}
			}
			if deployment == nil {
				continue
			}
			checked++
			surge := field(deployment.Inputs, "spec", "strategy", "rollingUpdate", "maxSurge")
			assert.Equal(t, d.Surge, surge == float64(1), d.Name)
			assert.Equal(t, float64(d.Pods), field(deployment.Inputs, "spec", "replicas"), d.Name)
		}
		assert.Equal(t, 3, checked, "llm-serve, the agent server and the dashboard")
	})
	prod := preview(t, stackSource(t, "production", nil))
	assert.Equal(t, map[string]any{"maxSurge": float64(0), "maxUnavailable": float64(1)},
		field(object(t, prod, "Deployment", "lamina-llm-serve").Inputs, "spec", "strategy", "rollingUpdate"))
}
