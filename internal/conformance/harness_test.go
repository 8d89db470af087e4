// Package conformance installs everything the program declares for every stack on a
// real kube-apiserver (staging on production's, after it), with etcd, on loopback,
// through controller-runtime's envtest, in install order, with strict field validation:
// the program's own objects, and every Helm release templated by its upstream chart
// with the Helm SDK, from the chart mirror (../shared/charts), as the provider would
// install it. Every pod template is then
// admitted, in a dry run, by the Pod Security level its namespace enforces.
//
// It is a module of its own: kube-apiserver, etcd and the Helm SDK stay out of the
// program's build. internal/e2e/build-tools.sh builds the control plane at the versions go.mod
// pins; .ci/run always runs these tests, and locally they skip, saying how to get the
// binaries or the mirror, when either is missing.
package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// root is the project, two directories up.
const root = "../.."

// binEnv names the directory holding kube-apiserver and etcd; requiredEnv, when set,
// turns a missing binary from a skip into a failure (CI sets both).
const (
	binEnv      = "LAMINA_CONFORMANCE_BIN"
	requiredEnv = "LAMINA_CONFORMANCE_REQUIRED"
)

// resource is one entry of `lamina render --format json`.
type resource struct {
	URN          string         `json:"urn"`
	Type         string         `json:"type"`
	Name         string         `json:"name"`
	Dependencies []string       `json:"dependencies"`
	Inputs       map[string]any `json:"inputs"`
}

var renders sync.Map

// render runs the project's offline render for stack, once per test binary.
func render(t testing.TB, stack string) []resource {
	t.Helper()
	if g, ok := renders.Load(stack); ok {
		return g.([]resource)
	}
	dir, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	switch stack {
	case "production":
		dir = withStackFile(t, dir, stack, withBuildCommit)
	case "development":
		dir = withStackFile(t, dir, stack, withGPU)
	case "lab":
		dir = exampleProject(t, dir, stack)
	}
	cmd := exec.Command("go", "run", "./cmd/lamina", "render", "-s", stack, "--format", "json", "--dir", dir,
		// Production requires a secret only the Mac's stack file holds.
		"--assume-secret", "lamina:grafana.adminPassword")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("lamina render -s %s: %v\n%s", stack, err, stderr.String())
	}
	var g struct {
		Resources []resource `json:"resources"`
	}
	if err := json.Unmarshal(out, &g); err != nil {
		t.Fatalf("lamina render -s %s: %v", stack, err)
	}
	renders.Store(stack, g.Resources)
	return g.Resources
}

// Render-only stack files: what a stack file leaves off (a build commit, the GPU)
// reaches the API server here, so that every conditional object is installed and its
// pods admitted like the others.

// buildCommit is the commit production's build tier checks here, so that the check's
// Job is installed and its pod admitted in lamina-build.
const buildCommit = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"

// withBuildCommit sets production's lamina:build.commit.
func withBuildCommit(t testing.TB, data []byte) []byte {
	if bytes.Contains(data, []byte("lamina:build:")) {
		t.Fatalf("Pulumi.production.yaml sets lamina:build; set the commit inside it here")
	}
	return append(data, "  lamina:build:\n    commit: "+buildCommit+"\n"...)
}

// withGPU runs development on a krunkit VM with llm-serve on the GPU: the device plugin
// in kube-system, and llm-serve's pods requesting lamina.io/gpu in their restricted
// namespace.
func withGPU(t testing.TB, data []byte) []byte {
	const memory = "    memoryGiB: 128\n"
	if !bytes.Contains(data, []byte(memory)) || bytes.Contains(data, []byte("lamina:llm:")) {
		t.Fatalf("Pulumi.development.yaml no longer sets lamina:colima's memoryGiB to 128 alone, or sets lamina:llm; adapt withGPU")
	}
	data = bytes.Replace(data, []byte(memory), []byte("    memoryGiB: 48\n    vmType: krunkit\n"), 1)
	return append(data, "  lamina:llm:\n    accelerator: gpu\n    resources:\n      requests: {cpu: \"4\", memory: 6Gi}\n      limits: {cpu: \"8\", memory: 12Gi}\n"...)
}

// withStackFile copies the project's Pulumi.yaml and stack's file, changed by edit,
// into a directory of the test's, and returns it.
func withStackFile(t testing.TB, project, stack string, edit func(testing.TB, []byte) []byte) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"Pulumi.yaml", "Pulumi." + stack + ".yaml"} {
		data, err := os.ReadFile(filepath.Join(project, name))
		if err != nil {
			t.Fatal(err)
		}
		if name != "Pulumi.yaml" {
			data = edit(t, data)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// exampleProject is a project of the stack file docs/examples/Pulumi.<stack>.yaml: an
// existing cluster of several nodes, its volumes claims of the cluster's classes.
func exampleProject(t testing.TB, project, stack string) string {
	t.Helper()
	dir := t.TempDir()
	for name, from := range map[string]string{
		"Pulumi.yaml":               filepath.Join(project, "Pulumi.yaml"),
		"Pulumi." + stack + ".yaml": filepath.Join(project, "docs", "examples", "Pulumi."+stack+".yaml"),
	} {
		data, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// releases are the Helm releases the stack installs.
func releases(resources []resource) []resource {
	var out []resource
	for _, r := range resources {
		if r.Type == "kubernetes:helm.sh/v3:Release" {
			out = append(out, r)
		}
	}
	return out
}

// stacks are the platforms, which install the charts (lab: docs/examples' existing
// cluster of three nodes); allStacks adds staging, which installs its agent stack on
// production's platform.
var (
	stacks    = []string{"development", "production", "lab"}
	allStacks = append(slices.Clone(stacks), "staging")
)

// platformOf is the stack whose cluster stack is installed on: its own, or for staging,
// production's, after production.
func platformOf(stack string) string {
	if stack == "staging" {
		return "production"
	}
	return stack
}

// A control plane per platform: both use the same names, and some fields (a claim's
// size) are immutable, so each gets a cluster of its own, as on the Mac.
type plane struct {
	once sync.Once
	env  *envtest.Environment
	cfg  *rest.Config
	err  error
	skip string
	// startup is how long etcd and kube-apiserver took to come up.
	startup time.Duration
	// installed is the stack installed on it, once a test asks for it.
	installOnce sync.Once
	installed   *installation
}

var (
	planesMu sync.Mutex
	planes   = map[string]*plane{}
)

// planeFor is name's control plane, started or not.
func planeFor(name string) *plane {
	planesMu.Lock()
	defer planesMu.Unlock()
	p, ok := planes[name]
	if !ok {
		p = &plane{}
		planes[name] = p
	}
	return p
}

// cluster returns a running API server for name, with nothing installed yet, or
// skips the test (fails it in CI) when the binaries are missing.
func cluster(t *testing.T, name string) *rest.Config {
	t.Helper()
	p := planeFor(name)
	p.once.Do(func() { p.start(t) })
	if p.skip != "" {
		if os.Getenv(requiredEnv) != "" {
			t.Fatalf("%s is set, so the conformance tests must run: %s", requiredEnv, p.skip)
		}
		t.Skip(p.skip)
	}
	if p.err != nil {
		t.Fatal(p.err)
	}
	return rest.CopyConfig(p.cfg)
}

func (p *plane) start(t *testing.T) {
	dir := os.Getenv(binEnv)
	if dir == "" {
		dir = "bin"
	}
	dir, _ = filepath.Abs(dir)
	for _, name := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			p.skip = fmt.Sprintf("%s is missing (%v): build the control plane with `internal/e2e/build-tools.sh internal/conformance/bin cluster` "+
				"(about 8 minutes cold, seconds from the tool cache) or point %s at a directory holding kube-apiserver and etcd", name, err, binEnv)
			return
		}
	}
	p.env = &envtest.Environment{
		BinaryAssetsDirectory:    dir,
		ControlPlaneStartTimeout: 3 * time.Minute,
		ControlPlaneStopTimeout:  time.Minute,
	}
	begin := time.Now()
	p.cfg, p.err = p.env.Start()
	if p.err != nil {
		p.err = fmt.Errorf("starting etcd and kube-apiserver from %s: %w", dir, p.err)
		return
	}
	p.err = systemNamespaces(p.cfg)
	p.startup = time.Since(begin)
}

// systemNamespaces waits until the API server has made the namespaces every cluster
// has before anyone gets its kubeconfig (k3s deploys its own add-ons into kube-system).
// envtest returns once /healthz is ok, and kube-apiserver's
// start-system-namespaces-controller hook only starts the controller that creates them
// (pkg/controlplane/apiserver/server.go, 1.37): on a busy machine the first objects
// meant for kube-system would otherwise be refused with "namespaces not found".
func systemNamespaces(cfg *rest.Config) error {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	names := []string{metav1.NamespaceDefault, metav1.NamespaceSystem, metav1.NamespacePublic, corev1.NamespaceNodeLease}
	var missing []string
	err = wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		missing = missing[:0]
		for _, ns := range names {
			if _, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); apierrors.IsNotFound(err) {
				missing = append(missing, ns)
			} else if err != nil {
				return false, err
			}
		}
		return len(missing) == 0, nil
	})
	if err != nil {
		return fmt.Errorf("kube-apiserver has not created the namespaces %v: %w", missing, err)
	}
	return nil
}

func TestMain(m *testing.M) {
	code := m.Run()
	for name, p := range planes {
		if p.env == nil || p.err != nil {
			continue
		}
		begin := time.Now()
		err := p.env.Stop()
		fmt.Fprintf(os.Stderr, "conformance: %s: etcd and kube-apiserver started in %s, stopped in %s\n",
			name, p.startup.Round(time.Millisecond), time.Since(begin).Round(time.Millisecond))
		if err != nil {
			fmt.Fprintf(os.Stderr, "conformance: stopping %s's control plane: %v\n", name, err)
			if code == 0 {
				code = 1
			}
		}
	}
	os.Exit(code)
}
