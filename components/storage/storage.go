// Package storage provides HostVolume: a PersistentVolume on a directory of the host's
// data directory, which the VM mounts at the same path, and the claim bound to it.
package storage

import (
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/lamina-os/lamina-infra/internal/kube"
	"github.com/lamina-os/lamina-infra/internal/spec"
)

// HostnameLabel is the node label a volume's node affinity selects on.
const HostnameLabel = spec.HostnameLabel

// HostVolumeArgs configure a HostVolume.
type HostVolumeArgs struct {
	// VolumeName names the PersistentVolume (cluster-wide); ClaimName names the claim in
	// Namespace.
	VolumeName, ClaimName string
	// Namespace is the claim's namespace.
	Namespace pulumi.StringInput
	// Path is the directory on the node, under the data directory the VM mounts.
	Path string
	// Size is the volume's capacity, a Kubernetes quantity.
	Size string
	// StorageClass is the cluster's StorageClass for host-directory volumes.
	StorageClass pulumi.StringInput
	// Node is the node whose mount holds Path: this stack's VM.
	Node pulumi.StringInput
	// After is what creates Path: the command that makes the host data directories.
	After []pulumi.Resource
}

// HostVolume is the volume and its claim. They are only the cluster's view of a host
// directory, so `pulumi destroy` deletes them like everything else in the cluster, and
// the next `up` declares them anew, Available and then Bound: the data on the host
// outlives them (reclaim policy Retain, and no provisioner deletes a local volume's
// directory). Keeping them instead (retainOnDelete) would leave a volume Released, bound
// to a claim that no longer exists, which no later claim can bind.
type HostVolume struct {
	pulumi.ResourceState

	Volume *corev1.PersistentVolume
	Claim  *corev1.PersistentVolumeClaim
	// ClaimName is the claim's name, for a chart's existingClaim.
	ClaimName pulumi.StringOutput
}

// NewHostVolume declares the volume, pre-bound to its claim so that no other claim can
// take it, and the claim, which names the volume: they bind as soon as both exist.
func NewHostVolume(ctx *pulumi.Context, name string, args HostVolumeArgs, opts ...pulumi.ResourceOption) (*HostVolume, error) {
	v := &HostVolume{}
	if err := ctx.RegisterComponentResource("lamina:storage:HostVolume", name, v, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(v)
	volumeOpts := []pulumi.ResourceOption{parent, pulumi.DependsOn(args.After)}
	capacity := pulumi.StringMap{"storage": pulumi.String(args.Size)}
	rwo := pulumi.StringArray{pulumi.String("ReadWriteOnce")}
	var err error
	v.Volume, err = corev1.NewPersistentVolume(ctx, name+"-volume", &corev1.PersistentVolumeArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(args.VolumeName), Labels: kube.Labels(nil)},
		Spec: &corev1.PersistentVolumeSpecArgs{
			Capacity:                      capacity,
			AccessModes:                   rwo,
			VolumeMode:                    pulumi.String("Filesystem"),
			PersistentVolumeReclaimPolicy: pulumi.String("Retain"),
			StorageClassName:              args.StorageClass,
			Local:                         &corev1.LocalVolumeSourceArgs{Path: pulumi.String(args.Path)},
			NodeAffinity: &corev1.VolumeNodeAffinityArgs{Required: &corev1.NodeSelectorArgs{
				NodeSelectorTerms: corev1.NodeSelectorTermArray{&corev1.NodeSelectorTermArgs{
					MatchExpressions: corev1.NodeSelectorRequirementArray{&corev1.NodeSelectorRequirementArgs{
						Key: pulumi.String(HostnameLabel), Operator: pulumi.String("In"),
						Values: pulumi.StringArray{args.Node},
					}},
				}},
			}},
			ClaimRef: &corev1.ObjectReferenceArgs{Namespace: args.Namespace, Name: pulumi.String(args.ClaimName)},
		},
	}, volumeOpts...)
	if err != nil {
		return nil, err
	}
	v.Claim, err = corev1.NewPersistentVolumeClaim(ctx, name+"-claim", &corev1.PersistentVolumeClaimArgs{
		Metadata: kube.Meta(args.ClaimName, args.Namespace, nil),
		Spec: &corev1.PersistentVolumeClaimSpecArgs{
			AccessModes:      rwo,
			StorageClassName: args.StorageClass,
			VolumeName:       v.Volume.Metadata.Name().Elem(),
			Resources:        &corev1.VolumeResourceRequirementsArgs{Requests: capacity},
		},
	}, parent)
	if err != nil {
		return nil, err
	}
	v.ClaimName = v.Claim.Metadata.Name().Elem()
	if err := ctx.RegisterResourceOutputs(v, pulumi.Map{"claimName": v.ClaimName, "path": pulumi.String(args.Path)}); err != nil {
		return nil, err
	}
	return v, nil
}
