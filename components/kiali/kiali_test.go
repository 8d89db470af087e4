// Tests of the kiali component on its own, under Pulumi's mocks (internal/recorder): that
// its signing key is generated once on the Mac and kept, secret, in the Secret the chart
// refers to; that an OpenID client's secret is in the Secret Kiali reads and in none of
// the chart's values; that the release is pointed at the given backends; and the flows
// it opens to each of them.
package kiali_test

import (
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lamina-os/lamina-infra/components/kiali"
	"github.com/lamina-os/lamina-infra/components/network"
	"github.com/lamina-os/lamina-infra/internal/kube"
	"github.com/lamina-os/lamina-infra/internal/recorder"
	"github.com/lamina-os/lamina-infra/internal/recorder/recordertest"
)

const (
	releaseType = "kubernetes:helm.sh/v3:Release"
	secretType  = "kubernetes:core/v1:Secret"
	commandType = "command:local:Command"
	readyType   = "test:index:Ready"

	// key is what the mocked `openssl rand -hex 16` prints.
	key          = "5f4dcc3b5aa765d61d8327deb882cf99"
	clientSecret = "oidc-Client-s3cret"
)

// Backends as the platform has them; every port differs, so that one in another's
// place shows.
var (
	prometheus = network.Endpoint{Peer: network.App("monitoring", "prometheus"), Ports: network.TCP(9090)}
	jaeger     = network.Endpoint{Peer: network.App("observability", "jaeger"), Ports: network.TCP(16685)}
	grafanaEP  = network.Endpoint{Peer: network.App("monitoring", "grafana"), Ports: network.TCP(3000)}
	istiod     = network.Endpoint{Peer: network.Pods("istio-system", map[string]string{"app": "istiod"}), Ports: network.TCP(15014)}
	apiServer  = network.Endpoint{Peer: network.Peer{CIDR: "192.168.64.0/24"}, Ports: network.TCP(6443)}
)

// declare runs NewKiali as production declares it, on args as edit changes them, after
// a mesh-readiness resource. Under `up`, the key's command prints key.
func declare(t *testing.T, edit func(a *kiali.KialiArgs)) (*recorder.Graph, *kiali.Kiali) {
	t.Helper()
	var c *kiali.Kiali
	g, err := recorder.Run(recorder.Options{Project: "lamina", Stack: "test", Outputs: func(r *recorder.Resource) resource.PropertyMap {
		if r.Type != commandType {
			return nil
		}
		return resource.PropertyMap{"stdout": resource.NewProperty(key)}
	}}, func(ctx *pulumi.Context) error {
		var ready pulumi.CustomResourceState
		if err := ctx.RegisterResource(readyType, "istiod", pulumi.Map{}, &ready); err != nil {
			return err
		}
		a := kiali.KialiArgs{
			Chart:              kube.Chart{Repository: "https://kiali.org/helm-charts", Name: "kiali-server", Version: "2.0.0-test", Timeout: 5 * time.Minute},
			Namespace:          pulumi.String("observability"),
			NamespaceName:      "observability",
			IstioNamespace:     "istio-system",
			AuthStrategy:       "openid",
			OpenIDIssuer:       "https://sso.lamina.test/realms/lamina",
			OpenIDClientID:     "kiali-client",
			OpenIDClientSecret: pulumi.String(clientSecret),
			PrometheusURL:      "http://prometheus.monitoring.svc.cluster.local:9090",
			TracingGRPCURL:     "http://jaeger.observability.svc.cluster.local:16685",
			TracingUIURL:       "https://jaeger.lamina.test/",
			GrafanaInternalURL: "http://grafana.monitoring.svc.cluster.local:80",
			GrafanaURL:         "https://grafana.lamina.test/",
			Prometheus:         prometheus,
			Tracing:            jaeger,
			Grafana:            grafanaEP,
			Istiod:             istiod,
			APIServer:          apiServer,
			Resources:          kube.Resources{Requests: kube.Quantities{CPU: "50m", Memory: "128Mi"}, Limits: kube.Quantities{CPU: "500m", Memory: "512Mi"}},
			IstioReady:         []pulumi.Resource{&ready},
		}
		if edit != nil {
			edit(&a)
		}
		var err error
		c, err = kiali.NewKiali(ctx, "kiali", a)
		return err
	})
	require.NoError(t, err)
	return g, c
}

// The signing key is 16 random bytes as 32 hex characters (a key length Kiali takes),
// made once on the Mac (every input ignored after creation) with its output secret; it
// is kept, secret, under "key" in the kiali-signing-key Secret, which the chart's
// login_token refers to instead of drawing a new key on every upgrade. The key is in
// no chart value, and the release waits for the Secret.
func TestSigningKeyIsGeneratedOnceAndKeptInTheSecretTheChartNames(t *testing.T) {
	g, _ := declare(t, nil)
	cmd := recordertest.Find(t, g, commandType, "kiali-signing-key")
	assert.Equal(t, "openssl rand -hex 16", cmd.Inputs["create"])
	assert.Equal(t, []string{"stdout"}, cmd.AdditionalSecretOutputs)
	assert.ElementsMatch(t, []string{"interpreter", "create", "logging", "addPreviousOutputInEnv"}, cmd.IgnoreChanges)
	assert.Equal(t, "urn:pulumi:test::lamina::lamina:kiali:Kiali::kiali", cmd.Parent)

	s := recordertest.Find(t, g, secretType, "kiali-signing-key-secret")
	meta := s.Inputs["metadata"].(map[string]any)
	assert.Equal(t, [2]any{"kiali-signing-key", "observability"}, [2]any{meta["name"], meta["namespace"]})
	assert.Equal(t, recorder.SecretMask, s.Inputs["stringData"])
	assert.Equal(t, map[string]any{"key": key}, recordertest.Reveal(s.Raw()["stringData"]))
	assert.True(t, s.Raw()["stringData"].ContainsSecrets())

	assert.Equal(t, map[string]any{"signing_key": "secret:kiali-signing-key:key"}, values(t, g)["login_token"])
	rel := recordertest.Find(t, g, releaseType, kiali.ReleaseName)
	for _, text := range recordertest.Texts(recordertest.Reveal(rel.Raw()["values"])) {
		assert.NotContains(t, text, key, "a chart value holds the signing key")
	}
	assert.Contains(t, rel.Dependencies, s.URN)
	assert.Contains(t, rel.Dependencies, recordertest.Find(t, g, readyType, "istiod").URN)
}

// With openid, the client's secret is, secret, in the Secret named kiali under
// oidc-secret (where Kiali reads it), the chart has the issuer and the client ID and
// never the secret, and the release waits for that Secret. With another strategy there
// is no such Secret and no openid section.
func TestOpenIDClientSecretIsInTheSecretKialiReads(t *testing.T) {
	g, _ := declare(t, nil)
	s := recordertest.Find(t, g, secretType, "kiali-oidc-secret")
	meta := s.Inputs["metadata"].(map[string]any)
	assert.Equal(t, [2]any{"kiali", "observability"}, [2]any{meta["name"], meta["namespace"]})
	assert.Equal(t, recorder.SecretMask, s.Inputs["stringData"])
	assert.Equal(t, map[string]any{"oidc-secret": clientSecret}, recordertest.Reveal(s.Raw()["stringData"]))

	assert.Equal(t, map[string]any{"strategy": "openid", "openid": map[string]any{
		"client_id": "kiali-client", "issuer_uri": "https://sso.lamina.test/realms/lamina",
	}}, values(t, g)["auth"])
	rel := recordertest.Find(t, g, releaseType, kiali.ReleaseName)
	for _, text := range recordertest.Texts(recordertest.Reveal(rel.Raw()["values"])) {
		assert.NotContains(t, text, clientSecret, "a chart value holds the client's secret")
	}
	assert.Contains(t, rel.Dependencies, s.URN)

	g, _ = declare(t, func(a *kiali.KialiArgs) {
		a.AuthStrategy, a.OpenIDIssuer, a.OpenIDClientID, a.OpenIDClientSecret = "token", "", "", nil
	})
	assert.Nil(t, g.Find(secretType, "kiali-oidc-secret"))
	assert.Equal(t, map[string]any{"strategy": "token"}, values(t, g)["auth"])
}

// The release installs the pinned chart with Kiali's resources, its own name on every
// object, no NetworkPolicy of the chart's, served at the root of its hostname, and
// pointed at the given backends: the mesh's root namespace, Prometheus, Jaeger's gRPC
// query API (and its UI for links) and Grafana (inside and for links).
func TestReleaseIsPointedAtTheGivenBackends(t *testing.T) {
	g, _ := declare(t, nil)
	rel := recordertest.Find(t, g, releaseType, kiali.ReleaseName)
	assert.Equal(t, "kiali-server", rel.Inputs["chart"])
	assert.Equal(t, "2.0.0-test", rel.Inputs["version"])
	assert.Equal(t, "observability", rel.Inputs["namespace"])
	assert.Equal(t, "urn:pulumi:test::lamina::lamina:kiali:Kiali::kiali", rel.Parent)

	v := values(t, g)
	assert.Equal(t, map[string]any{
		"instance_name":  "kiali",
		"resources":      map[string]any{"requests": map[string]any{"cpu": "50m", "memory": "128Mi"}, "limits": map[string]any{"cpu": "500m", "memory": "512Mi"}},
		"network_policy": map[string]any{"enabled": false},
	}, v["deployment"])
	assert.Equal(t, map[string]any{"web_root": "/"}, v["server"])
	assert.Equal(t, map[string]any{
		"istio":      map[string]any{"root_namespace": "istio-system"},
		"prometheus": map[string]any{"url": "http://prometheus.monitoring.svc.cluster.local:9090"},
		"tracing": map[string]any{"enabled": true, "provider": "jaeger", "use_grpc": true,
			"internal_url": "http://jaeger.observability.svc.cluster.local:16685", "external_url": "https://jaeger.lamina.test/"},
		"grafana": map[string]any{"enabled": true,
			"internal_url": "http://grafana.monitoring.svc.cluster.local:80", "external_url": "https://grafana.lamina.test/"},
	}, v["external_services"])
}

// Kiali's identity reaches each backend on its ports: Prometheus, Jaeger's query API,
// Grafana and istiod's monitoring port; its namespace reads the API server; its
// hostname is served by its Service on 20001.
func TestKialiOpensAFlowToEachBackendAndServesItsHostname(t *testing.T) {
	_, c := declare(t, nil)
	self := network.Peer{Namespace: "observability", Pods: map[string]string{"app.kubernetes.io/name": "kiali"}, ServiceAccount: "kiali"}
	assert.Equal(t, []network.Flow{
		{Name: "kiali-to-prometheus", From: self, To: prometheus.Peer, Ports: network.TCP(9090)},
		{Name: "kiali-to-jaeger", From: self, To: jaeger.Peer, Ports: network.TCP(16685)},
		{Name: "kiali-to-grafana", From: self, To: grafanaEP.Peer, Ports: network.TCP(3000)},
		{Name: "kiali-to-istiod", From: self, To: istiod.Peer, Ports: network.TCP(15014)},
		{Name: "apiserver", From: network.Peer{Namespace: "observability"}, To: apiServer.Peer, Ports: network.TCP(6443)},
	}, c.Needs().Flows)
	assert.Equal(t, []network.Route{{Host: "kiali", Namespace: "observability", Service: "kiali", Port: 20001}}, c.Needs().Routes)
}

// values are the release's values.
func values(t *testing.T, g *recorder.Graph) map[string]any {
	t.Helper()
	return recordertest.Values(t, g, kiali.ReleaseName)
}
