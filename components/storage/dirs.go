package storage

import (
	_ "embed"

	batchv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/batch/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/lamina-os/lamina-infra/internal/kube"
	"github.com/lamina-os/lamina-infra/internal/shell"
)

// DataDirsPart creates the host data directory and its subdirectories, private to their
// owner and writable by every pod; it reads LAMINA_DATA_DIR and LAMINA_DATA_SUBDIRS and
// prints nothing to stdout. It is a part of a script: on a Mac the Colima VM's command
// runs it first, before the VM starts (one step, not two in a row).
//
//go:embed data-dirs.sh
var DataDirsPart string

// DataDirsScript is DataDirsPart as a whole script: on an existing cluster HostDirs runs
// it on the node.
var DataDirsScript = shell.Script("create the host data directories", DataDirsPart)

// Where HostDirs runs: kube-system exists on every cluster, is outside the mesh, and
// lets a pod mount the node's directories as root (it enforces no Pod Security level).
const (
	HostDirsNamespace = "kube-system"
	HostDirsName      = "lamina-host-dirs"
	// HostDirsImage has bash, mkdir and chmod, which the script needs.
	HostDirsImage = "docker.io/library/bash:5.2.37"
)

// HostDirsArgs say which directories to create on which node.
type HostDirsArgs struct {
	// Dir is the host data directory on the node; Subdirs its subdirectories.
	Dir     string
	Subdirs []string
	// Node is the node whose directories the volumes use.
	Node pulumi.StringInput
}

// NewHostDirs creates the host data directories on a node of an existing cluster, where
// nothing on this Mac can: a Job that runs DataDirsScript as root with the directory
// mounted from the node at the same path. It never deletes anything; deleting the Job
// leaves the directories.
func NewHostDirs(ctx *pulumi.Context, name string, args HostDirsArgs, opts ...pulumi.ResourceOption) (*batchv1.Job, error) {
	root := pulumi.Int(0)
	return batchv1.NewJob(ctx, name, &batchv1.JobArgs{
		Metadata: kube.Meta(HostDirsName, pulumi.String(HostDirsNamespace), nil),
		Spec: &batchv1.JobSpecArgs{
			BackoffLimit: pulumi.Int(2),
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{
					Labels:      kube.Labels(map[string]string{"app.kubernetes.io/name": HostDirsName}),
					Annotations: pulumi.StringMap{"sidecar.istio.io/inject": pulumi.String("false")},
				},
				Spec: &corev1.PodSpecArgs{
					RestartPolicy:                pulumi.String("Never"),
					AutomountServiceAccountToken: pulumi.Bool(false),
					NodeSelector:                 pulumi.StringMap{HostnameLabel: args.Node},
					Containers: corev1.ContainerArray{&corev1.ContainerArgs{
						Name:    pulumi.String("dirs"),
						Image:   pulumi.String(HostDirsImage),
						Command: pulumi.ToStringArray([]string{"bash", "-c", DataDirsScript}),
						Env: corev1.EnvVarArray{
							&corev1.EnvVarArgs{Name: pulumi.String("LAMINA_DATA_DIR"), Value: pulumi.String(args.Dir)},
							&corev1.EnvVarArgs{Name: pulumi.String("LAMINA_DATA_SUBDIRS"), Value: pulumi.String(shell.Lines(args.Subdirs))},
						},
						// Root: the node's directories are root's; the policy pack warns, rightly.
						SecurityContext: &corev1.SecurityContextArgs{RunAsUser: root, RunAsNonRoot: pulumi.Bool(false)},
						Resources: &corev1.ResourceRequirementsArgs{
							Requests: pulumi.StringMap{"cpu": pulumi.String("10m"), "memory": pulumi.String("16Mi")},
							Limits:   pulumi.StringMap{"cpu": pulumi.String("100m"), "memory": pulumi.String("64Mi")},
						},
						VolumeMounts: corev1.VolumeMountArray{&corev1.VolumeMountArgs{
							Name: pulumi.String("data"), MountPath: pulumi.String(args.Dir),
						}},
					}},
					Volumes: corev1.VolumeArray{&corev1.VolumeArgs{
						Name:     pulumi.String("data"),
						HostPath: &corev1.HostPathVolumeSourceArgs{Path: pulumi.String(args.Dir), Type: pulumi.String("DirectoryOrCreate")},
					}},
				},
			},
		},
	}, opts...)
}
