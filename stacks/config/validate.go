package config

import (
	"net/netip"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// k3sManagedArgs are the k3s arguments the program sets itself.
var k3sManagedArgs = []string{"--disable=traefik", "--disable=servicelb", "--cluster-cidr", "--service-cidr"}

// validate checks a decoded configuration and returns every problem it finds.
func validate(c *Config) []Problem {
	var ps problems
	validateHost(c, &ps)
	validateCharts(c, &ps)
	validatePath(&ps, "lamina:data.dir", c.Data.Dir)
	validateStorage(c, &ps)
	validateCluster(c, &ps)
	if c.Cluster.Target == TargetColima || c.Cluster.Target == TargetDocker && c.Docker.Host == "" {
		validateColima(c, &ps)
	}
	validateDocker(c, &ps)
	validateMesh(c, &ps)
	validateMonitoring(c, &ps)
	validateGrafana(c, &ps)
	validateLogs(c, &ps)
	validateTracing(c, &ps)
	validateKiali(c, &ps)
	// The agent stack: images, llm-serve and its catalogue, its accelerator, ChromaDB,
	// the agent server and the dashboard, then whether the whole platform fits the VM.
	validateImages(c, &ps)
	validateLLM(c, &ps)
	validateAccelerator(c, &ps)
	validateChroma(c, &ps)
	validateCore(c, &ps)
	validateDashboard(c, &ps)
	validateFit(c, &ps)
	validateBuild(c, &ps)
	return ps
}

func validateHost(c *Config, ps *problems) {
	h := c.Host
	inRange(ps, "lamina:host.cpus", h.CPUs, 1, 1024)
	inRange(ps, "lamina:host.memoryGiB", h.MemoryGiB, 1, 65536)
	if h.CPUs >= 1 {
		inRange(ps, "lamina:host.macosCPUs", h.MacOSCPUs, 0, h.CPUs-1)
	}
	inRange(ps, "lamina:host.macosMemoryGiB", h.MacOSMemoryGiB, 0, 65536)
	inRange(ps, "lamina:host.reserveMemoryGiB", h.ReserveMemoryGiB, 0, 65536)
	if h.MacOSMemoryGiB >= 0 && h.ReserveMemoryGiB >= 0 && h.MemoryGiB >= 1 && h.MacOSMemoryGiB+h.ReserveMemoryGiB >= h.MemoryGiB {
		ps.add("lamina:host.reserveMemoryGiB", "macOS (%d GiB) and the reserve (%d GiB) leave no memory of lamina:host.memoryGiB (%d GiB) for VMs; together they must stay below it",
			h.MacOSMemoryGiB, h.ReserveMemoryGiB, h.MemoryGiB)
	}
	seen := map[string]bool{}
	for i, vm := range h.SideBySide {
		key := "lamina:host.sideBySide[" + strconv.Itoa(i) + "]"
		otherStack(c, ps, key+".stack", vm.Stack, seen, stackName,
			"is not a stack name; allowed: letters, digits, '-', '_' and '.'", "list only the other stacks that share the host")
		inRange(ps, key+".cpus", vm.CPUs, 1, 1024)
		inRange(ps, key+".memoryGiB", vm.MemoryGiB, 1, 65536)
		for j, a := range vm.Addresses {
			if _, err := parseRange(a); err != nil {
				ps.add(key+".addresses["+strconv.Itoa(j)+"]", "%s is %s; allowed: the form 192.168.64.210-192.168.64.219 or 192.168.64.240/29", quote(a), err)
			}
		}
	}
}

func validateColima(c *Config, ps *problems) {
	v := c.Colima
	if !profileName.MatchString(v.Profile) || v.Profile == "default" || v.Profile == "colima" {
		ps.add("lamina:colima.profile", "%s is not allowed; allowed: lower-case letters, digits and '-', 1 to 40 characters, starting and ending with a letter or digit, not default or colima (the user's own VM)", quote(v.Profile))
	}
	cpuBudget, memBudget := c.Host.vmBudget()
	switch {
	case v.CPUs < 1:
		ps.add("lamina:colima.cpus", "%d is out of range; allowed: 1 to %d", v.CPUs, max(cpuBudget, 1))
	case v.CPUs > cpuBudget:
		ps.add("lamina:colima.cpus", "%d cores exceed the %d the host leaves for VMs (lamina:host.cpus %d minus lamina:host.macosCPUs %d); allowed: 1 to %d",
			v.CPUs, cpuBudget, c.Host.CPUs, c.Host.MacOSCPUs, max(cpuBudget, 1))
	}
	switch {
	case v.MemoryGiB < minVMMemoryGiB:
		ps.add("lamina:colima.memoryGiB", "%d is out of range; allowed: %d to %d", v.MemoryGiB, minVMMemoryGiB, max(memBudget, minVMMemoryGiB))
	case v.MemoryGiB > memBudget:
		ps.add("lamina:colima.memoryGiB", "%d GiB exceed the %d GiB the host leaves for VMs (lamina:host.memoryGiB %d minus macosMemoryGiB %d and reserveMemoryGiB %d); allowed: %d to %d",
			v.MemoryGiB, memBudget, c.Host.MemoryGiB, c.Host.MacOSMemoryGiB, c.Host.ReserveMemoryGiB, minVMMemoryGiB, max(memBudget, minVMMemoryGiB))
	}
	// Together with the VMs of the other stacks.
	otherCPUs, otherMem, others := c.Host.sideBySide()
	if len(others) > 0 {
		list := strings.Join(others, ", ")
		if v.CPUs >= 1 && v.CPUs <= cpuBudget && v.CPUs+otherCPUs > cpuBudget {
			ps.add("lamina:colima.cpus", "%d cores with the side-by-side VMs of %s (%d cores) make %d, more than the %d cores the host leaves for VMs (lamina:host.cpus minus lamina:host.macosCPUs); allowed with them: 1 to %d",
				v.CPUs, list, otherCPUs, v.CPUs+otherCPUs, cpuBudget, max(cpuBudget-otherCPUs, 0))
		}
		if v.MemoryGiB >= minVMMemoryGiB && v.MemoryGiB <= memBudget && v.MemoryGiB+otherMem > memBudget {
			ps.add("lamina:colima.memoryGiB", "%d GiB with the side-by-side VMs of %s (%d GiB) make %d GiB, more than the %d GiB the host leaves for VMs (lamina:host.memoryGiB minus macosMemoryGiB and reserveMemoryGiB); allowed with them: %d to %d",
				v.MemoryGiB, list, otherMem, v.MemoryGiB+otherMem, memBudget, minVMMemoryGiB, max(memBudget-otherMem, 0))
		}
	}
	validateTenants(c, ps)
	inRange(ps, "lamina:colima.diskGiB", v.DiskGiB, minDiskGiB, maxDiskGiB)
	oneOf(ps, "lamina:colima.arch", v.Arch, "aarch64", "x86_64")
	validateVMType(c, ps)
	if !k3sRelease.MatchString(v.K3sVersion) {
		ps.add("lamina:colima.k3sVersion", "%s is not a k3s release tag; allowed: the form v1.35.0+k3s1", quote(v.K3sVersion))
	}
	for i, arg := range v.K3sArgs {
		key := "lamina:colima.k3sArgs[" + strconv.Itoa(i) + "]"
		switch {
		case !strings.HasPrefix(arg, "--") || hasControl(arg):
			ps.add(key, "%s is not a k3s server argument; allowed: one argument per item, starting with --", quote(arg))
		case strings.Contains(arg, ","):
			ps.add(key, "%s contains ','; Colima splits --k3s-arg values on commas, so give each value as its own item", quote(arg))
		case managedK3sArg(arg):
			ps.add(key, "%s is set by the program; use lamina:cluster.podCIDR or lamina:cluster.serviceCIDR for the networks, and leave traefik and servicelb disabled (Istio and MetalLB replace them)", quote(arg))
		}
	}
	for i, ip := range v.DNS {
		if _, err := netip.ParseAddr(ip); err != nil {
			ps.add("lamina:colima.dns["+strconv.Itoa(i)+"]", "%s is not an IP address", quote(ip))
		}
	}
}

// otherStack checks an item of a list of other stacks, at key: a name pattern allows
// (invalid says why not), not this stack (self says what to list instead), listed once.
func otherStack(c *Config, ps *problems, key, name string, seen map[string]bool, pattern *regexp.Regexp, invalid, self string) {
	switch {
	case !pattern.MatchString(name):
		ps.add(key, "%s %s", quote(name), invalid)
	case name == c.stack:
		ps.add(key, "names this stack (%s); %s", name, self)
	case seen[name]:
		ps.add(key, "%s is listed twice", name)
	}
	seen[name] = true
}

// validateTenants checks the stacks that join this stack's platform.
func validateTenants(c *Config, ps *problems) {
	seen := map[string]bool{}
	for i, t := range c.Colima.Tenants {
		key := "lamina:colima.tenants[" + strconv.Itoa(i) + "]"
		otherStack(c, ps, key+".stack", t.Stack, seen, tenantName,
			"cannot name a tenant's namespaces (lamina-<stack>); allowed: lower-case letters, digits and '-', 1 to 30 characters", "list only the stacks that join it")
		if v, ok := ParseQuantity(t.CPU); !ok || v <= 0 {
			ps.add(key+".cpu", "%s is not a CPU quantity above zero; allowed: the form 4 or 3500m", quote(t.CPU))
		}
		if v, ok := ParseQuantity(t.Memory); !ok || v <= 0 {
			ps.add(key+".memory", "%s is not a memory quantity above zero; allowed: the form 24Gi", quote(t.Memory))
		}
	}
}

func managedK3sArg(arg string) bool {
	for _, m := range k3sManagedArgs {
		if arg == m || strings.HasPrefix(arg, m+"=") {
			return true
		}
	}
	return false
}

func validateCluster(c *Config, ps *problems) {
	cl := c.Cluster
	oneOf(ps, "lamina:cluster.target", cl.Target, Targets...)
	if cl.Target == TargetShared {
		switch {
		case !stackName.MatchString(cl.Platform):
			ps.add("lamina:cluster.platform", "%s is not a stack name; required with lamina:cluster.target shared: the stack whose cluster and platform this stack joins (production)", quote(cl.Platform))
		case cl.Platform == c.stack:
			ps.add("lamina:cluster.platform", "names this stack (%s); a shared stack joins another stack's platform", c.stack)
		}
		if !tenantName.MatchString(c.stack) {
			ps.add("lamina:cluster.target", "is shared, but the stack's name %s cannot name its namespaces (lamina-<stack>); allowed for a shared stack: lower-case letters, digits and '-', 1 to 30 characters", quote(c.stack))
		}
		for key, v := range map[string]string{"lamina:cluster.kubeconfig": cl.Kubeconfig, "lamina:cluster.context": cl.Context, "lamina:cluster.dockerHost": cl.DockerHost} {
			if v != "" {
				ps.add(key, "is only for lamina:cluster.target existing; a shared stack uses its platform's (lamina:cluster.platform); remove it")
			}
		}
	} else if cl.Platform != "" {
		ps.add("lamina:cluster.platform", "is only for lamina:cluster.target shared; remove it")
	}
	if cl.Target == TargetExisting {
		if (!filepath.IsAbs(cl.Kubeconfig) && !strings.HasPrefix(cl.Kubeconfig, "~/")) || hasControl(cl.Kubeconfig) {
			ps.add("lamina:cluster.kubeconfig", "%s is not a kubeconfig path; required with lamina:cluster.target existing: an absolute path or one starting with ~/", quote(cl.Kubeconfig))
		}
		if !kubeContext.MatchString(cl.Context) {
			ps.add("lamina:cluster.context", "%s is not a kubeconfig context; required with lamina:cluster.target existing: a name without spaces", quote(cl.Context))
		}
		if cl.DockerHost != "" && (!dockerScheme.MatchString(cl.DockerHost) || hasControl(cl.DockerHost)) {
			ps.add("lamina:cluster.dockerHost", "%s is not a Docker host; allowed: empty, or unix://, tcp:// or ssh:// followed by an address", quote(cl.DockerHost))
		}
	}
	if c.Cluster.Target == TargetColima || c.Cluster.Target == TargetDocker {
		for key, v := range map[string]string{"lamina:cluster.kubeconfig": cl.Kubeconfig, "lamina:cluster.context": cl.Context, "lamina:cluster.dockerHost": cl.DockerHost} {
			if v != "" {
				if cl.Target == TargetDocker {
					ps.add(key, "is only for lamina:cluster.target existing; with docker the daemon is lamina:docker.host or the Colima profile's; remove it")
				} else {
					ps.add(key, "is only for lamina:cluster.target existing; with colima the program uses the profile's own; remove it")
				}
			}
		}
	}
	if cl.ReadyTimeout.Duration < minReadyWait || cl.ReadyTimeout.Duration > maxReadyWait {
		ps.add("lamina:cluster.readyTimeout", "%s is out of range; allowed: %s to %s", cl.ReadyTimeout, minReadyWait, maxReadyWait)
	}
	if cl.APIServerPort < 1 || cl.APIServerPort > 65535 {
		ps.add("lamina:cluster.apiServerPort", "%d is not a port; allowed: 1 to 65535", cl.APIServerPort)
	}
	type network struct {
		key    string
		prefix netip.Prefix
	}
	var nets []network
	for _, n := range []struct{ key, value string }{
		{"lamina:cluster.nodeCIDR", cl.NodeCIDR},
		{"lamina:cluster.podCIDR", cl.PodCIDR},
		{"lamina:cluster.serviceCIDR", cl.ServiceCIDR},
	} {
		p, err := netip.ParsePrefix(n.value)
		switch {
		case err != nil || !p.Addr().Is4():
			ps.add(n.key, "%s is not an IPv4 CIDR; allowed: the form 10.42.0.0/16", quote(n.value))
			continue
		case p != p.Masked():
			ps.add(n.key, "%s has host bits set; allowed: the network address, here %s", n.value, p.Masked())
			continue
		}
		for _, other := range nets {
			if other.prefix.Overlaps(p) {
				ps.add(n.key, "%s overlaps %s (%s); the node, pod and service networks must be disjoint", p, other.key, other.prefix)
			}
		}
		nets = append(nets, network{n.key, p})
	}
	if len(cl.StorageClass) > 253 || !dns1123.MatchString(cl.StorageClass) {
		ps.add("lamina:cluster.storageClass", "%s is not a Kubernetes name; allowed: lower-case letters, digits, '-' and '.', starting and ending with a letter or digit", quote(cl.StorageClass))
	}
}

// validatePath checks a host path the program hands to shell commands and to Colima.
func validatePath(ps *problems, key, path string) {
	switch {
	case path == "":
		ps.add(key, "is empty; allowed: an absolute path")
	case !filepath.IsAbs(path):
		ps.add(key, "%s is not absolute; allowed: an absolute path", quote(path))
	case hasControl(path):
		ps.add(key, "%s contains control characters", quote(path))
	case strings.ContainsAny(path, ",:"):
		ps.add(key, "%s contains ',' or ':', which Colima's --mount cannot take", quote(path))
	case filepath.Clean(path) != path:
		ps.add(key, "%s is not clean; allowed: the same path written as %s", quote(path), filepath.Clean(path))
	case path == "/":
		ps.add(key, "is the root directory; allowed: a directory of its own")
	case under(path, "/tmp", "/private/tmp", "/var/folders", "/private/var/folders"):
		ps.add(key, "%s is under a temporary directory that macOS empties; allowed: a directory that survives a reboot", quote(path))
	}
}

func under(path string, dirs ...string) bool {
	for _, d := range dirs {
		if path == d || strings.HasPrefix(path, d+"/") {
			return true
		}
	}
	return false
}
