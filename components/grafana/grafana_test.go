// Tests of the grafana component on its own, under Pulumi's mocks (internal/recorder):
// that the administrator is in the Secret the chart reads and in none of its values, the
// password secret whether given or generated once on the Mac; that the datasources are
// provisioned as given, in the same file the Docker target writes, with a flow to each;
// that the dashboards land in their folder on Grafana's claim; and that Env sets, as
// GF_<SECTION>_<KEY>, every grafana.ini setting the chart is given.
package grafana_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/lamina-os/lamina-infra/components/grafana"
	"github.com/lamina-os/lamina-infra/components/network"
	"github.com/lamina-os/lamina-infra/internal/kube"
	"github.com/lamina-os/lamina-infra/internal/recorder"
	"github.com/lamina-os/lamina-infra/internal/recorder/recordertest"
	"github.com/lamina-os/lamina-infra/internal/spec"
)

const (
	releaseType = "kubernetes:helm.sh/v3:Release"
	secretType  = "kubernetes:core/v1:Secret"
	commandType = "command:local:Command"
	claimType   = "test:index:Claim"
	readyType   = "test:index:Ready"

	user     = "ada-admin"
	password = "s3cret-Pa55word"
	// generated is what the mocked `openssl rand -hex 24` prints.
	generated = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822c"
)

// datasources are the platform's three, Prometheus the default.
func datasources() []grafana.Datasource {
	return []grafana.Datasource{
		{Name: "Prometheus", Type: "prometheus", UID: "prometheus", Access: "proxy", IsDefault: true,
			URL:      "http://prometheus.monitoring.svc.cluster.local:9090",
			Endpoint: network.Endpoint{Peer: network.App("monitoring", "prometheus"), Ports: network.TCP(9090)}},
		{Name: "Loki", Type: "loki", UID: "loki", Access: "proxy",
			URL:      "http://loki.monitoring.svc.cluster.local:3100",
			Endpoint: network.Endpoint{Peer: network.App("monitoring", "loki"), Ports: network.TCP(3100)}},
		{Name: "Jaeger", Type: "jaeger", UID: "jaeger", Access: "proxy",
			URL:      "http://jaeger.observability.svc.cluster.local:16686",
			Endpoint: network.Endpoint{Peer: network.App("observability", "jaeger"), Ports: network.TCP(16686)}},
	}
}

// declare runs NewGrafana as a stack does, with the password given in plaintext (the
// component must make it secret), on args as edit changes them, after a claim and a
// mesh-readiness resource; it exports the administrator's credentials. Under `up`, the
// command that generates a password prints generated.
func declare(t *testing.T, edit func(a *grafana.GrafanaArgs)) (*recorder.Graph, *grafana.Grafana) {
	t.Helper()
	var c *grafana.Grafana
	g, err := recorder.Run(recorder.Options{Project: "lamina", Stack: "test", Outputs: func(r *recorder.Resource) resource.PropertyMap {
		if r.Type != commandType {
			return nil
		}
		return resource.PropertyMap{"stdout": resource.NewProperty(generated)}
	}}, func(ctx *pulumi.Context) error {
		var claim, ready pulumi.CustomResourceState
		if err := ctx.RegisterResource(claimType, "grafana-data", pulumi.Map{}, &claim); err != nil {
			return err
		}
		if err := ctx.RegisterResource(readyType, "istiod", pulumi.Map{}, &ready); err != nil {
			return err
		}
		a := grafana.GrafanaArgs{
			Chart:         kube.Chart{Repository: "https://grafana-community.github.io/helm-charts", Name: "grafana", Version: "10.0.0-test", Timeout: 5 * time.Minute},
			Namespace:     pulumi.String("monitoring"),
			NamespaceName: "monitoring",
			AdminUser:     user,
			AdminPassword: pulumi.String(password),
			Claim:         "grafana-data",
			Volume:        &claim,
			Resources:     kube.Resources{Requests: kube.Quantities{CPU: "100m", Memory: "128Mi"}, Limits: kube.Quantities{CPU: "1", Memory: "512Mi"}},
			RootURL:       "https://grafana.lamina.test/",
			Datasources:   datasources(),
			IstioReady:    []pulumi.Resource{&ready},
		}
		if edit != nil {
			edit(&a)
		}
		var err error
		if c, err = grafana.NewGrafana(ctx, "grafana", a); err != nil {
			return err
		}
		ctx.Export("adminUser", c.AdminUser)
		ctx.Export("adminPassword", c.AdminPassword)
		return nil
	})
	require.NoError(t, err)
	return g, c
}

// The administrator's name and password are in the grafana-admin Secret, under the keys
// the chart is told to read them from; the chart's values hold neither (Helm keeps its
// values in the cluster, readable by whoever reads the release), and the release waits
// for the Secret. The password given in plaintext is secret in the Secret and in the
// component's output.
func TestAdministratorIsInTheSecretTheChartReads(t *testing.T) {
	g, _ := declare(t, nil)
	s := recordertest.Find(t, g, secretType, "grafana-admin")
	assert.Equal(t, map[string]any{"name": "grafana-admin", "namespace": "monitoring", "labels": map[string]any{
		"app.kubernetes.io/managed-by": "pulumi", "app.kubernetes.io/part-of": "lamina",
	}}, s.Inputs["metadata"])
	assert.Equal(t, "Opaque", s.Inputs["type"])
	assert.Equal(t, recorder.SecretMask, s.Inputs["stringData"])
	assert.Equal(t, map[string]any{"admin-user": user, "admin-password": password}, recordertest.Reveal(s.Raw()["stringData"]))

	v := values(t, g)
	assert.Equal(t, map[string]any{"existingSecret": "grafana-admin", "userKey": "admin-user", "passwordKey": "admin-password"}, v["admin"])
	for _, text := range recordertest.Texts(recordertest.Reveal(recordertest.Find(t, g, releaseType, grafana.ReleaseName).Raw()["values"])) {
		assert.NotContains(t, text, password, "a chart value holds the password")
		assert.NotContains(t, text, user, "a chart value holds the administrator's name")
	}
	assert.Contains(t, recordertest.Find(t, g, releaseType, grafana.ReleaseName).Dependencies, s.URN)

	pw, ok := g.RawOutput("adminPassword")
	require.True(t, ok)
	assert.True(t, pw.Secret, "the password output is secret")
	assert.Equal(t, password, pw.Value)
	assert.Equal(t, user, g.Outputs["adminUser"])
}

// Without a password, one is generated on the Mac: `openssl rand -hex 24` (192 bits),
// run once (every input ignored after creation, so nothing rotates it silently), its
// output secret, under the component; the Secret and the output hold what it printed.
// With a password given, nothing is generated.
func TestPasswordIsGeneratedOnceWhenNoneIsGiven(t *testing.T) {
	g, _ := declare(t, func(a *grafana.GrafanaArgs) { a.AdminPassword = nil })
	cmd := recordertest.Find(t, g, commandType, "grafana-admin-password")
	assert.Equal(t, "openssl rand -hex 24", cmd.Inputs["create"])
	assert.Equal(t, []string{"stdout"}, cmd.AdditionalSecretOutputs)
	assert.ElementsMatch(t, []string{"interpreter", "create", "logging", "addPreviousOutputInEnv"}, cmd.IgnoreChanges)
	assert.Equal(t, "urn:pulumi:test::lamina::lamina:grafana:Grafana::grafana", cmd.Parent)

	s := recordertest.Find(t, g, secretType, "grafana-admin")
	assert.Equal(t, map[string]any{"admin-user": user, "admin-password": generated}, recordertest.Reveal(s.Raw()["stringData"]))
	assert.Contains(t, s.Dependencies, cmd.URN)
	pw, _ := g.RawOutput("adminPassword")
	assert.True(t, pw.Secret)
	assert.Equal(t, generated, pw.Value)

	g, _ = declare(t, nil)
	assert.Empty(t, g.ByType(commandType), "a given password is used as is")
}

// The datasources are provisioned as given, in order, Prometheus alone the default,
// each by the UID the dashboards refer to; DatasourcesFile, which the Docker target
// writes for Grafana's provisioning, is the same document.
func TestDatasourcesAreProvisionedAsGivenOnBothTargets(t *testing.T) {
	g, _ := declare(t, nil)
	ds := func(name, typ, uid, url string, isDefault bool) map[string]any {
		return map[string]any{"name": name, "type": typ, "uid": uid, "url": url, "access": "proxy", "isDefault": isDefault, "editable": false}
	}
	want := map[string]any{"apiVersion": float64(1), "datasources": []any{
		ds("Prometheus", "prometheus", "prometheus", "http://prometheus.monitoring.svc.cluster.local:9090", true),
		ds("Loki", "loki", "loki", "http://loki.monitoring.svc.cluster.local:3100", false),
		ds("Jaeger", "jaeger", "jaeger", "http://jaeger.observability.svc.cluster.local:16686", false),
	}}
	assert.Equal(t, map[string]any{"datasources.yaml": want}, values(t, g)["datasources"])

	var file map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(grafana.DatasourcesFile(datasources())), &file))
	assert.Equal(t, 1, file["apiVersion"], "Grafana reads provisioning files of apiVersion 1")
	assert.Equal(t, want, recordertest.JSON(t, file))
}

// Grafana's identity reaches each datasource's server on its ports, one flow each,
// named after the UID; its hostname is served by its Service.
func TestGrafanaOpensAFlowToEachDatasourceAndServesItsHostname(t *testing.T) {
	_, c := declare(t, nil)
	self := network.Peer{Namespace: "monitoring", Pods: map[string]string{"app.kubernetes.io/name": "grafana"}, ServiceAccount: "grafana"}
	assert.Equal(t, []network.Flow{
		{Name: "grafana-to-prometheus", From: self, To: network.App("monitoring", "prometheus"), Ports: network.TCP(9090)},
		{Name: "grafana-to-loki", From: self, To: network.App("monitoring", "loki"), Ports: network.TCP(3100)},
		{Name: "grafana-to-jaeger", From: self, To: network.App("observability", "jaeger"), Ports: network.TCP(16686)},
	}, c.Needs().Flows)
	assert.Equal(t, []network.Route{{Host: "grafana", Namespace: "monitoring", Service: "grafana", Port: 80}}, c.Needs().Routes)
}

// Grafana keeps its database on the given claim, replaced stop-first (the volume is
// ReadWriteOnce), with no root init container; the release waits for the claim and
// for the mesh. The embedded dashboards are provisioned, undeletable, into the Lamina
// folder from the directory the chart writes the lamina provider's dashboards to, and
// query only datasources provisioned here.
func TestDashboardsAndDatabaseLandWhereGrafanaReadsThem(t *testing.T) {
	g, _ := declare(t, nil)
	v := values(t, g)
	assert.Equal(t, map[string]any{"enabled": true, "existingClaim": "grafana-data"}, v["persistence"])
	assert.Equal(t, map[string]any{"type": "Recreate"}, v["deploymentStrategy"])
	assert.Equal(t, map[string]any{"enabled": false}, v["initChownData"])
	rel := recordertest.Find(t, g, releaseType, grafana.ReleaseName)
	assert.ElementsMatch(t, []string{recordertest.Find(t, g, secretType, "grafana-admin").URN, recordertest.Find(t, g, claimType, "grafana-data").URN, recordertest.Find(t, g, readyType, "istiod").URN},
		rel.Dependencies)

	assert.Equal(t, map[string]any{"dashboardproviders.yaml": map[string]any{"apiVersion": float64(1), "providers": []any{map[string]any{
		"name": "lamina", "orgId": float64(1), "folder": "Lamina", "type": "file", "disableDeletion": true, "editable": false,
		"options": map[string]any{"path": "/var/lib/grafana/dashboards/lamina"},
	}}}}, v["dashboardProviders"])
	boards := v["dashboards"].(map[string]any)["lamina"].(map[string]any)
	assert.ElementsMatch(t, []string{"lamina-services", "logs", "platform-overview"}, keys(boards))
	uids := map[string]bool{}
	for _, ds := range datasources() {
		uids[ds.UID] = true
	}
	for name, b := range boards {
		text := b.(map[string]any)["json"].(string)
		assert.Equal(t, grafana.Dashboards()[name], text, name)
		var board any
		require.NoError(t, json.Unmarshal([]byte(text), &board), name)
		for _, uid := range datasourceUIDs(board) {
			assert.True(t, uids[uid], "dashboard %s queries datasource %q, which is not provisioned", name, uid)
		}
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// datasourceUIDs are the uids of every datasource a dashboard's panels and targets name.
func datasourceUIDs(v any) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		if ds, ok := x["datasource"].(map[string]any); ok {
			if uid, ok := ds["uid"].(string); ok && !strings.HasPrefix(uid, "$") && !strings.HasPrefix(uid, "-- ") {
				out = append(out, uid)
			}
		}
		for _, e := range x {
			out = append(out, datasourceUIDs(e)...)
		}
	case []any:
		for _, e := range x {
			out = append(out, datasourceUIDs(e)...)
		}
	}
	return out
}

// Env is every grafana.ini setting the chart is given, as the GF_<SECTION>_<KEY>
// variable Grafana reads over its file, with the value as Grafana parses it, sorted:
// no update checks or reports, no sign-up, no plugin download at start, and the root
// URL given.
func TestEnvSetsEveryGrafanaIniSetting(t *testing.T) {
	root := "https://grafana.lamina.test:8443"
	env := grafana.Env(root)
	assert.Equal(t, spec.Env{
		{Name: "GF_ANALYTICS_CHECK_FOR_UPDATES", Value: "false"},
		{Name: "GF_ANALYTICS_REPORTING_ENABLED", Value: "false"},
		{Name: "GF_PLUGINS_PREINSTALL_DISABLED", Value: "true"},
		{Name: "GF_SERVER_ROOT_URL", Value: root},
		{Name: "GF_USERS_ALLOW_SIGN_UP", Value: "false"},
	}, env)

	// The same settings as the chart's grafana.ini, one for one.
	g, _ := declare(t, func(a *grafana.GrafanaArgs) { a.RootURL = root })
	ini := values(t, g)["grafana.ini"].(map[string]any)
	fromChart := map[string]string{}
	for section, settings := range ini {
		for key, value := range settings.(map[string]any) {
			fromChart["GF_"+strings.ToUpper(section)+"_"+strings.ToUpper(key)] = fmt.Sprint(value)
		}
	}
	assert.Equal(t, fromChart, env.Map())
}

// Grafana takes one default datasource per organization and refuses to start with two:
// of several marked default, the first stays the default, on both targets.
func TestOnlyTheFirstDefaultDatasourceIsTheDefault(t *testing.T) {
	two := []grafana.Datasource{
		{Name: "Loki", Type: "loki", UID: "loki", URL: "http://loki:3100", Access: "proxy", IsDefault: true},
		{Name: "Prometheus", Type: "prometheus", UID: "prometheus", URL: "http://prometheus:9090", Access: "proxy", IsDefault: true},
	}
	var file map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(grafana.DatasourcesFile(two)), &file))
	var defaults []any
	for _, ds := range file["datasources"].([]any) {
		defaults = append(defaults, ds.(map[string]any)["isDefault"])
	}
	assert.Equal(t, []any{true, false}, defaults)
	assert.True(t, two[1].IsDefault, "the caller's datasources are left as they were")
}

// values are the release's values.
func values(t *testing.T, g *recorder.Graph) map[string]any {
	t.Helper()
	return recordertest.Values(t, g, grafana.ReleaseName)
}
