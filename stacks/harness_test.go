package stacks_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lamina-os/lamina-infra/internal/recorder"
	"github.com/lamina-os/lamina-infra/stacks/config"
	"github.com/lamina-os/lamina-infra/stacks/offline"
)

// projectDir is the repository root, where Pulumi.yaml and the stack files live.
const projectDir = ".."

const (
	commandType     = "command:local:Command"
	dockerImageType = "docker:index/image:Image"
)

// stackSource reads a stack file of the project and applies overrides: "lamina:<section>"
// to a value as the engine would pass it (JSON for objects); an empty value removes the key.
// grafanaPassword is the field production requires as a secret.
const grafanaPassword = "lamina:grafana.adminPassword"

func stackSource(t testing.TB, stack string, overrides map[string]string) *config.Source {
	t.Helper()
	src, err := offline.Source(projectDir, stack)
	if err != nil {
		t.Fatal(err)
	}
	if stack == "production" {
		// Production requires Grafana's password, which only the Mac's stack file holds.
		if err := src.AssumeSecret(grafanaPassword); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range overrides {
		if v == "" {
			delete(src.Values, k)
		} else {
			src.Values[k] = v
		}
	}
	return src
}

// section returns a stack file's section merged with fields, as JSON.
func section(t testing.TB, src *config.Source, key string, fields map[string]any) string {
	t.Helper()
	m := map[string]any{}
	if v, ok := src.Values[key]; ok {
		if err := json.Unmarshal([]byte(v), &m); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range fields {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// preview runs the program on src as `lamina render` does.
func preview(t testing.TB, src *config.Source) *recorder.Graph {
	t.Helper()
	return previewOn(t, src, nil)
}

// previewOn is preview, looking at the machine through probes, as on a Mac.
func previewOn(t testing.TB, src *config.Source, probes config.Probes) *recorder.Graph {
	t.Helper()
	g, err := offline.Run(src, probes, recorder.Options{Preview: true})
	if err != nil {
		t.Fatalf("program failed: %v", err)
	}
	return g
}

// deploy runs the program on src as `pulumi up` would on a Mac whose colima and kubectl
// are the fakes of kit: every command's create script really runs, and its stdout
// becomes the command's output.
func deploy(t testing.TB, src *config.Source, kit *fakeMac) *recorder.Graph {
	t.Helper()
	g, err := deployWith(src, kit, nil)
	if err != nil {
		t.Fatalf("program failed: %v", err)
	}
	return g
}

// deployWith is deploy, with the outputs of the stacks the program reads (by stack
// name), and returns the program's error.
func deployWith(src *config.Source, kit *fakeMac, refs map[string]resource.PropertyMap) (*recorder.Graph, error) {
	var failed []string
	g, err := offline.Run(src, kit.probes, recorder.Options{References: refs, Outputs: func(r *recorder.Resource) resource.PropertyMap {
		if r.Type == dockerImageType {
			// A local build's repoDigest is its image ID.
			return resource.PropertyMap{"repoDigest": resource.NewProperty(kit.imageID(r.Name))}
		}
		if r.Type != commandType {
			return nil
		}
		res := kit.exec(r, "create", nil)
		if res.code != 0 {
			failed = append(failed, fmt.Sprintf("%s: create exited %d:\n%s", r.Name, res.code, res.stderr))
		}
		return resource.PropertyMap{
			"stdout": resource.NewProperty(strings.TrimRight(res.stdout, "\n")),
			"stderr": resource.NewProperty(res.stderr),
		}
	}})
	if err == nil && len(failed) > 0 {
		err = errors.New(strings.Join(failed, "\n"))
	}
	return g, err
}

// allStacks are the project's stacks: two platforms, staging, which shares
// production's, and compact, the Docker target.
var allStacks = []string{"development", "production", "staging", "compact"}

// deployStack deploys stack on a fake Mac with its data directory outside /tmp; staging
// joins a production deployed first, inside whose data directory its own lies.
func deployStack(t *testing.T, stack string) *recorder.Graph {
	t.Helper()
	if stack != "staging" {
		overrides, _ := withDataDir(t, stack, nil)
		return deploy(t, stackSource(t, stack, overrides), newFakeMac(t, "colima", "kubectl"))
	}
	g, err := deployStaging(t, nil, nil)
	if err != nil {
		t.Fatalf("program failed: %v", err)
	}
	return g
}

// deployStaging deploys production, then staging with overrides reading production's
// outputs, changed by edit when set; production's render comes back as the graph's
// reference for tests that compare the two.
func deployStaging(t *testing.T, overrides map[string]string, edit func(production resource.PropertyMap)) (*recorder.Graph, error) {
	t.Helper()
	production := deployStack(t, "production")
	outs := production.StackOutputs()
	if edit != nil {
		edit(outs)
	}
	dir, _ := outs["dataDir"].V.(string)
	if overrides == nil {
		overrides = map[string]string{}
	}
	if _, ok := overrides["lamina:data"]; !ok {
		overrides["lamina:data"] = `{"dir":"` + dir + `/tenants/staging"}`
	}
	return deployWith(stackSource(t, "staging", overrides), newFakeMac(t, "colima", "kubectl"), map[string]resource.PropertyMap{"production": outs})
}

// command returns the command resource whose name ends with suffix.
func command(t testing.TB, g *recorder.Graph, suffix string) *recorder.Resource {
	t.Helper()
	for _, r := range g.ByType(commandType) {
		if strings.HasSuffix(r.Name, suffix) {
			return r
		}
	}
	t.Fatalf("no command named *%s in the graph", suffix)
	return nil
}

// fakeMac is a temporary home with fake colima and kubectl on a PATH that holds nothing
// else but the few utilities the scripts may use, so that a script needing anything more
// fails here before it fails on a Mac.
type fakeMac struct {
	t testing.TB
	// probes are how the program looks at this Mac (config.Probes); nil: it does not.
	probes config.Probes
	home   string
	bin    string
	log    string
	colima string
	env    map[string]string

	// builds gives an image build resource's ID (sha256:<hex>); unlisted builds get one
	// derived from their name.
	builds map[string]string

	mu       sync.Mutex
	executed map[string]bool   // "<command name> <create|update|delete>"
	stdout   map[string]string // the last stdout of each command
}

// scriptTools are the only programs besides colima and kubectl that the scripts and the
// fakes may run, each one a Mac has (git with the Command Line Tools, which Colima's
// install needs too). Everything else must be a bash builtin.
var scriptTools = []string{"sed", "mkdir", "chmod", "sleep", "cksum", "rm", "mktemp", "mv", "tar", "git", "cat"}

func newFakeMac(t testing.TB, fakes ...string) *fakeMac {
	t.Helper()
	dir := t.TempDir()
	m := &fakeMac{
		t:        t,
		home:     filepath.Join(dir, "home"),
		bin:      filepath.Join(dir, "bin"),
		log:      filepath.Join(dir, "calls.log"),
		colima:   filepath.Join(dir, "colima-state"),
		executed: map[string]bool{},
		stdout:   map[string]string{},
		builds:   map[string]string{},
	}
	for _, d := range []string{m.home, m.bin, m.colima} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, tool := range scriptTools {
		path, err := exec.LookPath(tool)
		if err != nil {
			t.Fatalf("the tests need %s: %v", tool, err)
		}
		if err := os.Symlink(path, filepath.Join(m.bin, tool)); err != nil {
			t.Fatal(err)
		}
	}
	// Every Mac has openssl (LibreSSL); the fake answers deterministically.
	for _, f := range append([]string{"openssl"}, fakes...) {
		src, err := filepath.Abs(filepath.Join("testdata", "fake-"+f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(src, filepath.Join(m.bin, f)); err != nil {
			t.Fatal(err)
		}
	}
	m.env = map[string]string{
		"PATH":                      m.bin,
		"HOME":                      m.home,
		"FAKE_LOG":                  m.log,
		"FAKE_COLIMA_HOME":          m.colima,
		"FAKE_HOME_DIR":             m.home,
		"LAMINA_READY_POLL_SECONDS": "0",
	}
	if real, err := exec.LookPath("openssl"); err == nil {
		m.env["FAKE_REAL_OPENSSL"] = real
	}
	return m
}

// profile seeds the fake colima with an existing profile.
func (m *fakeMac) profile(name, status string, cpus, memoryGiB, diskGiB int, arch string) {
	m.t.Helper()
	dir := filepath.Join(m.colima, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		m.t.Fatal(err)
	}
	for file, v := range map[string]string{
		"status": status, "cpus": itoa(cpus), "memory": itoa(memoryGiB), "disk": itoa(diskGiB),
		"arch": arch, "address": "192.168.64.5", "port": "6443",
	} {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(v), 0o644); err != nil {
			m.t.Fatal(err)
		}
	}
}

// vmChanges are the colima subcommands that changed a VM (start, stop, delete), in order.
func (m *fakeMac) vmChanges() []string {
	var out []string
	for _, c := range m.calls() {
		if slices.Contains([]string{"start", "stop", "delete"}, c[1]) {
			out = append(out, c[1])
		}
	}
	return out
}

// vmType records the type profile's VM was created with, where Colima keeps it.
func (m *fakeMac) vmType(profile, vmType string) {
	m.t.Helper()
	dir := filepath.Join(m.home, ".colima", "_lima", "colima-"+profile)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		m.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "colima.yaml"), []byte("vmType: "+vmType+"\n"), 0o644); err != nil {
		m.t.Fatal(err)
	}
}

type result struct {
	stdout, stderr string
	code           int
}

// exec runs one of a command resource's scripts ("create", "update" or "delete") the way
// pulumi-command does: its interpreter, its environment on top of the process's.
func (m *fakeMac) exec(r *recorder.Resource, which string, extra map[string]string) result {
	m.t.Helper()
	raw := r.Raw()
	script := plainString(raw[resource.PropertyKey(which)])
	if script == "" {
		m.t.Fatalf("%s has no %s script", r.Name, which)
	}
	var interp []string
	for _, v := range raw["interpreter"].ArrayValue() {
		interp = append(interp, plainString(v))
	}
	env := map[string]string{}
	for k, v := range m.env {
		env[k] = v
	}
	if e, ok := raw["environment"]; ok {
		for k, v := range e.ObjectValue() {
			env[string(k)] = plainString(v)
		}
	}
	for k, v := range extra {
		env[k] = v
	}
	cmd := exec.Command(interp[0], append(interp[1:], script)...)
	cmd.Dir = m.home
	cmd.Env = nil
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			m.t.Fatalf("running %s %s: %v", r.Name, which, err)
		}
		code = exit.ExitCode()
	}
	m.mu.Lock()
	m.executed[r.Name+" "+which] = true
	m.stdout[r.Name] = stdout.String()
	m.mu.Unlock()
	return result{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

// run runs one of the fakes as the program would, with the fake Mac's environment, and
// returns what it printed on stdout.
func (m *fakeMac) run(tool string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(m.bin, tool), args...)
	for k, v := range m.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd.Output()
}

// dockerd serves the Docker API's /info where the fake colima says profile's daemon
// listens, answering with the ID of the VM the fake colima made last: a VM made anew has
// a new daemon.
func (m *fakeMac) dockerd(profile string) {
	m.t.Helper()
	socket := filepath.Join(m.home, ".colima", profile, "docker.sock")
	if err := os.MkdirAll(filepath.Dir(socket), 0o755); err != nil {
		m.t.Fatal(err)
	}
	l, err := net.Listen("unix", socket)
	if err != nil {
		m.t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := os.ReadFile(filepath.Join(m.colima, profile, "docker-id"))
		if r.URL.Path != "/info" || err != nil {
			http.Error(w, "no daemon", http.StatusServiceUnavailable)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"ID": string(id)})
	})}
	go func() { _ = srv.Serve(l) }()
	m.t.Cleanup(func() { _ = srv.Close() })
}

// imageID is what the fake Docker daemon's build of the named image resource produced.
func (m *fakeMac) imageID(name string) string {
	if id, ok := m.builds[name]; ok {
		return id
	}
	sum := sha256.Sum256([]byte(name))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// calls returns every invocation of the fakes so far, each as its argv.
func (m *fakeMac) calls() [][]string {
	m.t.Helper()
	data, err := os.ReadFile(m.log)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		m.t.Fatal(err)
	}
	var out [][]string
	for _, line := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		out = append(out, strings.Split(line, "\x1f"))
	}
	return out
}

// callsOf returns the invocations of one fake with the given first argument.
func (m *fakeMac) callsOf(tool, sub string) [][]string {
	var out [][]string
	for _, c := range m.calls() {
		if c[0] == tool && len(c) > 1 && c[1] == sub {
			out = append(out, c[1:])
		}
	}
	return out
}

func (m *fakeMac) resetLog() { _ = os.Remove(m.log) }

// plainString reads a string input behind secrets; unknowns read as "".
func plainString(v resource.PropertyValue) string {
	if v.IsSecret() {
		v = v.SecretValue().Element
	}
	if v.IsString() {
		return v.StringValue()
	}
	return ""
}

func itoa(i int) string { return strconv.Itoa(i) }

// assertOnlyInSecret checks that value, a secret, appears nowhere in what the render
// shows (every input and output) and reaches the cluster only through the stringData of
// the Kubernetes Secret named secret.
func assertOnlyInSecret(t *testing.T, g *recorder.Graph, secret, value string) {
	t.Helper()
	var rendered strings.Builder
	require.NoError(t, g.WriteJSON(&rendered))
	assert.NotContains(t, rendered.String(), value, "the render shows no secret")
	var found *recorder.Resource
	for _, r := range g.ByType("kubernetes:core/v1:Secret") {
		if nameOf(r) == secret {
			found = r
		}
	}
	require.NotNil(t, found, "no Secret %s", secret)
	assert.Equal(t, recorder.SecretMask, found.Inputs["stringData"])
	raw := found.Raw()["stringData"]
	require.True(t, raw.ContainsSecrets())
	assert.Contains(t, raw.String(), value, "the cluster gets the real value")
}

// deploySecret deploys development on a fake Mac with lamina:<section>.<field> set to
// value as a secret, as `pulumi config set --secret --path` would.
func deploySecret(t *testing.T, section, field, value string) *recorder.Graph {
	t.Helper()
	mac := newFakeMac(t, "colima", "kubectl")
	overrides, _ := withDataDir(t, "development", nil)
	src := stackSource(t, "development", overrides)
	key := config.Namespace + ":" + section
	src.Values[key] = `{"` + field + `": "` + value + `"}`
	src.Secret[key] = true
	return deploy(t, src, mac)
}
