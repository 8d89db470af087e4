package stacks_test

import (
	"cmp"
	"context"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lamina-os/lamina-infra/components/dockermesh"
	"github.com/lamina-os/lamina-infra/components/llmserve"
	"github.com/lamina-os/lamina-infra/internal/recorder"
	"github.com/lamina-os/lamina-infra/internal/tooltest"
	"github.com/lamina-os/lamina-infra/stacks/config"
	"github.com/lamina-os/lamina-infra/stacks/offline"
)

const (
	containerType = "docker:index/container:Container"
	networkType   = "docker:index/network:Network"
)

// deployCompact deploys the compact stack (the Docker target) on a fake Mac whose
// openssl makes the mesh's real keys and certificates.
func deployCompact(t *testing.T) (*recorder.Graph, *fakeMac) {
	t.Helper()
	tooltest.Find(t, "openssl", tooltest.OpenSSL) // the mesh's certificates come from the real one
	overrides, _ := withDataDir(t, "compact", nil)
	kit := newFakeMac(t, "colima")
	return deploy(t, stackSource(t, "compact", overrides), kit), kit
}

// labelsOf reads a Docker resource's labels.
func labelsOf(r *recorder.Resource) map[string]string {
	out := map[string]string{}
	for _, l := range list(r.Inputs["labels"]) {
		out[field(l, "label").(string)] = field(l, "value").(string)
	}
	return out
}

// networksOf are the names of the networks a container joins, with its aliases there.
func networksOf(r *recorder.Resource) map[string][]any {
	out := map[string][]any{}
	for _, n := range list(r.Inputs["networksAdvanced"]) {
		out[field(n, "name").(string)] = list(field(n, "aliases"))
	}
	return out
}

// filesOf are the files container c reads, by the path where it reads them, as plain
// text (secrets too): its part of its unit's volume, which the unit's carrier fills
// (dockermesh's files.go). It checks that c mounts each read-only.
func filesOf(t *testing.T, g *recorder.Graph, c *recorder.Resource) map[string]string {
	t.Helper()
	name := c.Inputs["name"].(string)
	out := map[string]string{}
	for _, carrier := range g.ByType(containerType) {
		if labelsOf(carrier)[dockermesh.RoleLabel] != dockermesh.RoleFiles || !carrier.Raw()["uploads"].IsArray() {
			continue
		}
		for _, u := range carrier.Raw()["uploads"].ArrayValue() {
			o := u.ObjectValue()
			if p, ok := strings.CutPrefix(plainString(o["file"]), "/files/"+name+"/"); ok {
				out["/"+p] = plainString(o["content"])
			}
		}
	}
	mounted := map[string]bool{}
	for _, m := range list(c.Inputs["mounts"]) {
		if field(m, "type") == "volume" && field(m, "readOnly") == true {
			mounted[field(m, "target").(string)] = true
			assert.Equal(t, name+field(m, "target").(string), field(m, "volumeOptions", "subpath"), "%s mounts its own part of the volume", name)
		}
	}
	for p := range out {
		assert.True(t, mounted[p] || mounted[dockermesh.FilesDir] && strings.HasPrefix(p, dockermesh.FilesDir+"/"),
			"%s reads %s from a read-only mount", name, p)
	}
	return out
}

// The Docker target's topology: only the edge publishes a port, on loopback; each
// service's container is on its private network alone, which only its proxy shares;
// the proxies meet on the internal mesh network; every container runs hardened.
func TestDockerTargetPublishesOnlyTheEdgeAndHidesEachServiceBehindItsProxy(t *testing.T) {
	g, _ := deployCompact(t)
	for _, r := range g.Resources {
		assert.False(t, strings.HasPrefix(r.Type, "kubernetes:"), "%s: the Docker target declares nothing of Kubernetes", r.URN)
	}
	networks := map[string]*recorder.Resource{}
	for _, n := range g.ByType(networkType) {
		networks[n.Inputs["name"].(string)] = n
	}
	members := map[string][]string{}
	roles := map[string]int{}
	for _, c := range g.ByType(containerType) {
		name := c.Inputs["name"].(string)
		l := labelsOf(c)
		role, service := l[dockermesh.RoleLabel], l[dockermesh.ServiceLabel]
		roles[role]++
		if role == dockermesh.RoleFiles {
			// A carrier: created, never started, on no network.
			assert.Equal(t, false, c.Inputs["start"], name)
			assert.Equal(t, false, c.Inputs["mustRun"], name)
			assert.Equal(t, "none", c.Inputs["networkMode"], name)
			assert.Empty(t, networksOf(c), name)
		} else {
			assert.Equal(t, c.Inputs["memory"], c.Inputs["memorySwap"], "%s: no swap beyond its memory limit", name)
			assert.Equal(t, true, c.Inputs["readOnly"], "%s's root file system is read-only", name)
			assert.False(t, c.Raw()["uploads"].IsArray(), "%s receives no upload: its root is read-only", name)
		}
		for n := range networksOf(c) {
			members[n] = append(members[n], name)
		}
		ports := list(c.Inputs["ports"])
		if role == dockermesh.RoleEdge {
			require.Len(t, ports, 1, name)
			assert.Equal(t, map[string]any{"internal": float64(8443), "external": float64(8443), "ip": "127.0.0.1", "protocol": "tcp"}, ports[0])
		} else {
			assert.Empty(t, ports, "%s publishes no port", name)
		}
		private := dockermesh.ContainerName(service)
		switch role {
		case dockermesh.RoleApp:
			assert.Equal(t, []string{private}, mapKeys(networksOf(c)), "%s is on its private network alone", name)
		case dockermesh.RoleProxy:
			assert.ElementsMatch(t, []string{"lamina-mesh", private}, mapKeys(networksOf(c)), name)
			assert.Equal(t, []any{dockermesh.MeshName(service)}, networksOf(c)["lamina-mesh"], name)
		}
		assert.Equal(t, []any{"ALL"}, field(c.Inputs, "capabilities", "drops"), name)
		assert.Equal(t, []any{"no-new-privileges:true"}, c.Inputs["securityOpts"], name)
		if service != "vector" {
			assert.NotRegexp(t, `^0(:|$)`, c.Inputs["user"], "%s runs as a user of its own", name)
		}
	}
	assert.Equal(t, map[string]int{dockermesh.RoleApp: 7, dockermesh.RoleProxy: 7, dockermesh.RoleEdge: 1, dockermesh.RoleFiles: 8}, roles)
	for _, service := range config.DockerServices {
		private := dockermesh.ContainerName(service)
		require.Contains(t, networks, private)
		assert.ElementsMatch(t, []string{private, private + "-proxy"}, members[private], "only %s's proxy shares its network", service)
		// Only llm-serve, which downloads models in this profile, reaches the internet.
		assert.Equal(t, service != "lamina-llm-serve", networks[private].Inputs["internal"], private)
	}
	assert.Equal(t, true, networks["lamina-mesh"].Inputs["internal"])
	// Docker refuses a second network of a name: one is replaced by deleting it first.
	for name, n := range networks {
		assert.True(t, n.DeleteBeforeReplace, "network %s is replaced delete-first", name)
	}
	for _, v := range g.ByType("docker:index/volume:Volume") {
		assert.True(t, v.DeleteBeforeReplace, "volume %s is replaced delete-first", v.Name)
	}
	assert.Len(t, g.ByType("docker:index/volume:Volume"), 8, "a volume of files for each of the seven services and the edge")
	assert.Equal(t, []string{"lamina-edge"}, members["lamina-edge"], "the edge's network holds the edge alone")
	assert.Equal(t, "https://dashboard.compact.lamina.home.arpa:8443", g.Outputs["dashboardURL"])
	assert.Equal(t, "127.0.0.1", g.Outputs["gatewayAddress"])
}

// `pulumi up` ends when every service answers its health path: each proxy, made once its
// app's container exists, is waited for until Docker's health check, asking the proxy's
// loopback /ready, finds the app answering through it; the edge, beside them, is waited
// for the same way.
func TestDockerTargetUpWaitsUntilEveryServiceAnswersItsHealthPath(t *testing.T) {
	g, _ := deployCompact(t)
	apps := map[string]*recorder.Resource{}
	for _, c := range g.ByType(containerType) {
		if l := labelsOf(c); l[dockermesh.RoleLabel] == dockermesh.RoleApp {
			apps[l[dockermesh.ServiceLabel]] = c
		}
	}
	health := map[string]string{
		"lamina-llm-serve": "http://lamina-llm-serve-app:8000/health", "chromadb": "http://chromadb-app:8000/api/v1/heartbeat",
		"lamina-core": "http://lamina-core-app:8080/health", "lamina-dashboard": "http://lamina-dashboard-app:5001/",
		"grafana": "http://grafana-app:3000/api/health", "loki": "http://loki-app:3100/ready", "vector": "",
	}
	startup := map[string]float64{"lamina-llm-serve": 600, "edge": 30, "vector": 10}
	waited := 0
	for _, c := range g.ByType(containerType) {
		l := labelsOf(c)
		role, service := l[dockermesh.RoleLabel], l[dockermesh.ServiceLabel]
		if role == dockermesh.RoleApp {
			assert.Nil(t, c.Inputs["wait"], "%s: an app's image has no known tool to check it with; its proxy does", c.Name)
			continue
		}
		if role == dockermesh.RoleFiles {
			continue
		}
		waited++
		assert.Equal(t, []any{"CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8081/ready"}, field(c.Inputs, "healthcheck", "tests"), c.Name)
		assert.Equal(t, true, c.Inputs["wait"], c.Name)
		secs := cmp.Or(startup[service], 120)
		// As the provider reads it back from the daemon (a Duration's String), so that a
		// second preview changes nothing.
		assert.Equal(t, (time.Duration(secs) * time.Second).String(), field(c.Inputs, "healthcheck", "startPeriod"), c.Name)
		assert.Equal(t, "1s", field(c.Inputs, "healthcheck", "startInterval"), c.Name)
		assert.Equal(t, secs+40, c.Inputs["waitTimeout"], "%s: the start period, three failed checks 10 s apart, and 10 s", c.Name)
		conf := filesOf(t, g, c)[dockermesh.ConfPath]
		require.Contains(t, conf, "listen 127.0.0.1:8081;", c.Name)
		if role == dockermesh.RoleEdge {
			// Beside the services: up ends when every proxy is healthy, and the edge
			// need not wait for them to start.
			for s, app := range apps {
				proxy := g.Resource(strings.Replace(app.URN, "::"+app.Name, "::"+app.Name+"-proxy", 1))
				require.NotNil(t, proxy, s)
				assert.False(t, g.DependsOn(c, proxy.URN), "the edge does not wait for %s's proxy", s)
			}
			continue
		}
		// The proxy's creation waits for the app's health, so it starts once the app's
		// container exists: a Ctrl-C then never leaves a proxy waiting out its health
		// wait for an app the stopped engine does not create. The app's creation does not
		// wait for its health path, which may call another service through the proxy.
		assert.True(t, g.DependsOn(c, apps[service].URN), "%s's proxy waits for its app's creation", service)
		assert.False(t, g.DependsOn(apps[service], c.URN), "%s's app does not wait for its proxy's health", service)
		if want := health[service]; want != "" {
			assert.Contains(t, conf, `set $lamina_app_health "`+want+`";`, service)
		} else {
			assert.Regexp(t, `location = /ready \{\s+return 200;`, conf, "%s serves nothing: ready when its proxy is", service)
		}
	}
	assert.Equal(t, 8, waited, "seven proxies and the edge")
}

func mapKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Secrets reach containers as files and never through their environment: ChromaDB
// reads its token from a file, core's proxy (not core) adds it to core's requests,
// Grafana reads its password from a file. Keys are secret in the state.
func TestDockerTargetKeepsSecretsOutOfEnvironments(t *testing.T) {
	g, kit := deployCompact(t)
	token := strings.TrimSpace(kit.stdout["chromadb-token"])
	password := strings.TrimSpace(kit.stdout["grafana-admin-password"])
	require.Len(t, token, 64)
	require.Len(t, password, 48)
	byName := map[string]*recorder.Resource{}
	for _, c := range g.ByType(containerType) {
		byName[c.Inputs["name"].(string)] = c
		for _, e := range list(c.Inputs["envs"]) {
			assert.NotContains(t, e, token, "%s's environment", c.Name)
			assert.NotContains(t, e, password, "%s's environment", c.Name)
		}
		if c.Raw()["uploads"].IsArray() {
			for _, u := range c.Raw()["uploads"].ArrayValue() {
				o := u.ObjectValue()
				if strings.Contains(plainString(o["content"]), "PRIVATE KEY") || strings.Contains(plainString(o["content"]), token) {
					assert.True(t, o["content"].ContainsSecrets(), "%s: %s is secret in the state", c.Name, plainString(o["file"]))
				}
			}
		}
	}
	assert.Equal(t, token, filesOf(t, g, byName["lamina-chromadb"])[dockermesh.FilesDir+"/secrets/chroma-token"], "one line, no newline")
	assert.Contains(t, filesOf(t, g, byName["lamina-core-proxy"])[dockermesh.ConfPath], `proxy_set_header Authorization "Bearer `+token+`";`)
	assert.Equal(t, password, filesOf(t, g, byName["lamina-grafana"])[dockermesh.FilesDir+"/secrets/grafana-admin-password"])
	assert.Empty(t, filesOf(t, g, byName["lamina-core"]), "core holds no credential of ChromaDB's")
	v, ok := g.RawOutput("grafanaAdminPassword")
	require.True(t, ok)
	assert.True(t, v.Secret)
}

// Every proxy's generated nginx.conf, with the certificates the stack made, passes the
// real `nginx -t`.
func TestDockerTargetProxyConfigurationsPassNginx(t *testing.T) {
	nginx := tooltest.Find(t, "nginx", tooltest.Nginx)
	g, _ := deployCompact(t)
	checked := 0
	for _, c := range g.ByType(containerType) {
		files := filesOf(t, g, c)
		conf, ok := files[dockermesh.ConfPath]
		if !ok {
			continue
		}
		dir := t.TempDir()
		for path, content := range files {
			if strings.HasPrefix(path, dockermesh.TLSDir+"/") {
				require.NoError(t, os.WriteFile(filepath.Join(dir, filepath.Base(path)), []byte(content), 0o600))
			}
		}
		// The container's paths, here.
		conf = strings.ReplaceAll(conf, dockermesh.RunDir+"/nginx", dir+"/nginx")
		conf = strings.ReplaceAll(conf, dockermesh.TLSDir+"/", dir+"/")
		file := filepath.Join(dir, "nginx.conf")
		require.NoError(t, os.WriteFile(file, []byte(conf), 0o600))
		out, err := exec.Command(nginx, "-t", "-p", dir, "-c", file).CombinedOutput()
		assert.NoError(t, err, "nginx -t of %s:\n%s\n%s", c.Name, out, conf)
		checked++
	}
	assert.Equal(t, 8, checked, "seven proxies and the edge")
}

// What the Docker target cannot do is refused before anything changes, naming the key.
func TestDockerTargetRefusesWhatItCannotRun(t *testing.T) {
	compact := stackSource(t, "compact", nil)
	for _, tc := range []struct {
		name      string
		overrides map[string]string
		want      string
	}{
		{"the build tier", map[string]string{"lamina:build": `{"enabled":true}`},
			"lamina:build.enabled: is true, but the build tier runs as a Kubernetes Job"},
		{"two agent servers", map[string]string{"lamina:core": section(t, compact, "lamina:core", map[string]any{"replicas": 2})},
			"lamina:core.replicas: is 2; with lamina:cluster.target docker each service is one container behind its proxy; allowed: 1"},
		{"the edge on every address", map[string]string{"lamina:docker": section(t, compact, "lamina:docker", map[string]any{"edgeAddress": "0.0.0.0"})},
			`lamina:docker.edgeAddress: "0.0.0.0" is not an IPv4 address of the Docker host`},
		{"the edge on a LAN address of the Mac, in the stack's own VM", map[string]string{"lamina:docker": section(t, compact, "lamina:docker", map[string]any{"edgeAddress": "192.168.1.20"})},
			"lamina:docker.edgeAddress: 192.168.1.20 with this stack's own Colima VM (lamina:docker.host empty): the VM owns none of the Mac's addresses, and only its loopback reaches the Mac's; allowed: 127.0.0.1"},
		{"a public subnet", map[string]string{"lamina:docker": section(t, compact, "lamina:docker", map[string]any{"subnet": "8.8.0.0/20"})},
			"lamina:docker.subnet: 8.8.0.0/20 is not a private network"},
		{"a proxy image that moves", map[string]string{"lamina:docker": section(t, compact, "lamina:docker", map[string]any{"proxyImage": "nginx:latest"})},
			`lamina:docker.proxyImage: "nginx:latest" names no fixed version`},
		{"a VM too small for the containers", map[string]string{"lamina:colima": section(t, compact, "lamina:colima", map[string]any{"memoryGiB": 6})},
			"lamina:colima.memoryGiB: 6 GiB cannot hold the containers: their memory limits come to 6.3Gi"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := stackSource(t, "compact", tc.overrides)
			_, err := config.Load(src, nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// On the Docker target of this stack's own krunkit VM, llm-serve's container alone gets
// the VM's GPU nodes, without privilege or capability, offloads every layer, and `pulumi
// up` waits until its Vulkan check passes (an image that would serve on the CPU fails the
// up, naming the container). Another daemon's VM has no GPU to give.
func TestDockerTargetGivesTheGPUToLLMServeAlone(t *testing.T) {
	compact := stackSource(t, "compact", nil)
	gpu := map[string]string{
		"lamina:host":   section(t, compact, "lamina:host", map[string]any{"memoryGiB": 32}),
		"lamina:colima": section(t, compact, "lamina:colima", map[string]any{"vmType": "krunkit"}),
		"lamina:llm":    `{"accelerator": "gpu"}`,
	}
	overrides, _ := withDataDir(t, "compact", maps.Clone(gpu))
	g := preview(t, stackSource(t, "compact", overrides))
	with := 0
	for _, c := range g.ByType(containerType) {
		l := labelsOf(c)
		if l[dockermesh.ServiceLabel] != "lamina-llm-serve" || l[dockermesh.RoleLabel] != dockermesh.RoleApp {
			assert.Nil(t, c.Inputs["devices"], "%s gets no device", c.Name)
			continue
		}
		with++
		assert.Equal(t, []any{map[string]any{"hostPath": "/dev/dri", "containerPath": "/dev/dri", "permissions": "rw"}}, c.Inputs["devices"])
		assert.Equal(t, append([]string{"CMD"}, llmserve.VulkanCheck...), toStrings(field(c.Inputs, "healthcheck", "tests")))
		assert.Equal(t, true, c.Inputs["wait"])
		assert.Equal(t, float64(100), c.Inputs["waitTimeout"], "60 s to pass, one failed check (30 s) and 10 s")
		assert.Equal(t, "2s", field(c.Inputs, "healthcheck", "startInterval"))
		assert.Equal(t, []any{"ALL"}, field(c.Inputs, "capabilities", "drops"))
		assert.Nil(t, c.Inputs["privileged"])
		assert.NotRegexp(t, `^0(:|$)`, c.Inputs["user"])
		assert.Regexp(t, `- --n-gpu-layers\n\s+- "999"\n`, filesOf(t, g, c)[llmserve.Manifest], "every layer on the GPU")
	}
	assert.Equal(t, 1, with)
	report, err := offline.Check(context.Background(), loadPack(t), g)
	require.NoError(t, err)
	assert.Empty(t, report.Violations, "deny_docker_privileged allows llm-serve's GPU, and nothing else")
	vm := command(t, g, "colima-vm")
	assert.Equal(t, "krunkit", plainString(vm.Raw()["environment"].ObjectValue()["LAMINA_VM_TYPE"]))

	gpu["lamina:docker"] = section(t, compact, "lamina:docker", map[string]any{"host": "unix:///var/run/docker.sock"})
	_, err = config.Load(stackSource(t, "compact", gpu), nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `lamina:llm.accelerator: is gpu, but lamina:docker.host is "unix:///var/run/docker.sock": the GPU reaches containers only on the daemon of this stack's own krunkit VM; allowed: none, or gpu with lamina:docker.host empty`)
}
