// Package conformance applies everything the program declares for both stacks to a real
// kube-apiserver (with etcd, on loopback, through controller-runtime's envtest) that has
// the upstream CRDs of Istio, MetalLB and cert-manager installed, with strict field
// validation, and checks Helm values against the charts' values.schema.json.
//
// It is a module of its own: kube-apiserver, etcd and the CRD modules stay out of the
// program's build. build-binaries.sh builds the control plane at the versions go.mod
// pins; .ci/run always runs these tests, and locally they skip, saying how to get the
// binaries, when the binaries are missing.
package conformance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

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

// The modules whose CRDs the cluster gets, and where in each module they are.
var crdSources = []struct {
	Module string
	// Chart is the chart, as the program installs it, that ships these CRDs.
	Chart string
	Path  string
}{
	{"istio.io/api", "base", "kubernetes/customresourcedefinitions.gen.yaml"},
	{"go.universe.tf/metallb", "metallb", "config/crd/bases"},
	{"github.com/cert-manager/cert-manager", "cert-manager", "deploy/crds"},
}

type module struct {
	Path, Version, Dir string
}

var (
	modulesOnce sync.Once
	modules     map[string]module
	modulesErr  error
)

// goModule returns the pinned version and the directory of a module of go.mod,
// downloading it when it is not in the module cache yet.
func goModule(t testing.TB, path string) module {
	t.Helper()
	modulesOnce.Do(func() {
		args := []string{"mod", "download", "-json"}
		for _, s := range crdSources {
			args = append(args, s.Module)
		}
		out, err := exec.Command("go", args...).Output()
		if err != nil {
			modulesErr = fmt.Errorf("go mod download: %w", err)
			return
		}
		modules = map[string]module{}
		dec := json.NewDecoder(bytes.NewReader(out))
		for dec.More() {
			var m module
			if modulesErr = dec.Decode(&m); modulesErr != nil {
				return
			}
			modules[m.Path] = m
		}
	})
	if modulesErr != nil {
		t.Fatal(modulesErr)
	}
	m, ok := modules[path]
	if !ok || m.Dir == "" {
		t.Fatalf("module %s is not in go.mod", path)
	}
	return m
}

// resource is one entry of `lamina render --format json`.
type resource struct {
	URN    string         `json:"urn"`
	Type   string         `json:"type"`
	Name   string         `json:"name"`
	Inputs map[string]any `json:"inputs"`
}

var renders sync.Map

// render runs the project's offline render for stack, once per test binary.
func render(t testing.TB, stack string) []resource {
	t.Helper()
	if g, ok := renders.Load(stack); ok {
		return g.([]resource)
	}
	cmd := exec.Command("go", "run", "./cmd/lamina", "render", "-s", stack, "--format", "json",
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

// kubernetesObjects are the resources that are Kubernetes objects, in dependency order.
func kubernetesObjects(resources []resource) []resource {
	var out []resource
	for _, r := range resources {
		_, a := r.Inputs["apiVersion"].(string)
		_, k := r.Inputs["kind"].(string)
		_, m := r.Inputs["metadata"].(map[string]any)
		if a && k && m && strings.HasPrefix(r.Type, "kubernetes:") {
			out = append(out, r)
		}
	}
	return out
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

var stacks = []string{"development", "production"}

// A control plane per stack: both stacks use the same names, and some fields (a claim's
// size) are immutable, so each gets a cluster of its own, as on the Mac.
type plane struct {
	once sync.Once
	env  *envtest.Environment
	cfg  *rest.Config
	err  error
	skip string
	// startup is how long etcd, kube-apiserver and the CRDs took to come up.
	startup time.Duration
}

var (
	planesMu sync.Mutex
	planes   = map[string]*plane{}
)

// cluster returns a running API server for name with the upstream CRDs installed, or
// skips the test (fails it in CI) when the binaries are missing.
func cluster(t *testing.T, name string) *rest.Config {
	t.Helper()
	planesMu.Lock()
	p, ok := planes[name]
	if !ok {
		p = &plane{}
		planes[name] = p
	}
	planesMu.Unlock()
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
			p.skip = fmt.Sprintf("%s is missing (%v): build the control plane with `internal/conformance/build-binaries.sh` "+
				"(about 8 minutes cold, seconds warm) or point %s at a directory holding kube-apiserver and etcd", name, err, binEnv)
			return
		}
	}
	var paths []string
	for _, s := range crdSources {
		paths = append(paths, filepath.Join(goModule(t, s.Module).Dir, s.Path))
	}
	p.env = &envtest.Environment{
		BinaryAssetsDirectory:    dir,
		CRDInstallOptions:        envtest.CRDInstallOptions{Paths: paths, ErrorIfPathMissing: true},
		ErrorIfCRDPathMissing:    true,
		ControlPlaneStartTimeout: 3 * time.Minute,
		ControlPlaneStopTimeout:  time.Minute,
	}
	begin := time.Now()
	p.cfg, p.err = p.env.Start()
	p.startup = time.Since(begin)
	if p.err != nil {
		p.err = fmt.Errorf("starting etcd and kube-apiserver from %s: %w", dir, p.err)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	for name, p := range planes {
		if p.env == nil || p.err != nil {
			continue
		}
		begin := time.Now()
		err := p.env.Stop()
		fmt.Fprintf(os.Stderr, "conformance: %s: etcd, kube-apiserver and the CRDs of %d modules started in %s, stopped in %s\n",
			name, len(crdSources), p.startup.Round(time.Millisecond), time.Since(begin).Round(time.Millisecond))
		if err != nil {
			fmt.Fprintf(os.Stderr, "conformance: stopping %s's control plane: %v\n", name, err)
			if code == 0 {
				code = 1
			}
		}
	}
	os.Exit(code)
}
