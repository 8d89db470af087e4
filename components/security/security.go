// Package security provides NetworkSecurity: default-deny authorization (Istio) and
// default-deny network policy (Kubernetes) per namespace, then exactly the flows the
// components declare (package network), each as the NetworkPolicies on both ends and,
// where the caller has a mesh identity, an Istio ALLOW policy naming it.
package security

import (
	"fmt"
	"slices"
	"strings"

	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/lamina-os/lamina-infra/components/network"
	"github.com/lamina-os/lamina-infra/internal/kube"
)

// NetworkSecurityArgs say which namespaces are closed and what may flow.
type NetworkSecurityArgs struct {
	// Authorized namespaces get a default-deny AuthorizationPolicy.
	Authorized []string
	// Policed namespaces get a default-deny NetworkPolicy for ingress and egress.
	Policed []string
	// Joined namespaces are another stack's, closed by that stack (the platform a
	// shared stack joins): they get this stack's flows only, both kinds of policy, each
	// named JoinedPrefix-<flow> so as not to replace the other stack's.
	Joined       []string
	JoinedPrefix string
	// NamespaceNames are the namespaces' names as outputs of the namespaces component.
	NamespaceNames map[string]pulumi.StringOutput
	// TrustDomain is the mesh's SPIFFE trust domain (cluster.local).
	TrustDomain string
	// Flows are every allowed flow, as the components declare them (network.Collect).
	Flows []network.Flow
	// DNS is the cluster's DNS server, which every policed namespace keeps reaching.
	DNS network.Endpoint
	// IstioReady is what AuthorizationPolicies wait for (CRDs and istiod).
	IstioReady []pulumi.Resource
}

// NetworkSecurity is the closed-by-default network.
type NetworkSecurity struct {
	pulumi.ResourceState
}

type authorizationPolicySpec struct {
	Selector *struct {
		MatchLabels map[string]string `json:"matchLabels"`
	} `json:"selector,omitempty"`
	Action string `json:"action,omitempty"`
	Rules  []rule `json:"rules,omitempty"`
}

// source names who a rule admits: service accounts (principals) or whole namespaces.
type source struct {
	Principals []string `json:"principals,omitempty"`
	Namespaces []string `json:"namespaces,omitempty"`
}

type rule struct {
	From []struct {
		Source source `json:"source"`
	} `json:"from"`
	To []struct {
		Operation struct {
			Ports []string `json:"ports"`
		} `json:"operation"`
	} `json:"to,omitempty"`
}

// NewNetworkSecurity declares the default-deny policies and the flows.
func NewNetworkSecurity(ctx *pulumi.Context, name string, args NetworkSecurityArgs, opts ...pulumi.ResourceOption) (*NetworkSecurity, error) {
	c := &NetworkSecurity{}
	if err := ctx.RegisterComponentResource("lamina:security:NetworkSecurity", name, c, opts...); err != nil {
		return nil, err
	}
	contains := slices.Contains[[]string]
	joined := func(ns string) bool { return contains(args.Joined, ns) }
	if len(args.Joined) > 0 && args.JoinedPrefix == "" {
		return nil, fmt.Errorf("network security: joined namespaces %v need a prefix for the policies declared in them", args.Joined)
	}
	// object names what a flow's policy is called in namespace ns.
	object := func(ns, policy string) string {
		if joined(ns) {
			return args.JoinedPrefix + "-" + policy
		}
		return policy
	}
	// namespace is ns's name as an input: the namespaces component's output, or for a
	// joined namespace, which another stack declares, its name.
	namespace := func(ns string) pulumi.StringInput {
		if joined(ns) {
			return pulumi.String(ns)
		}
		return args.NamespaceNames[ns]
	}
	// netpol declares the NetworkPolicy named policy in namespace ns.
	netpol := func(ns, policy string, spec *networkingv1.NetworkPolicySpecArgs) error {
		_, err := networkingv1.NewNetworkPolicy(ctx, fmt.Sprintf("%s-%s-%s", name, ns, policy), &networkingv1.NetworkPolicyArgs{
			Metadata: kube.Meta(object(ns, policy), namespace(ns), nil),
			Spec:     spec,
		}, pulumi.Parent(c))
		return err
	}
	// policed and authorized say whether this stack declares a flow's policies in ns.
	policed := func(ns string) bool { return ns != "" && (contains(args.Policed, ns) || joined(ns)) }
	authorized := func(ns string) bool { return ns != "" && (contains(args.Authorized, ns) || joined(ns)) }
	flows := args.Flows
	for _, ns := range args.Policed {
		flows = append(flows, args.DNS.From("dns", network.Namespace(ns)))
	}
	// Two flows whose policies would share a name in one namespace would overwrite each
	// other in the cluster; refuse them before anything is declared.
	seen := map[string]bool{}
	for _, f := range flows {
		for _, end := range []network.Peer{f.From, f.To} {
			if (end.Namespace == "") == (end.CIDR == "") {
				return nil, fmt.Errorf("network security: flow %q has an end with neither a namespace nor an address range, or both", f.Name)
			}
		}
		ends := []string{f.From.Namespace}
		if f.To.Namespace != f.From.Namespace {
			ends = append(ends, f.To.Namespace)
		}
		for _, ns := range ends {
			if !policed(ns) && !authorized(ns) {
				continue
			}
			key := ns + "/" + f.Name
			if seen[key] {
				return nil, fmt.Errorf("network security: flow %q appears twice in namespace %s; flow names must be unique per namespace", f.Name, ns)
			}
			seen[key] = true
		}
	}
	for _, ns := range args.Authorized {
		// An ALLOW policy without rules matches nothing: every request is denied unless
		// another ALLOW policy of the namespace matches it.
		if _, err := kube.CustomResource(ctx, fmt.Sprintf("%s-%s-deny-all", name, ns), "security.istio.io/v1", "AuthorizationPolicy",
			kube.Meta("deny-all", args.NamespaceNames[ns], nil), authorizationPolicySpec{},
			pulumi.Parent(c), pulumi.DependsOn(args.IstioReady)); err != nil {
			return nil, err
		}
	}
	for _, ns := range args.Policed {
		if err := netpol(ns, "default-deny", &networkingv1.NetworkPolicySpecArgs{
			PodSelector: &metav1.LabelSelectorArgs{},
			PolicyTypes: pulumi.StringArray{pulumi.String("Ingress"), pulumi.String("Egress")},
		}); err != nil {
			return nil, err
		}
	}
	for _, f := range flows {
		ports := networkingv1.NetworkPolicyPortArray{}
		var portNames []string
		for _, p := range f.Ports {
			ports = append(ports, &networkingv1.NetworkPolicyPortArgs{Port: pulumi.Int(p.Number), Protocol: pulumi.String(p.Protocol)})
			if p.Protocol == "TCP" {
				portNames = append(portNames, fmt.Sprint(p.Number))
			}
		}
		if policed(f.From.Namespace) {
			if err := netpol(f.From.Namespace, f.Name+"-egress", &networkingv1.NetworkPolicySpecArgs{
				PodSelector: selector(f.From.Pods),
				PolicyTypes: pulumi.StringArray{pulumi.String("Egress")},
				Egress: networkingv1.NetworkPolicyEgressRuleArray{&networkingv1.NetworkPolicyEgressRuleArgs{
					To: networkingv1.NetworkPolicyPeerArray{peer(f.To)}, Ports: ports,
				}},
			}); err != nil {
				return nil, err
			}
		}
		if policed(f.To.Namespace) {
			if err := netpol(f.To.Namespace, f.Name+"-ingress", &networkingv1.NetworkPolicySpecArgs{
				PodSelector: selector(f.To.Pods),
				PolicyTypes: pulumi.StringArray{pulumi.String("Ingress")},
				Ingress: networkingv1.NetworkPolicyIngressRuleArray{&networkingv1.NetworkPolicyIngressRuleArgs{
					From: networkingv1.NetworkPolicyPeerArray{peer(f.From)}, Ports: ports,
				}},
			}); err != nil {
				return nil, err
			}
		}
		if f.From.ServiceAccount != "" && authorized(f.To.Namespace) {
			spec := authorizationPolicySpec{Action: "ALLOW"}
			if len(f.To.Pods) > 0 {
				spec.Selector = &struct {
					MatchLabels map[string]string `json:"matchLabels"`
				}{f.To.Pods}
			}
			var r rule
			r.From = make([]struct {
				Source source `json:"source"`
			}, 1)
			if f.From.ServiceAccount == network.AnyServiceAccount {
				r.From[0].Source.Namespaces = []string{f.From.Namespace}
			} else {
				r.From[0].Source.Principals = []string{Principal(args.TrustDomain, f.From.Namespace, f.From.ServiceAccount)}
			}
			if len(portNames) > 0 {
				r.To = make([]struct {
					Operation struct {
						Ports []string `json:"ports"`
					} `json:"operation"`
				}, 1)
				r.To[0].Operation.Ports = portNames
			}
			spec.Rules = []rule{r}
			if _, err := kube.CustomResource(ctx, fmt.Sprintf("%s-%s-%s-allow", name, f.To.Namespace, f.Name), "security.istio.io/v1", "AuthorizationPolicy",
				kube.Meta(object(f.To.Namespace, f.Name), namespace(f.To.Namespace), nil), spec,
				pulumi.Parent(c), pulumi.DependsOn(args.IstioReady)); err != nil {
				return nil, err
			}
		}
	}
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"flows": pulumi.Int(len(flows))}); err != nil {
		return nil, err
	}
	return c, nil
}

func selector(labels map[string]string) *metav1.LabelSelectorArgs {
	if len(labels) == 0 {
		return &metav1.LabelSelectorArgs{}
	}
	return &metav1.LabelSelectorArgs{MatchLabels: pulumi.ToStringMap(labels)}
}

// peer selects the other end: its namespace by the name label Kubernetes sets on every
// namespace, and its pods; or an address range.
func peer(p network.Peer) *networkingv1.NetworkPolicyPeerArgs {
	if p.CIDR != "" {
		return &networkingv1.NetworkPolicyPeerArgs{IpBlock: &networkingv1.IPBlockArgs{Cidr: pulumi.String(p.CIDR)}}
	}
	out := &networkingv1.NetworkPolicyPeerArgs{
		NamespaceSelector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{"kubernetes.io/metadata.name": pulumi.String(p.Namespace)}},
	}
	if len(p.Pods) > 0 {
		out.PodSelector = selector(p.Pods)
	}
	return out
}

// Principal is the SPIFFE identity Istio gives a service account.
func Principal(trustDomain, namespace, serviceAccount string) string {
	return strings.Join([]string{trustDomain, "ns", namespace, "sa", serviceAccount}, "/")
}
