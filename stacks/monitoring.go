package stacks

import (
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/lamina-os/lamina-infra/components/cluster"
	"github.com/lamina-os/lamina-infra/components/edge"
	"github.com/lamina-os/lamina-infra/components/grafana"
	"github.com/lamina-os/lamina-infra/components/istio"
	"github.com/lamina-os/lamina-infra/components/kiali"
	"github.com/lamina-os/lamina-infra/components/logs"
	"github.com/lamina-os/lamina-infra/components/monitoring"
	"github.com/lamina-os/lamina-infra/components/network"
	"github.com/lamina-os/lamina-infra/components/tracing"
	"github.com/lamina-os/lamina-infra/internal/kube"
	"github.com/lamina-os/lamina-infra/stacks/config"
)

// MonitoringPlatform is what the monitoring and observability parts of a stack declare.
type MonitoringPlatform struct {
	PrometheusVolume *corev1.PersistentVolumeClaim
	Monitoring       *monitoring.Monitoring
	GrafanaVolume    *corev1.PersistentVolumeClaim
	Grafana          *grafana.Grafana
	LokiVolume       *corev1.PersistentVolumeClaim
	Logs             *logs.Logs
	Tracing          *tracing.Tracing
	Kiali            *kiali.Kiali
}

// buildMonitoring declares the observability of the platform, after istiod, which
// injects their sidecars: in monitoring, the volumes on the host data directory and
// Prometheus, Loki and Vector, and Grafana; in observability, Jaeger (with the
// production collector) and Kiali.
func buildMonitoring(ctx *pulumi.Context, cfg *config.Config, cl *cluster.Cluster, mesh *MeshPlatform) (*MonitoringPlatform, error) {
	k8s := pulumi.Providers(cl.Provider)
	ns := mesh.Namespaces.Names[config.NamespaceMonitoring]
	p := cfg.Monitoring.Prometheus
	m := &MonitoringPlatform{}
	var err error
	if m.PrometheusVolume, err = volume(ctx, cfg, cl, ns, prometheusVolume, p.StorageSize); err != nil {
		return nil, err
	}
	if m.Monitoring, err = monitoring.NewMonitoring(ctx, "monitoring", monitoring.MonitoringArgs{
		Chart:                     chart(cfg, &cfg.Monitoring.Prometheus.Chart),
		Namespace:                 ns,
		NamespaceName:             config.NamespaceMonitoring,
		MeshNamespaces:            meshNamespaces(cfg),
		Istiod:                    istio.IstiodMonitoring(config.NamespaceIstio),
		APIServer:                 cl.APIServer,
		Retention:                 p.Retention,
		ScrapeInterval:            p.ScrapeInterval.Duration,
		Claim:                     prometheusVolume + "-data",
		Volume:                    m.PrometheusVolume,
		IstioReady:                mesh.Istio.Sidecars,
		Resources:                 p.Resources,
		KubeStateMetricsResources: p.KubeStateMetricsResources,
	}, k8s); err != nil {
		return nil, err
	}

	l := cfg.Logs
	if m.LokiVolume, err = volume(ctx, cfg, cl, ns, lokiVolume, l.Loki.StorageSize); err != nil {
		return nil, err
	}
	if m.Logs, err = logs.NewLogs(ctx, "logs", logs.LogsArgs{
		LokiChart:       chart(cfg, &cfg.Logs.Loki.Chart),
		VectorChart:     chart(cfg, &cfg.Logs.Vector.Chart),
		Namespace:       ns,
		NamespaceName:   config.NamespaceMonitoring,
		Retention:       l.Loki.Retention,
		Claim:           lokiVolume + "-data",
		Volume:          m.LokiVolume,
		LokiResources:   l.Loki.Resources,
		VectorResources: l.Vector.Resources,
		IstioReady:      mesh.Istio.Sidecars,
		APIServer:       cl.APIServer,
	}, k8s); err != nil {
		return nil, err
	}

	j, col := cfg.Tracing.Jaeger, cfg.Tracing.Collector
	var collector *tracing.Collector
	if col.Enabled {
		collector = &tracing.Collector{Chart: chart(cfg, &cfg.Tracing.Collector.Chart), Replicas: col.Replicas, Resources: col.Resources}
	}
	if m.Tracing, err = tracing.NewTracing(ctx, "tracing", tracing.TracingArgs{
		Chart:          chart(cfg, &cfg.Tracing.Jaeger.Chart),
		Namespace:      mesh.Namespaces.Names[config.NamespaceObservability],
		NamespaceName:  config.NamespaceObservability,
		MaxTraces:      j.MaxTraces,
		Resources:      j.Resources,
		Collector:      collector,
		IstioReady:     mesh.Istio.Sidecars,
		MeshNamespaces: meshNamespaces(cfg),
	}, k8s); err != nil {
		return nil, err
	}

	g := cfg.Grafana
	if m.GrafanaVolume, err = volume(ctx, cfg, cl, ns, grafanaVolume, g.StorageSize); err != nil {
		return nil, err
	}
	var password pulumi.StringInput
	if g.AdminPassword != "" {
		password = pulumi.ToSecret(pulumi.String(g.AdminPassword)).(pulumi.StringOutput)
	}
	if m.Grafana, err = grafana.NewGrafana(ctx, "grafana", grafana.GrafanaArgs{
		Chart:         chart(cfg, &cfg.Grafana.Chart),
		Namespace:     ns,
		NamespaceName: config.NamespaceMonitoring,
		AdminUser:     g.AdminUser,
		AdminPassword: password,
		Claim:         grafanaVolume + "-data",
		Volume:        m.GrafanaVolume,
		Resources:     g.Resources,
		RootURL:       edge.URL(cfg.Edge.Domain, grafana.Host) + "/",
		Datasources: []grafana.Datasource{
			{Name: "Prometheus", Type: "prometheus", UID: "prometheus", Access: "proxy", IsDefault: true,
				URL: monitoring.ServiceURL(config.NamespaceMonitoring), Endpoint: monitoring.Endpoint(config.NamespaceMonitoring)},
			logs.Datasource(logs.LokiURL(config.NamespaceMonitoring), logs.Loki(config.NamespaceMonitoring)),
			{Name: "Jaeger", Type: "jaeger", UID: "jaeger", Access: "proxy",
				URL: kube.ServiceURL(tracing.Service, config.NamespaceObservability, tracing.QueryPort), Endpoint: tracing.Query(config.NamespaceObservability)},
		},
		IstioReady: mesh.Istio.Sidecars,
	}, k8s); err != nil {
		return nil, err
	}

	k := cfg.Kiali
	var clientSecret pulumi.StringInput
	if k.OpenID.ClientSecret != "" {
		clientSecret = pulumi.ToSecret(pulumi.String(k.OpenID.ClientSecret)).(pulumi.StringOutput)
	}
	if m.Kiali, err = kiali.NewKiali(ctx, "kiali", kiali.KialiArgs{
		Chart:              chart(cfg, &cfg.Kiali.Chart),
		Namespace:          mesh.Namespaces.Names[config.NamespaceObservability],
		NamespaceName:      config.NamespaceObservability,
		IstioNamespace:     config.NamespaceIstio,
		AuthStrategy:       k.AuthStrategy,
		OpenIDIssuer:       k.OpenID.IssuerURI,
		OpenIDClientID:     k.OpenID.ClientID,
		OpenIDClientSecret: clientSecret,
		PrometheusURL:      monitoring.ServiceURL(config.NamespaceMonitoring),
		TracingGRPCURL:     kube.ServiceURL(tracing.Service, config.NamespaceObservability, tracing.QueryGRPCPort),
		TracingUIURL:       edge.URL(cfg.Edge.Domain, tracing.UIHost) + "/",
		GrafanaInternalURL: grafana.ServiceURL(config.NamespaceMonitoring),
		GrafanaURL:         edge.URL(cfg.Edge.Domain, grafana.Host) + "/",
		Prometheus:         monitoring.Endpoint(config.NamespaceMonitoring),
		Tracing:            tracing.QueryGRPC(config.NamespaceObservability),
		Grafana:            grafana.Endpoint(config.NamespaceMonitoring),
		Istiod:             istio.IstiodMonitoring(config.NamespaceIstio),
		APIServer:          cl.APIServer,
		Resources:          k.Resources,
		IstioReady:         mesh.Istio.Sidecars,
	}, k8s); err != nil {
		return nil, err
	}
	return m, nil
}

// needers are the observability components, which each declare their flows and routes.
func (m *MonitoringPlatform) needers() []network.Needer {
	return []network.Needer{m.Monitoring, m.Logs, m.Tracing, m.Grafana, m.Kiali}
}

// spansTarget is where the mesh sends its spans: the tracing component's receiver.
func spansTarget(cfg *config.Config) istio.Tracing {
	host, _ := tracing.SpansTarget(config.NamespaceObservability, cfg.Tracing.Collector.Enabled)
	return istio.Tracing{CollectorHost: host, CollectorPort: tracing.OTLPPort, SamplingPercent: cfg.Mesh.TracingSamplingPercent}
}
