package config

import (
	"maps"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

var (
	emailAddress = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)
)

// validateMesh checks the sections of the mesh, edge and network security.
func validateMesh(c *Config, ps *problems) {
	validateNamespaces(c, ps)
	var pool []addressRange
	if c.RunsMetalLB() {
		pool = validatePool(c, ps)
	}
	validateCertManager(c, ps)
	validateIstio(c, ps)
	validateEdge(c, ps, pool)
}

func validateNamespaces(c *Config, ps *problems) {
	n := c.Namespaces
	systems := c.Systems()
	for _, name := range slices.Sorted(maps.Keys(n.OutOfMesh)) {
		key := "lamina:namespaces.outOfMesh." + name
		switch {
		case c.Shared() && slices.Contains(SystemNamespaces, name):
			ps.add(key, "is its platform's namespace: a shared stack declares only %s; remove it", strings.Join(AgentNamespaces, ", "))
		case c.Shared():
			ps.add(key, "a shared stack keeps none of its namespaces (%s) out of the mesh; remove it", strings.Join(AgentNamespaces, ", "))
		case name == NamespaceMetalLB && !c.RunsMetalLB():
			ps.add(key, "is MetalLB's, which runs only with lamina:cluster.target colima; remove it")
		case !slices.Contains(systems, name):
			ps.add(key, "only system namespaces stay out of the mesh; allowed: %s", strings.Join(systems, ", "))
		case strings.TrimSpace(n.OutOfMesh[name]) == "":
			ps.add(key, "gives no reason; say why the namespace stays out of the mesh")
		}
	}
	for _, name := range systems {
		if _, ok := n.OutOfMesh[name]; !ok {
			ps.add("lamina:namespaces.outOfMesh", "lacks %s: the API server, which has no mesh identity, calls its webhooks, so it must stay out of the mesh", name)
		}
	}
	declared := c.DeclaredNamespaces()
	known := declared
	if !c.Shared() && !slices.Contains(declared, NamespaceBuild) {
		known = append(slices.Clone(declared), NamespaceBuild) // stated, for when the build tier is enabled
	}
	for _, name := range slices.Sorted(maps.Keys(n.PodSecurity)) {
		key := "lamina:namespaces.podSecurity." + name
		if !slices.Contains(known, name) {
			ps.add(key, "is not a namespace of the platform; allowed: %s", strings.Join(known, ", "))
			continue
		}
		level := n.PodSecurity[name]
		if !slices.Contains(podSecurityLevels, level) {
			ps.add(key, "%s is not a Pod Security level; allowed: %s", quote(level), strings.Join(podSecurityLevels, ", "))
			continue
		}
		_, outside := n.OutOfMesh[name]
		if !c.Mesh.CNI && !outside && level != "privileged" && slices.Contains(declared, name) {
			ps.add(key, "is %s, but without lamina:mesh.cni every sidecar's init container needs NET_ADMIN and NET_RAW, which only privileged allows; set lamina:mesh.cni to true or this to privileged", level)
		}
	}
	for _, name := range declared {
		if _, ok := n.PodSecurity[name]; !ok {
			ps.add("lamina:namespaces.podSecurity", "lacks %s; every namespace states its level", name)
		}
	}
}

// validatePool checks MetalLB's addresses and returns the ones that parse.
func validatePool(c *Config, ps *problems) []addressRange {
	if len(c.MetalLB.Addresses) == 0 {
		ps.add("lamina:metallb.addresses", "is empty; the gateway needs at least one address")
	}
	nets := map[string]string{
		"lamina:cluster.podCIDR":     c.Cluster.PodCIDR,
		"lamina:cluster.serviceCIDR": c.Cluster.ServiceCIDR,
	}
	node, nodeErr := netip.ParsePrefix(c.Cluster.NodeCIDR)
	var pool []addressRange
	for i, a := range c.MetalLB.Addresses {
		key := "lamina:metallb.addresses[" + strconv.Itoa(i) + "]"
		r, err := parseRange(a)
		if err != nil {
			ps.add(key, "%s is %s; allowed: the form 192.168.64.200-192.168.64.209 or 192.168.64.240/29", quote(a), err)
			continue
		}
		if nodeErr == nil && !r.within(node) {
			ps.add(key, "%s is outside lamina:cluster.nodeCIDR %s, so macOS could not reach it", r, node)
		}
		for _, netKey := range slices.Sorted(maps.Keys(nets)) {
			if p, err := netip.ParsePrefix(nets[netKey]); err == nil && (p.Contains(r.first) || p.Contains(r.last) || r.contains(p.Addr())) {
				ps.add(key, "%s overlaps %s %s", r, netKey, p)
			}
		}
		for _, prev := range pool {
			if prev.overlaps(r) {
				ps.add(key, "%s overlaps %s of the same list", r, prev)
			}
		}
		for j, vm := range c.Host.SideBySide {
			for _, other := range vm.Addresses {
				if o, err := parseRange(other); err == nil && o.overlaps(r) {
					ps.add(key, "%s overlaps %s, the addresses of stack %s (lamina:host.sideBySide[%d].addresses); both VMs share macOS's network", r, o, vm.Stack, j)
				}
			}
		}
		pool = append(pool, r)
	}
	return pool
}

func validateCertManager(c *Config, ps *problems) {
	cm := c.CertManager
	oneOf(ps, "lamina:certManager.issuer", cm.Issuer, IssuerSelfSignedCA, IssuerACME, IssuerExisting)
	switch cm.Issuer {
	case IssuerACME:
		if u, err := url.Parse(cm.ACMEServer); err != nil || u.Scheme != "https" || u.Host == "" {
			ps.add("lamina:certManager.acmeServer", "%s is not an https:// URL; required with lamina:certManager.issuer acme", quote(cm.ACMEServer))
		}
		if !emailAddress.MatchString(cm.ACMEEmail) {
			ps.add("lamina:certManager.acmeEmail", "%s is not an e-mail address; required with lamina:certManager.issuer acme", quote(cm.ACMEEmail))
		}
	case IssuerExisting:
		if len(cm.ExistingIssuer) > 253 || !dns1123.MatchString(cm.ExistingIssuer) {
			ps.add("lamina:certManager.existingIssuer", "%s is not a ClusterIssuer name; required with lamina:certManager.issuer existing", quote(cm.ExistingIssuer))
		}
	}
}

func validateIstio(c *Config, ps *problems) {
	m := c.Mesh
	inRange(ps, "lamina:mesh.istiodReplicas", m.IstiodReplicas, 1, 5)
	validateResources(ps, "lamina:mesh.istiodResources", m.IstiodResources)
	validateResources(ps, "lamina:mesh.proxyResources", m.ProxyResources)
	validateResources(ps, "lamina:mesh.gateway.resources", m.Gateway.Resources)
	inRange(ps, "lamina:mesh.gateway.minReplicas", m.Gateway.MinReplicas, 1, 10)
	inRange(ps, "lamina:mesh.gateway.maxReplicas", m.Gateway.MaxReplicas, max(m.Gateway.MinReplicas, 1), 10)
	if m.TracingSamplingPercent < 0 || m.TracingSamplingPercent > 100 {
		ps.add("lamina:mesh.tracingSamplingPercent", "%v is out of range; allowed: 0 to 100", m.TracingSamplingPercent)
	}
	cb := m.CircuitBreaker
	inRange(ps, "lamina:mesh.circuitBreaker.consecutive5xxErrors", cb.Consecutive5xxErrors, 1, 100)
	durationInRange(ps, "lamina:mesh.circuitBreaker.interval", cb.Interval, time.Second, 5*time.Minute)
	durationInRange(ps, "lamina:mesh.circuitBreaker.baseEjectionTime", cb.BaseEjectionTime, time.Second, time.Hour)
	inRange(ps, "lamina:mesh.circuitBreaker.maxEjectionPercent", cb.MaxEjectionPercent, 0, 100)
	inRange(ps, "lamina:mesh.circuitBreaker.maxConnections", cb.MaxConnections, 1, 100000)
	inRange(ps, "lamina:mesh.circuitBreaker.http1MaxPendingRequests", cb.HTTP1MaxPendingRequests, 1, 100000)
	inRange(ps, "lamina:mesh.circuitBreaker.http2MaxRequests", cb.HTTP2MaxRequests, 1, 100000)
}

func validateEdge(c *Config, ps *problems, pool []addressRange) {
	e := c.Edge
	if len(e.Domain) > 200 || !dns1123.MatchString(e.Domain) || !strings.Contains(e.Domain, ".") {
		ps.add("lamina:edge.domain", "%s is not a DNS name; allowed: lower-case labels separated by dots, such as dev.lamina.home.arpa", quote(e.Domain))
	} else if e.Domain == "local" || strings.HasSuffix(e.Domain, ".local") {
		ps.add("lamina:edge.domain", "%s is under .local, which macOS resolves by multicast DNS (Bonjour) before /etc/hosts: "+
			"lookups are slow or fail; allowed: another domain, such as one under home.arpa", quote(e.Domain))
	}
	if a, err := netip.ParseAddr(e.Address); err != nil || !a.Is4() {
		ps.add("lamina:edge.address", "%s is not an IPv4 address", quote(e.Address))
	} else if c.Shared() {
		// Not its own pool's: the join checks it against the platform's gateway address.
	} else if !c.RunsMetalLB() {
		// The cluster's load balancer's: the program cannot know its addresses.
	} else if !slices.ContainsFunc(pool, func(r addressRange) bool { return r.contains(a) }) {
		ps.add("lamina:edge.address", "%s is not among lamina:metallb.addresses, so MetalLB would not hand it out", e.Address)
	}
}
