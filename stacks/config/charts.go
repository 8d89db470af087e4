package config

import (
	"regexp"
	"time"
)

// HelmChart pins the upstream chart of one Helm release, and carries the extra values
// the stack gives it. Every release has one, in the section of the component that
// installs it, and they all have this shape.
type HelmChart struct {
	// Repository is the chart repository's URL. Allowed: an https:// URL.
	Repository string `json:"repository"`
	// Name is the chart's name in the repository. Allowed: lower-case letters, digits
	// and '-'.
	Name string `json:"name"`
	// Version is the exact chart version. Allowed: a version without ranges or wildcards.
	Version string `json:"version"`
	// Timeout bounds an install or upgrade, which waits until every resource of the
	// release is ready and rolls back when it is not. Allowed: 1m to 1h.
	Timeout Duration `json:"timeout"`
	// Values are extra Helm values merged over the values the program sets: objects
	// merge key by key, anything else replaces. Allowed: any key the program does not
	// own; security contexts, secrets, passwords, tokens, authentication, service
	// accounts, name overrides, the mesh's and the policies' labels and persistence are
	// refused, each naming its key.
	Values map[string]any `json:"values"`
}

// IstioCharts pin Istio's four releases. Istio supports a control plane and its data
// plane only at one version, so the four versions must be equal.
type IstioCharts struct {
	// Base pins the CRDs and the default validating webhook (istio-base).
	Base HelmChart `json:"base"`
	// CNI pins the CNI node agent (istio-cni).
	CNI HelmChart `json:"cni"`
	// Istiod pins the control plane (istiod).
	Istiod HelmChart `json:"istiod"`
	// Gateway pins the ingress gateway (istio-ingressgateway).
	Gateway HelmChart `json:"gateway"`
}

var (
	chartVersion = regexp.MustCompile(`^v?[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$`)
	chartName    = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
)

// pin is a chart pin with the profiles' timeout.
func pin(repository, name, version string) HelmChart {
	return HelmChart{Repository: repository, Name: name, Version: version, Timeout: Duration{10 * time.Minute}}
}

// ChartPin is a release's chart pin and the config key it sits under.
type ChartPin struct {
	Key string
	// Chart is the pin itself, in the configuration: the program finds a pin's key by it.
	Chart *HelmChart
	// Owned are paths of this chart's values (dotted, from the top) that the program
	// owns beyond what every chart's keys say by their names, each with the reason.
	Owned map[string]string
}

// Charts lists every chart pin of the configuration with its key, in the order of the
// configuration reference.
func (c *Config) Charts() []ChartPin {
	m := &c.Mesh.Charts
	return []ChartPin{
		{"lamina:metallb.chart", &c.MetalLB.Chart, nil},
		{"lamina:certManager.chart", &c.CertManager.Chart, nil},
		{"lamina:mesh.charts.base", &m.Base, nil},
		{"lamina:mesh.charts.cni", &m.CNI, nil},
		{"lamina:mesh.charts.istiod", &m.Istiod, nil},
		{"lamina:mesh.charts.gateway", &m.Gateway, map[string]string{
			"name":   "the gateway's name, from which the chart names its service account, the identity the authorization policies admit",
			"labels": "the labels the Gateway resource selects the gateway's pods by",
		}},
		{"lamina:monitoring.prometheus.chart", &c.Monitoring.Prometheus.Chart, nil},
		{"lamina:grafana.chart", &c.Grafana.Chart, map[string]string{
			"admin": "the administrator's credentials, which come from the Secret the program writes",
		}},
		{"lamina:logs.loki.chart", &c.Logs.Loki.Chart, nil},
		{"lamina:logs.vector.chart", &c.Logs.Vector.Chart, nil},
		{"lamina:tracing.jaeger.chart", &c.Tracing.Jaeger.Chart, nil},
		{"lamina:tracing.collector.chart", &c.Tracing.Collector.Chart, nil},
		{"lamina:kiali.chart", &c.Kiali.Chart, nil},
	}
}
