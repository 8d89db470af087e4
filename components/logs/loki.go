package logs

import (
	"github.com/lamina-os/lamina-infra/components/grafana"
	"github.com/lamina-os/lamina-infra/components/network"
	"github.com/lamina-os/lamina-infra/internal/kube"
)

// Loki's settings on both targets: the chart writes them into Loki's file on the
// Kubernetes target (lokiValues), LokiFile is the whole file on the Docker target. A
// change here reaches both.

// schema is the one schema period Loki keeps its index by. A period applies from its
// date on, to what is already stored too: a change to the schema adds a period with a
// later date, and never edits this one.
func schema() schemaPeriod {
	p := schemaPeriod{From: "2024-04-01", Store: "tsdb", ObjectStore: "filesystem", Schema: "v13"}
	p.Index.Prefix, p.Index.Period = "index_", "24h"
	return p
}

// lokiLimits: how long Loki keeps logs, such as 7d.
type lokiLimits struct {
	RetentionPeriod string `json:"retention_period"`
}

// lokiCompactor deletes what is past the retention, with its delete requests on the
// filesystem; WorkingDirectory is where, when Loki is not told by its chart.
type lokiCompactor struct {
	WorkingDirectory   string `json:"working_directory,omitempty"`
	RetentionEnabled   bool   `json:"retention_enabled"`
	DeleteRequestStore string `json:"delete_request_store"`
}

func compactor(workingDirectory string) lokiCompactor {
	return lokiCompactor{WorkingDirectory: workingDirectory, RetentionEnabled: true, DeleteRequestStore: "filesystem"}
}

// lokiAnalytics: Loki reports its usage to grafana.com unless told not to; it reaches
// no internet on either target.
type lokiAnalytics struct {
	ReportingEnabled bool `json:"reporting_enabled"`
}

// lokiFile is Loki's configuration file as one container runs it: one binary with an
// in-memory ring, keeping chunks, rules, the index and the compactor's work under dir.
type lokiFile struct {
	AuthEnabled bool `json:"auth_enabled"`
	Server      struct {
		HTTPListenPort int `json:"http_listen_port"`
		GRPCListenPort int `json:"grpc_listen_port"`
	} `json:"server"`
	Common struct {
		PathPrefix        string `json:"path_prefix"`
		ReplicationFactor int    `json:"replication_factor"`
		Ring              struct {
			KVStore struct {
				Store string `json:"store"`
			} `json:"kvstore"`
		} `json:"ring"`
		Storage struct {
			Filesystem struct {
				ChunksDirectory string `json:"chunks_directory"`
				RulesDirectory  string `json:"rules_directory"`
			} `json:"filesystem"`
		} `json:"storage"`
	} `json:"common"`
	SchemaConfig struct {
		Configs []schemaPeriod `json:"configs"`
	} `json:"schema_config"`
	// Ready as soon as it is: one instance with an in-memory ring has no ring updates
	// to wait for (min_ready_duration, 15 s by default, slows rollouts of many; dskit
	// ring/lifecycler.go).
	Ingester struct {
		Lifecycler struct {
			MinReadyDuration string `json:"min_ready_duration"`
		} `json:"lifecycler"`
	} `json:"ingester"`
	LimitsConfig lokiLimits    `json:"limits_config"`
	Compactor    lokiCompactor `json:"compactor"`
	Analytics    lokiAnalytics `json:"analytics"`
}

// LokiFile is Loki's configuration file for one container: the settings both targets
// share, served on port, keeping everything under dir (a host directory), keeping logs
// for retention.
func LokiFile(port int, dir, retention string) string {
	var f lokiFile
	f.AuthEnabled = false
	f.Server.HTTPListenPort, f.Server.GRPCListenPort = port, 9095
	f.Common.PathPrefix, f.Common.ReplicationFactor = dir, 1
	f.Common.Ring.KVStore.Store = "inmemory"
	f.Common.Storage.Filesystem.ChunksDirectory = dir + "/chunks"
	f.Common.Storage.Filesystem.RulesDirectory = dir + "/rules"
	f.SchemaConfig.Configs = []schemaPeriod{schema()}
	f.Ingester.Lifecycler.MinReadyDuration = "0s"
	f.LimitsConfig = lokiLimits{RetentionPeriod: retention}
	f.Compactor = compactor(dir + "/compactor")
	f.Analytics = lokiAnalytics{ReportingEnabled: false}
	return kube.YAML(f)
}

// LokiSink is Vector's sink to Loki on both targets: the events of inputs, as JSON,
// with labels (Vector templates, such as {{ kubernetes.pod_name }}).
func LokiSink(endpoint, inputs string, labels map[string]string) map[string]any {
	return map[string]any{
		"type":     "loki",
		"inputs":   []any{inputs},
		"endpoint": endpoint,
		"encoding": map[string]any{"codec": "json"},
		"labels":   labels,
		// Loki refuses entries older than the newest of their stream; keep them in
		// order instead of failing the batch.
		"out_of_order_action": "accept",
	}
}

// Datasource is Loki as Grafana's datasource at url, on both targets; endpoint is where
// Grafana's queries go (the Kubernetes target opens that flow).
func Datasource(url string, endpoint network.Endpoint) grafana.Datasource {
	return grafana.Datasource{Name: "Loki", Type: "loki", UID: "loki", Access: "proxy", URL: url, Endpoint: endpoint}
}
