// Package metallb provides MetalLB, which gives LoadBalancer Services addresses on the
// network macOS reaches: the upstream chart, an IPAddressPool and an L2Advertisement.
package metallb

import (
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/lamina-os/lamina-infra/internal/kube"
)

// Names of what the component declares.
const (
	ReleaseName = "metallb"
	PoolName    = "lamina"
)

// MetalLBArgs configure MetalLB.
type MetalLBArgs struct {
	// Chart pins the upstream chart.
	Chart kube.Chart
	// Namespace is metallb-system's name, from the namespaces component.
	Namespace pulumi.StringInput
	// Addresses are the pool's ranges or CIDRs.
	Addresses []string
}

// values are the chart values the program sets (charts/metallb/values.yaml).
type values struct {
	// CRDs installs the CRDs with the release.
	CRDs struct {
		Enabled bool `json:"enabled"`
	} `json:"crds"`
	// Speaker runs in native L2 mode; FRR (BGP) is not needed for one VM.
	Speaker struct {
		FRR struct {
			Enabled bool `json:"enabled"`
		} `json:"frr"`
	} `json:"speaker"`
}

// MetalLB is the release and its address pool.
type MetalLB struct {
	pulumi.ResourceState

	// Release installs the controller, the speaker, the CRDs and the webhook.
	Release *kube.HelmRelease
	// Pool and Advertisement are the custom resources that hand out and announce addresses.
	Pool, Advertisement *apiextensions.CustomResource
}

// ipAddressPoolSpec is metallb.io/v1beta1 IPAddressPool's spec.
type ipAddressPoolSpec struct {
	Addresses  []string `json:"addresses"`
	AutoAssign bool     `json:"autoAssign"`
	// AvoidBuggyIPs skips .0 and .255 addresses, which some clients mishandle.
	AvoidBuggyIPs bool `json:"avoidBuggyIPs"`
}

// l2AdvertisementSpec is metallb.io/v1beta1 L2Advertisement's spec.
type l2AdvertisementSpec struct {
	IPAddressPools []string `json:"ipAddressPools"`
}

// NewMetalLB installs MetalLB and declares the pool. The custom resources wait for the
// release, which waits (Helm --wait) until the controller, and with it the webhook that
// validates them, is ready.
func NewMetalLB(ctx *pulumi.Context, name string, args MetalLBArgs, opts ...pulumi.ResourceOption) (*MetalLB, error) {
	c := &MetalLB{}
	if err := ctx.RegisterComponentResource("lamina:metallb:MetalLB", name, c, opts...); err != nil {
		return nil, err
	}
	var v values
	v.CRDs.Enabled = true
	v.Speaker.FRR.Enabled = false
	var err error
	c.Release, err = kube.Release(ctx, ReleaseName, args.Chart, args.Namespace, v, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	after := pulumi.DependsOn([]pulumi.Resource{c.Release})
	c.Pool, err = kube.CustomResource(ctx, name+"-pool", "metallb.io/v1beta1", "IPAddressPool",
		kube.Meta(PoolName, args.Namespace, nil),
		ipAddressPoolSpec{Addresses: args.Addresses, AutoAssign: true, AvoidBuggyIPs: true},
		pulumi.Parent(c), after)
	if err != nil {
		return nil, err
	}
	c.Advertisement, err = kube.CustomResource(ctx, name+"-l2", "metallb.io/v1beta1", "L2Advertisement",
		kube.Meta(PoolName, args.Namespace, nil),
		l2AdvertisementSpec{IPAddressPools: []string{PoolName}},
		pulumi.Parent(c), after, pulumi.DependsOn([]pulumi.Resource{c.Pool}))
	if err != nil {
		return nil, err
	}
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"pool": pulumi.String(PoolName)}); err != nil {
		return nil, err
	}
	return c, nil
}
