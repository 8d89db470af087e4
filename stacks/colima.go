package stacks

import (
	"fmt"

	"github.com/lamina-os/lamina-infra/components/colima"
	"github.com/lamina-os/lamina-infra/stacks/config"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// The Colima VM as the stack's configuration asks for it, for both targets (build.go,
// docker.go) and for the doctor.

// newColimaVM declares the stack's Colima VM, after looking at it (probes, when set):
// with k3s, or for the Docker target the docker runtime alone. daemon stands for the
// VM's Docker daemon, which the images are built on.
func newColimaVM(ctx *pulumi.Context, cfg *config.Config, probes config.Probes) (vm *colima.ColimaVM, daemon string, err error) {
	var generation string
	if probes != nil {
		if generation, daemon, err = probes.ObserveVM(cfg.Colima.Profile, ctx.DryRun()); err != nil {
			return nil, "", err
		}
	}
	args := ColimaArgs(cfg)
	// The VM's command runs again when the VM is (to be) made anew, its start whenever
	// it was found not running.
	args.Generation, args.StartGeneration = daemon, generation
	if ctx.DryRun() && colima.WillStart(generation) {
		// The one preview Pulumi cannot make exact: the cluster is not there to compare.
		_ = ctx.Log.Warn(fmt.Sprintf("Colima profile %s is not running, so this preview cannot read its cluster: it shows the Kubernetes resources as updates. `pulumi up` starts the VM first and changes only what differs. For the exact plan, start it (colima start --profile %s) and preview again.",
			cfg.Colima.Profile, cfg.Colima.Profile), nil)
	}
	vm, err = colima.NewColimaVM(ctx, "colima", args)
	return vm, daemon, err
}

// ColimaArgs are the stack's Colima VM as the configuration asks for it (the doctor prints
// its start for a VM a user must create in a terminal).
func ColimaArgs(cfg *config.Config) colima.ColimaVMArgs {
	return colima.ColimaVMArgs{
		Profile:      cfg.Colima.Profile,
		CPUs:         cfg.Colima.CPUs,
		MemoryGiB:    cfg.Colima.MemoryGiB,
		DiskGiB:      cfg.Colima.DiskGiB,
		Arch:         cfg.Colima.Arch,
		K3sVersion:   cfg.Colima.K3sVersion,
		K3sPort:      cfg.Cluster.APIServerPort,
		PodCIDR:      cfg.Cluster.PodCIDR,
		ServiceCIDR:  cfg.Cluster.ServiceCIDR,
		ExtraK3sArgs: cfg.Colima.K3sArgs,
		DNS:          cfg.Colima.DNS,
		DataDir:      cfg.Data.Dir,
		DataSubdirs:  config.DataSubdirs,
		NodeCIDR:     cfg.Cluster.NodeCIDR,
		Protect:      cfg.Colima.Protect,
		NoKubernetes: cfg.Cluster.Target == config.TargetDocker,
		VMType:       cfg.Colima.VMType,
	}
}
