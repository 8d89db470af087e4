// Tests of the security component on its own, under Pulumi's mocks (internal/recorder):
// that every policed namespace is closed by a default-deny NetworkPolicy and every
// authorized one by a rule-less (deny-all) AuthorizationPolicy, that DNS stays open from
// each policed namespace, that every flow opens exactly its own ends (a NetworkPolicy on
// each policed end and, for a caller with a mesh identity, one ALLOW policy naming it,
// on the TCP ports only), that a joined namespace gets only this stack's flows under its
// prefix, and that two flows whose policies would share a name are refused.
package security_test

import (
	"slices"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lamina-os/lamina-infra/components/network"
	"github.com/lamina-os/lamina-infra/components/security"
	"github.com/lamina-os/lamina-infra/internal/recorder"
	"github.com/lamina-os/lamina-infra/internal/recorder/recordertest"
)

const (
	netpolType    = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
	authzType     = "kubernetes:security.istio.io/v1:AuthorizationPolicy"
	namespaceType = "test:index:Namespace"
	readyType     = "test:index:Istiod"
)

// dns is the cluster's DNS server as the cluster component declares it: UDP and TCP.
var dns = network.Endpoint{
	Peer:  network.Pods("kube-system", map[string]string{"k8s-app": "kube-dns"}),
	Ports: []network.Port{{Number: 53, Protocol: "UDP"}, {Number: 53, Protocol: "TCP"}},
}

var (
	gateway = network.Pods("istio-gateway", map[string]string{"istio": "ingressgateway"}).As("istio-ingressgateway")
	core    = network.App("lamina-system", "lamina-core")
	jaeger  = network.App("observability", "jaeger")
	nodes   = network.Peer{CIDR: "192.168.64.0/24"}
)

// platformFlows are a platform's flows of each kind: from an identity to pods, from every
// identity of a namespace, to the nodes' addresses (the API server), from anywhere, and
// from the nodes (no mesh identity) into an authorized namespace.
var platformFlows = []network.Flow{
	{Name: "gateway-to-core", From: gateway, To: core, Ports: network.TCP(8080)},
	{Name: "spans-from-lamina-system", From: network.Namespace("lamina-system").As(network.AnyServiceAccount), To: jaeger, Ports: network.TCP(4317)},
	{Name: "apiserver", From: network.Namespace("observability"), To: nodes, Ports: network.TCP(6443)},
	{Name: "clients", From: network.Peer{CIDR: "0.0.0.0/0"}, To: network.Pods("istio-gateway", map[string]string{"istio": "ingressgateway"}), Ports: network.TCP(80, 443)},
	{Name: "kubelet-probes", From: nodes, To: network.Namespace("lamina-system"), Ports: network.TCP(15020, 15021)},
}

// declare runs NewNetworkSecurity on a platform's args as edit changes them. Each
// namespace's name is an output of a Namespace resource, as the namespaces component
// gives it, so that what waits for the namespace shows; istiod is a resource of its own.
func declare(t *testing.T, edit func(a *security.NetworkSecurityArgs)) (*recorder.Graph, error) {
	t.Helper()
	return recorder.Run(recorder.Options{Project: "lamina", Stack: "test"}, func(ctx *pulumi.Context) error {
		names := map[string]pulumi.StringOutput{}
		for _, ns := range []string{"istio-gateway", "lamina-system", "observability"} {
			var r pulumi.CustomResourceState
			if err := ctx.RegisterResource(namespaceType, ns, pulumi.Map{}, &r); err != nil {
				return err
			}
			name := ns
			names[ns] = r.URN().ApplyT(func(pulumi.URN) string { return name }).(pulumi.StringOutput)
		}
		var istiod pulumi.CustomResourceState
		if err := ctx.RegisterResource(readyType, "istiod", pulumi.Map{}, &istiod); err != nil {
			return err
		}
		a := security.NetworkSecurityArgs{
			Authorized:     []string{"lamina-system", "observability"},
			Policed:        []string{"istio-gateway", "lamina-system", "observability"},
			NamespaceNames: names,
			TrustDomain:    "cluster.local",
			Flows:          platformFlows,
			DNS:            dns,
			IstioReady:     []pulumi.Resource{&istiod},
		}
		if edit != nil {
			edit(&a)
		}
		_, err := security.NewNetworkSecurity(ctx, "network-security", a)
		return err
	})
}

// policies indexes the graph's policies as "NetworkPolicy <namespace>/<name>" and
// "AuthorizationPolicy <namespace>/<name>"; two objects of one name in a namespace, which
// would replace each other in the cluster, fail the test.
func policies(t *testing.T, g *recorder.Graph) map[string]*recorder.Resource {
	t.Helper()
	out := map[string]*recorder.Resource{}
	for kind, typ := range map[string]string{"NetworkPolicy": netpolType, "AuthorizationPolicy": authzType} {
		for _, r := range g.ByType(typ) {
			m, _ := r.Inputs["metadata"].(map[string]any)
			key := kind + " " + m["namespace"].(string) + "/" + m["name"].(string)
			require.NotContains(t, out, key, "declared twice")
			out[key] = r
		}
	}
	return out
}

func keys(m map[string]*recorder.Resource) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func policy(t *testing.T, all map[string]*recorder.Resource, key string) *recorder.Resource {
	t.Helper()
	r, ok := all[key]
	require.True(t, ok, "no %s", key)
	return r
}

// Every policed namespace gets a default-deny NetworkPolicy for both directions with no
// rule; every authorized one an AuthorizationPolicy with an empty spec, which matches
// nothing and so denies every request. A namespace policed but not authorized (the
// gateway's) gets no deny-all. Each waits for its namespace; only the Istio policies wait
// for istiod (its CRDs and webhook).
func TestEveryNamespaceIsClosedByDefault(t *testing.T) {
	g, err := declare(t, nil)
	require.NoError(t, err)
	all := policies(t, g)
	istiod := recordertest.Find(t, g, readyType, "istiod")

	for _, ns := range []string{"istio-gateway", "lamina-system", "observability"} {
		np := policy(t, all, "NetworkPolicy "+ns+"/default-deny")
		assert.Equal(t, map[string]any{"podSelector": map[string]any{}, "policyTypes": []any{"Ingress", "Egress"}}, np.Inputs["spec"], ns)
		assert.Equal(t, map[string]any{"app.kubernetes.io/managed-by": "pulumi", "app.kubernetes.io/part-of": "lamina"},
			np.Inputs["metadata"].(map[string]any)["labels"], ns)
		assert.Equal(t, []string{recordertest.Find(t, g, namespaceType, ns).URN}, np.Dependencies, "%s: waits for its namespace, not for istiod", ns)
		assert.Equal(t, "urn:pulumi:test::lamina::lamina:security:NetworkSecurity::network-security", np.Parent)
	}
	for _, ns := range []string{"lamina-system", "observability"} {
		ap := policy(t, all, "AuthorizationPolicy "+ns+"/deny-all")
		assert.Equal(t, map[string]any{}, ap.Inputs["spec"], "%s: no action, no rule", ns)
		assert.ElementsMatch(t, []string{recordertest.Find(t, g, namespaceType, ns).URN, istiod.URN}, ap.Dependencies, ns)
	}
	assert.NotContains(t, all, "AuthorizationPolicy istio-gateway/deny-all", "the gateway is policed, not authorized")
}

// Every policed namespace reaches the cluster's DNS pods on both of DNS's protocols;
// DNS's own namespace is not policed, so nothing is declared there, and DNS carries no
// mesh identity, so no ALLOW policy names it.
func TestDNSStaysOpenFromEveryPolicedNamespace(t *testing.T) {
	g, err := declare(t, func(a *security.NetworkSecurityArgs) { a.Flows = nil })
	require.NoError(t, err)
	all := policies(t, g)
	for _, ns := range []string{"istio-gateway", "lamina-system", "observability"} {
		np := policy(t, all, "NetworkPolicy "+ns+"/dns-egress")
		assert.Equal(t, map[string]any{
			"podSelector": map[string]any{},
			"policyTypes": []any{"Egress"},
			"egress": []any{map[string]any{
				"to": []any{map[string]any{
					"namespaceSelector": map[string]any{"matchLabels": map[string]any{"kubernetes.io/metadata.name": "kube-system"}},
					"podSelector":       map[string]any{"matchLabels": map[string]any{"k8s-app": "kube-dns"}},
				}},
				"ports": []any{map[string]any{"port": float64(53), "protocol": "UDP"}, map[string]any{"port": float64(53), "protocol": "TCP"}},
			}},
		}, np.Inputs["spec"], ns)
	}
	assert.ElementsMatch(t, []string{
		"NetworkPolicy istio-gateway/default-deny", "NetworkPolicy lamina-system/default-deny", "NetworkPolicy observability/default-deny",
		"NetworkPolicy istio-gateway/dns-egress", "NetworkPolicy lamina-system/dns-egress", "NetworkPolicy observability/dns-egress",
		"AuthorizationPolicy lamina-system/deny-all", "AuthorizationPolicy observability/deny-all",
	}, keys(all), "with no flow, the default denies and DNS only")
}

// Each flow opens its two ends and nothing else: an egress policy where it starts and an
// ingress policy where it ends, each only in a policed namespace (an address range has
// none), and an ALLOW policy where it ends only when the caller has a mesh identity and
// the namespace is authorized.
func TestEachFlowOpensExactlyItsEnds(t *testing.T) {
	g, err := declare(t, nil)
	require.NoError(t, err)
	all := policies(t, g)
	var flows []string
	for _, k := range keys(all) {
		switch k {
		case "AuthorizationPolicy lamina-system/deny-all", "AuthorizationPolicy observability/deny-all",
			"NetworkPolicy istio-gateway/default-deny", "NetworkPolicy lamina-system/default-deny", "NetworkPolicy observability/default-deny",
			"NetworkPolicy istio-gateway/dns-egress", "NetworkPolicy lamina-system/dns-egress", "NetworkPolicy observability/dns-egress":
			continue
		}
		flows = append(flows, k)
	}
	assert.ElementsMatch(t, []string{
		"NetworkPolicy istio-gateway/gateway-to-core-egress", "NetworkPolicy lamina-system/gateway-to-core-ingress", "AuthorizationPolicy lamina-system/gateway-to-core",
		"NetworkPolicy lamina-system/spans-from-lamina-system-egress", "NetworkPolicy observability/spans-from-lamina-system-ingress", "AuthorizationPolicy observability/spans-from-lamina-system",
		"NetworkPolicy observability/apiserver-egress",
		"NetworkPolicy istio-gateway/clients-ingress",
		"NetworkPolicy lamina-system/kubelet-probes-ingress",
	}, flows)

	port8080 := []any{map[string]any{"port": float64(8080), "protocol": "TCP"}}
	assert.Equal(t, map[string]any{
		"podSelector": map[string]any{"matchLabels": map[string]any{"istio": "ingressgateway"}},
		"policyTypes": []any{"Egress"},
		"egress": []any{map[string]any{
			"to": []any{map[string]any{
				"namespaceSelector": map[string]any{"matchLabels": map[string]any{"kubernetes.io/metadata.name": "lamina-system"}},
				"podSelector":       map[string]any{"matchLabels": map[string]any{"app.kubernetes.io/name": "lamina-core"}},
			}},
			"ports": port8080,
		}},
	}, policy(t, all, "NetworkPolicy istio-gateway/gateway-to-core-egress").Inputs["spec"])
	assert.Equal(t, map[string]any{
		"podSelector": map[string]any{"matchLabels": map[string]any{"app.kubernetes.io/name": "lamina-core"}},
		"policyTypes": []any{"Ingress"},
		"ingress": []any{map[string]any{
			"from": []any{map[string]any{
				"namespaceSelector": map[string]any{"matchLabels": map[string]any{"kubernetes.io/metadata.name": "istio-gateway"}},
				"podSelector":       map[string]any{"matchLabels": map[string]any{"istio": "ingressgateway"}},
			}},
			"ports": port8080,
		}},
	}, policy(t, all, "NetworkPolicy lamina-system/gateway-to-core-ingress").Inputs["spec"])

	// A namespace-wide end selects every pod; an address range is an ipBlock.
	api := policy(t, all, "NetworkPolicy observability/apiserver-egress").Inputs["spec"].(map[string]any)
	assert.Equal(t, map[string]any{}, api["podSelector"])
	assert.Equal(t, []any{map[string]any{
		"to":    []any{map[string]any{"ipBlock": map[string]any{"cidr": "192.168.64.0/24"}}},
		"ports": []any{map[string]any{"port": float64(6443), "protocol": "TCP"}},
	}}, api["egress"])
	clients := policy(t, all, "NetworkPolicy istio-gateway/clients-ingress").Inputs["spec"].(map[string]any)
	assert.Equal(t, []any{map[string]any{
		"from":  []any{map[string]any{"ipBlock": map[string]any{"cidr": "0.0.0.0/0"}}},
		"ports": []any{map[string]any{"port": float64(80), "protocol": "TCP"}, map[string]any{"port": float64(443), "protocol": "TCP"}},
	}}, clients["ingress"])

	// Flow policies wait like the default ones: the NetworkPolicies for their namespace,
	// the ALLOW policies for istiod too.
	assert.Equal(t, []string{recordertest.Find(t, g, namespaceType, "istio-gateway").URN}, policy(t, all, "NetworkPolicy istio-gateway/gateway-to-core-egress").Dependencies)
	assert.ElementsMatch(t, []string{recordertest.Find(t, g, namespaceType, "lamina-system").URN, recordertest.Find(t, g, readyType, "istiod").URN},
		policy(t, all, "AuthorizationPolicy lamina-system/gateway-to-core").Dependencies)
}

// An ALLOW policy admits the caller's SPIFFE principal, or for every identity of a
// namespace (spans from every sidecar) the namespace, never "*"; it selects the flow's
// pods, or the whole namespace; and it restricts to the flow's TCP ports, Istio's only,
// or to no port when the flow allows every one.
func TestAllowPolicyNamesTheCallerAndTheTCPPorts(t *testing.T) {
	g, err := declare(t, func(a *security.NetworkSecurityArgs) {
		a.Flows = append(slices.Clone(a.Flows),
			network.Flow{Name: "core-to-jaeger", From: core.As("lamina-core"), To: network.Namespace("observability"),
				Ports: []network.Port{{Number: 5775, Protocol: "UDP"}, {Number: 16686, Protocol: "TCP"}, {Number: 16685, Protocol: "TCP"}}},
			network.Flow{Name: "core-to-anything", From: core.As("lamina-core"), To: jaeger})
	})
	require.NoError(t, err)
	all := policies(t, g)

	assert.Equal(t, map[string]any{
		"action":   "ALLOW",
		"selector": map[string]any{"matchLabels": map[string]any{"app.kubernetes.io/name": "lamina-core"}},
		"rules": []any{map[string]any{
			"from": []any{map[string]any{"source": map[string]any{"principals": []any{"cluster.local/ns/istio-gateway/sa/istio-ingressgateway"}}}},
			"to":   []any{map[string]any{"operation": map[string]any{"ports": []any{"8080"}}}},
		}},
	}, policy(t, all, "AuthorizationPolicy lamina-system/gateway-to-core").Inputs["spec"])

	spans := policy(t, all, "AuthorizationPolicy observability/spans-from-lamina-system").Inputs["spec"].(map[string]any)
	assert.Equal(t, []any{map[string]any{"source": map[string]any{"namespaces": []any{"lamina-system"}}}},
		spans["rules"].([]any)[0].(map[string]any)["from"], "every identity of the namespace, not a principal")

	both := policy(t, all, "AuthorizationPolicy observability/core-to-jaeger").Inputs["spec"].(map[string]any)
	assert.NotContains(t, both, "selector", "a namespace-wide end selects every workload")
	assert.Equal(t, []any{map[string]any{"operation": map[string]any{"ports": []any{"16686", "16685"}}}},
		both["rules"].([]any)[0].(map[string]any)["to"], "the UDP port is the NetworkPolicy's alone")
	assert.Equal(t, []any{
		map[string]any{"port": float64(5775), "protocol": "UDP"}, map[string]any{"port": float64(16686), "protocol": "TCP"}, map[string]any{"port": float64(16685), "protocol": "TCP"},
	}, policy(t, all, "NetworkPolicy observability/core-to-jaeger-ingress").Inputs["spec"].(map[string]any)["ingress"].([]any)[0].(map[string]any)["ports"])

	anything := policy(t, all, "AuthorizationPolicy observability/core-to-anything").Inputs["spec"].(map[string]any)
	assert.Equal(t, []any{map[string]any{
		"from": []any{map[string]any{"source": map[string]any{"principals": []any{"cluster.local/ns/lamina-system/sa/lamina-core"}}}},
	}}, anything["rules"], "no port: no operation")
	assert.Equal(t, []any{}, policy(t, all, "NetworkPolicy observability/core-to-anything-ingress").Inputs["spec"].(map[string]any)["ingress"].([]any)[0].(map[string]any)["ports"],
		"an empty list of ports allows every port")
}

// A shared stack closes its own namespaces as the platform does; in the platform's
// namespaces it joins it declares no default policy (the platform's stand) and only its
// own flows' policies, each named <prefix>-<policy> so as not to replace the platform's,
// in the namespace of that name, which is not an output of this stack. Joined
// namespaces without a prefix are refused.
func TestJoinedNamespacesGetOnlyThisStacksFlowsUnderItsPrefix(t *testing.T) {
	joined := func(a *security.NetworkSecurityArgs) {
		a.Authorized, a.Policed = []string{"lamina-system"}, []string{"lamina-system"}
		a.Joined, a.JoinedPrefix = []string{"istio-gateway", "observability"}, "alice"
	}
	g, err := declare(t, joined)
	require.NoError(t, err)
	all := policies(t, g)
	assert.ElementsMatch(t, []string{
		"NetworkPolicy lamina-system/default-deny", "NetworkPolicy lamina-system/dns-egress", "AuthorizationPolicy lamina-system/deny-all",
		"NetworkPolicy istio-gateway/alice-gateway-to-core-egress", "NetworkPolicy lamina-system/gateway-to-core-ingress", "AuthorizationPolicy lamina-system/gateway-to-core",
		"NetworkPolicy lamina-system/spans-from-lamina-system-egress", "NetworkPolicy observability/alice-spans-from-lamina-system-ingress", "AuthorizationPolicy observability/alice-spans-from-lamina-system",
		"NetworkPolicy observability/alice-apiserver-egress",
		"NetworkPolicy istio-gateway/alice-clients-ingress",
		"NetworkPolicy lamina-system/kubelet-probes-ingress",
	}, keys(all))
	assert.Empty(t, policy(t, all, "NetworkPolicy observability/alice-spans-from-lamina-system-ingress").Dependencies,
		"another stack's namespace: named, not waited for")
	assert.Equal(t, []string{recordertest.Find(t, g, readyType, "istiod").URN}, policy(t, all, "AuthorizationPolicy observability/alice-spans-from-lamina-system").Dependencies)

	_, err = declare(t, func(a *security.NetworkSecurityArgs) {
		joined(a)
		a.JoinedPrefix = ""
	})
	assert.ErrorContains(t, err, "network security: joined namespaces [istio-gateway observability] need a prefix for the policies declared in them")
}

// Two flows whose policies would share a name in one namespace, one of them the DNS
// flow, would overwrite each other in the cluster: they are refused, naming the flow and
// the namespace, before anything is declared. The same name in two namespaces is fine.
func TestFlowsWhosePoliciesWouldShareANameAreRefused(t *testing.T) {
	for _, tc := range []struct {
		flow network.Flow
		want string
	}{
		{network.Flow{Name: "gateway-to-core", From: network.Namespace("observability"), To: core, Ports: network.TCP(9090)},
			`network security: flow "gateway-to-core" appears twice in namespace lamina-system; flow names must be unique per namespace`},
		{network.Flow{Name: "dns", From: network.Namespace("observability"), To: network.Namespace("kube-system")},
			`network security: flow "dns" appears twice in namespace observability; flow names must be unique per namespace`},
	} {
		g, err := declare(t, func(a *security.NetworkSecurityArgs) { a.Flows = append(slices.Clone(a.Flows), tc.flow) })
		assert.ErrorContains(t, err, tc.want)
		assert.Empty(t, g.ByType(netpolType), tc.want)
		assert.Empty(t, g.ByType(authzType), tc.want)
	}

	g, err := declare(t, func(a *security.NetworkSecurityArgs) {
		a.Flows = append(slices.Clone(a.Flows), network.Flow{Name: "apiserver", From: network.Namespace("lamina-system"), To: nodes, Ports: network.TCP(6443)})
	})
	require.NoError(t, err)
	all := policies(t, g)
	assert.Contains(t, all, "NetworkPolicy observability/apiserver-egress")
	assert.Contains(t, all, "NetworkPolicy lamina-system/apiserver-egress")
}
