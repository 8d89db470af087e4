// Package certmanager provides CertManager: the upstream chart with its CRDs and the
// ClusterIssuer that signs the gateway's certificate (a local root CA by default, ACME,
// or an issuer that already exists).
package certmanager

import (
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/lamina-os/lamina-infra/internal/kube"
)

// Issuer kinds.
const (
	SelfSignedCA = "selfsigned-ca"
	ACME         = "acme"
	Existing     = "existing"
)

// Names of what the component declares.
const (
	ReleaseName      = "cert-manager"
	SelfSignedIssuer = "lamina-selfsigned"
	RootCA           = "lamina-root-ca"
	CAIssuer         = "lamina-ca"
	ACMEIssuer       = "lamina-acme"
)

// CertManagerArgs configure cert-manager and the issuer.
type CertManagerArgs struct {
	// Chart pins the upstream chart.
	Chart kube.Chart
	// Namespace is cert-manager's name, from the namespaces component. It is also the
	// cluster resource namespace, where a ClusterIssuer's CA secret must live.
	Namespace pulumi.StringInput
	// Issuer is selfsigned-ca, acme or existing.
	Issuer string
	// RootCommonName names the local root CA (selfsigned-ca).
	RootCommonName string
	// ACMEServer and ACMEEmail configure the ACME account (acme).
	ACMEServer, ACMEEmail string
	// ExistingIssuer names a ClusterIssuer that exists in the cluster (existing).
	ExistingIssuer string
}

// CertManager is the release and the issuer for the gateway's certificate.
type CertManager struct {
	pulumi.ResourceState

	// Release installs cert-manager, its CRDs and its webhook.
	Release *kube.HelmRelease
	// IssuerName is the ClusterIssuer that certificates reference.
	IssuerName string
	// Ready is what a Certificate must wait for: the release and the issuer's resources.
	Ready []pulumi.Resource
}

// values are the chart values the program sets (deploy/charts/cert-manager/values.yaml,
// whose schema refuses unknown keys).
type values struct {
	CRDs struct {
		// Enabled installs the CRDs with the release.
		Enabled bool `json:"enabled"`
		// Keep leaves the CRDs, and with them every certificate, when the release goes.
		Keep bool `json:"keep"`
	} `json:"crds"`
}

type issuerRef struct {
	Name  string `json:"name"`
	Kind  string `json:"kind"`
	Group string `json:"group"`
}

type privateKey struct {
	Algorithm      string `json:"algorithm"`
	Size           int    `json:"size"`
	RotationPolicy string `json:"rotationPolicy"`
}

// CertificateSpec is cert-manager.io/v1 Certificate's spec.
type CertificateSpec struct {
	SecretName  string     `json:"secretName"`
	CommonName  string     `json:"commonName,omitempty"`
	DNSNames    []string   `json:"dnsNames,omitempty"`
	IsCA        bool       `json:"isCA,omitempty"`
	Duration    string     `json:"duration"`
	RenewBefore string     `json:"renewBefore"`
	PrivateKey  privateKey `json:"privateKey"`
	IssuerRef   issuerRef  `json:"issuerRef"`
}

// ECDSAKey is a P-256 key, rotated at every renewal.
var ECDSAKey = privateKey{Algorithm: "ECDSA", Size: 256, RotationPolicy: "Always"}

// ClusterIssuerRef refers to a ClusterIssuer.
func ClusterIssuerRef(name string) issuerRef {
	return issuerRef{Name: name, Kind: "ClusterIssuer", Group: "cert-manager.io"}
}

type clusterIssuerSpec struct {
	SelfSigned *struct{} `json:"selfSigned,omitempty"`
	CA         *struct {
		SecretName string `json:"secretName"`
	} `json:"ca,omitempty"`
	ACME *acmeSpec `json:"acme,omitempty"`
}

type acmeSpec struct {
	Server              string `json:"server"`
	Email               string `json:"email"`
	PrivateKeySecretRef struct {
		Name string `json:"name"`
	} `json:"privateKeySecretRef"`
	Solvers []acmeSolver `json:"solvers"`
}

// acmeSolver answers HTTP-01 challenges through Istio's Kubernetes Ingress support.
type acmeSolver struct {
	HTTP01 struct {
		Ingress struct {
			IngressClassName string `json:"ingressClassName"`
		} `json:"ingress"`
	} `json:"http01"`
}

// IssuerName is the ClusterIssuer that certificates reference for an issuer kind
// (selfsigned-ca, acme or existing, with existing's name): also what a stack sharing
// the platform's issuer signs its gateway certificate with.
func IssuerName(kind, existing string) string {
	switch kind {
	case SelfSignedCA:
		return CAIssuer
	case ACME:
		return ACMEIssuer
	}
	return existing
}

// NewCertManager installs cert-manager and declares the issuer. Every custom resource
// waits for the release, which waits until the webhook that validates them is ready.
func NewCertManager(ctx *pulumi.Context, name string, args CertManagerArgs, opts ...pulumi.ResourceOption) (*CertManager, error) {
	c := &CertManager{}
	if err := ctx.RegisterComponentResource("lamina:certmanager:CertManager", name, c, opts...); err != nil {
		return nil, err
	}
	var v values
	v.CRDs.Enabled, v.CRDs.Keep = true, true
	var err error
	c.Release, err = kube.Release(ctx, ReleaseName, args.Chart, args.Namespace, v, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	c.Ready = []pulumi.Resource{c.Release}
	clusterIssuer := func(resource, issuer string, spec clusterIssuerSpec, deps ...pulumi.Resource) error {
		r, err := kube.CustomResource(ctx, name+"-"+resource, "cert-manager.io/v1", "ClusterIssuer",
			&metav1.ObjectMetaArgs{Name: pulumi.String(issuer), Labels: kube.Labels(nil)}, spec,
			pulumi.Parent(c), pulumi.DependsOn(append([]pulumi.Resource{c.Release}, deps...)))
		if err == nil {
			c.Ready = append(c.Ready, r)
		}
		return err
	}

	switch args.Issuer {
	case SelfSignedCA:
		// A self-signed issuer signs the root; the root's secret lives in the cluster
		// resource namespace, where the CA ClusterIssuer looks for it.
		if err := clusterIssuer("selfsigned", SelfSignedIssuer, clusterIssuerSpec{SelfSigned: &struct{}{}}); err != nil {
			return nil, err
		}
		root, err := kube.CustomResource(ctx, name+"-root-ca", "cert-manager.io/v1", "Certificate",
			kube.Meta(RootCA, args.Namespace, nil),
			CertificateSpec{
				SecretName: RootCA, CommonName: args.RootCommonName, IsCA: true,
				Duration: "87600h", RenewBefore: "720h", // ten years, renewed a month ahead
				PrivateKey: ECDSAKey, IssuerRef: ClusterIssuerRef(SelfSignedIssuer),
			},
			pulumi.Parent(c), pulumi.DependsOn(c.Ready))
		if err != nil {
			return nil, err
		}
		ca := clusterIssuerSpec{CA: &struct {
			SecretName string `json:"secretName"`
		}{SecretName: RootCA}}
		if err := clusterIssuer("ca", CAIssuer, ca, root); err != nil {
			return nil, err
		}
	case ACME:
		spec := &acmeSpec{Server: args.ACMEServer, Email: args.ACMEEmail}
		spec.PrivateKeySecretRef.Name = ACMEIssuer + "-account"
		var solver acmeSolver
		solver.HTTP01.Ingress.IngressClassName = "istio"
		spec.Solvers = []acmeSolver{solver}
		if err := clusterIssuer("acme", ACMEIssuer, clusterIssuerSpec{ACME: spec}); err != nil {
			return nil, err
		}
	}
	c.IssuerName = IssuerName(args.Issuer, args.ExistingIssuer)
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"issuer": pulumi.String(c.IssuerName)}); err != nil {
		return nil, err
	}
	return c, nil
}
