package config

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
)

// The networks a Colima VM's reachable address (--network-address) is on, by VM type. A
// vz VM joins macOS's shared vmnet network, 192.168.64.0/24 unless the Mac was set up
// otherwise (its default, which the profiles assume; lamina:cluster.nodeCIDR says
// another). A krunkit VM joins Colima's own network helper, socket_vmnet, started with
// gateway 192.168.106.1 and leases up to .254 (Colima v0.10.3,
// daemon/process/vmnet/vmnet.go L23-24 and embedded/network/sudo.txt, which is what the
// helper may be started with without a password): that network is fixed.
var (
	vzNetwork      = netip.MustParsePrefix("192.168.64.0/24")
	krunkitNetwork = netip.MustParsePrefix("192.168.106.0/24")
)

// VMNetwork is the network a VM of vmType is on by default.
func VMNetwork(vmType string) netip.Prefix {
	if vmType == VMTypeKrunkit {
		return krunkitNetwork
	}
	return vzNetwork
}

// stackField is lamina:<section>.<field> as the stack itself sets it, raw, before
// anything is decoded; ok is false when the stack leaves it to its profile (or its
// section does not read as an object, which decoding reports).
func stackField(src *Source, section, field string) (json.RawMessage, bool) {
	var fields map[string]json.RawMessage
	raw, ok := src.Values[Namespace+":"+section]
	if !ok || json.Unmarshal([]byte(raw), &fields) != nil {
		return nil, false
	}
	v, ok := fields[field]
	return v, ok
}

// stackString is a string field the stack itself sets (stackField); ok is false too
// when the value is null or not a string, which decoding reports.
func stackString(src *Source, section, field string) (string, bool) {
	raw, ok := stackField(src, section, field)
	var v *string
	if !ok || json.Unmarshal(raw, &v) != nil || v == nil {
		return "", false
	}
	return *v, true
}

// requestedTarget is lamina:cluster.target as the stack sets it, before anything is
// decoded, or profile's when unset or unreadable (decoding reports the latter).
func requestedTarget(src *Source, profile string) string {
	if target, ok := stackString(src, "cluster", "target"); ok {
		return target
	}
	return profile
}

// setsField says the stack itself sets field of section (lamina:<section>.<field>),
// rather than inheriting its profile's value.
func setsField(src *Source, section, field string) bool {
	_, ok := stackField(src, section, field)
	return ok
}

// requestedVMType is lamina:colima.vmType as the stack sets it, before anything is
// decoded ("" when unset or unreadable; decoding reports the latter).
func requestedVMType(src *Source) string {
	vmType, _ := stackString(src, "colima", "vmType")
	return vmType
}

// onVMNetwork moves the profile's addresses (the node network, MetalLB's pool, the edge's
// address and the other stacks' pools) onto the network of the VM type the stack asks
// for, keeping each address's place in its /24, so that a krunkit stack's defaults are
// where Colima will put its VM. It runs before the stack's own values are laid over them.
func (c *Config) onVMNetwork(vmType string) {
	to := VMNetwork(vmType)
	if to == vzNetwork {
		return
	}
	c.Cluster.NodeCIDR = rebase(c.Cluster.NodeCIDR, to)
	c.MetalLB.Addresses = rebaseAll(c.MetalLB.Addresses, to)
	c.Edge.Address = rebase(c.Edge.Address, to)
	for i := range c.Host.SideBySide {
		c.Host.SideBySide[i].Addresses = rebaseAll(c.Host.SideBySide[i].Addresses, to)
	}
}

// sideBySideDefaults gives a side-by-side VM that names a profile and no addresses that
// profile's pool, on this stack's VM network.
func (c *Config) sideBySideDefaults(vmType string) {
	for i, vm := range c.Host.SideBySide {
		if vm.Addresses != nil || vm.Stack == c.stack {
			continue
		}
		if other, ok := Defaults(vm.Stack); ok {
			other.onVMNetwork(vmType)
			c.Host.SideBySide[i].Addresses = other.MetalLB.Addresses
		}
	}
}

func rebaseAll(values []string, to netip.Prefix) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = rebase(v, to)
	}
	return out
}

// rebase moves every address of vz's default network in value (an address, a CIDR or a
// range a-b) to the same place in to; anything else stays as it is.
func rebase(value string, to netip.Prefix) string {
	parts := strings.Split(value, "-")
	for i, part := range parts {
		addr, bits, cidr := strings.Cut(part, "/")
		a, err := netip.ParseAddr(addr)
		if err != nil || !vzNetwork.Contains(a) {
			return value
		}
		from, dst := a.As4(), to.Addr().As4()
		from[0], from[1], from[2] = dst[0], dst[1], dst[2]
		parts[i] = netip.AddrFrom4(from).String()
		if cidr {
			parts[i] += "/" + bits
		}
	}
	return strings.Join(parts, "-")
}

// privateRanges are the IPv4 ranges the Docker target's networks may come from.
var privateRanges = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("172.16.0.0/12"), netip.MustParsePrefix("192.168.0.0/16"),
}

// DockerServices are the Docker target's services by the names the components give
// them (their identities), each behind its proxy, in the order their private networks
// are carved from lamina:docker.subnet.
var DockerServices = []string{"lamina-llm-serve", "chromadb", "lamina-core", "lamina-dashboard", "grafana", "loki", "vector"}

// DockerNetworks carves the Docker target's networks from subnet: the mesh network (the
// first /24) and one /28 per service of DockerServices, after it.
func DockerNetworks(subnet string) (mesh netip.Prefix, private map[string]netip.Prefix, err error) {
	p, err := netip.ParsePrefix(subnet)
	if err != nil || !p.Addr().Is4() || p != p.Masked() || p.Bits() < 16 || p.Bits() > 20 {
		return netip.Prefix{}, nil, fmt.Errorf("%s is not an IPv4 network from /16 to /20; allowed: the form 10.213.0.0/20", quote(subnet))
	}
	base := p.Addr().As4()
	mesh = netip.PrefixFrom(netip.AddrFrom4(base), 24)
	private = map[string]netip.Prefix{}
	for i, name := range DockerServices {
		a := base
		a[2]++ // the /24 after the mesh's
		a[3] = byte(16 * i)
		private[name] = netip.PrefixFrom(netip.AddrFrom4(a), 28)
	}
	return mesh, private, nil
}

// addressRange is an inclusive range of IPv4 addresses.
type addressRange struct{ first, last netip.Addr }

func (r addressRange) overlaps(o addressRange) bool {
	return r.first.Compare(o.last) <= 0 && o.first.Compare(r.last) <= 0
}

func (r addressRange) contains(a netip.Addr) bool {
	return r.first.Compare(a) <= 0 && a.Compare(r.last) <= 0
}

func (r addressRange) within(p netip.Prefix) bool {
	return p.Contains(r.first) && p.Contains(r.last)
}

func (r addressRange) String() string { return r.first.String() + "-" + r.last.String() }

// parseRange reads a MetalLB address: a CIDR or a range a.b.c.d-a.b.c.e.
func parseRange(s string) (addressRange, error) {
	if first, last, ok := strings.Cut(s, "-"); ok {
		a, err1 := netip.ParseAddr(strings.TrimSpace(first))
		b, err2 := netip.ParseAddr(strings.TrimSpace(last))
		if err1 != nil || err2 != nil || !a.Is4() || !b.Is4() || b.Less(a) {
			return addressRange{}, fmt.Errorf("not a range of IPv4 addresses")
		}
		return addressRange{a, b}, nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() || p != p.Masked() {
		return addressRange{}, fmt.Errorf("not an IPv4 CIDR or range")
	}
	b := p.Addr().As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v |= uint32(1)<<(32-p.Bits()) - 1 // the last address: every host bit set
	return addressRange{p.Addr(), netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})}, nil
}
