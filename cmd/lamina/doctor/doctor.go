// Package doctor checks, before `pulumi up` changes anything, that the Mac can run a
// stack: macOS and the chip, the versions of Colima, Pulumi and kubectl against what
// the program needs, memory and disk against the stack's sizing, the passphrase and the
// hosts entries. Every failure names the command that fixes it. `lamina doctor` runs it;
// `make up` runs that first.
package doctor

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/lamina-os/lamina-infra/components/colima"
	"github.com/lamina-os/lamina-infra/stacks/config"
)

// Minimum versions, and why.
var (
	// MinMacOS: Colima's vz VMs with --network-address need macOS 13.
	MinMacOS = version{13, 0, 0}
	// MinColima: --port-forwarder=none, which keeps k3s's API server and the kubelet off
	// the Mac's network interfaces, is in 0.10.0 (--k3s-listen-port came in 0.9.1).
	MinColima = version{0, 10, 0}
	// MinMacOSKrunkit, MinColimaKrunkit, MinKrunkit: krunkit runs on macOS 14 or later
	// (its README), Colima gives a krunkit VM a reachable address from 0.10.2, and Lima
	// refuses krunkit before 1.2.1.
	MinMacOSKrunkit  = version{14, 0, 0}
	MinColimaKrunkit = version{0, 10, 2}
	MinKrunkit       = version{1, 2, 1}
	// MinLimaKrunkit: Lima runs krunkit VMs through its krunkit driver, an external driver
	// from Lima 2.0.0 on (cmd/lima-driver-krunkit), which `limactl info` lists in vmTypes;
	// Colima itself only asks for Lima 0.18 (core/core.go at v0.10.3), so without it
	// `colima start` fails inside Lima.
	MinLimaKrunkit = version{2, 0, 0}
	// MinDockerAPI: another daemon (lamina:docker.host) must mount a volume's subpath
	// (API 1.45, Docker 26), where each container reads its files, and take a health
	// check's start interval (1.44), which the Docker provider's client refuses below it.
	MinDockerAPI = version{1, 45, 0}
	// MinPulumi: the engine must know every resource option the program's SDK sends
	// (replacementTrigger among them); the program is built with sdk v3.274.1.
	MinPulumi = version{3, 274, 1}
)

// Probe is how the doctor looks at the Mac.
type Probe interface {
	// Output runs a program found on PATH and returns its standard output.
	Output(name string, args ...string) (string, error)
	ReadFile(path string) ([]byte, error)
	Stat(path string) (fs.FileInfo, error)
	Getenv(key string) string
}

// Status is a check's verdict.
type Status string

const (
	OK   Status = "ok"
	Warn Status = "warn"
	Fail Status = "FAIL"
)

// Check is one finding.
type Check struct {
	Name   string
	Status Status
	// Detail says what was found; Fix is the command (or the step) that fixes it.
	Detail, Fix string
}

// Stack is what the doctor needs to know of the stack.
type Stack struct {
	Name string
	// Config is the stack's loaded configuration; LoadErr the configuration's problems
	// when it does not load (then only the Mac itself is checked).
	Config  *config.Config
	LoadErr error
	// Hostnames are the stack's hostnames (the urls output of its offline render): the
	// components declare them, so only the program knows them. RenderErr is why the
	// program refused the stack, when it did.
	Hostnames []string
	RenderErr error
	// Encrypted holds when the stack's secrets are passphrase-encrypted (its file names
	// the passphrase provider or has a salt): Pulumi then needs the passphrase.
	Encrypted bool
	// VMStart is the `colima start` command the stack's VM is started with
	// (colima.ColimaVMArgs.StartCommand), for a VM a user must start once in a terminal.
	VMStart string
}

// Run checks the Mac for s.
func Run(p Probe, s Stack) []Check {
	var out []Check
	add := func(c Check) { out = append(out, c) }
	if s.LoadErr != nil {
		add(Check{"configuration", Fail, s.LoadErr.Error(), "fix the keys named above in Pulumi." + s.Name + ".yaml (pulumi config set ...)"})
	} else {
		add(Check{"configuration", OK, "Pulumi." + s.Name + ".yaml loads, with every build checkout and Dockerfile in place", ""})
	}
	cfg := s.Config
	// The stack's own Colima VM: with k3s, or the Docker target's without it.
	colima := cfg == nil || cfg.Cluster.Target == config.TargetColima || cfg.Cluster.Target == config.TargetDocker && cfg.Docker.Host == ""
	krunkit := colima && cfg != nil && cfg.Colima.VMType == config.VMTypeKrunkit
	switch {
	case krunkit:
		add(macOS(p, MinMacOSKrunkit, "krunkit VMs"))
		add(chip(p, s))
		add(tool(p, "colima", MinColimaKrunkit, "brew install colima", "brew upgrade colima", "version"))
		add(tool(p, "krunkit", MinKrunkit, "brew tap slp/krun && brew install krunkit", "brew upgrade krunkit", "--version"))
		add(limaKrunkit(p))
		add(vmnetHelper(p, s))
	case colima:
		add(macOS(p, MinMacOS, "vz VMs with a reachable address"))
		add(chip(p, s))
		add(tool(p, "colima", MinColima, "brew install colima", "brew upgrade colima", "version"))
	}
	add(tool(p, "pulumi", MinPulumi, "brew install pulumi", "brew upgrade pulumi", "version"))
	if cfg == nil || cfg.Cluster.Target != config.TargetDocker {
		add(kubectl(p, cfg))
	}
	if cfg != nil && cfg.Cluster.Target == config.TargetDocker && cfg.Docker.Host != "" {
		add(dockerAPI(p, cfg.Docker.Host))
	}
	if cfg != nil && colima {
		add(memory(p, s))
		add(disk(p, s))
	}
	add(passphrase(p, s))
	if cfg != nil {
		add(hosts(p, s))
	}
	return out
}

// Failed holds when any check failed.
func Failed(checks []Check) bool {
	for _, c := range checks {
		if c.Status == Fail {
			return true
		}
	}
	return false
}

// Print writes the checks, one per line, each failure and warning with its fix.
func Print(w io.Writer, checks []Check) {
	for _, c := range checks {
		fmt.Fprintf(w, "%-4s  %-13s %s\n", c.Status, c.Name, c.Detail)
		if c.Status != OK && c.Fix != "" {
			fmt.Fprintf(w, "      %-13s fix: %s\n", "", c.Fix)
		}
	}
}

// vmnetHelper checks what Colima checks before it starts a krunkit VM's network helper
// (daemon/process/vmnet/deps.go at v0.10.3): socket_vmnet and socket_vmnet_client under
// /opt/colima/bin, the directory /opt/colima/run, and /etc/sudoers.d/colima holding
// Colima's own text (embedded/sudoers.go). Whatever fails, Colima installs with sudo,
// which pulumi up cannot answer, and a network that fails only makes Colima warn: the VM
// comes up without an address.
func vmnetHelper(p Probe, s Stack) Check {
	const name, opt, sudoers = "Colima's network helper", "/opt/colima", "/etc/sudoers.d/colima"
	fix := s.VMStart + " (once, in a terminal, where sudo can ask for your password; colima stop --profile " + s.Config.Colima.Profile + " first if the VM runs)"
	var missing []string
	for _, path := range []string{opt + "/bin/socket_vmnet", opt + "/bin/socket_vmnet_client", opt + "/run"} {
		if _, err := p.Stat(path); err != nil {
			missing = append(missing, path)
		}
	}
	text, err := p.ReadFile(sudoers)
	if err != nil {
		missing = append(missing, sudoers)
	}
	if len(missing) > 0 {
		return Check{name, Fail, fmt.Sprintf("%s missing: Colima installs them with sudo when it starts a krunkit VM, which pulumi up cannot answer", strings.Join(missing, ", ")), fix}
	}
	if !strings.Contains(string(text), colima.SudoersText) {
		v, _ := parseVersion(outputOf(p, "colima", "version"))
		if v.less(version{0, 10, 4}) {
			return Check{name, Fail, fmt.Sprintf("%s does not hold the permissions colima %s asks for (one from an older Colima?): Colima would replace it with sudo inside pulumi up", sudoers, v), fix}
		}
		return Check{name, Warn, fmt.Sprintf("%s differs from what Colima %s install; colima %s may ask for sudo to replace it", sudoers, colima.SudoersTextVersions, v), fix}
	}
	return Check{name, OK, "socket_vmnet, socket_vmnet_client, /opt/colima/run and /etc/sudoers.d/colima as Colima installs them (for a krunkit VM's address)", ""}
}

// limaKrunkit: Lima 2.0 or later, with its krunkit driver.
func limaKrunkit(p Probe) Check {
	if c := tool(p, "limactl", MinLimaKrunkit, "brew install lima", "brew upgrade lima", "--version"); c.Status != OK {
		c.Detail += " (Lima runs krunkit VMs through its krunkit driver, from 2.0.0 on)"
		return c
	}
	var info struct {
		Version string   `json:"version"`
		VMTypes []string `json:"vmTypes"`
	}
	out, err := p.Output("limactl", "info")
	if err != nil || json.Unmarshal([]byte(out), &info) != nil {
		return Check{"limactl", Fail, "limactl info printed no JSON, so its VM types are unknown", "brew reinstall lima"}
	}
	for _, t := range info.VMTypes {
		if t == config.VMTypeKrunkit {
			return Check{"limactl", OK, fmt.Sprintf("Lima %s with its krunkit driver (vmTypes %s)", strings.TrimPrefix(info.Version, "v"), strings.Join(info.VMTypes, ", ")), ""}
		}
	}
	return Check{"limactl", Fail, fmt.Sprintf("Lima %s has no krunkit driver (vmTypes %s); it is built only on Apple silicon with the macOS 14 SDK",
		strings.TrimPrefix(info.Version, "v"), strings.Join(info.VMTypes, ", ")), "brew reinstall lima (on Apple silicon, macOS 14 or later)"}
}

// outputOf is a command's output, empty when it fails.
func outputOf(p Probe, name string, args ...string) string {
	out, _ := p.Output(name, args...)
	return out
}

func macOS(p Probe, min version, needs string) Check {
	kernel, err := p.Output("uname", "-s")
	if err != nil || strings.TrimSpace(kernel) != "Darwin" {
		return Check{"macOS", Fail, "this is not macOS (" + strings.TrimSpace(kernel) + "); Colima's VMs need a Mac",
			"run the colima target on a Mac, or set lamina:cluster.target to existing"}
	}
	out, err := p.Output("sw_vers", "-productVersion")
	v, ok := parseVersion(out)
	if err != nil || !ok {
		return Check{"macOS", Fail, "sw_vers gave no version", "check that /usr/bin/sw_vers runs"}
	}
	if v.less(min) {
		return Check{"macOS", Fail, fmt.Sprintf("macOS %s; %s need %s or later", v, needs, min), "upgrade macOS (System Settings, General, Software Update)"}
	}
	return Check{"macOS", OK, "macOS " + v.String(), ""}
}

func chip(p Probe, s Stack) Check {
	machine, err := p.Output("uname", "-m")
	machine = strings.TrimSpace(machine)
	if err != nil {
		return Check{"chip", Fail, "uname -m failed", ""}
	}
	want, vmType := "aarch64", config.VMTypeVZ
	if s.Config != nil {
		want, vmType = s.Config.Colima.Arch, s.Config.Colima.VMType
	}
	have := map[string]string{"arm64": "aarch64", "x86_64": "x86_64"}[machine]
	if have != want {
		return Check{"chip", Fail, fmt.Sprintf("this Mac is %s but lamina:colima.arch is %s, which a %s VM cannot run on it", machine, want, vmType),
			fmt.Sprintf("pulumi config set --path lamina:colima.arch %s -s %s", have, s.Name)}
	}
	detail := "Apple silicon (" + machine + ")"
	if machine != "arm64" {
		detail = "Intel (" + machine + ")"
	}
	return Check{"chip", OK, detail, ""}
}

// tool checks the version a program prints against a minimum.
func tool(p Probe, name string, min version, install, upgrade string, args ...string) Check {
	out, err := p.Output(name, args...)
	if err != nil {
		return Check{name, Fail, name + " is not on PATH", install}
	}
	v, ok := parseVersion(out)
	if !ok {
		return Check{name, Fail, fmt.Sprintf("%s printed no version: %q", name, firstLine(out)), upgrade}
	}
	if v.less(min) {
		return Check{name, Fail, fmt.Sprintf("%s %s; %s or later is needed", name, v, min), upgrade}
	}
	return Check{name, OK, fmt.Sprintf("%s %s (%s or later)", name, v, min), ""}
}

// dockerAPI checks another daemon's API version (the stack's own VM's comes with Colima).
func dockerAPI(p Probe, host string) Check {
	const fix = "upgrade Docker where lamina:docker.host runs (Docker 26 or later; Docker Desktop 4.30 or later), or leave lamina:docker.host empty for this stack's own Colima VM"
	out, err := p.Output("docker", "--host", host, "version", "--format", "{{.Server.APIVersion}}")
	if err != nil {
		return Check{"docker", Fail, fmt.Sprintf("the daemon at lamina:docker.host %s does not answer (docker version: %v)", host, err),
			"start it, or install the docker client (brew install docker)"}
	}
	v, ok := parseVersion(out)
	if !ok {
		return Check{"docker", Fail, fmt.Sprintf("the daemon at %s reported no API version: %q", host, firstLine(out)), fix}
	}
	if v.less(MinDockerAPI) {
		return Check{"docker", Fail, fmt.Sprintf("the daemon at lamina:docker.host %s speaks API %d.%d; %d.%d or later is needed (volume subpaths, health check start intervals)",
			host, v.major, v.minor, MinDockerAPI.major, MinDockerAPI.minor), fix}
	}
	return Check{"docker", OK, fmt.Sprintf("the daemon at %s speaks API %d.%d (%d.%d or later)", host, v.major, v.minor, MinDockerAPI.major, MinDockerAPI.minor), ""}
}

// kubectl is within one minor version of the stack's Kubernetes, as kubectl supports.
func kubectl(p Probe, cfg *config.Config) Check {
	out, err := p.Output("kubectl", "version", "--client", "--output=json")
	if err != nil {
		return Check{"kubectl", Fail, "kubectl is not on PATH", "brew install kubectl"}
	}
	var v struct {
		ClientVersion struct{ GitVersion string } `json:"clientVersion"`
	}
	client, ok := version{}, false
	if json.Unmarshal([]byte(out), &v) == nil {
		client, ok = parseVersion(v.ClientVersion.GitVersion)
	}
	if !ok {
		return Check{"kubectl", Fail, "kubectl printed no client version", "brew upgrade kubectl"}
	}
	if cfg == nil || cfg.Cluster.Target != config.TargetColima {
		return Check{"kubectl", OK, "kubectl " + client.String(), ""}
	}
	k3s, _ := parseVersion(cfg.Colima.K3sVersion)
	if client.major != k3s.major || client.minor+1 < k3s.minor || client.minor > k3s.minor+1 {
		return Check{"kubectl", Fail, fmt.Sprintf("kubectl %s; the stack's k3s is %s, and kubectl works within one minor version of it", client, cfg.Colima.K3sVersion),
			"brew upgrade kubectl"}
	}
	return Check{"kubectl", OK, fmt.Sprintf("kubectl %s (k3s %s)", client, cfg.Colima.K3sVersion), ""}
}

func memory(p Probe, s Stack) Check {
	out, err := p.Output("sysctl", "-n", "hw.memsize")
	bytes, perr := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
	if err != nil || perr != nil {
		return Check{"memory", Fail, "sysctl hw.memsize gave no size", ""}
	}
	gib := int(bytes >> 30)
	h, vm := s.Config.Host, s.Config.Colima.MemoryGiB
	if gib < h.MemoryGiB {
		return Check{"memory", Fail, fmt.Sprintf("this Mac has %d GiB but lamina:host.memoryGiB says %d, so the VMs' budget is more than there is", gib, h.MemoryGiB),
			fmt.Sprintf("pulumi config set --path lamina:host.memoryGiB %d -s %s (and size the VMs to fit)", gib, s.Name)}
	}
	return Check{"memory", OK, fmt.Sprintf("%d GiB, of which this stack's VM takes %d", gib, vm), ""}
}

// disk checks the free space where Colima keeps the VM's disk (it grows as used) and
// where the host data lives.
func disk(p Probe, s Stack) Check {
	cfg := s.Config
	colimaHome := p.Getenv("COLIMA_HOME")
	if colimaHome == "" {
		colimaHome = filepath.Join(p.Getenv("HOME"), ".colima")
	}
	var problems []string
	for _, d := range []struct {
		path string
		need int
		what string
	}{
		{existing(p, colimaHome), cfg.Colima.DiskGiB, fmt.Sprintf("the VM's %d GiB disk", cfg.Colima.DiskGiB)},
		{existing(p, cfg.Data.Dir), 0, "the host data"},
	} {
		free, err := freeGiB(p, d.path)
		if err != nil {
			return Check{"disk", Fail, fmt.Sprintf("df %s: %v", d.path, err), ""}
		}
		if free < d.need {
			problems = append(problems, fmt.Sprintf("%d GiB free at %s for %s", free, d.path, d.what))
		}
	}
	if len(problems) > 0 {
		return Check{"disk", Warn, strings.Join(problems, "; ") + " (the disk grows as it is used)",
			fmt.Sprintf("free space, or pulumi config set --path lamina:colima.diskGiB <GiB> -s %s before the VM is created", s.Name)}
	}
	return Check{"disk", OK, fmt.Sprintf("room for the VM's %d GiB disk", cfg.Colima.DiskGiB), ""}
}

// existing is path or its nearest existing parent.
func existing(p Probe, path string) string {
	for path != "/" && path != "." {
		if _, err := p.Stat(path); err == nil {
			return path
		}
		path = filepath.Dir(path)
	}
	return path
}

// freeGiB is the free space of the volume holding path, from df -k.
func freeGiB(p Probe, path string) (int, error) {
	out, err := p.Output("df", "-k", path)
	if err != nil {
		return 0, err
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	fields := strings.Fields(lines[len(lines)-1])
	if len(lines) < 2 || len(fields) < 4 {
		return 0, fmt.Errorf("unexpected output %q", out)
	}
	kib, err := strconv.ParseInt(fields[3], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("unexpected output %q", out)
	}
	return int(kib >> 20), nil
}

func passphrase(p Probe, s Stack) Check {
	if !s.Encrypted {
		return Check{"passphrase", OK, "the stack's secrets are not passphrase-encrypted", ""}
	}
	if p.Getenv("PULUMI_CONFIG_PASSPHRASE") != "" {
		return Check{"passphrase", OK, "PULUMI_CONFIG_PASSPHRASE is set", ""}
	}
	file := p.Getenv("PULUMI_CONFIG_PASSPHRASE_FILE")
	if file == "" {
		return Check{"passphrase", Warn, "pulumi will ask for the stack's passphrase",
			"export PULUMI_CONFIG_PASSPHRASE_FILE=~/.lamina/passphrase (a file only you can read: chmod 600)"}
	}
	info, err := p.Stat(file)
	if err != nil {
		return Check{"passphrase", Fail, "PULUMI_CONFIG_PASSPHRASE_FILE names " + file + ", which does not exist", "write the passphrase to " + file + " (chmod 600)"}
	}
	if info.Mode().Perm()&0o077 != 0 {
		return Check{"passphrase", Fail, fmt.Sprintf("%s is readable by others (mode %04o)", file, info.Mode().Perm()), "chmod 600 " + file}
	}
	return Check{"passphrase", OK, "PULUMI_CONFIG_PASSPHRASE_FILE is " + file + ", readable by you only", ""}
}

// hosts checks that /etc/hosts sends every hostname of the stack to its gateway.
func hosts(p Probe, s Stack) Check {
	if s.RenderErr != nil {
		return Check{"hosts", Fail, "the program refuses the stack, so its hostnames are unknown: " + s.RenderErr.Error(),
			"fix what the message names; lamina render -s " + s.Name + " shows the same"}
	}
	data, err := p.ReadFile("/etc/hosts")
	if err != nil {
		return Check{"hosts", Warn, "cannot read /etc/hosts: " + err.Error(), ""}
	}
	have := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		line, _, _ = strings.Cut(line, "#")
		fields := strings.Fields(line)
		for _, name := range fields[min(1, len(fields)):] {
			have[name] = fields[0]
		}
	}
	e := s.Config.Edge
	// The gateway: MetalLB's address, or the Docker target's edge.
	address := e.Address
	if s.Config.Cluster.Target == config.TargetDocker {
		address = s.Config.Docker.EdgeAddress
	}
	var missing []string
	for _, name := range s.Hostnames {
		if have[name] != address {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return Check{"hosts", Warn, fmt.Sprintf("/etc/hosts does not send %s to %s", strings.Join(missing, ", "), address),
			"after pulumi up: make hosts STACK=" + s.Name}
	}
	return Check{"hosts", OK, fmt.Sprintf("every hostname under %s goes to %s", e.Domain, address), ""}
}

type version struct{ major, minor, patch int }

func (v version) String() string { return fmt.Sprintf("%d.%d.%d", v.major, v.minor, v.patch) }

func (v version) less(o version) bool {
	if v.major != o.major {
		return v.major < o.major
	}
	if v.minor != o.minor {
		return v.minor < o.minor
	}
	return v.patch < o.patch
}

var versionPattern = regexp.MustCompile(`(\d+)\.(\d+)(?:\.(\d+))?`)

// parseVersion reads the first dotted version in s.
func parseVersion(s string) (version, bool) {
	m := versionPattern.FindStringSubmatch(s)
	if m == nil {
		return version{}, false
	}
	n := func(s string) int { i, _ := strconv.Atoi(s); return i }
	return version{n(m[1]), n(m[2]), n(m[3])}, true
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}
