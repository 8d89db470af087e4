// Tests of the logs component on its own, under Pulumi's mocks (internal/recorder): that
// Loki is one binary on the given claim, keeping logs by its schema period for the
// retention with the compactor deleting what is past it and no usage reports; that
// LokiFile, the Docker target's file, has the same settings for one container; that
// Vector ships every pod's logs with the sink both targets use, its labels surviving the
// chart's templating; that Vector does not wait for Loki; and the flows Vector opens.
package logs_test

import (
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/lamina-os/lamina-infra/components/logs"
	"github.com/lamina-os/lamina-infra/components/network"
	"github.com/lamina-os/lamina-infra/internal/kube"
	"github.com/lamina-os/lamina-infra/internal/recorder"
	"github.com/lamina-os/lamina-infra/internal/recorder/recordertest"
)

const (
	releaseType = "kubernetes:helm.sh/v3:Release"
	claimType   = "test:index:Claim"
	readyType   = "test:index:Ready"
)

var apiServer = network.Endpoint{Peer: network.Peer{CIDR: "192.168.64.0/24"}, Ports: network.TCP(6443)}

// declare runs NewLogs as a stack does, after a claim and a mesh-readiness resource.
func declare(t *testing.T) (*recorder.Graph, *logs.Logs) {
	t.Helper()
	var c *logs.Logs
	g, err := recorder.Run(recorder.Options{Project: "lamina", Stack: "test"}, func(ctx *pulumi.Context) error {
		var claim, ready pulumi.CustomResourceState
		if err := ctx.RegisterResource(claimType, "loki-data", pulumi.Map{}, &claim); err != nil {
			return err
		}
		if err := ctx.RegisterResource(readyType, "istiod", pulumi.Map{}, &ready); err != nil {
			return err
		}
		var err error
		c, err = logs.NewLogs(ctx, "logs", logs.LogsArgs{
			LokiChart:       kube.Chart{Repository: "https://grafana-community.github.io/helm-charts", Name: "loki", Version: "6.0.0-test", Timeout: 5 * time.Minute},
			VectorChart:     kube.Chart{Repository: "https://helm.vector.dev", Name: "vector", Version: "0.40.0-test", Timeout: 5 * time.Minute},
			Namespace:       pulumi.String("monitoring"),
			NamespaceName:   "monitoring",
			Retention:       "14d",
			Claim:           "loki-data",
			Volume:          &claim,
			LokiResources:   kube.Resources{Requests: kube.Quantities{CPU: "100m", Memory: "256Mi"}, Limits: kube.Quantities{CPU: "1", Memory: "1Gi"}},
			VectorResources: kube.Resources{Requests: kube.Quantities{CPU: "50m", Memory: "64Mi"}, Limits: kube.Quantities{CPU: "500m", Memory: "256Mi"}},
			IstioReady:      []pulumi.Resource{&ready},
			APIServer:       apiServer,
		})
		return err
	})
	require.NoError(t, err)
	return g, c
}

// period is the one schema period, as both targets write it.
var period = map[string]any{
	"from": "2024-04-01", "store": "tsdb", "object_store": "filesystem", "schema": "v13",
	"index": map[string]any{"prefix": "index_", "period": "24h"},
}

// Loki runs Monolithic as one binary (the other modes' targets at zero, no gateway,
// caches, object store, canary or test pods), without tenants, on the filesystem of the
// given claim, indexing by the one schema period, keeping logs for the retention with
// the compactor deleting the rest, and reporting nothing to grafana.com.
func TestLokiIsOneBinaryOnTheClaimKeepingLogsForTheRetention(t *testing.T) {
	g, _ := declare(t)
	v := recordertest.Values(t, g, logs.LokiRelease)
	assert.Equal(t, "Monolithic", v["deploymentMode"])
	assert.Equal(t, map[string]any{
		"auth_enabled":  false,
		"commonConfig":  map[string]any{"replication_factor": float64(1)},
		"storage":       map[string]any{"type": "filesystem"},
		"schemaConfig":  map[string]any{"configs": []any{period}},
		"limits_config": map[string]any{"retention_period": "14d"},
		"compactor":     map[string]any{"retention_enabled": true, "delete_request_store": "filesystem"},
		"analytics":     map[string]any{"reporting_enabled": false},
	}, v["loki"])
	assert.Equal(t, map[string]any{
		"replicas":  float64(1),
		"resources": map[string]any{"requests": map[string]any{"cpu": "100m", "memory": "256Mi"}, "limits": map[string]any{"cpu": "1", "memory": "1Gi"}},
		"persistence": map[string]any{"enabled": false, "dataVolumeParameters": map[string]any{
			"persistentVolumeClaim": map[string]any{"claimName": "loki-data"},
		}},
	}, v["singleBinary"])
	for _, k := range []string{"read", "write", "backend"} {
		assert.Equal(t, map[string]any{"replicas": float64(0)}, v[k], k)
	}
	for _, k := range []string{"gateway", "chunksCache", "resultsCache", "lokiCanary", "test", "minio"} {
		assert.Equal(t, map[string]any{"enabled": false}, v[k], k)
	}
}

// LokiFile, Loki's whole file on the Docker target, has the chart's settings (schema
// period, retention, compactor, analytics, no tenants) and what one container needs
// beside them: every path under the given directory, the compactor's included, an
// in-memory ring of one, served on the given port, ready at once.
func TestLokiFileHasTheChartsSettingsForOneContainer(t *testing.T) {
	g, _ := declare(t)
	chart := recordertest.Values(t, g, logs.LokiRelease)["loki"].(map[string]any)

	var file map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(logs.LokiFile(3101, "/data/loki", "14d")), &file))
	f := recordertest.JSON(t, file).(map[string]any)
	assert.Equal(t, chart["schemaConfig"], f["schema_config"])
	assert.Equal(t, chart["limits_config"], f["limits_config"])
	assert.Equal(t, chart["analytics"], f["analytics"])
	assert.Equal(t, chart["auth_enabled"], f["auth_enabled"])
	compactor := map[string]any{"working_directory": "/data/loki/compactor"}
	for k, v := range chart["compactor"].(map[string]any) {
		compactor[k] = v
	}
	assert.Equal(t, compactor, f["compactor"])

	assert.Equal(t, map[string]any{"http_listen_port": float64(3101), "grpc_listen_port": float64(9095)}, f["server"])
	assert.Equal(t, map[string]any{
		"path_prefix":        "/data/loki",
		"replication_factor": float64(1),
		"ring":               map[string]any{"kvstore": map[string]any{"store": "inmemory"}},
		"storage":            map[string]any{"filesystem": map[string]any{"chunks_directory": "/data/loki/chunks", "rules_directory": "/data/loki/rules"}},
	}, f["common"])
	assert.Equal(t, map[string]any{"lifecycler": map[string]any{"min_ready_duration": "0s"}}, f["ingester"])
	assert.ElementsMatch(t, []string{"auth_enabled", "server", "common", "schema_config", "ingester", "limits_config", "compactor", "analytics"}, mapKeys(f))
}

func mapKeys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// Vector runs as the agent on every node (no Service: it listens on nothing) reading
// every pod's logs, and pushes them as JSON to Loki's Service, accepting entries out of
// order; its labels reach Vector as Vector templates once the chart's tpl has rendered
// them. The Docker target's sink (LokiSink) has the same settings but for where it
// pushes, what it reads and its labels.
func TestVectorShipsEveryPodsLogsWithTheSinkBothTargetsUse(t *testing.T) {
	g, _ := declare(t)
	v := recordertest.Values(t, g, logs.VectorRelease)
	assert.Equal(t, "Agent", v["role"])
	assert.Equal(t, map[string]any{"enabled": false}, v["service"])
	assert.Equal(t, map[string]any{"enabled": false}, v["serviceHeadless"])
	config := v["customConfig"].(map[string]any)
	assert.Equal(t, "/vector-data-dir", config["data_dir"])
	assert.Equal(t, map[string]any{"pods": map[string]any{"type": "kubernetes_logs"}}, config["sources"])
	sinks := config["sinks"].(map[string]any)
	require.Len(t, sinks, 1)
	sink := sinks["loki"].(map[string]any)
	assert.Equal(t, "loki", sink["type"])
	assert.Equal(t, []any{"pods"}, sink["inputs"])
	assert.Equal(t, "http://loki.monitoring.svc.cluster.local:3100", sink["endpoint"])
	assert.Equal(t, map[string]any{"codec": "json"}, sink["encoding"])
	assert.Equal(t, "accept", sink["out_of_order_action"])

	// The chart renders customConfig through Helm's tpl (Go templates).
	rendered := map[string]any{}
	for k, text := range sink["labels"].(map[string]any) {
		tpl, err := template.New(k).Parse(text.(string))
		require.NoError(t, err, k)
		var b strings.Builder
		require.NoError(t, tpl.Execute(&b, nil), k)
		rendered[k] = b.String()
	}
	assert.Equal(t, map[string]any{
		"namespace": "{{ kubernetes.pod_namespace }}",
		"pod":       "{{ kubernetes.pod_name }}",
		"container": "{{ kubernetes.container_name }}",
		"app":       `{{ kubernetes.pod_labels."app.kubernetes.io/name" }}`,
		"node":      "{{ kubernetes.pod_node_name }}",
	}, rendered)

	docker := recordertest.JSON(t, logs.LokiSink("http://loki:3100", "containers", map[string]string{"stack": "test"})).(map[string]any)
	assert.Equal(t, []any{"containers"}, docker["inputs"])
	assert.Equal(t, "http://loki:3100", docker["endpoint"])
	assert.Equal(t, map[string]any{"stack": "test"}, docker["labels"])
	for _, k := range []string{"inputs", "endpoint", "labels"} {
		delete(docker, k)
		delete(sink, k)
	}
	assert.Equal(t, sink, docker)
}

// Loki waits for its claim and the mesh; Vector waits for the mesh only, not for Loki:
// the agents buffer and retry until Loki answers, so both install at once.
func TestVectorDoesNotWaitForLoki(t *testing.T) {
	g, _ := declare(t)
	loki, vector := recordertest.Find(t, g, releaseType, logs.LokiRelease), recordertest.Find(t, g, releaseType, logs.VectorRelease)
	ready := recordertest.Find(t, g, readyType, "istiod")
	assert.ElementsMatch(t, []string{recordertest.Find(t, g, claimType, "loki-data").URN, ready.URN}, loki.Dependencies)
	assert.Equal(t, []string{ready.URN}, vector.Dependencies)
	assert.False(t, g.DependsOn(vector, loki.URN))
	for _, r := range []*recorder.Resource{loki, vector} {
		assert.Equal(t, "urn:pulumi:test::lamina::lamina:logs:Logs::logs", r.Parent, r.Name)
	}
}

// Vector's identity pushes to Loki's pods on its HTTP port; its namespace reads the
// API server (the pods' metadata). Loki is the endpoint Grafana's datasource reaches.
func TestVectorOpensItsFlowsToLokiAndTheAPIServer(t *testing.T) {
	_, c := declare(t)
	lokiPods := network.Peer{Namespace: "monitoring", Pods: map[string]string{"app.kubernetes.io/name": "loki"}}
	assert.Equal(t, []network.Flow{
		{Name: "vector-to-loki", From: network.Peer{Namespace: "monitoring", Pods: map[string]string{"app.kubernetes.io/name": "vector"}, ServiceAccount: "vector"},
			To: lokiPods, Ports: network.TCP(3100)},
		{Name: "apiserver", From: network.Peer{Namespace: "monitoring"}, To: network.Peer{CIDR: "192.168.64.0/24"}, Ports: network.TCP(6443)},
	}, c.Needs().Flows)
	assert.Empty(t, c.Needs().Routes)

	ds := logs.Datasource(logs.LokiURL("monitoring"), logs.Loki("monitoring"))
	assert.Equal(t, "loki", ds.UID)
	assert.Equal(t, "http://loki.monitoring.svc.cluster.local:3100", ds.URL)
	assert.Equal(t, network.Endpoint{Peer: lokiPods, Ports: network.TCP(3100)}, ds.Endpoint)
}
