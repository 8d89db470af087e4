// Tests of the cluster component on its own, under Pulumi's mocks (internal/recorder):
// that the kubeconfig stays secret from the command that reads it to the provider, that
// the providers wait for every node to be Ready while the kubeconfig is read at once,
// that a VM merely restarted does not read the kubeconfig again, and what the component
// declares for storage and for the host data directories in each of its modes.
package cluster_test

import (
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lamina-os/lamina-infra/components/cluster"
	"github.com/lamina-os/lamina-infra/components/network"
	"github.com/lamina-os/lamina-infra/internal/recorder"
	"github.com/lamina-os/lamina-infra/internal/recorder/recordertest"
)

const (
	commandType      = "command:local:Command"
	kubernetesType   = "pulumi:providers:kubernetes"
	dockerType       = "pulumi:providers:docker"
	storageClassType = "kubernetes:storage.k8s.io/v1:StorageClass"
	jobType          = "kubernetes:batch/v1:Job"
	vmType           = "test:index:VM"

	kubeconfigText = "apiVersion: v1\nusers:\n- name: colima\n  user: {token: s3cr3t}\n"
)

// base is a Colima VM's cluster whose node names are read, with a Docker daemon.
func base() cluster.ClusterArgs {
	return cluster.ClusterArgs{
		KubeContext:       pulumi.String("colima-lamina"),
		ClusterIdentifier: "lamina-colima",
		ReadyTimeout:      5 * time.Minute,
		APIServerPort:     6443,
		NodeCIDR:          "192.168.64.0/24",
		Refresh:           pulumi.String("started-2"),
		Instance:          pulumi.String("created-1"),
		DockerHost:        pulumi.String("unix:///Users/me/.colima/lamina/docker.sock"),
		StorageClass:      "lamina-host",
	}
}

// run declares the VM's create and start steps, then the cluster on args as edit
// changes them, as `pulumi up` would: the readiness wait prints two nodes and the
// kubeconfig command the kubeconfig. It exports the cluster's outputs.
func run(t *testing.T, edit func(a *cluster.ClusterArgs)) (*recorder.Graph, *cluster.Cluster) {
	t.Helper()
	var c *cluster.Cluster
	g, err := recorder.Run(recorder.Options{Project: "lamina", Stack: "test", Outputs: func(r *recorder.Resource) resource.PropertyMap {
		switch r.Name {
		case "cluster-ready":
			return resource.PropertyMap{"stdout": resource.NewProperty("lamina-node-a\nlamina-node-b\n")}
		case "cluster-kubeconfig":
			return resource.PropertyMap{"stdout": resource.NewProperty(kubeconfigText)}
		}
		return nil
	}}, func(ctx *pulumi.Context) error {
		var vm, start pulumi.CustomResourceState
		if err := ctx.RegisterResource(vmType, "vm", pulumi.Map{}, &vm); err != nil {
			return err
		}
		if err := ctx.RegisterResource(vmType, "vm-start", pulumi.Map{}, &start); err != nil {
			return err
		}
		a := base()
		a.After, a.Started = []pulumi.Resource{&vm}, []pulumi.Resource{&start}
		if edit != nil {
			edit(&a)
		}
		var err error
		if c, err = cluster.NewCluster(ctx, "cluster", a); err != nil {
			return err
		}
		ctx.Export("kubeconfig", c.Kubeconfig)
		ctx.Export("nodes", c.Nodes)
		ctx.Export("storageClass", c.StorageClass)
		return nil
	})
	require.NoError(t, err)
	return g, c
}

// The kubeconfig is read with its output secret and kept out of the console and of the
// next run's environment; the Kubernetes provider's configuration and the stack output
// made from it are secret too, while they carry the text the command printed.
func TestKubeconfigStaysSecret(t *testing.T) {
	g, _ := run(t, nil)
	read := recordertest.Find(t, g, commandType, "cluster-kubeconfig")
	assert.Equal(t, []string{"stdout"}, read.AdditionalSecretOutputs)
	assert.Equal(t, "stderr", read.Inputs["logging"])
	assert.Equal(t, false, read.Inputs["addPreviousOutputInEnv"])

	k8s := recordertest.Find(t, g, kubernetesType, "cluster-kubernetes")
	assert.Equal(t, recorder.SecretMask, k8s.Inputs["kubeconfig"])
	raw := k8s.Raw()["kubeconfig"]
	require.True(t, raw.IsSecret(), "the provider's kubeconfig is secret")
	assert.Equal(t, kubeconfigText, raw.SecretValue().Element.StringValue(), "the provider gets the kubeconfig the command printed")

	assert.Equal(t, recorder.SecretMask, g.Outputs["kubeconfig"])
	out, ok := g.RawOutput("kubeconfig")
	require.True(t, ok)
	assert.True(t, out.Secret)
	assert.Equal(t, kubeconfigText, out.Value)
}

// The readiness wait waits for the VM to be made and started; the kubeconfig is read as
// soon as the VM is made, alongside the wait; both providers wait for every node Ready,
// and the Kubernetes provider for the kubeconfig. The provider is replaced only when the
// cluster identifier changes, keeps resources of a merely unreachable cluster and applies
// server-side.
func TestProvidersWaitForReadyNodes(t *testing.T) {
	g, c := run(t, nil)
	vm, start := recordertest.Find(t, g, vmType, "vm"), recordertest.Find(t, g, vmType, "vm-start")
	ready, read := recordertest.Find(t, g, commandType, "cluster-ready"), recordertest.Find(t, g, commandType, "cluster-kubeconfig")
	assert.ElementsMatch(t, []string{vm.URN, start.URN}, ready.Dependencies)
	assert.Equal(t, []string{vm.URN}, read.Dependencies, "not after the start nor the readiness wait")

	k8s := recordertest.Find(t, g, kubernetesType, "cluster-kubernetes")
	assert.ElementsMatch(t, []string{ready.URN, read.URN}, k8s.Dependencies)
	assert.Equal(t, "colima-lamina", k8s.Inputs["context"])
	assert.Equal(t, "lamina-colima", k8s.Inputs["clusterIdentifier"])
	assert.Equal(t, false, k8s.Inputs["deleteUnreachable"])
	assert.Equal(t, true, k8s.Inputs["enableServerSideApply"])

	docker := recordertest.Find(t, g, dockerType, "cluster-docker")
	assert.Equal(t, []string{ready.URN}, docker.Dependencies)
	assert.Equal(t, "unix:///Users/me/.colima/lamina/docker.sock", docker.Inputs["host"])
	assert.Equal(t, true, docker.Inputs["disableDockerDaemonCheck"])
	require.NotNil(t, c.Docker)

	assert.Equal(t, network.Endpoint{Peer: network.Peer{CIDR: "192.168.64.0/24"}, Ports: network.TCP(6443)}, c.APIServer)
	assert.Equal(t, network.Peer{CIDR: "192.168.64.0/24"}, c.Kubelet)

	g, c = run(t, func(a *cluster.ClusterArgs) { a.DockerHost = nil })
	assert.Empty(t, g.ByType(dockerType))
	assert.Nil(t, c.Docker)
}

// The readiness wait runs again whenever the VM was started (Refresh); the kubeconfig
// is read again only when the VM is another one (Instance), so a reboot leaves the
// providers unchanged. Without Instance, both follow Refresh.
func TestKubeconfigIsReadAgainOnlyForAnotherInstance(t *testing.T) {
	g, _ := run(t, nil)
	ready := recordertest.Env(t, recordertest.Find(t, g, commandType, "cluster-ready"))
	read := recordertest.Env(t, recordertest.Find(t, g, commandType, "cluster-kubeconfig"))
	assert.Equal(t, "started-2", ready["LAMINA_REFRESH"])
	assert.Equal(t, "created-1", read["LAMINA_REFRESH"])
	for _, e := range []map[string]any{ready, read} {
		assert.Equal(t, "colima-lamina", e["LAMINA_KUBE_CONTEXT"])
		assert.Equal(t, "", e["LAMINA_KUBECONFIG"], "kubectl's default")
	}
	assert.Equal(t, "300", ready["LAMINA_READY_TIMEOUT_SECONDS"])
	assert.Equal(t, "6443", ready["LAMINA_API_SERVER_PORT"])
	assert.Equal(t, "", ready["LAMINA_EXPECTED_NODES"], "no names known: the wait reads them")

	g, _ = run(t, func(a *cluster.ClusterArgs) { a.Instance = nil })
	assert.Equal(t, "started-2", recordertest.Env(t, recordertest.Find(t, g, commandType, "cluster-kubeconfig"))["LAMINA_REFRESH"])
}

// Node names given up front are what the readiness wait checks and what the cluster
// reports; otherwise the cluster reports the names the wait printed, one a line.
func TestNodesAreTheGivenNamesOrThoseTheWaitPrinted(t *testing.T) {
	g, _ := run(t, nil)
	assert.Equal(t, []any{"lamina-node-a", "lamina-node-b"}, g.Outputs["nodes"])

	g, _ = run(t, func(a *cluster.ClusterArgs) { a.Nodes = []string{"colima-lamina", "second"} })
	assert.Equal(t, []any{"colima-lamina", "second"}, g.Outputs["nodes"])
	assert.Equal(t, "colima-lamina\nsecond", recordertest.Env(t, recordertest.Find(t, g, commandType, "cluster-ready"))["LAMINA_EXPECTED_NODES"])
}

// The StorageClass of host-directory volumes never provisions, retains volumes and binds
// at once, under the cluster's provider; a shared stack uses its platform's by name and
// declares none.
func TestStorageClassIsDeclaredUnlessItExists(t *testing.T) {
	g, _ := run(t, nil)
	sc := recordertest.Find(t, g, storageClassType, "cluster-host-storage")
	assert.Equal(t, "lamina-host", sc.Inputs["metadata"].(map[string]any)["name"])
	assert.Equal(t, "kubernetes.io/no-provisioner", sc.Inputs["provisioner"])
	assert.Equal(t, "Retain", sc.Inputs["reclaimPolicy"])
	assert.Equal(t, "Immediate", sc.Inputs["volumeBindingMode"])
	assert.Equal(t, recordertest.Find(t, g, kubernetesType, "cluster-kubernetes").URN, sc.Provider)
	assert.Equal(t, "lamina-host", g.Outputs["storageClass"])

	g, _ = run(t, func(a *cluster.ClusterArgs) { a.StorageClassExists = true })
	assert.Empty(t, g.ByType(storageClassType))
	assert.Equal(t, "lamina-host", g.Outputs["storageClass"])
}

// The host data directories: on this Mac (a VM's mount) a local command creates them and
// no Job runs; nothing creates a directory on a node of another cluster; with no data
// directory, nothing does.
func TestHostDirsAreMadeWhereTheDataDirectoryIs(t *testing.T) {
	g, c := run(t, func(a *cluster.ClusterArgs) {
		a.DataDir, a.DataSubdirs, a.DataDirOnMac = "/Users/me/lamina-data", []string{"chromadb", "models"}, true
	})
	dirs := recordertest.Find(t, g, commandType, "cluster-host-dirs")
	assert.Equal(t, map[string]any{"LAMINA_DATA_DIR": "/Users/me/lamina-data", "LAMINA_DATA_SUBDIRS": "chromadb\nmodels"}, recordertest.Env(t, dirs))
	assert.Empty(t, g.ByType(jobType))
	require.Len(t, c.HostDirs, 1)

	// Nowhere else: an existing cluster's volumes are claims of its classes.
	g, c = run(t, func(a *cluster.ClusterArgs) {
		a.DataDir, a.DataSubdirs = "/var/lib/lamina", []string{"chromadb"}
	})
	assert.Nil(t, g.Find(commandType, "cluster-host-dirs"))
	assert.Empty(t, g.ByType(jobType))
	assert.Empty(t, c.HostDirs)

	g, c = run(t, nil)
	assert.Nil(t, g.Find(commandType, "cluster-host-dirs"))
	assert.Empty(t, g.ByType(jobType))
	assert.Empty(t, c.HostDirs)
}

// A rollout wait runs the rollout script with the cluster's context and refresh, the
// workload, its namespace, its timeout in seconds and the release revision it follows.
func TestWaitForRolloutCarriesTheClusterAndTheWorkload(t *testing.T) {
	g, err := recorder.Run(recorder.Options{Project: "lamina", Stack: "test", Preview: true}, func(ctx *pulumi.Context) error {
		a := base()
		c, err := cluster.NewCluster(ctx, "cluster", a)
		if err != nil {
			return err
		}
		_, err = c.WaitForRollout(ctx, "istio-cni-agent", "istio-system", "daemonset/istio-cni-node", 7*time.Minute, pulumi.String("4"))
		return err
	})
	require.NoError(t, err)
	wait := recordertest.Find(t, g, commandType, "istio-cni-agent")
	assert.Equal(t, cluster.RolloutScript, wait.Inputs["create"])
	assert.Equal(t, map[string]any{
		"LAMINA_KUBE_CONTEXT": "colima-lamina", "LAMINA_KUBECONFIG": "", "LAMINA_REFRESH": "started-2",
		"LAMINA_ROLLOUT_WORKLOAD": "daemonset/istio-cni-node", "LAMINA_ROLLOUT_NAMESPACE": "istio-system",
		"LAMINA_ROLLOUT_TIMEOUT_SECONDS": "420", "LAMINA_ROLLOUT_REVISION": "4",
	}, recordertest.Env(t, wait))
}
