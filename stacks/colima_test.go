package stacks_test

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lamina-os/lamina-infra/components/colima"
	"github.com/lamina-os/lamina-infra/internal/recorder"
	"github.com/lamina-os/lamina-infra/stacks"
	"github.com/lamina-os/lamina-infra/stacks/config"
)

// withDataDir points a stack's data directory at a temporary path with a space in it, so
// that every script meets a path that needs quoting. The program refuses data
// directories under /tmp (macOS empties it), and the repository itself may sit there in
// CI, so the directory lives under the user's cache or home directory and goes away with
// the test.
func withDataDir(t *testing.T, stack string, overrides map[string]string) (map[string]string, string) {
	var base string
	for _, dir := range []func() (string, error){os.UserCacheDir, os.UserHomeDir} {
		if d, err := dir(); err == nil && !strings.HasPrefix(d, "/tmp") && !strings.HasPrefix(d, os.TempDir()) {
			base = d
			break
		}
	}
	if base == "" {
		t.Skip("needs a cache or home directory outside /tmp: the program refuses data directories under temporary directories")
	}
	require.NoError(t, os.MkdirAll(filepath.Join(base, "lamina-tests"), 0o755))
	root, err := os.MkdirTemp(filepath.Join(base, "lamina-tests"), ".data-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(root) })
	dir := filepath.Join(root, "Lamina Data", stack)
	if overrides == nil {
		overrides = map[string]string{}
	}
	overrides["lamina:data"] = `{"dir":"` + dir + `"}`
	return overrides, dir
}

// The VM is started with exactly the flags the stack's configuration asks for, and the
// data directory tree exists before it starts.
func TestColimaStartsTheVMWithTheConfiguredFlags(t *testing.T) {
	for _, tc := range []struct {
		stack                         string
		profile, cpus, memory, disk   string
		extraK3sArgs, dns, extraFlags []string
	}{
		{stack: "development", profile: "lamina-development", cpus: "12", memory: "128", disk: "200",
			extraK3sArgs: []string{"--kubelet-arg=max-pods=250"}, dns: []string{"1.1.1.1", "9.9.9.9"}},
		{stack: "production", profile: "lamina-production", cpus: "16", memory: "256", disk: "500"},
	} {
		t.Run(tc.stack, func(t *testing.T) {
			mac := newFakeMac(t, "colima", "kubectl")
			overrides, dataDir := withDataDir(t, tc.stack, nil)
			src := stackSource(t, tc.stack, overrides)
			if tc.extraK3sArgs != nil {
				src.Values["lamina:colima"] = section(t, src, "lamina:colima", map[string]any{"k3sArgs": tc.extraK3sArgs, "dns": tc.dns})
			}
			g := deploy(t, src, mac)

			// Every setting the program owns, each time: Colima takes any flag left out
			// from the profile's saved settings (cmd/start.go prepareConfig at v0.10.3).
			want := []string{"start", "--profile=" + tc.profile, "--hostname=colima-" + tc.profile, "--runtime=docker", "--vm-type=vz", "--arch=aarch64",
				"--cpus=" + tc.cpus, "--memory=" + tc.memory, "--disk=" + tc.disk,
				"--kubernetes", "--kubernetes-version=v1.35.0+k3s1",
				"--network-address", "--port-forwarder=none", "--mount-type=virtiofs", "--mount=" + dataDir + ":w",
				"--k3s-arg=--disable=traefik", "--k3s-arg=--disable=servicelb",
				"--k3s-arg=--cluster-cidr=10.42.0.0/16", "--k3s-arg=--service-cidr=10.43.0.0/16"}
			for _, a := range tc.extraK3sArgs {
				want = append(want, "--k3s-arg="+a)
			}
			if len(tc.dns) == 0 {
				want = append(want, "--dns=") // clears servers an earlier start saved
			}
			for _, ip := range tc.dns {
				want = append(want, "--dns="+ip)
			}
			want = append(want, "--k3s-listen-port=6443", "--activate=false")
			cfg, err := config.Load(src, nil)
			require.NoError(t, err)
			assert.Equal(t, want[1:], stacks.ColimaArgs(cfg).StartArgs(), "the doctor prints the start the program runs")
			starts := mac.callsOf("colima", "start")
			require.Len(t, starts, 1)
			assert.Equal(t, want, starts[0])

			for _, sub := range []string{"models", "prometheus", "loki", "grafana", "chromadb"} {
				assert.DirExists(t, filepath.Join(dataDir, sub))
			}
			assert.Equal(t, map[string]any{"address": "192.168.64.5", "cpus": float64(mustAtoi(tc.cpus)),
				"memoryGiB": float64(mustAtoi(tc.memory)), "diskGiB": float64(mustAtoi(tc.disk))}, g.Outputs["vm"])
			assert.Equal(t, "unix://"+mac.home+"/.colima/"+tc.profile+"/docker.sock", g.Outputs["dockerHost"])
			assert.Equal(t, []any{"colima-" + tc.profile}, g.Outputs["nodes"])
		})
	}
}

// Each state the profile can be in leads to the right colima calls, and what Colima
// cannot change is refused before anything is touched.
func TestColimaEnsureScriptBranches(t *testing.T) {
	type existing struct {
		status             string
		cpus, memory, disk int
		arch               string
	}
	for _, tc := range []struct {
		name     string
		existing *existing
		env      map[string]string
		code     int
		calls    []string // colima subcommands that change something, in order
		stderr   string
	}{
		{name: "absent profile is created", calls: []string{"start"}, stderr: "creating Colima profile lamina-development: 12 cores, 128 GiB memory, 200 GiB disk"},
		{name: "stopped profile is started", existing: &existing{"Stopped", 12, 128, 200, "aarch64"}, calls: []string{"start"}, stderr: "starting stopped Colima profile lamina-development"},
		{name: "running profile of the right size is left alone", existing: &existing{"Running", 12, 128, 200, "aarch64"}, stderr: "running with the requested settings; left alone"},
		{name: "more cores restart the VM", existing: &existing{"Running", 8, 128, 200, "aarch64"}, calls: []string{"stop", "start"}, stderr: "restarting Colima profile lamina-development to apply: cores 8 -> 12;"},
		{name: "other memory restarts the VM", existing: &existing{"Running", 12, 64, 200, "aarch64"}, calls: []string{"stop", "start"}, stderr: "to apply: memory 64 -> 128 GiB;"},
		{name: "a bigger disk is applied", existing: &existing{"Running", 12, 128, 100, "aarch64"}, calls: []string{"stop", "start"}, stderr: "to apply: disk 100 -> 200 GiB;"},
		{name: "a smaller disk is refused", existing: &existing{"Running", 12, 128, 300, "aarch64"}, code: 1,
			stderr: "lamina: error: lamina:colima.diskGiB is 200 GiB but profile lamina-development already has a 300 GiB disk, and Colima cannot shrink a disk. Nothing was changed. Set lamina:colima.diskGiB to 300 or more.\n"},
		{name: "a smaller disk is refused when stopped too", existing: &existing{"Stopped", 12, 128, 300, "aarch64"}, code: 1, stderr: "Colima cannot shrink a disk. Nothing was changed."},
		{name: "another architecture is refused", existing: &existing{"Stopped", 12, 128, 200, "x86_64"}, code: 1,
			stderr: "profile lamina-development is x86_64 but lamina:colima.arch asks for aarch64; the architecture is fixed when a VM is created. Nothing was changed."},
		{name: "changed k3s, DNS or mount settings restart the VM", existing: &existing{"Running", 12, 128, 200, "aarch64"},
			env: map[string]string{"PULUMI_COMMAND_STDOUT": "profile=lamina-development\nsettings=1\n"}, calls: []string{"stop", "start"}, stderr: "to apply: k3s, DNS, mount or port forwarding settings;"},
		{name: "a profile in another state is refused", existing: &existing{"Broken", 12, 128, 200, "aarch64"}, code: 1,
			stderr: "Colima profile lamina-development is in state 'Broken', which this program does not change"},
		{name: "a colima without --port-forwarder=none is refused", env: map[string]string{"FAKE_COLIMA_VERSION": "0.9.1"}, code: 1,
			stderr: "lamina: error: colima 0.9.1 is too old; 0.10.0 or later is needed (for --port-forwarder=none, which keeps k3s off your network): brew upgrade colima\n"},
		{name: "an unreadable colima version is refused", env: map[string]string{"FAKE_COLIMA_VERSION": "HEAD-4f2a"}, code: 1,
			stderr: "lamina: error: could not read colima's version from 'colima version'; 0.10.0 or later is needed: brew upgrade colima\n"},
		{name: "a failing colima list stops the script", env: map[string]string{"FAKE_COLIMA_LIST_FAILS": "1"}, code: 1,
			stderr: "colima list failed; see its message above"},
		{name: "an address outside the node network is reported", env: map[string]string{"FAKE_COLIMA_ADDRESS": "192.168.106.2"}, code: 1, calls: []string{"start"},
			stderr: "the VM's address 192.168.106.2 is outside lamina:cluster.nodeCIDR 192.168.64.0/24"},
		{name: "a VM without an address is reported", env: map[string]string{"FAKE_COLIMA_ADDRESS": ""}, code: 1, calls: []string{"start"},
			stderr: "Colima profile lamina-development is running without a reachable address (got ''); it is started with --network-address, which Colima supports with vz on macOS 13 or later."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mac := newFakeMac(t, "colima")
			overrides, dataDir := withDataDir(t, "development", nil)
			require.NoError(t, os.MkdirAll(dataDir, 0o755))
			vm := command(t, preview(t, stackSource(t, "development", overrides)), "colima-vm")
			if e := tc.existing; e != nil {
				mac.profile("lamina-development", e.status, e.cpus, e.memory, e.disk, e.arch)
			}
			res := mac.exec(vm, "create", tc.env)
			assert.Equal(t, tc.code, res.code, res.stderr)
			assert.Contains(t, res.stderr, tc.stderr)
			assert.Equal(t, tc.calls, mac.vmChanges())
			if tc.code == 0 {
				assert.Contains(t, res.stdout, "profile=lamina-development\naddress=192.168.64.5\ndocker_host=unix://"+mac.home+"/.colima/lamina-development/docker.sock\nsettings=")
			}
		})
	}
}

// gpuDevelopment is development on a krunkit VM with its models on the GPU: 48 GiB of
// VM memory leave the GPU 13 GiB, for the 7 GiB of models development loads.
func gpuDevelopment(t *testing.T, overrides map[string]string) *config.Source {
	t.Helper()
	src := stackSource(t, "development", overrides)
	src.Values["lamina:colima"] = section(t, src, "lamina:colima", map[string]any{"vmType": "krunkit", "memoryGiB": 48})
	src.Values["lamina:llm"] = section(t, src, "lamina:llm", map[string]any{"accelerator": "gpu",
		"resources": map[string]any{"requests": map[string]any{"cpu": "4", "memory": "6Gi"}, "limits": map[string]any{"cpu": "8", "memory": "12Gi"}}})
	return src
}

// A krunkit VM is started as Colima can start one (reverse sshfs, Colima 0.10.2, its
// network helper installed beforehand, as daemon/process/vmnet/deps.go checks it), lands
// on the helper's 192.168.106.0/24 where the stack's addresses follow it, and a VM of
// another type is refused before it is touched: Colima would keep the old type and only
// warn.
func TestColimaKrunkitVM(t *testing.T) {
	// helper lays out /opt/colima and /etc/sudoers.d as Colima 0.10 installs them; broken
	// names the part left out or wrong.
	helper := func(t *testing.T, broken string) map[string]string {
		opt, sudoers := t.TempDir(), t.TempDir()
		require.NoError(t, os.MkdirAll(filepath.Join(opt, "bin"), 0o755))
		if broken != "run" {
			require.NoError(t, os.MkdirAll(filepath.Join(opt, "run"), 0o755))
		}
		for _, bin := range []string{"socket_vmnet", "socket_vmnet_client"} {
			if broken != bin {
				require.NoError(t, os.WriteFile(filepath.Join(opt, "bin", bin), nil, 0o755))
			}
		}
		text := colima.SudoersText
		if broken == "colima 0.9" {
			// Colima 0.9's text starts socket_vmnet without the 192.168.106.1 gateway.
			text = strings.ReplaceAll(text, " --vmnet-gateway 192.168.106.1 --vmnet-dhcp-end 192.168.106.254", "")
		}
		if broken != "all" {
			require.NoError(t, os.WriteFile(filepath.Join(sudoers, "colima"), []byte(text), 0o644))
		} else {
			require.NoError(t, os.RemoveAll(filepath.Join(opt, "bin")))
		}
		return map[string]string{"LAMINA_COLIMA_OPT": opt, "LAMINA_SUDOERS_DIR": sudoers, "FAKE_COLIMA_VERSION": "0.10.3"}
	}
	const notReady = "lamina:colima.vmType is krunkit, and Colima's network helper is not ready:"
	for _, tc := range []struct {
		name     string
		existing string // "": none; else status and, after a space, the VM type it was made with
		broken   string
		env      map[string]string
		code     int
		calls    []string
		stderr   []string
	}{
		{name: "a new krunkit VM", calls: []string{"start"}},
		{name: "a stopped krunkit VM is started", existing: "Stopped krunkit", calls: []string{"start"}},
		{name: "a running vz VM is refused", existing: "Running vz", code: 1,
			stderr: []string{"profile lamina-development is a VM of type 'macOS Virtualization.Framework' but lamina:colima.vmType asks for krunkit (Krunkit); the VM type is fixed when a VM is created, and Colima keeps the old one. Nothing was changed."}},
		{name: "a stopped vz VM is refused before it starts", existing: "Stopped vz", code: 1,
			stderr: []string{"is a VM of type 'macOS Virtualization.Framework' but lamina:colima.vmType asks for krunkit"}},
		{name: "without Colima's network helper", broken: "all", code: 1,
			stderr: []string{notReady, "/bin/socket_vmnet is missing;", "/colima is missing;",
				"Colima would install it with sudo when it starts the VM, which pulumi up cannot answer, and without it the VM has no address. Nothing was changed. Run the start this stack makes once in a terminal",
				"colima start --profile=lamina-development --hostname=colima-lamina-development --runtime=docker --vm-type=krunkit --arch=aarch64 --cpus=12 --memory=48 --disk=200 --kubernetes",
				"--network-address --port-forwarder=none --mount-type=sshfs --mount=", "--activate=false; then pulumi up again."}},
		{name: "without socket_vmnet_client", broken: "socket_vmnet_client", code: 1, stderr: []string{notReady, "/bin/socket_vmnet_client is missing;"}},
		{name: "without its run directory", broken: "run", code: 1, stderr: []string{notReady, "/run is missing;"}},
		{name: "a helper from Colima 0.9", broken: "colima 0.9", code: 1,
			stderr: []string{notReady, "/colima does not hold the permissions colima 0.10.3 asks for (one from an older Colima?);"}},
		{name: "a later Colima's helper text is only a warning", broken: "colima 0.9", env: map[string]string{"FAKE_COLIMA_VERSION": "0.11.0"}, calls: []string{"start"},
			stderr: []string{"differs from what Colima 0.10.0 to 0.10.3 install; colima 0.11.0 may ask for sudo to replace it"}},
		{name: "a colima without krunkit networking", env: map[string]string{"FAKE_COLIMA_VERSION": "0.10.1"}, code: 1,
			stderr: []string{"colima 0.10.1 cannot give a krunkit VM (lamina:colima.vmType krunkit) a reachable address; 0.10.2 or later is needed: brew upgrade colima"}},
		// Colima's network failure is not fatal (daemon.go at v0.10.3): the VM runs without.
		{name: "a VM that came up without an address", env: map[string]string{"FAKE_COLIMA_ADDRESS": ""}, code: 1, calls: []string{"start"},
			stderr: []string{"Colima profile lamina-development is running without a reachable address (got ''): Colima gives a krunkit VM its address through its network helper"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mac := newFakeMac(t, "colima", "krunkit")
			overrides, dataDir := withDataDir(t, "development", nil)
			require.NoError(t, os.MkdirAll(dataDir, 0o755))
			vm := command(t, preview(t, gpuDevelopment(t, overrides)), "colima-vm")
			if status, vmType, ok := strings.Cut(tc.existing, " "); ok {
				mac.profile("lamina-development", status, 12, 48, 200, "aarch64")
				mac.vmType("lamina-development", vmType)
			}
			env := helper(t, tc.broken)
			maps.Copy(env, tc.env)
			res := mac.exec(vm, "create", env)
			assert.Equal(t, tc.code, res.code, res.stderr)
			for _, want := range tc.stderr {
				assert.Contains(t, res.stderr, want)
			}
			assert.Equal(t, tc.calls, mac.vmChanges())
			if tc.code == 0 {
				starts := mac.callsOf("colima", "start")
				require.Len(t, starts, 1)
				assert.Contains(t, starts[0], "--vm-type=krunkit")
				assert.Contains(t, starts[0], "--mount-type=sshfs", "Colima makes any other mount type 9p for krunkit, which Lima refuses")
				assert.Contains(t, starts[0], "--network-address")
				assert.NotContains(t, starts[0], "--mount-type=virtiofs")
				// The VM is on the helper's network, and so is everything the stack
				// addresses, without a key set for it.
				assert.Contains(t, res.stdout, "address=192.168.106.2\n")
			}
		})
	}
	t.Run("the stack's addresses follow the VM onto the helper's network", func(t *testing.T) {
		overrides, _ := withDataDir(t, "development", nil)
		cfg, err := config.Load(gpuDevelopment(t, overrides), nil)
		require.NoError(t, err)
		assert.Equal(t, "192.168.106.0/24", cfg.Cluster.NodeCIDR)
		assert.Equal(t, []string{"192.168.106.200-192.168.106.209"}, cfg.MetalLB.Addresses)
		assert.Equal(t, "192.168.106.200", cfg.Edge.Address)
		assert.Equal(t, []string{"192.168.106.210-192.168.106.219"}, cfg.Host.SideBySide[0].Addresses)

		src := gpuDevelopment(t, overrides)
		src.Values["lamina:cluster"] = section(t, src, "lamina:cluster", map[string]any{"nodeCIDR": "192.168.64.0/24"})
		_, err = config.Load(src, nil)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "lamina:cluster.nodeCIDR: 192.168.64.0/24 with lamina:colima.vmType krunkit: Colima puts a krunkit VM on its network helper's 192.168.106.0/24 (socket_vmnet, gateway 192.168.106.1), not on macOS's vmnet network; allowed: 192.168.106.0/24 or a network within it")
	})
	t.Run("without krunkit", func(t *testing.T) {
		mac := newFakeMac(t, "colima")
		overrides, dataDir := withDataDir(t, "development", nil)
		require.NoError(t, os.MkdirAll(dataDir, 0o755))
		res := mac.exec(command(t, preview(t, gpuDevelopment(t, overrides)), "colima-vm"), "create", helper(t, ""))
		assert.Equal(t, 127, res.code)
		assert.Contains(t, res.stderr, "krunkit not found on PATH; install it with: brew tap slp/krun && brew install krunkit")
		assert.Empty(t, mac.callsOf("colima", "start"))
	})
	t.Run("a vz stack's command is what it was", func(t *testing.T) {
		overrides, _ := withDataDir(t, "development", nil)
		vm := command(t, preview(t, stackSource(t, "development", overrides)), "colima-vm")
		_, ok := vm.Raw()["environment"].ObjectValue()["LAMINA_VM_TYPE"]
		assert.False(t, ok, "LAMINA_VM_TYPE is set only for krunkit, so existing VMs see no change")
	})
}

func TestColimaScriptsNeedColimaOnThePath(t *testing.T) {
	mac := newFakeMac(t) // no fake colima
	overrides, _ := withDataDir(t, "development", nil)
	vm := command(t, preview(t, stackSource(t, "development", overrides)), "colima-vm")
	for _, which := range []string{"create", "delete"} {
		res := mac.exec(vm, which, nil)
		assert.Equal(t, 127, res.code)
		assert.Equal(t, "lamina: error: colima not found on PATH; install it with: brew install colima\n", res.stderr)
	}
}

// The host data directory is private to the Mac user, and each subdirectory writable by
// whichever user a pod runs as; what is already there keeps its content and modes.
func TestHostDataIsPrivateAndWritableByThePods(t *testing.T) {
	mac := newFakeMac(t, "colima")
	overrides, dataDir := withDataDir(t, "development", nil)
	dashboards := filepath.Join(dataDir, "grafana", "grafana.db")
	require.NoError(t, os.MkdirAll(filepath.Dir(dashboards), 0o755))
	require.NoError(t, os.WriteFile(dashboards, []byte("dashboards"), 0o600))
	vm := command(t, preview(t, stackSource(t, "development", overrides)), "colima-vm")

	res := mac.exec(vm, "create", nil)
	require.Equal(t, 0, res.code, res.stderr)
	mode := func(path string) os.FileMode {
		info, err := os.Stat(path)
		require.NoError(t, err)
		return info.Mode().Perm()
	}
	assert.Equal(t, os.FileMode(0o700), mode(dataDir), "no other user of the Mac reaches into the data")
	for _, sub := range []string{"models", "prometheus", "loki", "grafana", "chromadb"} {
		assert.Equal(t, os.FileMode(0o777), mode(filepath.Join(dataDir, sub)), "%s is writable by any pod's user", sub)
	}
	assert.Equal(t, os.FileMode(0o600), mode(dashboards))
	content, err := os.ReadFile(dashboards)
	require.NoError(t, err)
	assert.Equal(t, "dashboards", string(content))
	assert.Contains(t, res.stderr, "host data directory "+dataDir+" is ready: private to you, its subdirectories writable by the pods")
}

// Destroy deletes the profile with its disk, which `colima delete` alone would keep for the
// next VM of the profile to reattach with its old size, images and k3s datastore (app/app.go
// Delete at v0.10.3); the data directory and what is in it stay.
func TestColimaDeleteKeepsTheHostData(t *testing.T) {
	mac := newFakeMac(t, "colima")
	overrides, dataDir := withDataDir(t, "development", nil)
	model := filepath.Join(dataDir, "models", "llama-70b.gguf")
	require.NoError(t, os.MkdirAll(filepath.Dir(model), 0o755))
	require.NoError(t, os.WriteFile(model, []byte("weights"), 0o644))
	vm := command(t, preview(t, stackSource(t, "development", overrides)), "colima-vm")

	mac.profile("lamina-development", "Running", 12, 128, 200, "aarch64")
	res := mac.exec(vm, "delete", nil)
	require.Equal(t, 0, res.code, res.stderr)
	var changes [][]string
	for _, c := range mac.calls() {
		if c[1] == "stop" || c[1] == "delete" {
			changes = append(changes, c[1:])
		}
	}
	assert.Equal(t, [][]string{{"stop", "--profile=lamina-development"}, {"delete", "--profile=lamina-development", "--force", "--data"}}, changes)
	assert.NoDirExists(t, filepath.Join(mac.colima, "lamina-development"))
	assert.FileExists(t, model)

	mac.resetLog()
	res = mac.exec(vm, "delete", nil)
	require.Equal(t, 0, res.code, res.stderr)
	assert.Contains(t, res.stderr, "Colima profile lamina-development does not exist; nothing to delete")
	assert.Empty(t, mac.callsOf("colima", "delete"))
}

// The readiness wait polls until every node is Ready, and gives up with a clear message.
func TestClusterReadyWaitIsBounded(t *testing.T) {
	g := preview(t, stackSource(t, "development", nil))
	ready := command(t, g, "cluster-ready")

	mac := newFakeMac(t, "kubectl")
	res := mac.exec(ready, "create", map[string]string{"FAKE_KUBECTL_READY_AFTER": "3"})
	require.Equal(t, 0, res.code, res.stderr)
	assert.Equal(t, "colima-lamina-development\n", res.stdout)
	var polls int
	for _, c := range mac.callsOf("kubectl", "--context=colima-lamina-development") {
		if c[1] == "get" && c[2] == "nodes" {
			polls++
		}
	}
	assert.Equal(t, 3, polls)

	mac = newFakeMac(t, "kubectl")
	res = mac.exec(ready, "create", map[string]string{"FAKE_KUBECTL_READY_AFTER": "1000000", "LAMINA_READY_TIMEOUT_SECONDS": "1"})
	assert.Equal(t, 1, res.code)
	assert.Contains(t, res.stderr, "lamina: error: timed out after 1s (lamina:cluster.readyTimeout) waiting for every node of context colima-lamina-development to be Ready; last seen: not Ready: colima-lamina-development. Look with: kubectl --context colima-lamina-development get nodes\n")

	// The volumes are pinned to the node by the name the VM was started with.
	mac = newFakeMac(t, "kubectl")
	res = mac.exec(ready, "create", map[string]string{"FAKE_KUBECTL_NODE": "lima-other"})
	assert.Equal(t, 1, res.code)
	assert.Contains(t, res.stderr, "lamina: error: context colima-lamina-development has the nodes lima-other, not colima-lamina-development, which the program names it by")

	mac = newFakeMac(t, "kubectl")
	res = mac.exec(ready, "create", map[string]string{"FAKE_KUBECTL_DOWN": "1", "LAMINA_READY_TIMEOUT_SECONDS": "1"})
	assert.Equal(t, 1, res.code)
	assert.Contains(t, res.stderr, "last seen: the API server did not answer.")

	mac = newFakeMac(t) // no kubectl
	res = mac.exec(ready, "create", nil)
	assert.Equal(t, 127, res.code)
	assert.Equal(t, "lamina: error: kubectl not found on PATH; install it with: brew install kubectl\n", res.stderr)
}

// The CNI node agent's wait asks kubectl for the DaemonSet's rollout, bounded by the
// mesh charts' timeout, and fails with the command to look further when it does not end.
func TestCNIAgentWaitIsBounded(t *testing.T) {
	g := preview(t, stackSource(t, "production", nil))
	agent := command(t, g, "istio-cni-agent")

	mac := newFakeMac(t, "kubectl")
	res := mac.exec(agent, "create", nil)
	require.Equal(t, 0, res.code, res.stderr)
	assert.Empty(t, res.stdout)
	assert.Equal(t, [][]string{{"--context=colima-lamina-production", "rollout", "status", "daemonset/istio-cni-node",
		"--namespace=istio-system", "--timeout=600s"}}, mac.callsOf("kubectl", "--context=colima-lamina-production"))
	assert.Contains(t, res.stderr, "every pod of daemonset/istio-cni-node in namespace istio-system is Ready")

	mac = newFakeMac(t, "kubectl")
	res = mac.exec(agent, "create", map[string]string{"FAKE_KUBECTL_ROLLOUT_STUCK": "1"})
	assert.Equal(t, 1, res.code)
	assert.Contains(t, res.stderr, "lamina: error: daemonset/istio-cni-node in namespace istio-system (context colima-lamina-production) "+
		"did not have every pod Ready within 600s. Look with: kubectl --context colima-lamina-production --namespace istio-system describe daemonset/istio-cni-node\n")
}

// The API server's port is one value: Colima starts k3s on it, the network policy lets
// the pods that read the API reach it, and the readiness wait stops, with the command
// that fixes it, when the cluster listens elsewhere (a VM Colima created with a random
// port before the port was pinned).
func TestAPIServerPortIsPinnedAndChecked(t *testing.T) {
	overrides, dataDir := withDataDir(t, "development", nil)
	src := stackSource(t, "development", overrides)
	src.Values["lamina:cluster"] = section(t, src, "lamina:cluster", map[string]any{"apiServerPort": 16443})
	g := preview(t, src)
	assert.Contains(t, strings.Split(command(t, g, "colima-vm").Inputs["environment"].(map[string]any)["LAMINA_START_ARGS"].(string), "\n"), "--k3s-listen-port=16443")
	var egress int
	for _, r := range g.ByType("kubernetes:networking.k8s.io/v1:NetworkPolicy") {
		if strings.HasSuffix(r.Name, "-apiserver-egress") {
			egress++
			assert.Equal(t, []any{map[string]any{"port": float64(16443), "protocol": "TCP"}}, field(list(field(r.Inputs, "spec", "egress"))[0], "ports"), r.Name)
		}
	}
	assert.Equal(t, 3, egress, "monitoring, observability and the dashboard read the API; nothing in lamina-system mounts a token")

	mac := newFakeMac(t, "colima", "kubectl")
	require.NoError(t, os.MkdirAll(dataDir, 0o755))
	mac.profile("lamina-development", "Stopped", 12, 128, 200, "aarch64")
	require.NoError(t, os.WriteFile(filepath.Join(mac.colima, "lamina-development", "port"), []byte("52311"), 0o644))
	g = preview(t, stackSource(t, "development", overrides))
	res := mac.exec(command(t, g, "colima-vm"), "create", nil)
	require.Equal(t, 0, res.code, res.stderr)
	res = mac.exec(command(t, g, "cluster-ready"), "create", nil)
	assert.Equal(t, 1, res.code)
	assert.Contains(t, res.stderr, "lamina: error: the API server of context colima-lamina-development listens on port 52311 "+
		"(the endpoints of Service default/kubernetes), but lamina:cluster.apiServerPort is 6443")
	assert.Contains(t, res.stderr, "Set it: pulumi config set --path lamina:cluster.apiServerPort 52311\n")
}

// Day 2: a VM stopped behind Pulumi's back (a reboot, colima stop) is brought back by the
// next up, which a preview announces; what reads the cluster reads it again; and once
// it runs, the next preview shows no change. A running VM shows none either.
func TestStoppedVMComesBackAndConverges(t *testing.T) {
	mac, src, clock := observedMac(t)
	first := deploy(t, src, mac) // the VM is created
	created := env(t, first, "colima-start")["LAMINA_VM_GENERATION"]
	assert.Equal(t, "2026-12-01T08:00:00Z: profile absent", created)
	assert.Equal(t, "2026-12-01T08:00:00Z: a new VM", env(t, first, "colima-vm")["LAMINA_VM_GENERATION"])
	assert.Equal(t, created, env(t, previewOn(t, src, mac.probes), "colima-start")["LAMINA_VM_GENERATION"], "a running VM: no change")

	_, err := mac.run("colima", "stop", "--profile=lamina-development")
	require.NoError(t, err)
	stopped := previewOn(t, src, mac.probes)
	assert.Equal(t, "the next up starts the profile, now Stopped", env(t, stopped, "colima-start")["LAMINA_VM_GENERATION"],
		"the preview shows that the VM's start will run")
	// The VM's command keeps its inputs: its summary, which the Docker provider and the
	// outputs read, stays known.
	assert.Equal(t, env(t, first, "colima-vm"), env(t, stopped, "colima-vm"), "the VM's command keeps its inputs")

	*clock = clock.Add(24 * time.Hour)
	mac.resetLog()
	again := deploy(t, src, mac)
	assert.Len(t, mac.callsOf("colima", "start"), 1, "the stopped VM is started")
	started := env(t, again, "colima-start")["LAMINA_VM_GENERATION"]
	assert.Equal(t, "2026-12-02T08:00:00Z: profile Stopped", started)
	assert.NotEqual(t, env(t, first, "cluster-ready")["LAMINA_REFRESH"], env(t, again, "cluster-ready")["LAMINA_REFRESH"],
		"the readiness wait runs again")
	assert.NotEqual(t, env(t, first, "cluster-kubeconfig"), env(t, again, "cluster-kubeconfig"), "a VM that was stopped is read again")
	assert.Contains(t, mac.stdout["colima-start"], "\ngeneration=2026-12-02T08:00:00Z: profile Stopped\n")
	assert.Equal(t, imageTriggers(first), imageTriggers(again), "the same VM keeps its images")

	*clock = clock.Add(time.Hour)
	assert.Equal(t, started, env(t, previewOn(t, src, mac.probes), "colima-start")["LAMINA_VM_GENERATION"], "converged: no change")
	settled := deploy(t, src, mac)
	assert.Equal(t, started, env(t, settled, "colima-start")["LAMINA_VM_GENERATION"])

	// A bigger disk restarts the VM through its command, and reads the cluster again, but not
	// its kubeconfig: the providers, and every resource of theirs, are left as they are.
	resized := stackSource(t, "development", nil)
	resized.Values = maps.Clone(src.Values)
	resized.Values["lamina:colima"] = section(t, resized, "lamina:colima", map[string]any{"diskGiB": 250})
	after := previewOn(t, resized, mac.probes)
	assert.NotEqual(t, env(t, settled, "colima-vm"), env(t, after, "colima-vm"))
	assert.Equal(t, env(t, settled, "cluster-kubeconfig"), env(t, after, "cluster-kubeconfig"))

	// Without a colima to ask, what the last run saw stands; the VM's command says what
	// is missing when it runs.
	generation, _, err := colima.Observer{
		Colima: func(...string) ([]byte, error) { return nil, errors.New("exec: colima: not found") },
		Dir:    filepath.Join(mac.home, ".lamina", "colima"),
	}.Observe("lamina-development", false)
	require.NoError(t, err)
	assert.Equal(t, started, generation)
}

// A VM made anew has an empty Docker daemon, whatever the state says was built: when the
// daemon is not the one the images were built on (the program made the VM, or someone
// deleted and started it behind Pulumi's back), the images are built and tagged again,
// and once they are, nothing changes.
func TestImagesAreBuiltAgainOnANewVM(t *testing.T) {
	mac, src, clock := observedMac(t)
	first := deploy(t, src, mac)
	built := imageTriggers(first)
	require.Len(t, built, 6, "three images, each built and tagged")
	for name, trigger := range built {
		assert.Equal(t, "2026-12-01T08:00:00Z: a new VM", trigger, name)
	}
	assert.Equal(t, built, imageTriggers(previewOn(t, src, mac.probes)), "the VM the program made keeps the images it built")

	for _, args := range [][]string{{"stop", "--profile=lamina-development"}, {"delete", "--profile=lamina-development"},
		{"start", "--profile=lamina-development", "--cpu=12", "--memory=128", "--disk=200", "--k3s-listen-port=6443"}} {
		_, err := mac.run("colima", args...)
		require.NoError(t, err)
	}
	for name, trigger := range imageTriggers(previewOn(t, src, mac.probes)) {
		assert.Regexp(t, `^the next up builds the images again on Docker daemon DAEMON-lamina-development-\d+$`, trigger, name)
	}
	*clock = clock.Add(time.Hour)
	again := imageTriggers(deploy(t, src, mac))
	for name, trigger := range again {
		assert.Regexp(t, `^2026-12-01T09:00:00Z: Docker daemon DAEMON-lamina-development-\d+$`, trigger, name)
	}
	assert.Equal(t, again, imageTriggers(previewOn(t, src, mac.probes)), "converged: no change")
}

// observedMac is a fake Mac whose colima and Docker daemon the program observes, at a
// clock the test moves, as `pulumi up` on the Mac would; the Mac holds the checkout the
// images are built from.
func observedMac(t *testing.T) (*fakeMac, *config.Source, *time.Time) {
	t.Helper()
	mac := newFakeMac(t, "colima", "kubectl")
	mac.dockerd("lamina-development")
	checkout := t.TempDir()
	for _, pkg := range []string{"lamina-llm-serve", "lamina-core", "lamina-dashboard"} {
		require.NoError(t, os.MkdirAll(filepath.Join(checkout, "packages", pkg), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(checkout, "packages", pkg, "Dockerfile"), []byte("FROM scratch\n"), 0o644))
	}
	overrides, _ := withDataDir(t, "development", map[string]string{"lamina:images": `{"checkout": "` + checkout + `"}`})
	src := stackSource(t, "development", overrides)
	clock := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	mac.probes = stacks.Mac{VMs: &colima.Observer{
		Colima: func(args ...string) ([]byte, error) { return mac.run("colima", args...) },
		Dir:    filepath.Join(mac.home, ".lamina", "colima"),
		Now:    func() time.Time { return clock },
	}}
	return mac, src, &clock
}

// env is the environment of the named command.
func env(t *testing.T, g *recorder.Graph, name string) map[string]any {
	t.Helper()
	return command(t, g, name).Inputs["environment"].(map[string]any)
}

// imageTriggers are the replacement triggers of the image builds and tags.
func imageTriggers(g *recorder.Graph) map[string]any {
	out := map[string]any{}
	for _, r := range g.Resources {
		if r.Type == dockerImageType || r.Type == "docker:index/tag:Tag" {
			out[r.Name] = r.ReplacementTrigger
		}
	}
	return out
}

// With target existing, no VM is declared, and the scripts read the given kubeconfig,
// a ~/ path expanded on the machine that runs them.
func TestExistingClusterTarget(t *testing.T) {
	src := stackSource(t, "production", map[string]string{
		"lamina:cluster": `{"target":"existing","kubeconfig":"~/kube configs/lab.yaml","context":"lab-admin","dockerHost":"ssh://builder@lab","nodeCIDR":"10.20.0.0/24"}`,
		"lamina:edge":    `{"address":"10.20.0.10"}`,
		"lamina:build":   `{"enabled":false}`, // production's cluster on a Mac runs the checks
		"lamina:storage": `{"class":"local-path","volumes":{"models":{"accessMode":"ReadWriteMany"}}}`,
	})
	g := preview(t, src)
	for _, r := range g.Resources {
		assert.NotContains(t, r.Type, "colima", "no VM with target existing")
	}
	assert.NotContains(t, g.Outputs, "colimaProfile")
	assert.Equal(t, "ssh://builder@lab", g.Find("pulumi:providers:docker", "cluster-docker").Inputs["host"])
	assert.Equal(t, "existing:lab-admin", g.Find("pulumi:providers:kubernetes", "cluster-kubernetes").Inputs["clusterIdentifier"])

	// Nothing on this Mac reaches the nodes' disks, and nothing is made on them: every
	// volume is a claim of the cluster's class.
	assert.Nil(t, g.Find("kubernetes:batch/v1:Job", "cluster-host-dirs"))
	assert.Empty(t, g.ByType("kubernetes:core/v1:PersistentVolume"))
	assert.Len(t, g.ByType("kubernetes:core/v1:PersistentVolumeClaim"), 5)
	for _, dir := range []string{"dataDir", "dataDirs", "modelsDir"} {
		assert.NotContains(t, g.Outputs, dir, "no directory holds the volumes")
	}

	mac := newFakeMac(t, "kubectl")
	kubeconfig := filepath.Join(mac.home, "kube configs", "lab.yaml")
	kc := command(t, g, "cluster-kubeconfig")
	res := mac.exec(kc, "create", nil)
	assert.Equal(t, 1, res.code)
	assert.Equal(t, "lamina: error: kubeconfig "+kubeconfig+" does not exist (lamina:cluster.kubeconfig)\n", res.stderr)

	require.NoError(t, os.MkdirAll(filepath.Dir(kubeconfig), 0o755))
	require.NoError(t, os.WriteFile(kubeconfig, []byte("apiVersion: v1\n"), 0o600))
	res = mac.exec(kc, "create", map[string]string{"FAKE_KUBECONFIG": "apiVersion: v1\nkind: Config"})
	require.Equal(t, 0, res.code, res.stderr)
	assert.Equal(t, "apiVersion: v1\nkind: Config\n", res.stdout)
	assert.Equal(t, [][]string{{"--context=lab-admin", "--kubeconfig=" + kubeconfig, "config", "view", "--raw", "--minify", "--flatten"}},
		mac.callsOf("kubectl", "--context=lab-admin"))
}

// A whole `pulumi up` then `pulumi destroy` of each stack on a fake Mac runs every script
// the program generates, and leaves the host data in place.
func TestDeployAndDestroyOnAFakeMac(t *testing.T) {
	for _, stack := range []string{"development", "production"} {
		t.Run(stack, func(t *testing.T) {
			mac := newFakeMac(t, "colima", "kubectl")
			overrides, dataDir := withDataDir(t, stack, nil)
			g := deploy(t, stackSource(t, stack, overrides), mac)
			profile := "lamina-" + stack
			assert.DirExists(t, filepath.Join(mac.colima, profile))

			// An update with nothing changed (another key of the stack, say) finds the
			// VM as the last run left it and leaves it alone.
			mac.resetLog()
			for _, r := range g.ByType(commandType) {
				if plainString(r.Raw()["update"]) != "" {
					res := mac.exec(r, "update", map[string]string{"PULUMI_COMMAND_STDOUT": mac.stdout[r.Name]})
					require.Equal(t, 0, res.code, res.stderr)
					assert.Regexp(t, "running( with the requested settings)?; left alone", res.stderr)
				}
			}
			assert.Empty(t, mac.callsOf("colima", "start"))
			assert.Empty(t, mac.callsOf("colima", "stop"))

			// Destroy deletes in reverse dependency order.
			for i := len(g.Resources) - 1; i >= 0; i-- {
				r := g.Resources[i]
				if r.Type == commandType && plainString(r.Raw()["delete"]) != "" {
					res := mac.exec(r, "delete", nil)
					require.Equal(t, 0, res.code, res.stderr)
				}
			}
			assert.NoDirExists(t, filepath.Join(mac.colima, profile))
			for _, sub := range []string{"models", "prometheus", "loki", "grafana", "chromadb"} {
				assert.DirExists(t, filepath.Join(dataDir, sub))
			}
			for _, r := range g.ByType(commandType) {
				for _, which := range []string{"create", "update", "delete"} {
					if which == "create" || plainString(r.Raw()[resource.PropertyKey(which)]) != "" {
						assert.True(t, mac.executed[r.Name+" "+which], "%s %s never ran", r.Name, which)
					}
				}
			}
		})
	}
}

func mustAtoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		panic(err)
	}
	return n
}
