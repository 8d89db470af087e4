// Package buildtier provides BuildTier: the checks of one commit of the Lamina checkout,
// run as a Kubernetes Job in the build environment's image (ADR-0011's lamina-build).
//
// `pulumi up` exports the commit's tree on this Mac into the data directory the VM
// mounts, and the Job's pod reads it through a volume on that directory: read-only,
// copied into an emptyDir where the checks may write. The pod meets Pod Security
// restricted and is in the mesh with a native sidecar (an init container that keeps
// running), so the Job completes when the checks exit. The provider waits for the Job:
// a failing check fails the `up`, and the Job stays, with its logs, until another commit
// replaces it.
package buildtier

import (
	_ "embed"
	"fmt"
	"path"
	"strconv"
	"time"

	"github.com/pulumi/pulumi-command/sdk/go/command/local"
	batchv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/batch/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/lamina-os/lamina-infra/components/storage"
	"github.com/lamina-os/lamina-infra/components/workload"
	"github.com/lamina-os/lamina-infra/internal/kube"
	"github.com/lamina-os/lamina-infra/internal/shell"
)

// exportPart exports a commit's tree; it follows storage.DataDirsPart, which creates
// the build directories.
//
//go:embed export-commit.sh
var exportPart string

// ExportScript creates the build directories and exports the commit's tree.
var ExportScript = shell.Script("export a commit for the build tier", storage.DataDirsPart, exportPart)

// Names and paths of the check's pod.
const (
	// Name is the check's ServiceAccount (its mesh identity) and its pods' AppLabel.
	Name = "lamina-check"
	// SourceMount holds the commit's tree, read-only; WorkMount the copy the checks run
	// in; CacheMount the dependency cache, which outlives the pod.
	SourceMount = "/src"
	WorkMount   = "/workspace"
	CacheMount  = "/cache"
	// NativeSidecarAnnotation makes Istio inject its proxy as a native sidecar, which
	// the kubelet stops once the Job's container exits.
	NativeSidecarAnnotation = "sidecar.istio.io/nativeSidecar"
)

// RunScript is what the check's container runs before the command: a writable copy of
// the tree, entered. The command follows as its arguments ("$@").
const RunScript = `set -eu; cp -R ` + SourceMount + `/. ` + WorkMount + `/; cd ` + WorkMount + `; exec "$@"`

// Subdirectories of the build directory (data.dir/build).
var Subdirs = []string{"sources", "cache"}

// ExportEnvironment is what ExportScript reads to export commit of checkout into the
// build directory buildDir of dataDir, creating the directories first.
func ExportEnvironment(dataDir, buildDir, checkout, commit string) map[string]string {
	dirs := []string{buildDir}
	for _, sub := range Subdirs {
		dirs = append(dirs, path.Join(buildDir, sub))
	}
	return map[string]string{
		"LAMINA_DATA_DIR":     dataDir,
		"LAMINA_DATA_SUBDIRS": shell.Lines(dirs),
		"LAMINA_CHECKOUT":     checkout,
		"LAMINA_COMMIT":       commit,
		"LAMINA_BUILD_DIR":    path.Join(dataDir, buildDir),
	}
}

// SourceDir is where commit's tree is exported, below the build directory.
func SourceDir(commit string) string { return path.Join("sources", commit) }

// CheckCommand is the check container's command line: RunScript, then command.
func CheckCommand(command []string) []string {
	return append([]string{"/bin/sh", "-c", RunScript, "check"}, command...)
}

// CheckEnvironment is the check's environment, in order: the commit, and uv resolving
// from the image and the cache only, since no registry is reachable.
func CheckEnvironment(commit string) [][2]string {
	return [][2]string{
		{"LAMINA_COMMIT", commit},
		{"UV_CACHE_DIR", CacheMount + "/uv"},
		{"UV_OFFLINE", "1"},
		{"HOME", WorkMount},
	}
}

// LocalCheck is the same check run by the Docker daemon the image was built on (the
// VM's, from this Mac): `make check` in the build environment, as the Job runs it.
type LocalCheck struct {
	// Image is the build environment's image; BuildDir the build directory on the
	// Mac (data.dir/build), which the VM mounts at the same path.
	Image, BuildDir, Commit string
	Command                 []string
	RunAsUser, RunAsGroup   int
	// CPUs and MemoryBytes bound the container as the Job's limits do.
	CPUs        float64
	MemoryBytes int64
}

// DockerRunArgs are the arguments of `docker run` for c: the Job's command, environment,
// user and mounts, no network at all, no capability and no privilege escalation.
func DockerRunArgs(c LocalCheck) []string {
	bind := func(src, dst, opt string) string { return "type=bind,src=" + src + ",dst=" + dst + opt }
	args := []string{"run", "--rm", "--network", "none",
		"--user", fmt.Sprintf("%d:%d", c.RunAsUser, c.RunAsGroup),
		"--cap-drop", "ALL", "--security-opt", "no-new-privileges",
		"--cpus", strconv.FormatFloat(c.CPUs, 'f', -1, 64), "--memory", strconv.FormatInt(c.MemoryBytes, 10),
		"--mount", bind(path.Join(c.BuildDir, SourceDir(c.Commit)), SourceMount, ",readonly"),
		"--mount", bind(path.Join(c.BuildDir, "cache"), CacheMount, ""),
		// The copy of the tree, writable by the check's user whatever the image has at
		// that path, and its scripts executable, as the Job's emptyDir is: Docker's
		// tmpfs mounts are noexec, and runc gives a tmpfs the mode of the directory it
		// covers (a root-owned 0755 WORKDIR), so the user is made its owner.
		"--tmpfs", fmt.Sprintf("%s:exec,uid=%d,gid=%d,mode=0700", WorkMount, c.RunAsUser, c.RunAsGroup),
	}
	for _, e := range CheckEnvironment(c.Commit) {
		args = append(args, "--env", e[0]+"="+e[1])
	}
	return append(append(args, c.Image), CheckCommand(c.Command)...)
}

// JobName is the name of the Job that checks commit.
func JobName(commit string) string { return "check-" + commit[:12] }

// BuildTierArgs configure the build tier.
type BuildTierArgs struct {
	// Namespace is lamina-build, as the namespaces component's output.
	Namespace pulumi.StringInput
	// Image is the build environment's image, and PullPolicy how the node gets it.
	Image      pulumi.StringInput
	PullPolicy string
	// Checkout is the Lamina OS checkout on this Mac, an absolute path; Commit the full
	// ID of the commit to check, or empty for none.
	Checkout, Commit string
	// DataDir is the stack's data directory; the build directory is DataDir/build.
	DataDir  string
	BuildDir string
	// Command is what runs in the copy of the tree.
	Command []string
	// Resources are the check's requests and limits; RunAsUser and RunAsGroup its user
	// and group.
	Resources             kube.Resources
	RunAsUser, RunAsGroup int
	// Timeout bounds the check; the provider waits a minute longer.
	Timeout time.Duration
	// VolumeName names the build directory's PersistentVolume (cluster-wide); StorageClass
	// and Node are the cluster's for host-directory volumes.
	VolumeName   string
	StorageClass pulumi.StringInput
	Node         pulumi.StringInput
	// DependsOn are what the pod needs first (istio.Istio.Sidecars).
	DependsOn []pulumi.Resource
}

// BuildTier is the build directory, its volume, the check's identity and, with a
// commit, the commit's tree and the Job.
type BuildTier struct {
	pulumi.ResourceState

	// Export creates the build directories and exports the commit's tree.
	Export         *local.Command
	Volume         *storage.HostVolume
	ServiceAccount *corev1.ServiceAccount
	// Job is nil without a commit.
	Job *batchv1.Job
}

// NewBuildTier declares the build tier. The Kubernetes provider comes with opts.
func NewBuildTier(ctx *pulumi.Context, name string, args BuildTierArgs, opts ...pulumi.ResourceOption) (*BuildTier, error) {
	b := &BuildTier{}
	if err := ctx.RegisterComponentResource("lamina:buildtier:BuildTier", name, b, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(b)
	buildDir := path.Join(args.DataDir, args.BuildDir)
	// On this Mac (local.Command takes no Kubernetes provider): the build directories,
	// then the commit's tree.
	var err error
	if b.Export, err = local.NewCommand(ctx, name+"-export", &local.CommandArgs{
		Interpreter: pulumi.ToStringArray(shell.Interpreter),
		Create:      pulumi.String(ExportScript),
		Environment: pulumi.ToStringMap(ExportEnvironment(args.DataDir, args.BuildDir, args.Checkout, args.Commit)),
	}, parent); err != nil {
		return nil, err
	}
	claim := args.BuildDir + "-data"
	if b.Volume, err = storage.NewHostVolume(ctx, name+"-data", storage.HostVolumeArgs{
		VolumeName:   args.VolumeName,
		ClaimName:    claim,
		Namespace:    args.Namespace,
		Path:         buildDir,
		Size:         "100Gi",
		StorageClass: args.StorageClass,
		Node:         args.Node,
		After:        []pulumi.Resource{b.Export},
	}, parent); err != nil {
		return nil, err
	}
	selector := map[string]string{workload.AppLabel: Name}
	if b.ServiceAccount, err = corev1.NewServiceAccount(ctx, name+"-sa", &corev1.ServiceAccountArgs{
		Metadata:                     kube.Meta(Name, args.Namespace, selector),
		AutomountServiceAccountToken: pulumi.Bool(false),
	}, parent); err != nil {
		return nil, err
	}
	if args.Commit == "" {
		return b, ctx.RegisterResourceOutputs(b, pulumi.Map{})
	}

	job := JobName(args.Commit)
	var env corev1.EnvVarArray
	for _, e := range CheckEnvironment(args.Commit) {
		env = append(env, workload.EnvVar(e[0], e[1]))
	}
	deadline := int(args.Timeout / time.Second)
	wait := (args.Timeout + time.Minute).String()
	volume := func(name, sub, mount string, readOnly bool) *corev1.VolumeMountArgs {
		m := &corev1.VolumeMountArgs{Name: pulumi.String(name), SubPath: pulumi.String(sub), MountPath: pulumi.String(mount)}
		if readOnly {
			// Only then: the API server drops a false readOnly, which the provider
			// would then see as a change on every preview.
			m.ReadOnly = pulumi.Bool(true)
		}
		return m
	}
	if b.Job, err = batchv1.NewJob(ctx, name+"-check", &batchv1.JobArgs{
		Metadata: kube.Meta(job, args.Namespace, map[string]string{"lamina.io/commit": args.Commit}),
		Spec: &batchv1.JobSpecArgs{
			// A failed check is the commit's result, not a flake to retry.
			BackoffLimit:          pulumi.Int(0),
			ActiveDeadlineSeconds: pulumi.Int(deadline),
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{
					Labels:      kube.Labels(selector),
					Annotations: pulumi.StringMap{NativeSidecarAnnotation: pulumi.String("true")},
				},
				Spec: &corev1.PodSpecArgs{
					RestartPolicy:                pulumi.String("Never"),
					ServiceAccountName:           b.ServiceAccount.Metadata.Name().Elem(),
					AutomountServiceAccountToken: pulumi.Bool(false),
					SecurityContext:              workload.PodSecurity(args.RunAsUser, args.RunAsGroup),
					Containers: corev1.ContainerArray{&corev1.ContainerArgs{
						Name:            pulumi.String("check"),
						Image:           args.Image,
						ImagePullPolicy: pulumi.String(args.PullPolicy),
						Command:         pulumi.ToStringArray(CheckCommand(args.Command)),
						Env:             env,
						Resources: &corev1.ResourceRequirementsArgs{
							Requests: pulumi.StringMap{"cpu": pulumi.String(args.Resources.Requests.CPU), "memory": pulumi.String(args.Resources.Requests.Memory)},
							Limits:   pulumi.StringMap{"cpu": pulumi.String(args.Resources.Limits.CPU), "memory": pulumi.String(args.Resources.Limits.Memory)},
						},
						SecurityContext: workload.ContainerSecurity(args.RunAsUser, args.RunAsGroup),
						VolumeMounts: corev1.VolumeMountArray{
							volume("build", SourceDir(args.Commit), SourceMount, true),
							volume("build", "cache", CacheMount, false),
							&corev1.VolumeMountArgs{Name: pulumi.String("workspace"), MountPath: pulumi.String(WorkMount)},
						},
					}},
					Volumes: corev1.VolumeArray{
						&corev1.VolumeArgs{Name: pulumi.String("build"), PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSourceArgs{
							ClaimName: b.Volume.ClaimName,
						}},
						&corev1.VolumeArgs{Name: pulumi.String("workspace"), EmptyDir: &corev1.EmptyDirVolumeSourceArgs{SizeLimit: pulumi.String("20Gi")}},
					},
				},
			},
		},
	}, parent, pulumi.DependsOn(append(args.DependsOn, b.Export)),
		pulumi.Timeouts(&pulumi.CustomTimeouts{Create: wait, Update: wait})); err != nil {
		return nil, fmt.Errorf("build tier: %w", err)
	}
	return b, ctx.RegisterResourceOutputs(b, pulumi.Map{"job": pulumi.String(job), "commit": pulumi.String(args.Commit)})
}
