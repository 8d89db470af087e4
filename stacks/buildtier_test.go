package stacks_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lamina-os/lamina-infra/components/buildtier"
	"github.com/lamina-os/lamina-infra/internal/gittest"
	"github.com/lamina-os/lamina-infra/internal/recorder"
	"github.com/lamina-os/lamina-infra/stacks"
	"github.com/lamina-os/lamina-infra/stacks/config"
	"github.com/lamina-os/lamina-infra/stacks/offline"
)

// gitCheckout makes a git repository of Lamina OS's shape (the images' and the build
// environment's Dockerfiles, a Makefile) with one commit, and returns its directory and
// the commit's ID.
func gitCheckout(t *testing.T) (string, string) {
	t.Helper()
	dir := t.TempDir()
	return dir, gittest.Commit(t, dir, map[string]string{
		"Makefile":                             "check:\n\truff check .\n",
		"build-env/Dockerfile":                 "FROM python:3.12-slim\n",
		"packages/lamina-llm-serve/Dockerfile": "FROM scratch\n",
		"packages/lamina-core/Dockerfile":      "FROM scratch\n",
		"packages/lamina-dashboard/Dockerfile": "FROM scratch\n",
	})
}

// buildOverrides configures production to check commit of checkout, with its data
// directory outside /tmp; it returns the overrides and the data directory.
func buildOverrides(t *testing.T, checkout, commit string) (map[string]string, string) {
	t.Helper()
	return withDataDir(t, "production", map[string]string{
		"lamina:images": section(t, stackSource(t, "production", nil), "lamina:images", map[string]any{"checkout": checkout}),
		"lamina:build":  section(t, stackSource(t, "production", nil), "lamina:build", map[string]any{"commit": commit}),
	})
}

// Production's build tier checks one commit: `up` exports the commit's tree on the Mac
// (really, with git, here), and a Job in lamina-build runs make check in the build
// environment's image on a read-only copy of it, under Pod Security restricted, in the
// mesh, once, within the timeout. The stack says where it ran and what.
func TestBuildTierChecksOneCommitInARestrictedNamespace(t *testing.T) {
	checkout, commit := gitCheckout(t)
	overrides, dataDir := buildOverrides(t, checkout, commit)
	src := stackSource(t, "production", overrides)
	// As under `pulumi up`: the checkout is looked at first.
	cfg, err := config.Load(src, stacks.Mac{})
	require.NoError(t, err)
	kit := newFakeMac(t, "colima", "kubectl")
	kit.probes = stacks.Mac{}
	g, err := deployWith(src, kit, nil)
	require.NoError(t, err)

	// The commit's tree, readable by the VM's pods, and nothing half-exported beside it.
	sources := filepath.Join(dataDir, config.BuildDir, "sources")
	makefile := filepath.Join(sources, commit, "Makefile")
	text, err := os.ReadFile(makefile)
	require.NoError(t, err)
	assert.Equal(t, "check:\n\truff check .\n", string(text))
	info, err := os.Stat(makefile)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o004), info.Mode().Perm()&0o006, "others may read what the pod reads through virtiofs, not write it")
	entries, err := os.ReadDir(sources)
	require.NoError(t, err)
	require.Len(t, entries, 1)
	assert.DirExists(t, filepath.Join(dataDir, config.BuildDir, "cache"))
	// A second up keeps the export: a commit's tree never changes.
	export := command(t, g, "build-tier-export")
	again := kit.exec(export, "create", nil)
	require.Equal(t, 0, again.code, again.stderr)
	assert.Contains(t, again.stderr, "already exported")

	ns := object(t, g, "Namespace", config.NamespaceBuild)
	labels := field(ns.Inputs, "metadata", "labels")
	assert.Equal(t, "restricted", field(labels, "pod-security.kubernetes.io/enforce"))
	assert.Equal(t, "enabled", field(labels, "istio-injection"))

	job := object(t, g, "Job", buildtier.JobName(commit))
	require.Equal(t, config.NamespaceBuild, namespaceOf(job))
	assert.True(t, g.DependsOn(job, export.URN), "the Job waits for the commit's tree")
	spec := job.Inputs["spec"]
	assert.Equal(t, float64(0), field(spec, "backoffLimit"), "a failed check is not retried")
	assert.Equal(t, cfg.Build.Timeout.Seconds(), field(spec, "activeDeadlineSeconds"))
	pod := field(spec, "template")
	assert.Equal(t, "true", field(pod, "metadata", "annotations", buildtier.NativeSidecarAnnotation), "the sidecar stops when the check does")
	assert.Equal(t, "Never", field(pod, "spec", "restartPolicy"))
	assert.Equal(t, false, field(pod, "spec", "automountServiceAccountToken"))
	assert.Equal(t, buildtier.Name, field(pod, "spec", "serviceAccountName"))
	assert.Equal(t, true, field(pod, "spec", "securityContext", "runAsNonRoot"))
	c := list(field(pod, "spec", "containers"))
	require.Len(t, c, 1)
	check := c[0].(map[string]any)
	image := g.Find(dockerImageType, "lamina-build-image-build")
	require.NotNil(t, image, "the build environment is built on production's daemon")
	assert.Equal(t, "build-env/Dockerfile", filepath.Base(filepath.Dir(field(image.Inputs, "build", "dockerfile").(string)))+"/Dockerfile")
	assert.Equal(t, g.Outputs["build"].(map[string]any)["image"], check["image"])
	assert.Equal(t, []any{"/bin/sh", "-c", buildtier.RunScript, "check", "make", "check"}, check["command"])
	assert.Equal(t, false, field(check, "securityContext", "allowPrivilegeEscalation"))
	assert.Equal(t, []any{"ALL"}, field(check, "securityContext", "capabilities", "drop"))
	env := map[string]any{}
	for _, e := range list(check["env"]) {
		env[field(e, "name").(string)] = field(e, "value")
	}
	assert.Equal(t, map[string]any{"LAMINA_COMMIT": commit, "UV_CACHE_DIR": "/cache/uv", "UV_OFFLINE": "1", "HOME": "/workspace"}, env)
	mounts := map[string]any{}
	for _, m := range list(check["volumeMounts"]) {
		mounts[field(m, "mountPath").(string)] = []any{field(m, "subPath"), field(m, "readOnly")}
	}
	assert.Equal(t, map[string]any{
		"/src":       []any{"sources/" + commit, true},
		"/cache":     []any{"cache", nil},
		"/workspace": []any{nil, nil},
	}, mounts)

	assert.Equal(t, map[string]any{
		"namespace": config.NamespaceBuild,
		"image":     check["image"],
		"commit":    commit,
		"job":       buildtier.JobName(commit),
		"cacheDir":  filepath.Join(dataDir, config.BuildDir, "cache"),
	}, g.Outputs["build"])

	report, err := offline.Check(context.Background(), loadPack(t), g)
	require.NoError(t, err)
	for _, v := range report.Violations {
		t.Errorf("[%s] %s on %s: %s", v.Level, v.Policy, v.URN, v.Message)
	}
}

// The check's pods reach nothing but the mesh's own endpoints (DNS, istiod, the span
// collector), and nothing reaches them but the mesh's own traffic to their sidecars (the
// kubelet's probes, Prometheus's scrape): lamina-build denies by default in the network
// and in the mesh, and no other namespace's policy opens a flow with it.
func TestBuildTierReachesOnlyTheMesh(t *testing.T) {
	g := deployStack(t, "production")
	sidecarPorts := []any{float64(15020), float64(15021), float64(15090)}
	var own, others []string
	for _, np := range kind(g, "NetworkPolicy") {
		if namespaceOf(np) != config.NamespaceBuild {
			if slices.Contains(peerNamespaces(np), config.NamespaceBuild) {
				others = append(others, objectKey(np))
			}
			continue
		}
		own = append(own, nameOf(np))
		for _, rule := range list(field(np.Inputs, "spec", "ingress")) {
			require.NotEmpty(t, list(field(rule, "ports")), objectKey(np))
			for _, p := range list(field(rule, "ports")) {
				assert.Contains(t, sidecarPorts, field(p, "port"), "%s: only the sidecar's ports are reached", objectKey(np))
			}
		}
		for _, rule := range list(field(np.Inputs, "spec", "egress")) {
			for _, p := range list(field(rule, "to")) {
				ns, _ := field(p, "namespaceSelector", "matchLabels", "kubernetes.io/metadata.name").(string)
				assert.Contains(t, []string{"kube-system", "istio-system", "observability"}, ns, "%s: the checks reach only DNS, istiod and the spans' collector", objectKey(np))
			}
		}
	}
	slices.Sort(own)
	assert.Equal(t, []string{"default-deny", "dns-egress", "istiod-egress", "kubelet-probes-ingress",
		"prometheus-scrape-lamina-build-ingress", "spans-from-lamina-build-egress"}, own)
	slices.Sort(others)
	assert.Equal(t, []string{"NetworkPolicy monitoring/prometheus-scrape-lamina-build-egress",
		"NetworkPolicy observability/spans-from-lamina-build-ingress"}, others, "only the mesh's own flows name lamina-build")
	var authz []string
	for _, ap := range kind(g, "AuthorizationPolicy") {
		if namespaceOf(ap) == config.NamespaceBuild {
			authz = append(authz, nameOf(ap))
			assert.Empty(t, ap.Inputs["spec"], "%s allows nothing", objectKey(ap))
		}
	}
	assert.Len(t, authz, 1, "one deny-all in the mesh")
	strict := false
	for _, pa := range kind(g, "PeerAuthentication") {
		if namespaceOf(pa) == config.NamespaceBuild {
			strict = field(pa.Inputs, "spec", "mtls", "mode") == "STRICT"
		}
	}
	assert.True(t, strict, "STRICT mutual TLS in lamina-build")
}

// peerNamespaces are the namespaces a NetworkPolicy's rules name.
func peerNamespaces(np *recorder.Resource) []string {
	var out []string
	for _, dir := range []string{"ingress", "egress"} {
		for _, rule := range list(field(np.Inputs, "spec", dir)) {
			for _, peers := range []string{"from", "to"} {
				for _, p := range list(field(rule, peers)) {
					if ns, ok := field(p, "namespaceSelector", "matchLabels", "kubernetes.io/metadata.name").(string); ok {
						out = append(out, ns)
					}
				}
			}
		}
	}
	return out
}

// What the build tier cannot check is refused before anything changes, naming the key.
func TestBuildTierRefusesWhatItCannotCheck(t *testing.T) {
	checkout, commit := gitCheckout(t)
	noGit := t.TempDir()
	require.NoError(t, os.CopyFS(noGit, os.DirFS(checkout)))
	require.NoError(t, os.RemoveAll(filepath.Join(noGit, ".git")))
	production := stackSource(t, "production", nil)
	build := func(fields map[string]any) string { return section(t, production, "lamina:build", fields) }
	for _, tc := range []struct {
		name, stack string
		overrides   map[string]string
		checkout    string
		want        string
	}{
		{"a branch", "production", map[string]string{"lamina:build": build(map[string]any{"commit": "main"})}, "",
			`lamina:build.commit: "main" is not a full commit ID`},
		{"an abbreviated commit", "production", map[string]string{"lamina:build": build(map[string]any{"commit": commit[:12]})}, "",
			`lamina:build.commit: "` + commit[:12] + `" is not a full commit ID`},
		{"a checkout that is not a clone", "production", map[string]string{"lamina:build": build(map[string]any{"commit": commit})}, noGit,
			"lamina:build.commit: is set, but " + noGit + " is not a git checkout"},
		{"a timeout out of range", "production", map[string]string{"lamina:build": build(map[string]any{"timeout": "30s"})}, "",
			"lamina:build.timeout: 30s is out of range; allowed: 1m0s to 6h0m0s"},
		{"an empty command", "production", map[string]string{"lamina:build": build(map[string]any{"command": []string{}})}, "",
			"lamina:build.command: is empty"},
		{"baseline Pod Security", "production", map[string]string{"lamina:namespaces": section(t, production, "lamina:namespaces",
			map[string]any{"podSecurity": map[string]string{config.NamespaceBuild: "baseline"}})}, "",
			`lamina:namespaces.podSecurity.lamina-build: is "baseline"; the build tier runs the code of any commit, so it enforces restricted`},
		{"a shared stack", "staging", map[string]string{"lamina:build": `{"enabled":true}`}, "",
			"lamina:build.enabled: is true, but a shared stack's build tier is its platform's (stack production)"},
		{"an existing cluster", "production", map[string]string{"lamina:cluster": `{"target":"existing","context":"lab-admin","dockerHost":"ssh://builder@lab","nodeCIDR":"10.20.0.0/24"}`, "lamina:storage": `{"class":"longhorn"}`, "lamina:edge": `{"address":"10.20.0.10"}`}, "",
			"lamina:build.enabled: is true, but lamina:cluster.target existing does not mount lamina:data.dir"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := stackSource(t, tc.stack, tc.overrides)
			var probes config.Probes
			if tc.checkout != "" {
				src.Values["lamina:images"] = section(t, src, "lamina:images", map[string]any{"checkout": tc.checkout})
				probes = stacks.Mac{}
			}
			g, err := offline.Run(src, probes, recorder.Options{Preview: true})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Empty(t, g.Resources, "nothing is registered")
		})
	}
}

// A commit the checkout does not have fails the export on the Mac, naming the key, and
// leaves nothing half-exported.
func TestBuildTierExportOfAMissingCommitFails(t *testing.T) {
	checkout, _ := gitCheckout(t)
	missing := strings.Repeat("0123456789", 4)
	overrides, dataDir := buildOverrides(t, checkout, missing)
	_, err := deployWith(stackSource(t, "production", overrides), newFakeMac(t, "colima", "kubectl"), nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "commit "+missing+" is not in "+checkout+" (lamina:build.commit)")
	entries, err := os.ReadDir(filepath.Join(dataDir, config.BuildDir, "sources"))
	require.NoError(t, err)
	assert.Empty(t, entries)
}

// The command Lamina OS's CI runs (docs/operations.md) is the Job's: the same script
// around make check, the same environment.
func TestTheDocumentedCICheckIsTheJobs(t *testing.T) {
	doc, err := os.ReadFile("../docs/operations.md")
	require.NoError(t, err)
	assert.Contains(t, string(doc), "/bin/sh -c '"+buildtier.RunScript+"' check make check")
	for _, e := range buildtier.CheckEnvironment("") {
		if e[0] != "LAMINA_COMMIT" {
			assert.Contains(t, string(doc), "--env "+e[0]+"="+e[1])
		}
	}
}
