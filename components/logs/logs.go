// Package logs provides Logs: Loki (grafana-community's chart, single binary) keeping
// every pod's logs on a host volume, and Vector (vectordotdev's chart) as the agent on
// every node shipping them to it with their Kubernetes metadata.
package logs

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/lamina-os/lamina-infra/components/network"
	"github.com/lamina-os/lamina-infra/internal/kube"
)

// Names and ports of what the component declares; flows and datasources derive from them.
const (
	LokiRelease = "loki"
	// LokiService is Loki's Service (the chart's fullname for a release named loki) and
	// LokiPort its HTTP port, where logs are pushed and queried.
	LokiService = "loki"
	LokiPort    = 3100
	// LokiAppName is the app.kubernetes.io/name label of Loki's pods.
	LokiAppName = "loki"

	VectorRelease = "vector"
	// VectorAppName is the app.kubernetes.io/name label of the agents' pods, and
	// VectorServiceAccount their identity.
	VectorAppName        = "vector"
	VectorServiceAccount = "vector"
)

// Loki is Loki in namespace, as Vector pushes to it and Grafana queries it.
func Loki(namespace string) network.Endpoint {
	return network.Endpoint{Peer: network.App(namespace, LokiAppName), Ports: network.TCP(LokiPort)}
}

// LokiURL is the in-cluster address of Loki in namespace.
func LokiURL(namespace string) string {
	return kube.ServiceURL(LokiService, namespace, LokiPort)
}

// LogsArgs configure Logs.
type LogsArgs struct {
	// LokiChart and VectorChart pin the charts.
	LokiChart, VectorChart kube.Chart
	// Namespace is the monitoring namespace's name; NamespaceName the same, known now,
	// for the address Vector pushes to.
	Namespace     pulumi.StringInput
	NamespaceName string
	// Retention is how long Loki keeps logs, such as 7d.
	Retention string
	// Claim names the claim of Loki's volume; Volume is the claim itself.
	Claim  string
	Volume pulumi.Resource
	// LokiResources size Loki; VectorResources each agent.
	LokiResources, VectorResources kube.Resources
	// IstioReady is what a mesh workload waits for (istio.Istio.Sidecars): the releases wait for it.
	IstioReady []pulumi.Resource
	// APIServer is where the agents read the metadata of the pods whose logs they ship.
	APIServer network.Endpoint
}

// Logs is the two releases.
type Logs struct {
	pulumi.ResourceState

	Loki, Vector *kube.HelmRelease

	// Vector's pushes to Loki and its reads of the API server.
	network.Declaration
}

// lokiValues are the loki chart's values the program sets (charts/loki/values.yaml).
type lokiValues struct {
	DeploymentMode string `json:"deploymentMode"`
	Loki           struct {
		AuthEnabled  bool `json:"auth_enabled"`
		CommonConfig struct {
			ReplicationFactor int `json:"replication_factor"`
		} `json:"commonConfig"`
		Storage struct {
			Type string `json:"type"`
		} `json:"storage"`
		SchemaConfig struct {
			Configs []schemaPeriod `json:"configs"`
		} `json:"schemaConfig"`
		LimitsConfig lokiLimits    `json:"limits_config"`
		Compactor    lokiCompactor `json:"compactor"`
		Analytics    lokiAnalytics `json:"analytics"`
	} `json:"loki"`
	SingleBinary struct {
		Replicas  int            `json:"replicas"`
		Resources kube.Resources `json:"resources"`
		// The chart has no existingClaim: with persistence off, the data volume is
		// whatever dataVolumeParameters says, here the program's claim.
		Persistence struct {
			Enabled              bool           `json:"enabled"`
			DataVolumeParameters map[string]any `json:"dataVolumeParameters"`
		} `json:"persistence"`
	} `json:"singleBinary"`
	// The other deployment modes' targets must be zero in Monolithic mode.
	Read    replicas `json:"read"`
	Write   replicas `json:"write"`
	Backend replicas `json:"backend"`
	// Off: no gateway in front (the mesh is), no caches or object store for one binary,
	// no canary or test pods.
	Gateway      enabled `json:"gateway"`
	ChunksCache  enabled `json:"chunksCache"`
	ResultsCache enabled `json:"resultsCache"`
	LokiCanary   enabled `json:"lokiCanary"`
	Test         enabled `json:"test"`
	Minio        enabled `json:"minio"`
}

type schemaPeriod struct {
	From        string `json:"from"`
	Store       string `json:"store"`
	ObjectStore string `json:"object_store"`
	Schema      string `json:"schema"`
	Index       struct {
		Prefix string `json:"prefix"`
		Period string `json:"period"`
	} `json:"index"`
}

type replicas struct {
	Replicas int `json:"replicas"`
}

type enabled struct {
	Enabled bool `json:"enabled"`
}

// vectorValues are the vector chart's values the program sets (charts/vector/values.yaml).
type vectorValues struct {
	Role string `json:"role"`
	// The agent listens on nothing, so it needs no Service.
	Service         enabled        `json:"service"`
	ServiceHeadless enabled        `json:"serviceHeadless"`
	Resources       kube.Resources `json:"resources"`
	CustomConfig    map[string]any `json:"customConfig"`
}

// vectorTemplate writes a Vector template field through the chart's tpl, which would
// otherwise read Vector's {{ }} as its own: the braces are template actions that print
// themselves, and the field between them is plain text, so its quotes stay Vector's.
func vectorTemplate(field string) string {
	return `{{ "{{" }} ` + field + ` {{ "}}" }}`
}

// NewLogs installs Loki and the Vector agents.
func NewLogs(ctx *pulumi.Context, name string, args LogsArgs, opts ...pulumi.ResourceOption) (*Logs, error) {
	l := &Logs{}
	if err := ctx.RegisterComponentResource("lamina:logs:Logs", name, l, opts...); err != nil {
		return nil, err
	}
	var lv lokiValues
	lv.DeploymentMode = "Monolithic"
	lv.Loki.AuthEnabled = false
	lv.Loki.CommonConfig.ReplicationFactor = 1
	lv.Loki.Storage.Type = "filesystem"
	lv.Loki.SchemaConfig.Configs = []schemaPeriod{schema()}
	lv.Loki.LimitsConfig = lokiLimits{RetentionPeriod: args.Retention}
	lv.Loki.Compactor = compactor("")
	lv.Loki.Analytics = lokiAnalytics{ReportingEnabled: false}
	lv.SingleBinary.Replicas = 1
	lv.SingleBinary.Resources = args.LokiResources
	lv.SingleBinary.Persistence.DataVolumeParameters = map[string]any{
		"persistentVolumeClaim": map[string]any{"claimName": args.Claim},
	}
	after := append([]pulumi.Resource{args.Volume}, args.IstioReady...)
	var err error
	l.Loki, err = kube.Release(ctx, LokiRelease, args.LokiChart, args.Namespace, lv, pulumi.Parent(l), pulumi.DependsOn(after))
	if err != nil {
		return nil, err
	}

	labels := map[string]string{
		"namespace": vectorTemplate("kubernetes.pod_namespace"),
		"pod":       vectorTemplate("kubernetes.pod_name"),
		"container": vectorTemplate("kubernetes.container_name"),
		"app":       vectorTemplate(`kubernetes.pod_labels."app.kubernetes.io/name"`),
		"node":      vectorTemplate("kubernetes.pod_node_name"),
	}
	vv := vectorValues{
		Role:      "Agent",
		Resources: args.VectorResources,
		CustomConfig: map[string]any{
			"data_dir": "/vector-data-dir",
			"sources":  map[string]any{"pods": map[string]any{"type": "kubernetes_logs"}},
			"sinks":    map[string]any{"loki": LokiSink(LokiURL(args.NamespaceName), "pods", labels)},
		},
	}
	// Not after Loki: the agents keep what they read in their buffer and retry until
	// Loki answers, so both install at once.
	l.Vector, err = kube.Release(ctx, VectorRelease, args.VectorChart, args.Namespace, vv,
		pulumi.Parent(l), pulumi.DependsOn(args.IstioReady))
	if err != nil {
		return nil, err
	}
	l.Open(Loki(args.NamespaceName).From("vector-to-loki", network.App(args.NamespaceName, VectorAppName).As(VectorServiceAccount)),
		args.APIServer.From("apiserver", network.Namespace(args.NamespaceName)))
	if err := ctx.RegisterResourceOutputs(l, pulumi.Map{"lokiURL": pulumi.String(LokiURL(args.NamespaceName))}); err != nil {
		return nil, err
	}
	return l, nil
}
