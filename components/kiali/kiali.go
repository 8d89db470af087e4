// Package kiali provides Kiali: kiali's kiali-server chart, pointed at the platform's one
// Prometheus, Jaeger and Grafana, with its signing key (and an OpenID client's secret)
// in Kubernetes Secrets made from Pulumi secrets.
package kiali

import (
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/lamina-os/lamina-infra/components/network"
	"github.com/lamina-os/lamina-infra/internal/kube"
	"github.com/lamina-os/lamina-infra/internal/secret"
)

// Names and ports of what the component declares.
const (
	ReleaseName = "kiali"
	// InstanceName names every resource the chart makes: the Service, the service
	// account (Kiali's identity) and the pods' app.kubernetes.io/name label.
	InstanceName = "kiali"
	ServicePort  = 20001
	// SigningKeySecret holds the key Kiali signs its session tokens with.
	SigningKeySecret = "kiali-signing-key"
	signingKeyKey    = "key"
	// OIDCSecret is where Kiali reads an OpenID client's secret (its fixed name and key).
	OIDCSecret = "kiali"
	oidcKey    = "oidc-secret"
)

// Host is the hostname's first label Kiali is served under.
const Host = "kiali"

// KialiArgs configure Kiali.
type KialiArgs struct {
	// Chart pins the kiali-server chart.
	Chart kube.Chart
	// Namespace is the observability namespace's name, NamespaceName the same as a string.
	Namespace     pulumi.StringInput
	NamespaceName string
	// IstioNamespace is the mesh's root namespace. (Kiali 2.x finds the control plane
	// itself: its istio_namespace setting is gone since v2.14.)
	IstioNamespace string
	// AuthStrategy is anonymous, token or openid; OpenIDIssuer, OpenIDClientID and
	// OpenIDClientSecret (a secret) configure openid.
	AuthStrategy                   string
	OpenIDIssuer, OpenIDClientID   string
	OpenIDClientSecret             pulumi.StringInput
	PrometheusURL                  string
	TracingGRPCURL, TracingUIURL   string
	GrafanaInternalURL, GrafanaURL string
	// Prometheus, Tracing (the gRPC query API), Grafana and Istiod (its debug state)
	// are the backends at those addresses; APIServer is where Kiali reads the mesh's
	// configuration. Kiali opens a flow to each.
	Prometheus, Tracing, Grafana, Istiod, APIServer network.Endpoint
	// Resources size Kiali.
	Resources kube.Resources
	// IstioReady is what a mesh workload waits for (istio.Istio.Sidecars): the release waits for it.
	IstioReady []pulumi.Resource
}

// Kiali is the release and its Secrets.
type Kiali struct {
	pulumi.ResourceState

	Release    *kube.HelmRelease
	SigningKey *corev1.Secret

	// The reads of every backend and Kiali's hostname.
	network.Declaration
}

// values are the chart values the program sets (kiali-server's values.yaml, which the
// chart passes to Kiali as its configuration).
type values struct {
	Deployment struct {
		InstanceName string         `json:"instance_name"`
		Resources    kube.Resources `json:"resources"`
		// The platform declares every NetworkPolicy itself.
		NetworkPolicy struct {
			Enabled bool `json:"enabled"`
		} `json:"network_policy"`
	} `json:"deployment"`
	Auth struct {
		Strategy string      `json:"strategy"`
		OpenID   *openIDAuth `json:"openid,omitempty"`
	} `json:"auth"`
	// LoginToken.SigningKey refers to a Secret (secret:<name>:<key>); an empty key would
	// make the chart draw a new random one, and restart Kiali, on every upgrade.
	LoginToken struct {
		SigningKey string `json:"signing_key"`
	} `json:"login_token"`
	// Server.WebRoot: Kiali has its own hostname, so it serves at the root.
	Server struct {
		WebRoot string `json:"web_root"`
	} `json:"server"`
	ExternalServices externalServices `json:"external_services"`
}

type openIDAuth struct {
	ClientID  string `json:"client_id"`
	IssuerURI string `json:"issuer_uri"`
}

type externalServices struct {
	Istio struct {
		RootNamespace string `json:"root_namespace"`
	} `json:"istio"`
	Prometheus struct {
		URL string `json:"url"`
	} `json:"prometheus"`
	Tracing struct {
		Enabled     bool   `json:"enabled"`
		Provider    string `json:"provider"`
		InternalURL string `json:"internal_url"`
		ExternalURL string `json:"external_url"`
		UseGRPC     bool   `json:"use_grpc"`
	} `json:"tracing"`
	Grafana struct {
		Enabled     bool   `json:"enabled"`
		InternalURL string `json:"internal_url"`
		ExternalURL string `json:"external_url"`
	} `json:"grafana"`
}

// NewKiali declares Kiali's Secrets and installs it.
func NewKiali(ctx *pulumi.Context, name string, args KialiArgs, opts ...pulumi.ResourceOption) (*Kiali, error) {
	k := &Kiali{}
	if err := ctx.RegisterComponentResource("lamina:kiali:Kiali", name, k, opts...); err != nil {
		return nil, err
	}
	// 32 hex characters: Kiali takes keys of 16, 24 or 32 bytes. Made once on the Mac
	// and kept, secret, in the state.
	key, err := secret.Generate(ctx, name+"-signing-key", 16, pulumi.Parent(k))
	if err != nil {
		return nil, err
	}
	k.SigningKey, err = corev1.NewSecret(ctx, name+"-signing-key-secret", &corev1.SecretArgs{
		Metadata:   kube.Meta(SigningKeySecret, args.Namespace, nil),
		Type:       pulumi.String("Opaque"),
		StringData: pulumi.StringMap{signingKeyKey: key},
	}, pulumi.Parent(k))
	if err != nil {
		return nil, err
	}
	after := append([]pulumi.Resource{k.SigningKey}, args.IstioReady...)

	var v values
	v.Deployment.InstanceName = InstanceName
	v.Deployment.Resources = args.Resources
	v.Auth.Strategy = args.AuthStrategy
	if args.AuthStrategy == "openid" {
		v.Auth.OpenID = &openIDAuth{ClientID: args.OpenIDClientID, IssuerURI: args.OpenIDIssuer}
		oidc, err := corev1.NewSecret(ctx, name+"-oidc-secret", &corev1.SecretArgs{
			Metadata:   kube.Meta(OIDCSecret, args.Namespace, nil),
			Type:       pulumi.String("Opaque"),
			StringData: pulumi.StringMap{oidcKey: pulumi.ToSecret(args.OpenIDClientSecret).(pulumi.StringOutput)},
		}, pulumi.Parent(k))
		if err != nil {
			return nil, err
		}
		after = append(after, oidc)
	}
	v.LoginToken.SigningKey = "secret:" + SigningKeySecret + ":" + signingKeyKey
	v.Server.WebRoot = "/"
	e := &v.ExternalServices
	e.Istio.RootNamespace = args.IstioNamespace
	e.Prometheus.URL = args.PrometheusURL
	e.Tracing.Enabled, e.Tracing.Provider, e.Tracing.UseGRPC = true, "jaeger", true
	e.Tracing.InternalURL, e.Tracing.ExternalURL = args.TracingGRPCURL, args.TracingUIURL
	e.Grafana.Enabled = true
	e.Grafana.InternalURL, e.Grafana.ExternalURL = args.GrafanaInternalURL, args.GrafanaURL
	k.Release, err = kube.Release(ctx, ReleaseName, args.Chart, args.Namespace, v, pulumi.Parent(k), pulumi.DependsOn(after))
	if err != nil {
		return nil, err
	}
	self := network.App(args.NamespaceName, InstanceName).As(InstanceName)
	k.Open(
		args.Prometheus.From("kiali-to-prometheus", self),
		args.Tracing.From("kiali-to-jaeger", self),
		args.Grafana.From("kiali-to-grafana", self),
		args.Istiod.From("kiali-to-istiod", self),
		args.APIServer.From("apiserver", network.Namespace(args.NamespaceName)),
	)
	k.Serve(network.Route{Host: Host, Namespace: args.NamespaceName, Service: InstanceName, Port: ServicePort})
	if err := ctx.RegisterResourceOutputs(k, pulumi.Map{"authStrategy": pulumi.String(args.AuthStrategy)}); err != nil {
		return nil, err
	}
	return k, nil
}
