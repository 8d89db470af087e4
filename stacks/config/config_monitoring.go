package config

// Monitoring is the monitoring namespace: Prometheus, which scrapes istiod, every
// sidecar and kube-state-metrics, with its data on the host.
type Monitoring struct {
	// Prometheus sizes Prometheus and kube-state-metrics.
	Prometheus Prometheus `json:"prometheus"`
}

// Prometheus is prometheus-community's standalone chart with its kube-state-metrics
// subchart. It needs no operator and no CRDs: it finds what to scrape through the
// Kubernetes API and the prometheus.io annotations Istio puts on every injected pod.
type Prometheus struct {
	// Chart pins prometheus-community's prometheus chart.
	Chart HelmChart `json:"chart"`
	// Retention is how long samples are kept, as a Prometheus duration. Allowed: a whole
	// number of hours (h), days (d) or weeks (w), from 1d to 730d.
	Retention string `json:"retention"`
	// ScrapeInterval is how often every target is scraped, as a Go duration. Allowed:
	// 5s to 5m.
	ScrapeInterval Duration `json:"scrapeInterval"`
	// StorageSize is the size of the volume Prometheus keeps its data in, under
	// data.dir/prometheus on the host. Allowed: a memory quantity from 1Gi to 10Ti.
	StorageSize string `json:"storageSize"`
	// Resources are the Prometheus server's requests and limits.
	Resources Resources `json:"resources"`
	// KubeStateMetricsResources are kube-state-metrics' requests and limits.
	KubeStateMetricsResources Resources `json:"kubeStateMetricsResources"`
}

// Grafana is the one place to look at metrics (and, as they arrive, logs and traces).
type Grafana struct {
	// Chart pins grafana-community's grafana chart.
	Chart HelmChart `json:"chart"`
	// AdminUser is the name of Grafana's administrator. Allowed: 1 to 64 letters, digits,
	// '-', '_', '.' or '@'.
	AdminUser string `json:"adminUser"`
	// AdminPassword is the administrator's password, a Pulumi secret: set it with
	// `pulumi config set --secret --path lamina:grafana.adminPassword <password>`.
	// Production requires it; development generates one once and keeps it in the state
	// when it is empty. Allowed: 12 to 128 characters, set as a secret.
	AdminPassword string `json:"adminPassword"`
	// StorageSize is the size of Grafana's volume (its database: users, preferences,
	// annotations) under data.dir/grafana on the host. Allowed: a memory quantity from
	// 1Gi to 1Ti.
	StorageSize string `json:"storageSize"`
	// Resources are Grafana's requests and limits.
	Resources Resources `json:"resources"`
}

// Logs are Loki, which keeps them, and Vector, which ships every pod's logs to it.
type Logs struct {
	// Loki is grafana-community's loki chart in its single-binary (Monolithic) mode,
	// keeping chunks and index on its host volume.
	Loki Loki `json:"loki"`
	// Vector is vectordotdev's vector chart as the agent on every node.
	Vector Vector `json:"vector"`
}

// Loki keeps the logs.
type Loki struct {
	// Chart pins grafana-community's loki chart.
	Chart HelmChart `json:"chart"`
	// Retention is how long logs are kept before the compactor deletes them. Allowed: a
	// whole number of hours (h), days (d) or weeks (w), from 1d to 730d.
	Retention string `json:"retention"`
	// StorageSize is the size of Loki's volume under data.dir/loki on the host. Allowed: a
	// memory quantity from 1Gi to 10Ti.
	StorageSize string `json:"storageSize"`
	// Resources are Loki's requests and limits.
	Resources Resources `json:"resources"`
}

// Vector ships the logs.
type Vector struct {
	// Chart pins vectordotdev's vector chart.
	Chart HelmChart `json:"chart"`
	// Resources are each agent's requests and limits.
	Resources Resources `json:"resources"`
}

// Tracing is Jaeger in the observability namespace, where Istio's sidecars and gateway
// send their spans over OTLP.
type Tracing struct {
	// Jaeger is jaegertracing's chart: Jaeger v2, one all-in-one process (collector,
	// query and UI) with a bounded in-memory store.
	Jaeger Jaeger `json:"jaeger"`
	// Collector, when enabled, is an OpenTelemetry collector between the proxies and
	// Jaeger: it batches and bounds what reaches Jaeger, and is where other backends or
	// sampling would be added.
	Collector Collector `json:"collector"`
}

// Collector is open-telemetry's opentelemetry-collector chart as a Deployment.
type Collector struct {
	// Enabled puts the collector between the proxies and Jaeger.
	Enabled bool `json:"enabled"`
	// Chart pins open-telemetry's opentelemetry-collector chart.
	Chart HelmChart `json:"chart"`
	// Replicas is the number of collector pods. Allowed: 1 to 10.
	Replicas int `json:"replicas"`
	// Resources are each collector's requests and limits.
	Resources Resources `json:"resources"`
}

// Jaeger keeps recent traces in memory.
type Jaeger struct {
	// Chart pins jaegertracing's jaeger chart.
	Chart HelmChart `json:"chart"`
	// MaxTraces bounds the in-memory store; the oldest traces go first. Allowed: 1000
	// to 10000000.
	MaxTraces int `json:"maxTraces"`
	// Resources are Jaeger's requests and limits; the memory limit must hold MaxTraces.
	Resources Resources `json:"resources"`
}

// Kiali authentication strategies.
const (
	// KialiAnonymous lets anyone who reaches the kiali hostname in (development).
	KialiAnonymous = "anonymous"
	// KialiToken asks for a Kubernetes service account token.
	KialiToken = "token"
	// KialiOpenID signs in through an OpenID Connect provider.
	KialiOpenID = "openid"
)

// Kiali is the mesh's console, in the observability namespace.
type Kiali struct {
	// Chart pins kiali's kiali-server chart.
	Chart HelmChart `json:"chart"`
	// AuthStrategy is anonymous, token or openid. Allowed: anonymous only outside
	// production.
	AuthStrategy string `json:"authStrategy"`
	// OpenID configures sign-in through an OpenID Connect provider (authStrategy openid).
	OpenID KialiOpenIDConfig `json:"openID"`
	// Resources are Kiali's requests and limits.
	Resources Resources `json:"resources"`
}

// KialiOpenIDConfig is Kiali's OpenID Connect client.
type KialiOpenIDConfig struct {
	// IssuerURI is the provider's issuer. Allowed: an https:// URL.
	IssuerURI string `json:"issuerURI"`
	// ClientID is Kiali's client at the provider. Allowed: not empty.
	ClientID string `json:"clientID"`
	// ClientSecret is that client's secret, a Pulumi secret: set it with
	// `pulumi config set --secret --path lamina:kiali.openID.clientSecret <secret>`.
	ClientSecret string `json:"clientSecret"`
}
