package config

import (
	"net/netip"
	"strconv"
)

// Limits of the Docker target.
const (
	minTLSDays = 30
	maxTLSDays = 3650
	// ProxyMemory is what each nginx proxy may use; VMOverhead what the VM's own system
	// and Docker keep.
	ProxyMemory = 64 << 20
	VMOverhead  = 1 << 30
)

func validateDocker(c *Config, ps *problems) {
	d := c.Docker
	if c.Cluster.Target != TargetDocker {
		return
	}
	if d.Host != "" && (!dockerScheme.MatchString(d.Host) || hasControl(d.Host)) {
		ps.add("lamina:docker.host", "%s is not a Docker host; allowed: empty (this stack's Colima profile, lamina:colima), or unix://, tcp:// or ssh:// followed by an address", quote(d.Host))
	}
	if _, _, err := DockerNetworks(d.Subnet); err != nil {
		ps.add("lamina:docker.subnet", "%v", err)
	} else {
		p := netip.MustParsePrefix(d.Subnet)
		private := false
		for _, r := range privateRanges {
			private = private || r.Overlaps(p) && r.Bits() <= p.Bits()
		}
		if !private {
			ps.add("lamina:docker.subnet", "%s is not a private network; allowed: within 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16", d.Subnet)
		}
		if node, err := netip.ParsePrefix(c.Cluster.NodeCIDR); err == nil && node.Overlaps(p) {
			ps.add("lamina:docker.subnet", "%s overlaps the VM's network lamina:cluster.nodeCIDR (%s); choose a range the Mac does not route", d.Subnet, node)
		}
	}
	if a, err := netip.ParseAddr(d.EdgeAddress); err != nil || !a.Is4() || a.IsUnspecified() {
		ps.add("lamina:docker.edgeAddress", "%s is not an IPv4 address of the Docker host; allowed: 127.0.0.1 (this Mac only) or another of the host's addresses, not 0.0.0.0", quote(d.EdgeAddress))
	} else if d.Host == "" && a != netip.AddrFrom4([4]byte{127, 0, 0, 1}) {
		// The edge publishes in this stack's VM, which owns none of the Mac's addresses:
		// with --network-address Colima copies none into it (environment/vm/lima/yaml.go
		// L325-338 at v0.10.3), and Lima forwards only the VM's loopback to the Mac's.
		ps.add("lamina:docker.edgeAddress", "%s with this stack's own Colima VM (lamina:docker.host empty): the VM owns none of the Mac's addresses, and only its loopback reaches the Mac's; allowed: 127.0.0.1, or another address of the host with lamina:docker.host set to a daemon on it", d.EdgeAddress)
	}
	inRange(ps, "lamina:docker.edgePort", d.EdgePort, 1024, 65535)
	inRange(ps, "lamina:docker.tlsDays", d.TLSDays, minTLSDays, maxTLSDays)
	inRange(ps, "lamina:docker.tlsGeneration", d.TLSGeneration, 1, 1<<30)
	fixed := func(key, ref string) {
		if !imageRef.MatchString(ref) || len(ref) > 512 {
			ps.add(key, "%s is not an image reference; allowed: name:tag or name@sha256:<64 hex digits>, in lower case", quote(ref))
			return
		}
		if m := imageTag.FindStringSubmatch(imageLastSeg.FindString(ref)); !imageDigest.MatchString(ref) && (m == nil || m[1] == "latest") {
			ps.add(key, "%s names no fixed version; allowed: a version tag or a digest (name@sha256:...)", quote(ref))
		}
	}
	fixed("lamina:docker.proxyImage", d.ProxyImage)
	for _, o := range []struct {
		key string
		c   Container
	}{{"lamina:docker.grafana", d.Grafana}, {"lamina:docker.loki", d.Loki}, {"lamina:docker.vector", d.Vector}} {
		fixed(o.key+".image", o.c.Image)
		if v, ok := ParseQuantity(o.c.Memory); !ok || v < 32<<20 || v > 64<<30 {
			ps.add(o.key+".memory", "%s is out of range; allowed: 32Mi to 64Gi", quote(o.c.Memory))
		}
		if v, ok := ParseQuantity(o.c.CPUs); !ok || v < 0.1 || v > 32 {
			ps.add(o.key+".cpus", "%s is out of range; allowed: 100m to 32", quote(o.c.CPUs))
		}
	}
	// What the Docker target does not have.
	if c.Build.Enabled {
		ps.add("lamina:build.enabled", "is true, but the build tier runs as a Kubernetes Job; lamina:cluster.target docker has none; set it false")
	}
	if c.Images.PromoteFrom != "" {
		ps.add("lamina:images.promoteFrom", "is set, but promotion reads a stack on the same cluster; lamina:cluster.target docker promotes nothing; remove it")
	}
	if len(c.Colima.Tenants) > 0 {
		ps.add("lamina:colima.tenants", "lists stacks, but shared stacks join a Kubernetes platform; lamina:cluster.target docker takes none; remove them")
	}
	for _, r := range []struct {
		key      string
		replicas int
	}{{"lamina:llm.replicas", c.LLM.Replicas}, {"lamina:core.replicas", c.Core.Replicas}} {
		if r.replicas != 1 {
			ps.add(r.key, "is %d; with lamina:cluster.target docker each service is one container behind its proxy; allowed: 1", r.replicas)
		}
	}
	// Every container's memory limit, with the proxies', in the VM.
	if d.Host == "" && c.Colima.MemoryGiB >= minVMMemoryGiB {
		total, parts := dockerMemory(c)
		room := float64(c.Colima.MemoryGiB)*(1<<30) - VMOverhead
		if total > room {
			ps.add("lamina:colima.memoryGiB", "%d GiB cannot hold the containers: their memory limits come to %s (%s), %s more than the %s the VM has for them after %s for its system; raise the VM's memory or lower those limits",
				c.Colima.MemoryGiB, FormatGiB(total), parts, FormatGiB(total-room), FormatGiB(room), FormatGiB(VMOverhead))
		}
	}
}

// dockerMemory is the sum of the Docker target's memory limits and its parts, named by
// their keys.
func dockerMemory(c *Config) (float64, string) {
	total, parts := 0.0, ""
	for _, m := range []struct{ key, q string }{
		{"lamina:llm.resources.limits.memory", c.LLM.Resources.Limits.Memory},
		{"lamina:chroma.resources.limits.memory", c.Chroma.Resources.Limits.Memory},
		{"lamina:core.resources.limits.memory", c.Core.Resources.Limits.Memory},
		{"lamina:dashboard.resources.limits.memory", c.Dashboard.Resources.Limits.Memory},
		{"lamina:docker.grafana.memory", c.Docker.Grafana.Memory},
		{"lamina:docker.loki.memory", c.Docker.Loki.Memory},
		{"lamina:docker.vector.memory", c.Docker.Vector.Memory},
	} {
		v, _ := ParseQuantity(m.q)
		total += v
		parts += m.key + " " + m.q + ", "
	}
	proxies := float64(len(DockerServices)+1) * ProxyMemory
	return total + proxies, parts + strconv.Itoa(len(DockerServices)+1) + " proxies × 64Mi"
}
