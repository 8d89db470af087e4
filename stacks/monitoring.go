package stacks

import (
	"path"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/lamina-os/lamina-infra/components/cluster"
	"github.com/lamina-os/lamina-infra/components/monitoring"
	"github.com/lamina-os/lamina-infra/components/storage"
	"github.com/lamina-os/lamina-infra/stacks/config"
)

// MonitoringPlatform is what the monitoring part of a stack declares.
type MonitoringPlatform struct {
	PrometheusVolume *storage.HostVolume
	Monitoring       *monitoring.Monitoring
}

// prometheusVolume names Prometheus's volume, its claim and its directory under data.dir.
const prometheusVolume = "prometheus"

// buildMonitoring declares Prometheus's volume on the host data directory and the
// Prometheus release, after istiod, which injects its sidecars.
func buildMonitoring(ctx *pulumi.Context, cfg *config.Config, cl *cluster.Cluster, mesh *MeshPlatform) (*MonitoringPlatform, error) {
	k8s := pulumi.Providers(cl.Provider)
	ns := mesh.Namespaces.Names[config.NamespaceMonitoring]
	p := cfg.Monitoring.Prometheus
	m := &MonitoringPlatform{}
	var err error
	if m.PrometheusVolume, err = storage.NewHostVolume(ctx, "prometheus-data", storage.HostVolumeArgs{
		VolumeName:   config.Namespace + "-" + prometheusVolume,
		ClaimName:    prometheusVolume + "-data",
		Namespace:    ns,
		Path:         path.Join(cfg.Data.Dir, prometheusVolume),
		Size:         p.StorageSize,
		StorageClass: cl.StorageClass,
		Node:         cl.Nodes.Index(pulumi.Int(0)),
	}, k8s); err != nil {
		return nil, err
	}
	if m.Monitoring, err = monitoring.NewMonitoring(ctx, "monitoring", monitoring.MonitoringArgs{
		Chart:                     chart(p.Chart, "prometheus"),
		Namespace:                 ns,
		Retention:                 p.Retention,
		ScrapeInterval:            p.ScrapeInterval.Duration,
		Claim:                     prometheusVolume + "-data",
		Volume:                    m.PrometheusVolume,
		IstioReady:                mesh.Istio.Ready,
		Resources:                 resourcesOf(p.Resources),
		KubeStateMetricsResources: resourcesOf(p.KubeStateMetricsResources),
	}, k8s); err != nil {
		return nil, err
	}
	return m, nil
}
