// Package monitoring provides Monitoring: Prometheus (prometheus-community's standalone
// chart) with kube-state-metrics, its data on a HostVolume.
package monitoring

import (
	"strconv"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/lamina-os/lamina-infra/components/istio"
	"github.com/lamina-os/lamina-infra/components/network"
	"github.com/lamina-os/lamina-infra/internal/kube"
)

// Names and ports of what the component declares; the routes, flows and datasources of
// the stack are derived from them.
const (
	// ReleaseName is the Helm release.
	ReleaseName = "prometheus"
	// Service is the Prometheus server's Service (the chart's server.fullnameOverride)
	// and ServicePort its port.
	Service     = "prometheus"
	ServicePort = 9090
	// AppName is the app.kubernetes.io/name label of the server's pods.
	AppName = "prometheus"
	// ServiceAccount is the server's service account, the identity it scrapes with.
	ServiceAccount = "prometheus"
	// KubeStateMetricsService is kube-state-metrics' Service and KubeStateMetricsPort its port.
	KubeStateMetricsService = "kube-state-metrics"
	KubeStateMetricsPort    = 8080
	// KubeStateMetricsAppName is the app.kubernetes.io/name label of its pods.
	KubeStateMetricsAppName = "kube-state-metrics"
)

// Host is the hostname's first label the server's UI is served under.
const Host = "prometheus"

// Endpoint is the Prometheus server in namespace, as its clients (Grafana, Kiali, the
// dashboard) reach it.
func Endpoint(namespace string) network.Endpoint {
	return network.Endpoint{Peer: network.App(namespace, AppName), Ports: network.TCP(ServicePort)}
}

// Scrape is the flow of the Prometheus of namespace scraping every injected pod of
// namespace ns: its merged metrics and Envoy's own.
func Scrape(namespace, ns string) network.Flow {
	return network.Flow{Name: "prometheus-scrape-" + ns, From: network.App(namespace, AppName), To: network.Namespace(ns),
		Ports: network.TCP(istio.AgentPort, istio.EnvoyMetricsPort)}
}

// ServiceURL is the in-cluster address of the Prometheus server in namespace.
func ServiceURL(namespace string) string {
	return kube.ServiceURL(Service, namespace, ServicePort)
}

// MonitoringArgs configure Monitoring.
type MonitoringArgs struct {
	// Chart pins prometheus-community's prometheus chart.
	Chart kube.Chart
	// Namespace is the monitoring namespace's name, NamespaceName the same as a string.
	Namespace     pulumi.StringInput
	NamespaceName string
	// MeshNamespaces are scraped: every injected pod's merged metrics and Envoy's own.
	MeshNamespaces []string
	// Istiod is istiod's metrics, also scraped; APIServer is where service discovery
	// reads the pods and endpoints.
	Istiod, APIServer network.Endpoint
	// Retention is a Prometheus duration such as 7d.
	Retention string
	// ScrapeInterval is how often targets are scraped.
	ScrapeInterval time.Duration
	// Claim names the claim of the volume Prometheus keeps its data in, and Volume is
	// the claim itself: the release waits for it (a custom resource: depending on a
	// component races with the registration of its children).
	Claim  string
	Volume pulumi.Resource
	// IstioReady is what a mesh workload waits for (istio.Istio.Sidecars): the release waits for it.
	IstioReady []pulumi.Resource
	// Resources size the server; KubeStateMetricsResources size kube-state-metrics.
	Resources, KubeStateMetricsResources kube.Resources
}

// Monitoring is the Prometheus release.
type Monitoring struct {
	pulumi.ResourceState

	Release *kube.HelmRelease
	// URL is the in-cluster address Grafana and Kiali query.
	URL pulumi.StringOutput

	// The scrapes, service discovery and the UI's hostname.
	network.Declaration
}

// values are the chart values the program sets (charts/prometheus/values.yaml).
type values struct {
	Server struct {
		FullnameOverride string `json:"fullnameOverride"`
		Retention        string `json:"retention"`
		Global           struct {
			ScrapeInterval     string `json:"scrape_interval"`
			EvaluationInterval string `json:"evaluation_interval"`
		} `json:"global"`
		PersistentVolume struct {
			Enabled       bool   `json:"enabled"`
			ExistingClaim string `json:"existingClaim"`
		} `json:"persistentVolume"`
		Resources kube.Resources `json:"resources"`
		Service   struct {
			ServicePort int `json:"servicePort"`
		} `json:"service"`
		// Recreate: the volume is ReadWriteOnce and one server owns its TSDB.
		Strategy struct {
			Type string `json:"type"`
		} `json:"strategy"`
	} `json:"server"`
	ServiceAccounts struct {
		Server struct {
			Name string `json:"name"`
		} `json:"server"`
	} `json:"serviceAccounts"`
	KubeStateMetrics struct {
		Enabled          bool           `json:"enabled"`
		FullnameOverride string         `json:"fullnameOverride"`
		Resources        kube.Resources `json:"resources"`
		// PrometheusScrape annotates the Service for the endpoints job, which would reach
		// the pod's port through its sidecar without mTLS and be refused. The pod's own
		// annotations instead let Istio merge its metrics into the agent's port 15020.
		PrometheusScrape bool              `json:"prometheusScrape"`
		PodAnnotations   map[string]string `json:"podAnnotations"`
	} `json:"kube-state-metrics"`
	// The chart's other subcharts are off: alerts are Grafana's, nothing pushes, and the
	// node exporter needs the host network, outside the mesh.
	Alertmanager enabled `json:"alertmanager"`
	Pushgateway  enabled `json:"prometheus-pushgateway"`
	NodeExporter enabled `json:"prometheus-node-exporter"`
}

type enabled struct {
	Enabled bool `json:"enabled"`
}

// NewMonitoring installs Prometheus and kube-state-metrics. Prometheus finds its targets
// itself: the chart's kubernetes-pods job keeps pods annotated prometheus.io/scrape,
// which Istio's injector sets on every sidecar-injected pod (merged app and Envoy
// metrics on 15020), and the service-endpoints job finds kube-state-metrics.
func NewMonitoring(ctx *pulumi.Context, name string, args MonitoringArgs, opts ...pulumi.ResourceOption) (*Monitoring, error) {
	m := &Monitoring{}
	if err := ctx.RegisterComponentResource("lamina:monitoring:Monitoring", name, m, opts...); err != nil {
		return nil, err
	}
	var v values
	v.Server.FullnameOverride = Service
	v.Server.Retention = args.Retention
	v.Server.Global.ScrapeInterval = args.ScrapeInterval.String()
	v.Server.Global.EvaluationInterval = args.ScrapeInterval.String()
	v.Server.PersistentVolume.Enabled = true
	v.Server.PersistentVolume.ExistingClaim = args.Claim
	v.Server.Resources = args.Resources
	v.Server.Service.ServicePort = ServicePort
	v.Server.Strategy.Type = "Recreate"
	v.ServiceAccounts.Server.Name = ServiceAccount
	v.KubeStateMetrics.Enabled = true
	v.KubeStateMetrics.FullnameOverride = KubeStateMetricsService
	v.KubeStateMetrics.Resources = args.KubeStateMetricsResources
	v.KubeStateMetrics.PrometheusScrape = false
	v.KubeStateMetrics.PodAnnotations = map[string]string{
		"prometheus.io/scrape": "true",
		"prometheus.io/port":   strconv.Itoa(KubeStateMetricsPort),
		"prometheus.io/path":   "/metrics",
	}
	var err error
	m.Release, err = kube.Release(ctx, ReleaseName, args.Chart, args.Namespace, v,
		pulumi.Parent(m), pulumi.DependsOn(append([]pulumi.Resource{args.Volume}, args.IstioReady...)))
	if err != nil {
		return nil, err
	}
	m.URL = args.Namespace.ToStringOutput().ApplyT(ServiceURL).(pulumi.StringOutput)
	server := network.App(args.NamespaceName, AppName)
	for _, ns := range args.MeshNamespaces {
		m.Open(Scrape(args.NamespaceName, ns))
	}
	m.Open(args.Istiod.From("prometheus-scrape-istiod", server),
		args.APIServer.From("apiserver", network.Namespace(args.NamespaceName)))
	m.Serve(network.Route{Host: Host, Namespace: args.NamespaceName, Service: Service, Port: ServicePort})
	if err := ctx.RegisterResourceOutputs(m, pulumi.Map{"url": m.URL}); err != nil {
		return nil, err
	}
	return m, nil
}
