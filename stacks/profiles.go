package stacks

import (
	"sort"
	"time"
)

// Environment profiles.
const (
	Development = "development"
	Production  = "production"
)

// profiles give every field of Config its default per environment. The figures are the
// infrastructure proposal's: a 32-core, 512 GiB Mac of which macOS keeps 4 cores and
// 64 GiB and 64 GiB stay in reserve; development runs a 12-core, 128 GiB, 200 GiB-disk VM
// and production a 16-core, 256 GiB, 500 GiB-disk VM, side by side.
var profiles = map[string]func() Config{
	Development: func() Config {
		return Config{
			Profile: Development,
			Host:    macStudio(planned(Production, productionVM())),
			Data:    Data{Dir: "/Users/Shared/lamina/development"},
			Cluster: colimaCluster(5 * time.Minute),
			Colima:  developmentVM(),
		}
	},
	Production: func() Config {
		return Config{
			Profile: Production,
			Host:    macStudio(planned(Development, developmentVM())),
			Data:    Data{Dir: "/Users/Shared/lamina/production"},
			Cluster: colimaCluster(10 * time.Minute),
			Colima:  productionVM(),
		}
	},
}

// k3sVersion is the k3s release both profiles pin (Colima's default at the time of writing).
const k3sVersion = "v1.35.0+k3s1"

// macStudio is the M3 Ultra host the proposal sizes for, sharing it with one other VM.
func macStudio(other PlannedVM) Host {
	return Host{
		CPUs:             32,
		MemoryGiB:        512,
		MacOSCPUs:        4,
		MacOSMemoryGiB:   64,
		ReserveMemoryGiB: 64,
		SideBySide:       []PlannedVM{other},
	}
}

func developmentVM() Colima { return colimaVM("lamina-development", 12, 128, 200, false) }

// productionVM is protected: `pulumi destroy` refuses to delete it.
func productionVM() Colima { return colimaVM("lamina-production", 16, 256, 500, true) }

// planned is the other stack's VM as this stack's host budget plans for it.
func planned(stack string, vm Colima) PlannedVM {
	return PlannedVM{Stack: stack, CPUs: vm.CPUs, MemoryGiB: vm.MemoryGiB}
}

// colimaVM is an Apple-silicon VM on the pinned k3s release with no extra k3s
// arguments and Colima's default DNS.
func colimaVM(profile string, cpus, memoryGiB, diskGiB int, protect bool) Colima {
	return Colima{
		Profile:    profile,
		CPUs:       cpus,
		MemoryGiB:  memoryGiB,
		DiskGiB:    diskGiB,
		Arch:       "aarch64",
		K3sVersion: k3sVersion,
		K3sArgs:    []string{},
		DNS:        []string{},
		Protect:    protect,
	}
}

func colimaCluster(readyTimeout time.Duration) Cluster {
	return Cluster{
		Target:       TargetColima,
		ReadyTimeout: Duration{readyTimeout},
		// macOS's vmnet shared network, which Colima's vz VMs join with --network-address.
		NodeCIDR: "192.168.64.0/24",
		// k3s's own defaults.
		PodCIDR:      "10.42.0.0/16",
		ServiceCIDR:  "10.43.0.0/16",
		StorageClass: "lamina-host",
	}
}

// Profiles returns the names of the environment profiles, sorted.
func Profiles() []string {
	names := make([]string, 0, len(profiles))
	for n := range profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Defaults returns the configuration a stack of the given profile gets when its stack
// file sets nothing.
func Defaults(profile string) (Config, bool) {
	p, ok := profiles[profile]
	if !ok {
		return Config{}, false
	}
	return p(), true
}
