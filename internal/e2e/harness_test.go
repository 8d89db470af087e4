// Package e2e runs the program as a user does, `pulumi up -s development` with `runtime:
// go`, through the real Pulumi CLI, language host, Kubernetes and command providers and
// policy analyzer, against a cluster that behaves like the Mac's from the API's side:
// etcd, kube-apiserver (Pod Security admission on), kube-controller-manager and
// kube-scheduler on loopback, one node simulated by kwok and named as Colima names it,
// the charts served from the mirror over TLS on loopback. Only what a Mac provides is
// simulated: the VM (a fake colima, testdata/fake-colima), the kubelet (kwok), the
// addresses MetalLB would assign, and the admission webhooks whose pods cannot run.
//
// build-tools.sh builds every tool at the versions this directory pins; .ci/run runs
// these tests with LAMINA_E2E_REQUIRED set, and they fail rather than skip.
package e2e

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// The environment: where the tools are, where the charts are, and whether skipping is a
// failure.
const (
	binEnv      = "LAMINA_E2E_BIN"
	mirrorEnv   = "LAMINA_CHART_MIRROR"
	requiredEnv = "LAMINA_E2E_REQUIRED"
)

// root is the project, two directories up.
const root = "../.."

// What the install-time benchmark changes (go test -run '^$' -bench . -args ...): the
// tests run with no simulated delay and this repository's program.
var (
	delaysFlag  = flag.String("delays", "none", "how long the simulated slow steps take: none, or realistic (see slowSteps)")
	programFlag = flag.String("program", "", "a checkout of the project whose program the stacks run (default: this repository)")
	pullFlag    = flag.Duration("image-pull", 0, "with -delays realistic, how long each pod's image pull adds (0: the images are on the VM)")
)

// tools are the binaries build-tools.sh makes.
var tools = []string{"pulumi", "pulumi-language-go", "pulumi-resource-kubernetes", "pulumi-resource-command",
	"pulumi-analyzer-policy-opa", "kwok", "kwok-stages.yaml", "etcd", "kube-apiserver", "kube-controller-manager",
	"kube-scheduler", "kubectl"}

// world is everything the tests share: the cluster, the chart server, the fake Mac.
type world struct {
	bin, mirror string
	dir         string // a temporary directory for everything the run writes
	base        string // .e2e, which holds dir and the copies of the project

	env       *envtest.Environment
	cfg       *rest.Config
	clientset kubernetes.Interface
	admin     string // the admin kubeconfig
	apiPort   int    // where kube-apiserver listens
	procs     []*exec.Cmd
	cancel    context.CancelFunc

	charts *chartServer
	mac    *mac

	started time.Duration
	// realistic says the slow steps take as long as slowSteps says, not no time.
	realistic bool
}

var (
	setup   sync.Once
	shared  *world
	skipWhy string
	failErr error
)

// the returns the running world, or skips the test (fails it in CI) when the tools or the
// mirror are missing.
func the(t testing.TB) *world {
	t.Helper()
	setup.Do(func() { shared, skipWhy, failErr = start() })
	ready(t, skipWhy, failErr)
	return shared
}

// ready skips the test when its world could not start for want of something this
// machine lacks (fails it where requiredEnv says the tests must run), and fails it when
// the world failed.
func ready(t testing.TB, skipWhy string, failErr error) {
	t.Helper()
	if skipWhy != "" {
		if os.Getenv(requiredEnv) != "" {
			t.Fatalf("%s is set, so the engine tests must run: %s", requiredEnv, skipWhy)
		}
		t.Skip(skipWhy)
	}
	if failErr != nil {
		t.Fatal(failErr)
	}
}

// newWorld is a world whose tools (names in the tools directory) are all there, with a
// directory of its own under .e2e named prefix*, or why it cannot be made here.
func newWorld(names []string, prefix string) (*world, string, error) {
	w := &world{bin: os.Getenv(binEnv)}
	if w.bin == "" {
		w.bin = "bin"
	}
	var err error
	if w.bin, err = filepath.Abs(w.bin); err != nil {
		return nil, "", err
	}
	for _, tool := range names {
		if _, err := os.Stat(filepath.Join(w.bin, tool)); err != nil {
			return nil, fmt.Sprintf("%s is missing (%v): build the tools with internal/e2e/build-tools.sh (make tools; about 30 minutes cold) "+
				"or point %s at a directory holding them", tool, err, binEnv), nil
		}
	}
	// Not under /tmp: the program refuses a data directory that macOS empties.
	if w.base, err = filepath.Abs(".e2e"); err != nil {
		return nil, "", err
	}
	if err := os.MkdirAll(w.base, 0o755); err != nil {
		return nil, "", err
	}
	if w.dir, err = os.MkdirTemp(w.base, prefix); err != nil {
		return nil, "", err
	}
	return w, "", nil
}

// chartMirror is the chart mirror's directory, or why there is none.
func chartMirror() (string, string, error) {
	mirror := os.Getenv(mirrorEnv)
	if mirror == "" {
		mirror = filepath.Join(root, "..", "shared", "charts")
	}
	mirror, err := filepath.Abs(mirror)
	if err != nil {
		return "", "", err
	}
	if _, err := os.Stat(mirror); err != nil {
		return "", fmt.Sprintf("no chart mirror at %s (%v): point %s at it", mirror, err, mirrorEnv), nil
	}
	return mirror, "", nil
}

func start() (*world, string, error) {
	realistic := false
	switch *delaysFlag {
	case "none":
	case "realistic":
		realistic = true
	default:
		return nil, "", fmt.Errorf("-delays is %q; it must be none or realistic", *delaysFlag)
	}
	mirror, skip, err := chartMirror()
	if mirror == "" {
		return nil, skip, err
	}
	w, skip, err := newWorld(tools, "run-")
	if w == nil {
		return nil, skip, err
	}
	w.mirror, w.realistic = mirror, realistic
	begin := time.Now()
	if err := w.startCluster(); err != nil {
		w.stop()
		return nil, "", err
	}
	if w.charts, err = serveCharts(w.mirror, filepath.Join(w.dir, "charts-ca.pem")); err != nil {
		w.stop()
		return nil, "", err
	}
	if w.mac, err = newMac(w); err != nil {
		w.stop()
		return nil, "", err
	}
	w.started = time.Since(begin)
	return w, "", nil
}

// startCluster starts etcd and kube-apiserver (envtest), then kube-controller-manager,
// kube-scheduler and kwok against it, and the simulations of what a Mac's cluster has
// that cannot run here.
func (w *world) startCluster() error {
	w.env = &envtest.Environment{
		BinaryAssetsDirectory:    w.bin,
		ControlPlaneStartTimeout: 3 * time.Minute,
		ControlPlaneStopTimeout:  time.Minute,
	}
	var err error
	if w.cfg, err = w.env.Start(); err != nil {
		return fmt.Errorf("starting etcd and kube-apiserver: %w", err)
	}
	user, err := w.env.AddUser(envtestUser("lamina-e2e-admin"), nil)
	if err != nil {
		return err
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		return err
	}
	w.admin = filepath.Join(w.dir, "admin.kubeconfig")
	if err := os.WriteFile(w.admin, kubeconfig, 0o600); err != nil {
		return err
	}
	if w.clientset, err = kubernetes.NewForConfig(w.cfg); err != nil {
		return err
	}
	api := w.env.ControlPlane.APIServer
	if _, err := fmt.Sscan(api.SecureServing.Port, &w.apiPort); err != nil {
		return fmt.Errorf("the API server's port %q: %w", api.SecureServing.Port, err)
	}
	ca := filepath.Join(w.dir, "apiserver-ca.pem")
	if err := os.WriteFile(ca, api.SecureServing.CA, 0o600); err != nil {
		return err
	}
	stages := filepath.Join(w.bin, "kwok-stages.yaml")
	if w.realistic {
		if stages, err = realisticStages(stages, w.dir); err != nil {
			return err
		}
	}
	logs := filepath.Join(w.dir, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		return err
	}
	for name, args := range map[string][]string{
		"kube-controller-manager": {"--kubeconfig=" + w.admin, "--leader-elect=false", "--secure-port=0",
			"--service-account-private-key-file=" + filepath.Join(api.CertDir, "sa-signer.key"), "--root-ca-file=" + ca,
			"--use-service-account-credentials=false", "--controllers=*,-csrsigning,-csrapproving,-csrcleaner,-nodeipam"},
		"kube-scheduler": {"--kubeconfig=" + w.admin, "--authentication-kubeconfig=" + w.admin,
			"--authorization-kubeconfig=" + w.admin, "--leader-elect=false", "--secure-port=0"},
		"kwok": {"--kubeconfig=" + w.admin, "--config=" + stages,
			"--manage-all-nodes=false", "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
			"--cidr=10.244.0.0/16", "--node-ip=192.168.64.5", "--server-address="},
	} {
		log, err := os.Create(filepath.Join(logs, name+".log"))
		if err != nil {
			return err
		}
		cmd := exec.Command(filepath.Join(w.bin, name), args...)
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("starting %s: %w", name, err)
		}
		w.procs = append(w.procs, cmd)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	go simulateLoadBalancers(ctx, w.clientset)
	go removeUnservedWebhooks(ctx, w.clientset)
	return nil
}

func (w *world) stop() {
	if w.cancel != nil {
		w.cancel()
	}
	if w.charts != nil {
		w.charts.Close()
	}
	if w.mac != nil {
		w.mac.close()
	}
	for _, p := range w.procs {
		_ = p.Process.Kill()
		_ = p.Wait()
	}
	if w.env != nil {
		_ = w.env.Stop()
	}
	if os.Getenv("LAMINA_E2E_KEEP") == "" && w.dir != "" {
		_ = os.RemoveAll(w.dir)
	}
}

// envtestUser is a user of the cluster with every right.
func envtestUser(name string) envtest.User {
	return envtest.User{Name: name, Groups: []string{"system:masters"}}
}

// results counts the scenarios for the summary line.
var results struct {
	sync.Mutex
	passed, failed int
}

// scenario runs one named scenario and counts it.
func scenario(t *testing.T, name string, f func(t *testing.T)) bool {
	t.Helper()
	ok := t.Run(name, f)
	results.Lock()
	defer results.Unlock()
	if ok {
		results.passed++
	} else {
		results.failed++
	}
	return ok
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.stop()
	}
	if dockerEngine != nil {
		dockerEngine.stop()
	}
	if dockerShared != nil && os.Getenv("LAMINA_E2E_KEEP") == "" {
		_ = os.RemoveAll(dockerShared.dir)
	}
	timings.Lock()
	for _, line := range timings.lines {
		fmt.Println(line)
	}
	timings.Unlock()
	results.Lock()
	fmt.Printf("e2e: %d passed, %d failed\n", results.passed, results.failed)
	results.Unlock()
	os.Exit(code)
}

// run runs a command with env added to this process's environment and returns its
// combined output.
func run(dir string, env []string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// lastLines is the end of a long output, for failure messages.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// restartControlPlane does to the cluster what a reboot of its VM does: every
// control-plane process stops (SIGTERM, as systemd stops k3s) and starts again with the
// same arguments, certificates and data, etcd and the API server first. kwok, which
// stands for the kubelet, stays stopped until the caller runs the function returned.
func (w *world) restartControlPlane(ctx context.Context) (kubelet func() error, err error) {
	restart := func(args []string, log io.Writer) (*exec.Cmd, error) {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("starting %s again: %w", filepath.Base(args[0]), err)
		}
		w.procs = append(w.procs, cmd)
		return cmd, nil
	}
	// The harness's own processes: the controllers, the scheduler, kwok.
	var stopped []*exec.Cmd
	for _, cmd := range w.procs {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		stopped = append(stopped, cmd)
	}
	w.procs = nil
	// envtest's: the API server, then etcd.
	var envtest [][]string
	for _, name := range []string{"kube-apiserver", "etcd"} {
		pid, args, err := processOf(filepath.Join(w.bin, name))
		if err != nil {
			return nil, err
		}
		if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
			return nil, err
		}
		for syscall.Kill(pid, 0) == nil {
			time.Sleep(100 * time.Millisecond)
		}
		envtest = append([][]string{args}, envtest...)
	}
	logs := filepath.Join(w.dir, "logs")
	for _, args := range envtest {
		log, err := os.OpenFile(filepath.Join(logs, filepath.Base(args[0])+"-restarted.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, err
		}
		if _, err := restart(args, log); err != nil {
			return nil, err
		}
	}
	err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := w.clientset.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err == nil, nil
	})
	if err != nil {
		return nil, fmt.Errorf("the API server is not ready again: %w", err)
	}
	var kwok *exec.Cmd
	for _, cmd := range stopped {
		if filepath.Base(cmd.Path) == "kwok" {
			kwok = cmd
			continue
		}
		if _, err := restart(cmd.Args, cmd.Stdout); err != nil {
			return nil, err
		}
	}
	return func() error {
		_, err := restart(kwok.Args, kwok.Stdout)
		return err
	}, nil
}

// processOf finds the running process of an executable: its pid and command line.
func processOf(executable string) (int, []string, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, nil, err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(raw) == 0 {
			continue
		}
		args := strings.Split(strings.TrimSuffix(string(raw), "\x00"), "\x00")
		if args[0] == executable {
			return pid, args, nil
		}
	}
	return 0, nil, fmt.Errorf("no process runs %s", executable)
}
