package storage

import (
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/lamina-os/lamina-infra/internal/kube"
)

// ClaimArgs configure a Claim.
type ClaimArgs struct {
	// ClaimName names the claim in Namespace.
	ClaimName string
	Namespace pulumi.StringInput
	// Size is the volume's capacity, a Kubernetes quantity.
	Size string
	// StorageClass is the class whose provisioner makes the volume.
	StorageClass string
	// AccessMode is ReadWriteOnce, ReadWriteMany or ReadWriteOncePod.
	AccessMode string
}

// Claim is a volume a cluster's provisioner makes: a claim of its StorageClass, on
// whichever node or file system the class provides, with the class's reclaim policy.
// The program never deletes it: `pulumi destroy` leaves the claim, and with it the
// volume and its data, whatever the class's reclaim policy, and the next `up` takes it
// again (the provider's create upserts; pkg/await/await.go).
type Claim struct {
	pulumi.ResourceState

	Claim *corev1.PersistentVolumeClaim
	// ClaimName is the claim's name, for a chart's existingClaim.
	ClaimName pulumi.StringOutput
}

// NewClaim declares the claim. The provider waits until it is Bound, or, with a class
// that binds at the first consumer (local-path-provisioner's), only until it is
// Pending (pulumi-kubernetes pkg/await/awaiters.go untilCoreV1PersistentVolumeClaimReady),
// so the pods that consume it can be declared after it.
func NewClaim(ctx *pulumi.Context, name string, args ClaimArgs, opts ...pulumi.ResourceOption) (*Claim, error) {
	c := &Claim{}
	if err := ctx.RegisterComponentResource("lamina:storage:Claim", name, c, opts...); err != nil {
		return nil, err
	}
	var err error
	c.Claim, err = corev1.NewPersistentVolumeClaim(ctx, name+"-claim", &corev1.PersistentVolumeClaimArgs{
		Metadata: kube.Meta(args.ClaimName, args.Namespace, nil),
		Spec: &corev1.PersistentVolumeClaimSpecArgs{
			AccessModes:      pulumi.StringArray{pulumi.String(args.AccessMode)},
			StorageClassName: pulumi.String(args.StorageClass),
			Resources:        &corev1.VolumeResourceRequirementsArgs{Requests: pulumi.StringMap{"storage": pulumi.String(args.Size)}},
		},
	}, pulumi.Parent(c), pulumi.RetainOnDelete(true))
	if err != nil {
		return nil, err
	}
	c.ClaimName = c.Claim.Metadata.Name().Elem()
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"claimName": c.ClaimName, "storageClass": pulumi.String(args.StorageClass)}); err != nil {
		return nil, err
	}
	return c, nil
}
