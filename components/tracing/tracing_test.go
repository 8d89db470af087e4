// Tests of the tracing component on its own, under Pulumi's mocks (internal/recorder):
// that Jaeger is one pinned release whose only store is in memory and bounded by
// MaxTraces, and which takes spans, serves its UI and its gRPC query API on the ports the
// rest of the platform uses; that an OpenTelemetry collector is installed in front of it
// only when configured, exporting to it; that the spans of every mesh namespace, and
// SpansHost and SpansTarget, go to the collector then and to Jaeger otherwise; and that
// both pods meet Pod Security restricted.
package tracing_test

import (
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lamina-os/lamina-infra/components/network"
	"github.com/lamina-os/lamina-infra/components/tracing"
	"github.com/lamina-os/lamina-infra/internal/kube"
	"github.com/lamina-os/lamina-infra/internal/recorder"
	"github.com/lamina-os/lamina-infra/internal/recorder/recordertest"
)

const (
	releaseType = "kubernetes:helm.sh/v3:Release"
	readyType   = "test:index:Sidecars"
)

var (
	jaegerResources    = kube.Resources{Requests: kube.Quantities{CPU: "100m", Memory: "256Mi"}, Limits: kube.Quantities{CPU: "1", Memory: "2Gi"}}
	collectorResources = kube.Resources{Requests: kube.Quantities{CPU: "50m", Memory: "128Mi"}, Limits: kube.Quantities{CPU: "500m", Memory: "512Mi"}}
	collector          = &tracing.Collector{
		Chart:    kube.Chart{Repository: "https://open-telemetry.github.io/opentelemetry-helm-charts", Name: "opentelemetry-collector", Version: "0.120.0-test", Timeout: 4 * time.Minute},
		Replicas: 3, Resources: collectorResources,
	}
)

// declare runs NewTracing for the observability namespace as edit changes its args; the
// mesh's readiness is a resource of its own.
func declare(t *testing.T, edit func(a *tracing.TracingArgs)) (*recorder.Graph, *tracing.Tracing) {
	t.Helper()
	var c *tracing.Tracing
	g, err := recorder.Run(recorder.Options{Project: "lamina", Stack: "test"}, func(ctx *pulumi.Context) error {
		var ready pulumi.CustomResourceState
		if err := ctx.RegisterResource(readyType, "istio-sidecars", pulumi.Map{}, &ready); err != nil {
			return err
		}
		a := tracing.TracingArgs{
			Chart:          kube.Chart{Repository: "https://jaegertracing.github.io/helm-charts", Name: "jaeger", Version: "4.0.0-test", Timeout: 5 * time.Minute},
			Namespace:      pulumi.String("observability"),
			NamespaceName:  "observability",
			MaxTraces:      12345,
			Resources:      jaegerResources,
			IstioReady:     []pulumi.Resource{&ready},
			MeshNamespaces: []string{"istio-gateway", "lamina-system"},
		}
		if edit != nil {
			edit(&a)
		}
		var err error
		c, err = tracing.NewTracing(ctx, "tracing", a)
		return err
	})
	require.NoError(t, err)
	return g, c
}

func release(t *testing.T, g *recorder.Graph, name string) *recorder.Resource {
	t.Helper()
	r := g.Find(releaseType, name)
	require.NotNil(t, r, "release %s", name)
	return r
}

// Jaeger is the pinned chart's release named jaeger, one replica, whose configuration
// (userconfig, which replaces the image's) has one trace store, in memory, bounded by
// MaxTraces: the pipeline writes into that store and the query reads from it.
func TestJaegerKeepsOneBoundedInMemoryStore(t *testing.T) {
	g, _ := declare(t, nil)
	j := release(t, g, "jaeger")
	assert.Equal(t, "jaeger", j.Inputs["name"])
	assert.Equal(t, "jaeger", j.Inputs["chart"])
	assert.Equal(t, "4.0.0-test", j.Inputs["version"])
	assert.Equal(t, map[string]any{"repo": "https://jaegertracing.github.io/helm-charts"}, j.Inputs["repositoryOpts"])
	assert.Equal(t, "observability", j.Inputs["namespace"])
	assert.Equal(t, float64(300), j.Inputs["timeout"])

	v := j.Inputs["values"]
	assert.Equal(t, float64(1), recordertest.At(t, v, "jaeger", "replicas"), "each replica of a memory store would hold other traces")
	cfg := recordertest.At(t, v, "userconfig")
	assert.Equal(t, map[string]any{"memstore": map[string]any{"memory": map[string]any{"max_traces": float64(12345)}}},
		recordertest.At(t, cfg, "extensions", "jaeger_storage", "backends"), "the only backend")
	assert.Equal(t, map[string]any{"jaeger_storage_exporter": map[string]any{"trace_storage": "memstore"}}, recordertest.At(t, cfg, "exporters"))
	assert.Equal(t, map[string]any{"traces": "memstore"}, recordertest.At(t, cfg, "extensions", "jaeger_query", "storage"))
	assert.Equal(t, map[string]any{"traces": map[string]any{
		"receivers": []any{"otlp"}, "processors": []any{"batch"}, "exporters": []any{"jaeger_storage_exporter"},
	}}, recordertest.At(t, cfg, "service", "pipelines"))
	assert.ElementsMatch(t, []any{"jaeger_storage", "jaeger_query", "healthcheckv2"}, recordertest.At(t, cfg, "service", "extensions"))

	g, _ = declare(t, func(a *tracing.TracingArgs) { a.MaxTraces = 500000 })
	assert.Equal(t, float64(500000), recordertest.At(t, release(t, g, "jaeger").Inputs["values"], "userconfig", "extensions", "jaeger_storage", "backends", "memstore", "memory", "max_traces"))
}

// Jaeger takes OTLP on OTLPPort, serves its UI and HTTP API on QueryPort and its gRPC
// query API on QueryGRPCPort, and its health on the port the chart's probes call; the
// endpoints and the route the platform uses name the same ports, pods and Service.
func TestJaegerListensOnThePortsThePlatformUses(t *testing.T) {
	g, c := declare(t, nil)
	cfg := recordertest.At(t, release(t, g, "jaeger").Inputs["values"], "userconfig")
	assert.Equal(t, map[string]any{"grpc": map[string]any{"endpoint": "0.0.0.0:4317"}, "http": map[string]any{"endpoint": "0.0.0.0:4318"}},
		recordertest.At(t, cfg, "receivers", "otlp", "protocols"))
	assert.Equal(t, "0.0.0.0:16686", recordertest.At(t, cfg, "extensions", "jaeger_query", "http", "endpoint"))
	assert.Equal(t, "0.0.0.0:16685", recordertest.At(t, cfg, "extensions", "jaeger_query", "grpc", "endpoint"))
	assert.Equal(t, map[string]any{"use_v2": true, "http": map[string]any{"endpoint": "0.0.0.0:13133"}}, recordertest.At(t, cfg, "extensions", "healthcheckv2"))

	jaeger := network.App("observability", "jaeger")
	assert.Equal(t, network.Endpoint{Peer: jaeger, Ports: network.TCP(16686)}, tracing.Query("observability"))
	assert.Equal(t, network.Endpoint{Peer: jaeger, Ports: network.TCP(16685)}, tracing.QueryGRPC("observability"))
	assert.Equal(t, []network.Route{{Host: "jaeger", Namespace: "observability", Service: "jaeger", Port: 16686}}, c.Needs().Routes)
}

// Without a collector there is one release; the proxies' spans go to Jaeger's host and
// pods, and every mesh namespace's sidecars, whatever their identity, may send them to
// OTLPPort.
func TestWithoutACollectorSpansGoToJaeger(t *testing.T) {
	g, c := declare(t, nil)
	assert.Len(t, g.ByType(releaseType), 1)
	assert.Nil(t, c.Collector)
	assert.Equal(t, "jaeger.observability.svc.cluster.local", c.SpansHost)
	assert.Equal(t, "jaeger", c.SpansAppName)
	host, app := tracing.SpansTarget("observability", false)
	assert.Equal(t, [2]string{c.SpansHost, c.SpansAppName}, [2]string{host, app})

	jaeger := network.App("observability", "jaeger")
	assert.Equal(t, []network.Flow{
		{Name: "spans-from-istio-gateway", From: network.Namespace("istio-gateway").As(network.AnyServiceAccount), To: jaeger, Ports: network.TCP(4317)},
		{Name: "spans-from-lamina-system", From: network.Namespace("lamina-system").As(network.AnyServiceAccount), To: jaeger, Ports: network.TCP(4317)},
	}, c.Needs().Flows)
}

// With a collector, its pinned release runs as a Deployment of the configured size with
// the collector distribution the chart needs named, receives OTLP, keeps within its
// memory, batches, and exports over plain gRPC (the sidecars carry mutual TLS) to
// Jaeger's OTLP port. The spans go to it instead, and it alone sends to Jaeger, under
// its own identity. It installs alongside Jaeger: both wait for the mesh only.
func TestACollectorInFrontOfJaegerTakesTheSpans(t *testing.T) {
	g, c := declare(t, func(a *tracing.TracingArgs) { a.Collector = collector })
	require.NotNil(t, c.Collector)
	col := release(t, g, "opentelemetry-collector")
	assert.Equal(t, "opentelemetry-collector", col.Inputs["chart"])
	assert.Equal(t, "0.120.0-test", col.Inputs["version"])
	assert.Equal(t, map[string]any{"repo": "https://open-telemetry.github.io/opentelemetry-helm-charts"}, col.Inputs["repositoryOpts"])
	assert.Equal(t, "observability", col.Inputs["namespace"])

	v := col.Inputs["values"]
	assert.Equal(t, "deployment", recordertest.At(t, v, "mode"))
	assert.Equal(t, float64(3), recordertest.At(t, v, "replicaCount"))
	assert.Equal(t, "otel/opentelemetry-collector-k8s", recordertest.At(t, v, "image", "repository"))
	assert.Equal(t, "otelcol-k8s", recordertest.At(t, v, "command", "name"))
	cfg := recordertest.At(t, v, "config")
	assert.Equal(t, "${env:MY_POD_IP}:4317", recordertest.At(t, cfg, "receivers", "otlp", "protocols", "grpc", "endpoint"))
	assert.Equal(t, map[string]any{"otlp_grpc/jaeger": map[string]any{"endpoint": "jaeger.observability.svc.cluster.local:4317", "tls": map[string]any{"insecure": true}}},
		recordertest.At(t, cfg, "exporters"))
	assert.Equal(t, map[string]any{"traces": map[string]any{
		"receivers": []any{"otlp"}, "processors": []any{"memory_limiter", "batch"}, "exporters": []any{"otlp_grpc/jaeger"},
	}}, recordertest.At(t, cfg, "service", "pipelines"))

	assert.Equal(t, "opentelemetry-collector.observability.svc.cluster.local", c.SpansHost)
	assert.Equal(t, "opentelemetry-collector", c.SpansAppName)
	host, app := tracing.SpansTarget("observability", true)
	assert.Equal(t, [2]string{c.SpansHost, c.SpansAppName}, [2]string{host, app})
	collectorPods := network.App("observability", "opentelemetry-collector")
	assert.Equal(t, []network.Flow{
		{Name: "spans-from-istio-gateway", From: network.Namespace("istio-gateway").As(network.AnyServiceAccount), To: collectorPods, Ports: network.TCP(4317)},
		{Name: "spans-from-lamina-system", From: network.Namespace("lamina-system").As(network.AnyServiceAccount), To: collectorPods, Ports: network.TCP(4317)},
		{Name: "collector-to-jaeger", From: collectorPods.As("opentelemetry-collector"), To: network.App("observability", "jaeger"), Ports: network.TCP(4317)},
	}, c.Needs().Flows)

	ready := g.Find(readyType, "istio-sidecars")
	require.NotNil(t, ready)
	assert.Equal(t, []string{ready.URN}, release(t, g, "jaeger").Dependencies)
	assert.Equal(t, []string{ready.URN}, col.Dependencies, "not after Jaeger: it retries its export")
}

// Both pods run as the images' user, never root, with no privilege escalation, every
// capability dropped and the runtime's seccomp profile, and the configured resources.
func TestPodsMeetPodSecurityRestricted(t *testing.T) {
	g, _ := declare(t, func(a *tracing.TracingArgs) { a.Collector = collector })
	pod := map[string]any{"runAsNonRoot": true, "runAsUser": float64(10001), "runAsGroup": float64(10001), "seccompProfile": map[string]any{"type": "RuntimeDefault"}}
	container := map[string]any{"allowPrivilegeEscalation": false, "capabilities": map[string]any{"drop": []any{"ALL"}}}
	j := recordertest.At(t, release(t, g, "jaeger").Inputs["values"], "jaeger")
	assert.Equal(t, pod, recordertest.At(t, j, "podSecurityContext"))
	assert.Equal(t, container, recordertest.At(t, j, "securityContext"))
	assert.Equal(t, map[string]any{
		"requests": map[string]any{"cpu": "100m", "memory": "256Mi"}, "limits": map[string]any{"cpu": "1", "memory": "2Gi"},
	}, recordertest.At(t, j, "resources"))

	col := release(t, g, "opentelemetry-collector").Inputs["values"]
	assert.Equal(t, pod, recordertest.At(t, col, "podSecurityContext"))
	assert.Equal(t, container, recordertest.At(t, col, "securityContext"))
	assert.Equal(t, map[string]any{
		"requests": map[string]any{"cpu": "50m", "memory": "128Mi"}, "limits": map[string]any{"cpu": "500m", "memory": "512Mi"},
	}, recordertest.At(t, col, "resources"), "memory_limiter works within the limit")
}
