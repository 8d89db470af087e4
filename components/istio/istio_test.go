// Tests of the istio component on its own, under Pulumi's mocks (internal/recorder): the
// four releases it installs with their pinned charts, the order between them, the values
// that matter in istiod's and the gateway's charts, the mesh-wide policy (STRICT mutual
// TLS, the ISTIO_MUTUAL traffic policy carrying the circuit breaker, the API server's
// exception, telemetry), the flows it opens, and NewMembers for a shared stack.
package istio_test

import (
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lamina-os/lamina-infra/components/istio"
	"github.com/lamina-os/lamina-infra/components/network"
	"github.com/lamina-os/lamina-infra/internal/kube"
	"github.com/lamina-os/lamina-infra/internal/recorder"
	"github.com/lamina-os/lamina-infra/internal/recorder/recordertest"
)

const (
	releaseType = "kubernetes:helm.sh/v3:Release"
	// A custom resource's type is its apiVersion and kind.
	peerAuthType      = "kubernetes:security.istio.io/v1:PeerAuthentication"
	destinationRuleTy = "kubernetes:networking.istio.io/v1:DestinationRule"
	telemetryType     = "kubernetes:telemetry.istio.io/v1:Telemetry"
	waitType          = "test:index:RolloutWait"
	poolType          = "test:index:Pool"
)

func chart(name string) kube.Chart {
	return kube.Chart{Repository: "https://istio-release.storage.googleapis.com/charts", Name: name, Version: "1.31.0-test", Timeout: 7 * time.Minute}
}

// breaker has a distinct value in every field, so that a field landing in another's
// place shows; its durations are written as Istio's proto JSON wants them: seconds past
// a minute ("90s", not "1m30s"), with a fraction kept ("45.5s", not "45s").
var breaker = istio.CircuitBreaker{
	Consecutive5xxErrors: 7, Interval: 90 * time.Second, BaseEjectionTime: 45500 * time.Millisecond,
	MaxEjectionPercent: 33, MaxConnections: 101, HTTP1MaxPendingRequests: 102, HTTP2MaxRequests: 103,
}

var kubelet = network.Peer{CIDR: "192.168.64.0/24"}

// wait is a call of the fake WaitForRollout.
type wait struct{ name, workload string }

// args are a platform's Istio with CNI; the fake WaitForRollout registers a resource
// whose inputs are what it was given, and records the call in waits.
func args(ctx *pulumi.Context, waits *[]wait) istio.IstioArgs {
	names := map[string]pulumi.StringOutput{}
	for _, ns := range []string{"lamina-system", "lamina-agents"} {
		names[ns] = pulumi.String(ns).ToStringOutput()
	}
	return istio.IstioArgs{
		Charts:           istio.Charts{Base: chart("base"), CNI: chart("cni"), Istiod: chart("istiod"), Gateway: chart("gateway")},
		Namespace:        pulumi.String("istio-system"),
		GatewayNamespace: pulumi.String("istio-gateway"),
		RootNamespace:    "istio-system", GatewayNamespaceName: "istio-gateway",
		Workloads:     []string{"lamina-system", "lamina-agents"},
		WorkloadNames: names,
		Kubelet:       kubelet,
		CNI:           true,
		WaitForRollout: func(name, workload string, revision pulumi.StringInput, opts ...pulumi.ResourceOption) (pulumi.Resource, error) {
			*waits = append(*waits, wait{name: name, workload: workload})
			var w pulumi.CustomResourceState
			err := ctx.RegisterResource(waitType, name, pulumi.Map{"workload": pulumi.String(workload), "revision": revision}, &w, opts...)
			return &w, err
		},
		IstiodReplicas:  2,
		IstiodResources: kube.Resources{Requests: kube.Quantities{CPU: "250m", Memory: "512Mi"}, Limits: kube.Quantities{CPU: "1", Memory: "1Gi"}},
		ProxyResources:  kube.Resources{Requests: kube.Quantities{CPU: "20m", Memory: "64Mi"}, Limits: kube.Quantities{CPU: "500m", Memory: "256Mi"}},
		Gateway: istio.Gateway{MinReplicas: 1, MaxReplicas: 1, Address: "192.168.64.240",
			Resources: kube.Resources{Requests: kube.Quantities{CPU: "100m", Memory: "128Mi"}, Limits: kube.Quantities{CPU: "1", Memory: "512Mi"}}},
		Tracing:        istio.Tracing{CollectorHost: "jaeger-collector.observability.svc.cluster.local", CollectorPort: 4317, SamplingPercent: 12.5},
		AccessLogs:     true,
		CircuitBreaker: breaker,
	}
}

// install runs NewIstio on args as edit changes them, as `pulumi up` would: every Helm
// release reports revision 3.
func install(t *testing.T, edit func(ctx *pulumi.Context, a *istio.IstioArgs)) (*recorder.Graph, *istio.Istio, []wait, error) {
	t.Helper()
	var c *istio.Istio
	var waits []wait
	g, err := recorder.Run(recorder.Options{Project: "lamina", Stack: "test", Outputs: func(r *recorder.Resource) resource.PropertyMap {
		if r.Type != releaseType {
			return nil
		}
		return resource.PropertyMap{"status": resource.NewProperty(resource.PropertyMap{"revision": resource.NewProperty(3.0)})}
	}}, func(ctx *pulumi.Context) error {
		a := args(ctx, &waits)
		if edit != nil {
			edit(ctx, &a)
		}
		var err error
		c, err = istio.NewIstio(ctx, "istio", a)
		return err
	})
	return g, c, waits, err
}

func release(t *testing.T, g *recorder.Graph, name string) *recorder.Resource {
	t.Helper()
	r := g.Find(releaseType, name)
	require.NotNil(t, r, "release %s", name)
	return r
}

// cr returns the custom resource of type typ named name (the Pulumi name) and its spec.
func cr(t *testing.T, g *recorder.Graph, typ, name string) (*recorder.Resource, map[string]any) {
	t.Helper()
	r := g.Find(typ, name)
	require.NotNil(t, r, "custom resource %s", name)
	spec, _ := r.Inputs["spec"].(map[string]any)
	return r, spec
}

func meta(r *recorder.Resource) (name, namespace string) {
	m, _ := r.Inputs["metadata"].(map[string]any)
	name, _ = m["name"].(string)
	namespace, _ = m["namespace"].(string)
	return name, namespace
}

func urns(rs ...*recorder.Resource) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.URN)
	}
	return out
}

// Each release installs its own pinned chart, atomically, in its namespace, named as
// other components refer to it.
func TestReleasesInstallTheirPinnedCharts(t *testing.T) {
	g, _, _, err := install(t, nil)
	require.NoError(t, err)

	assert.Len(t, g.ByType(releaseType), 4)
	for name, want := range map[string]struct{ chart, namespace string }{
		istio.BaseRelease:    {"base", "istio-system"},
		istio.CNIRelease:     {"cni", "istio-system"},
		istio.IstiodRelease:  {"istiod", "istio-system"},
		istio.GatewayRelease: {"gateway", "istio-gateway"},
	} {
		r := release(t, g, name)
		assert.Equal(t, name, r.Inputs["name"], "Helm release name of %s", name)
		assert.Equal(t, want.chart, r.Inputs["chart"], name)
		assert.Equal(t, "1.31.0-test", r.Inputs["version"], name)
		assert.Equal(t, map[string]any{"repo": "https://istio-release.storage.googleapis.com/charts"}, r.Inputs["repositoryOpts"], name)
		assert.Equal(t, want.namespace, r.Inputs["namespace"], name)
		assert.Equal(t, float64(420), r.Inputs["timeout"], name)
		assert.Equal(t, true, r.Inputs["atomic"], name)
	}
	assert.Equal(t, map[string]any{"defaultRevision": "default"}, release(t, g, istio.BaseRelease).Inputs["values"])
	assert.Equal(t, map[string]any{"global": map[string]any{"platform": "k3s"}}, release(t, g, istio.CNIRelease).Inputs["values"])
}

// Base and cni install at once; istiod waits for base (its CRDs and webhook) but not for
// the CNI node agent (it runs outside the mesh); the gateway, whose pods are injected,
// waits for base, istiod, cni, the node agent Ready, and what its LoadBalancer needs.
func TestReleasesInstallInOrder(t *testing.T) {
	g, c, _, err := install(t, func(ctx *pulumi.Context, a *istio.IstioArgs) {
		var p pulumi.CustomResourceState
		require.NoError(t, ctx.RegisterResource(poolType, "metallb-pool", pulumi.Map{}, &p))
		a.GatewayDependsOn = []pulumi.Resource{&p}
	})
	require.NoError(t, err)
	pool := recordertest.Find(t, g, poolType, "metallb-pool")
	base, cni, istiod, gateway := release(t, g, istio.BaseRelease), release(t, g, istio.CNIRelease), release(t, g, istio.IstiodRelease), release(t, g, istio.GatewayRelease)
	agent := recordertest.Find(t, g, waitType, "istio-cni-agent")

	assert.Empty(t, base.Dependencies)
	assert.Empty(t, cni.Dependencies, "cni installs alongside base")
	assert.Equal(t, urns(base), istiod.Dependencies)
	assert.False(t, g.DependsOn(istiod, cni.URN), "istiod does not wait for the node agent")
	assert.ElementsMatch(t, urns(base, istiod, cni, agent, pool), gateway.Dependencies)

	assert.Len(t, c.Ready, 2, "Ready is base and istiod")
	assert.Len(t, c.Sidecars, 4, "Sidecars add cni and its agent")
	assert.Same(t, c.CNI, c.Sidecars[2])
	assert.Equal(t, c.CNIAgent, c.Sidecars[3])
}

// With CNI the component waits for the node agent's DaemonSet in its own step, which
// waits for the cni release and runs again with its revision; without a way to wait,
// CNI is refused.
func TestCNIWaitsForTheNodeAgentAtTheReleaseRevision(t *testing.T) {
	g, _, waits, err := install(t, nil)
	require.NoError(t, err)
	require.Len(t, waits, 1)
	assert.Equal(t, "istio-cni-agent", waits[0].name)
	assert.Equal(t, "daemonset/istio-cni-node", waits[0].workload)
	agent := recordertest.Find(t, g, waitType, "istio-cni-agent")
	assert.Equal(t, "3", agent.Inputs["revision"], "the cni release's revision")
	assert.Equal(t, urns(release(t, g, istio.CNIRelease)), agent.Dependencies)
	assert.Equal(t, "urn:pulumi:test::lamina::lamina:istio:Istio::istio", agent.Parent)

	_, _, _, err = install(t, func(_ *pulumi.Context, a *istio.IstioArgs) { a.WaitForRollout = nil })
	assert.ErrorContains(t, err, "istio: CNI needs WaitForRollout, to wait for the node agent")
}

// Without CNI there is no cni release and no wait, sidecars use istio-init (cni.enabled
// false, no k3s platform), and what runs in the mesh waits only for base and istiod.
func TestWithoutCNISidecarsWaitForBaseAndIstiodOnly(t *testing.T) {
	g, c, waits, err := install(t, func(_ *pulumi.Context, a *istio.IstioArgs) { a.CNI = false })
	require.NoError(t, err)
	assert.Nil(t, g.Find(releaseType, istio.CNIRelease))
	assert.Empty(t, waits)
	assert.Nil(t, c.CNI)
	assert.Nil(t, c.CNIAgent)
	assert.Equal(t, c.Ready, c.Sidecars)

	values := release(t, g, istio.IstiodRelease).Inputs["values"].(map[string]any)
	assert.Equal(t, map[string]any{"enabled": false}, values["cni"])
	assert.NotContains(t, values["global"], "platform")
	gateway := release(t, g, istio.GatewayRelease)
	assert.ElementsMatch(t, urns(release(t, g, istio.BaseRelease), release(t, g, istio.IstiodRelease)), gateway.Dependencies)
}

// istiod's values: sidecars injected for CNI on k3s with the runtime's seccomp profile
// (Pod Security restricted) and the proxy's resources; a fixed replica count; and the
// extension providers the Telemetry names, with the tracing collector's address.
func TestIstiodValues(t *testing.T) {
	g, _, _, err := install(t, nil)
	require.NoError(t, err)
	v := release(t, g, istio.IstiodRelease).Inputs["values"].(map[string]any)

	global := v["global"].(map[string]any)
	assert.Equal(t, "k3s", global["platform"])
	proxy := global["proxy"].(map[string]any)
	assert.Equal(t, map[string]any{"type": "RuntimeDefault"}, proxy["seccompProfile"])
	assert.Equal(t, map[string]any{
		"requests": map[string]any{"cpu": "20m", "memory": "64Mi"},
		"limits":   map[string]any{"cpu": "500m", "memory": "256Mi"},
	}, proxy["resources"])
	assert.Equal(t, map[string]any{"enabled": true}, v["cni"])
	assert.Equal(t, false, v["autoscaleEnabled"])
	assert.Equal(t, float64(2), v["replicaCount"])
	assert.Equal(t, map[string]any{
		"requests": map[string]any{"cpu": "250m", "memory": "512Mi"},
		"limits":   map[string]any{"cpu": "1", "memory": "1Gi"},
	}, v["resources"])

	mesh := v["meshConfig"].(map[string]any)
	assert.Equal(t, true, mesh["enableTracing"])
	assert.Equal(t, []any{
		map[string]any{"name": istio.TracingProvider, "opentelemetry": map[string]any{"service": "jaeger-collector.observability.svc.cluster.local", "port": float64(4317)}},
		map[string]any{"name": istio.AccessLogProvider, "envoyFileAccessLog": map[string]any{"path": "/dev/stdout"}},
		map[string]any{"name": istio.MetricsProvider, "prometheus": map[string]any{}},
	}, mesh["extensionProviders"])
}

// The gateway is a LoadBalancer at MetalLB's address whose pods carry the selector
// Gateway resources use. A fixed size is a replica count; a range autoscales on CPU;
// a PodDisruptionBudget keeps all but one of the minimum up, and there is none with one.
func TestGatewayValues(t *testing.T) {
	for _, tc := range []struct {
		name     string
		min, max int
		want     map[string]any // the keys that depend on the size
	}{
		{"one replica", 1, 1, map[string]any{"replicaCount": float64(1), "autoscaling": map[string]any{"enabled": false}}},
		{"two fixed", 2, 2, map[string]any{"replicaCount": float64(2), "autoscaling": map[string]any{"enabled": false},
			"podDisruptionBudget": map[string]any{"minAvailable": float64(1)}}},
		{"autoscaled", 3, 5, map[string]any{"autoscaling": map[string]any{"enabled": true, "minReplicas": float64(3), "maxReplicas": float64(5), "targetCPUUtilizationPercentage": float64(80)},
			"podDisruptionBudget": map[string]any{"minAvailable": float64(2)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, _, _, err := install(t, func(_ *pulumi.Context, a *istio.IstioArgs) {
				a.Gateway.MinReplicas, a.Gateway.MaxReplicas = tc.min, tc.max
			})
			require.NoError(t, err)
			v := release(t, g, istio.GatewayRelease).Inputs["values"].(map[string]any)
			assert.Equal(t, map[string]any{"istio": "ingressgateway"}, v["labels"])
			assert.Equal(t, map[string]any{"type": "LoadBalancer", "annotations": map[string]any{"metallb.io/loadBalancerIPs": "192.168.64.240"}}, v["service"])
			assert.Equal(t, map[string]any{"cpu": "100m", "memory": "128Mi"}, v["resources"].(map[string]any)["requests"])
			for _, k := range []string{"replicaCount", "autoscaling", "podDisruptionBudget"} {
				assert.Equal(t, tc.want[k], v[k], k)
			}
		})
	}
}

// Mutual TLS is STRICT in the mesh's root namespace (mesh-wide) and in every workload
// namespace; every workload namespace's services get an ISTIO_MUTUAL traffic policy that
// carries the circuit breaker field for field; the API server alone is reached with its
// own TLS. Every one of these waits for the CRDs and istiod's validating webhook.
func TestMeshPolicyIsStrictMutualTLSWithTheCircuitBreaker(t *testing.T) {
	g, _, _, err := install(t, nil)
	require.NoError(t, err)
	ready := urns(release(t, g, istio.BaseRelease), release(t, g, istio.IstiodRelease))

	root, spec := cr(t, g, peerAuthType, "istio-mesh-mtls")
	name, ns := meta(root)
	assert.Equal(t, [2]string{"default", "istio-system"}, [2]string{name, ns}, "default in the root namespace is mesh-wide")
	assert.Equal(t, map[string]any{"mtls": map[string]any{"mode": "STRICT"}}, spec)
	assert.ElementsMatch(t, ready, root.Dependencies)

	for _, ws := range []string{"lamina-system", "lamina-agents"} {
		pa, spec := cr(t, g, peerAuthType, "istio-"+ws+"-mtls")
		name, ns := meta(pa)
		assert.Equal(t, [2]string{"default", ws}, [2]string{name, ns})
		assert.Equal(t, map[string]any{"mtls": map[string]any{"mode": "STRICT"}}, spec, ws)
		assert.ElementsMatch(t, ready, pa.Dependencies, ws)

		dr, spec := cr(t, g, destinationRuleTy, "istio-"+ws+"-traffic")
		name, ns = meta(dr)
		assert.Equal(t, [2]string{"mutual-tls", ws}, [2]string{name, ns})
		assert.Equal(t, map[string]any{
			"host": "*." + ws + ".svc.cluster.local",
			"trafficPolicy": map[string]any{
				"tls": map[string]any{"mode": "ISTIO_MUTUAL"},
				"connectionPool": map[string]any{
					"tcp":  map[string]any{"maxConnections": float64(101)},
					"http": map[string]any{"http1MaxPendingRequests": float64(102), "http2MaxRequests": float64(103)},
				},
				"outlierDetection": map[string]any{
					"consecutive5xxErrors": float64(7), "interval": "90s", "baseEjectionTime": "45.5s", "maxEjectionPercent": float64(33),
				},
			},
		}, spec, ws)
		assert.ElementsMatch(t, ready, dr.Dependencies, ws)
	}

	api, spec := cr(t, g, destinationRuleTy, "istio-apiserver-traffic")
	name, ns = meta(api)
	assert.Equal(t, [2]string{"kubernetes-api-server", "istio-system"}, [2]string{name, ns})
	assert.Equal(t, map[string]any{"host": istio.APIServerHost, "trafficPolicy": map[string]any{"tls": map[string]any{"mode": "DISABLE"}}}, spec)

	var rules []string
	for _, r := range g.ByType(destinationRuleTy) {
		rules = append(rules, r.Name)
	}
	assert.ElementsMatch(t, []string{"istio-lamina-system-traffic", "istio-lamina-agents-traffic", "istio-apiserver-traffic"}, rules,
		"no destination without mutual TLS but the API server's")
}

// The mesh-wide Telemetry traces a share of requests to the tracing provider, exports
// metrics to Prometheus, and logs access only when asked.
func TestMeshTelemetry(t *testing.T) {
	g, _, _, err := install(t, nil)
	require.NoError(t, err)
	tel, spec := cr(t, g, telemetryType, "istio-mesh-telemetry")
	name, ns := meta(tel)
	assert.Equal(t, [2]string{"mesh-default", "istio-system"}, [2]string{name, ns})
	assert.Equal(t, map[string]any{
		"tracing":       []any{map[string]any{"providers": []any{map[string]any{"name": "jaeger"}}, "randomSamplingPercentage": 12.5}},
		"metrics":       []any{map[string]any{"providers": []any{map[string]any{"name": "prometheus"}}}},
		"accessLogging": []any{map[string]any{"providers": []any{map[string]any{"name": "access-log"}}}},
	}, spec)

	g, _, _, err = install(t, func(_ *pulumi.Context, a *istio.IstioArgs) { a.AccessLogs = false })
	require.NoError(t, err)
	_, spec = cr(t, g, telemetryType, "istio-mesh-telemetry")
	assert.NotContains(t, spec, "accessLogging")
}

// The flows the mesh needs: the sidecars of the gateway's and of every workload
// namespace reach istiod's XDS port, the kubelet probes them through the agent's and
// status ports, and clients anywhere reach the gateway's pods on 80 and 443.
func TestIstioOpensTheMeshFlows(t *testing.T) {
	_, c, _, err := install(t, nil)
	require.NoError(t, err)
	istiod := network.Pods("istio-system", map[string]string{"app": "istiod"})
	var want []network.Flow
	for _, ns := range []string{"istio-gateway", "lamina-system", "lamina-agents"} {
		want = append(want,
			network.Flow{Name: "istiod", From: network.Namespace(ns), To: istiod, Ports: network.TCP(15012)},
			network.Flow{Name: "kubelet-probes", From: kubelet, To: network.Namespace(ns), Ports: network.TCP(15020, 15021)})
	}
	want = append(want, network.Flow{Name: "clients", From: network.Peer{CIDR: "0.0.0.0/0"},
		To: network.Pods("istio-gateway", map[string]string{"istio": "ingressgateway"}).As("istio-ingressgateway"), Ports: network.TCP(80, 443)})
	assert.Equal(t, want, c.Needs().Flows)
}

// A shared stack's namespaces join the platform's mesh: each gets STRICT mutual TLS and
// the ISTIO_MUTUAL policy with the circuit breaker, under the Members component, and the
// flows to istiod and from the kubelet. Nothing mesh-wide is declared again: no release,
// no root-namespace policy, no Telemetry, no API server rule.
func TestMembersJoinTheMeshWithoutMeshWidePolicy(t *testing.T) {
	var c *istio.Members
	g, err := recorder.Run(recorder.Options{Project: "lamina", Stack: "alice", Preview: true}, func(ctx *pulumi.Context) error {
		var err error
		c, err = istio.NewMembers(ctx, "mesh-members", istio.MembersArgs{
			RootNamespace: "istio-system",
			Kubelet:       kubelet,
			Namespaces:    []string{"lamina-alice", "lamina-alice-agents"},
			NamespaceNames: map[string]pulumi.StringOutput{
				"lamina-alice": pulumi.String("lamina-alice").ToStringOutput(), "lamina-alice-agents": pulumi.String("lamina-alice-agents").ToStringOutput(),
			},
			CircuitBreaker: breaker,
		})
		return err
	})
	require.NoError(t, err)

	assert.Empty(t, g.ByType(releaseType))
	assert.Empty(t, g.ByType(telemetryType))
	var names []string
	for _, r := range g.Resources {
		if r.Custom {
			names = append(names, r.Name)
			assert.Equal(t, "urn:pulumi:alice::lamina::lamina:istio:Members::mesh-members", r.Parent, r.Name)
		}
	}
	assert.ElementsMatch(t, []string{
		"mesh-members-lamina-alice-mtls", "mesh-members-lamina-alice-traffic",
		"mesh-members-lamina-alice-agents-mtls", "mesh-members-lamina-alice-agents-traffic",
	}, names)

	for _, ns := range []string{"lamina-alice", "lamina-alice-agents"} {
		pa, spec := cr(t, g, peerAuthType, "mesh-members-"+ns+"-mtls")
		name, pans := meta(pa)
		assert.Equal(t, [2]string{"default", ns}, [2]string{name, pans})
		assert.Equal(t, map[string]any{"mtls": map[string]any{"mode": "STRICT"}}, spec)

		dr, spec := cr(t, g, destinationRuleTy, "mesh-members-"+ns+"-traffic")
		_, drns := meta(dr)
		assert.Equal(t, ns, drns)
		assert.Equal(t, "*."+ns+".svc.cluster.local", spec["host"])
		policy := spec["trafficPolicy"].(map[string]any)
		assert.Equal(t, map[string]any{"mode": "ISTIO_MUTUAL"}, policy["tls"])
		assert.Equal(t, map[string]any{"consecutive5xxErrors": float64(7), "interval": "90s", "baseEjectionTime": "45.5s", "maxEjectionPercent": float64(33)},
			policy["outlierDetection"])
		assert.Equal(t, map[string]any{"maxConnections": float64(101)}, policy["connectionPool"].(map[string]any)["tcp"])
	}

	var flows []string
	for _, f := range c.Needs().Flows {
		flows = append(flows, f.Name+" "+f.From.Namespace+f.From.CIDR+" -> "+f.To.Namespace)
	}
	assert.Equal(t, []string{
		"istiod lamina-alice -> istio-system", "kubelet-probes 192.168.64.0/24 -> lamina-alice",
		"istiod lamina-alice-agents -> istio-system", "kubelet-probes 192.168.64.0/24 -> lamina-alice-agents",
	}, flows)
}
