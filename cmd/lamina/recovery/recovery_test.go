package recovery

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// mac is a Mac after a pulumi run: its processes, its local backend and its cluster's
// Helm records, and every command recovery runs.
type mac struct {
	backend  string
	locks    map[string]string // the local backend's files: path -> content
	procs    []Process
	engines  map[string]bool // listening engine addresses
	alive    map[int]bool
	state    string
	records  map[string][]helmRecord // namespace/name -> revisions
	ran      []string
	stopped  []int
	docker   map[string]bool  // host+path of the objects the daemon has
	failWith map[string]error // command prefix -> error
}

func (m *mac) Output(name string, args ...string) (string, error) {
	line := strings.Join(append([]string{name}, args...), " ")
	m.ran = append(m.ran, line)
	for prefix, err := range m.failWith {
		if strings.HasPrefix(line, prefix) {
			return "", err
		}
	}
	switch {
	case line == "pulumi whoami --json":
		return fmt.Sprintf(`{"user": "lamina", "url": %q}`, m.backend), nil
	case strings.HasPrefix(line, "pulumi stack export --show-secrets"):
		return m.state, nil
	case name == "kubectl" && slices.Contains(args, "get"):
		i := slices.Index(args, "--namespace")
		release := strings.TrimPrefix(args[slices.Index(args, "--selector")+1], "owner=helm,name=")
		var items []map[string]any
		for _, r := range m.records[args[i+1]+"/"+release] {
			items = append(items, map[string]any{"metadata": map[string]any{"name": r.Name,
				"labels": map[string]string{"owner": "helm", "name": release, "status": r.Status, "version": r.Version}}})
		}
		data, _ := json.Marshal(map[string]any{"items": items})
		return string(data), nil
	}
	return "", nil
}

func (m *mac) DockerDelete(host, path string) (int, error) {
	m.ran = append(m.ran, "DELETE "+host+path)
	if !m.docker[host+path] {
		return 404, nil
	}
	delete(m.docker, host+path)
	return 204, nil
}

func (m *mac) Processes() ([]Process, error) { return m.procs, nil }
func (m *mac) Listening(addr string) bool    { return m.engines[addr] }
func (m *mac) Stop(pid int) error            { m.stopped = append(m.stopped, pid); return nil }
func (m *mac) Alive(pid int) bool            { return m.alive[pid] }
func (m *mac) Hostname() string              { return "studio" }
func (m *mac) ReadFile(path string) ([]byte, error) {
	if c, ok := m.locks[path]; ok {
		return []byte(c), nil
	}
	return nil, os.ErrNotExist
}
func (m *mac) Remove(path string) error {
	m.ran = append(m.ran, "rm "+path)
	delete(m.locks, path)
	return nil
}
func (m *mac) Glob(pattern string) ([]string, error) {
	var found []string
	for file := range m.locks {
		if ok, _ := filepath.Match(pattern, file); ok {
			found = append(found, file)
		}
	}
	return found, nil
}

const lockDir = "/Users/lamina/.pulumi/locks/organization/lamina-infra/development/"

func lockOf(pid int, host string) string {
	return fmt.Sprintf(`{"pid":%d,"username":"lamina","hostname":%q,"timestamp":"2026-12-07T05:04:36Z"}`, pid, host)
}

const (
	k8sProvider = "urn:pulumi:development::lamina-infra::lamina:cluster:Cluster$pulumi:providers:kubernetes::k8s"
	certManager = "urn:pulumi:development::lamina-infra::lamina:certmanager:CertManager$kubernetes:helm.sh/v3:Release::cert-manager"
	llmService  = "urn:pulumi:development::lamina-infra::lamina:llmserve:LLMServe$kubernetes:core/v1:Service::llm-serve-service"
)

// exported is a stack export whose provider holds a secret kubeconfig, as
// `pulumi stack export --show-secrets` writes it, with the given pending operations.
func exported(t *testing.T, pending ...pending) string {
	t.Helper()
	kubeconfig, _ := json.Marshal("apiVersion: v1\nkind: Config\n")
	data, err := json.Marshal(map[string]any{"version": 3, "deployment": map[string]any{
		"resources": []map[string]any{{
			"urn": k8sProvider, "id": "0b7a", "type": "pulumi:providers:kubernetes",
			"inputs": map[string]any{"context": "colima-lamina", "kubeconfig": map[string]any{secretSig: "1b47061264138c4ac30d75fd1eb44270", "plaintext": string(kubeconfig)}},
		}},
		"pending_operations": pending,
	}})
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func creating(urn, typ string, inputs map[string]any) pending {
	return pending{Type: "creating", Resource: resource{URN: urn, Type: typ, Inputs: inputs, Provider: k8sProvider + "::0b7a"}}
}

// killed is a Mac right after pulumi up was killed with 2 resources in flight: the
// lock of the dead CLI, its plugins still running, a plugin of another stack's live
// run, and the release an orphan finished installing.
func killed(t *testing.T) *mac {
	return &mac{
		backend: "file:///Users/lamina",
		locks:   map[string]string{lockDir + "7f3c.json": lockOf(11490, "studio")},
		procs: []Process{
			{PID: 1, Args: []string{"/sbin/launchd"}},
			{PID: 11598, Args: []string{"/opt/homebrew/bin/pulumi-language-go", "127.0.0.1:38633"}},
			{PID: 11895, Args: []string{"/Users/lamina/.pulumi/plugins/resource-kubernetes-v4.25.0/pulumi-resource-kubernetes", "127.0.0.1:38633"}},
			{PID: 20001, Args: []string{"/Users/lamina/.pulumi/plugins/resource-kubernetes-v4.25.0/pulumi-resource-kubernetes", "127.0.0.1:40100"}},
			{PID: 20002, Args: []string{"/usr/bin/vim", "127.0.0.1:38633"}},
		},
		engines: map[string]bool{"127.0.0.1:40100": true},
		alive:   map[int]bool{20001: true},
		state: exported(t,
			creating(certManager, Release, map[string]any{"name": "cert-manager", "namespace": "cert-manager", "chart": "cert-manager"}),
			creating(llmService, "kubernetes:core/v1:Service", map[string]any{"metadata": map[string]any{"name": "llm-serve"}}),
		),
		records: map[string][]helmRecord{"cert-manager/cert-manager": {{"sh.helm.release.v1.cert-manager.v1", "deployed", "1"}}},
	}
}

func TestAKilledUpIsRepairedWithoutDeletingAnObject(t *testing.T) {
	m := killed(t)
	var out strings.Builder
	if err := Recover(m, "development", &out); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.stopped, []int{11598, 11895}) {
		t.Errorf("stopped %v; want the two plugins of the dead engine, not another run's or a non-plugin", m.stopped)
	}
	var changes []string
	for _, line := range m.ran {
		if strings.Contains(line, " delete ") || strings.HasPrefix(line, "pulumi cancel") || strings.HasPrefix(line, "pulumi refresh") {
			changes = append(changes, strings.Join(slices.DeleteFunc(strings.Fields(line), func(w string) bool { return strings.HasSuffix(w, ".kubeconfig") }), " "))
		}
	}
	want := []string{
		"kubectl --kubeconfig --context colima-lamina delete secret --namespace cert-manager sh.helm.release.v1.cert-manager.v1",
		"pulumi cancel --yes -s development",
		"pulumi refresh --clear-pending-creates --yes --skip-preview --non-interactive -s development",
	}
	if !slices.Equal(changes, want) {
		t.Errorf("changes:\n%s\nwant:\n%s", strings.Join(changes, "\n"), strings.Join(want, "\n"))
	}
	for _, line := range []string{
		"stopped pulumi-resource-kubernetes (pid 11895): a plugin of a pulumi run that is gone",
		"forgot Helm's record of release cert-manager/cert-manager revision 1 (deployed); its objects stay for the next install",
		"removed the lock of pulumi (pid 11490, started 2026-12-07T05:04:36Z), which is gone",
		"stack development is repaired",
	} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("the report lacks %q:\n%s", line, out.String())
		}
	}
	// The kubeconfig file recovery wrote for kubectl is gone again.
	for _, line := range m.ran {
		for _, w := range strings.Fields(line) {
			if strings.HasSuffix(w, ".kubeconfig") {
				if _, err := os.Stat(w); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("the provider's kubeconfig was left at %s", w)
				}
			}
		}
	}
}

func TestRecoveryChangesNothingWhileARunHoldsTheStack(t *testing.T) {
	for name, c := range map[string]struct {
		lock, want string
		alive      bool
	}{
		"a live pulumi on this Mac":   {lockOf(11490, "studio"), "stack development is in use: pulumi (pid 11490, started 2026-12-07T05:04:36Z) still runs on it", true},
		"a lock from another machine": {lockOf(11490, "build-box"), "locked by lamina@build-box (pid 11490, started 2026-12-07T05:04:36Z), on another machine; if no pulumi runs there any more, run: pulumi cancel --yes -s development", false},
	} {
		t.Run(name, func(t *testing.T) {
			m := killed(t)
			m.locks[lockDir+"7f3c.json"] = c.lock
			m.alive[11490] = c.alive
			err := Recover(m, "development", &strings.Builder{})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v; want %q", err, c.want)
			}
			if len(m.stopped) > 0 || !slices.Equal(m.ran, []string{"pulumi whoami --json"}) {
				t.Errorf("it changed something: stopped %v, ran %v", m.stopped, m.ran)
			}
		})
	}
}

func TestAStackThatEndedNormallyIsLeftAlone(t *testing.T) {
	m := killed(t)
	m.locks, m.procs, m.state = map[string]string{}, nil, exported(t)
	var out strings.Builder
	if err := Recover(m, "development", &out); err != nil {
		t.Fatal(err)
	}
	if out.Len() > 0 || !slices.Equal(m.ran, []string{"pulumi whoami --json", "pulumi stack export --show-secrets -s development"}) {
		t.Errorf("it did more than look: %v\n%s", m.ran, out.String())
	}
}

func TestAnInterruptedUpgradeLosesOnlyItsRevision(t *testing.T) {
	m := killed(t)
	op := creating(certManager, Release, map[string]any{"name": "cert-manager", "namespace": "cert-manager"})
	op.Type = "updating"
	m.state = exported(t, op)
	m.records["cert-manager/cert-manager"] = []helmRecord{
		{"sh.helm.release.v1.cert-manager.v1", "superseded", "1"},
		{"sh.helm.release.v1.cert-manager.v2", "deployed", "2"},
		{"sh.helm.release.v1.cert-manager.v3", "pending-upgrade", "3"},
	}
	if err := Recover(m, "development", &strings.Builder{}); err != nil {
		t.Fatal(err)
	}
	var deleted []string
	for _, line := range m.ran {
		if strings.Contains(line, " delete secret ") {
			deleted = append(deleted, line[strings.LastIndex(line, " ")+1:])
		}
		if strings.HasPrefix(line, "pulumi refresh") {
			t.Errorf("nothing was being created, yet it ran %s", line)
		}
	}
	if !slices.Equal(deleted, []string{"sh.helm.release.v1.cert-manager.v3"}) {
		t.Errorf("deleted %v; want only the interrupted revision", deleted)
	}
}

func TestARecoveryThatCannotReachTheClusterStopsBeforeTheLock(t *testing.T) {
	m := killed(t)
	m.failWith = map[string]error{"kubectl": errors.New("exit status 1: Unable to connect to the server")}
	err := Recover(m, "development", &strings.Builder{})
	if err == nil || !strings.Contains(err.Error(), "reading Helm's records of release cert-manager/cert-manager: exit status 1: Unable to connect to the server") {
		t.Fatalf("got %v", err)
	}
	for _, line := range m.ran {
		if strings.HasPrefix(line, "pulumi cancel") || strings.HasPrefix(line, "pulumi refresh") {
			t.Errorf("it went on after the failure: %s", line)
		}
	}
}

func TestLocalBackendDirectories(t *testing.T) {
	home, _ := os.UserHomeDir()
	for raw, want := range map[string]string{
		"file:///Users/lamina/state": "/Users/lamina/state",
		"file://~":                   home,
		"file://~/pulumi":            filepath.Join(home, "pulumi"),
		"https://api.pulumi.com":     "",
	} {
		got, ok := localBackend(raw)
		if got != want || ok != (want != "") {
			t.Errorf("localBackend(%q) = %q, %v; want %q", raw, got, ok, want)
		}
	}
}

func TestAKilledUpOfTheDockerTargetLosesItsUnrecordedContainersAndNetworks(t *testing.T) {
	m := killed(t)
	const (
		socket   = "unix:///Users/lamina/.colima/lamina-compact/docker.sock"
		provider = "urn:pulumi:compact::lamina-infra::pulumi:providers:docker::docker"
	)
	doc := map[string]any{"version": 3, "deployment": map[string]any{
		"resources": []map[string]any{{"urn": provider, "id": "9c1e", "type": "pulumi:providers:docker", "inputs": map[string]any{"host": socket}}},
		"pending_operations": []pending{
			{Type: "creating", Resource: resource{URN: "urn:pulumi:compact::lamina-infra::lamina:dockermesh:Service$docker:index/network:Network::chromadb-private", Type: Network, Inputs: map[string]any{"name": "lamina-chromadb-private"}, Provider: provider + "::9c1e"}},
			{Type: "creating", Resource: resource{URN: "urn:pulumi:compact::lamina-infra::lamina:dockermesh:Service$docker:index/container:Container::chromadb", Type: Container, Inputs: map[string]any{"name": "lamina-chromadb"}, Provider: provider + "::9c1e"}},
			{Type: "creating", Resource: resource{URN: "urn:pulumi:compact::lamina-infra::lamina:dockermesh:Service$docker:index/container:Container::core", Type: Container, Inputs: map[string]any{"name": "lamina-core"}, Provider: provider + "::9c1e"}},
			{Type: "creating", Resource: resource{URN: "urn:pulumi:compact::lamina-infra::lamina:dockermesh:Service$docker:index/volume:Volume::chromadb-files", Type: "docker:index/volume:Volume", Inputs: map[string]any{"name": "lamina-chromadb-files"}, Provider: provider + "::9c1e"}},
		},
	}}
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	m.state = string(data)
	// The killed run made the chromadb network and container; core's create never reached the daemon.
	m.docker = map[string]bool{socket + "/containers/lamina-chromadb?force=true": true, socket + "/networks/lamina-chromadb-private": true}
	var out strings.Builder
	if err := Recover(m, "compact", &out); err != nil {
		t.Fatal(err)
	}
	var deletes []string
	for _, line := range m.ran {
		if strings.HasPrefix(line, "DELETE ") {
			deletes = append(deletes, strings.TrimPrefix(line, "DELETE "+socket))
		}
	}
	// Containers before the network they join; the volume is never removed.
	if want := []string{"/containers/lamina-chromadb?force=true", "/containers/lamina-core?force=true", "/networks/lamina-chromadb-private"}; !slices.Equal(deletes, want) {
		t.Errorf("asked the daemon to delete %v; want %v", deletes, want)
	}
	if len(m.docker) > 0 {
		t.Errorf("left %v", m.docker)
	}
	for _, line := range []string{"removed the container lamina-chromadb", "removed the network lamina-chromadb-private"} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("the report lacks %q:\n%s", line, out.String())
		}
	}
	if strings.Contains(out.String(), "lamina-core,") || strings.Contains(out.String(), "container lamina-core") {
		t.Errorf("it reports removing a container the daemon did not have:\n%s", out.String())
	}
}

func TestACheckpointWhoseAttributesTheKillCutShortReadsAgain(t *testing.T) {
	m := killed(t)
	const stacks = "/Users/lamina/.pulumi/stacks/lamina-infra/"
	m.locks[stacks+"development.json.attrs"] = ""
	m.locks[stacks+"development.json.bak.attrs"] = `{"user.content_type":"application/octet-stream","md5":"NE/WM/oH+FI3+jzfecZtOA=="}` + "\n"
	var out strings.Builder
	if err := Recover(m, "development", &out); err != nil {
		t.Fatal(err)
	}
	export := slices.Index(m.ran, "pulumi stack export --show-secrets -s development")
	removed := slices.Index(m.ran, "rm "+stacks+"development.json.attrs")
	if removed < 0 || export < removed {
		t.Errorf("the empty attributes file was not removed before the state was read: %v", m.ran)
	}
	if _, ok := m.locks[stacks+"development.json.bak.attrs"]; !ok {
		t.Errorf("a whole attributes file was removed")
	}
	if !strings.Contains(out.String(), "development.json.attrs, which the kill cut short (0 bytes)") {
		t.Errorf("the report does not say so:\n%s", out.String())
	}
}
