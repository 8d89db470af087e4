package e2e

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/wait"
)

// The lab: the example stack of docs/examples (production's sizing on an existing
// cluster) on a simulated cluster of three nodes in two zones, whose volumes rancher's
// local-path provisioner provisions for real (localpath_test.go), as a team's Mac
// Studios joined into one k3s cluster have them. lab-a1 and lab-b1 may run llm-serve
// (labelled lamina.io/llm=true); lab-b1, in the other zone, runs nothing else (tainted
// lamina.io/llm=true:NoSchedule, which llm-serve tolerates). The cluster's own MetalLB
// (simulated as development's: simulateLoadBalancers) gives the gateway the address its
// Service asks for, the stack file's lamina:edge.address.
const (
	labStack   = "lab"
	labAddress = "10.20.0.10" // lamina:edge.address of docs/examples/Pulumi.lab.yaml
	llmLabel   = "lamina.io/llm"
	// labNodesEnv, set to 1, runs the lab on lab-a1 alone, untainted: the measured
	// command that compares an up on three nodes with one (docs/testing.md). CI runs
	// three.
	labNodesEnv = "LAMINA_E2E_LAB_NODES"
)

// labNodes are the lab's nodes: three, or with labNodesEnv=1 the first, untainted.
func labNodes(t testing.TB) []simNode {
	nodes := []simNode{
		{name: "lab-a1", zone: "zone-a", labels: map[string]string{llmLabel: "true"}, cpu: "32", mem: "320Gi"},
		{name: "lab-a2", zone: "zone-a", cpu: "32", mem: "320Gi"},
		{name: "lab-b1", zone: "zone-b", labels: map[string]string{llmLabel: "true"}, cpu: "32", mem: "320Gi",
			taints: []corev1.Taint{{Key: llmLabel, Value: "true", Effect: corev1.TaintEffectNoSchedule}}},
	}
	switch n := os.Getenv(labNodesEnv); n {
	case "", "3":
		return nodes
	case "1":
		return nodes[:1]
	default:
		t.Fatalf("%s is %q; allowed: 1 or 3", labNodesEnv, n)
		return nil
	}
}

// The lab, as its operator runs it: up from nothing, then a node drained for
// maintenance and an up after it.
func TestMultiNodeCluster(t *testing.T) {
	nodes := labNodes(t)
	w := startLab(t, nodes)
	p := newProject(t, w, labStack)
	example, err := os.ReadFile(filepath.Join(root, "docs", "examples", "Pulumi.lab.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p.dir, "Pulumi.lab.yaml"), example, 0o644); err != nil {
		t.Fatal(err)
	}
	w.installPlugins(t, p)
	p.must(t, "stack", "init", labStack)
	p.configure(t)
	// configure points every chart of the program at the mirror, MetalLB's too, which
	// this target runs none of and refuses.
	p.must(t, "config", "rm", "lamina:metallb", "-s", labStack)
	// What the operator sets beside the example: the cluster's kubeconfig and network, its classes
	// (the example's longhorn and nfs are this cluster's local-path and shared-path), and
	// the secret it asks for.
	set := func(key, value string, secret bool) {
		args := []string{"config", "set", "--path", key, value, "-s", labStack}
		if secret {
			args = append(args, "--secret")
		}
		p.must(t, args...)
	}
	set("lamina:cluster.kubeconfig", w.admin, false)
	set("lamina:cluster.nodeCIDR", "192.168.64.0/24", false) // the simulated nodes' (kwok --node-ip)
	set("lamina:cluster.context", "envtest", false)          // the context of envtest's kubeconfigs
	set("lamina:storage.class", localPathClass, false)
	set("lamina:storage.volumes.models.class", sharedPathClass, false)
	set("lamina:grafana.adminPassword", "lab-e2e-admin", true)

	if !scenario(t, "lab: up from nothing on "+count(len(nodes))+", every claim bound by the provisioner, every replica spread", func(t *testing.T) {
		labUp(t, w, p, nodes)
	}) {
		t.Fatal("the lab did not come up; the drain needs it")
	}
	if len(nodes) == 1 {
		t.Logf("%s=1: one node, which has nowhere to drain to; the drain scenario is for three", labNodesEnv)
		return
	}
	scenario(t, "lab: a node drained keeps every budgeted service available, and an up after it changes nothing", func(t *testing.T) {
		labDrain(t, w, p)
	})
}

// count is "1 node" or "n nodes".
func count(n int) string {
	if n == 1 {
		return "1 node"
	}
	return fmt.Sprintf("%d nodes", n)
}

// startLab starts the lab's cluster: the control plane and kwok with the provisioner's
// helper pods' stage, the nodes, the provisioner and its two classes, the chart server
// and the Mac the CLI runs on.
func startLab(t *testing.T, nodes []simNode) *world {
	mirror, skip, err := chartMirror()
	if mirror == "" {
		ready(t, skip, err)
	}
	w, skip, err := newWorld(append(slices.Clone(tools), "local-path-provisioner"), "lab-")
	if w == nil {
		ready(t, skip, err)
	}
	t.Cleanup(w.stop)
	w.mirror = mirror
	begin := time.Now()
	if err := addStage(w, filepath.Join("testdata", "kwok-stage-local-path-helper.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := w.startCluster(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cs := w.clientset
	if err := createNodes(ctx, cs, nodes); err != nil {
		t.Fatal(err)
	}
	if err := createLocalPathSetup(ctx, cs); err != nil {
		t.Fatal(err)
	}
	stop, err := startLocalPathProvisioner(w, filepath.Join(w.dir, "logs"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	// The upstream class (deploy/local-path-storage.yaml:115-121), and the shared one,
	// which binds at once as an NFS class does: any node mounts its volumes.
	for _, c := range []struct {
		name string
		mode storagev1.VolumeBindingMode
	}{{localPathClass, storagev1.VolumeBindingWaitForFirstConsumer}, {sharedPathClass, storagev1.VolumeBindingImmediate}} {
		reclaim := corev1.PersistentVolumeReclaimDelete
		if _, err := cs.StorageV1().StorageClasses().Create(ctx, &storagev1.StorageClass{
			ObjectMeta: metav1.ObjectMeta{Name: c.name}, Provisioner: localPathName, VolumeBindingMode: &c.mode, ReclaimPolicy: &reclaim,
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if w.charts, err = serveCharts(w.mirror, filepath.Join(w.dir, "charts-ca.pem")); err != nil {
		t.Fatal(err)
	}
	if w.mac, err = newMac(w); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, name := range []string{"local-path-provisioner", "kube-scheduler", "kube-controller-manager"} {
				out, _ := os.ReadFile(filepath.Join(w.dir, "logs", name+".log"))
				t.Logf("%s's log ends:\n%s", name, lastLines(string(out), 30))
			}
		}
	})
	measured("lab: harness start, "+count(len(nodes))+" and the provisioner", time.Since(begin))
	return w
}

// labUp brings the lab up from nothing and checks what a multi-node cluster needs.
func labUp(t *testing.T, w *world, p *project, nodes []simNode) {
	out, took := p.timed(t, "up", "--yes", "-s", p.stack)
	measured("lab: up from nothing on "+count(len(nodes))+" (with its program's first build)", took)
	measured("lab: up from nothing on "+count(len(nodes))+", the engine's part", engineDuration(t, out))
	ctx := context.Background()
	cs := w.clientset

	// Every claim bound by the provisioner: the model store on the shared class, which
	// every llm-serve replica mounts from any node; every other volume on the node of
	// the pod that first used it.
	for _, c := range boundClaims(t, w, 5) {
		pv, err := cs.CoreV1().PersistentVolumes().Get(ctx, c.Spec.VolumeName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := pv.Annotations["pv.kubernetes.io/provisioned-by"]; got != localPathName {
			t.Errorf("volume %s of claim %s/%s was provisioned by %q", pv.Name, c.Namespace, c.Name, got)
		}
		users := claimUsers(t, w, c)
		switch class := *c.Spec.StorageClassName; {
		case c.Name == "models-data":
			if class != sharedPathClass || !slices.Equal(c.Spec.AccessModes, []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany}) || pv.Spec.NodeAffinity != nil {
				t.Errorf("the model store is %s %v with node affinity %v; want shared-path, ReadWriteMany, any node", class, c.Spec.AccessModes, pv.Spec.NodeAffinity)
			}
		case class != localPathClass:
			t.Errorf("claim %s/%s is of class %s, want %s", c.Namespace, c.Name, class, localPathClass)
		case len(users) != 1 || !affinityIs(pv.Spec.NodeAffinity, users[0]):
			t.Errorf("volume %s of claim %s/%s is pinned by %+v; its pods run on %v", pv.Name, c.Namespace, c.Name, pv.Spec.NodeAffinity, users)
		}
		t.Logf("claim %s/%s: %s, volume %s, used on %v", c.Namespace, c.Name, *c.Spec.StorageClassName, pv.Name, users)
	}

	// Every workload ready, every one of several replicas spread: on as many nodes as
	// it may use, up to its replicas; llm-serve only on its nodes, in both zones.
	placement := workloadPlacement(t, w)
	for _, wl := range placement {
		if wl.ready != wl.replicas {
			t.Errorf("%s: %d of %d ready", wl.name, wl.ready, wl.replicas)
		}
		if wl.replicas < 2 {
			continue
		}
		reported(fmt.Sprintf("lab placement on %s: %s, %d replicas on %s", count(len(nodes)), wl.name, wl.replicas, wl.where()))
		eligible := len(nodes)
		if strings.HasSuffix(wl.name, "/lamina-llm-serve") {
			for node := range wl.nodes {
				if !slices.ContainsFunc(nodes, func(n simNode) bool { return n.name == node && n.labels[llmLabel] == "true" }) {
					t.Errorf("llm-serve runs on %s, which is not labelled %s=true", node, llmLabel)
				}
			}
			if len(nodes) == 3 {
				eligible = 2
				if zones := wl.zones(nodes); len(zones) != 2 {
					t.Errorf("llm-serve runs in the zones %v, want both", zones)
				}
			}
		} else if len(nodes) == 3 {
			eligible = 2 // lab-b1 is llm-serve's
		}
		if want := min(eligible, int(wl.replicas)); len(wl.nodes) != want {
			t.Errorf("%s: %d replicas on %s; want them on %d nodes", wl.name, wl.replicas, wl.where(), want)
		}
	}
	if len(nodes) == 3 {
		if others := podsOn(t, w, "lab-b1", func(p corev1.Pod) bool { return p.Namespace != "lamina-llm-serve" && !ofDaemonSet(p) }); len(others) > 0 {
			t.Errorf("lab-b1 is llm-serve's (and the DaemonSets' that tolerate its taint), but runs %v", others)
		}
	}

	outputs := p.outputs(t)
	for key, want := range map[string]any{
		"clusterTarget": "existing", "gatewayAddress": labAddress, "storageClass": localPathClass, "kubeContext": "envtest",
	} {
		if got := outputs[key]; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("output %s = %v, want %v", key, got, want)
		}
	}
	for _, key := range []string{"dataDir", "dataDirs", "modelsDir", "colimaProfile"} {
		if got, ok := outputs[key]; ok {
			t.Errorf("output %s = %v; an existing cluster's volumes are claims", key, got)
		}
	}
}

// labDrain drains lab-b1 as an operator does before maintenance, watching every
// workload of several replicas: each keeps all but one ready throughout (its budget), the
// drain finishes, every replica is ready again on the nodes left, and an up after it
// finds nothing to change.
func labDrain(t *testing.T, w *world, p *project) {
	// Every workload of several replicas has a budget the disruption controller has
	// counted its pods into: the API server refuses an eviction beyond it.
	budgets, err := w.clientset.PolicyV1().PodDisruptionBudgets("").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, wl := range workloadPlacement(t, w) {
		if wl.replicas < 2 {
			continue
		}
		pods := runningPods(t, w, wl.namespace, wl.selector)
		i := slices.IndexFunc(budgets.Items, func(b policyv1.PodDisruptionBudget) bool {
			sel, err := metav1.LabelSelectorAsSelector(b.Spec.Selector)
			return err == nil && b.Namespace == wl.namespace && b.Status.ExpectedPods == wl.replicas && !sel.Empty() &&
				!slices.ContainsFunc(pods, func(p corev1.Pod) bool { return !sel.Matches(labels.Set(p.Labels)) })
		})
		if i < 0 {
			t.Errorf("%s: no PodDisruptionBudget counts its %d pods", wl.name, wl.replicas)
			continue
		}
		b := budgets.Items[i]
		reported(fmt.Sprintf("lab budget of %s: %s, %d of %d pods healthy required, %d disruption allowed", wl.name, b.Name, b.Status.DesiredHealthy, b.Status.ExpectedPods, b.Status.DisruptionsAllowed))
	}

	// The drain tests llm-serve's budget only if lab-b1 holds two of its three replicas,
	// which kubectl evicts at once: the scheduler puts them there (the emptier of its two
	// nodes), and the test says so if it ever does not.
	for _, wl := range workloadPlacement(t, w) {
		if wl.name == "Deployment lamina-llm-serve/lamina-llm-serve" && wl.nodes["lab-b1"] != 2 {
			t.Fatalf("llm-serve runs on %s; the drain of lab-b1 tests its budget only with two replicas there", wl.where())
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	lowest := watchAvailability(ctx, t, w)
	begin := time.Now()
	out, err := run(w.dir, []string{"KUBECONFIG=" + w.admin}, filepath.Join(w.bin, "kubectl"),
		"drain", "lab-b1", "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=3m")
	measured("lab: kubectl drain of lab-b1", time.Since(begin))
	if err != nil {
		cancel()
		t.Fatalf("kubectl drain lab-b1: %v\n%s", err, lastLines(out, 30))
	}
	t.Logf("kubectl drain:\n%s", lastLines(out, 20))
	// The evicted replicas start again on lab-a1, the other llm-serve node.
	if err := wait.PollUntilContextTimeout(context.Background(), 250*time.Millisecond, 2*time.Minute, true, func(context.Context) (bool, error) {
		for _, wl := range workloadPlacement(t, w) {
			if wl.ready != wl.replicas {
				return false, nil
			}
		}
		return true, nil
	}); err != nil {
		t.Errorf("not every workload is ready again after the drain: %v", err)
	}
	cancel()
	if lowest.ended() {
		t.Error("the API server ended the watch of the pods during the drain: the counts above miss its end")
	}
	for name, seen := range lowest.values() {
		if seen.lowest < seen.replicas-1 {
			t.Errorf("%s: only %d of %d ready at one point of the drain; its budget allows one down", name, seen.lowest, seen.replicas)
		}
		reported(fmt.Sprintf("lab drain of lab-b1: %s kept at least %d of %d ready", name, seen.lowest, seen.replicas))
	}
	if left := podsOn(t, w, "lab-b1", func(p corev1.Pod) bool { return !ofDaemonSet(p) }); len(left) > 0 {
		t.Errorf("after the drain lab-b1 still runs %v", left)
	}
	for _, wl := range workloadPlacement(t, w) {
		if wl.replicas > 1 {
			reported(fmt.Sprintf("lab placement after the drain: %s, %d replicas on %s", wl.name, wl.replicas, wl.where()))
		}
	}

	// With a refresh: the state read back from the cluster, where every evicted pod has
	// moved, still agrees with the program.
	out, took := p.timed(t, "up", "--yes", "--refresh", "--expect-no-changes", "-s", p.stack)
	measured("lab: up --refresh after the drain, no change", took)
	t.Logf("up after the drain:\n%s", lastLines(out, 8))
}

// workload is a Deployment or StatefulSet: how many replicas it wants and has ready,
// and on which nodes its running pods are.
type workload struct {
	name            string
	replicas, ready int32
	nodes           map[string]int
	namespace       string
	selector        labels.Selector
}

func (wl workload) where() string {
	var parts []string
	for _, n := range slices.Sorted(maps.Keys(wl.nodes)) {
		parts = append(parts, fmt.Sprintf("%s ×%d", n, wl.nodes[n]))
	}
	return strings.Join(parts, ", ")
}

func (wl workload) zones(nodes []simNode) []string {
	var zones []string
	for node := range wl.nodes {
		for _, n := range nodes {
			if n.name == node && !slices.Contains(zones, n.zone) {
				zones = append(zones, n.zone)
			}
		}
	}
	sort.Strings(zones)
	return zones
}

// workloadPlacement lists every Deployment and StatefulSet with its running pods' nodes.
func workloadPlacement(t *testing.T, w *world) []workload {
	t.Helper()
	ctx := context.Background()
	cs := w.clientset
	var out []workload
	add := func(kind, namespace, name string, want *int32, ready int32, selector *metav1.LabelSelector) {
		sel, err := metav1.LabelSelectorAsSelector(selector)
		if err != nil {
			t.Fatal(err)
		}
		wl := workload{name: kind + " " + namespace + "/" + name, replicas: replicas(want), ready: ready, nodes: map[string]int{},
			namespace: namespace, selector: sel}
		for _, pod := range runningPods(t, w, namespace, sel) {
			wl.nodes[pod.Spec.NodeName]++
		}
		out = append(out, wl)
	}
	deployments, err := cs.AppsV1().Deployments("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range deployments.Items {
		add("Deployment", d.Namespace, d.Name, d.Spec.Replicas, d.Status.ReadyReplicas, d.Spec.Selector)
	}
	statefulsets, err := cs.AppsV1().StatefulSets("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range statefulsets.Items {
		add("StatefulSet", s.Namespace, s.Name, s.Spec.Replicas, s.Status.ReadyReplicas, s.Spec.Selector)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// runningPods are the pods of namespace that sel selects, scheduled and not ending.
func runningPods(t *testing.T, w *world, namespace string, sel labels.Selector) []corev1.Pod {
	t.Helper()
	pods, err := w.clientset.CoreV1().Pods(namespace).List(context.Background(), metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		t.Fatal(err)
	}
	var out []corev1.Pod
	for _, p := range pods.Items {
		if p.Spec.NodeName != "" && p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
			out = append(out, p)
		}
	}
	return out
}

// podsOn names the pods on node that keep says to, but a provisioner's helper pods.
func podsOn(t *testing.T, w *world, node string, keep func(corev1.Pod) bool) []string {
	t.Helper()
	pods, err := w.clientset.CoreV1().Pods("").List(context.Background(), metav1.ListOptions{FieldSelector: "spec.nodeName=" + node})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil && p.Namespace != localPathNamespace && keep(p) {
			out = append(out, p.Namespace+"/"+p.Name)
		}
	}
	return out
}

// ofDaemonSet says a DaemonSet runs p: drain leaves those (--ignore-daemonsets).
func ofDaemonSet(p corev1.Pod) bool {
	return slices.ContainsFunc(p.OwnerReferences, func(o metav1.OwnerReference) bool { return o.Kind == "DaemonSet" })
}

// claimUsers are the nodes of the running pods that mount claim c.
func claimUsers(t *testing.T, w *world, c corev1.PersistentVolumeClaim) []string {
	t.Helper()
	var nodes []string
	for _, p := range runningPods(t, w, c.Namespace, labels.Everything()) {
		for _, v := range p.Spec.Volumes {
			if v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == c.Name && !slices.Contains(nodes, p.Spec.NodeName) {
				nodes = append(nodes, p.Spec.NodeName)
			}
		}
	}
	sort.Strings(nodes)
	return nodes
}

// availability is the fewest ready pods each workload of several replicas had, counted
// at every change to its pods the API server sent while it was watched.
type availability struct {
	sync.Mutex
	seen map[string]struct{ lowest, replicas int32 }
	// stopped is closed when the watch ends, by ctx or by the API server; ctx is its
	// context.
	stopped <-chan struct{}
	ctx     context.Context
}

// ended says the API server ended the watch before its context did.
func (a *availability) ended() bool {
	select {
	case <-a.stopped:
		return a.ctx.Err() == nil
	default:
		return false
	}
}

func (a *availability) values() map[string]struct{ lowest, replicas int32 } {
	a.Lock()
	defer a.Unlock()
	return maps.Clone(a.seen)
}

// watchAvailability watches every pod until ctx ends and, after each event, counts the
// Ready pods not being deleted of every workload of several replicas (an evicted pod
// stops counting when its deletion starts), keeping the fewest each had. It returns
// once the watch has started.
func watchAvailability(ctx context.Context, t *testing.T, w *world) *availability {
	t.Helper()
	var workloads []workload
	for _, wl := range workloadPlacement(t, w) {
		if wl.replicas > 1 {
			workloads = append(workloads, wl)
		}
	}
	a := &availability{seen: map[string]struct{ lowest, replicas int32 }{}, ctx: ctx}
	for _, wl := range workloads {
		a.seen[wl.name] = struct{ lowest, replicas int32 }{wl.ready, wl.replicas}
	}
	// What is there, then every change after it.
	list, err := w.clientset.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pods := map[string]*corev1.Pod{}
	for i, p := range list.Items {
		pods[p.Namespace+"/"+p.Name] = &list.Items[i]
	}
	a.stopped, err = onPodEvents(ctx, w.clientset, "", list.ResourceVersion, func(deleted bool, pod *corev1.Pod) {
		key := pod.Namespace + "/" + pod.Name
		if deleted {
			delete(pods, key)
		} else {
			pods[key] = pod
		}
		a.Lock()
		defer a.Unlock()
		for _, wl := range workloads {
			var n int32
			for _, p := range pods {
				if p.Namespace == wl.namespace && wl.selector.Matches(labels.Set(p.Labels)) && p.DeletionTimestamp == nil && podReady(p) {
					n++
				}
			}
			if s := a.seen[wl.name]; n < s.lowest {
				a.seen[wl.name] = struct{ lowest, replicas int32 }{n, s.replicas}
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// podReady says p's Ready condition is true.
func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// reported adds a line to what the run prints at its end.
func reported(line string) {
	timings.Lock()
	defer timings.Unlock()
	timings.lines = append(timings.lines, "e2e "+line)
}
