// Package network holds what a component says it needs from the network and the mesh:
// the flows it opens, whom they admit, and the hostnames it serves. Each component
// declares its own next to the resources they concern; a stack only collects them and
// hands them to the security and edge components, which turn them into NetworkPolicies,
// AuthorizationPolicies and VirtualServices.
package network

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
)

// Peer is one end of a flow: pods of a namespace, or addresses outside the cluster.
type Peer struct {
	// Namespace holds the pods; empty with CIDR.
	Namespace string
	// Pods selects pods by label; empty selects every pod of the namespace.
	Pods map[string]string
	// ServiceAccount is the pods' service account, their mesh identity: the principal
	// the receiving end admits. Empty when the traffic does not come through a sidecar;
	// AnyServiceAccount for every identity of the namespace (what every sidecar of it
	// sends, such as its spans).
	ServiceAccount string
	// CIDR is an address range outside the cluster (clients of the gateway, the nodes).
	CIDR string
}

// AnyServiceAccount admits every mesh identity of a Peer's namespace.
const AnyServiceAccount = "*"

// AppLabel is the label every pod of the platform carries with its application's name
// (the charts set it as well); Services and policies select on it.
const AppLabel = "app.kubernetes.io/name"

// App is the pods of application app in namespace ns.
func App(ns, app string) Peer { return Pods(ns, map[string]string{AppLabel: app}) }

// Namespace is every pod of namespace ns.
func Namespace(ns string) Peer { return Peer{Namespace: ns} }

// Pods are the pods of namespace ns that carry labels.
func Pods(ns string, labels map[string]string) Peer { return Peer{Namespace: ns, Pods: labels} }

// As is p with the mesh identity of service account sa.
func (p Peer) As(sa string) Peer {
	p.ServiceAccount = sa
	return p
}

// Port is a port of the receiving pods.
type Port struct {
	Number   int
	Protocol string
}

// TCP lists TCP ports.
func TCP(ports ...int) []Port {
	out := make([]Port, 0, len(ports))
	for _, p := range ports {
		out = append(out, Port{Number: p, Protocol: "TCP"})
	}
	return out
}

// Flow is traffic a component needs.
type Flow struct {
	// Name is unique among the flows of a namespace: NetworkPolicy and
	// AuthorizationPolicy names derive from it.
	Name     string
	From, To Peer
	// Ports of the receiving pods; empty allows every port.
	Ports []Port
}

// Endpoint is what a server offers its clients: its pods and the ports they listen on.
// The server's package says what it is; a client's component opens a flow to it.
type Endpoint struct {
	Peer  Peer
	Ports []Port
	// Admits, when set and the server offers the endpoint (Declaration.Offer), are the
	// only mesh identities (namespace and service account) it takes calls from: Collect
	// refuses any flow that reaches its pods from anyone else, however it was written.
	Admits []Peer
}

// From is the flow name from client to e.
func (e Endpoint) From(name string, client Peer) Flow {
	return Flow{Name: name, From: client, To: e.Peer, Ports: e.Ports}
}

// reaches reports whether f reaches the server behind e: the same namespace, labels
// that e's pods all carry (none: every pod of the namespace), and one of e's ports
// (none: every port). The sidecar's and the kubelet's ports are not the server's.
func (e Endpoint) reaches(f Flow) bool {
	if f.To.CIDR != "" || f.To.Namespace != e.Peer.Namespace {
		return false
	}
	for k, v := range f.To.Pods {
		if e.Peer.Pods[k] != v {
			return false
		}
	}
	return len(f.Ports) == 0 || slices.ContainsFunc(f.Ports, func(p Port) bool { return slices.Contains(e.Ports, p) })
}

// admits reports whether e takes calls from source.
func (e Endpoint) admits(source Peer) bool {
	return len(e.Admits) == 0 || slices.ContainsFunc(e.Admits, func(p Peer) bool {
		return source.ServiceAccount != "" && source.ServiceAccount != AnyServiceAccount &&
			p.Namespace == source.Namespace && p.ServiceAccount == source.ServiceAccount
	})
}

// Route is a hostname the edge serves and the Service behind it.
type Route struct {
	// Host is the hostname's first label (grafana for grafana.<domain>).
	Host string
	// Namespace, Service and Port are the Service behind the hostname.
	Namespace, Service string
	Port               int
}

// Needs is what a component needs from the network and the mesh, and what it offers
// under conditions.
type Needs struct {
	Flows  []Flow
	Routes []Route
	// Offers are endpoints that admit only some identities.
	Offers []Endpoint
}

// Needer is a component that declares its needs.
type Needer interface {
	Needs() Needs
}

// Declaration is embedded in a component to hold what it declares, which makes the
// component a Needer.
type Declaration struct{ needs Needs }

// Open declares flows the component needs.
func (d *Declaration) Open(flows ...Flow) { d.needs.Flows = append(d.needs.Flows, flows...) }

// Serve declares hostnames the component serves.
func (d *Declaration) Serve(routes ...Route) { d.needs.Routes = append(d.needs.Routes, routes...) }

// Offer declares endpoints of the component that admit only their Admits.
func (d *Declaration) Offer(endpoints ...Endpoint) {
	d.needs.Offers = append(d.needs.Offers, endpoints...)
}

// Needs returns what was declared.
func (d *Declaration) Needs() Needs { return d.needs }

// Collect gathers the needs of components, in order. A flow that two components both
// declare identically (the pods of one namespace calling the API server) is kept once;
// flows that differ under one name are left for the security component to refuse. A
// flow to an offered endpoint from an identity it does not admit, and a hostname served
// twice, are errors naming both ends.
func Collect(components ...Needer) (Needs, error) {
	var all Needs
	for _, c := range components {
		n := c.Needs()
		for _, f := range n.Flows {
			if !slices.ContainsFunc(all.Flows, func(g Flow) bool { return reflect.DeepEqual(f, g) }) {
				all.Flows = append(all.Flows, f)
			}
		}
		for _, r := range n.Routes {
			if i := slices.IndexFunc(all.Routes, func(s Route) bool { return s.Host == r.Host }); i >= 0 {
				return Needs{}, fmt.Errorf("network: hostname %q is served twice: by %s/%s and by %s/%s",
					r.Host, all.Routes[i].Namespace, all.Routes[i].Service, r.Namespace, r.Service)
			}
			all.Routes = append(all.Routes, r)
		}
		all.Offers = append(all.Offers, n.Offers...)
	}
	for _, e := range all.Offers {
		for _, f := range all.Flows {
			if e.reaches(f) && !e.admits(f.From) {
				var admits []string
				for _, p := range e.Admits {
					admits = append(admits, p.Namespace+"/"+p.ServiceAccount)
				}
				return Needs{}, fmt.Errorf("network: flow %q from %s to %s is refused: those pods admit only %s",
					f.Name, describe(f.From), pods(e.Peer), strings.Join(admits, ", "))
			}
		}
	}
	return all, nil
}

// describe names a peer in a message: an address range, an identity, or pods without one.
func describe(p Peer) string {
	switch {
	case p.CIDR != "":
		return p.CIDR
	case p.ServiceAccount == AnyServiceAccount:
		return "every identity of " + p.Namespace
	case p.ServiceAccount != "":
		return p.Namespace + "/" + p.ServiceAccount
	}
	return pods(p) + " (no mesh identity)"
}

// pods names the pods a peer selects.
func pods(p Peer) string {
	var labels []string
	for _, k := range slices.Sorted(maps.Keys(p.Pods)) {
		labels = append(labels, k+"="+p.Pods[k])
	}
	if len(labels) == 0 {
		return "pods of " + p.Namespace
	}
	return "pods " + strings.Join(labels, ",") + " of " + p.Namespace
}
