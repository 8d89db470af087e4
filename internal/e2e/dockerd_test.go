package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// dockerNetns is the network namespace the test's dockerd runs in: the Colima VM's
// network. Everything dockerd does to a network (bridges, iptables rules and chains,
// forwarding, the userland proxies of published ports) happens inside it, and goes
// with it: the machine's own network is never touched, even by a run that dies.
const dockerNetns = "lamina-e2e-docker"

// dockerd is a real Docker engine (built by build-tools.sh at tools/docker's pin) on
// Debian's containerd and runc, in its own network namespace, with its state under dir.
type dockerd struct {
	bin, dir string
	sock     string // the API's unix socket
	cmd      *exec.Cmd
	log      *os.File
	api      *dockerAPI
}

// startDockerd starts the engine in a new network namespace (removing one a dead run
// left) and waits until its API answers.
func startDockerd(bin, dir string) (*dockerd, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("dockerd needs root (and CAP_NET_ADMIN for its network namespace)")
	}
	for _, tool := range []string{"ip", "nsenter", "containerd", "runc", "iptables"} {
		if _, err := lookPath(tool); err != nil {
			return nil, fmt.Errorf("%s is not installed (Debian: apt-get install containerd runc iptables iproute2 util-linux): %w", tool, err)
		}
	}
	stopLeftDaemons(filepath.Join(bin, "dockerd"))
	_ = exec.Command("ip", "netns", "delete", dockerNetns).Run()
	for _, args := range [][]string{{"netns", "add", dockerNetns}, {"-n", dockerNetns, "link", "set", "lo", "up"}} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	// Forwarding on, as on Colima's VM (Docker 28 leaves it to the host).
	if out, err := exec.Command("nsenter", "--net=/run/netns/"+dockerNetns, "sh", "-c", "echo 1 >/proc/sys/net/ipv4/ip_forward").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("forwarding in %s: %v: %s", dockerNetns, err, out)
	}
	// The VM's daemon also answers where Docker hosts have it, /var/run/docker.sock:
	// Vector mounts it from the host. Another daemon's socket there is left alone, and
	// the test refuses to run beside it.
	if info, err := os.Lstat(hostSocket); err == nil {
		if info.Mode()&os.ModeSocket != 0 {
			return nil, fmt.Errorf("%s is another Docker daemon's; the test runs its own there (stop that one first)", hostSocket)
		}
		if info.IsDir() { // what a bind mount of a missing socket leaves
			_ = os.Remove(hostSocket)
		}
	}
	d := &dockerd{bin: bin, dir: dir, sock: filepath.Join(dir, "docker.sock")}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	d.api = newDockerAPI(d.sock)
	if err := d.start(); err != nil {
		d.stop()
		return nil, err
	}
	return d, nil
}

// stopLeftDaemons stops a dockerd of this binary that a run which died left behind (its
// containers stop with it), so that the run starts from nothing.
func stopLeftDaemons(binary string) {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		cmdline, err := os.ReadFile(p)
		if err != nil || !bytes.HasPrefix(cmdline, []byte(binary+"\x00")) {
			continue
		}
		var pid int
		if _, err := fmt.Sscanf(p, "/proc/%d/cmdline", &pid); err != nil {
			continue
		}
		_ = syscall.Kill(pid, syscall.SIGTERM)
		for i := 0; i < 300 && syscall.Kill(pid, 0) == nil; i++ {
			time.Sleep(100 * time.Millisecond)
		}
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// hostSocket is where a Docker host's daemon listens.
const hostSocket = "/var/run/docker.sock"

// lookPath finds a program on PATH or in the sbin directories Debian puts these in.
func lookPath(name string) (string, error) {
	for _, p := range []string{name, "/usr/sbin/" + name, "/sbin/" + name} {
		if path, err := exec.LookPath(p); err == nil {
			return path, nil
		}
	}
	return "", fmt.Errorf("%s not found", name)
}

// start runs dockerd (again, after stop: a reboot of the VM) with the state it had.
// nsenter enters the network namespace only: `ip netns exec` would also remount /sys
// and hide the cgroup hierarchy dockerd needs.
func (d *dockerd) start() error {
	var err error
	if d.log, err = os.OpenFile(filepath.Join(d.dir, "dockerd.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600); err != nil {
		return err
	}
	d.cmd = exec.Command("nsenter", "--net=/run/netns/"+dockerNetns, filepath.Join(d.bin, "dockerd"),
		"--host=unix://"+d.sock, "--host=unix://"+hostSocket,
		"--data-root="+filepath.Join(d.dir, "data"), "--exec-root="+filepath.Join(d.dir, "exec"),
		"--pidfile="+filepath.Join(d.dir, "dockerd.pid"),
		// No default bridge: the program makes its own networks.
		"--bridge=none")
	// docker-proxy, which publishes ports, comes first on PATH, from the same build.
	d.cmd.Env = append(os.Environ(), "PATH="+d.bin+":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.cmd.Start(); err != nil {
		return fmt.Errorf("starting dockerd: %w", err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		var version struct{ Version, APIVersion string }
		if err := d.api.do("GET", "/version", nil, &version); err == nil {
			return nil
		}
		if time.Now().After(deadline) || d.cmd.ProcessState != nil {
			return fmt.Errorf("dockerd did not answer within 60 s; its log:\n%s", tail(filepath.Join(d.dir, "dockerd.log"), 30))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// shutdown stops dockerd as a VM's shutdown does (SIGTERM: it stops the containers and
// leaves their state), and waits for it.
func (d *dockerd) shutdown() error {
	if d.cmd == nil || d.cmd.Process == nil {
		return nil
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- d.cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		err = <-done
	}
	d.cmd = nil
	if d.log != nil {
		d.log.Close()
	}
	return err
}

// restart is the VM rebooted behind Pulumi's back: the engine goes down with every
// container and comes back with its state; containers come back by their restart policy.
func (d *dockerd) restart() error {
	if err := d.shutdown(); err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			return err
		}
	}
	return d.start()
}

// stop ends the engine and removes what it made: its network namespace (and with it
// every bridge, rule and listener), its mounts and its state.
func (d *dockerd) stop() {
	_ = d.shutdown()
	_ = exec.Command("ip", "netns", "delete", dockerNetns).Run()
	_ = os.Remove(hostSocket)
	// A dockerd that died leaves overlay mounts under its data root.
	_ = exec.Command("sh", "-c", "grep -o ' "+d.dir+"/[^ ]*' /proc/self/mounts | sort -r | xargs -r -n1 umount -l").Run()
	if os.Getenv("LAMINA_E2E_KEEP") == "" {
		_ = os.RemoveAll(d.dir)
	}
}

func tail(path string, n int) string {
	data, _ := os.ReadFile(path)
	return lastLines(string(data), n)
}

// inNetns runs f on a thread inside the engine's network namespace: a socket f opens
// stays there, so a connection made in f reaches what the VM's own network reaches.
func inNetns(f func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	self, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		return err
	}
	defer self.Close()
	target, err := os.Open("/run/netns/" + dockerNetns)
	if err != nil {
		return err
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("entering %s: %w", dockerNetns, err)
	}
	defer func() {
		if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
			panic(fmt.Sprintf("leaving %s: %v", dockerNetns, err)) // the thread would stay in the wrong namespace
		}
	}()
	return f()
}

// vmDialer dials from inside the VM's network: as a program on the VM does (Colima
// forwards the VM's loopback ports to the Mac's).
func vmDialer(ctx context.Context, network, addr string) (net.Conn, error) {
	var conn net.Conn
	err := inNetns(func() error {
		var err error
		conn, err = (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, addr)
		return err
	})
	return conn, err
}

// dockerAPI talks to the engine's HTTP API on its unix socket (no client library: the
// calls the test makes are few).
type dockerAPI struct {
	client *http.Client
}

// dockerAPIVersion is the API version the test asks for: the program's needs 1.45 (a
// volume's subpath; a health check's start interval needs 1.44).
const dockerAPIVersion = "v1.45"

func newDockerAPI(sock string) *dockerAPI {
	return &dockerAPI{client: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}}}
}

// dockerError is an answer of the API other than 2xx.
type dockerError struct {
	Status  int
	Message string
}

func (e *dockerError) Error() string { return fmt.Sprintf("docker API: %d %s", e.Status, e.Message) }

// do calls the API and decodes a JSON answer into out (when not nil).
func (a *dockerAPI) do(method, path string, body io.Reader, out any) error {
	data, err := a.raw(method, path, body, "application/json")
	if err != nil {
		return err
	}
	if out == nil || len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	return json.Unmarshal(data, out)
}

// raw calls the API and returns the answer's body.
func (a *dockerAPI) raw(method, path string, body io.Reader, contentType string) ([]byte, error) {
	if !strings.HasPrefix(path, "/_ping") && path != "/version" {
		path = "/" + dockerAPIVersion + path
	}
	req, err := http.NewRequest(method, "http://docker"+path, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		var m struct{ Message string }
		_ = json.Unmarshal(data, &m)
		if m.Message == "" {
			m.Message = strings.TrimSpace(string(data))
		}
		return nil, &dockerError{Status: resp.StatusCode, Message: m.Message}
	}
	return data, nil
}

// importImage imports a root file system (a tar stream) as ref with the image config
// changes (Dockerfile instructions), as `docker import --change` does.
func (a *dockerAPI) importImage(rootfs io.Reader, ref string, changes []string) error {
	repo, tag, _ := strings.Cut(ref, ":")
	q := url.Values{"fromSrc": {"-"}, "repo": {repo}, "tag": {tag}}
	for _, c := range changes {
		q.Add("changes", c)
	}
	data, err := a.raw("POST", "/images/create?"+q.Encode(), rootfs, "application/x-tar")
	if err != nil {
		return fmt.Errorf("importing %s: %w", ref, err)
	}
	// The answer is a stream of JSON messages; an error arrives as one of them.
	dec := json.NewDecoder(bytes.NewReader(data))
	for dec.More() {
		var m struct{ Error string }
		if err := dec.Decode(&m); err != nil {
			return err
		}
		if m.Error != "" {
			return fmt.Errorf("importing %s: %s", ref, m.Error)
		}
	}
	return nil
}

// dockerContainer is what the test reads of a container (GET /containers/json).
type dockerContainer struct {
	ID     string
	Names  []string
	Image  string
	State  string
	Status string
	Labels map[string]string
	Ports  []struct {
		IP          string
		PrivatePort int
		PublicPort  int
		Type        string
	}
}

// Name is the container's name without the leading slash.
func (c dockerContainer) Name() string { return strings.TrimPrefix(c.Names[0], "/") }

// containers lists every container, running or not, with label (key=value) if given.
func (a *dockerAPI) containers(label string) ([]dockerContainer, error) {
	q := url.Values{"all": {"1"}}
	if label != "" {
		f, _ := json.Marshal(map[string][]string{"label": {label}})
		q.Set("filters", string(f))
	}
	var out []dockerContainer
	return out, a.do("GET", "/containers/json?"+q.Encode(), nil, &out)
}

// dockerInspect is what the test reads of one container (GET /containers/{id}/json).
type dockerInspect struct {
	ID           string
	Name         string
	RestartCount int
	State        struct {
		Status     string
		Running    bool
		ExitCode   int
		StartedAt  string
		Health     *struct{ Status string }
		Restarting bool
	}
	Config struct {
		User   string
		Env    []string
		Labels map[string]string
	}
	HostConfig struct {
		ReadonlyRootfs bool
		CapDrop        []string
		CapAdd         []string
		Privileged     bool
		SecurityOpt    []string
		Binds          []string
	}
	Mounts []struct {
		Type, Name, Source, Destination string
		RW                              bool
	}
	NetworkSettings struct {
		Networks map[string]struct{ IPAddress string }
	}
}

func (a *dockerAPI) inspect(name string) (dockerInspect, error) {
	var out dockerInspect
	return out, a.do("GET", "/containers/"+url.PathEscape(name)+"/json", nil, &out)
}

// dockerNetwork is what the test reads of a network.
type dockerNetwork struct {
	ID, Name, Driver string
	Internal         bool
	Labels           map[string]string
}

func (a *dockerAPI) networks() ([]dockerNetwork, error) {
	var out []dockerNetwork
	return out, a.do("GET", "/networks", nil, &out)
}

// dockerVolume is what the test reads of a volume.
type dockerVolume struct {
	Name, Mountpoint string
	Labels           map[string]string
}

func (a *dockerAPI) volumes() ([]dockerVolume, error) {
	var out struct{ Volumes []dockerVolume }
	return out.Volumes, a.do("GET", "/volumes", nil, &out)
}

// runSpec is a short-lived container the test runs: a client on some network.
type runSpec struct {
	Image string
	Cmd   []string
	User  string
	// Network is a network's name, or container:<name> to share a container's.
	Network string
	// Mounts are the Engine API's mount objects (Type, Source, Target, ReadOnly, ...).
	Mounts []map[string]any
	Binds  []string
	Labels map[string]string
}

// run creates, starts and waits for a container, and returns its exit code and output;
// the container is removed after.
func (a *dockerAPI) run(spec runSpec, timeout time.Duration) (int, string, error) {
	body, _ := json.Marshal(map[string]any{
		"Image": spec.Image, "Cmd": spec.Cmd, "User": spec.User, "Labels": spec.Labels,
		"HostConfig": map[string]any{"NetworkMode": spec.Network, "Binds": spec.Binds, "Mounts": spec.Mounts, "ReadonlyRootfs": true,
			"CapDrop": []string{"ALL"}, "SecurityOpt": []string{"no-new-privileges:true"}},
	})
	var created struct{ ID string }
	if err := a.do("POST", "/containers/create", bytes.NewReader(body), &created); err != nil {
		return 0, "", err
	}
	defer func() { _ = a.do("DELETE", "/containers/"+created.ID+"?force=1", nil, nil) }()
	if err := a.do("POST", "/containers/"+created.ID+"/start", nil, nil); err != nil {
		return 0, "", err
	}
	waited := make(chan error, 1)
	var result struct{ StatusCode int }
	go func() { waited <- a.do("POST", "/containers/"+created.ID+"/wait", nil, &result) }()
	select {
	case err := <-waited:
		if err != nil {
			return 0, "", err
		}
	case <-time.After(timeout):
		return 0, "", fmt.Errorf("%v did not finish within %s", spec.Cmd, timeout)
	}
	logs, err := a.logs(created.ID, "")
	return result.StatusCode, logs, err
}

// logs is a container's output (stdout and stderr), since a time if given (RFC 3339 or
// Unix seconds).
func (a *dockerAPI) logs(name, since string) (string, error) {
	q := url.Values{"stdout": {"1"}, "stderr": {"1"}}
	if since != "" {
		q.Set("since", since)
	}
	data, err := a.raw("GET", "/containers/"+url.PathEscape(name)+"/logs?"+q.Encode(), nil, "")
	if err != nil {
		return "", err
	}
	return demux(data), nil
}

// demux joins the frames of Docker's multiplexed log stream (an 8-byte header each:
// stream, 3 zero bytes, big-endian length).
func demux(data []byte) string {
	var out strings.Builder
	for len(data) >= 8 {
		n := int(data[4])<<24 | int(data[5])<<16 | int(data[6])<<8 | int(data[7])
		if data[1] != 0 || data[2] != 0 || data[3] != 0 || 8+n > len(data) {
			out.Write(data) // not multiplexed (a TTY's)
			return out.String()
		}
		out.Write(data[8 : 8+n])
		data = data[8+n:]
	}
	return out.String()
}
