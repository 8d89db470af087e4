// Package edge provides Edge: the gateway's certificate, the Istio Gateway (HTTPS with
// the certificate, HTTP redirecting to HTTPS) and one VirtualService per hostname.
package edge

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/lamina-os/lamina-infra/components/certmanager"
	"github.com/lamina-os/lamina-infra/components/network"
	"github.com/lamina-os/lamina-infra/internal/kube"
)

// Names of what the component declares, unless EdgeArgs.Name says otherwise.
const (
	GatewayName = "lamina-gateway"
	// TLSSecret holds the gateway's certificate, in the gateway's own namespace: Istio
	// reads a credentialName only from the namespace of the gateway's pods.
	TLSSecret = "lamina-gateway-tls"
)

// EdgeArgs configure the edge.
type EdgeArgs struct {
	// Name names the Gateway and its Certificate (GatewayName when empty), and the
	// certificate's Secret is Name-tls: unique in the gateway's namespace, which the
	// edges of stacks sharing one gateway all use.
	Name string
	// Namespace is the gateway's namespace (name output), GatewayNamespace its name.
	Namespace        pulumi.StringInput
	GatewayNamespace string
	// Selector selects the gateway's pods.
	Selector map[string]string
	// Gateway is the gateway's pods and identity: each route opens a flow from it to the
	// Service's pods.
	Gateway network.Peer
	// Domain is appended to every route's host.
	Domain string
	// Routes are the hostnames the components serve (network.Collect), in any order.
	Routes []network.Route
	// NamespaceNames are the namespaces' names as outputs of the namespaces component.
	NamespaceNames map[string]pulumi.StringOutput
	// Issuer is the ClusterIssuer signing the certificate, IssuerReady what the
	// certificate waits for (the issuer and cert-manager's release).
	Issuer      string
	IssuerReady []pulumi.Resource
	// IstioReady is what Istio's custom resources wait for (CRDs and istiod).
	IstioReady []pulumi.Resource
}

// Edge is the HTTPS entry to the platform.
type Edge struct {
	pulumi.ResourceState

	// URLs maps each route's host label to its https:// URL.
	URLs map[string]string

	// The flows from the gateway to every Service behind a hostname.
	network.Declaration
}

var hostLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// URL is the https:// URL of host under domain, as the edge serves it.
func URL(domain, host string) string { return "https://" + host + "." + domain }

type server struct {
	Port  port     `json:"port"`
	Hosts []string `json:"hosts"`
	TLS   tls      `json:"tls"`
}

type port struct {
	Number   int    `json:"number"`
	Name     string `json:"name"`
	Protocol string `json:"protocol"`
}

type tls struct {
	Mode           string `json:"mode,omitempty"`
	CredentialName string `json:"credentialName,omitempty"`
	HTTPSRedirect  bool   `json:"httpsRedirect,omitempty"`
	MinProtocol    string `json:"minProtocolVersion,omitempty"`
}

type gatewaySpec struct {
	Selector map[string]string `json:"selector"`
	Servers  []server          `json:"servers"`
}

type destination struct {
	Host string `json:"host"`
	Port struct {
		Number int `json:"number"`
	} `json:"port"`
}

type httpRoute struct {
	Route []struct {
		Destination destination `json:"destination"`
	} `json:"route"`
}

type virtualServiceSpec struct {
	Hosts    []string    `json:"hosts"`
	Gateways []string    `json:"gateways"`
	HTTP     []httpRoute `json:"http"`
}

// NewEdge declares the certificate, the gateway and the routes.
func NewEdge(ctx *pulumi.Context, name string, args EdgeArgs, opts ...pulumi.ResourceOption) (*Edge, error) {
	c := &Edge{URLs: map[string]string{}}
	if err := ctx.RegisterComponentResource("lamina:edge:Edge", name, c, opts...); err != nil {
		return nil, err
	}
	if len(args.Routes) == 0 {
		return nil, fmt.Errorf("edge %s: no component serves a hostname; the gateway needs at least one", name)
	}
	gatewayName, tlsSecret := GatewayName, TLSSecret
	if args.Name != "" {
		gatewayName, tlsSecret = args.Name, args.Name+"-tls"
	}
	routes := slices.SortedFunc(slices.Values(args.Routes), func(a, b network.Route) int { return strings.Compare(a.Host, b.Host) })
	var hosts []string
	for _, r := range routes {
		if !hostLabel.MatchString(r.Host) {
			return nil, fmt.Errorf("edge %s: route %q: the host is not a DNS label", name, r.Host)
		}
		if _, ok := args.NamespaceNames[r.Namespace]; !ok {
			return nil, fmt.Errorf("edge %s: route %q: namespace %q is not one the platform declares", name, r.Host, r.Namespace)
		}
		host := r.Host + "." + args.Domain
		hosts = append(hosts, host)
		c.URLs[r.Host] = URL(args.Domain, r.Host)
		c.Open(network.Flow{Name: "gateway-to-" + r.Host, From: args.Gateway, To: network.App(r.Namespace, r.Service)})
	}
	cert, err := kube.CustomResource(ctx, name+"-certificate", "cert-manager.io/v1", "Certificate",
		kube.Meta(gatewayName, args.Namespace, nil),
		certmanager.CertificateSpec{
			SecretName: tlsSecret, CommonName: hosts[0], DNSNames: hosts,
			Duration: "2160h", RenewBefore: "360h", // 90 days, renewed 15 days ahead
			PrivateKey: certmanager.ECDSAKey, IssuerRef: certmanager.ClusterIssuerRef(args.Issuer),
		},
		pulumi.Parent(c), pulumi.DependsOn(args.IssuerReady))
	if err != nil {
		return nil, err
	}
	gw := gatewaySpec{Selector: args.Selector, Servers: []server{
		{Port: port{443, "https", "HTTPS"}, Hosts: hosts, TLS: tls{Mode: "SIMPLE", CredentialName: tlsSecret, MinProtocol: "TLSV1_2"}},
		{Port: port{80, "http", "HTTP"}, Hosts: hosts, TLS: tls{HTTPSRedirect: true}},
	}}
	gateway, err := kube.CustomResource(ctx, name+"-gateway", "networking.istio.io/v1", "Gateway",
		kube.Meta(gatewayName, args.Namespace, nil), gw,
		pulumi.Parent(c), pulumi.DependsOn(append([]pulumi.Resource{cert}, args.IstioReady...)))
	if err != nil {
		return nil, err
	}
	for i, r := range routes {
		var route httpRoute
		route.Route = make([]struct {
			Destination destination `json:"destination"`
		}, 1)
		route.Route[0].Destination.Host = kube.ServiceHost(r.Service, r.Namespace)
		route.Route[0].Destination.Port.Number = r.Port
		vs := virtualServiceSpec{
			Hosts:    []string{hosts[i]},
			Gateways: []string{args.GatewayNamespace + "/" + gatewayName},
			HTTP:     []httpRoute{route},
		}
		if _, err := kube.CustomResource(ctx, name+"-"+r.Host, "networking.istio.io/v1", "VirtualService",
			kube.Meta(r.Host, args.NamespaceNames[r.Namespace], nil), vs,
			pulumi.Parent(c), pulumi.DependsOn(append([]pulumi.Resource{gateway}, args.IstioReady...))); err != nil {
			return nil, err
		}
	}
	urls := pulumi.StringMap{}
	for k, v := range c.URLs {
		urls[k] = pulumi.String(v)
	}
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"urls": urls}); err != nil {
		return nil, err
	}
	return c, nil
}
