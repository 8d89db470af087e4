package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"maps"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The Docker target (the compact stack) through the engine: the real CLI, language host,
// Docker and command providers and policy pack, against a real dockerd (dockerd_test.go)
// in the network namespace that stands for Colima's VM, with the real nginx for every
// proxy and the edge and the program's own PKI. Only the images no registry here serves
// are stand-ins (standin/ and standin_images_test.go), each doing what its upstream image
// does where the program depends on it.

// dockerTools are what the Docker target's engine test runs, beside the CLI's.
var dockerTools = []string{"pulumi", "pulumi-language-go", "pulumi-resource-docker", "pulumi-resource-command",
	"pulumi-analyzer-policy-opa", "dockerd", "docker-proxy"}

// compactProfile is the compact stack's Colima profile (Pulumi.compact.yaml).
const compactProfile = "lamina-compact"

var (
	dockerSetup   sync.Once
	dockerShared  *world
	dockerEngine  *dockerd
	dockerSkipWhy string
	dockerFailErr error
)

// theDocker returns the running Docker world, or skips the test (fails it in CI).
func theDocker(t testing.TB) (*world, *dockerd) {
	t.Helper()
	dockerSetup.Do(func() { dockerShared, dockerEngine, dockerSkipWhy, dockerFailErr = startDockerWorld() })
	ready(t, dockerSkipWhy, dockerFailErr)
	return dockerShared, dockerEngine
}

func startDockerWorld() (*world, *dockerd, string, error) {
	if os.Geteuid() != 0 {
		return nil, nil, "the Docker engine test runs dockerd, which needs root", nil
	}
	w, skip, err := newWorld(dockerTools, "docker-")
	if w == nil {
		return nil, nil, skip, err
	}
	begin := time.Now()
	d, err := startDockerd(w.bin, filepath.Join(w.dir, "engine"))
	if err != nil {
		return nil, nil, "", err
	}
	if err := importImages(w, d); err != nil {
		d.stop()
		return nil, nil, "", err
	}
	if w.mac, err = newDockerMac(w, d); err != nil {
		d.stop()
		return nil, nil, "", err
	}
	w.started = time.Since(begin)
	return w, d, "", nil
}

// importImages puts every image the compact stack runs on the daemon, under the exact
// reference the stack uses: the stand-ins, and the proxy made from the real nginx.
func importImages(w *world, d *dockerd) error {
	standin, err := buildStandInBinary(w.dir)
	if err != nil {
		return err
	}
	binary, err := os.ReadFile(standin)
	if err != nil {
		return err
	}
	images := standInImages()
	proxy, err := proxyImage(proxyImageRef)
	if err != nil {
		return err
	}
	for _, im := range append(images, proxy) {
		rootfs, err := im.rootfs(binary)
		if err != nil {
			return fmt.Errorf("%s: %w", im.Ref, err)
		}
		if err := d.api.importImage(rootfs, im.Ref, im.changes()); err != nil {
			return err
		}
	}
	return nil
}

// newDockerMac is the Mac of the Docker target: a home, a PATH with the fake colima
// (whose docker runtime is the test's dockerd) and the tools, and the CLI's environment.
func newDockerMac(w *world, d *dockerd) (*mac, error) {
	m, _, err := newBareMac(w)
	if err != nil {
		return nil, err
	}
	m.env = append(m.env, "E2E_DOCKER_SOCKET="+d.sock)
	return m, nil
}

// proxyImageRef is lamina:docker.proxyImage (stacks/config/profiles.go, dockerDefaults).
const proxyImageRef = "nginxinc/nginx-unprivileged:1.28-alpine"

// configureCompact sets what this machine forces on the compact stack, and nothing else:
// the data directory, prebuilt images, and llm-serve's CPU limit (3 of the VM's 4
// cores), which a daemon with this machine's 2 cores refuses ("range of CPUs is from
// 0.01 to 2.00").
func (p *project) configureCompact(t testing.TB) {
	t.Helper()
	set := func(key, value string) { p.must(t, "config", "set", "--path", key, value, "-s", p.stack) }
	set("lamina:data.dir", p.dataDir())
	set("lamina:llm.resources.limits.cpu", "2000m") // a number would not be a quantity string
	for _, image := range []struct{ key, ref string }{
		{"llmServe", llmServeImage}, {"core", coreImage}, {"dashboard", dashboardImage},
	} {
		set("lamina:images."+image.key+".build", "false")
		set("lamina:images."+image.key+".reference", image.ref)
	}
}

// installDockerPlugins installs the Docker and command providers under the versions the
// program's SDKs ask for.
func (w *world) installDockerPlugins(t testing.TB, p *project) {
	t.Helper()
	versions, err := pluginVersions(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for _, plugin := range []struct{ name, version, file string }{
		{"docker", versions["docker"], "pulumi-resource-docker"},
		{"command", versions["command"], "pulumi-resource-command"},
	} {
		p.must(t, "plugin", "install", "resource", plugin.name, plugin.version, "--file", filepath.Join(w.bin, plugin.file))
	}
}

// The compact stack through the engine, as a user lives it, in order.
func TestCompactStack(t *testing.T) {
	w, d := theDocker(t)
	measured("docker harness start (dockerd, images imported)", w.started)
	for _, im := range standInImages() {
		t.Logf("stand-in %s cannot show: %s", im.Ref, im.Cannot)
	}
	p := newProject(t, w, "compact")
	w.installDockerPlugins(t, p)
	p.must(t, "stack", "init", "compact")
	p.configureCompact(t)

	if !scenario(t, "compact: up from nothing, every container running and healthy", func(t *testing.T) { compactUp(t, w, d, p) }) {
		t.Fatal("the stack did not come up; the later scenarios need it")
	}
	scenario(t, "compact: mutual TLS between the containers, and nothing else answers", func(t *testing.T) { compactMesh(t, w, d, p) })
	scenario(t, "compact: a browser reaches every route through the edge", func(t *testing.T) { compactEdge(t, p) })
	scenario(t, "compact: a second preview and up change nothing", func(t *testing.T) { nothingChanges(t, p) })
	scenario(t, "compact: a replaced network and a replaced container converge in one up", func(t *testing.T) { compactReplace(t, d, p) })
	scenario(t, "compact: the daemon restarted behind Pulumi's back", func(t *testing.T) { compactRestart(t, d, p) })
	scenario(t, "compact: the documented teardown keeps the data, and up comes back on it", func(t *testing.T) { compactTeardown(t, w, d, p) })
	scenario(t, "compact: an up killed half-way converges after lamina recover, one stopped with Ctrl-C on the next up", func(t *testing.T) { compactInterrupted(t, w, d, p) })
}

// compactInterrupted cuts two ups from nothing short on the Docker target, as
// interruptedUps does on Kubernetes: kill -9 once half the resources are in the state,
// lamina recover, Ctrl-C at three quarters, then an up that converges on the kept data.
func compactInterrupted(t *testing.T, w *world, d *dockerd, p *project) {
	data, err := os.ReadFile(p.checkpoint())
	if err != nil {
		t.Fatal(err)
	}
	total := len(checkpointURN.FindAll(data, -1))
	p.must(t, "destroy", "--yes", "-s", p.stack)
	out := killedThenRecovered(t, w, p, total/2)
	// Which objects were in flight depends on the moment of the kill (networks, and
	// once a files container, in the runs measured); the next up converging is what
	// must hold.
	if !strings.Contains(out, "removed the network") && !strings.Contains(out, "removed the container") {
		t.Logf("no network or container create was in flight at the kill")
	}
	t.Logf("the stack has %d resources", total)
	interruptedThenConverged(t, w, p, total*3/4)
	compactHealthy(t, d, time.Minute)
}

// compactCalls are the calls the program allows, each made from inside the caller's
// app container (a probe sharing its network), as the caller makes it: plain HTTP to
// the callee's name, which is the caller's own proxy.
var compactCalls = []struct{ caller, url string }{
	{"lamina-core", "http://lamina-llm-serve:8000/health"},
	{"lamina-core", "http://chromadb:8000/api/v1/collections"}, // the token is core's proxy's to add
	{"lamina-dashboard", "http://lamina-core:8080/health"},
	{"grafana", "http://loki:3100/ready"},
	{"vector", "http://loki:3100/ready"},
}

func compactMesh(t *testing.T, w *world, d *dockerd, p *project) {
	probeFrom := func(network string, mounts []map[string]any, args ...string) (int, string) {
		t.Helper()
		code, out, err := d.api.run(runSpec{Image: probeImage, Cmd: args, Network: network,
			Mounts: mounts, Labels: map[string]string{"lamina-e2e": "probe"}}, time.Minute)
		if err != nil {
			t.Fatalf("probe %v from %s: %v", args, network, err)
		}
		return code, out
	}
	// Every allowed call succeeds.
	for _, c := range compactCalls {
		code, out := probeFrom("container:"+containerName(c.caller), nil, "get", c.url)
		if code != 0 || !strings.Contains(out, "status=200") {
			t.Errorf("%s -> %s: exit %d\n%s", c.caller, c.url, code, out)
		}
	}

	// From the mesh network, without the mesh's identity: a certificate of another CA,
	// none, or one of the stack's own CA for an identity ChromaDB does not admit (the
	// dashboard's, from its proxy's files). None reaches ChromaDB.
	ca := p.outputs(t)["caCertificate"].(string)
	dir := filepath.Join(w.dir, "probe-tls")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), []byte(ca), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := foreignCertificate(dir, "lamina-core"); err != nil {
		t.Fatal(err)
	}
	tlsMount := map[string]any{"Type": "bind", "Source": dir, "Target": "/probe", "ReadOnly": true}
	dashboardTLS := map[string]any{"Type": "volume", "Source": "lamina-dashboard-files", "Target": "/dashboard", "ReadOnly": true,
		"VolumeOptions": map[string]any{"Subpath": "lamina-dashboard-proxy/etc/lamina/tls"}}
	nonce := fmt.Sprintf("e2e-%d", time.Now().UnixNano())
	target := "https://chromadb.mesh.lamina:8443/api/v1/heartbeat?probe=" + nonce
	for _, tc := range []struct {
		name   string
		mounts []map[string]any
		args   []string
		want   string
	}{
		{"no certificate", []map[string]any{tlsMount}, []string{"--cacert", "/probe/ca.pem"}, "status=400"},
		{"a certificate of another CA", []map[string]any{tlsMount},
			[]string{"--cacert", "/probe/ca.pem", "--cert", "/probe/other.crt", "--key", "/probe/other.key"}, "status=400"},
		{"an identity ChromaDB does not admit", []map[string]any{tlsMount, dashboardTLS},
			[]string{"--cacert", "/probe/ca.pem", "--cert", "/dashboard/cert.pem", "--key", "/dashboard/key.pem"}, "status=403"},
	} {
		code, out := probeFrom("lamina-mesh", tc.mounts, append([]string{"get", target}, tc.args...)...)
		if code != 0 || !strings.Contains(out, tc.want) {
			t.Errorf("%s: exit %d, want %s\n%s", tc.name, code, tc.want, out)
		}
	}
	logs, err := d.api.logs(containerName("chromadb"), "")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs, nonce) {
		t.Errorf("a refused request reached ChromaDB:\n%s", lastLines(logs, 10))
	}

	// From the VM's own network nothing answers but the edge, on loopback.
	var listening []string
	err = inNetns(func() error {
		var err error
		listening, err = listeningTCP("/proc/thread-self/net/tcp")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(listening, " ") != "127.0.0.1:8443" {
		t.Errorf("the VM listens on %v; want the edge's 127.0.0.1:8443 alone", listening)
	}
}

// foreignCertificate writes other.crt and other.key into dir: a client certificate for
// identity from a CA that is not the stack's.
func foreignCertificate(dir, identity string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	caTemplate := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "another CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTemplate, caTemplate, &key.PublicKey, key)
	if err != nil {
		return err
	}
	ca, _ := x509.ParseCertificate(caDER)
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: identity},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &leafKey.PublicKey, key)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(leafKey)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "other.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "other.key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o644)
}

// listeningTCP are the IPv4 addresses listening in a /proc/net/tcp file.
func listeningTCP(file string) ([]string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 4 || f[3] != "0A" { // LISTEN
			continue
		}
		addr, port, _ := strings.Cut(f[1], ":")
		a, err1 := strconv.ParseUint(addr, 16, 32)
		n, err2 := strconv.ParseUint(port, 16, 16)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%s: %q", file, line)
		}
		ip := net.IPv4(byte(a), byte(a>>8), byte(a>>16), byte(a>>24)) // little-endian on x86 and arm64
		out = append(out, fmt.Sprintf("%s:%d", ip, n))
	}
	sort.Strings(out)
	return out, nil
}

// compactEdge is a browser on the Mac (Colima forwards the VM's loopback port) asking
// every route, trusting the stack's CA.
func compactEdge(t *testing.T, p *project) {
	outputs := p.outputs(t)
	client, err := edgeClient(outputs["caCertificate"].(string))
	if err != nil {
		t.Fatal(err)
	}
	urls := outputs["urls"].(map[string]any)
	if len(urls) != 4 {
		t.Errorf("%d URLs, want llm, core, dashboard and grafana: %v", len(urls), urls)
	}
	paths := map[string]string{"llm": "/health", "core": "/health", "dashboard": "/", "grafana": "/api/health"}
	for host, u := range urls {
		path := paths[strings.SplitN(host, ".", 2)[0]]
		code, body, err := get(client, u.(string)+path)
		if err != nil || code != 200 {
			t.Errorf("%s%s: %d %v\n%s", u, path, code, err, body)
		}
	}
}

// compactHealthy waits until every container of the stack runs and, where it has a
// health check, is healthy.
func compactHealthy(t *testing.T, d *dockerd, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var bad []string
		containers, err := d.api.containers("lamina.io/stack=compact")
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range containers {
			if c.Labels["lamina.io/role"] == "files" {
				continue
			}
			info, err := d.api.inspect(c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !info.State.Running || info.State.Health != nil && info.State.Health.Status != "healthy" {
				bad = append(bad, c.Name()+" "+c.Status)
			}
		}
		if len(bad) == 0 && len(containers) > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s not running or not healthy: %v", within, bad)
		}
		time.Sleep(time.Second)
	}
}

// compactReplace toggles llm-serve's downloads (its private network's internal flag:
// the network is replaced, and the containers on it with it) and changes the agents
// (core's container is replaced); one up converges, and the next changes nothing.
func compactReplace(t *testing.T, d *dockerd, p *project) {
	before, err := d.api.inspect(containerName("lamina-core"))
	if err != nil {
		t.Fatal(err)
	}
	p.must(t, "config", "set", "--path", "lamina:llm.downloads", "false", "-s", p.stack)
	p.must(t, "config", "set", "--path", "lamina:core.agents[0]", "luna", "-s", p.stack)
	out, took := p.timed(t, "up", "--yes", "-s", p.stack)
	measured("compact: up of a replaced network and container", took)
	t.Log(lastLines(out, 8))
	compactHealthy(t, d, 30*time.Second)
	after, err := d.api.inspect(containerName("lamina-core"))
	if err != nil {
		t.Fatal(err)
	}
	if after.ID == before.ID {
		t.Error("core's container was not replaced for its new agents")
	}
	networks, err := d.api.networks()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, n := range networks {
		seen[n.Name]++
		if n.Name == "lamina-llm-serve" && !n.Internal {
			t.Error("llm-serve's network still reaches out with downloads off")
		}
	}
	for name, n := range seen {
		if n > 1 {
			t.Errorf("%d networks named %s", n, name)
		}
	}
	p.must(t, "up", "--yes", "--expect-no-changes", "-s", p.stack)
}

// compactRestart is the VM rebooted: the daemon goes down with every container and comes
// back; the containers come back by their restart policy, and up converges.
func compactRestart(t *testing.T, d *dockerd, p *project) {
	if err := d.restart(); err != nil {
		t.Fatal(err)
	}
	compactHealthy(t, d, 3*time.Minute)
	out, took := p.timed(t, "up", "--yes", "-s", p.stack)
	measured("compact: up after the daemon's restart", took)
	t.Log(lastLines(out, 8))
	compactHealthy(t, d, time.Minute)
	p.must(t, "up", "--yes", "--expect-no-changes", "-s", p.stack)
}

// compactTeardown: pulumi destroy as documented leaves no container, network or volume
// of the stack and every byte the services wrote to the host data directory; up comes
// back on it.
func compactTeardown(t *testing.T, w *world, d *dockerd, p *project) {
	// A collection in ChromaDB, created as core creates one.
	chroma := func(args ...string) string {
		t.Helper()
		code, out, err := d.api.run(runSpec{Image: probeImage, Network: "container:" + containerName("lamina-core"),
			Cmd: append([]string{"get", "http://chromadb:8000/api/v1/collections"}, args...)}, time.Minute)
		if err != nil || code != 0 || !strings.Contains(out, "status=200") {
			t.Fatalf("ChromaDB's collections %v: exit %d %v\n%s", args, code, err, out)
		}
		return out
	}
	chroma("--method", "POST", "--data", `{"name": "kept-by-teardown"}`)
	written := map[string]string{}
	err := filepath.WalkDir(p.dataDir(), func(path string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		written[path] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(written) == 0 {
		t.Fatal("the services wrote nothing to the host data directory")
	}
	_, took := p.timed(t, "destroy", "--yes", "-s", p.stack)
	measured("compact: destroy", took)
	containers, _ := d.api.containers("lamina.io/stack=compact")
	networks, _ := d.api.networks()
	volumes, _ := d.api.volumes()
	for _, c := range containers {
		t.Errorf("container %s is left", c.Name())
	}
	for _, n := range networks {
		if n.Labels["lamina.io/stack"] == "compact" {
			t.Errorf("network %s is left", n.Name)
		}
	}
	for _, v := range volumes {
		if v.Labels["lamina.io/stack"] == "compact" {
			t.Errorf("volume %s is left", v.Name)
		}
	}
	for path, content := range written {
		data, err := os.ReadFile(path)
		if err != nil || !strings.HasPrefix(string(data), content) {
			t.Errorf("%s changed or went with the teardown: %v", path, err)
		}
	}
	if left := w.mac.vmDiskLeft("lamina-compact"); len(left) > 0 {
		t.Errorf("the VM is not all gone after destroy: %v", left)
	}
	out, took := p.timed(t, "up", "--yes", "-s", p.stack)
	measured("compact: up again on the kept data", took)
	t.Log(lastLines(out, 6))
	compactHealthy(t, d, time.Minute)
	if list := chroma(); !strings.Contains(list, "kept-by-teardown") {
		t.Errorf("ChromaDB came back without the collection it had:\n%s", list)
	}
}

// compactServices are the compact stack's app containers and their proxies' names.
var compactServices = []string{"lamina-llm-serve", "chromadb", "lamina-core", "lamina-dashboard", "grafana", "loki", "vector"}

func compactUp(t *testing.T, w *world, d *dockerd, p *project) {
	out, took := p.timed(t, "up", "--yes", "-s", p.stack)
	measured("compact: up from nothing (with the language host's build)", took)
	measured("compact: up from nothing, the engine's part", engineDuration(t, out))
	t.Log(lastLines(out, 12))

	containers, err := d.api.containers("lamina.io/stack=compact")
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]dockerContainer{}
	for _, c := range containers {
		byName[c.Name()] = c
	}
	var want []string
	for _, s := range compactServices {
		want = append(want, containerName(s), containerName(s)+"-proxy")
	}
	want = append(want, "lamina-edge")
	for _, name := range want {
		c, ok := byName[name]
		if !ok {
			t.Errorf("no container %s", name)
			continue
		}
		info, err := d.api.inspect(name)
		if err != nil {
			t.Error(err)
			continue
		}
		if !info.State.Running || info.RestartCount > 0 {
			logs, _ := d.api.logs(name, "")
			t.Errorf("%s is %s (exit %d, %d restarts):\n%s", name, info.State.Status, info.State.ExitCode, info.RestartCount, lastLines(logs, 15))
		}
		if info.State.Health != nil && info.State.Health.Status != "healthy" {
			t.Errorf("%s is %s", name, info.State.Health.Status)
		}
		_ = c
	}
	var names []string
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	t.Logf("%d containers: %s", len(names), strings.Join(names, " "))

	outputs := p.outputs(t)
	for key, want := range map[string]any{
		"schemaVersion": float64(1), "stack": "compact", "clusterTarget": "docker", "mtlsMode": "STRICT",
		"gatewayAddress": "127.0.0.1", "dataDir": p.dataDir(),
	} {
		if got := outputs[key]; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("output %s = %v, want %v", key, got, want)
		}
	}
}

// containerName is a service's container name (dockermesh.ContainerName).
func containerName(service string) string { return "lamina-" + strings.TrimPrefix(service, "lamina-") }

// compactEdgeAddress is where the edge publishes (lamina:docker.edgeAddress).
const compactEdgeAddress = "127.0.0.1"

// edgeClient is a browser on the VM that trusts the stack's CA (the caCertificate output).
func edgeClient(ca string) (*http.Client, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(ca)) {
		return nil, fmt.Errorf("the caCertificate output holds no certificate")
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		// Every hostname of the edge is its address on the VM (the hosts entries).
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			_, port, _ := net.SplitHostPort(addr)
			return vmDialer(ctx, network, net.JoinHostPort(compactEdgeAddress, port))
		},
		TLSClientConfig: &tls.Config{RootCAs: pool},
	}}, nil
}

// get is a GET through client and the body's start.
func get(client *http.Client, url string) (int, string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(bytes.TrimSpace(body)), nil
}

// BenchmarkCompactUp times the compact stack's `pulumi up` from nothing (images on the
// daemon, the program already built once, as every up after a user's first) and an up
// with nothing to change, on the real engine, and logs where the time of the first went:
// each container's creation, start and first healthy check, from the daemon's own
// events, counted from the up's start.
//
//	make compact-time    (go test -run '^$' -bench CompactUp -benchtime 3x)
func BenchmarkCompactUp(b *testing.B) {
	w, d := theDocker(b)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		p := newProject(b, w, "compact")
		w.installDockerPlugins(b, p)
		p.must(b, "stack", "init", "compact")
		p.configureCompact(b)
		p.must(b, "preview", "-s", p.stack)
		begin := time.Now()
		b.StartTimer()
		out, took := p.timed(b, "up", "--yes", "-s", p.stack)
		b.StopTimer()
		end := time.Now()
		b.ReportMetric(took.Seconds(), "s/up")
		b.ReportMetric(engineDuration(b, out).Seconds(), "engine-s/up")
		b.Log(containerTimeline(b, d, begin, end))
		out, took = p.timed(b, "up", "--yes", "--expect-no-changes", "-s", p.stack)
		b.ReportMetric(took.Seconds(), "s/noop-up")
		b.ReportMetric(engineDuration(b, out).Seconds(), "engine-s/noop-up")
		p.must(b, "destroy", "--yes", "-s", p.stack)
		p.must(b, "stack", "rm", "--yes", "-s", p.stack)
	}
}

// containerTimeline is, for each container, network and volume, when the daemon created
// it, started it and first found it healthy, in seconds from begin, the last healthy
// first: what comes before the first is the program's build and start, the plan, and
// the local steps (the VM command, the mesh's certificates).
func containerTimeline(b *testing.B, d *dockerd, begin, end time.Time) string {
	q := url.Values{"since": {strconv.FormatInt(begin.Unix(), 10)}, "until": {strconv.FormatInt(end.Unix()+1, 10)},
		"filters": {`{"type":["container","network","volume"]}`}}
	data, err := d.api.raw("GET", "/events?"+q.Encode(), nil, "")
	if err != nil {
		b.Fatal(err)
	}
	type times struct{ create, start, healthy float64 }
	seen := map[string]*times{}
	dec := json.NewDecoder(bytes.NewReader(data))
	for dec.More() {
		var e struct {
			Type     string
			Action   string
			TimeNano int64
			Actor    struct {
				ID         string
				Attributes map[string]string
			}
		}
		if err := dec.Decode(&e); err != nil {
			b.Fatal(err)
		}
		name := e.Actor.Attributes["name"]
		if e.Type == "volume" {
			name = e.Actor.ID
		}
		if e.Type != "container" {
			name = e.Type + " " + name
		}
		if seen[name] == nil {
			seen[name] = &times{}
		}
		at := time.Unix(0, e.TimeNano).Sub(begin).Seconds()
		switch {
		case e.Action == "create":
			seen[name].create = at
		case e.Action == "start":
			seen[name].start = at
		case strings.HasPrefix(e.Action, "health_status: healthy") && seen[name].healthy == 0:
			seen[name].healthy = at
		}
	}
	names := slices.Collect(maps.Keys(seen))
	sort.Slice(names, func(i, j int) bool {
		a, b := seen[names[i]], seen[names[j]]
		return a.healthy > b.healthy || a.healthy == b.healthy && a.create < b.create
	})
	var s strings.Builder
	s.WriteString("container                  created  started  healthy (s after up began)\n")
	for _, n := range names {
		t := seen[n]
		fmt.Fprintf(&s, "%-26s %7.1f  %7.1f  %7.1f\n", n, t.create, t.start, t.healthy)
	}
	return s.String()
}
