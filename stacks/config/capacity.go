package config

// Capacity: what each workload asks of the VM (its pods and their requests) and the sum.
// Validation compares it with the VM (validate_agents.go); the program checks a tenant
// against its share with it. It calls only quantity.go and the config types.

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// SystemReserve is what k3s and the pods the program does not size (CoreDNS, MetalLB,
// cert-manager, the Istio CNI agent) take of the VM before any workload.
var SystemReserve = Quantities{CPU: "1", Memory: "4Gi"}

// Demand is one workload's share of the VM: its pods, each with its containers' requests.
type Demand struct {
	// Name is the workload; Key is the config key of its resources.
	Name, Key string
	// Pods is the number of its pods.
	Pods int
	// Requests are one pod's requests, its sidecar included.
	CPU, Memory float64
	// Surge is a Deployment of one replica the program rolls out by starting the new pod
	// before the old one stops (components/workload): for a while it has two pods.
	Surge bool
}

// Demands lists every workload the program sizes with what its pods request: replicas
// times the container's requests, plus each injected pod's sidecar.
func (c *Config) Demands() []Demand {
	proxyCPU, _ := ParseQuantity(c.Mesh.ProxyResources.Requests.CPU)
	proxyMem, _ := ParseQuantity(c.Mesh.ProxyResources.Requests.Memory)
	var out []Demand
	add := func(name, key string, pods int, r Resources, sidecar bool) *Demand {
		cpu, _ := ParseQuantity(r.Requests.CPU)
		mem, _ := ParseQuantity(r.Requests.Memory)
		if sidecar {
			cpu, mem = cpu+proxyCPU, mem+proxyMem
		}
		out = append(out, Demand{Name: name, Key: key, Pods: pods, CPU: cpu, Memory: mem})
		return &out[len(out)-1]
	}
	platform := !c.Shared() // a shared stack's platform is its platform stack's
	if platform {
		add("istiod", "lamina:mesh.istiodResources", c.Mesh.IstiodReplicas, c.Mesh.IstiodResources, false)
		c.platformDemands(add)
	}
	add("chromadb", "lamina:chroma.resources", 1, c.Chroma.Resources, true)
	// The program's own Deployments.
	for _, d := range []struct {
		name, key string
		replicas  int
		r         Resources
		noSurge   bool
	}{
		{"lamina-llm-serve", "lamina:llm.resources", c.LLM.Replicas, c.LLM.Resources, c.LLM.StopsBeforeStart()},
		{"lamina-core", "lamina:core.resources", c.Core.Replicas, c.Core.Resources, false},
		{"lamina-dashboard", "lamina:dashboard.resources", 1, c.Dashboard.Resources, false},
	} {
		add(d.name, d.key, d.replicas, d.r, true).Surge = d.replicas == 1 && !d.noSurge
	}
	if c.Build.Enabled && platform {
		// A check may run at any time, so its pod is counted whether a commit is set or not.
		add("build check", "lamina:build.resources", 1, c.Build.Resources, true)
	}
	if platform {
		// What the tenants may request, as they are sized, sidecars included.
		for i, t := range c.Colima.Tenants {
			cpu, _ := ParseQuantity(t.CPU)
			mem, _ := ParseQuantity(t.Memory)
			out = append(out, Demand{Name: "tenant " + t.Stack, Key: "lamina:colima.tenants[" + strconv.Itoa(i) + "]", Pods: 1, CPU: cpu, Memory: mem})
		}
	}
	return out
}

// CapacityUnchecked is what a stack on a cluster the program does not size (target
// existing) is told at every preview and up instead of a capacity check. The program
// cannot read the nodes' allocatable resources before it changes anything: the
// Kubernetes provider reads an object it is given the name of and lists none, and a
// guess would refuse a cluster that fits or pass one that does not. So it says what
// the stack requests, for the operator to compare with the nodes' Allocatable
// (kubectl describe nodes), and leaves the placing to the scheduler. The tenants'
// shares are left out: they are the Colima VM's.
func (c *Config) CapacityUnchecked() string {
	demands := slices.DeleteFunc(c.Demands(), func(d Demand) bool { return strings.HasPrefix(d.Key, "lamina:colima.tenants") })
	cpu, memory, _, _ := Totals(demands)
	largest := slices.MaxFunc(demands, func(a, b Demand) int { return cmp.Compare(a.Memory, b.Memory) })
	return fmt.Sprintf("lamina:cluster.target is existing, so the program does not check the cluster's capacity: it cannot read the nodes' allocatable resources before up, and will not guess. "+
		"The stack's pods request %s cores and %s in all, sidecars and one rollout's extra pod included (Vector's once; it runs on every node); the largest, %s (%s), needs %s cores and %s on one node, %d times. "+
		"Compare with the nodes' Allocatable (kubectl describe nodes); a pod that fits nowhere stays Pending and the up waits for it until its timeout.",
		FormatCores(cpu), FormatGiB(memory), largest.Name, largest.Key, FormatCores(largest.CPU), FormatGiB(largest.Memory), largest.Pods)
}

// platformDemands adds the platform's workloads but istiod to a list of demands.
func (c *Config) platformDemands(add func(name, key string, pods int, r Resources, sidecar bool) *Demand) {
	add("istio-gateway", "lamina:mesh.gateway.resources", c.Mesh.Gateway.MinReplicas, c.Mesh.Gateway.Resources, false)
	add("prometheus", "lamina:monitoring.prometheus.resources", 1, c.Monitoring.Prometheus.Resources, true)
	add("kube-state-metrics", "lamina:monitoring.prometheus.kubeStateMetricsResources", 1, c.Monitoring.Prometheus.KubeStateMetricsResources, true)
	add("grafana", "lamina:grafana.resources", 1, c.Grafana.Resources, true)
	add("loki", "lamina:logs.loki.resources", 1, c.Logs.Loki.Resources, true)
	add("vector", "lamina:logs.vector.resources", 1, c.Logs.Vector.Resources, true) // one node
	add("jaeger", "lamina:tracing.jaeger.resources", 1, c.Tracing.Jaeger.Resources, true)
	if c.Tracing.Collector.Enabled {
		add("otel-collector", "lamina:tracing.collector.resources", c.Tracing.Collector.Replicas, c.Tracing.Collector.Resources, true)
	}
	add("kiali", "lamina:kiali.resources", 1, c.Kiali.Resources, true)
}

// Totals are what demands request in all, with the largest single-replica Deployment's
// second pod during a rollout (surgeCPU and surgeMemory, nil when there is none).
func Totals(demands []Demand) (cpu, memory float64, surgeCPU, surgeMemory *Demand) {
	for i, d := range demands {
		cpu += float64(d.Pods) * d.CPU
		memory += float64(d.Pods) * d.Memory
		if d.Surge && (surgeMemory == nil || d.Memory > surgeMemory.Memory) {
			surgeMemory = &demands[i]
		}
		if d.Surge && (surgeCPU == nil || d.CPU > surgeCPU.CPU) {
			surgeCPU = &demands[i]
		}
	}
	if surgeMemory != nil {
		memory += surgeMemory.Memory
	}
	if surgeCPU != nil {
		cpu += surgeCPU.CPU
	}
	return cpu, memory, surgeCPU, surgeMemory
}

// vmBudget is what the host leaves for VMs.
func (h Host) vmBudget() (cpus, memoryGiB int) {
	return h.CPUs - h.MacOSCPUs, h.MemoryGiB - h.MacOSMemoryGiB - h.ReserveMemoryGiB
}

// sideBySide is what the other stacks' VMs take of the host: cores, GiB, and their stacks.
func (h Host) sideBySide() (cpus, memoryGiB int, stacks []string) {
	for _, vm := range h.SideBySide {
		cpus += vm.CPUs
		memoryGiB += vm.MemoryGiB
		stacks = append(stacks, vm.Stack)
	}
	return cpus, memoryGiB, stacks
}

// krunkit's bounds (krunkit's src/context.rs): it refuses more than 61440 MiB of memory,
// and gives the GPU what is left of 62 GiB of guest address space once the memory is
// rounded up to the next GiB plus one.
const (
	KrunkitMaxMemoryGiB = 60
	krunkitAddressGiB   = 61
)

// GPUMemoryGiB is the GPU's memory krunkit maps into a VM of memoryGiB: 61 GiB minus it.
func GPUMemoryGiB(memoryGiB int) int { return krunkitAddressGiB - memoryGiB }

func sideBySideNote(gib int) string {
	if gib == 0 {
		return ""
	}
	return fmt.Sprintf(" and the side-by-side VMs' %d GiB", gib)
}

// loadedModels is what each server loads: the total size and "name size" of each.
func loadedModels(l LLMServe) (float64, []string) {
	total := 0.0
	var names []string
	for _, name := range slices.Sorted(maps.Keys(l.Models)) {
		m := l.Models[name]
		if m.Disabled || !m.Load {
			continue
		}
		if size, ok := ParseQuantity(m.Size); ok {
			total += size
			names = append(names, name+" "+m.Size)
		}
	}
	return total, names
}
