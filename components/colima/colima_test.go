// Tests of the colima component on its own, for what stacks/colima_test.go (which runs
// the scripts through the whole program on a fake Mac) does not reach: the Docker
// target's VM, started without Kubernetes; the environment that only a krunkit VM's or
// the Docker target's command gets; the start command beside the VM's, which only starts
// it and deletes nothing; the outputs read from the VM command's summary; the start
// command line the doctor prints, which a shell reads back as the start the program
// runs; and the Observer's bookkeeping of a profile: what a preview keeps and what it
// does not, and a state file it cannot read. The resources are declared under Pulumi's
// mocks (internal/recorder).
package colima_test

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lamina-os/lamina-infra/components/colima"
	"github.com/lamina-os/lamina-infra/internal/recorder"
	"github.com/lamina-os/lamina-infra/internal/recorder/recordertest"
)

const commandType = "command:local:Command"

// summary is what the VM's command prints on stdout.
const summary = "profile=lamina-test\naddress=192.168.64.7\ndocker_host=unix:///Users/me/.colima/lamina-test/docker.sock\nsettings=12345\ngeneration=created-1\n"

// base is a Kubernetes VM of every setting, on a data directory whose path has a space.
func base() colima.ColimaVMArgs {
	return colima.ColimaVMArgs{
		Profile: "lamina-test", CPUs: 6, MemoryGiB: 24, DiskGiB: 120, Arch: "aarch64",
		K3sVersion: "v1.35.0+k3s1", K3sPort: 6443, PodCIDR: "10.42.0.0/16", ServiceCIDR: "10.43.0.0/16",
		DataDir: "/Users/me/Lamina Data/test", DataSubdirs: []string{"models", "grafana"},
		NodeCIDR: "192.168.64.0/24", Generation: "created-1", StartGeneration: "started-2",
	}
}

// declare runs NewColimaVM on args as edit changes them, as `pulumi up` would: the VM's
// command prints stdout. It exports the component's outputs.
func declare(t *testing.T, stdout string, edit func(a *colima.ColimaVMArgs)) (*recorder.Graph, error) {
	t.Helper()
	return recorder.Run(recorder.Options{Project: "lamina", Stack: "test", Outputs: func(r *recorder.Resource) resource.PropertyMap {
		if r.Name == "colima-vm" {
			return resource.PropertyMap{"stdout": resource.NewProperty(stdout)}
		}
		return nil
	}}, func(ctx *pulumi.Context) error {
		a := base()
		if edit != nil {
			edit(&a)
		}
		vm, err := colima.NewColimaVM(ctx, "colima", a)
		if err != nil {
			return err
		}
		ctx.Export("profile", vm.Profile)
		ctx.Export("kubeContext", vm.KubeContext)
		ctx.Export("address", vm.Address)
		ctx.Export("dockerHost", vm.DockerHost)
		ctx.Export("state", vm.State)
		ctx.Export("dataDir", vm.DataDir)
		return nil
	})
}

func command(t *testing.T, g *recorder.Graph, name string) *recorder.Resource {
	t.Helper()
	r := g.Find(commandType, name)
	require.NotNil(t, r, "command %s", name)
	return r
}

// The Docker target's VM runs the docker runtime alone: `colima start` says
// --kubernetes=false (Colima would take a saved --kubernetes otherwise) and gets no k3s
// version, argument or port; its commands alone are told LAMINA_KUBERNETES=false, so a
// Kubernetes VM's commands keep the inputs they had.
func TestDockerTargetStartsTheVMWithoutKubernetes(t *testing.T) {
	a := base()
	a.NoKubernetes = true
	want := []string{"--profile=lamina-test", "--hostname=colima-lamina-test", "--runtime=docker", "--vm-type=vz", "--arch=aarch64",
		"--cpus=6", "--memory=24", "--disk=120", "--kubernetes=false",
		"--network-address", "--port-forwarder=none", "--mount-type=virtiofs", "--mount=/Users/me/Lamina Data/test:w",
		"--dns=", "--activate=false"}
	assert.Equal(t, want, a.StartArgs())

	g, err := declare(t, summary, func(a *colima.ColimaVMArgs) { a.NoKubernetes = true })
	require.NoError(t, err)
	for _, name := range []string{"colima-vm", "colima-start"} {
		e := recordertest.Env(t, command(t, g, name))
		assert.Equal(t, "false", e["LAMINA_KUBERNETES"], name)
		assert.Equal(t, strings.Join(want, "\n"), e["LAMINA_START_ARGS"], name)
	}

	g, err = declare(t, summary, nil)
	require.NoError(t, err)
	for _, name := range []string{"colima-vm", "colima-start"} {
		assert.NotContains(t, recordertest.Env(t, command(t, g, name)), "LAMINA_KUBERNETES", name)
	}
}

// A krunkit VM's commands get its type and the text Colima's network helper needs in
// /etc/sudoers.d; a vz VM's, whether vz is said or left to the default, get neither, so
// that they keep the inputs they had. krunkit mounts the data directory with sshfs.
func TestOnlyAKrunkitVMsCommandsGetItsTypeAndTheSudoersText(t *testing.T) {
	for _, vmType := range []string{"", "vz"} {
		g, err := declare(t, summary, func(a *colima.ColimaVMArgs) { a.VMType = vmType })
		require.NoError(t, err)
		e := recordertest.Env(t, command(t, g, "colima-vm"))
		assert.NotContains(t, e, "LAMINA_VM_TYPE", "vm type %q", vmType)
		assert.NotContains(t, e, "LAMINA_COLIMA_SUDOERS", "vm type %q", vmType)
		assert.Contains(t, strings.Split(e["LAMINA_START_ARGS"].(string), "\n"), "--vm-type=vz", "vm type %q", vmType)
		assert.Contains(t, strings.Split(e["LAMINA_START_ARGS"].(string), "\n"), "--mount-type=virtiofs", "vm type %q", vmType)
	}

	g, err := declare(t, summary, func(a *colima.ColimaVMArgs) { a.VMType = "krunkit" })
	require.NoError(t, err)
	for _, name := range []string{"colima-vm", "colima-start"} {
		e := recordertest.Env(t, command(t, g, name))
		assert.Equal(t, "krunkit", e["LAMINA_VM_TYPE"], name)
		assert.Equal(t, colima.SudoersText, e["LAMINA_COLIMA_SUDOERS"], name)
		assert.Contains(t, strings.Split(e["LAMINA_START_ARGS"].(string), "\n"), "--mount-type=sshfs", name)
	}
	assert.NotEmpty(t, colima.SudoersText)
}

// Beside the VM's command, which owns the profile (it creates, resizes and deletes it,
// and runs again for another Generation), the start command runs the same script with
// the same settings, after the VM's, but only to start a stopped VM (LAMINA_START_ONLY),
// again for another StartGeneration; it deletes nothing and is neither protected nor
// replaced delete-first, whatever the VM's options.
func TestTheStartCommandOnlyStartsTheVMAfterItsCommand(t *testing.T) {
	g, err := declare(t, summary, func(a *colima.ColimaVMArgs) { a.Protect = true })
	require.NoError(t, err)
	vm, start := command(t, g, "colima-vm"), command(t, g, "colima-start")
	for _, r := range []*recorder.Resource{vm, start} {
		assert.Equal(t, []any{"/bin/bash", "-c"}, r.Inputs["interpreter"], r.Name)
		assert.Equal(t, colima.EnsureScript, r.Inputs["create"], r.Name)
		assert.Equal(t, colima.EnsureScript, r.Inputs["update"], r.Name)
		assert.Equal(t, "urn:pulumi:test::lamina::lamina:colima:ColimaVM::colima", r.Parent, r.Name)
	}
	assert.Equal(t, colima.DeleteScript, vm.Inputs["delete"])
	assert.True(t, vm.Protect)
	assert.Nil(t, start.Inputs["delete"], "destroying the start does nothing; the VM's command deletes the profile")
	assert.False(t, start.Protect)
	assert.False(t, start.DeleteBeforeReplace)
	assert.Nil(t, start.Inputs["triggers"])
	assert.Equal(t, []string{vm.URN}, start.Dependencies)

	vmEnv, startEnv := recordertest.Env(t, vm), recordertest.Env(t, start)
	assert.Equal(t, "created-1", vmEnv["LAMINA_VM_GENERATION"])
	assert.NotContains(t, vmEnv, "LAMINA_START_ONLY", "the VM's command applies settings, restarting the VM")
	assert.Equal(t, "started-2", startEnv["LAMINA_VM_GENERATION"])
	assert.Equal(t, "1", startEnv["LAMINA_START_ONLY"])
	for k, v := range vmEnv {
		if k != "LAMINA_VM_GENERATION" {
			assert.Equal(t, v, startEnv[k], "%s: the start is of the VM the VM's command made", k)
		}
	}
	assert.Len(t, startEnv, len(vmEnv)+1)
	assert.Equal(t, "models\ngrafana", vmEnv["LAMINA_DATA_SUBDIRS"])
	assert.Equal(t, "/Users/me/Lamina Data/test", vmEnv["LAMINA_DATA_DIR"])
}

// The VM's address and Docker socket are the summary's address= and docker_host= lines
// (a line whose key merely starts with one is not it), its state the whole summary; the
// profile, kube context and data directory are known from the arguments. A summary
// without one of the lines fails the run, showing what the command printed.
func TestOutputsAreReadFromTheVMCommandsSummary(t *testing.T) {
	g, err := declare(t, "address_v6=fe80::1\n"+summary, nil)
	require.NoError(t, err)
	assert.Equal(t, "192.168.64.7", g.Outputs["address"])
	assert.Equal(t, "unix:///Users/me/.colima/lamina-test/docker.sock", g.Outputs["dockerHost"])
	assert.Equal(t, "address_v6=fe80::1\n"+summary, g.Outputs["state"])
	assert.Equal(t, "lamina-test", g.Outputs["profile"])
	assert.Equal(t, "colima-lamina-test", g.Outputs["kubeContext"])
	assert.Equal(t, "/Users/me/Lamina Data/test", g.Outputs["dataDir"])

	_, err = declare(t, "profile=lamina-test\naddress=192.168.64.7\n", nil)
	assert.ErrorContains(t, err, "the Colima VM command printed no docker_host= line; its output was:\nprofile=lamina-test\naddress=192.168.64.7\n")
}

// The start command line the doctor prints for a user to paste is, read back by a
// shell, exactly the start the program runs, with a data directory whose path has a
// space and a quote in it.
func TestStartCommandIsTheStartAShellReadsBack(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("needs bash")
	}
	a := base()
	a.DataDir = "/Users/me/Lamina Data/o'brien"
	a.DNS = []string{"1.1.1.1", "9.9.9.9"}
	a.ExtraK3sArgs = []string{"--kubelet-arg=max-pods=250"}
	out, err := exec.Command(bash, "-c", `eval "set -- $0"; printf '%s\n' "$@"`, a.StartCommand()).Output()
	require.NoError(t, err)
	assert.Equal(t, append([]string{"colima", "start"}, a.StartArgs()...), strings.Split(strings.TrimSuffix(string(out), "\n"), "\n"))
	assert.Contains(t, a.StartArgs(), "--mount=/Users/me/Lamina Data/o'brien:w")
}

// fakeMac answers `colima list --json` and `colima status` for profile lamina-test in
// status ("": absent), whose Docker daemon, served on a unix socket, has the ID daemon.
type fakeMac struct {
	status string
	daemon string
	socket string
}

func newFakeMac(t *testing.T) *fakeMac {
	t.Helper()
	dir, err := os.MkdirTemp("", "dockerd") // short: a unix socket's path is limited
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	m := &fakeMac{socket: filepath.Join(dir, "docker.sock")}
	l, err := net.Listen("unix", m.socket)
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/info" {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"ID": m.daemon})
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return m
}

func (m *fakeMac) colima(args ...string) ([]byte, error) {
	switch args[0] {
	case "list":
		if m.status == "" {
			return []byte(`{"name":"other","status":"Running"}` + "\n"), nil
		}
		return []byte(`{"name":"other","status":"Running"}` + "\n" + `{"name":"lamina-test","status":"` + m.status + `"}` + "\n"), nil
	case "status":
		return []byte(`{"docker_socket":"unix://` + m.socket + `"}`), nil
	}
	return nil, errors.New("unexpected colima " + strings.Join(args, " "))
}

// observer observes m at 08:00 on the day of the test, keeping its files in dir.
func observer(m *fakeMac, dir string) colima.Observer {
	return colima.Observer{Colima: m.colima, Dir: dir, Now: func() time.Time { return time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC) }}
}

// kept reads what the Observer keeps of lamina-test; nil when it keeps nothing.
func kept(t *testing.T, dir string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "lamina-test.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, json.Unmarshal(data, &out))
	return out
}

// A profile that does not exist: a preview says the next up creates it and builds the
// images on the new VM, and keeps nothing, so that every preview says so until an up;
// an up stamps both and keeps them, readable by the Mac user only.
func TestAnAbsentProfileIsAnnouncedByAPreviewAndKeptByAnUp(t *testing.T) {
	m := newFakeMac(t)
	dir := filepath.Join(t.TempDir(), "colima")
	o := observer(m, dir)

	for range 2 {
		generation, daemon, err := o.Observe("lamina-test", true)
		require.NoError(t, err)
		assert.Equal(t, "the next up creates the profile", generation)
		assert.True(t, colima.WillStart(generation))
		assert.Equal(t, "the next up builds the images on a new VM", daemon)
		assert.Nil(t, kept(t, dir), "a preview keeps no change")
	}

	generation, daemon, err := o.Observe("lamina-test", false)
	require.NoError(t, err)
	assert.Equal(t, "2026-12-01T08:00:00Z: profile absent", generation)
	assert.False(t, colima.WillStart(generation))
	assert.Equal(t, "2026-12-01T08:00:00Z: a new VM", daemon)
	assert.Equal(t, map[string]any{"generation": generation, "daemon": daemon, "dockerID": ""}, kept(t, dir))
	info, err := os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), info.Mode().Perm())
	info, err = os.Stat(filepath.Join(dir, "lamina-test.json"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
}

// The first look at a running VM, a preview's too, keeps its Docker daemon's ID without
// changing anything, so that a VM made anew behind Pulumi's back before any up is told
// apart: a preview then announces the images' build without keeping it, and an up
// stamps and keeps it.
func TestTheFirstLookAtARunningVMKeepsItsDaemonEvenInAPreview(t *testing.T) {
	m := newFakeMac(t)
	m.status, m.daemon = "Running", "DAEMON-1"
	dir := filepath.Join(t.TempDir(), "colima")
	o := observer(m, dir)

	generation, daemon, err := o.Observe("lamina-test", true)
	require.NoError(t, err)
	assert.Equal(t, [2]string{"", ""}, [2]string{generation, daemon}, "nothing to do")
	assert.Equal(t, map[string]any{"generation": "", "daemon": "", "dockerID": "DAEMON-1"}, kept(t, dir))

	m.daemon = "DAEMON-2"
	_, daemon, err = o.Observe("lamina-test", true)
	require.NoError(t, err)
	assert.Equal(t, "the next up builds the images again on Docker daemon DAEMON-2", daemon)
	assert.Equal(t, "DAEMON-1", kept(t, dir)["dockerID"], "a preview keeps no change")

	_, daemon, err = o.Observe("lamina-test", false)
	require.NoError(t, err)
	assert.Equal(t, "2026-12-01T08:00:00Z: Docker daemon DAEMON-2", daemon)
	assert.Equal(t, map[string]any{"generation": "", "daemon": daemon, "dockerID": "DAEMON-2"}, kept(t, dir))
}

// A state file that is not what the Observer writes is an error naming it and what to
// do, not a VM silently taken for new.
func TestAStateFileTheObserverCannotReadIsAnError(t *testing.T) {
	m := newFakeMac(t)
	m.status, m.daemon = "Running", "DAEMON-1"
	dir := t.TempDir()
	path := filepath.Join(dir, "lamina-test.json")
	require.NoError(t, os.WriteFile(path, []byte("{not json"), 0o600))
	_, _, err := observer(m, dir).Observe("lamina-test", false)
	require.Error(t, err)
	assert.Contains(t, err.Error(), path+": ")
	assert.Contains(t, err.Error(), "(remove it; the next up starts the VM if it must)")
}
