package config

import (
	"net/netip"
	"strings"
)

// validateVMType: what krunkit cannot run is refused before any VM is touched.
func validateVMType(c *Config, ps *problems) {
	v := c.Colima
	oneOf(ps, "lamina:colima.vmType", v.VMType, VMTypeVZ, VMTypeKrunkit)
	if v.VMType != VMTypeKrunkit {
		return
	}
	validateVMNetwork(c, ps)
	if v.Arch != "aarch64" {
		ps.add("lamina:colima.arch", "%s with lamina:colima.vmType krunkit: krunkit runs only the Mac's own architecture; allowed: aarch64", quote(v.Arch))
	}
	if v.MemoryGiB > KrunkitMaxMemoryGiB {
		ps.add("lamina:colima.memoryGiB", "%d GiB with lamina:colima.vmType krunkit: krunkit refuses more than 61440 MiB (the VM's memory and the GPU's share 62 GiB of address space); allowed: %d to %d",
			v.MemoryGiB, minVMMemoryGiB, KrunkitMaxMemoryGiB)
	}
}

// validateAccelerator: a GPU needs this stack's own krunkit VM, and the models set to
// load must fit in the GPU's memory, which comes from the Mac's memory beside the VM's.
func validateAccelerator(c *Config, ps *problems) {
	l := c.LLM
	key := "lamina:llm.accelerator"
	oneOf(ps, key, l.Accelerator, AcceleratorNone, AcceleratorGPU)
	if l.Accelerator != AcceleratorGPU {
		return
	}
	validateImageRef(c, ps, "lamina:llm.devicePluginImage", l.DevicePluginImage)
	switch c.Cluster.Target {
	case TargetColima:
	case TargetDocker:
		// The render node is passed to llm-serve's container by the daemon of this
		// stack's own VM; another daemon's host (Docker Desktop's VM) has none.
		if c.Docker.Host != "" {
			ps.add(key, "is gpu, but lamina:docker.host is %s: the GPU reaches containers only on the daemon of this stack's own krunkit VM; allowed: none, or gpu with lamina:docker.host empty", quote(c.Docker.Host))
			return
		}
	default:
		ps.add(key, "is gpu, but lamina:cluster.target is %s: the GPU reaches pods only in this stack's own krunkit VM; allowed: none, or gpu with lamina:cluster.target colima or docker", c.Cluster.Target)
		return
	}
	vm := c.Colima
	if vm.VMType != VMTypeKrunkit {
		ps.add(key, "is gpu, but lamina:colima.vmType is %s, whose containers get no GPU; set lamina:colima.vmType to krunkit (Apple silicon, macOS 14 or later, krunkit installed) or lamina:llm.accelerator to none", quote(vm.VMType))
		return
	}
	loaded, loads := loadedModels(l)
	// Every server holds its own copy; a rollout stops the old server first.
	need := loaded * float64(max(l.Replicas, 1))
	gpu := GPUMemoryGiB(vm.MemoryGiB)
	if vm.MemoryGiB <= KrunkitMaxMemoryGiB && need > float64(gpu)*(1<<30) {
		ps.add("lamina:llm.models", "the models set to load (%s) need %s on the GPU for %d servers, more than the %d GiB krunkit leaves it beside %d GiB of VM memory (61 GiB minus lamina:colima.memoryGiB); lower lamina:colima.memoryGiB, set load false on one, or lower lamina:llm.replicas",
			strings.Join(loads, ", "), FormatGiB(need), max(l.Replicas, 1), gpu, vm.MemoryGiB)
	}
	// The GPU's memory is the Mac's: the VM and what the GPU holds share its budget.
	_, budget := c.Host.vmBudget()
	_, others, _ := c.Host.sideBySide()
	if total := float64(vm.MemoryGiB+others)*(1<<30) + need; total > float64(budget)*(1<<30) {
		ps.add("lamina:llm.models", "on the GPU (%s) with the VM's %d GiB%s make %s, more than the %d GiB the host leaves for VMs (lamina:host.memoryGiB minus macosMemoryGiB and reserveMemoryGiB): the GPU's memory is the Mac's",
			FormatGiB(need), vm.MemoryGiB, sideBySideNote(others), FormatGiB(total), budget)
	}
}

// validateVMNetwork: a krunkit VM's address is on Colima's helper network, whatever the
// stack says; addresses elsewhere could never be reached. validateVMType calls it for a
// krunkit VM.
func validateVMNetwork(c *Config, ps *problems) {
	if !(c.Cluster.Target == TargetColima || c.Cluster.Target == TargetDocker && c.Docker.Host == "") {
		return
	}
	if node, err := netip.ParsePrefix(c.Cluster.NodeCIDR); err == nil && !(krunkitNetwork.Contains(node.Addr()) && node.Bits() >= krunkitNetwork.Bits()) {
		ps.add("lamina:cluster.nodeCIDR", "%s with lamina:colima.vmType krunkit: Colima puts a krunkit VM on its network helper's %s (socket_vmnet, gateway 192.168.106.1), not on macOS's vmnet network; allowed: %s or a network within it (unset, the profile's addresses move there too)",
			c.Cluster.NodeCIDR, krunkitNetwork, krunkitNetwork)
	}
}
