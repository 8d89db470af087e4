package security_test

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"

	"github.com/lamina-os/lamina-infra/components/network"
	"github.com/lamina-os/lamina-infra/components/security"
	"github.com/lamina-os/lamina-infra/internal/recorder"
)

// A flow whose end names no namespace and no address range would select every
// namespace's pods (an empty name label) or nothing: it is refused, naming the flow,
// before anything is declared. An API server endpoint built without the nodes' range
// was one.
func TestAFlowToNowhereIsRefused(t *testing.T) {
	for name, api := range map[string]network.Endpoint{
		"neither": {Ports: network.TCP(6443)},
		"both":    {Peer: network.Peer{Namespace: "kube-system", CIDR: "192.168.64.0/24"}, Ports: network.TCP(6443)},
	} {
		t.Run(name, func(t *testing.T) {
			g, err := recorder.Run(recorder.Options{Project: "lamina-infra", Stack: "test", Preview: true}, func(ctx *pulumi.Context) error {
				_, err := security.NewNetworkSecurity(ctx, "network-security", security.NetworkSecurityArgs{
					Policed:        []string{"monitoring"},
					NamespaceNames: map[string]pulumi.StringOutput{"monitoring": pulumi.String("monitoring").ToStringOutput()},
					TrustDomain:    "cluster.local",
					Flows:          []network.Flow{api.From("apiserver", network.Namespace("monitoring"))},
					DNS:            network.Endpoint{Peer: network.Pods("kube-system", map[string]string{"k8s-app": "kube-dns"}), Ports: network.TCP(53)},
				})
				return err
			})
			assert.ErrorContains(t, err, `network security: flow "apiserver" has an end with neither a namespace nor an address range, or both`)
			for _, r := range g.Resources {
				assert.NotEqual(t, "kubernetes:networking.k8s.io/v1:NetworkPolicy", r.Type, "nothing is declared: %s", r.URN)
			}
		})
	}
}
