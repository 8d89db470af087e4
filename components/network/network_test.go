package network_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lamina-os/lamina-infra/components/network"
)

type component struct{ network.Declaration }

func declaring(flows []network.Flow, routes ...network.Route) *component {
	c := &component{}
	c.Open(flows...)
	c.Serve(routes...)
	return c
}

// Two components whose pods share a namespace both need the API server: the stack
// opens it once. A hostname two components both claim is refused, naming both.
func TestCollectKeepsAFlowDeclaredTwiceOnceAndRefusesAHostnameServedTwice(t *testing.T) {
	api := network.Endpoint{Peer: network.Peer{CIDR: "192.168.64.0/24"}, Ports: network.TCP(6443)}
	prometheus := declaring([]network.Flow{api.From("apiserver", network.Namespace("monitoring"))},
		network.Route{Host: "prometheus", Namespace: "monitoring", Service: "prometheus", Port: 9090})
	vector := declaring([]network.Flow{
		api.From("apiserver", network.Namespace("monitoring")),
		{Name: "vector-to-loki", From: network.App("monitoring", "vector").As("vector"), To: network.App("monitoring", "loki"), Ports: network.TCP(3100)},
	})
	needs, err := network.Collect(prometheus, vector)
	require.NoError(t, err)
	var names []string
	for _, f := range needs.Flows {
		names = append(names, f.Name)
	}
	assert.Equal(t, []string{"apiserver", "vector-to-loki"}, names)
	assert.Equal(t, []network.Route{{Host: "prometheus", Namespace: "monitoring", Service: "prometheus", Port: 9090}}, needs.Routes)

	impostor := declaring(nil, network.Route{Host: "prometheus", Namespace: "lamina-dashboard", Service: "lamina-dashboard", Port: 5001})
	_, err = network.Collect(prometheus, impostor)
	assert.EqualError(t, err, `network: hostname "prometheus" is served twice: by monitoring/prometheus and by lamina-dashboard/lamina-dashboard`)
}

// A server can say whom it admits (ChromaDB: the agent server alone). Any flow that
// reaches its port from another identity, or from pods without one, is refused, naming
// both ends, however the flow was written; flows to the sidecar's ports pass.
func TestAnOfferedEndpointRefusesEveryFlowFromAnIdentityItDoesNotAdmit(t *testing.T) {
	core := network.App("lamina-system", "lamina-core").As("lamina-core")
	chroma := network.Endpoint{Peer: network.App("lamina-system", "chromadb"), Ports: network.TCP(8000), Admits: []network.Peer{core}}
	server := &component{}
	server.Offer(chroma)
	probes := network.Flow{Name: "kubelet-probes", From: network.Peer{CIDR: "192.168.64.0/24"}, To: network.Namespace("lamina-system"), Ports: network.TCP(15020, 15021)}

	needs, err := network.Collect(server, declaring([]network.Flow{chroma.From("core-to-chromadb", core), probes}))
	require.NoError(t, err)
	assert.Len(t, needs.Flows, 2)

	dashboard := network.App("lamina-dashboard", "lamina-dashboard").As("lamina-dashboard")
	for flow, want := range map[string]network.Flow{
		`network: flow "dashboard-to-chromadb" from lamina-dashboard/lamina-dashboard to pods app.kubernetes.io/name=chromadb of lamina-system is refused: those pods admit only lamina-system/lamina-core`: chroma.From("dashboard-to-chromadb", dashboard),
		`network: flow "by-hand" from lamina-dashboard/lamina-dashboard to pods app.kubernetes.io/name=chromadb of lamina-system is refused: those pods admit only lamina-system/lamina-core`:               {Name: "by-hand", From: dashboard, To: network.App("lamina-system", "chromadb")},
		`network: flow "gateway-to-chroma" from istio-gateway/istio-ingressgateway to pods app.kubernetes.io/name=chromadb of lamina-system is refused: those pods admit only lamina-system/lamina-core`:    {Name: "gateway-to-chroma", From: network.App("istio-gateway", "gw").As("istio-ingressgateway"), To: network.Namespace("lamina-system")},
	} {
		_, err = network.Collect(server, declaring([]network.Flow{want}))
		assert.EqualError(t, err, flow)
	}
}
