package e2e

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

// rancher's local-path provisioner (github.com/rancher/local-path-provisioner v0.0.30,
// tools/localpath) as a real dynamic provisioner of the simulated cluster: a process on
// this machine with the admin kubeconfig, as its Deployment would run it in the cluster,
// and kwok completing the helper pods it runs on the chosen node
// (testdata/kwok-stage-local-path-helper.yaml). Everything below is written from the
// upstream source and cites it: main.go, provisioner.go and deploy/local-path-storage.yaml
// of that module, and controller/controller.go of
// sigs.k8s.io/sig-storage-lib-external-provisioner/v10 v10.0.1, the controller it runs.

// localPathTools are what the test runs: the cluster and the provisioner
// (build-tools.sh DIR cluster local-path-provisioner).
var localPathTools = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok",
	"kwok-stages.yaml", "local-path-provisioner"}

// The provisioner's defaults, which its upstream manifest (deploy/local-path-storage.yaml)
// relies on and the test passes anyway: main.go:26-42.
const (
	localPathName      = "rancher.io/local-path"                  // --provisioner-name, main.go:27-29
	localPathNamespace = "local-path-storage"                     // --namespace: the ConfigMap's and the helper pods', main.go:30-32
	localPathAccount   = "local-path-provisioner-service-account" // --service-account-name: the helper pods', main.go:36-38
	localPathConfigMap = "local-path-config"                      // --configmap-name, main.go:41-42
	localPathClass     = "local-path"
	// localPathRoot is where the volumes are on every node: the upstream ConfigMap's
	// nodePathMap (deploy/local-path-storage.yaml:130-138).
	localPathRoot = "/opt/local-path-provisioner"
	// sharedPathClass is the class of volumes on a file system every node mounts, at
	// sharedPathRoot.
	sharedPathClass = "shared-path"
	sharedPathRoot  = "/mnt/shared"
)

// localPathConfig is the upstream ConfigMap's data (deploy/local-path-storage.yaml:129-161):
// config.json, read at start when --config is not given (main.go:212-218); helperPod.yaml,
// the helper pods' template, read at start when --helper-pod-file is not given
// (main.go:229-243); setup and teardown, the scripts the helper pods run from a volume of
// this ConfigMap (provisioner.go:610-641), which nothing runs here.
var localPathConfig = map[string]string{
	//
	// Two classes, each with its own configuration (storageClassConfigs, provisioner.go:
	// 95 and 284-293): local-path, the upstream one, a directory on the node the
	// scheduler chose, ReadWriteOnce; and shared-path, a directory of a file system every
	// node mounts (sharedFileSystemPath: no node affinity, any access mode,
	// provisioner.go:277-279, 334-347 and 419-424), as an NFS class is.
	"config.json": `{"storageClassConfigs":{` +
		`"` + localPathClass + `":{"nodePathMap":[{"node":"DEFAULT_PATH_FOR_NON_LISTED_NODES","paths":["` + localPathRoot + `"]}]},` +
		`"` + sharedPathClass + `":{"sharedFileSystemPath":"` + sharedPathRoot + `"}}}`,
	"setup":    "#!/bin/sh\nset -eu\nmkdir -m 0777 -p \"$VOL_DIR\"\n",
	"teardown": "#!/bin/sh\nset -eu\nrm -rf \"$VOL_DIR\"\n",
	"helperPod.yaml": `apiVersion: v1
kind: Pod
metadata:
  name: helper-pod
spec:
  priorityClassName: system-node-critical
  tolerations:
    - key: node.kubernetes.io/disk-pressure
      operator: Exists
      effect: NoSchedule
  containers:
  - name: helper-pod
    image: busybox
    imagePullPolicy: IfNotPresent
`,
}

// simNode is a node kwok simulates: its name, zone, labels beside the well-known ones,
// taints and size.
type simNode struct {
	name, zone string
	labels     map[string]string
	taints     []corev1.Taint
	cpu, mem   string
}

var localPathNodes = []simNode{{name: "lp-a1", zone: "zone-a"}, {name: "lp-a2", zone: "zone-a"}, {name: "lp-b1", zone: "zone-b"}}

func TestLocalPathProvisionerOnKwok(t *testing.T) {
	begin := time.Now()
	w, skip, err := newWorld(localPathTools, "localpath-")
	if err != nil {
		t.Fatal(err)
	}
	if w == nil {
		ready(t, skip+"; internal/e2e/build-tools.sh DIR cluster local-path-provisioner builds what this test needs in seconds from the tool cache", nil)
	}
	t.Cleanup(w.stop)
	// startCluster gives kwok the stages in w.bin: the same tools, with the helper pods'
	// stage added to build-tools.sh's.
	if err := addStage(w, filepath.Join("testdata", "kwok-stage-local-path-helper.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := w.startCluster(); err != nil {
		t.Fatal(err)
	}
	cs := w.clientset
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	logs := filepath.Join(w.dir, "logs")
	t.Cleanup(func() {
		if t.Failed() {
			for _, name := range []string{"local-path-provisioner", "kwok", "kube-controller-manager", "kube-scheduler"} {
				out, _ := os.ReadFile(filepath.Join(logs, name+".log"))
				t.Logf("%s's log ends:\n%s", name, lastLines(string(out), 40))
			}
		}
	})
	lap := begin
	step := func(what string) {
		d := time.Since(lap)
		t.Logf("%s: %s", what, d.Round(10*time.Millisecond))
		measured("local-path: "+what, d)
		lap = time.Now()
	}
	step("cluster started")

	if err := createNodes(ctx, cs, localPathNodes); err != nil {
		t.Fatal(err)
	}
	step("three kwok nodes ready")

	// What the provisioner needs before it starts (main.go:212-243 reads the ConfigMap
	// then): its namespace and ConfigMap; and the service account its helper pods run as
	// (provisioner.go:667), without which the API server's ServiceAccount admission refuses
	// them. Its own RBAC (deploy/local-path-storage.yaml:14-70) does not matter: it runs as
	// the admin here.
	if err := createLocalPathSetup(ctx, cs); err != nil {
		t.Fatal(err)
	}
	helpers, err := watchPhases(ctx, cs, localPathNamespace)
	if err != nil {
		t.Fatal(err)
	}
	stopProvisioner, err := startLocalPathProvisioner(w, logs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stopProvisioner)

	// The upstream StorageClass (deploy/local-path-storage.yaml:115-121).
	wait4 := storagev1.VolumeBindingWaitForFirstConsumer
	reclaim := corev1.PersistentVolumeReclaimDelete
	if _, err := cs.StorageV1().StorageClasses().Create(ctx, &storagev1.StorageClass{
		ObjectMeta:        metav1.ObjectMeta{Name: localPathClass},
		Provisioner:       localPathName,
		VolumeBindingMode: &wait4,
		ReclaimPolicy:     &reclaim,
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	const ns, claimName, podName = "lp-test", "data", "consumer"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	class := localPathClass
	if _, err := cs.CoreV1().PersistentVolumeClaims(ns).Create(ctx, &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: claimName},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, // the only mode besides RWOP, provisioner.go:340-344
			StorageClassName: &class,
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// WaitForFirstConsumer: nothing provisions the claim before a pod wants it (the
	// library provisions only once the scheduler has written the selected node,
	// controller.go:1236-1246).
	time.Sleep(time.Second)
	if pvc, err := cs.CoreV1().PersistentVolumeClaims(ns).Get(ctx, claimName, metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	} else if pvc.Status.Phase != corev1.ClaimPending || pvc.Spec.VolumeName != "" {
		t.Fatalf("the claim is %s (volume %q) before any pod uses it; WaitForFirstConsumer should keep it Pending", pvc.Status.Phase, pvc.Spec.VolumeName)
	}
	lap = time.Now()
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: podName},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name: "app", Image: "busybox",
				Resources:    corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")}},
				VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}},
			}},
			Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claimName},
			}}},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	var pvc *corev1.PersistentVolumeClaim
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		pvc, err = cs.CoreV1().PersistentVolumeClaims(ns).Get(ctx, claimName, metav1.GetOptions{})
		return err == nil && pvc.Status.Phase == corev1.ClaimBound, nil
	}); err != nil {
		t.Fatalf("the claim is not Bound: %v (%s)", err, describeClaim(pvc))
	}
	step("pod created to claim Bound")
	var pod *corev1.Pod
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		pod, err = cs.CoreV1().Pods(ns).Get(ctx, podName, metav1.GetOptions{})
		return err == nil && pod.Status.Phase == corev1.PodRunning, nil
	}); err != nil {
		t.Fatalf("the pod is not Running: %v", err)
	}
	step("claim Bound to pod Running")
	node := pod.Spec.NodeName
	t.Logf("the scheduler chose %s; the claim is bound to %s", node, pvc.Spec.VolumeName)
	if selected := pvc.Annotations["volume.kubernetes.io/selected-node"]; selected != node {
		t.Errorf("the claim's selected node is %q, the pod's %q", selected, node)
	}

	pv, err := cs.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The volume as provisionFor makes it (provisioner.go:366-462): a hostPath (the default
	// volume type, provisioner.go:404-417) at <root>/<PV>_<namespace>_<claim>, bound to the
	// node by its kubernetes.io/hostname label (provisioner.go:419-446), reclaimed as the
	// class says; the library adds who provisioned it (controller.go:1497).
	if got := pv.Annotations["pv.kubernetes.io/provisioned-by"]; got != localPathName {
		t.Errorf("the volume was provisioned by %q", got)
	}
	if got := pv.Annotations["local.path.provisioner/selected-node"]; got != node {
		t.Errorf("the volume's selected-node annotation is %q, not %q", got, node)
	}
	if want := localPathRoot + "/" + pv.Name + "_" + ns + "_" + claimName; pv.Spec.HostPath == nil || pv.Spec.HostPath.Path != want {
		t.Errorf("the volume's source is %+v, not the hostPath %s", pv.Spec.PersistentVolumeSource, want)
	}
	if pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete {
		t.Errorf("the volume's reclaim policy is %s", pv.Spec.PersistentVolumeReclaimPolicy)
	}
	if !affinityIs(pv.Spec.NodeAffinity, node) {
		t.Errorf("the volume's node affinity is %+v, not kubernetes.io/hostname In [%s]", pv.Spec.NodeAffinity, node)
	}
	create := "helper-pod-create-" + pv.Name
	if got := helpers.of(create); !strings.HasSuffix(got, "Succeeded deleted") {
		t.Errorf("the create helper pod %s went %q; kwok should have completed it and the provisioner deleted it", create, got)
	}
	if got := helpers.node(create); got != node {
		t.Errorf("the create helper pod ran on %q, not %q", got, node)
	}

	// The way back: the pod goes (kwok's pod-delete stage), then the claim (its protection
	// finalizer with it), the volume is Released, and the provisioner deletes it, which
	// runs a delete helper pod on the same node first (provisioner.go:473-509).
	lap = time.Now()
	if err := cs.CoreV1().Pods(ns).Delete(ctx, podName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := waitGone(ctx, func(ctx context.Context) error {
		_, err := cs.CoreV1().Pods(ns).Get(ctx, podName, metav1.GetOptions{})
		return err
	}); err != nil {
		t.Fatalf("the pod is not gone: %v", err)
	}
	step("pod deleted")
	if err := cs.CoreV1().PersistentVolumeClaims(ns).Delete(ctx, claimName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := waitGone(ctx, func(ctx context.Context) error {
		_, err := cs.CoreV1().PersistentVolumes().Get(ctx, pv.Name, metav1.GetOptions{})
		return err
	}); err != nil {
		t.Fatalf("the volume %s is not gone: %v", pv.Name, err)
	}
	step("claim deleted to volume gone")
	remove := "helper-pod-delete-" + pv.Name
	// The provisioner deletes its helper pod (provisioner.go:686-695) only after it saw
	// it succeed; the watch may see that a moment after the volume went.
	_ = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		return strings.HasSuffix(helpers.of(remove), "deleted"), nil
	})
	if got := helpers.of(remove); !strings.HasSuffix(got, "Succeeded deleted") {
		t.Errorf("the delete helper pod %s went %q", remove, got)
	}
	if got := helpers.node(remove); got != node {
		t.Errorf("the delete helper pod ran on %q, not %q", got, node)
	}
	log, _ := os.ReadFile(filepath.Join(logs, "local-path-provisioner.log"))
	for _, line := range []string{ // provisioner.go:711-715
		fmt.Sprintf("Volume %s has been created on %s:%s", pv.Name, node, pv.Spec.HostPath.Path),
		fmt.Sprintf("Volume %s has been deleted on %s:%s", pv.Name, node, pv.Spec.HostPath.Path),
	} {
		if !strings.Contains(string(log), line) {
			t.Errorf("the provisioner's log has no %q", line)
		}
	}
	t.Logf("helper pods: %s", helpers)
	t.Logf("total, the cluster's start included: %s", time.Since(begin).Round(10*time.Millisecond))
}

// addStage points w.bin at a directory of its own that holds the same tools and kwok's
// stages with stage added after build-tools.sh's.
func addStage(w *world, stage string) error {
	dir := filepath.Join(w.dir, "bin")
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(w.bin)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() == "kwok-stages.yaml" || e.IsDir() {
			continue
		}
		if err := os.Symlink(filepath.Join(w.bin, e.Name()), filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	stages, err := os.ReadFile(filepath.Join(w.bin, "kwok-stages.yaml"))
	if err != nil {
		return err
	}
	extra, err := os.ReadFile(stage)
	if err != nil {
		return err
	}
	all := strings.TrimRight(string(stages), "\n") + "\n---\n" + string(extra)
	if err := os.WriteFile(filepath.Join(dir, "kwok-stages.yaml"), []byte(all), 0o644); err != nil {
		return err
	}
	w.bin = dir
	return nil
}

// createNodes makes nodes for kwok to manage (startCluster's kwok takes the nodes
// annotated kwok.x-k8s.io/node=fake), 4 cores and 8 GiB unless they say otherwise, and
// waits until they are Ready and carry no taint but their own.
func createNodes(ctx context.Context, cs kubernetes.Interface, nodes []simNode) error {
	for _, n := range nodes {
		cpu, mem := n.cpu, n.mem
		if cpu == "" {
			cpu, mem = "4", "8Gi"
		}
		capacity := corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse(cpu),
			corev1.ResourceMemory: resource.MustParse(mem),
			corev1.ResourcePods:   resource.MustParse("110"),
		}
		labels := map[string]string{
			"kubernetes.io/hostname":      n.name,
			"topology.kubernetes.io/zone": n.zone,
			"kubernetes.io/os":            "linux",
			"kubernetes.io/arch":          "amd64",
			"type":                        "kwok",
		}
		maps.Copy(labels, n.labels)
		node := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: n.name, Annotations: map[string]string{"kwok.x-k8s.io/node": "fake"}, Labels: labels},
			Spec:       corev1.NodeSpec{Taints: n.taints},
			Status:     corev1.NodeStatus{Capacity: capacity, Allocatable: capacity},
		}
		if _, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		for _, n := range nodes {
			node, err := cs.CoreV1().Nodes().Get(ctx, n.name, metav1.GetOptions{})
			if err != nil || len(node.Spec.Taints) != len(n.taints) {
				return false, nil
			}
			ready := false
			for _, c := range node.Status.Conditions {
				ready = ready || c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue
			}
			if !ready {
				return false, nil
			}
		}
		return true, nil
	})
}

// createLocalPathSetup makes the provisioner's namespace, service account and ConfigMap.
func createLocalPathSetup(ctx context.Context, cs kubernetes.Interface) error {
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: localPathNamespace}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	if _, err := cs.CoreV1().ServiceAccounts(localPathNamespace).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: localPathAccount}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	_, err := cs.CoreV1().ConfigMaps(localPathNamespace).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: localPathConfigMap},
		Data:       localPathConfig,
	}, metav1.CreateOptions{})
	return err
}

// startLocalPathProvisioner starts the provisioner out of cluster, as the upstream
// Deployment's command does (deploy/local-path-storage.yaml:93-98) but with the
// kubeconfig (main.go:99-103, 151-154) and its configuration from the ConfigMap rather
// than a mounted file, and returns what stops it. It elects no leader
// (LeaderElection(false), main.go:269), and its metrics server is off (the library's
// default port 0, controller.go:207-208).
func startLocalPathProvisioner(w *world, logs string) (func(), error) {
	log, err := os.Create(filepath.Join(logs, "local-path-provisioner.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(filepath.Join(w.bin, "local-path-provisioner"), "--debug", "start",
		"--kubeconfig="+w.admin,
		"--provisioner-name="+localPathName,
		"--namespace="+localPathNamespace,
		"--configmap-name="+localPathConfigMap,
		"--service-account-name="+localPathAccount,
		// Required non-empty (main.go:219-222) but unused: the helper pods' image is
		// helperPod.yaml's.
		"--helper-image=busybox")
	// Neither the in-cluster environment nor a config mount: without CONFIG_MOUNT_PATH it
	// never reloads helperPod.yaml (provisioner.go:177-180).
	cmd.Env = []string{"HOME=" + w.dir, "PATH=" + os.Getenv("PATH")}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("starting local-path-provisioner: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	// It exits at once on a bad flag or a missing ConfigMap key (main.go:186-262).
	select {
	case err := <-exited:
		log.Close()
		out, _ := os.ReadFile(log.Name())
		return nil, fmt.Errorf("local-path-provisioner exited (%v):\n%s", err, lastLines(string(out), 20))
	case <-time.After(500 * time.Millisecond):
	}
	return func() {
		_ = cmd.Process.Signal(syscall.SIGTERM) // main.go:62-70 cancels its context
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		log.Close()
	}, nil
}

// phases is what a watch saw of the pods of a namespace: each pod's phases in order, then
// "deleted", and the node it was on.
type phases struct {
	sync.Mutex
	seen  map[string][]string
	nodes map[string]string
	order []string
}

func watchPhases(ctx context.Context, cs kubernetes.Interface, namespace string) (*phases, error) {
	p := &phases{seen: map[string][]string{}, nodes: map[string]string{}}
	_, err := onPodEvents(ctx, cs, namespace, "", func(deleted bool, pod *corev1.Pod) {
		state := string(pod.Status.Phase)
		if deleted {
			state = "deleted"
		}
		p.Lock()
		defer p.Unlock()
		if _, ok := p.seen[pod.Name]; !ok {
			p.order = append(p.order, pod.Name)
		}
		if s := p.seen[pod.Name]; len(s) == 0 || s[len(s)-1] != state {
			p.seen[pod.Name] = append(s, state)
		}
		if pod.Spec.NodeName != "" {
			p.nodes[pod.Name] = pod.Spec.NodeName
		}
	})
	return p, err
}

// onPodEvents calls f, in a goroutine of its own, with every change to the pods of
// namespace ("" for all) after resourceVersion ("": their creation as the first
// events), until ctx ends or the API server ends the watch (an ERROR event ends it
// too), when the channel it returns is closed. deleted says the pod is gone.
func onPodEvents(ctx context.Context, cs kubernetes.Interface, namespace, resourceVersion string, f func(deleted bool, pod *corev1.Pod)) (<-chan struct{}, error) {
	watcher, err := cs.CoreV1().Pods(namespace).Watch(ctx, metav1.ListOptions{ResourceVersion: resourceVersion})
	if err != nil {
		return nil, err
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		defer watcher.Stop()
		for ev := range watcher.ResultChan() {
			if ev.Type == "ERROR" {
				return
			}
			if pod, ok := ev.Object.(*corev1.Pod); ok {
				f(ev.Type == "DELETED", pod)
			}
		}
	}()
	return stopped, nil
}

func (p *phases) of(name string) string {
	p.Lock()
	defer p.Unlock()
	return strings.Join(p.seen[name], " ")
}

func (p *phases) node(name string) string {
	p.Lock()
	defer p.Unlock()
	return p.nodes[name]
}

func (p *phases) String() string {
	p.Lock()
	defer p.Unlock()
	var out []string
	for _, name := range p.order {
		out = append(out, fmt.Sprintf("%s on %s: %s", name, p.nodes[name], strings.Join(p.seen[name], " ")))
	}
	return strings.Join(out, "; ")
}

// affinityIs says the volume's node affinity is the one the provisioner writes for node
// (provisioner.go:429-445): kubernetes.io/hostname In [node].
func affinityIs(a *corev1.VolumeNodeAffinity, node string) bool {
	if a == nil || a.Required == nil || len(a.Required.NodeSelectorTerms) != 1 {
		return false
	}
	exprs := a.Required.NodeSelectorTerms[0].MatchExpressions
	return len(exprs) == 1 && exprs[0].Key == "kubernetes.io/hostname" && exprs[0].Operator == corev1.NodeSelectorOpIn &&
		len(exprs[0].Values) == 1 && exprs[0].Values[0] == node
}

// waitGone waits until get says the object is not found.
func waitGone(ctx context.Context, get func(context.Context) error) error {
	return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		err := get(ctx)
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, nil
	})
}

// describeClaim is a claim's state for a failure message.
func describeClaim(pvc *corev1.PersistentVolumeClaim) string {
	if pvc == nil {
		return "no claim"
	}
	return fmt.Sprintf("phase %s, volume %q, annotations %v", pvc.Status.Phase, pvc.Spec.VolumeName, pvc.Annotations)
}
