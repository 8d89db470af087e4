package stacks_test

import (
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/lamina-os/lamina-infra/components/namespaces"
	"github.com/lamina-os/lamina-infra/components/network"
	"github.com/lamina-os/lamina-infra/components/security"
	"github.com/lamina-os/lamina-infra/internal/recorder"
	"github.com/lamina-os/lamina-infra/stacks/config"
	"github.com/lamina-os/lamina-infra/stacks/offline"
)

const releaseType = "kubernetes:helm.sh/v3:Release"

// field walks a resource's masked inputs along a path of object keys.
func field(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

// kind returns every resource of a Kubernetes kind, whatever its apiVersion.
func kind(g *recorder.Graph, k string) []*recorder.Resource {
	var out []*recorder.Resource
	for _, r := range g.Resources {
		if recorder.IsKubernetesObject(r) && r.Inputs["kind"] == k {
			out = append(out, r)
		}
	}
	return out
}

func release(t *testing.T, g *recorder.Graph, name string) *recorder.Resource {
	t.Helper()
	for _, r := range g.ByType(releaseType) {
		if r.Inputs["name"] == name {
			return r
		}
	}
	t.Fatalf("no Helm release %s", name)
	return nil
}

func namespaceOf(r *recorder.Resource) string {
	s, _ := field(r.Inputs, "metadata", "namespace").(string)
	return s
}

func nameOf(r *recorder.Resource) string {
	s, _ := field(r.Inputs, "metadata", "name").(string)
	return s
}

// forBothStacks runs f on the preview graph and the loaded config of each stack.
func forBothStacks(t *testing.T, f func(t *testing.T, g *recorder.Graph, cfg *config.Config)) {
	for _, stack := range bothStacks {
		t.Run(stack, func(t *testing.T) {
			src := stackSource(t, stack, nil)
			cfg, err := config.Load(src, nil)
			require.NoError(t, err)
			f(t, preview(t, src), cfg)
		})
	}
}

// Every namespace is declared once; workload namespaces and the gateway's are in the mesh,
// the system namespaces are out with a reason; each enforces its Pod Security level.
func TestNamespacesAreDeclaredOnceWithTheirMeshLabels(t *testing.T) {
	forBothStacks(t, func(t *testing.T, g *recorder.Graph, cfg *config.Config) {
		var names []string
		for _, ns := range kind(g, "Namespace") {
			name := nameOf(ns)
			names = append(names, name)
			labels := field(ns.Inputs, "metadata", "labels")
			want := "enabled"
			if slices.Contains(config.SystemNamespaces, name) {
				want = "disabled"
				assert.NotEmpty(t, field(ns.Inputs, "metadata", "annotations", "lamina.io/out-of-mesh-reason"), name)
			}
			assert.Equal(t, want, field(labels, "istio-injection"), name)
			assert.Equal(t, cfg.Namespaces.PodSecurity[name], field(labels, "pod-security.kubernetes.io/enforce"), name)
		}
		want := cfg.DeclaredNamespaces()
		sort.Strings(names)
		sort.Strings(want)
		assert.Equal(t, want, names, "each namespace once, and no other")
		for _, r := range g.ByType(releaseType) {
			assert.Equal(t, false, r.Inputs["createNamespace"], "%s must not declare a namespace too", r.Name)
		}
	})
}

// Mutual TLS is STRICT in the root namespace and in every workload namespace, and
// nothing anywhere weakens it.
func TestMutualTLSIsStrictEverywhere(t *testing.T) {
	forBothStacks(t, func(t *testing.T, g *recorder.Graph, cfg *config.Config) {
		covered := map[string]bool{}
		for _, pa := range kind(g, "PeerAuthentication") {
			spec := pa.Inputs["spec"]
			assert.Equal(t, "STRICT", field(spec, "mtls", "mode"), pa.URN)
			assert.Nil(t, field(spec, "portLevelMtls"), pa.URN)
			if field(spec, "selector") == nil {
				covered[namespaceOf(pa)] = true
			}
		}
		assert.True(t, covered[config.NamespaceIstio], "mesh-wide STRICT in the root namespace")
		for _, ns := range cfg.Workloads() {
			assert.True(t, covered[ns], "STRICT in %s", ns)
		}
	})
}

// Every DestinationRule keeps Istio's mutual TLS, with the configured circuit breaker,
// except the one for the Kubernetes API server, which speaks its own TLS.
func TestDestinationRulesKeepIstioMutualTLS(t *testing.T) {
	forBothStacks(t, func(t *testing.T, g *recorder.Graph, cfg *config.Config) {
		perNamespace := map[string]bool{}
		for _, dr := range kind(g, "DestinationRule") {
			spec := dr.Inputs["spec"]
			host := field(spec, "host")
			mode := field(spec, "trafficPolicy", "tls", "mode")
			if host == "kubernetes.default.svc.cluster.local" {
				assert.Equal(t, "DISABLE", mode)
				continue
			}
			assert.Equal(t, "ISTIO_MUTUAL", mode, dr.URN)
			for _, sub := range list(field(spec, "subsets")) {
				assert.Contains(t, []any{nil, "ISTIO_MUTUAL"}, field(sub, "trafficPolicy", "tls", "mode"), dr.URN)
			}
			cb := cfg.Mesh.CircuitBreaker
			od := field(spec, "trafficPolicy", "outlierDetection")
			assert.Equal(t, float64(cb.Consecutive5xxErrors), field(od, "consecutive5xxErrors"))
			assert.Equal(t, float64(cb.MaxEjectionPercent), field(od, "maxEjectionPercent"))
			assert.Equal(t, "30s", field(od, "interval"))
			assert.Equal(t, float64(cb.MaxConnections), field(spec, "trafficPolicy", "connectionPool", "tcp", "maxConnections"))
			assert.Equal(t, "*."+namespaceOf(dr)+".svc.cluster.local", host)
			perNamespace[namespaceOf(dr)] = true
		}
		for _, ns := range cfg.Workloads() {
			assert.True(t, perNamespace[ns], "a DestinationRule for the services of %s", ns)
		}
	})
}

// crdReleases names, per API group, the releases that install the group's CRDs and the
// webhook that validates them.
var crdReleases = map[string][]string{
	"metallb.io":          {"metallb"},
	"cert-manager.io":     {"cert-manager"},
	"security.istio.io":   {"istio-base", "istiod"},
	"networking.istio.io": {"istio-base", "istiod"},
	"telemetry.istio.io":  {"istio-base", "istiod"},
}

// Every custom resource waits for the releases that install its CRD and webhook, and
// those releases are pinned, named exactly, bounded in time and wait for readiness.
func TestCustomResourcesWaitForTheReleasesOfTheirCRDs(t *testing.T) {
	forBothStacks(t, func(t *testing.T, g *recorder.Graph, _ *config.Config) {
		crs := 0
		for _, r := range g.Resources {
			if !recorder.IsKubernetesObject(r) {
				continue
			}
			group, _, found := strings.Cut(r.Inputs["apiVersion"].(string), "/")
			if !found || !strings.Contains(group, ".") || strings.HasSuffix(group, ".k8s.io") {
				continue // a built-in kind
			}
			releases, ok := crdReleases[group]
			require.True(t, ok, "%s: which release installs the CRDs of %s?", r.URN, group)
			for _, name := range releases {
				assert.True(t, g.DependsOn(r, release(t, g, name).URN), "%s must wait for release %s", r.URN, name)
			}
			crs++
		}
		assert.Greater(t, crs, 20)
		for _, r := range g.ByType(releaseType) {
			assert.Equal(t, r.Name, r.Inputs["name"], "exact release names, no random suffix")
			assert.Regexp(t, `^v?\d+\.\d+\.\d+$`, r.Inputs["version"], r.Name)
			assert.Greater(t, r.Inputs["timeout"], float64(0), r.Name)
			assert.Equal(t, true, r.Inputs["atomic"], r.Name)
			assert.Nil(t, r.Inputs["skipAwait"], r.Name)
		}
		assert.True(t, g.DependsOn(release(t, g, "istiod"), release(t, g, "istio-base").URN))
		assert.True(t, g.DependsOn(release(t, g, "istio-ingressgateway"), release(t, g, "istiod").URN))
		for _, independent := range [][2]string{{"metallb", "cert-manager"}, {"metallb", "istio-base"}, {"cert-manager", "istio-base"}} {
			a, b := release(t, g, independent[0]), release(t, g, independent[1])
			assert.False(t, g.DependsOn(a, b.URN) || g.DependsOn(b, a.URN), "%s and %s install in parallel", a.Name, b.Name)
		}
	})
}

// Every workload inside the mesh (a release or a rollout in a namespace with sidecar
// injection, and the ingress gateway, injected by its own template) starts after
// istiod, whose webhook injects its sidecar, and after the CNI node agent's pods are
// Ready (a wait of its own: Helm's ends when the one pod is scheduled), which redirect
// its traffic. istiod itself runs outside the mesh and waits for neither.
func TestMeshWorkloadsWaitForInjectionAndTheCNIAgent(t *testing.T) {
	forBothStacks(t, func(t *testing.T, g *recorder.Graph, cfg *config.Config) {
		injected := map[string]bool{}
		for _, ns := range kind(g, "Namespace") {
			if field(ns.Inputs, "metadata", "labels", namespaces.InjectionLabel) == "enabled" {
				injected[field(ns.Inputs, "metadata", "name").(string)] = true
			}
		}
		require.NotEmpty(t, injected)
		istiod, cni, agent := release(t, g, "istiod"), release(t, g, "istio-cni"), command(t, g, "istio-cni-agent")
		assert.True(t, g.DependsOn(agent, cni.URN), "the wait for the node agent follows its release")
		var workloads []string
		for _, r := range g.Resources {
			var ns any
			switch {
			case r.Type == releaseType && r.Inputs["name"] == "istio-ingressgateway":
				ns = config.NamespaceGateway
				injected[config.NamespaceGateway] = true
			case r.Type == releaseType:
				ns = r.Inputs["namespace"]
			case r.Type == "kubernetes:apps/v1:Deployment" || r.Type == "kubernetes:apps/v1:StatefulSet" || r.Type == "kubernetes:apps/v1:DaemonSet":
				ns = field(r.Inputs, "metadata", "namespace")
			default:
				continue
			}
			name, _ := ns.(string)
			if !injected[name] {
				continue
			}
			workloads = append(workloads, r.Name)
			assert.True(t, g.DependsOn(r, istiod.URN), "%s in mesh namespace %s must wait for istiod's sidecar injection", r.Name, name)
			assert.True(t, g.DependsOn(r, agent.URN), "%s in mesh namespace %s must wait for the CNI node agent's pods to be Ready", r.Name, name)
		}
		sort.Strings(workloads)
		want := []string{"chromadb", "core", "dashboard", "grafana", "istio-ingressgateway", "jaeger", "kiali", "llm-serve", "loki", "prometheus", "vector"}
		if cfg.Tracing.Collector.Enabled {
			want = append(want, "opentelemetry-collector")
			sort.Strings(want)
		}
		assert.Equal(t, want, workloads, "the mesh's workloads")
		assert.False(t, g.DependsOn(istiod, cni.URN), "istiod runs outside the mesh: it need not wait for the CNI node agent")
	})
}

// The gateway serves HTTPS with the cert-manager certificate, whose secret lives in the
// namespace of the gateway's pods, and redirects HTTP; every VirtualService is bound to
// it and serves one of its hosts, and every host has one.
func TestGatewayCertificateAndRoutes(t *testing.T) {
	forBothStacks(t, func(t *testing.T, g *recorder.Graph, cfg *config.Config) {
		gateways := kind(g, "Gateway")
		require.Len(t, gateways, 1)
		gw := gateways[0]
		var https, http map[string]any
		for _, s := range list(field(gw.Inputs, "spec", "servers")) {
			switch field(s, "port", "protocol") {
			case "HTTPS":
				https = s.(map[string]any)
			case "HTTP":
				http = s.(map[string]any)
			}
		}
		require.NotNil(t, https)
		require.NotNil(t, http)
		assert.Equal(t, "SIMPLE", field(https, "tls", "mode"))
		assert.Equal(t, true, field(http, "tls", "httpsRedirect"))

		credential := field(https, "tls", "credentialName")
		var cert *recorder.Resource
		for _, c := range kind(g, "Certificate") {
			if field(c.Inputs, "spec", "secretName") == credential {
				cert = c
			}
		}
		require.NotNil(t, cert, "a Certificate makes the secret %v", credential)
		gatewayPods := release(t, g, "istio-ingressgateway").Inputs["namespace"]
		assert.Equal(t, gatewayPods, namespaceOf(cert), "the secret must be in the gateway pods' namespace")
		assert.True(t, g.DependsOn(gw, cert.URN), "the Gateway waits for its certificate")
		hosts := list(field(https, "hosts"))
		assert.ElementsMatch(t, hosts, list(field(cert.Inputs, "spec", "dnsNames")))
		assert.ElementsMatch(t, hosts, list(field(http, "hosts")))
		assert.Equal(t, map[string]any{"istio": "ingressgateway"}, field(gw.Inputs, "spec", "selector"))
		assert.Equal(t, map[string]any{"istio": "ingressgateway"}, field(release(t, g, "istio-ingressgateway").Inputs, "values", "labels"))

		served := map[any]bool{}
		for _, vs := range kind(g, "VirtualService") {
			assert.Equal(t, []any{namespaceOf(gw) + "/" + nameOf(gw)}, field(vs.Inputs, "spec", "gateways"), vs.URN)
			for _, h := range list(field(vs.Inputs, "spec", "hosts")) {
				assert.Contains(t, hosts, h, vs.URN)
				served[h] = true
			}
		}
		for _, h := range hosts {
			assert.True(t, served[h], "no VirtualService serves %v", h)
		}
		assert.Len(t, hosts, len(servedRoutes))
	})
}

// servedRoutes are the hostnames the components serve, each with the namespace and
// Service behind it: what /etc/hosts and the README list.
var servedRoutes = map[string]struct{ Namespace, Service string }{
	"core":       {config.NamespaceLaminaSystem, "lamina-core"},
	"dashboard":  {config.NamespaceDashboard, "lamina-dashboard"},
	"grafana":    {config.NamespaceMonitoring, "grafana"},
	"jaeger":     {config.NamespaceObservability, "jaeger"},
	"kiali":      {config.NamespaceObservability, "kiali"},
	"llm":        {config.NamespaceLLMServe, "lamina-llm-serve"},
	"prometheus": {config.NamespaceMonitoring, "prometheus"},
}

// Every provider a Telemetry resource names is defined in istiod's meshConfig.
func TestTelemetryNamesOnlyDefinedProviders(t *testing.T) {
	forBothStacks(t, func(t *testing.T, g *recorder.Graph, cfg *config.Config) {
		defined := map[any]bool{}
		for _, p := range list(field(release(t, g, "istiod").Inputs, "values", "meshConfig", "extensionProviders")) {
			defined[field(p, "name")] = true
		}
		named := 0
		for _, tel := range kind(g, "Telemetry") {
			for _, section := range []string{"tracing", "metrics", "accessLogging"} {
				for _, entry := range list(field(tel.Inputs, "spec", section)) {
					for _, p := range list(field(entry, "providers")) {
						assert.True(t, defined[field(p, "name")], "%s names undefined provider %v", tel.URN, field(p, "name"))
						named++
					}
				}
				if section == "tracing" {
					assert.Equal(t, cfg.Mesh.TracingSamplingPercent, field(list(field(tel.Inputs, "spec", section))[0], "randomSamplingPercentage"))
				}
			}
		}
		assert.Equal(t, 3, named)
		tracing := list(field(release(t, g, "istiod").Inputs, "values", "meshConfig", "extensionProviders"))[0]
		// Spans go to Jaeger, or in production to the OpenTelemetry collector in front of it.
		want := "jaeger.observability.svc.cluster.local"
		if cfg.Tracing.Collector.Enabled {
			want = "opentelemetry-collector.observability.svc.cluster.local"
		}
		assert.Equal(t, want, field(tracing, "opentelemetry", "service"))
	})
}

// Every workload namespace denies by default; ALLOW rules name their sources, never
// under "to" (the original's defect); the gateway may reach each route's workload.
func TestAuthorizationIsDefaultDenyWithNamedSources(t *testing.T) {
	forBothStacks(t, func(t *testing.T, g *recorder.Graph, cfg *config.Config) {
		denyAll := map[string]bool{}
		allowed := map[string]bool{}
		for _, ap := range kind(g, "AuthorizationPolicy") {
			spec, _ := ap.Inputs["spec"].(map[string]any)
			if len(spec) == 0 {
				denyAll[namespaceOf(ap)] = true
				continue
			}
			assert.Equal(t, "ALLOW", spec["action"], ap.URN)
			require.NotEmpty(t, list(spec["rules"]), ap.URN)
			for _, rule := range list(spec["rules"]) {
				from := list(field(rule, "from"))
				require.NotEmpty(t, from, "%s: an ALLOW rule names its sources", ap.URN)
				for _, f := range from {
					// Named identities, or (spans from every sidecar) a whole namespace.
					named := list(field(f, "source", "principals"))
					named = append(named, list(field(f, "source", "namespaces"))...)
					assert.NotEmpty(t, named, ap.URN)
					assert.NotContains(t, named, "*", ap.URN)
				}
				for _, to := range list(field(rule, "to")) {
					assert.Nil(t, field(to, "source"), "%s: source belongs under from, not to", ap.URN)
				}
				for _, p := range list(field(from[0], "source", "principals")) {
					if p == "cluster.local/ns/istio-gateway/sa/istio-ingressgateway" {
						allowed[namespaceOf(ap)+"/"+field(spec, "selector", "matchLabels", "app.kubernetes.io/name").(string)] = true
					}
				}
			}
		}
		for _, ns := range cfg.Workloads() {
			assert.True(t, denyAll[ns], "default deny in %s", ns)
		}
		for host, r := range servedRoutes {
			assert.True(t, allowed[r.Namespace+"/"+r.Service], "the gateway may reach %s", host)
		}
	})
}

// Every in-mesh namespace denies all traffic by default; the flows are explicit.
func TestNetworkPoliciesDenyByDefault(t *testing.T) {
	forBothStacks(t, func(t *testing.T, g *recorder.Graph, cfg *config.Config) {
		defaultDeny := map[string]bool{}
		byName := map[string]*recorder.Resource{}
		for _, np := range kind(g, "NetworkPolicy") {
			byName[namespaceOf(np)+"/"+nameOf(np)] = np
			spec := np.Inputs["spec"]
			if nameOf(np) == "default-deny" {
				assert.Equal(t, map[string]any{}, field(spec, "podSelector"))
				assert.Equal(t, []any{"Ingress", "Egress"}, field(spec, "policyTypes"))
				assert.Nil(t, field(spec, "ingress"))
				assert.Nil(t, field(spec, "egress"))
				defaultDeny[namespaceOf(np)] = true
			}
		}
		for _, ns := range append([]string{config.NamespaceGateway}, cfg.Workloads()...) {
			assert.True(t, defaultDeny[ns], "default deny in %s", ns)
			require.Contains(t, byName, ns+"/dns-egress")
			require.Contains(t, byName, ns+"/istiod-egress")
		}
		for host, r := range servedRoutes {
			out := byName[config.NamespaceGateway+"/gateway-to-"+host+"-egress"]
			in := byName[r.Namespace+"/gateway-to-"+host+"-ingress"]
			require.NotNil(t, out, host)
			require.NotNil(t, in, host)
			assert.Equal(t, r.Namespace, field(list(field(list(field(out.Inputs, "spec", "egress"))[0], "to"))[0], "namespaceSelector", "matchLabels", "kubernetes.io/metadata.name"))
			assert.Equal(t, r.Service, field(in.Inputs, "spec", "podSelector", "matchLabels", "app.kubernetes.io/name"))
		}
		clients := byName[config.NamespaceGateway+"/clients-ingress"]
		require.NotNil(t, clients)
		assert.Equal(t, []any{map[string]any{"port": float64(80), "protocol": "TCP"}, map[string]any{"port": float64(443), "protocol": "TCP"}},
			field(list(field(clients.Inputs, "spec", "ingress"))[0], "ports"))
	})
}

// The gateway is a LoadBalancer on the configured MetalLB address; production runs at
// least two replicas with an autoscaler and a PodDisruptionBudget.
func TestGatewaySizingAndAddress(t *testing.T) {
	forBothStacks(t, func(t *testing.T, g *recorder.Graph, cfg *config.Config) {
		values := release(t, g, "istio-ingressgateway").Inputs["values"]
		assert.Equal(t, "LoadBalancer", field(values, "service", "type"))
		assert.Equal(t, cfg.Edge.Address, field(values, "service", "annotations", "metallb.io/loadBalancerIPs"))
		assert.Equal(t, cfg.Edge.Address, g.Outputs["gatewayAddress"])
		assert.Equal(t, "STRICT", g.Outputs["mtlsMode"])
		urls := g.Outputs["urls"].(map[string]any)
		assert.Equal(t, "https://grafana."+cfg.Edge.Domain, urls["grafana."+cfg.Edge.Domain])
		assert.Len(t, urls, len(servedRoutes))
		pool := kind(g, "IPAddressPool")
		require.Len(t, pool, 1)
		assert.Equal(t, []any{cfg.MetalLB.Addresses[0]}, field(pool[0].Inputs, "spec", "addresses"))
		switch cfg.Profile {
		case config.Production:
			assert.Equal(t, map[string]any{"enabled": true, "minReplicas": float64(2), "maxReplicas": float64(5), "targetCPUUtilizationPercentage": float64(80)}, field(values, "autoscaling"))
			assert.Equal(t, map[string]any{"minAvailable": float64(1)}, field(values, "podDisruptionBudget"))
			assert.Equal(t, float64(2), field(release(t, g, "istiod").Inputs, "values", "replicaCount"))
		default:
			assert.Equal(t, float64(1), field(values, "replicaCount"))
			assert.Equal(t, map[string]any{"enabled": false}, field(values, "autoscaling"))
			assert.Nil(t, field(values, "podDisruptionBudget"))
		}
		istiod := release(t, g, "istiod").Inputs["values"]
		assert.Equal(t, true, field(istiod, "cni", "enabled"))
		assert.Equal(t, "RuntimeDefault", field(istiod, "global", "proxy", "seccompProfile", "type"))
		assert.Equal(t, "k3s", field(release(t, g, "istio-cni").Inputs, "values", "global", "platform"))
	})
}

// The doctor checks /etc/hosts for the hostnames the components serve, which only the
// program knows: it takes them from the stack's render.
func TestDoctorChecksTheHostnamesTheComponentsServe(t *testing.T) {
	names, err := offline.Hostnames(stackSource(t, "development", nil))
	require.NoError(t, err)
	var want []string
	for _, host := range []string{"core", "dashboard", "grafana", "jaeger", "kiali", "llm", "prometheus"} {
		want = append(want, host+".dev.lamina.home.arpa")
	}
	assert.Equal(t, want, names)
}

// A flow whose end names no namespace and no address range would select every
// namespace's pods (an empty name label) or nothing: it is refused, naming the flow,
// before anything is declared. An API server endpoint built without the nodes' range
// was one.
func TestAFlowToNowhereIsRefused(t *testing.T) {
	for name, api := range map[string]network.Endpoint{
		"neither": {Ports: network.TCP(6443)},
		"both":    {Peer: network.Peer{Namespace: "kube-system", CIDR: "192.168.64.0/24"}, Ports: network.TCP(6443)},
	} {
		t.Run(name, func(t *testing.T) {
			g, err := recorder.Run(recorder.Options{Project: "lamina-infra", Stack: "test", Preview: true}, func(ctx *pulumi.Context) error {
				_, err := security.NewNetworkSecurity(ctx, "network-security", security.NetworkSecurityArgs{
					Policed:        []string{"monitoring"},
					NamespaceNames: map[string]pulumi.StringOutput{"monitoring": pulumi.String("monitoring").ToStringOutput()},
					TrustDomain:    "cluster.local",
					Flows:          []network.Flow{api.From("apiserver", network.Namespace("monitoring"))},
					DNS:            network.Endpoint{Peer: network.Pods("kube-system", map[string]string{"k8s-app": "kube-dns"}), Ports: network.TCP(53)},
				})
				return err
			})
			assert.ErrorContains(t, err, `network security: flow "apiserver" has an end with neither a namespace nor an address range, or both`)
			for _, r := range g.Resources {
				assert.NotEqual(t, "kubernetes:networking.k8s.io/v1:NetworkPolicy", r.Type, "nothing is declared: %s", r.URN)
			}
		})
	}
}
