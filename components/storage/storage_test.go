// Tests of the storage component on its own, under Pulumi's mocks (internal/recorder):
// that a HostVolume is a PersistentVolume on its host directory, pinned to the node,
// retained when released and pre-bound to its claim, and a claim that names the volume
// with the same access mode, class and size; that only the volume waits for what creates
// its directory.
package storage_test

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lamina-os/lamina-infra/components/storage"
	"github.com/lamina-os/lamina-infra/internal/recorder"
	"github.com/lamina-os/lamina-infra/internal/recorder/recordertest"
)

const (
	volumeType = "kubernetes:core/v1:PersistentVolume"
	claimType  = "kubernetes:core/v1:PersistentVolumeClaim"
	jobType    = "kubernetes:batch/v1:Job"
	dirsType   = "test:index:HostDirs"
)

// declare runs NewHostVolume for Grafana's data as a stack declares it, after a resource
// that stands for what creates the directory, and exports the claim's name.
func declare(t *testing.T) *recorder.Graph {
	t.Helper()
	g, err := recorder.Run(recorder.Options{Project: "lamina", Stack: "test"}, func(ctx *pulumi.Context) error {
		var dirs pulumi.CustomResourceState
		if err := ctx.RegisterResource(dirsType, "host-dirs", pulumi.Map{}, &dirs); err != nil {
			return err
		}
		v, err := storage.NewHostVolume(ctx, "grafana-data", storage.HostVolumeArgs{
			VolumeName:   "lamina-development-grafana",
			ClaimName:    "grafana-data",
			Namespace:    pulumi.String("monitoring"),
			Path:         "/Users/me/Lamina Data/development/grafana",
			Size:         "10Gi",
			StorageClass: pulumi.String("lamina-host"),
			Node:         pulumi.String("colima-lamina-development"),
			After:        []pulumi.Resource{&dirs},
		})
		if err != nil {
			return err
		}
		ctx.Export("claimName", v.ClaimName)
		return nil
	})
	require.NoError(t, err)
	return g
}

// The volume is the host directory itself (a local volume on Path), on the node that
// mounts it, kept with its data when its claim goes (Retain), for one node at a time,
// in the cluster's host-directory class, and reserved for its claim by namespace and
// name. Neither it nor the claim is protected or retained on delete: they are only the
// cluster's view of the directory.
func TestVolumeIsTheHostDirectoryOnItsNodeAndIsRetained(t *testing.T) {
	g := declare(t)
	pv := recordertest.Find(t, g, volumeType, "grafana-data-volume")
	assert.Equal(t, map[string]any{"name": "lamina-development-grafana", "labels": map[string]any{
		"app.kubernetes.io/managed-by": "pulumi", "app.kubernetes.io/part-of": "lamina",
	}}, pv.Inputs["metadata"], "cluster-wide: no namespace")
	assert.Equal(t, map[string]any{
		"capacity":                      map[string]any{"storage": "10Gi"},
		"accessModes":                   []any{"ReadWriteOnce"},
		"volumeMode":                    "Filesystem",
		"persistentVolumeReclaimPolicy": "Retain",
		"storageClassName":              "lamina-host",
		"local":                         map[string]any{"path": "/Users/me/Lamina Data/development/grafana"},
		"nodeAffinity": map[string]any{"required": map[string]any{"nodeSelectorTerms": []any{map[string]any{
			"matchExpressions": []any{map[string]any{"key": "kubernetes.io/hostname", "operator": "In", "values": []any{"colima-lamina-development"}}},
		}}}},
		"claimRef": map[string]any{"namespace": "monitoring", "name": "grafana-data"},
	}, pv.Inputs["spec"])

	claim := recordertest.Find(t, g, claimType, "grafana-data-claim")
	for _, r := range []*recorder.Resource{pv, claim} {
		assert.False(t, r.Protect || r.RetainOnDelete, "%s: neither protected nor retained", r.Name)
		assert.Equal(t, "urn:pulumi:test::lamina::lamina:storage:HostVolume::grafana-data", r.Parent, r.Name)
	}
}

// The claim, in its namespace under the name the volume reserves, names the volume
// (volumeName) and asks for what the volume has: one node's access, the same class and
// the same size, so that the two bind to each other and to nothing else. The claim's
// name is the component's output, for a chart's existingClaim.
func TestClaimNamesItsVolumeAndAsksForWhatItHas(t *testing.T) {
	g := declare(t)
	pv := recordertest.Find(t, g, volumeType, "grafana-data-volume")
	claim := recordertest.Find(t, g, claimType, "grafana-data-claim")
	assert.Equal(t, map[string]any{"name": "grafana-data", "namespace": "monitoring", "labels": map[string]any{
		"app.kubernetes.io/managed-by": "pulumi", "app.kubernetes.io/part-of": "lamina",
	}}, claim.Inputs["metadata"])
	assert.Equal(t, map[string]any{
		"volumeName":       "lamina-development-grafana",
		"accessModes":      []any{"ReadWriteOnce"},
		"storageClassName": "lamina-host",
		"resources":        map[string]any{"requests": map[string]any{"storage": "10Gi"}},
	}, claim.Inputs["spec"])
	assert.Equal(t, []string{pv.URN}, claim.Dependencies, "volumeName is the declared volume's name")
	assert.Equal(t, "grafana-data", g.Outputs["claimName"])
}

// Only the volume waits for what creates its directory; the claim waits for the volume
// alone, and so for the directory through it.
func TestVolumeWaitsForItsDirectory(t *testing.T) {
	g := declare(t)
	dirs := recordertest.Find(t, g, dirsType, "host-dirs")
	pv := recordertest.Find(t, g, volumeType, "grafana-data-volume")
	assert.Equal(t, []string{dirs.URN}, pv.Dependencies)
	assert.Equal(t, []string{pv.URN}, recordertest.Find(t, g, claimType, "grafana-data-claim").Dependencies)
}
