package doctor

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lamina-os/lamina-infra/components/colima"
	"github.com/lamina-os/lamina-infra/stacks/config"
)

// mac is a fake Mac: the output of each command line, files, environment.
type mac struct {
	out   map[string]string
	files map[string]string
	modes map[string]fs.FileMode
	env   map[string]string
}

func (m *mac) Output(name string, args ...string) (string, error) {
	line := strings.Join(append([]string{name}, args...), " ")
	if strings.HasPrefix(line, "df -k ") {
		line = "df"
	}
	out, ok := m.out[line]
	if !ok {
		return "", errors.New("exec: " + name + ": not found")
	}
	return out, nil
}

func (m *mac) ReadFile(path string) ([]byte, error) {
	if s, ok := m.files[path]; ok {
		return []byte(s), nil
	}
	return nil, fs.ErrNotExist
}

func (m *mac) Stat(path string) (fs.FileInfo, error) {
	if mode, ok := m.modes[path]; ok {
		return fakeInfo{mode}, nil
	}
	return nil, fs.ErrNotExist
}

func (m *mac) Getenv(key string) string { return m.env[key] }

type fakeInfo struct{ mode fs.FileMode }

func (i fakeInfo) Name() string       { return "f" }
func (i fakeInfo) Size() int64        { return 0 }
func (i fakeInfo) Mode() fs.FileMode  { return i.mode }
func (i fakeInfo) ModTime() time.Time { return time.Time{} }
func (i fakeInfo) IsDir() bool        { return i.mode.IsDir() }
func (i fakeInfo) Sys() any           { return nil }

// m3Ultra is the Mac the stacks are sized for, ready for the development stack.
func m3Ultra() *mac {
	return &mac{
		out: map[string]string{
			"uname -s":                               "Darwin\n",
			"uname -m":                               "arm64\n",
			"sw_vers -productVersion":                "15.6.1\n",
			"colima version":                         "colima version 0.10.3\ngit commit: 5a1b2c3\n",
			"pulumi version":                         "v3.274.1\n",
			"kubectl version --client --output=json": `{"clientVersion":{"gitVersion":"v1.35.2"}}`,
			"sysctl -n hw.memsize":                   "549755813888\n",
			"df":                                     "Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/disk3s5 7800000000 2000000000 5800000000 26% /System/Volumes/Data\n",
		},
		files: map[string]string{"/etc/hosts": "127.0.0.1 localhost\n# BEGIN lamina development\n" + hostLines() + "# END lamina development\n"},
		modes: map[string]fs.FileMode{"/Users/ada": fs.ModeDir | 0o755, "/Users/ada/.lamina/passphrase": 0o600},
		env:   map[string]string{"HOME": "/Users/ada", "PULUMI_CONFIG_PASSPHRASE_FILE": "/Users/ada/.lamina/passphrase"},
	}
}

func development(t *testing.T) Stack {
	t.Helper()
	cfg, ok := config.Defaults("development")
	require.True(t, ok)
	return Stack{Name: "development", Config: &cfg, Encrypted: true, Hostnames: hostnames(cfg)}
}

// hostnames stand for what the stack's render lists (cmd/lamina/doctor.go reads them).
func hostnames(cfg config.Config) []string {
	return []string{"core." + cfg.Edge.Domain, "grafana." + cfg.Edge.Domain}
}

func hostLines() string {
	cfg, _ := config.Defaults("development")
	var b strings.Builder
	for _, name := range hostnames(cfg) {
		b.WriteString(cfg.Edge.Address + " " + name + "\n")
	}
	return b.String()
}

func find(t *testing.T, checks []Check, name string) Check {
	t.Helper()
	for _, c := range checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %s in %+v", name, checks)
	return Check{}
}

// On the Mac the stacks are sized for, with the tools at their versions, every check
// passes, and each says what it found.
func TestAReadyMacPassesEveryCheck(t *testing.T) {
	checks := Run(m3Ultra(), development(t))
	assert.False(t, Failed(checks))
	var names []string
	for _, c := range checks {
		names = append(names, c.Name)
		assert.Equal(t, OK, c.Status, "%s: %s", c.Name, c.Detail)
	}
	assert.Equal(t, []string{"configuration", "macOS", "chip", "colima", "pulumi", "kubectl", "memory", "disk", "passphrase", "hosts"}, names)
	assert.Equal(t, "colima 0.10.3 (0.10.0 or later)", find(t, checks, "colima").Detail)
	assert.Equal(t, "kubectl 1.35.2 (k3s v1.35.0+k3s1)", find(t, checks, "kubectl").Detail)
	assert.Equal(t, "512 GiB, of which this stack's VM takes 128", find(t, checks, "memory").Detail)
}

// The Docker target on a 16 GB Mac: its Colima VM is checked as the others are, kubectl
// is not needed, and its hostnames go to the edge on loopback.
func TestTheDockerTargetNeedsNoKubectl(t *testing.T) {
	cfg, ok := config.Defaults(config.DockerProfile)
	require.True(t, ok)
	m := m3Ultra()
	m.out["sysctl -n hw.memsize"] = "17179869184\n"
	delete(m.out, "kubectl version --client --output=json")
	m.files["/etc/hosts"] = "127.0.0.1 core." + cfg.Edge.Domain + " grafana." + cfg.Edge.Domain + "\n"
	checks := Run(m, Stack{Name: "compact", Config: &cfg, Encrypted: true, Hostnames: hostnames(cfg)})
	var names []string
	for _, c := range checks {
		names = append(names, c.Name)
		assert.Equal(t, OK, c.Status, "%s: %s", c.Name, c.Detail)
	}
	assert.Equal(t, []string{"configuration", "macOS", "chip", "colima", "pulumi", "memory", "disk", "passphrase", "hosts"}, names)
	assert.Equal(t, "16 GiB, of which this stack's VM takes 8", find(t, checks, "memory").Detail)
	assert.Equal(t, "every hostname under "+cfg.Edge.Domain+" goes to 127.0.0.1", find(t, checks, "hosts").Detail)
}

// The Docker target on another daemon (lamina:docker.host, Docker Desktop's): no Colima
// VM to check, and the daemon must speak API 1.45 (volume subpaths), which Docker 25's
// 1.44 does not; one that does not answer fails too.
func TestAnotherDockerDaemonMustSpeakAPI145(t *testing.T) {
	cfg, ok := config.Defaults(config.DockerProfile)
	require.True(t, ok)
	cfg.Docker.Host = "unix:///Users/ada/.docker/run/docker.sock"
	m := m3Ultra()
	delete(m.out, "kubectl version --client --output=json")
	m.files["/etc/hosts"] = "127.0.0.1 core." + cfg.Edge.Domain + " grafana." + cfg.Edge.Domain + "\n"
	line := "docker --host " + cfg.Docker.Host + " version --format {{.Server.APIVersion}}"
	stack := Stack{Name: "compact", Config: &cfg, Encrypted: true, Hostnames: hostnames(cfg)}

	m.out[line] = "1.51\n"
	checks := Run(m, stack)
	var names []string
	for _, c := range checks {
		names = append(names, c.Name)
	}
	assert.Equal(t, []string{"configuration", "pulumi", "docker", "passphrase", "hosts"}, names)
	assert.Equal(t, Check{"docker", OK, "the daemon at unix:///Users/ada/.docker/run/docker.sock speaks API 1.51 (1.45 or later)", ""}, find(t, checks, "docker"))

	m.out[line] = "1.44\n"
	c := find(t, Run(m, stack), "docker")
	assert.Equal(t, Fail, c.Status)
	assert.Equal(t, "the daemon at lamina:docker.host unix:///Users/ada/.docker/run/docker.sock speaks API 1.44; 1.45 or later is needed (volume subpaths, health check start intervals)", c.Detail)
	assert.Contains(t, c.Fix, "Docker 26 or later")

	delete(m.out, line)
	c = find(t, Run(m, stack), "docker")
	assert.Equal(t, Fail, c.Status)
	assert.Contains(t, c.Detail, "does not answer")
}

// A krunkit VM asks more of the Mac: macOS 14, Colima 0.10.2, krunkit 1.2.1, and Colima's
// network helper in place before pulumi up, which cannot answer sudo.
func TestAKrunkitVMNeedsKrunkitAndColimasNetworkHelper(t *testing.T) {
	krunkit := func(t *testing.T) Stack {
		s := development(t)
		s.Config.Colima.VMType, s.Config.Colima.MemoryGiB = config.VMTypeKrunkit, 48
		s.VMStart = "colima start --profile=lamina-development --vm-type=krunkit --cpus=12 --memory=48 --disk=200 --activate=false"
		return s
	}
	ready := func() *mac {
		m := m3Ultra()
		m.out["krunkit --version"] = "krunkit 1.2.1\n"
		// What lima 2.1.2 prints (cobra's version template; pkg/limainfo's vmTypes).
		m.out["limactl --version"] = "limactl version 2.1.2\n"
		m.out["limactl info"] = `{"version":"v2.1.2","vmTypes":["krunkit","qemu","vz"],"vmTypesEx":{"krunkit":{"location":"/opt/homebrew/libexec/lima/lima-driver-krunkit"}}}`
		// What Colima's vmnet dependencies install (daemon/process/vmnet/deps.go): sudo
		// writes the sudoers file with the default umask, so it is readable.
		m.modes["/opt/colima/bin/socket_vmnet"] = 0o755
		m.modes["/opt/colima/bin/socket_vmnet_client"] = 0o755
		m.modes["/opt/colima/run"] = fs.ModeDir | 0o755
		m.files["/etc/sudoers.d/colima"] = colima.SudoersText
		return m
	}
	checks := Run(ready(), krunkit(t))
	var names []string
	for _, c := range checks {
		names = append(names, c.Name)
		assert.Equal(t, OK, c.Status, "%s: %s", c.Name, c.Detail)
	}
	assert.Equal(t, []string{"configuration", "macOS", "chip", "colima", "krunkit", "limactl", "Colima's network helper", "pulumi", "kubectl", "memory", "disk", "passphrase", "hosts"}, names)
	assert.Equal(t, "colima 0.10.3 (0.10.2 or later)", find(t, checks, "colima").Detail)

	for name, tc := range map[string]struct {
		change func(m *mac)
		want   Check
	}{
		"macOS 13": {func(m *mac) { m.out["sw_vers -productVersion"] = "13.6\n" },
			Check{"macOS", Fail, "macOS 13.6.0; krunkit VMs need 14.0.0 or later", "upgrade macOS (System Settings, General, Software Update)"}},
		"colima 0.10.1": {func(m *mac) { m.out["colima version"] = "colima version 0.10.1\n" },
			Check{"colima", Fail, "colima 0.10.1; 0.10.2 or later is needed", "brew upgrade colima"}},
		"no krunkit": {func(m *mac) { delete(m.out, "krunkit --version") },
			Check{"krunkit", Fail, "krunkit is not on PATH", "brew tap slp/krun && brew install krunkit"}},
		"krunkit 1.1.1": {func(m *mac) { m.out["krunkit --version"] = "krunkit 1.1.1\n" },
			Check{"krunkit", Fail, "krunkit 1.1.1; 1.2.1 or later is needed", "brew upgrade krunkit"}},
		"no network helper": {func(m *mac) { delete(m.files, "/etc/sudoers.d/colima"); delete(m.modes, "/opt/colima/run") },
			Check{"Colima's network helper", Fail, "/opt/colima/run, /etc/sudoers.d/colima missing: Colima installs them with sudo when it starts a krunkit VM, which pulumi up cannot answer",
				"colima start --profile=lamina-development --vm-type=krunkit --cpus=12 --memory=48 --disk=200 --activate=false (once, in a terminal, where sudo can ask for your password; colima stop --profile lamina-development first if the VM runs)"}},
		"no socket_vmnet_client": {func(m *mac) { delete(m.modes, "/opt/colima/bin/socket_vmnet_client") },
			Check{"Colima's network helper", Fail, "/opt/colima/bin/socket_vmnet_client missing: Colima installs them with sudo when it starts a krunkit VM, which pulumi up cannot answer",
				"colima start --profile=lamina-development --vm-type=krunkit --cpus=12 --memory=48 --disk=200 --activate=false (once, in a terminal, where sudo can ask for your password; colima stop --profile lamina-development first if the VM runs)"}},
		// Colima 0.9's sudoers text names no 192.168.106.1 gateway; 0.10 replaces it.
		"a helper from Colima 0.9": {func(m *mac) {
			m.files["/etc/sudoers.d/colima"] = strings.ReplaceAll(colima.SudoersText, " --vmnet-gateway 192.168.106.1 --vmnet-dhcp-end 192.168.106.254", "")
		}, Check{"Colima's network helper", Fail, "/etc/sudoers.d/colima does not hold the permissions colima 0.10.3 asks for (one from an older Colima?): Colima would replace it with sudo inside pulumi up",
			"colima start --profile=lamina-development --vm-type=krunkit --cpus=12 --memory=48 --disk=200 --activate=false (once, in a terminal, where sudo can ask for your password; colima stop --profile lamina-development first if the VM runs)"}},
		"lima 1.2": {func(m *mac) { m.out["limactl --version"] = "limactl version 1.2.1\n" },
			Check{"limactl", Fail, "limactl 1.2.1; 2.0.0 or later is needed (Lima runs krunkit VMs through its krunkit driver, from 2.0.0 on)", "brew upgrade lima"}},
		"lima without its krunkit driver": {func(m *mac) { m.out["limactl info"] = `{"version":"v2.1.2","vmTypes":["qemu","vz"]}` },
			Check{"limactl", Fail, "Lima 2.1.2 has no krunkit driver (vmTypes qemu, vz); it is built only on Apple silicon with the macOS 14 SDK", "brew reinstall lima (on Apple silicon, macOS 14 or later)"}},
	} {
		t.Run(name, func(t *testing.T) {
			m := ready()
			tc.change(m)
			checks := Run(m, krunkit(t))
			assert.Equal(t, tc.want, find(t, checks, tc.want.Name))
			assert.True(t, Failed(checks))
		})
	}
}

// Each problem fails (or warns) with what was found and the command that fixes it.
func TestEachProblemNamesItsFix(t *testing.T) {
	for name, tc := range map[string]struct {
		change func(m *mac, s *Stack)
		check  string
		want   Check
	}{
		"colima too old for --k3s-listen-port": {func(m *mac, s *Stack) { m.out["colima version"] = "colima version 0.8.4\n" }, "colima",
			Check{"colima", Fail, "colima 0.8.4; 0.10.0 or later is needed", "brew upgrade colima"}},
		"no colima": {func(m *mac, s *Stack) { delete(m.out, "colima version") }, "colima",
			Check{"colima", Fail, "colima is not on PATH", "brew install colima"}},
		"pulumi older than the program's SDK": {func(m *mac, s *Stack) { m.out["pulumi version"] = "v3.190.0\n" }, "pulumi",
			Check{"pulumi", Fail, "pulumi 3.190.0; 3.274.1 or later is needed", "brew upgrade pulumi"}},
		"kubectl two minor versions behind k3s": {func(m *mac, s *Stack) {
			m.out["kubectl version --client --output=json"] = `{"clientVersion":{"gitVersion":"v1.33.4"}}`
		}, "kubectl", Check{"kubectl", Fail, "kubectl 1.33.4; the stack's k3s is v1.35.0+k3s1, and kubectl works within one minor version of it", "brew upgrade kubectl"}},
		"an Intel Mac with the aarch64 default": {func(m *mac, s *Stack) { m.out["uname -m"] = "x86_64\n" }, "chip",
			Check{"chip", Fail, "this Mac is x86_64 but lamina:colima.arch is aarch64, which a vz VM cannot run on it", "pulumi config set --path lamina:colima.arch x86_64 -s development"}},
		"macOS 12": {func(m *mac, s *Stack) { m.out["sw_vers -productVersion"] = "12.7.4\n" }, "macOS",
			Check{"macOS", Fail, "macOS 12.7.4; vz VMs with a reachable address need 13.0.0 or later", "upgrade macOS (System Settings, General, Software Update)"}},
		"not a Mac": {func(m *mac, s *Stack) { m.out["uname -s"] = "Linux\n" }, "macOS",
			Check{"macOS", Fail, "this is not macOS (Linux); Colima's VMs need a Mac", "run the colima target on a Mac, or set lamina:cluster.target to existing"}},
		"a smaller Mac than the budget": {func(m *mac, s *Stack) { m.out["sysctl -n hw.memsize"] = "137438953472\n" }, "memory",
			Check{"memory", Fail, "this Mac has 128 GiB but lamina:host.memoryGiB says 512, so the VMs' budget is more than there is",
				"pulumi config set --path lamina:host.memoryGiB 128 -s development (and size the VMs to fit)"}},
		"a passphrase file others can read": {func(m *mac, s *Stack) { m.modes["/Users/ada/.lamina/passphrase"] = 0o644 }, "passphrase",
			Check{"passphrase", Fail, "/Users/ada/.lamina/passphrase is readable by others (mode 0644)", "chmod 600 /Users/ada/.lamina/passphrase"}},
		"no passphrase": {func(m *mac, s *Stack) { delete(m.env, "PULUMI_CONFIG_PASSPHRASE_FILE") }, "passphrase",
			Check{"passphrase", Warn, "pulumi will ask for the stack's passphrase", "export PULUMI_CONFIG_PASSPHRASE_FILE=~/.lamina/passphrase (a file only you can read: chmod 600)"}},
		"little disk left": {func(m *mac, s *Stack) {
			m.out["df"] = "Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/disk3s5 7800000000 7700000000 104857600 99% /System/Volumes/Data\n"
		}, "disk", Check{"disk", Warn, "100 GiB free at /Users/ada for the VM's 200 GiB disk (the disk grows as it is used)",
			"free space, or pulumi config set --path lamina:colima.diskGiB <GiB> -s development before the VM is created"}},
		"no hosts entries yet": {func(m *mac, s *Stack) { m.files["/etc/hosts"] = "127.0.0.1 localhost\n" }, "hosts",
			Check{"hosts", Warn, "/etc/hosts does not send core.dev.lamina.home.arpa, grafana.dev.lamina.home.arpa to 192.168.64.200",
				"after pulumi up: make hosts STACK=development"}},
		"a stack the program refuses": {func(m *mac, s *Stack) {
			s.Hostnames, s.RenderErr = nil, errors.New(`network: hostname "grafana" is served twice: by monitoring/grafana and by monitoring/grafana-2`)
		}, "hosts", Check{"hosts", Fail, `the program refuses the stack, so its hostnames are unknown: network: hostname "grafana" is served twice: by monitoring/grafana and by monitoring/grafana-2`,
			"fix what the message names; lamina render -s development shows the same"}},
		"a configuration that does not load": {func(m *mac, s *Stack) {
			s.Config, s.LoadErr = nil, errors.New("lamina:images.checkout: /Users/ada/src/lamina-os does not exist")
		}, "configuration", Check{"configuration", Fail, "lamina:images.checkout: /Users/ada/src/lamina-os does not exist",
			"fix the keys named above in Pulumi.development.yaml (pulumi config set ...)"}},
	} {
		t.Run(name, func(t *testing.T) {
			m, s := m3Ultra(), development(t)
			tc.change(m, &s)
			checks := Run(m, s)
			assert.Equal(t, tc.want, find(t, checks, tc.check))
			assert.Equal(t, tc.want.Status == Fail, Failed(checks))
		})
	}
}

// The report puts every finding on a line, and the fix under each that is not ok.
func TestPrintShowsTheFixes(t *testing.T) {
	var b strings.Builder
	Print(&b, []Check{{"colima", OK, "colima 0.10.3 (0.10.0 or later)", ""}, {"pulumi", Fail, "pulumi 3.190.0; 3.274.1 or later is needed", "brew upgrade pulumi"}})
	assert.Equal(t, "ok    colima        colima 0.10.3 (0.10.0 or later)\n"+
		"FAIL  pulumi        pulumi 3.190.0; 3.274.1 or later is needed\n"+
		"                    fix: brew upgrade pulumi\n", b.String())
}
