// Package colima provides ColimaVM, a component resource for the Colima VM (macOS
// Virtualization.framework, vz) that runs k3s, built on pulumi-command local.Command.
package colima

import (
	_ "embed"
	"fmt"
	"maps"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi-command/sdk/go/command/local"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/lamina-os/lamina-infra/components/storage"
	"github.com/lamina-os/lamina-infra/internal/shell"
)

var (
	//go:embed colima.sh
	colimaHelpers string
	//go:embed ensure.sh
	ensureBody string
	//go:embed delete.sh
	deleteBody string
	// SudoersText is what Colima 0.10.0 to 0.10.3 require /etc/sudoers.d/colima to hold
	// before they start a krunkit VM's network helper without asking for sudo: their
	// embedded/network/sudo.txt, byte for byte, as embedded.SudoersInstalled compares it
	// (bytes.Contains; embedded/sudoers.go at v0.10.3). Colima 0.9's differs.
	//go:embed sudoers.txt
	SudoersText string
)

// SudoersTextVersions are the Colima releases whose network helper SudoersText is.
const SudoersTextVersions = "0.10.0 to 0.10.3"

// The scripts the component runs. Exported for documentation and review; they read all
// their parameters from the environment the component sets.
var (
	EnsureScript = shell.Script("create the host data directories, then create, start or resize the Colima profile",
		colimaHelpers, storage.DataDirsPart, ensureBody)
	DeleteScript = shell.Script("stop and delete the Colima profile, keeping host data", colimaHelpers, deleteBody)
)

// ColimaVMArgs are the VM's settings, typed values handed down from the stack config.
type ColimaVMArgs struct {
	// Profile is the Colima profile name; the VM's kube context is colima-<Profile>.
	Profile string
	// CPUs, MemoryGiB and DiskGiB size the VM. CPU and memory changes restart the VM;
	// the disk can only grow.
	CPUs, MemoryGiB, DiskGiB int
	// Arch is aarch64 or x86_64, fixed when the VM is created.
	Arch string
	// K3sVersion is the k3s release tag Colima installs.
	K3sVersion string
	// K3sPort is the port k3s's API server listens on (colima start --k3s-listen-port).
	// Colima applies it when it creates a VM, and keeps an existing VM's port.
	K3sPort int
	// PodCIDR and ServiceCIDR are the cluster's networks (k3s --cluster-cidr, --service-cidr).
	PodCIDR, ServiceCIDR string
	// ExtraK3sArgs are k3s server arguments beyond the component's own.
	ExtraK3sArgs []string
	// DNS lists the VM's resolvers; empty keeps Colima's default.
	DNS []string
	// DataDir is the host directory mounted writable into the VM at the same path: the
	// only host directory the VM sees.
	DataDir string
	// DataSubdirs are created under DataDir before the VM starts, by the VM's command.
	DataSubdirs []string
	// NodeCIDR is the network the VM's reachable address must be in.
	NodeCIDR string
	// Protect makes `pulumi destroy` refuse to delete the VM.
	Protect bool
	// Generation changes when the VM was made anew or must be (the Observer's daemon
	// token: the profile absent, or another Docker daemon in it), so that the VM's command
	// runs again and everything that read the old VM reads the new one.
	Generation string
	// StartGeneration changes whenever the VM was found not running (the Observer's
	// generation): the start command runs again and starts it, and nothing that reads
	// the VM's summary changes, so a preview after a reboot shows the start and the waits
	// that follow it, not every resource of the cluster.
	StartGeneration string
	// VMType is vz or krunkit (config.VMTypeKrunkit: containers see the GPU).
	VMType string
	// NoKubernetes starts the docker runtime alone (the Docker target): no k3s, and the
	// k3s settings above are not used.
	NoKubernetes bool
}

// K3sArgs returns every k3s server argument the VM is started with: traefik and servicelb
// disabled (Istio's gateway and MetalLB replace them), the cluster networks, then the
// extra arguments.
func (a ColimaVMArgs) K3sArgs() []string {
	return append([]string{
		"--disable=traefik",
		"--disable=servicelb",
		"--cluster-cidr=" + a.PodCIDR,
		"--service-cidr=" + a.ServiceCIDR,
	}, a.ExtraK3sArgs...)
}

// StartArgs are the arguments of `colima start` for the VM (after "start"): every setting
// the program owns, each time, because Colima takes any flag left out from the profile's
// saved colima.yaml, or for a new profile from the user's template (cmd/start.go,
// prepareConfig, at v0.10.3: kubernetes L513-515, dns L563-565). So the Docker target
// says --kubernetes=false, and no DNS says --dns= (an empty list clears saved servers).
// --port-forwarder=none keeps what listens on the VM's 0.0.0.0 (k3s's API server, the
// kubelet, Lima's forwards of LoadBalancer services) off the Mac's every interface,
// where Colima's default rule would put it (environment/vm/lima/yaml.go L278-306; Lima
// forwards the VM's loopback to the Mac's loopback still, pkg/hostagent). The Mac
// reaches the VM at its own address instead (--network-address). --activate=false leaves
// the user's current Docker and kubectl contexts alone.
func (a ColimaVMArgs) StartArgs() []string {
	vmType, mountType := a.VMType, "virtiofs"
	if vmType == "" {
		vmType = "vz"
	}
	if vmType == "krunkit" {
		// Colima turns any mount type but sshfs into 9p for a VM that is not vz, which
		// Lima's krunkit driver refuses: the data directory is mounted with reverse sshfs.
		mountType = "sshfs"
	}
	// The hostname names the k3s node (colima-<profile> is Colima's own default, unless a
	// saved setting or the template says otherwise: cmd/start.go at v0.10.3, L389-390).
	args := []string{"--profile=" + a.Profile, "--hostname=" + a.NodeName(), "--runtime=docker", "--vm-type=" + vmType, "--arch=" + a.Arch,
		"--cpus=" + strconv.Itoa(a.CPUs), "--memory=" + strconv.Itoa(a.MemoryGiB), "--disk=" + strconv.Itoa(a.DiskGiB)}
	if a.NoKubernetes {
		args = append(args, "--kubernetes=false")
	} else {
		args = append(args, "--kubernetes", "--kubernetes-version="+a.K3sVersion)
	}
	args = append(args, "--network-address", "--port-forwarder=none", "--mount-type="+mountType, "--mount="+a.DataDir+":w")
	if !a.NoKubernetes {
		for _, arg := range a.K3sArgs() {
			args = append(args, "--k3s-arg="+arg)
		}
	}
	if len(a.DNS) == 0 {
		args = append(args, "--dns=")
	}
	for _, ip := range a.DNS {
		args = append(args, "--dns="+ip)
	}
	// Colima sets k3s's port when it creates a VM and keeps it after (cluster-ready
	// checks the port k3s really has).
	if !a.NoKubernetes {
		args = append(args, "--k3s-listen-port="+strconv.Itoa(a.K3sPort))
	}
	return append(args, "--activate=false")
}

// NodeName is the VM's hostname, which k3s names its node by.
func (a ColimaVMArgs) NodeName() string { return "colima-" + a.Profile }

// StartCommand is StartArgs as one command line a user can paste into a terminal.
func (a ColimaVMArgs) StartCommand() string {
	return "colima start " + shell.Quote(a.StartArgs())
}

// ColimaVM is a Colima profile running k3s, and the host data directory it mounts.
type ColimaVM struct {
	pulumi.ResourceState

	// Profile is the Colima profile name.
	Profile pulumi.StringOutput `pulumi:"profile"`
	// KubeContext is the kube context Colima writes for the profile.
	KubeContext pulumi.StringOutput `pulumi:"kubeContext"`
	// Address is the VM's address on the network reachable from macOS.
	Address pulumi.StringOutput `pulumi:"address"`
	// DockerHost is the profile's Docker socket (unix://...).
	DockerHost pulumi.StringOutput `pulumi:"dockerHost"`
	// State is the summary the VM's command printed; it changes whenever the VM was
	// created, restarted or resized, so consumers can re-read what depends on the VM.
	State pulumi.StringOutput `pulumi:"state"`
	// CPUs, MemoryGiB and DiskGiB are the VM's size.
	CPUs      pulumi.IntOutput `pulumi:"cpus"`
	MemoryGiB pulumi.IntOutput `pulumi:"memoryGiB"`
	DiskGiB   pulumi.IntOutput `pulumi:"diskGiB"`
	// DataDir is the host data directory mounted into the VM.
	DataDir pulumi.StringOutput `pulumi:"dataDir"`

	// VM is the command that owns the profile's lifecycle.
	VM *local.Command
	// Start is the command that starts the VM when it was found stopped; what must run
	// in a started VM waits for it.
	Start *local.Command
	// Args are the settings the VM was declared with.
	Args ColimaVMArgs
}

// NewColimaVM creates the host data directories, then creates, starts or resizes the
// Colima profile, in one command: the directories take no time a user should wait on in
// a row. Destroying it deletes the profile and leaves the data directory alone (the
// delete script never touches it).
func NewColimaVM(ctx *pulumi.Context, name string, args ColimaVMArgs, opts ...pulumi.ResourceOption) (*ColimaVM, error) {
	c := &ColimaVM{Args: args}
	if err := ctx.RegisterComponentResource("lamina:colima:ColimaVM", name, c, opts...); err != nil {
		return nil, err
	}

	env := pulumi.StringMap{
		"LAMINA_PROFILE":       pulumi.String(args.Profile),
		"LAMINA_CPUS":          pulumi.String(strconv.Itoa(args.CPUs)),
		"LAMINA_MEMORY_GIB":    pulumi.String(strconv.Itoa(args.MemoryGiB)),
		"LAMINA_DISK_GIB":      pulumi.String(strconv.Itoa(args.DiskGiB)),
		"LAMINA_ARCH":          pulumi.String(args.Arch),
		"LAMINA_K3S_VERSION":   pulumi.String(args.K3sVersion),
		"LAMINA_START_ARGS":    pulumi.String(shell.Lines(args.StartArgs())),
		"LAMINA_DATA_DIR":      pulumi.String(args.DataDir),
		"LAMINA_DATA_SUBDIRS":  pulumi.String(shell.Lines(args.DataSubdirs)),
		"LAMINA_NODE_CIDR":     pulumi.String(args.NodeCIDR),
		"LAMINA_VM_GENERATION": pulumi.String(args.Generation),
	}
	if args.VMType != "" && args.VMType != "vz" {
		// Set only then, as LAMINA_KUBERNETES: vz VMs' commands keep their inputs.
		env["LAMINA_VM_TYPE"] = pulumi.String(args.VMType)
		env["LAMINA_COLIMA_SUDOERS"] = pulumi.String(SudoersText)
	}
	if args.NoKubernetes {
		// Set only then: the Kubernetes stacks' commands keep the inputs they had.
		env["LAMINA_KUBERNETES"] = pulumi.String("false")
	}
	vm, err := local.NewCommand(ctx, name+"-vm", &local.CommandArgs{
		Interpreter: pulumi.ToStringArray(shell.Interpreter),
		Create:      pulumi.String(EnsureScript),
		// The same script on update: it compares the running VM with the request, and
		// sees the last summary in PULUMI_COMMAND_STDOUT.
		Update:      pulumi.String(EnsureScript),
		Delete:      pulumi.String(DeleteScript),
		Environment: env,
		// Another profile is another VM: replace, deleting the old one first, because two
		// VMs of this size would not fit the host side by side.
		Triggers: pulumi.Array{pulumi.String(args.Profile)},
	}, pulumi.Parent(c),
		pulumi.DeleteBeforeReplace(true),
		pulumi.Protect(args.Protect))
	if err != nil {
		return nil, err
	}

	// The start: the same script, which creates, starts or leaves the VM alone, here
	// never restarting a running VM (LAMINA_START_ONLY; the VM's command applies
	// settings). It runs again only when the VM was found not running.
	startEnv := maps.Clone(env)
	startEnv["LAMINA_VM_GENERATION"] = pulumi.String(args.StartGeneration)
	startEnv["LAMINA_START_ONLY"] = pulumi.String("1")
	start, err := local.NewCommand(ctx, name+"-start", &local.CommandArgs{
		Interpreter: pulumi.ToStringArray(shell.Interpreter),
		Create:      pulumi.String(EnsureScript),
		Update:      pulumi.String(EnsureScript),
		Environment: startEnv,
	}, pulumi.Parent(c), pulumi.DependsOn([]pulumi.Resource{vm}))
	if err != nil {
		return nil, err
	}

	c.VM = vm
	c.Start = start
	c.Profile = pulumi.String(args.Profile).ToStringOutput()
	c.KubeContext = pulumi.String("colima-" + args.Profile).ToStringOutput()
	c.State = vm.Stdout
	c.Address = summaryField(vm.Stdout, "address")
	c.DockerHost = summaryField(vm.Stdout, "docker_host")
	c.CPUs = pulumi.Int(args.CPUs).ToIntOutput()
	c.MemoryGiB = pulumi.Int(args.MemoryGiB).ToIntOutput()
	c.DiskGiB = pulumi.Int(args.DiskGiB).ToIntOutput()
	// Known from the start; whatever runs in the VM waits for the VM, whose command
	// creates the directories before it starts the VM.
	c.DataDir = pulumi.String(args.DataDir).ToStringOutput()

	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"profile":     c.Profile,
		"kubeContext": c.KubeContext,
		"address":     c.Address,
		"dockerHost":  c.DockerHost,
		"cpus":        c.CPUs,
		"memoryGiB":   c.MemoryGiB,
		"diskGiB":     c.DiskGiB,
		"dataDir":     c.DataDir,
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// summaryField reads one key=value line of the VM command's summary.
func summaryField(summary pulumi.StringOutput, key string) pulumi.StringOutput {
	return summary.ApplyT(func(s string) (string, error) {
		for _, line := range strings.Split(s, "\n") {
			if k, v, ok := strings.Cut(line, "="); ok && k == key {
				return v, nil
			}
		}
		return "", fmt.Errorf("the Colima VM command printed no %s= line; its output was:\n%s", key, s)
	}).(pulumi.StringOutput)
}
