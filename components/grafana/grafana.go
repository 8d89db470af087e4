// Package grafana provides Grafana: grafana-community's chart with its administrator
// from a Pulumi secret, datasources and dashboards provisioned as code, and its database
// on a host volume.
package grafana

import (
	"embed"
	"path"
	"strings"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/lamina-os/lamina-infra/components/network"
	"github.com/lamina-os/lamina-infra/internal/kube"
	"github.com/lamina-os/lamina-infra/internal/secret"
)

// Names and ports of what the component declares.
const (
	ReleaseName = "grafana"
	// Service is Grafana's Service and ServicePort its port (the chart's defaults for a
	// release named grafana).
	Service     = "grafana"
	ServicePort = 80
	// ContainerPort is where Grafana's pods listen, behind ServicePort.
	ContainerPort = 3000
	// AppName is the app.kubernetes.io/name label of Grafana's pods.
	AppName = "grafana"
	// ServiceAccount is Grafana's identity, the source of its queries.
	ServiceAccount = "grafana"
	// AdminSecret holds the administrator's name and password under these keys.
	AdminSecret = "grafana-admin"
	userKey     = "admin-user"
	passwordKey = "admin-password"
	// DashboardFolder is the folder the provisioned dashboards appear in.
	DashboardFolder = "Lamina"
)

// Host is the hostname's first label Grafana is served under.
const Host = "grafana"

// Endpoint is Grafana in namespace, as Kiali reaches it.
func Endpoint(namespace string) network.Endpoint {
	return network.Endpoint{Peer: network.App(namespace, AppName), Ports: network.TCP(ContainerPort)}
}

// ServiceURL is Grafana's in-cluster address in namespace.
func ServiceURL(namespace string) string {
	return kube.ServiceURL(Service, namespace, ServicePort)
}

//go:embed dashboards/*.json
var dashboards embed.FS

// Dashboards returns the provisioned dashboards by name (their file names).
func Dashboards() map[string]string {
	out := map[string]string{}
	entries, _ := dashboards.ReadDir("dashboards")
	for _, e := range entries {
		b, err := dashboards.ReadFile(path.Join("dashboards", e.Name()))
		if err != nil {
			panic(err) // embedded: cannot fail
		}
		out[strings.TrimSuffix(e.Name(), ".json")] = string(b)
	}
	return out
}

// Datasource is one datasource Grafana is provisioned with.
type Datasource struct {
	Name string `json:"name"`
	// Type is Grafana's plugin id: prometheus, loki, jaeger.
	Type string `json:"type"`
	// UID is what dashboards refer to.
	UID       string `json:"uid"`
	URL       string `json:"url"`
	Access    string `json:"access"`
	IsDefault bool   `json:"isDefault"`
	Editable  bool   `json:"editable"`
	// Endpoint is the server's pods and ports: Grafana opens a flow to it, named after
	// the UID.
	Endpoint network.Endpoint `json:"-"`
}

// GrafanaArgs configure Grafana.
type GrafanaArgs struct {
	// Chart pins grafana-community's grafana chart.
	Chart kube.Chart
	// Namespace is the monitoring namespace's name, NamespaceName the same as a string.
	Namespace     pulumi.StringInput
	NamespaceName string
	// AdminUser is the administrator's name; AdminPassword its password, a secret.
	// Without a password, one is generated once on the Mac (openssl rand) and kept,
	// secret, in the state.
	AdminUser     string
	AdminPassword pulumi.StringInput
	// Claim names the claim of Grafana's volume; Volume is the claim itself.
	Claim  string
	Volume pulumi.Resource
	// Resources size Grafana.
	Resources kube.Resources
	// RootURL is where browsers reach Grafana, through the gateway.
	RootURL string
	// Datasources are provisioned; the first that IsDefault is the default.
	Datasources []Datasource
	// IstioReady is what a mesh workload waits for (istio.Istio.Sidecars): the release waits for it.
	IstioReady []pulumi.Resource
}

// Grafana is the release and its administrator's Secret.
type Grafana struct {
	pulumi.ResourceState

	Release     *kube.HelmRelease
	AdminSecret *corev1.Secret
	// AdminUser and AdminPassword (a secret) are the administrator's credentials.
	AdminUser     pulumi.StringOutput
	AdminPassword pulumi.StringOutput

	// The queries to every datasource and Grafana's hostname.
	network.Declaration
}

// values are the chart values the program sets (charts/grafana/values.yaml). No
// credential is among them: the chart reads the administrator from AdminSecret.
type values struct {
	Admin struct {
		ExistingSecret string `json:"existingSecret"`
		UserKey        string `json:"userKey"`
		PasswordKey    string `json:"passwordKey"`
	} `json:"admin"`
	Persistence struct {
		Enabled       bool   `json:"enabled"`
		ExistingClaim string `json:"existingClaim"`
	} `json:"persistence"`
	// InitChownData is the chart's root init container that chowns the data directory.
	// Off: the host data directory's subdirectories are open to every pod
	// (storage.DataDirsScript), chown has no effect on them over virtiofs, and over a
	// krunkit VM's reverse sshfs it fails (the Mac's sftp server cannot give a file
	// away), which would stop Grafana's pod from starting.
	InitChownData struct {
		Enabled bool `json:"enabled"`
	} `json:"initChownData"`
	// Recreate: the volume is ReadWriteOnce and holds Grafana's SQLite database.
	DeploymentStrategy struct {
		Type string `json:"type"`
	} `json:"deploymentStrategy"`
	Resources  kube.Resources `json:"resources"`
	GrafanaIni grafanaIni     `json:"grafana.ini"`
	// Datasources is the provisioning file datasources.yaml.
	Datasources map[string]provisioning `json:"datasources"`
	// DashboardProviders is dashboardproviders.yaml; Dashboards their JSON by provider.
	DashboardProviders map[string]provisioning                 `json:"dashboardProviders"`
	Dashboards         map[string]map[string]map[string]string `json:"dashboards"`
	// TestFramework is the chart's `helm test` pod, which nothing runs.
	TestFramework struct {
		Enabled bool `json:"enabled"`
	} `json:"testFramework"`
}

// provisioning is a Grafana provisioning file.
type provisioning struct {
	APIVersion  int          `json:"apiVersion"`
	Datasources []Datasource `json:"datasources,omitempty"`
	Providers   []provider   `json:"providers,omitempty"`
}

type provider struct {
	Name            string            `json:"name"`
	OrgID           int               `json:"orgId"`
	Folder          string            `json:"folder"`
	Type            string            `json:"type"`
	DisableDeletion bool              `json:"disableDeletion"`
	Editable        bool              `json:"editable"`
	Options         map[string]string `json:"options"`
}

// NewGrafana declares the administrator's Secret and installs Grafana.
func NewGrafana(ctx *pulumi.Context, name string, args GrafanaArgs, opts ...pulumi.ResourceOption) (*Grafana, error) {
	g := &Grafana{}
	if err := ctx.RegisterComponentResource("lamina:grafana:Grafana", name, g, opts...); err != nil {
		return nil, err
	}
	var err error
	passwordInput := args.AdminPassword
	if passwordInput == nil {
		// 192 random bits.
		if passwordInput, err = secret.Generate(ctx, name+"-admin-password", 24, pulumi.Parent(g)); err != nil {
			return nil, err
		}
	}
	password := pulumi.ToSecret(passwordInput).(pulumi.StringOutput)
	g.AdminSecret, err = corev1.NewSecret(ctx, name+"-admin", &corev1.SecretArgs{
		Metadata: kube.Meta(AdminSecret, args.Namespace, nil),
		Type:     pulumi.String("Opaque"),
		StringData: pulumi.StringMap{
			userKey:     pulumi.String(args.AdminUser),
			passwordKey: password,
		},
	}, pulumi.Parent(g), pulumi.AdditionalSecretOutputs([]string{"data", "stringData"}))
	if err != nil {
		return nil, err
	}

	const providerName = "lamina"
	var v values
	v.Admin.ExistingSecret, v.Admin.UserKey, v.Admin.PasswordKey = AdminSecret, userKey, passwordKey
	v.Persistence.Enabled, v.Persistence.ExistingClaim = true, args.Claim
	v.DeploymentStrategy.Type = "Recreate"
	v.Resources = args.Resources
	v.GrafanaIni = settings(args.RootURL)
	v.Datasources = map[string]provisioning{"datasources.yaml": datasourcesFile(args.Datasources)}
	v.DashboardProviders = map[string]provisioning{"dashboardproviders.yaml": {APIVersion: 1, Providers: []provider{{
		Name: providerName, OrgID: 1, Folder: DashboardFolder, Type: "file", DisableDeletion: true,
		Options: map[string]string{"path": "/var/lib/grafana/dashboards/" + providerName},
	}}}}
	v.Dashboards = map[string]map[string]map[string]string{providerName: {}}
	for name, json := range Dashboards() {
		v.Dashboards[providerName][name] = map[string]string{"json": json}
	}
	after := append([]pulumi.Resource{g.AdminSecret, args.Volume}, args.IstioReady...)
	g.Release, err = kube.Release(ctx, ReleaseName, args.Chart, args.Namespace, v,
		pulumi.Parent(g), pulumi.DependsOn(after))
	if err != nil {
		return nil, err
	}
	self := network.App(args.NamespaceName, AppName).As(ServiceAccount)
	for _, ds := range args.Datasources {
		g.Open(ds.Endpoint.From("grafana-to-"+ds.UID, self))
	}
	g.Serve(network.Route{Host: Host, Namespace: args.NamespaceName, Service: Service, Port: ServicePort})
	g.AdminUser = pulumi.String(args.AdminUser).ToStringOutput()
	g.AdminPassword = password
	if err := ctx.RegisterResourceOutputs(g, pulumi.Map{"adminUser": g.AdminUser}); err != nil {
		return nil, err
	}
	return g, nil
}
