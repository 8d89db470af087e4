package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

// timings are what the run measured, printed at the end.
var timings struct {
	sync.Mutex
	lines []string
}

func measured(what string, d time.Duration) {
	timings.Lock()
	defer timings.Unlock()
	timings.lines = append(timings.lines, fmt.Sprintf("e2e timing: %s %s", what, d.Round(100*time.Millisecond)))
}

// The development stack through the engine, as a user runs it, in order: each scenario
// starts from where the one before left the stack.
func TestDevelopmentStack(t *testing.T) {
	w := the(t)
	measured("harness start", w.started)
	p := newProject(t, w, "development")
	w.installPlugins(t, p)
	release := lastRelease(t, w)
	p.copyProgram(t, release.dir)
	p.must(t, "stack", "init", "development")
	p.configure(t)

	if !scenario(t, "the last release ("+release.tag+") brings the stack up from nothing, and this version takes it over", func(t *testing.T) { upgradeFromRelease(t, w, p, release) }) {
		t.Fatal("the stack did not come up; the later scenarios need it")
	}
	scenario(t, "a second preview and up change nothing", func(t *testing.T) { nothingChanges(t, p) })
	scenario(t, "the policy pack passes", func(t *testing.T) { policyPasses(t, p) })
	scenario(t, "a config change updates only what it should", func(t *testing.T) { configChange(t, w, p) })
	scenario(t, "a VM stopped behind Pulumi's back comes back", func(t *testing.T) { stoppedVM(t, w, p) })
	scenario(t, "a reboot of the VM, control plane and node included, changes nothing", func(t *testing.T) { rebootedVM(t, w, p) })
	scenario(t, "a second stack joins the platform, which then promotes its images", func(t *testing.T) { sharedStack(t, w, p) })
	if scenario(t, "the documented teardown keeps the data", func(t *testing.T) { teardown(t, w, p) }) &&
		scenario(t, "an up from nothing killed half-way converges after lamina recover, one stopped with Ctrl-C on the next up", func(t *testing.T) { interruptedUps(t, w, p) }) {
		scenario(t, "the stack comes back on a krunkit VM with llm-serve on the GPU", func(t *testing.T) { onTheGPU(t, w, p) })
	}
}

// Production's first preview, with the policy pack: every resource planned, no mandatory
// violation.
func TestProductionPreview(t *testing.T) {
	w := the(t)
	p := newProject(t, w, "production")
	w.installPlugins(t, p)
	scenario(t, "production previews cleanly with the policy pack", func(t *testing.T) {
		p.must(t, "stack", "init", "production")
		p.configure(t)
		p.must(t, "config", "set", "--secret", "--path", "lamina:grafana.adminPassword", "e2e-production-password", "-s", "production")
		out, took := p.timed(t, "preview", "-s", "production", "--policy-pack", p.policyPack(t, ""))
		measured("production preview with the policy pack", took)
		if !strings.Contains(out, "Loading policy packs...: done") || strings.Contains(out, "mandatory") {
			t.Errorf("the pack did not load, or found mandatory violations:\n%s", lastLines(out, 60))
		}
		if !strings.Contains(out, "to create") {
			t.Errorf("the preview plans no creation:\n%s", lastLines(out, 30))
		}
	})
}

// release is a release of this program, from docs/releases.md, extracted from the
// clone's history.
type release struct{ tag, commit, dir string }

// releaseRow is a row of docs/releases.md's table: the tag, then the full commit.
var releaseRow = regexp.MustCompile(`(?m)^\| (v\d+\.\d+\.\d+) \| ([0-9a-f]{40}) \|`)

// lastRelease extracts the newest release's tree from this clone's history.
func lastRelease(t *testing.T, w *world) release {
	t.Helper()
	table, err := os.ReadFile(filepath.Join(root, "docs", "releases.md"))
	if err != nil {
		t.Fatal(err)
	}
	row := releaseRow.FindSubmatch(table)
	if row == nil {
		t.Fatal("docs/releases.md names no release (| vX.Y.Z | <40-hex commit> |)")
	}
	r := release{tag: string(row[1]), commit: string(row[2]), dir: filepath.Join(w.dir, "release")}
	if _, err := run(root, nil, "git", "cat-file", "-e", r.commit+"^{commit}"); err != nil {
		// A shallow clone lacks it: fetch that one commit from where the clone came from.
		if out, err := run(root, nil, "git", "fetch", "--quiet", "origin", r.commit); err != nil {
			t.Fatalf("release %s's commit %s is not in this clone, and git fetch origin %s failed: %v\n%s", r.tag, r.commit, r.commit, err, out)
		}
	}
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := run(root, nil, "bash", "-c", `git archive "$1" | tar -x -C "$2"`, "archive", r.commit, r.dir); err != nil {
		t.Fatalf("extracting release %s: %v\n%s", r.tag, err, out)
	}
	// The tool cache builds the plugins this version pins; the release must pin the same.
	then, err := pluginVersions(filepath.Join(r.dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	now, err := pluginVersions(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(then, now) {
		t.Fatalf("release %s pins the plugins %v, this version %v: the tool cache has only this version's; build the release's too (internal/e2e/build-tools.sh) and install them for its up", r.tag, then, now)
	}
	return r
}

// upgradeFromRelease brings the stack up from nothing with the last release's program
// and stack file, then takes it over with this version as a git pull would: the
// project's files become this version's, the stack file too, with the user's own lines
// (the secrets' salt, the local settings) set again. The preview of the upgrade must be
// what its up does; neither may delete or replace a namespace, volume or claim; every
// claim stays on its volume and every host file as it was; and the stack is then what
// this version makes from nothing.
func upgradeFromRelease(t *testing.T, w *world, p *project, r release) {
	out, took := p.timed(t, "up", "--yes", "-s", p.stack)
	measured("up from nothing of release "+r.tag+" (with its program's first build)", took)
	measured("up from nothing of release "+r.tag+", the engine's part", engineDuration(t, out))
	claims, files := boundVolumes(t, w), filesUnder(t, p.dataDir())

	stackFile := filepath.Join(p.dir, "Pulumi."+p.stack+".yaml")
	old, err := os.ReadFile(stackFile)
	if err != nil {
		t.Fatal(err)
	}
	salt := regexp.MustCompile(`(?m)^encryptionsalt: .*$`).Find(old)
	if salt == nil {
		t.Fatalf("the stack file has no encryptionsalt:\n%s", old)
	}
	src := root
	if *programFlag != "" {
		src = *programFlag
	}
	p.copyProgram(t, src)
	f, err := os.OpenFile(stackFile, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(append(append([]byte("\n"), salt...), '\n')); err != nil {
		t.Fatal(err)
	}
	f.Close()
	p.configure(t)

	for _, step := range steps(t, p.must(t, "preview", "--json", "-s", p.stack)) {
		// urn:pulumi:<stack>::<project>::<parent types$>type::<name>
		kind := strings.Split(step.URN, "::")[2]
		kind = kind[strings.LastIndex(kind, "$")+1:]
		data := kind == "kubernetes:core/v1:Namespace" || kind == "kubernetes:core/v1:PersistentVolume" || kind == "kubernetes:core/v1:PersistentVolumeClaim"
		if data && step.Op != "same" && step.Op != "update" {
			t.Errorf("upgrading from %s would %s %s", r.tag, step.Op, step.URN)
		}
	}
	made := previewTellsTheTruth(t, p, "upgrading from release "+r.tag)
	t.Logf("upgrading from %s made %v", r.tag, made)
	if got := boundVolumes(t, w); !maps.Equal(got, claims) {
		t.Errorf("the claims after the upgrade are bound to %v; before, %v", got, claims)
	}
	if got := filesUnder(t, p.dataDir()); !maps.Equal(got, files) {
		t.Errorf("the host data directory changed in the upgrade: %v, before %v", got, files)
	}
	theStackRuns(t, w, p)
}

// theStackRuns checks the development stack as an up from nothing makes it.
func theStackRuns(t *testing.T, w *world, p *project) {
	ctx := context.Background()
	cs := w.clientset

	releases := releasesDeployed(t, w)

	// Every workload is ready, every claim bound.
	deployments, err := cs.AppsV1().Deployments("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range deployments.Items {
		if d.Status.ReadyReplicas != replicas(d.Spec.Replicas) {
			t.Errorf("Deployment %s/%s: %d of %d ready", d.Namespace, d.Name, d.Status.ReadyReplicas, replicas(d.Spec.Replicas))
		}
	}
	statefulsets, err := cs.AppsV1().StatefulSets("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range statefulsets.Items {
		if s.Status.ReadyReplicas != replicas(s.Spec.Replicas) {
			t.Errorf("StatefulSet %s/%s: %d of %d ready", s.Namespace, s.Name, s.Status.ReadyReplicas, replicas(s.Spec.Replicas))
		}
	}
	daemonsets, err := cs.AppsV1().DaemonSets("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range daemonsets.Items {
		if !daemonSetReady(d) {
			t.Errorf("DaemonSet %s/%s: %d of %d ready", d.Namespace, d.Name, d.Status.NumberReady, d.Status.DesiredNumberScheduled)
		}
	}
	claims := boundClaims(t, w, 5)
	t.Logf("%d releases, %d Deployments, %d StatefulSets, %d DaemonSets, %d claims", releases, len(deployments.Items),
		len(statefulsets.Items), len(daemonsets.Items), len(claims))

	// The outputs keep the contract the lamina commands read.
	outputs := p.outputs(t)
	for key, want := range map[string]any{
		"schemaVersion": float64(1), "stack": "development", "clusterTarget": "colima", "kubeContext": "colima-" + profile,
		"nodes": []any{"colima-" + profile}, "gatewayAddress": "192.168.64.200", "mtlsMode": "STRICT",
		"llmURL": "https://llm.dev.lamina.home.arpa", "colimaProfile": profile, "dataDir": p.dataDir(),
	} {
		if got := outputs[key]; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("output %s = %v, want %v", key, got, want)
		}
	}
	file := filepath.Join(w.dir, "outputs.json")
	data, _ := json.Marshal(outputs)
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	endpoints, err := run(p.dir, nil, "go", "run", "./cmd/lamina", "endpoints", "-f", file)
	if err != nil || !strings.Contains(endpoints, "https://llm.dev.lamina.home.arpa") {
		t.Errorf("lamina endpoints on the outputs: %v\n%s", err, endpoints)
	}
}

// engineDuration is the "Duration:" the CLI reports for an update: the engine's part,
// without building the program.
func engineDuration(t testing.TB, out string) time.Duration {
	t.Helper()
	i := strings.LastIndex(out, "Duration: ")
	if i < 0 {
		t.Errorf("no Duration in the output:\n%s", lastLines(out, 10))
		return 0
	}
	d, err := time.ParseDuration(strings.Fields(out[i+len("Duration: "):])[0])
	if err != nil {
		t.Error(err)
	}
	return d
}

func replicas(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

func daemonSetReady(d appsv1.DaemonSet) bool {
	return d.Status.DesiredNumberScheduled > 0 && d.Status.NumberReady == d.Status.DesiredNumberScheduled
}

func nothingChanges(t *testing.T, p *project) {
	_, took := p.timed(t, "preview", "--expect-no-changes", "-s", p.stack)
	measured("preview with no change", took)
	out, took := p.timed(t, "up", "--yes", "--expect-no-changes", "-s", p.stack)
	measured("up with no change", took)
	measured("up with no change, the engine's part", engineDuration(t, out))
	// What a reviewer runs before a preview: the state read back from the cluster, the
	// VM and the Mac agrees with it, and the preview after it is still empty.
	_, took = p.timed(t, "refresh", "--yes", "--expect-no-changes", "-s", p.stack)
	measured("refresh with no change", took)
	p.must(t, "preview", "--expect-no-changes", "-s", p.stack)
}

// previewTellsTheTruth previews, then ups, and fails unless the preview planned exactly
// the changes the up made, counted by kind: the preview is what a change is reviewed by.
// It returns the up's changes.
func previewTellsTheTruth(t *testing.T, p *project, what string) map[string]int {
	t.Helper()
	out := p.must(t, "preview", "--json", "-s", p.stack)
	var preview struct {
		ChangeSummary map[string]int `json:"changeSummary"`
	}
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &preview); err != nil {
		t.Fatalf("preview --json: %v\n%s", err, lastLines(out, 20))
	}
	planned := changes(t, out)
	_, took := p.timed(t, "up", "--yes", "-s", p.stack)
	measured("up "+what, took)
	made := lastUpdate(t, p)
	for op, n := range preview.ChangeSummary {
		if op != "same" && made[op] != n {
			t.Errorf("%s: the preview planned %v (%v), the up made %v", what, preview.ChangeSummary, planned, made)
			break
		}
	}
	for op, n := range made {
		if op != "same" && preview.ChangeSummary[op] != n {
			t.Errorf("%s: the up made %v, the preview planned %v (%v)", what, made, preview.ChangeSummary, planned)
			break
		}
	}
	t.Logf("%s: planned and made %v: %v", what, made, planned)
	return made
}

func policyPasses(t *testing.T, p *project) {
	out, took := p.timed(t, "preview", "-s", p.stack, "--policy-pack", p.policyPack(t, ""))
	measured("preview with the policy pack", took)
	if !strings.Contains(out, "Loading policy packs...: done") || strings.Contains(out, "mandatory") {
		t.Errorf("the pack did not load, or found mandatory violations:\n%s", lastLines(out, 60))
	}

	// The same preview through a copy of the pack with one more mandatory rule, which
	// every Namespace breaks: the analyzer sees every resource and stops the preview.
	probe := "package lamina\n\nimport rego.v1\n\n# METADATA\n# title: engine probe\n# description: every Namespace breaks it.\n" +
		"deny_engine_probe contains msg if {\n\tinput.kind == \"Namespace\"\n\tmsg := sprintf(\"e2e probe saw Namespace %s\", [input.metadata.name])\n}\n"
	out, err := p.pulumi(t, "preview", "-s", p.stack, "--policy-pack", p.policyPack(t, probe))
	if err == nil || strings.Count(out, "e2e probe saw Namespace") != 9 {
		t.Errorf("a mandatory violation on each of the 9 Namespaces should stop the preview (err %v):\n%s", err, lastLines(out, 40))
	}
}

// step is one entry of `pulumi preview --json`.
type step struct {
	Op  string `json:"op"`
	URN string `json:"urn"`
}

// lastUpdate is what the stack's last update changed, by operation, from its history.
func lastUpdate(t *testing.T, p *project) map[string]int {
	t.Helper()
	var history []struct {
		ResourceChanges map[string]int `json:"resourceChanges"`
	}
	out := p.must(t, "stack", "history", "--json", "-s", p.stack)
	if err := json.Unmarshal([]byte(out[strings.Index(out, "["):]), &history); err != nil || len(history) == 0 {
		t.Fatalf("stack history --json: %v\n%s", err, lastLines(out, 20))
	}
	return history[0].ResourceChanges
}

// steps are the steps of a preview --json.
func steps(t *testing.T, out string) []step {
	t.Helper()
	var preview struct {
		Steps []step `json:"steps"`
	}
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &preview); err != nil {
		t.Fatalf("preview --json: %v\n%s", err, lastLines(out, 20))
	}
	return preview.Steps
}

// changes are the steps of a preview that change something, "op name" each, sorted.
func changes(t *testing.T, out string) []string {
	t.Helper()
	var changed []string
	for _, s := range steps(t, out) {
		if s.Op != "same" {
			changed = append(changed, s.Op+" "+s.URN[strings.LastIndex(s.URN, "::")+2:])
		}
	}
	sort.Strings(changed)
	return changed
}

func configChange(t *testing.T, w *world, p *project) {
	p.must(t, "config", "set", "--path", "lamina:monitoring.prometheus.retention", "14d", "-s", p.stack)
	got := changes(t, p.must(t, "preview", "--json", "-s", p.stack))
	if want := []string{"update prometheus"}; !slices.Equal(got, want) {
		t.Errorf("a new retention changes %v, want %v", got, want)
	}
	_, took := p.timed(t, "up", "--yes", "-s", p.stack)
	measured("up of one release's change", took)
	// Prometheus runs with the new retention.
	deployments, err := w.clientset.AppsV1().Deployments("monitoring").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var retention []string
	for _, d := range deployments.Items {
		for _, c := range d.Spec.Template.Spec.Containers {
			for _, arg := range c.Args {
				if v, ok := strings.CutPrefix(arg, "--storage.tsdb.retention.time="); ok {
					retention = append(retention, d.Name+": "+v)
				}
			}
		}
	}
	if !slices.Equal(retention, []string{"prometheus: 14d"}) {
		t.Errorf("Prometheus's retention: %v, want [prometheus: 14d]", retention)
	}
	p.must(t, "preview", "--expect-no-changes", "-s", p.stack)
}

func stoppedVM(t *testing.T, w *world, p *project) {
	colima := func(args ...string) {
		t.Helper()
		if out, err := run(p.dir, w.mac.env, filepath.Join(w.dir, "mac-bin", "colima"), args...); err != nil {
			t.Fatalf("colima %v: %v\n%s", args, err, out)
		}
	}
	colima("stop", "--profile="+profile)
	// A preview cannot read a stopped VM's cluster: it says so, and plans the start.
	out := p.must(t, "preview", "--json", "-s", p.stack)
	if got := changes(t, out); !slices.Contains(got, "update colima-start") || slices.Contains(got, "update colima-vm") {
		t.Errorf("the preview does not show that the VM will be started, and only started: %v", got)
	}
	if !strings.Contains(out, "is not running, so this preview cannot read its cluster") {
		t.Errorf("the preview does not say why it cannot be exact:\n%s", lastLines(out, 20))
	}
	_, took := p.timed(t, "up", "--yes", "-s", p.stack)
	measured("up that starts a stopped VM", took)
	if !w.mac.running() {
		t.Fatal("the VM was not started")
	}
	p.must(t, "preview", "--expect-no-changes", "-s", p.stack)

	// Started by hand, as the preview's warning says: the preview is exact again.
	colima("stop", "--profile="+profile)
	colima("start", "--profile="+profile)
	previewTellsTheTruth(t, p, "after the VM was started by hand")

	// A bigger disk restarts the VM: the preview shows the restart and the waits after
	// it, and not the cluster's resources, which the up leaves alone.
	p.must(t, "config", "set", "--path", "lamina:colima.diskGiB", "220", "-s", p.stack)
	made := previewTellsTheTruth(t, p, "that grows the VM's disk")
	if made["update"] == 0 || made["update"] > 12 {
		t.Errorf("growing the disk updated %d resources; want the VM's command and the waits after it", made["update"])
	}
	p.must(t, "preview", "--expect-no-changes", "-s", p.stack)
}

// rebootedVM reboots the VM under the stack, as a Mac's restart does to it: the VM stops,
// every control-plane process restarts on the same data, the node is NotReady and its
// pods are not ready until the kubelet is back. The next up starts the VM, waits through
// the node's return, converges touching nothing that holds data, and the preview after
// it is empty.
func rebootedVM(t *testing.T, w *world, p *project) {
	ctx := context.Background()
	claims, files := boundVolumes(t, w), filesUnder(t, p.dataDir())
	if out, err := run(p.dir, w.mac.env, filepath.Join(w.dir, "mac-bin", "colima"), "stop", "--profile="+profile); err != nil {
		t.Fatalf("colima stop: %v\n%s", err, out)
	}
	restartKubelet, err := w.restartControlPlane(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The kubelet comes back once, whatever happens here: the later scenarios need it.
	var once sync.Once
	var kubeletErr error
	kubelet := func() error {
		once.Do(func() { kubeletErr = restartKubelet() })
		return kubeletErr
	}
	defer func() {
		if err := kubelet(); err != nil {
			t.Errorf("starting kwok again: %v", err)
		}
	}()
	node := "colima-" + profile
	if err := nodeLost(ctx, w.clientset, node); err != nil {
		t.Fatal(err)
	}
	// The kubelet comes back 10 seconds after the VM runs again.
	back := make(chan time.Time, 1)
	go func() {
		for !w.mac.running() {
			time.Sleep(200 * time.Millisecond)
		}
		time.Sleep(10 * time.Second)
		if err := kubelet(); err != nil {
			t.Errorf("starting kwok again: %v", err)
		}
		if err := podsBack(ctx, w.clientset, node); err != nil {
			t.Errorf("readying the pods again: %v", err)
		}
		back <- time.Now()
	}()
	_, took := p.timed(t, "up", "--yes", "-s", p.stack)
	measured("up after a reboot of the VM", took)
	ended := time.Now()
	select {
	case at := <-back:
		if at.After(ended) {
			t.Errorf("the up ended %s before the node was Ready again: it did not wait for it", at.Sub(ended).Round(100*time.Millisecond))
		} else {
			t.Logf("the kubelet came back %s before the up ended", ended.Sub(at).Round(100*time.Millisecond))
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("the VM did not run again, or its kubelet did not come back")
	}
	made := lastUpdate(t, p)
	t.Logf("the up after the reboot made %v", made)
	for _, op := range []string{"create", "delete", "replace"} {
		if made[op] > 0 {
			t.Errorf("the up after a reboot made %v: nothing should be made, deleted or replaced", made)
		}
	}
	p.must(t, "preview", "--expect-no-changes", "-s", p.stack)
	if got := boundVolumes(t, w); !maps.Equal(got, claims) {
		t.Errorf("the claims after the reboot are bound to %v; before, %v", got, claims)
	}
	if got := filesUnder(t, p.dataDir()); !maps.Equal(got, files) {
		t.Errorf("the host data directory changed across the reboot: %v, before %v", got, files)
	}
}

// nodeLost marks the node and its pods as the node lifecycle controller does once the
// kubelet stops posting status (kubernetes pkg/controller/nodelifecycle: the Ready
// condition Unknown, NodeStatusUnknown; MarkPodsNotReady).
func nodeLost(ctx context.Context, cs kubernetes.Interface, name string) error {
	// As the controllers do: read, change, write, and again when another writer came
	// first (the controllers still touch the objects).
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		node, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for i, c := range node.Status.Conditions {
			if c.Type == corev1.NodeReady {
				node.Status.Conditions[i] = corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionUnknown,
					Reason: "NodeStatusUnknown", Message: "Kubelet stopped posting node status.", LastHeartbeatTime: c.LastHeartbeatTime,
					LastTransitionTime: metav1.Now()}
			}
		}
		_, err = cs.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("marking node %s NotReady: %w", name, err)
	}
	return setPodsReady(ctx, cs, name, corev1.ConditionFalse)
}

// podsBack is the kubelet back after the reboot: kwok's stages make a node Ready again,
// but not the pods it already ran, so the harness reports them ready as the kubelet's
// probes would once their containers start again.
func podsBack(ctx context.Context, cs kubernetes.Interface, name string) error {
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		node, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		for _, c := range node.Status.Conditions {
			if c.Type == corev1.NodeReady {
				return c.Status == corev1.ConditionTrue, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("node %s is not Ready again: %w", name, err)
	}
	return setPodsReady(ctx, cs, name, corev1.ConditionTrue)
}

// setPodsReady sets the Ready and ContainersReady conditions of the running pods on a
// node.
func setPodsReady(ctx context.Context, cs kubernetes.Interface, node string, status corev1.ConditionStatus) error {
	pods, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + node})
	if err != nil {
		return err
	}
	for _, listed := range pods.Items {
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			pod, err := cs.CoreV1().Pods(listed.Namespace).Get(ctx, listed.Name, metav1.GetOptions{})
			if err != nil || pod.Status.Phase != corev1.PodRunning {
				return err
			}
			for i, c := range pod.Status.Conditions {
				if c.Type == corev1.PodReady || c.Type == corev1.ContainersReady {
					pod.Status.Conditions[i].Status, pod.Status.Conditions[i].LastTransitionTime = status, metav1.Now()
				}
			}
			for i := range pod.Status.ContainerStatuses {
				pod.Status.ContainerStatuses[i].Ready = status == corev1.ConditionTrue
			}
			_, err = cs.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
			return err
		})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("pod %s/%s: %w", listed.Namespace, listed.Name, err)
		}
	}
	return nil
}

// boundClaims are the cluster's claims that are Bound; the test fails unless there are
// want claims in all, every one Bound.
func boundClaims(t *testing.T, w *world, want int) []corev1.PersistentVolumeClaim {
	t.Helper()
	claims, err := w.clientset.CoreV1().PersistentVolumeClaims("").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(claims.Items) != want {
		t.Errorf("%d claims, want %d", len(claims.Items), want)
	}
	var bound []corev1.PersistentVolumeClaim
	for _, c := range claims.Items {
		if c.Status.Phase != corev1.ClaimBound {
			t.Errorf("claim %s/%s is %s", c.Namespace, c.Name, c.Status.Phase)
			continue
		}
		bound = append(bound, c)
	}
	return bound
}

// boundVolumes maps each claim to the volume it is bound to.
func boundVolumes(t *testing.T, w *world) map[string]string {
	t.Helper()
	claims, err := w.clientset.CoreV1().PersistentVolumeClaims("").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bound := map[string]string{}
	for _, c := range claims.Items {
		bound[c.Namespace+"/"+c.Name] = c.Spec.VolumeName
	}
	return bound
}

// filesUnder maps each file under dir to its size and modification time.
func filesUnder(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		files[path] = fmt.Sprintf("%d bytes, %s", info.Size(), info.ModTime().Format(time.RFC3339Nano))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// sharedStack runs the staging pipeline on development's platform: a stack joins it
// through a real StackReference on the file backend, as staging joins production, and
// development then promotes that stack's images, refusing tags and taking digests.
func sharedStack(t *testing.T, w *world, p *project) {
	ctx := context.Background()
	set := func(q *project, key, value string) { q.must(t, "config", "set", "--path", key, value, "-s", q.stack) }
	// Development takes the tenant in, with a share its VM has room for.
	set(p, "lamina:colima.tenants[0].stack", "staging")
	set(p, "lamina:colima.tenants[0].cpu", "340m")
	set(p, "lamina:colima.tenants[0].memory", "8Gi")
	for _, change := range changes(t, p.must(t, "preview", "--json", "-s", p.stack)) {
		if change != "update lamina-infra-development" { // the stack's outputs
			t.Errorf("a tenant's share changes %s; only the tenants output should change", change)
		}
	}
	p.must(t, "up", "--yes", "-s", p.stack)

	s := newProject(t, w, "staging")
	s.must(t, "stack", "init", "staging")
	s.configure(t)
	set(s, "lamina:cluster.platform", "development")
	set(s, "lamina:data.dir", filepath.Join(p.dataDir(), "tenants", "staging"))
	set(s, "lamina:edge.address", "192.168.64.200")
	// As its platform: development sends spans to Jaeger itself, without a collector.
	set(s, "lamina:tracing.collector.enabled", "false")
	for _, key := range []string{"llm", "chroma", "core", "dashboard"} {
		set(s, "lamina:"+key+".resources.requests.cpu", "10m")
		set(s, "lamina:"+key+".resources.requests.memory", "1Gi")
	}
	out, took := s.timed(t, "up", "--yes", "-s", "staging")
	measured("up of a shared stack from nothing (with its program's first build)", took)
	measured("up of a shared stack from nothing, the engine's part", engineDuration(t, out))
	outputs := s.outputs(t)
	for key, want := range map[string]any{"platform": "development", "clusterTarget": "shared", "kubeContext": "colima-" + profile,
		"dashboardURL": "https://dashboard.staging.lamina.home.arpa"} {
		if got := outputs[key]; got != want {
			t.Errorf("staging's output %s = %v, want %v", key, got, want)
		}
	}
	for _, ns := range []string{"lamina-staging", "lamina-staging-llm-serve", "lamina-staging-dashboard"} {
		deployments, err := w.clientset.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil || len(deployments.Items) == 0 {
			t.Errorf("no Deployment in %s: %v", ns, err)
			continue
		}
		for _, d := range deployments.Items {
			if d.Status.ReadyReplicas != replicas(d.Spec.Replicas) {
				t.Errorf("Deployment %s/%s: %d of %d ready", d.Namespace, d.Name, d.Status.ReadyReplicas, replicas(d.Spec.Replicas))
			}
		}
	}

	// Staging runs tags: development refuses to promote them, before changing anything.
	set(p, "lamina:images.promoteFrom", "staging")
	out, err := p.pulumi(t, "preview", "-s", p.stack)
	if err == nil || !strings.Contains(out, "lamina:images.promoteFrom: stack staging runs lamina-core as") || !strings.Contains(out, "which is not content-addressed") {
		t.Errorf("promoting tags should stop the preview (err %v):\n%s", err, lastLines(out, 30))
	}
	// Staging runs digests: development runs exactly those.
	digest := map[string]string{}
	for key, workload := range map[string]string{"llmServe": "lamina-llm-serve", "core": "lamina-core", "dashboard": "lamina-dashboard"} {
		digest[workload] = "ghcr.io/lamina-os/" + workload + "@sha256:" + strings.Repeat(fmt.Sprintf("%x", len(workload)%16), 64)
		set(s, "lamina:images."+key+".reference", digest[workload])
	}
	s.must(t, "up", "--yes", "-s", "staging")
	_, took = p.timed(t, "up", "--yes", "-s", p.stack)
	measured("up of a promotion", took)
	for ns, workload := range map[string]string{"lamina-system": "lamina-core", "lamina-dashboard": "lamina-dashboard", "lamina-llm-serve": "lamina-llm-serve"} {
		d, err := w.clientset.AppsV1().Deployments(ns).Get(ctx, workload, metav1.GetOptions{})
		if err != nil {
			t.Errorf("%s: %v", workload, err)
			continue
		}
		c := d.Spec.Template.Spec.Containers[slices.IndexFunc(d.Spec.Template.Spec.Containers, func(c corev1.Container) bool { return c.Name == workload })]
		if c.Image != digest[workload] || c.ImagePullPolicy != corev1.PullNever {
			t.Errorf("development runs %s as %s (%s), want staging's %s, never pulled", workload, c.Image, c.ImagePullPolicy, digest[workload])
		}
	}

	// Staging goes; development stops promoting (its reference would find no images).
	s.must(t, "destroy", "--yes", "-s", "staging")
	s.must(t, "stack", "rm", "--yes", "staging")
	p.must(t, "config", "rm", "--path", "lamina:images.promoteFrom", "-s", p.stack)
}

// onTheGPU brings the torn-down stack back on a krunkit VM, whose node advertises the
// GPU (lamina.io/gpu, kwok standing in for the kubelet and the device plugin's
// registration): the device plugin runs in kube-system, llm-serve's pod holds the
// device and is ready, and the stack tears down as before.
func onTheGPU(t *testing.T, w *world, p *project) {
	for key, value := range map[string]string{
		"lamina:colima.vmType": "krunkit", "lamina:colima.memoryGiB": "48", "lamina:llm.accelerator": "gpu",
		"lamina:llm.resources.requests.memory": "6Gi", "lamina:llm.resources.limits.memory": "12Gi",
	} {
		p.must(t, "config", "set", "--path", key, value, "-s", p.stack)
	}
	out, took := p.timed(t, "up", "--yes", "-s", p.stack)
	measured("up from nothing on a krunkit VM with the GPU", took)
	measured("up from nothing on a krunkit VM with the GPU, the engine's part", engineDuration(t, out))
	ctx := context.Background()
	cs := w.clientset
	node, err := cs.CoreV1().Nodes().Get(ctx, "colima-"+profile, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if q := node.Status.Allocatable["lamina.io/gpu"]; q.Value() != 1 {
		t.Errorf("the krunkit VM's node advertises %v of lamina.io/gpu, want 1", q.String())
	}
	plugin, err := cs.AppsV1().DaemonSets("kube-system").Get(ctx, "lamina-gpu-device-plugin", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !daemonSetReady(*plugin) {
		t.Errorf("the device plugin: %d of %d ready", plugin.Status.NumberReady, plugin.Status.DesiredNumberScheduled)
	}
	pods, err := cs.CoreV1().Pods("lamina-llm-serve").List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=lamina-llm-serve"})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 1 {
		t.Fatalf("%d llm-serve pods, want 1", len(pods.Items))
	}
	pod := pods.Items[0]
	ready := podReady(&pod)
	var gpu int64
	for _, c := range pod.Spec.Containers {
		if c.Name == "lamina-llm-serve" {
			q := c.Resources.Limits["lamina.io/gpu"]
			gpu = q.Value()
		}
	}
	if pod.Spec.NodeName != node.Name || !ready || gpu != 1 {
		t.Errorf("llm-serve's pod %s: on node %q, ready %v, lamina.io/gpu %d; want on %s, ready, 1", pod.Name, pod.Spec.NodeName, ready, gpu, node.Name)
	}
	teardown(t, w, p)
}

// interruptedUp starts an up from nothing, stops it with SIGINT (Ctrl-C) once about half
// of the resources are in the state, and runs up again: it converges with no manual step,
// and the data written before stays. Then the stack is torn down again.
// interruptedUps cuts two ups from nothing short, as a user's week does: the first is
// killed (kill -9, a crash, a closed lid) with about half the resources made and Helm
// installs in flight; after `lamina recover`, which make up runs first, the next is
// stopped with Ctrl-C further on; the one after converges with nothing else typed.
func interruptedUps(t *testing.T, w *world, p *project) {
	out := killedThenRecovered(t, w, p, 110)
	if !strings.Contains(out, "forgot Helm's record of release") {
		t.Errorf("lamina recover forgot no Helm release the killed run installed")
	}

	interruptedThenConverged(t, w, p, 170)
	releasesDeployed(t, w)
	teardown(t, w, p)
}

// interruptedThenConverged stops an up with Ctrl-C once the checkpoint holds n
// resources, and checks that the next up converges with no other step: the preview
// after it is empty and no operation is pending.
func interruptedThenConverged(t *testing.T, w *world, p *project, n int) {
	t.Helper()
	interrupted, _ := upUntil(t, w, p, n, os.Interrupt)
	t.Logf("Ctrl-C with %d resources in the state", interrupted)
	_, took := p.timed(t, "up", "--yes", "-s", p.stack)
	measured(p.stack+": up after a killed and an interrupted up", took)
	p.must(t, "preview", "--expect-no-changes", "-s", p.stack)
	if pending := pendingOperations(t, p); len(pending) > 0 {
		t.Errorf("pending operations after the up converged: %v", pending)
	}
}

// checkpoint is the file the local backend keeps the stack's state in.
func (p *project) checkpoint() string {
	return filepath.Join(p.w.dir, "state", ".pulumi", "stacks", "lamina-infra", p.stack+".json")
}

// killedThenRecovered kills the CLI of an up from nothing (SIGKILL, the CLI alone) once
// the checkpoint holds n resources, checks that the next pulumi up stops on the dead
// run's lock, and runs lamina recover as make up does: the plugins the run left are
// stopped, and no operation is pending. It returns what lamina recover said.
func killedThenRecovered(t *testing.T, w *world, p *project, n int) string {
	t.Helper()
	killed, plugins := upUntil(t, w, p, n, os.Kill)
	t.Logf("kill -9 with %d resources in the state; its plugins: %v", killed, plugins)
	// Pulumi alone stops on the dead CLI's lock, or, when the kill cut the checkpoint's
	// attributes file short, cannot read the state at all.
	out, err := p.pulumi(t, "up", "--yes", "-s", p.stack)
	if err == nil || !strings.Contains(out, "the stack is currently locked by 1 lock(s)") && !strings.Contains(out, "failed to load checkpoint: EOF") {
		t.Fatalf("the up after a kill did not stop on the lock (%v):\n%s", err, lastLines(out, 20))
	}
	t.Logf("pulumi up after the kill: %s", lastLines(out, 2))
	begin := time.Now()
	out, err = run(p.dir, w.mac.env, laminaBinary(t, w), "recover", "-s", p.stack)
	measured(p.stack+": lamina recover after a killed up", time.Since(begin))
	t.Logf("lamina recover (%v):\n%s", err, out)
	if err != nil {
		t.Fatalf("lamina recover failed")
	}
	for _, want := range []string{"stopped pulumi-resource-", "removed the lock of pulumi", "cleared the pending creates", "is repaired"} {
		if !strings.Contains(out, want) {
			t.Errorf("lamina recover did not say %q", want)
		}
	}
	if left := processesOf(t, plugins); len(left) > 0 {
		t.Errorf("the killed run's plugins still run after lamina recover: %v", left)
	}
	if pending := pendingOperations(t, p); len(pending) > 0 {
		t.Errorf("pending operations after lamina recover: %v", pending)
	}
	return out
}

// upUntil starts pulumi up and sends sig to the CLI alone once the local backend's
// checkpoint holds at least n resources. It returns how many it held and the engine
// address the run's plugins were started with.
func upUntil(t *testing.T, w *world, p *project, n int, sig os.Signal) (int, string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(w.bin, "pulumi"), "up", "--yes", "-s", p.stack, "--non-interactive")
	cmd.Dir, cmd.Env = p.dir, w.mac.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	begin := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	checkpoint := p.checkpoint()
	held := 0
	for held < n && time.Since(begin) < 5*time.Minute {
		time.Sleep(250 * time.Millisecond)
		if data, err := os.ReadFile(checkpoint); err == nil {
			held = len(checkpointURN.FindAll(data, -1))
		}
	}
	engine := engineOf(t, cmd.Process.Pid)
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatalf("the up ended before %d resources were in the state (%d): %v\n%s", n, held, err, lastLines(out.String(), 20))
	}
	err := cmd.Wait()
	measured(fmt.Sprintf("up until %v, and its stop", sig), time.Since(begin))
	t.Logf("%v with %d resources in the state; the CLI exited with %v:\n%s", sig, held, err, lastLines(out.String(), 8))
	if err == nil {
		t.Errorf("the up stopped by %v reported success", sig)
	}
	return held, engine
}

// engineOf is the address a running CLI's engine serves its plugins on: their
// argument.
func engineOf(t *testing.T, cli int) string {
	t.Helper()
	out, err := exec.Command("ps", "-o", "args=", "--ppid", fmt.Sprint(cli)).Output()
	if err != nil {
		t.Fatalf("ps --ppid %d: %v", cli, err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) == 2 && strings.HasPrefix(filepath.Base(f[0]), "pulumi-") {
			return f[1]
		}
	}
	t.Fatalf("the CLI (pid %d) runs no plugin:\n%s", cli, out)
	return ""
}

// processesOf lists the processes whose command line holds the engine address.
func processesOf(t *testing.T, engine string) []string {
	out, err := exec.Command("ps", "-axo", "pid=,args=").Output()
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasSuffix(line, " "+engine) {
			found = append(found, strings.TrimSpace(line))
		}
	}
	return found
}

// pendingOperations are the state's operations a run began and did not finish.
func pendingOperations(t *testing.T, p *project) []string {
	t.Helper()
	var doc struct {
		Deployment struct {
			Pending []struct {
				Type     string `json:"type"`
				Resource struct {
					URN string `json:"urn"`
				} `json:"resource"`
			} `json:"pending_operations"`
		} `json:"deployment"`
	}
	if err := json.Unmarshal([]byte(p.must(t, "stack", "export", "-s", p.stack)), &doc); err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, op := range doc.Deployment.Pending {
		ops = append(ops, op.Type+" "+op.Resource.URN)
	}
	return ops
}

// releasesDeployed checks that each of development's 12 releases is deployed at its
// latest revision, and returns how many there are.
func releasesDeployed(t *testing.T, w *world) int {
	t.Helper()
	secrets, err := w.clientset.CoreV1().Secrets("").List(context.Background(), metav1.ListOptions{LabelSelector: "owner=helm"})
	if err != nil {
		t.Fatal(err)
	}
	type revision struct {
		number int
		status string
	}
	latest := map[string]revision{}
	for _, s := range secrets.Items {
		var n int
		fmt.Sscan(s.Labels["version"], &n)
		name := s.Namespace + "/" + s.Labels["name"]
		if n > latest[name].number {
			latest[name] = revision{n, s.Labels["status"]}
		}
	}
	if len(latest) != 12 {
		t.Errorf("%d releases, want development's 12: %v", len(latest), latest)
	}
	for name, r := range latest {
		if r.status != "deployed" {
			t.Errorf("release %s is %s at revision %d", name, r.status, r.number)
		}
	}
	return len(latest)
}

// checkpointURN finds each resource's URN in a local backend's checkpoint.
var checkpointURN = regexp.MustCompile(`"urn":\s*"urn:pulumi:`)

func teardown(t *testing.T, w *world, p *project) {
	keep := map[string]string{"models/llama-3.2-3b.gguf": "weights", "grafana/grafana.db": "dashboards", "chromadb/chroma.sqlite3": "vectors"}
	for name, content := range keep {
		path := filepath.Join(p.dataDir(), name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, took := p.timed(t, "destroy", "--yes", "-s", p.stack)
	measured("destroy", took)
	if left := w.mac.vmDiskLeft(profile); len(left) > 0 {
		t.Errorf("the VM is not all gone after destroy: %v", left)
	}
	ctx := context.Background()
	err := wait.PollUntilContextTimeout(ctx, time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		namespaces, err := w.clientset.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/part-of=lamina"})
		return err == nil && len(namespaces.Items) == 0, nil
	})
	if err != nil {
		t.Errorf("the stack's namespaces are still there after destroy: %v", err)
	}
	for name, content := range keep {
		data, err := os.ReadFile(filepath.Join(p.dataDir(), name))
		if err != nil || string(data) != content {
			t.Errorf("%s after the teardown: %q, %v", name, data, err)
		}
	}
}
