// Package recovery repairs a stack whose last `pulumi up` was killed (a closed lid, a
// crash, kill -9) so that the next `pulumi up` converges. A killed CLI leaves what
// Pulumi itself cannot repair, read in its source (github.com/pulumi/pulumi/pkg/v3
// v3.274.1):
//
//   - its plugins running: each serves the dead engine until its own health check, every
//     5 minutes (sdk go/pulumi/provider/main.go L131, rpcutil/health.go), and meanwhile
//     finishes what it was doing, Helm installs included;
//   - the stack's lock (backend/diy/lock.go), which stops the next run until
//     `pulumi cancel`;
//   - pending creates, which every later update carries on (backend/journal.go L459-466)
//     and which `pulumi refresh --import-pending-creates` turns into "importing"
//     operations that nothing reads again, so nothing is imported;
//   - Helm releases those plugins installed that the state never heard of: the next
//     install of the same name fails with "cannot re-use a name that is still in use",
//     as Helm re-uses only failed or uninstalled names (helm action/install.go).
//
// Recover stops the orphaned plugins, forgets Helm's record of every release the state
// does not hold (the release's objects stay, and the next install takes them over, as
// Helm adopts objects that carry its release annotations), removes the Docker containers
// and networks the state does not hold, removes the lock of a CLI that is gone, and
// clears the pending creates. It deletes no Kubernetes object, no volume and no file:
// the next `pulumi up` creates what is missing.
package recovery

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Host is what recovery reads and changes on this Mac.
type Host interface {
	// Output runs a command in the project directory and returns its standard output.
	Output(name string, args ...string) (string, error)
	// Processes lists every process: its pid and its command line.
	Processes() ([]Process, error)
	// Listening says whether something accepts connections at a TCP address.
	Listening(addr string) bool
	// Stop ends a process: SIGTERM, then SIGKILL when it is still there after a while.
	Stop(pid int) error
	// Alive says whether a process with pid runs on this machine.
	Alive(pid int) bool
	// Hostname is this machine's name, as Pulumi writes it into a lock.
	Hostname() string
	// ReadFile, Glob and Remove read and repair the local backend.
	ReadFile(path string) ([]byte, error)
	Glob(pattern string) ([]string, error)
	Remove(path string) error
	// DockerDelete sends a DELETE request for path (with its query) to the Docker Engine
	// API at host (unix:// or tcp://) and returns the response's status code.
	DockerDelete(host, path string) (int, error)
}

// Process is one running process.
type Process struct {
	PID  int
	Args []string
}

// Project is the Pulumi project name (Pulumi.yaml); a local backend keeps its stacks'
// locks under it.
const Project = "lamina-infra"

// The resource types whose create fails when a killed run made the object: a Helm
// release (Helm re-uses no name in use), and a Docker container or network (the Engine
// API answers 409 Conflict to a name in use; the Docker provider v4.10.0 creates both
// by name, upstream/internal/provider resource_docker_container_funcs.go L436 and
// resource_docker_network_funcs.go L70). A volume of a name in use is returned as it is,
// and every other object the providers create is applied.
const (
	Release   = "kubernetes:helm.sh/v3:Release"
	Container = "docker:index/container:Container"
	Network   = "docker:index/network:Network"
)

// Recover repairs stack and says on out what it did. It changes nothing while a Pulumi
// run still holds the stack, and nothing at all when the last run ended normally.
func Recover(h Host, stack string, out io.Writer) error {
	dir, err := backendDir(h)
	if err != nil {
		return err
	}
	lock, err := findLock(h, dir, stack)
	if err != nil {
		return err
	}
	if lock != nil && lock.live {
		return fmt.Errorf("stack %s is in use: pulumi (pid %d, started %s) still runs on it; wait for it to end, or stop it, and run this again",
			stack, lock.Pid, lock.Timestamp.Format(time.RFC3339))
	}
	if lock != nil && !lock.local {
		return fmt.Errorf("stack %s is locked by %s@%s (pid %d, started %s), on another machine; if no pulumi runs there any more, run: pulumi cancel --yes -s %s",
			stack, lock.Username, lock.Hostname, lock.Pid, lock.Timestamp.Format(time.RFC3339), stack)
	}
	stopped, err := stopOrphans(h)
	if err != nil {
		return err
	}
	for _, p := range stopped {
		fmt.Fprintf(out, "stopped %s (pid %d): a plugin of a pulumi run that is gone\n", filepath.Base(p.Args[0]), p.PID)
	}
	repaired, err := repairAttrs(h, dir, stack, out)
	if err != nil {
		return err
	}
	state, err := export(h, stack)
	if err != nil {
		return err
	}
	if lock == nil && len(state.Pending) == 0 {
		if len(stopped) > 0 || repaired {
			fmt.Fprintf(out, "stack %s: its last run ended normally; nothing else to repair\n", stack)
		}
		return nil
	}
	for _, op := range state.Pending {
		fmt.Fprintf(out, "pending %s: %s\n", op.Type, op.Resource.URN)
	}
	if err := forgetReleases(h, state, out); err != nil {
		return err
	}
	if err := removeDockerObjects(h, state, out); err != nil {
		return err
	}
	if lock != nil {
		if _, err := h.Output("pulumi", "cancel", "--yes", "-s", stack); err != nil {
			return fmt.Errorf("pulumi cancel -s %s: %w", stack, err)
		}
		fmt.Fprintf(out, "removed the lock of pulumi (pid %d, started %s), which is gone\n", lock.Pid, lock.Timestamp.Format(time.RFC3339))
	}
	if slices.ContainsFunc(state.Pending, func(op pending) bool { return op.Type == "creating" }) {
		if _, err := h.Output("pulumi", "refresh", "--clear-pending-creates", "--yes", "--skip-preview", "--non-interactive", "-s", stack); err != nil {
			return fmt.Errorf("pulumi refresh --clear-pending-creates -s %s: %w", stack, err)
		}
		fmt.Fprintf(out, "cleared the pending creates (pulumi refresh --clear-pending-creates)\n")
	}
	fmt.Fprintf(out, "stack %s is repaired: pulumi up creates what the killed run did not finish\n", stack)
	return nil
}

// lock is a local backend's lock of the stack (backend/diy/lock.go lockContent).
type lock struct {
	Pid       int       `json:"pid"`
	Username  string    `json:"username"`
	Hostname  string    `json:"hostname"`
	Timestamp time.Time `json:"timestamp"`
	// local: taken on this machine; live: and its process still runs.
	local, live bool
}

// findLock reads the stack's lock from a local (file://) backend. Any other backend
// keeps its locks itself: nil.
func findLock(h Host, dir, stack string) (*lock, error) {
	if dir == "" {
		return nil, nil
	}
	// Project-scoped stacks lock under organization/<project>/<stack>; older, unscoped
	// ones under <stack>.
	var files []string
	for _, pattern := range []string{
		filepath.Join(dir, ".pulumi", "locks", "*", Project, stack, "*.json"),
		filepath.Join(dir, ".pulumi", "locks", stack, "*.json"),
	} {
		found, err := h.Glob(pattern)
		if err != nil {
			return nil, err
		}
		files = append(files, found...)
	}
	if len(files) == 0 {
		return nil, nil
	}
	var held *lock
	for _, file := range files {
		data, err := h.ReadFile(file)
		if err != nil {
			return nil, err
		}
		l := &lock{}
		if err := json.Unmarshal(data, l); err != nil {
			return nil, fmt.Errorf("the lock %s: %w", file, err)
		}
		l.local = l.Hostname == h.Hostname()
		l.live = l.local && h.Alive(l.Pid)
		if held == nil || l.live || !l.local && !held.live {
			held = l
		}
	}
	return held, nil
}

// backendDir is the directory of the CLI's backend when it is a local (file://) one;
// empty for any other.
func backendDir(h Host) (string, error) {
	who, err := h.Output("pulumi", "whoami", "--json")
	if err != nil {
		return "", fmt.Errorf("pulumi whoami: %w", err)
	}
	var w struct {
		URL string `json:"url"`
	}
	if err := json.Unmarshal([]byte(who), &w); err != nil {
		return "", fmt.Errorf("pulumi whoami --json: %w", err)
	}
	dir, _ := localBackend(w.URL)
	return dir, nil
}

// repairAttrs removes the metadata files of the stack's checkpoint that a kill cut
// short. A local backend stores each file through gocloud's fileblob, which writes the
// file atomically (a temporary file renamed) but its "<file>.attrs" in place
// (os.Create, then the JSON: gocloud.dev blob/fileblob attrs.go setAttrs). A CLI killed
// between the two leaves it empty, and every later command on the stack fails with
// "failed to load checkpoint: EOF". Without the file, fileblob takes the defaults
// (getAttrs), which is all Pulumi needs of it.
func repairAttrs(h Host, dir, stack string, out io.Writer) (bool, error) {
	if dir == "" {
		return false, nil
	}
	repaired := false
	for _, pattern := range []string{
		filepath.Join(dir, ".pulumi", "stacks", Project, stack+".json*.attrs"),
		filepath.Join(dir, ".pulumi", "stacks", stack+".json*.attrs"),
	} {
		files, err := h.Glob(pattern)
		if err != nil {
			return repaired, err
		}
		for _, file := range files {
			data, err := h.ReadFile(file)
			if err != nil {
				return repaired, err
			}
			var attrs map[string]any
			if json.Unmarshal(data, &attrs) == nil {
				continue
			}
			if err := h.Remove(file); err != nil {
				return repaired, err
			}
			repaired = true
			fmt.Fprintf(out, "removed %s, which the kill cut short (%d bytes); the checkpoint reads again\n", file, len(data))
		}
	}
	return repaired, nil
}

// localBackend is the directory of a file:// backend URL ("file://~" is the home).
func localBackend(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "file" {
		return "", false
	}
	dir := u.Host + u.Path
	if dir == "~" || strings.HasPrefix(dir, "~/") {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", false
		}
		dir = filepath.Join(home, strings.TrimPrefix(dir, "~"))
	}
	return dir, true
}

// stopOrphans stops every Pulumi plugin whose engine is gone. Each plugin is started
// with its engine's address as its first argument (a provider's
// `pulumi-resource-kubernetes 127.0.0.1:38633`); a plugin whose engine no longer
// answers there serves nothing any more, and whatever it still does can never be
// recorded. Plugins of a live run, of this stack or another, are not touched.
func stopOrphans(h Host) ([]Process, error) {
	procs, err := h.Processes()
	if err != nil {
		return nil, fmt.Errorf("listing processes: %w", err)
	}
	var stopped []Process
	for _, p := range procs {
		addr, ok := pluginEngine(p)
		if !ok || h.Listening(addr) {
			continue
		}
		if err := h.Stop(p.PID); err != nil {
			return stopped, fmt.Errorf("stopping %s (pid %d), a plugin of a pulumi run that is gone: %w", p.Args[0], p.PID, err)
		}
		stopped = append(stopped, p)
	}
	return stopped, nil
}

// pluginEngine is the engine address of a Pulumi plugin process.
func pluginEngine(p Process) (string, bool) {
	if len(p.Args) < 2 {
		return "", false
	}
	name := filepath.Base(p.Args[0])
	if !strings.HasPrefix(name, "pulumi-resource-") && !strings.HasPrefix(name, "pulumi-language-") && !strings.HasPrefix(name, "pulumi-analyzer-") {
		return "", false
	}
	for _, arg := range p.Args[1:] {
		if strings.HasPrefix(arg, "-") {
			continue
		}
		if host, port, ok := strings.Cut(arg, ":"); ok && (host == "127.0.0.1" || host == "localhost" || host == "[::1]") && port != "" {
			return arg, true
		}
	}
	return "", false
}

// deployment is what recovery reads of `pulumi stack export`.
type deployment struct {
	Resources []resource `json:"resources"`
	Pending   []pending  `json:"pending_operations"`
}

type resource struct {
	URN      string         `json:"urn"`
	ID       string         `json:"id"`
	Type     string         `json:"type"`
	Inputs   map[string]any `json:"inputs"`
	Provider string         `json:"provider"`
}

type pending struct {
	Resource resource `json:"resource"`
	Type     string   `json:"type"`
}

// export reads the stack's state, secrets shown: a provider's kubeconfig is one.
func export(h Host, stack string) (*deployment, error) {
	raw, err := h.Output("pulumi", "stack", "export", "--show-secrets", "-s", stack)
	if err != nil {
		return nil, fmt.Errorf("pulumi stack export -s %s: %w", stack, err)
	}
	var doc struct {
		Deployment deployment `json:"deployment"`
	}
	if err := json.Unmarshal([]byte(raw), &doc); err != nil {
		return nil, fmt.Errorf("pulumi stack export -s %s: %w", stack, err)
	}
	return &doc.Deployment, nil
}

// provider is the provider resource a reference ("<urn>::<id>") names.
func (d *deployment) provider(ref string) (*resource, bool) {
	i := strings.LastIndex(ref, "::")
	if i < 0 {
		return nil, false
	}
	for k := range d.Resources {
		if d.Resources[k].URN == ref[:i] && d.Resources[k].ID == ref[i+2:] {
			return &d.Resources[k], true
		}
	}
	return nil, false
}

// helmRecord is one revision of a release, as Helm keeps it: a Secret labelled
// owner=helm, name=<release>, status, version (helm pkg/storage/driver/secrets.go).
type helmRecord struct {
	Name, Status, Version string
}

// forgetReleases deletes Helm's records of every release the killed run was creating:
// the state does not hold it, so the next up installs it again, and the install takes
// over the objects the first one made. A release that was being upgraded loses only its
// interrupted revision (pending-upgrade or pending-rollback), so that the next upgrade
// starts from the last one deployed rather than fail with "another operation is in
// progress".
func forgetReleases(h Host, state *deployment, out io.Writer) error {
	for _, op := range state.Pending {
		r := op.Resource
		if r.Type != Release || op.Type != "creating" && op.Type != "updating" {
			continue
		}
		name, _ := plain(r.Inputs["name"]).(string)
		namespace, _ := plain(r.Inputs["namespace"]).(string)
		if name == "" || namespace == "" {
			return fmt.Errorf("%s: the state holds no release name and namespace", r.URN)
		}
		kubectl, cleanup, err := kubectlFor(state, r)
		if err != nil {
			return err
		}
		err = func() error {
			defer cleanup()
			records, err := releaseRecords(h, kubectl, namespace, name)
			if err != nil {
				return err
			}
			for _, rec := range records {
				if op.Type == "updating" && !strings.HasPrefix(rec.Status, "pending-") {
					continue
				}
				if _, err := h.Output("kubectl", append(kubectl, "delete", "secret", "--namespace", namespace, rec.Name)...); err != nil {
					return fmt.Errorf("forgetting Helm's record %s/%s of release %s: %w", namespace, rec.Name, name, err)
				}
				fmt.Fprintf(out, "forgot Helm's record of release %s/%s revision %s (%s); its objects stay for the next install\n", namespace, name, rec.Version, rec.Status)
			}
			return nil
		}()
		if err != nil {
			return err
		}
	}
	return nil
}

// removeDockerObjects removes the containers, then the networks, that the killed run was
// creating: the state holds none of them, and the next up creates them by the same
// names. A container goes without its volumes (the Engine API removes only anonymous
// ones with v=true, which is not asked); the host's bind-mounted data is not touched.
// No container the state holds can be attached to such a network: the engine creates a
// container only after the network it joins.
func removeDockerObjects(h Host, state *deployment, out io.Writer) error {
	for _, kind := range []struct{ typ, noun, path string }{
		{Container, "container", "/containers/%s?force=true"},
		{Network, "network", "/networks/%s"},
	} {
		for _, op := range state.Pending {
			r := op.Resource
			if r.Type != kind.typ || op.Type != "creating" {
				continue
			}
			name, _ := plain(r.Inputs["name"]).(string)
			if name == "" {
				return fmt.Errorf("%s: the state holds no %s name", r.URN, kind.noun)
			}
			host := "unix:///var/run/docker.sock" // the provider's default
			if p, ok := state.provider(r.Provider); ok {
				if v, _ := plain(p.Inputs["host"]).(string); v != "" {
					host = v
				}
			}
			status, err := h.DockerDelete(host, fmt.Sprintf(kind.path, url.PathEscape(name)))
			switch {
			case err != nil:
				return fmt.Errorf("removing the %s %s at %s, which the killed run was creating: %w", kind.noun, name, host, err)
			case status == 404:
			case status >= 200 && status < 300:
				fmt.Fprintf(out, "removed the %s %s, which the killed run made and the state does not hold; the next up makes it again\n", kind.noun, name)
			default:
				return fmt.Errorf("removing the %s %s at %s, which the killed run was creating: the Docker Engine answered %d", kind.noun, name, host, status)
			}
		}
	}
	return nil
}

// releaseRecords lists the revisions Helm keeps of a release.
func releaseRecords(h Host, kubectl []string, namespace, name string) ([]helmRecord, error) {
	raw, err := h.Output("kubectl", append(kubectl, "get", "secrets", "--namespace", namespace,
		"--selector", "owner=helm,name="+name, "--output", "json")...)
	if err != nil {
		return nil, fmt.Errorf("reading Helm's records of release %s/%s: %w", namespace, name, err)
	}
	var list struct {
		Items []struct {
			Metadata struct {
				Name   string            `json:"name"`
				Labels map[string]string `json:"labels"`
			} `json:"metadata"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(raw), &list); err != nil {
		return nil, fmt.Errorf("reading Helm's records of release %s/%s: %w", namespace, name, err)
	}
	var records []helmRecord
	for _, item := range list.Items {
		records = append(records, helmRecord{item.Metadata.Name, item.Metadata.Labels["status"], item.Metadata.Labels["version"]})
	}
	return records, nil
}

// kubectlFor is the kubectl arguments that reach the cluster of r's provider, with the
// provider's own kubeconfig written to a file only this user reads and cleanup removes.
func kubectlFor(state *deployment, r resource) ([]string, func(), error) {
	p, ok := state.provider(r.Provider)
	if !ok {
		return nil, nil, fmt.Errorf("%s: its provider %s is not in the state", r.URN, r.Provider)
	}
	kubeconfig, _ := plain(p.Inputs["kubeconfig"]).(string)
	if kubeconfig == "" {
		return nil, nil, fmt.Errorf("%s: its provider %s has no kubeconfig in the state", r.URN, p.URN)
	}
	f, err := os.CreateTemp("", "lamina-recover-*.kubeconfig")
	if err != nil {
		return nil, nil, err
	}
	cleanup := func() { os.Remove(f.Name()) }
	if _, err := f.WriteString(kubeconfig); err != nil {
		f.Close()
		cleanup()
		return nil, nil, err
	}
	if err := f.Close(); err != nil {
		cleanup()
		return nil, nil, err
	}
	args := []string{"--kubeconfig", f.Name()}
	if context, _ := plain(p.Inputs["context"]).(string); context != "" {
		args = append(args, "--context", context)
	}
	return args, cleanup, nil
}

// secretSig marks a secret value in an exported state (sdk apitype's SecretSig).
const secretSig = "4dabf18193072939515e22adb298388d"

// plain is an exported value without its secret wrapping: `pulumi stack export
// --show-secrets` writes a secret as {sig: ..., plaintext: "<JSON of the value>"}.
func plain(v any) any {
	m, ok := v.(map[string]any)
	if !ok || m[secretSig] == nil {
		return v
	}
	text, ok := m["plaintext"].(string)
	if !ok {
		return nil
	}
	var value any
	if err := json.Unmarshal([]byte(text), &value); err != nil {
		return nil
	}
	return value
}
