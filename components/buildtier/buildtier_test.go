// Tests of the buildtier component on its own, under Pulumi's mocks (internal/recorder),
// and of its export script, run for real on a git repository: that the script exports a
// commit's tree once, readable by the VM's pods, and refuses a commit the checkout lacks;
// that the export runs on the Mac before the build directory's volume and the Job; that
// the Job checks the commit once, in lamina-build, under Pod Security restricted, on a
// read-only tree and a writable copy, within its deadline; that there is no Job without
// a commit; and that DockerRunArgs runs on the Mac what the Job runs.
package buildtier_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lamina-os/lamina-infra/components/buildtier"
	"github.com/lamina-os/lamina-infra/internal/gittest"
	"github.com/lamina-os/lamina-infra/internal/kube"
	"github.com/lamina-os/lamina-infra/internal/recorder"
	"github.com/lamina-os/lamina-infra/internal/recorder/recordertest"
	"github.com/lamina-os/lamina-infra/internal/shell"
	"github.com/lamina-os/lamina-infra/internal/tooltest"
)

const (
	commandType        = "command:local:Command"
	volumeType         = "kubernetes:core/v1:PersistentVolume"
	claimType          = "kubernetes:core/v1:PersistentVolumeClaim"
	serviceAccountType = "kubernetes:core/v1:ServiceAccount"
	jobType            = "kubernetes:batch/v1:Job"
	readyType          = "test:index:Ready"

	commit  = "0123456789abcdef0123456789abcdef01234567"
	dataDir = "/Users/me/Lamina Data/test"
)

// declare runs NewBuildTier as production declares it, with the Kubernetes provider in
// opts and after a mesh-readiness resource, on args as edit changes them.
func declare(t *testing.T, edit func(a *buildtier.BuildTierArgs)) *recorder.Graph {
	t.Helper()
	g, err := recorder.Run(recorder.Options{Project: "lamina", Stack: "test"}, func(ctx *pulumi.Context) error {
		k8s, err := kubernetes.NewProvider(ctx, "k8s", &kubernetes.ProviderArgs{})
		if err != nil {
			return err
		}
		var ready pulumi.CustomResourceState
		if err := ctx.RegisterResource(readyType, "istiod", pulumi.Map{}, &ready); err != nil {
			return err
		}
		a := buildtier.BuildTierArgs{
			Namespace:    pulumi.String("lamina-build"),
			Image:        pulumi.String("ghcr.io/lamina-os/lamina-build:1.0.0"),
			PullPolicy:   "IfNotPresent",
			Checkout:     "/Users/me/src/lamina-os",
			Commit:       commit,
			DataDir:      dataDir,
			BuildDir:     "build",
			Command:      []string{"make", "check"},
			Resources:    kube.Resources{Requests: kube.Quantities{CPU: "500m", Memory: "1Gi"}, Limits: kube.Quantities{CPU: "2", Memory: "4Gi"}},
			RunAsUser:    1000,
			RunAsGroup:   1001,
			Timeout:      30 * time.Minute,
			VolumeName:   "lamina-test-build",
			StorageClass: pulumi.String("lamina-host"),
			Node:         pulumi.String("colima-lamina-test"),
			DependsOn:    []pulumi.Resource{&ready},
		}
		if edit != nil {
			edit(&a)
		}
		_, err = buildtier.NewBuildTier(ctx, "build-tier", a, pulumi.Providers(k8s))
		return err
	})
	require.NoError(t, err)
	return g
}

// export runs the export script as `pulumi up` does, with the environment
// ExportEnvironment gives for commit, and returns what it logged.
func export(t *testing.T, data, checkout, commit string) (string, error) {
	t.Helper()
	cmd := exec.Command(shell.Interpreter[0], append(shell.Interpreter[1:], buildtier.ExportScript)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=" + os.DevNull}
	for k, v := range buildtier.ExportEnvironment(data, "build", checkout, commit) {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	return stderr.String(), err
}

func perm(t *testing.T, path string) os.FileMode {
	t.Helper()
	info, err := os.Stat(path)
	require.NoError(t, err)
	return info.Mode().Perm()
}

// The script exports the commit's tree to build/sources/<commit> under a data directory
// whose name has a space, with every file and directory readable by others (what a pod
// sees through virtiofs) even under a private umask; the data directory is private and
// the build directories open to the pods. An export already there is kept; a commit the
// checkout lacks fails, naming it, and leaves nothing behind; no commit exports nothing.
func TestExportScriptExportsTheCommitsTreeOnceForThePods(t *testing.T) {
	tooltest.Find(t, "git", "apt-get install git; every Mac has it with the Xcode tools")
	checkout := t.TempDir()
	id := gittest.Commit(t, checkout, map[string]string{"Makefile": "check:\n\ttrue\n", "pkg/lib/a.py": "A = 1\n"})
	data := filepath.Join(t.TempDir(), "Lamina Data")
	old := syscall.Umask(0o077)
	t.Cleanup(func() { syscall.Umask(old) })

	stderr, err := export(t, data, checkout, id)
	require.NoError(t, err, stderr)
	tree := filepath.Join(data, "build", "sources", id)
	text, err := os.ReadFile(filepath.Join(tree, "pkg", "lib", "a.py"))
	require.NoError(t, err)
	assert.Equal(t, "A = 1\n", string(text))
	for _, p := range []string{filepath.Join(tree, "Makefile"), filepath.Join(tree, "pkg", "lib", "a.py")} {
		assert.Equal(t, os.FileMode(0o004), perm(t, p)&0o006, "%s: others read, not write", p)
	}
	for _, p := range []string{tree, filepath.Join(tree, "pkg"), filepath.Join(tree, "pkg", "lib")} {
		assert.Equal(t, os.FileMode(0o005), perm(t, p)&0o007, "%s: others enter and list", p)
	}
	assert.Equal(t, os.FileMode(0o700), perm(t, data))
	for _, sub := range []string{"build", "build/sources", "build/cache"} {
		assert.Equal(t, os.FileMode(0o777), perm(t, filepath.Join(data, sub)), sub)
	}
	entries, err := os.ReadDir(filepath.Join(data, "build", "sources"))
	require.NoError(t, err)
	require.Len(t, entries, 1, "nothing half-exported beside the tree")

	stderr, err = export(t, data, checkout, id)
	require.NoError(t, err, stderr)
	assert.Contains(t, stderr, "the tree of commit "+id+" is already exported")

	missing := strings.Repeat("f", 40)
	stderr, err = export(t, data, checkout, missing)
	require.Error(t, err)
	assert.Contains(t, stderr, "commit "+missing+" is not in "+checkout)
	_, err = export(t, data, checkout, "")
	require.NoError(t, err)
	entries, err = os.ReadDir(filepath.Join(data, "build", "sources"))
	require.NoError(t, err)
	assert.Len(t, entries, 1)
}

// The export runs on the Mac (under the default command provider, not the cluster's)
// with the environment the script reads: the data directory, the build directories one
// a line, the checkout, the commit and the build directory. The build directory's
// volume, a cluster-wide PersistentVolume on data.dir/build bound to build-data in
// lamina-build, waits for it; everything Kubernetes goes to the given provider.
func TestExportRunsOnTheMacBeforeTheBuildDirectorysVolume(t *testing.T) {
	g := declare(t, nil)
	k8s := recordertest.Find(t, g, "pulumi:providers:kubernetes", "k8s")
	exp := recordertest.Find(t, g, commandType, "build-tier-export")
	assert.Equal(t, []any{"/bin/bash", "-c"}, exp.Inputs["interpreter"])
	assert.Equal(t, buildtier.ExportScript, exp.Inputs["create"])
	assert.Equal(t, map[string]any{
		"LAMINA_DATA_DIR":     dataDir,
		"LAMINA_DATA_SUBDIRS": "build\nbuild/sources\nbuild/cache",
		"LAMINA_CHECKOUT":     "/Users/me/src/lamina-os",
		"LAMINA_COMMIT":       commit,
		"LAMINA_BUILD_DIR":    dataDir + "/build",
	}, exp.Inputs["environment"])
	assert.NotEqual(t, k8s.URN, exp.Provider, "the export runs on the Mac, not through the cluster")

	pv := recordertest.Find(t, g, volumeType, "build-tier-data-volume")
	assert.Equal(t, "lamina-test-build", recordertest.At(t, pv.Inputs, "metadata", "name"))
	assert.Equal(t, map[string]any{"path": dataDir + "/build"}, recordertest.At(t, pv.Inputs, "spec", "local"))
	assert.Equal(t, map[string]any{"storage": "100Gi"}, recordertest.At(t, pv.Inputs, "spec", "capacity"))
	assert.Equal(t, map[string]any{"namespace": "lamina-build", "name": "build-data"}, recordertest.At(t, pv.Inputs, "spec", "claimRef"))
	assert.Equal(t, []string{exp.URN}, pv.Dependencies)
	claim := recordertest.Find(t, g, claimType, "build-tier-data-claim")
	for _, r := range []*recorder.Resource{pv, claim, recordertest.Find(t, g, serviceAccountType, "build-tier-sa"), recordertest.Find(t, g, jobType, "build-tier-check")} {
		assert.Equal(t, k8s.URN, r.Provider, r.Name)
	}
}

// The Job check-<12 characters of the commit> in lamina-build runs the command once
// (never restarted or retried) within the timeout, the provider waiting a minute
// longer; its pod is in the mesh with a native sidecar, as lamina-check without an API
// token, and meets Pod Security restricted with the check's user and group.
func TestCheckJobRunsOnceUnderPodSecurityRestricted(t *testing.T) {
	g := declare(t, nil)
	job := recordertest.Find(t, g, jobType, "build-tier-check")
	assert.Equal(t, "check-0123456789ab", recordertest.At(t, job.Inputs, "metadata", "name"))
	assert.Equal(t, "lamina-build", recordertest.At(t, job.Inputs, "metadata", "namespace"))
	assert.Equal(t, commit, recordertest.At(t, job.Inputs, "metadata", "labels", "lamina.io/commit"))
	assert.Equal(t, float64(0), recordertest.At(t, job.Inputs, "spec", "backoffLimit"))
	assert.Equal(t, float64(1800), recordertest.At(t, job.Inputs, "spec", "activeDeadlineSeconds"))
	assert.Equal(t, &recorder.Timeouts{Create: "31m0s", Update: "31m0s"}, job.CustomTimeouts)

	tmpl := recordertest.At(t, job.Inputs, "spec", "template")
	assert.Equal(t, map[string]any{"sidecar.istio.io/nativeSidecar": "true"}, recordertest.At(t, tmpl, "metadata", "annotations"))
	assert.Equal(t, "lamina-check", recordertest.At(t, tmpl, "metadata", "labels", "app.kubernetes.io/name"))
	pod := recordertest.At(t, tmpl, "spec").(map[string]any)
	assert.Equal(t, "Never", pod["restartPolicy"])
	assert.Equal(t, "lamina-check", pod["serviceAccountName"])
	assert.Equal(t, false, pod["automountServiceAccountToken"])
	assert.Equal(t, map[string]any{
		"runAsNonRoot": true, "runAsUser": float64(1000), "runAsGroup": float64(1001), "fsGroup": float64(1001),
		"seccompProfile": map[string]any{"type": "RuntimeDefault"},
	}, pod["securityContext"])
	containers := pod["containers"].([]any)
	require.Len(t, containers, 1)
	c := containers[0].(map[string]any)
	assert.Equal(t, map[string]any{
		"runAsNonRoot": true, "runAsUser": float64(1000), "runAsGroup": float64(1001),
		"allowPrivilegeEscalation": false, "privileged": false, "capabilities": map[string]any{"drop": []any{"ALL"}},
	}, c["securityContext"])
	assert.Equal(t, "ghcr.io/lamina-os/lamina-build:1.0.0", c["image"])
	assert.Equal(t, "IfNotPresent", c["imagePullPolicy"])
	assert.Equal(t, []any{"/bin/sh", "-c", buildtier.RunScript, "check", "make", "check"}, c["command"])
	assert.Equal(t, []any{
		map[string]any{"name": "LAMINA_COMMIT", "value": commit},
		map[string]any{"name": "UV_CACHE_DIR", "value": "/cache/uv"},
		map[string]any{"name": "UV_OFFLINE", "value": "1"},
		map[string]any{"name": "HOME", "value": "/workspace"},
	}, c["env"])
	assert.Equal(t, map[string]any{
		"requests": map[string]any{"cpu": "500m", "memory": "1Gi"}, "limits": map[string]any{"cpu": "2", "memory": "4Gi"},
	}, c["resources"])

	sa := recordertest.Find(t, g, serviceAccountType, "build-tier-sa")
	assert.Equal(t, "lamina-check", recordertest.At(t, sa.Inputs, "metadata", "name"))
	assert.Equal(t, false, sa.Inputs["automountServiceAccountToken"])
}

// The check reads the commit's tree read-only from the build directory's claim, keeps
// its dependency cache there, and works in a size-limited emptyDir; the Job waits for
// the export, the claim, its ServiceAccount and what was given (the mesh).
func TestCheckReadsTheTreeReadOnlyAndWorksInACopy(t *testing.T) {
	g := declare(t, nil)
	job := recordertest.Find(t, g, jobType, "build-tier-check")
	pod := recordertest.At(t, job.Inputs, "spec", "template", "spec")
	assert.Equal(t, []any{
		map[string]any{"name": "build", "subPath": "sources/" + commit, "mountPath": "/src", "readOnly": true},
		map[string]any{"name": "build", "subPath": "cache", "mountPath": "/cache"},
		map[string]any{"name": "workspace", "mountPath": "/workspace"},
	}, recordertest.At(t, pod, "containers", 0, "volumeMounts"))
	assert.Equal(t, []any{
		map[string]any{"name": "build", "persistentVolumeClaim": map[string]any{"claimName": "build-data"}},
		map[string]any{"name": "workspace", "emptyDir": map[string]any{"sizeLimit": "20Gi"}},
	}, recordertest.At(t, pod, "volumes"))
	assert.ElementsMatch(t, []string{
		recordertest.Find(t, g, commandType, "build-tier-export").URN, recordertest.Find(t, g, claimType, "build-tier-data-claim").URN,
		recordertest.Find(t, g, serviceAccountType, "build-tier-sa").URN, recordertest.Find(t, g, readyType, "istiod").URN,
	}, job.Dependencies)
}

// Without a commit there is nothing to check: no Job, and the export, given no commit,
// only creates the build directories; the volume and the identity stay.
func TestWithoutACommitThereIsNoJob(t *testing.T) {
	g := declare(t, func(a *buildtier.BuildTierArgs) { a.Commit = "" })
	assert.Empty(t, g.ByType(jobType))
	assert.Equal(t, "", recordertest.At(t, recordertest.Find(t, g, commandType, "build-tier-export").Inputs, "environment", "LAMINA_COMMIT"))
	recordertest.Find(t, g, volumeType, "build-tier-data-volume")
	recordertest.Find(t, g, serviceAccountType, "build-tier-sa")
}

// `docker run` on the Mac runs what the Job runs: the same command after the image, the
// same environment in order, the same user and group, the tree read-only and the cache
// from the same places in the build directory, and a writable copy owned by the user
// (exec, as the emptyDir is); with no network, no capability, no privilege escalation,
// and the given CPU and memory limits.
func TestDockerRunArgsRunWhatTheJobRuns(t *testing.T) {
	build := dataDir + "/build"
	args := buildtier.DockerRunArgs(buildtier.LocalCheck{
		Image: "lamina/lamina-build:dev", BuildDir: build, Commit: commit, Command: []string{"make", "check"},
		RunAsUser: 1000, RunAsGroup: 1001, CPUs: 1.5, MemoryBytes: 4 << 30,
	})
	assert.Equal(t, []string{
		"run", "--rm", "--network", "none", "--user", "1000:1001", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
		"--cpus", "1.5", "--memory", "4294967296",
		"--mount", "type=bind,src=" + build + "/sources/" + commit + ",dst=/src,readonly",
		"--mount", "type=bind,src=" + build + "/cache,dst=/cache",
		"--tmpfs", "/workspace:exec,uid=1000,gid=1001,mode=0700",
		"--env", "LAMINA_COMMIT=" + commit, "--env", "UV_CACHE_DIR=/cache/uv", "--env", "UV_OFFLINE=1", "--env", "HOME=/workspace",
		"lamina/lamina-build:dev", "/bin/sh", "-c", buildtier.RunScript, "check", "make", "check",
	}, args)

	// Read back against the Job's pod.
	g := declare(t, nil)
	pod := recordertest.At(t, recordertest.Find(t, g, jobType, "build-tier-check").Inputs, "spec", "template", "spec")
	c := recordertest.At(t, pod, "containers", 0)
	var env, mounts []string
	var user, image string
	var command []string
	for i := 1; i < len(args); i++ {
		switch args[i] {
		case "--rm":
		case "--env":
			env = append(env, args[i+1])
			i++
		case "--mount":
			mounts = append(mounts, args[i+1])
			i++
		case "--user":
			user = args[i+1]
			i++
		default:
			if strings.HasPrefix(args[i], "--") {
				i++
				continue
			}
			image, command = args[i], args[i+1:]
			i = len(args)
		}
	}
	assert.Equal(t, "lamina/lamina-build:dev", image)
	assert.Equal(t, recordertest.At(t, c, "command"), toAny(command))
	var jobEnv []string
	for _, e := range recordertest.At(t, c, "env").([]any) {
		jobEnv = append(jobEnv, e.(map[string]any)["name"].(string)+"="+e.(map[string]any)["value"].(string))
	}
	assert.Equal(t, jobEnv, env)
	assert.Equal(t, "1000:1001", user)
	assert.Equal(t, float64(1000), recordertest.At(t, pod, "securityContext", "runAsUser"))
	assert.Equal(t, float64(1001), recordertest.At(t, pod, "securityContext", "runAsGroup"))
	var jobMounts []string
	for _, m := range recordertest.At(t, c, "volumeMounts").([]any) {
		m := m.(map[string]any)
		if m["name"] != "build" {
			continue
		}
		mount := "type=bind,src=" + build + "/" + m["subPath"].(string) + ",dst=" + m["mountPath"].(string)
		if m["readOnly"] == true {
			mount += ",readonly"
		}
		jobMounts = append(jobMounts, mount)
	}
	assert.Equal(t, jobMounts, mounts)
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
