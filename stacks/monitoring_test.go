package stacks_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lamina-os/lamina-infra/internal/recorder"
	"github.com/lamina-os/lamina-infra/stacks/offline"
)

// Each stack's Prometheus sizing reaches the chart and its volume: the original's
// development (a week at 30 s on 50 GiB) and production (a month at 15 s on 200 GiB).
func TestPrometheusSizingReachesTheChart(t *testing.T) {
	for stack, want := range map[string]struct {
		retention, interval, size string
		limits                    map[string]any
	}{
		"development": {"7d", "30s", "50Gi", map[string]any{"cpu": "2", "memory": "4Gi"}},
		"production":  {"30d", "15s", "200Gi", map[string]any{"cpu": "4", "memory": "16Gi"}},
	} {
		t.Run(stack, func(t *testing.T) {
			g := preview(t, stackSource(t, stack, nil))
			release := g.Find(releaseType, "prometheus")
			require.NotNil(t, release)
			values := release.Inputs["values"]
			assert.Equal(t, want.retention, field(values, "server", "retention"))
			assert.Equal(t, want.interval, field(values, "server", "global", "scrape_interval"))
			assert.Equal(t, want.limits, field(values, "server", "resources", "limits"))
			assert.Equal(t, "monitoring", release.Inputs["namespace"])

			claim := g.Find("kubernetes:core/v1:PersistentVolumeClaim", "prometheus-data-claim")
			volume := g.Find("kubernetes:core/v1:PersistentVolume", "prometheus-data-volume")
			require.NotNil(t, claim)
			require.NotNil(t, volume)
			assert.Equal(t, field(claim.Inputs, "metadata", "name"), field(values, "server", "persistentVolume", "existingClaim"),
				"the chart uses the claim the program declares")
			assert.Equal(t, want.size, field(volume.Inputs, "spec", "capacity", "storage"))
			assert.Equal(t, want.size, field(claim.Inputs, "spec", "resources", "requests", "storage"))
			assert.True(t, g.DependsOn(release, claim.URN), "the release waits for its claim")
			assert.True(t, g.DependsOn(release, g.Find(releaseType, "istiod").URN),
				"the release waits for istiod, which injects its sidecars")

			// kube-state-metrics is scraped through Istio's merged metrics, not through its
			// Service, which STRICT mTLS would refuse to a plaintext scrape.
			assert.Equal(t, false, field(values, "kube-state-metrics", "prometheusScrape"))
			assert.Equal(t, "true", field(values, "kube-state-metrics", "podAnnotations", "prometheus.io/scrape"))
			for _, off := range []string{"alertmanager", "prometheus-pushgateway", "prometheus-node-exporter"} {
				assert.Equal(t, false, field(values, off, "enabled"), off)
			}
		})
	}
}

// Every volume holds its data in its own directory of the host data directory, on this
// stack's node (whatever the cluster calls it), and keeps it when released. The volume
// and its claim are only the cluster's view of that directory: neither is protected or
// retained, so `pulumi destroy` deletes them and the next up declares them anew.
func TestHostVolumesKeepTheirDataAndSitOnThisStacksNode(t *testing.T) {
	for _, stack := range []string{"development", "production"} {
		t.Run(stack, func(t *testing.T) {
			mac := newFakeMac(t, "colima", "kubectl")
			node := "colima-lamina-" + stack
			mac.env["FAKE_KUBECTL_NODE"] = node
			overrides, dataDir := withDataDir(t, stack, nil)
			g := deploy(t, stackSource(t, stack, overrides), mac)

			volumes := g.ByType("kubernetes:core/v1:PersistentVolume")
			require.NotEmpty(t, volumes)
			for _, pv := range volumes {
				spec := pv.Inputs["spec"]
				assert.False(t, pv.Protect || pv.RetainOnDelete, "%s: neither protect nor retainOnDelete", pv.Name)
				assert.Equal(t, "Retain", field(spec, "persistentVolumeReclaimPolicy"), pv.Name)
				assert.Equal(t, "lamina-host", field(spec, "storageClassName"), pv.Name)
				path, _ := field(spec, "local", "path").(string)
				assert.True(t, strings.HasPrefix(path, dataDir+string(filepath.Separator)), "%s: %s is outside %s", pv.Name, path, dataDir)
				assert.DirExists(t, path, "a data-dirs step on the Mac (the VM's, or the build tier's) creates it before its volume is declared")
				terms := field(spec, "nodeAffinity", "required", "nodeSelectorTerms").([]any)
				require.Len(t, terms, 1)
				assert.Equal(t, []any{map[string]any{"key": "kubernetes.io/hostname", "operator": "In", "values": []any{node}}},
					field(terms[0], "matchExpressions"), pv.Name)

				var claim *recorder.Resource
				for _, c := range g.ByType("kubernetes:core/v1:PersistentVolumeClaim") {
					if field(c.Inputs, "spec", "volumeName") == field(pv.Inputs, "metadata", "name") {
						claim = c
					}
				}
				require.NotNil(t, claim, "%s has no claim", pv.Name)
				assert.False(t, claim.Protect || claim.RetainOnDelete, "%s: neither protect nor retainOnDelete", claim.Name)
				assert.Equal(t, field(claim.Inputs, "metadata", "name"), field(spec, "claimRef", "name"), "pre-bound to its claim")
				assert.Equal(t, field(claim.Inputs, "metadata", "namespace"), field(spec, "claimRef", "namespace"))
			}
		})
	}
}

// Grafana's password is a secret from the stack file to the cluster: in the Secret the
// chart reads, in the stack output, and nowhere in plaintext (not in any input or output
// a reviewer sees, not in the Helm values, which Helm keeps in the cluster).
func TestGrafanaPasswordIsSecretEndToEnd(t *testing.T) {
	const password = "pw-4c1d0e9a-do-not-print"
	g := deploySecret(t, "grafana", "adminPassword", password)

	assertOnlyInSecret(t, g, "grafana-admin", password)

	values := g.Find(releaseType, "grafana").Inputs["values"]
	assert.Equal(t, "grafana-admin", field(values, "admin", "existingSecret"), "the chart reads the Secret")
	assert.Equal(t, "admin-password", field(values, "admin", "passwordKey"))

	out, ok := g.RawOutput("grafanaAdminPassword")
	require.True(t, ok)
	assert.True(t, out.Secret)
	assert.Equal(t, password, out.Value)
	assert.Equal(t, "admin", g.Outputs["grafanaAdminUser"])
}

// Development without a password gets one generated once on the Mac, kept secret;
// production without one refuses to start and says how to set it; a password in
// plaintext in the stack file is refused.
func TestGrafanaPasswordSources(t *testing.T) {
	g := preview(t, stackSource(t, "development", nil))
	gen := g.Find("command:local:Command", "grafana-admin-password")
	require.NotNil(t, gen, "development generates a password")
	assert.Equal(t, "openssl rand -hex 24", gen.Inputs["create"])
	assert.Equal(t, []string{"stdout"}, gen.AdditionalSecretOutputs)
	assert.Nil(t, gen.Inputs["update"], "created once: every up keeps it")
	assert.Equal(t, recorder.SecretMask, g.Outputs["grafanaAdminPassword"])

	_, err := offline.Run(stackSource(t, "production", map[string]string{"lamina:grafana": ""}), nil, recorder.Options{Preview: true})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "lamina:grafana.adminPassword: is required in production; set it with: pulumi config set --secret --path lamina:grafana.adminPassword <password> -s production")

	plain := stackSource(t, "development", map[string]string{"lamina:grafana": `{"adminPassword": "in-plain-sight-1234"}`})
	_, err = offline.Run(plain, nil, recorder.Options{Preview: true})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "lamina:grafana.adminPassword: is in plaintext in the stack file; remove it and set it as a secret with: pulumi config set --secret --path lamina:grafana.adminPassword <password> -s development")
	assert.NotContains(t, err.Error(), "in-plain-sight-1234")
}

// Grafana's datasource is the Prometheus Service the program declares, its root URL the
// gateway's route to it, and its data on its own host volume.
func TestGrafanaIsWiredToWhatTheProgramDeclares(t *testing.T) {
	for _, stack := range []string{"development", "production"} {
		t.Run(stack, func(t *testing.T) {
			g := preview(t, stackSource(t, stack, nil))
			prometheus := g.Find(releaseType, "prometheus")
			promValues := prometheus.Inputs["values"]
			declared := fmt.Sprintf("http://%s.%s.svc.cluster.local:%v", field(promValues, "server", "fullnameOverride"),
				prometheus.Inputs["namespace"], field(promValues, "server", "service", "servicePort"))

			values := g.Find(releaseType, "grafana").Inputs["values"]
			loki := g.Find(releaseType, "loki")
			require.NotNil(t, loki)
			// The loki chart names its Service after the release; it listens on 3100.
			declaredLoki := fmt.Sprintf("http://%s.%s.svc.cluster.local:3100", loki.Inputs["name"], loki.Inputs["namespace"])
			datasources := list(field(values, "datasources", "datasources.yaml", "datasources"))
			require.Len(t, datasources, 3)
			byUID := map[string]any{}
			for _, d := range datasources {
				byUID[field(d, "uid").(string)] = d
			}
			assert.Equal(t, declared, field(byUID["prometheus"], "url"))
			assert.Equal(t, declaredLoki, field(byUID["loki"], "url"))
			jaeger := g.Find(releaseType, "jaeger")
			require.NotNil(t, jaeger)
			// The jaeger chart names its one Service after the release; the query API is on 16686.
			assert.Equal(t, fmt.Sprintf("http://%s.%s.svc.cluster.local:16686", jaeger.Inputs["name"], jaeger.Inputs["namespace"]),
				field(byUID["jaeger"], "url"))
			// Istio sends spans to the Jaeger the program declares, in production through
			// the collector the program declares, which exports to that Jaeger.
			jaegerHost := fmt.Sprintf("%s.%s.svc.cluster.local", jaeger.Inputs["name"], jaeger.Inputs["namespace"])
			spansTo := jaegerHost
			if collector := g.Find(releaseType, "opentelemetry-collector"); collector != nil {
				require.Equal(t, "production", stack, "only production runs a collector")
				spansTo = fmt.Sprintf("%s.%s.svc.cluster.local", collector.Inputs["name"], collector.Inputs["namespace"])
				assert.Equal(t, jaegerHost+":4317", field(collector.Inputs["values"], "config", "exporters", "otlp_grpc/jaeger", "endpoint"))
				assert.Equal(t, float64(2), field(collector.Inputs["values"], "replicaCount"))
			}
			tracingProvider := list(field(g.Find(releaseType, "istiod").Inputs["values"], "meshConfig", "extensionProviders"))[0]
			assert.Equal(t, spansTo, field(tracingProvider, "opentelemetry", "service"))
			assert.Equal(t, declaredLoki, field(g.Find(releaseType, "vector").Inputs["values"], "customConfig", "sinks", "loki", "endpoint"),
				"Vector pushes to the Loki Grafana reads")

			urls := g.Outputs["urls"].(map[string]any)
			var grafanaURL any
			for host, url := range urls {
				if strings.HasPrefix(host, "grafana.") {
					grafanaURL = url.(string) + "/"
				}
			}
			assert.Equal(t, grafanaURL, field(values, "grafana.ini", "server", "root_url"))

			claim := g.Find("kubernetes:core/v1:PersistentVolumeClaim", "grafana-data-claim")
			require.NotNil(t, claim)
			assert.Equal(t, field(claim.Inputs, "metadata", "name"), field(values, "persistence", "existingClaim"))

			dashboards := field(values, "dashboards", "lamina").(map[string]any)
			assert.ElementsMatch(t, []string{"platform-overview", "lamina-services", "logs"}, slices.Collect(maps.Keys(dashboards)))
			for name, d := range dashboards {
				var parsed struct {
					UID    string           `json:"uid"`
					Panels []map[string]any `json:"panels"`
				}
				require.NoError(t, json.Unmarshal([]byte(field(d, "json").(string)), &parsed), name)
				assert.NotEmpty(t, parsed.Panels, name)
				for _, p := range parsed.Panels {
					assert.Contains(t, byUID, field(p, "datasource", "uid"), "%s: %v queries a datasource Grafana has", name, p["title"])
				}
			}
		})
	}
}

// Loki keeps each stack's logs for its retention on its own host volume, and Vector
// runs as the agent on every node, listening on nothing.
func TestLogsRetentionAndVolume(t *testing.T) {
	for stack, want := range map[string]struct{ retention, size string }{
		"development": {"7d", "20Gi"},
		"production":  {"30d", "100Gi"},
	} {
		t.Run(stack, func(t *testing.T) {
			g := preview(t, stackSource(t, stack, nil))
			loki := g.Find(releaseType, "loki").Inputs["values"]
			assert.Equal(t, want.retention, field(loki, "loki", "limits_config", "retention_period"))
			assert.Equal(t, true, field(loki, "loki", "compactor", "retention_enabled"))
			assert.Equal(t, "Monolithic", field(loki, "deploymentMode"))
			claim := g.Find("kubernetes:core/v1:PersistentVolumeClaim", "loki-data-claim")
			require.NotNil(t, claim)
			assert.Equal(t, field(claim.Inputs, "metadata", "name"),
				field(loki, "singleBinary", "persistence", "dataVolumeParameters", "persistentVolumeClaim", "claimName"))
			assert.Equal(t, false, field(loki, "singleBinary", "persistence", "enabled"), "no chart-made claim beside ours")
			assert.Equal(t, want.size, field(claim.Inputs, "spec", "resources", "requests", "storage"))

			vector := g.Find(releaseType, "vector").Inputs["values"]
			assert.Equal(t, "Agent", field(vector, "role"))
			assert.Equal(t, false, field(vector, "service", "enabled"))
			// internal/conformance renders this through the chart's tpl and reads back
			// {{ kubernetes.pod_namespace }} in Vector's configuration.
			assert.Equal(t, `{{ "{{" }} kubernetes.pod_namespace {{ "}}" }}`, field(vector, "customConfig", "sinks", "loki", "labels", "namespace"))
		})
	}
}

// Jaeger keeps each stack's bound of traces in one all-in-one process, which receives
// OTLP on the port Istio sends to.
func TestJaegerStoreIsBounded(t *testing.T) {
	for stack, maxTraces := range map[string]float64{"development": 50000, "production": 500000} {
		t.Run(stack, func(t *testing.T) {
			g := preview(t, stackSource(t, stack, nil))
			values := g.Find(releaseType, "jaeger").Inputs["values"]
			assert.Equal(t, float64(1), field(values, "jaeger", "replicas"), "one in-memory store")
			assert.Equal(t, maxTraces, field(values, "userconfig", "extensions", "jaeger_storage", "backends", "memstore", "memory", "max_traces"))
			assert.Equal(t, "0.0.0.0:4317", field(values, "userconfig", "receivers", "otlp", "protocols", "grpc", "endpoint"))
			assert.Equal(t, "memstore", field(values, "userconfig", "extensions", "jaeger_query", "storage", "traces"))
		})
	}
}

// Each UI's route reaches the Service and port its chart really creates.
func TestUIRoutesReachTheDeclaredServices(t *testing.T) {
	g := preview(t, stackSource(t, "development", nil))
	services := map[string]string{}
	for _, vs := range g.ByType("kubernetes:networking.istio.io/v1:VirtualService") {
		dest := field(list(field(vs.Inputs, "spec", "http"))[0], "route")
		d := list(dest)[0]
		services[fmt.Sprint(field(list(field(vs.Inputs, "spec", "hosts"))[0]))] = fmt.Sprintf("%v:%v", field(d, "destination", "host"), field(d, "destination", "port", "number"))
	}
	prometheus := g.Find(releaseType, "prometheus").Inputs["values"]
	want := map[string]string{
		"grafana.dev.lamina.home.arpa":    "grafana.monitoring.svc.cluster.local:80",
		"prometheus.dev.lamina.home.arpa": fmt.Sprintf("%v.monitoring.svc.cluster.local:%v", field(prometheus, "server", "fullnameOverride"), field(prometheus, "server", "service", "servicePort")),
		"jaeger.dev.lamina.home.arpa":     "jaeger.observability.svc.cluster.local:16686",
	}
	for host, dest := range want {
		assert.Equal(t, dest, services[host], host)
	}
}

// Kiali reads the same Prometheus, Jaeger and Grafana as everything else (the original
// pointed development and production at two different Jaegers), signs its sessions
// with a key kept in a Secret, and authenticates in production.
func TestKialiUsesThePlatformsBackends(t *testing.T) {
	for stack, strategy := range map[string]string{"development": "anonymous", "production": "token"} {
		t.Run(stack, func(t *testing.T) {
			g := preview(t, stackSource(t, stack, nil))
			values := g.Find(releaseType, "kiali").Inputs["values"]
			assert.Equal(t, strategy, field(values, "auth", "strategy"))

			grafanaValues := g.Find(releaseType, "grafana").Inputs["values"]
			byUID := map[string]any{}
			for _, d := range list(field(grafanaValues, "datasources", "datasources.yaml", "datasources")) {
				byUID[field(d, "uid").(string)] = field(d, "url")
			}
			assert.Equal(t, byUID["prometheus"], field(values, "external_services", "prometheus", "url"), "the Prometheus Grafana reads")
			jaeger := g.Find(releaseType, "jaeger")
			assert.Equal(t, fmt.Sprintf("http://%s.%s.svc.cluster.local:16685", jaeger.Inputs["name"], jaeger.Inputs["namespace"]),
				field(values, "external_services", "tracing", "internal_url"), "the Jaeger Istio sends to, on its gRPC query port")
			grafana := g.Find(releaseType, "grafana")
			assert.Equal(t, fmt.Sprintf("http://%s.%s.svc.cluster.local:80", grafana.Inputs["name"], grafana.Inputs["namespace"]),
				field(values, "external_services", "grafana", "internal_url"))

			secret := g.Find("kubernetes:core/v1:Secret", "kiali-signing-key-secret")
			require.NotNil(t, secret)
			assert.Equal(t, fmt.Sprintf("secret:%s:key", field(secret.Inputs, "metadata", "name")), field(values, "login_token", "signing_key"))
			assert.Equal(t, recorder.SecretMask, secret.Inputs["stringData"])
			key := g.Find("command:local:Command", "kiali-signing-key")
			assert.Equal(t, []string{"stdout"}, key.AdditionalSecretOutputs)
		})
	}
}
