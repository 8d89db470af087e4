// Package cluster provides Cluster, the component that waits for a Kubernetes cluster
// (the Colima VM's k3s, or an existing one) to be Ready, reads its kubeconfig as a
// secret and creates the providers every later component uses.
package cluster

import (
	_ "embed"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pulumi/pulumi-command/sdk/go/command/local"
	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	storagev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/storage/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/lamina-os/lamina-infra/components/network"
	"github.com/lamina-os/lamina-infra/components/storage"
	"github.com/lamina-os/lamina-infra/internal/shell"
)

var (
	//go:embed kubectl.sh
	kubectlHelpers string
	//go:embed ready.sh
	readyBody string
	//go:embed kubeconfig.sh
	kubeconfigBody string
	//go:embed rollout.sh
	rolloutBody string
)

// The scripts the component runs; they read their parameters from the environment.
var (
	ReadyScript      = shell.Script("wait until every node is Ready", kubectlHelpers, readyBody)
	KubeconfigScript = shell.Script("print the context's kubeconfig", kubectlHelpers, kubeconfigBody)
	RolloutScript    = shell.Script("wait until every pod of a workload is Ready", kubectlHelpers, rolloutBody)
)

// ClusterArgs say which cluster to reach and how.
type ClusterArgs struct {
	// KubeContext is the kubeconfig context of the cluster.
	KubeContext pulumi.StringInput
	// KubeconfigPath is the kubeconfig file; empty uses kubectl's default (~/.kube/config
	// or $KUBECONFIG), where Colima writes its contexts.
	KubeconfigPath string
	// ClusterIdentifier names the cluster for the Kubernetes provider: the provider, and
	// with it every Kubernetes resource, is replaced only when this changes.
	ClusterIdentifier string
	// ReadyTimeout bounds the wait for every node to be Ready.
	ReadyTimeout time.Duration
	// APIServerPort is the port the network policy lets pods reach the API server on;
	// the readiness wait fails when the cluster's kubernetes Service endpoints say
	// otherwise.
	APIServerPort int
	// NodeCIDR holds the nodes' addresses: where the API server listens and the
	// kubelet's probes come from.
	NodeCIDR string
	// Refresh changes whenever the cluster may have changed underneath (the VM was
	// created, started, restarted or resized); the readiness wait and the rollout waits
	// run again.
	Refresh pulumi.StringInput
	// Instance changes only when the cluster is another one (a VM made anew): the
	// kubeconfig is read again, and with it the providers' configuration. A VM merely
	// started again keeps its kubeconfig, so a preview after a reboot shows no change to
	// the providers, nor to any resource of theirs. Nil: Refresh.
	Instance pulumi.StringInput
	// After are what must have run before the kubeconfig is read (the VM's command,
	// which writes it); Started what starts the cluster (the VM's start), which the
	// readiness wait waits for too.
	After, Started []pulumi.Resource
	// Nodes, when set, are the cluster's node names, known before it runs (a Colima VM's
	// node is named by its hostname); the readiness wait checks them. Empty: the names
	// the wait reads.
	Nodes []string
	// DockerHost is the Docker daemon for image builds; nil creates no Docker provider.
	DockerHost pulumi.StringInput
	// StorageClass names the StorageClass for volumes on the host data directory.
	StorageClass string
	// StorageClassExists says another stack (the platform a shared stack joins) declares
	// the StorageClass; this one only uses it.
	StorageClassExists bool
	// DataDir and DataSubdirs, when DataDir is set and DataDirOnMac, are created on
	// this Mac by a command, inside a directory the cluster's VM mounts (a shared
	// stack's, inside its platform's). A Colima VM's own are created by the VM's command
	// before it starts; an existing cluster's volumes are claims, with no directory of
	// this Mac's.
	DataDir     string
	DataSubdirs []string
	// DataDirOnMac says DataDir is on this Mac.
	DataDirOnMac bool
}

// DNS is the cluster's DNS server (k3s's CoreDNS), which every pod resolves names with.
var DNS = network.Endpoint{
	Peer:  network.Pods("kube-system", map[string]string{"k8s-app": "kube-dns"}),
	Ports: []network.Port{{Number: 53, Protocol: "UDP"}, {Number: 53, Protocol: "TCP"}},
}

// Cluster is a reachable, Ready Kubernetes cluster and the providers to use it.
type Cluster struct {
	pulumi.ResourceState

	// Kubeconfig is a self-contained kubeconfig for the context. Always secret.
	Kubeconfig pulumi.StringOutput `pulumi:"kubeconfig"`
	// KubeContext is the context the kubeconfig selects.
	KubeContext pulumi.StringOutput `pulumi:"kubeContext"`
	// Nodes are the names of the cluster's nodes, all Ready when read.
	Nodes pulumi.StringArrayOutput `pulumi:"nodes"`
	// StorageClass is the name of the StorageClass for host-directory volumes.
	StorageClass pulumi.StringOutput `pulumi:"storageClass"`

	// Provider is the Kubernetes provider every Kubernetes resource must use.
	Provider *kubernetes.Provider
	// Docker is the Docker provider for image builds, or nil.
	Docker *docker.Provider
	// HostDirs is what creates the host data directories on this Mac, if anything does
	// (a shared stack's command); volumes on them wait for it.
	HostDirs []pulumi.Resource
	// APIServer is the API server as pods reach it: after the kubernetes Service's
	// address is translated, the nodes' addresses on the API server's port.
	APIServer network.Endpoint
	// Kubelet is where the kubelet's probes come from.
	Kubelet network.Peer

	// env is what every kubectl script gets: the context, the kubeconfig file, and what
	// changes when the cluster may have changed underneath.
	env func(extra pulumi.StringMap) pulumi.StringMap
}

// NewCluster waits for the cluster, reads its kubeconfig and creates the providers.
func NewCluster(ctx *pulumi.Context, name string, args ClusterArgs, opts ...pulumi.ResourceOption) (*Cluster, error) {
	c := &Cluster{
		APIServer: network.Endpoint{Peer: network.Peer{CIDR: args.NodeCIDR}, Ports: network.TCP(args.APIServerPort)},
		Kubelet:   network.Peer{CIDR: args.NodeCIDR},
	}
	if err := ctx.RegisterComponentResource("lamina:cluster:Cluster", name, c, opts...); err != nil {
		return nil, err
	}
	refresh := args.Refresh
	if refresh == nil {
		refresh = pulumi.String("")
	}
	instance := args.Instance
	if instance == nil {
		instance = refresh
	}
	env := func(extra pulumi.StringMap) pulumi.StringMap {
		m := pulumi.StringMap{
			"LAMINA_KUBE_CONTEXT": args.KubeContext,
			"LAMINA_KUBECONFIG":   pulumi.String(args.KubeconfigPath),
			"LAMINA_REFRESH":      refresh,
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}

	c.env = env

	ready, err := local.NewCommand(ctx, name+"-ready", &local.CommandArgs{
		Interpreter: pulumi.ToStringArray(shell.Interpreter),
		Create:      pulumi.String(ReadyScript),
		Environment: env(pulumi.StringMap{
			"LAMINA_READY_TIMEOUT_SECONDS": pulumi.String(strconv.Itoa(int(args.ReadyTimeout / time.Second))),
			"LAMINA_API_SERVER_PORT":       pulumi.String(strconv.Itoa(args.APIServerPort)),
			"LAMINA_EXPECTED_NODES":        pulumi.String(shell.Lines(args.Nodes)),
		}),
	}, pulumi.Parent(c), pulumi.DependsOn(append(slices.Clone(args.After), args.Started...)))
	if err != nil {
		return nil, err
	}

	kubeconfig, err := local.NewCommand(ctx, name+"-kubeconfig", &local.CommandArgs{
		Interpreter: pulumi.ToStringArray(shell.Interpreter),
		Create:      pulumi.String(KubeconfigScript),
		Environment: env(pulumi.StringMap{"LAMINA_REFRESH": instance}),
		// Keep the credentials out of the console and out of the next run's environment.
		Logging:                local.LoggingStderr,
		AddPreviousOutputInEnv: pulumi.Bool(false),
	}, pulumi.Parent(c), pulumi.DependsOn(args.After),
		// Not after the readiness wait: reading the kubeconfig needs only the file Colima
		// wrote when it started the VM, so both run at once and the provider waits for both.
		pulumi.AdditionalSecretOutputs([]string{"stdout"}))
	if err != nil {
		return nil, err
	}
	// Secret in the program too, not only in the command's state: everything computed
	// from it (the provider's configuration, the stack output) stays secret.
	c.Kubeconfig = pulumi.ToSecret(kubeconfig.Stdout).(pulumi.StringOutput)
	c.KubeContext = args.KubeContext.ToStringOutput()
	if len(args.Nodes) > 0 {
		c.Nodes = pulumi.ToStringArray(args.Nodes).ToStringArrayOutput()
	} else {
		c.Nodes = ready.Stdout.ApplyT(func(s string) []string {
			return strings.Fields(s) // one node name per line
		}).(pulumi.StringArrayOutput)
	}

	c.Provider, err = kubernetes.NewProvider(ctx, name+"-kubernetes", &kubernetes.ProviderArgs{
		Kubeconfig:        c.Kubeconfig,
		Context:           args.KubeContext,
		ClusterIdentifier: pulumi.String(args.ClusterIdentifier),
		// deleteUnreachable stays off: a VM that is merely stopped is unreachable too, and
		// a `pulumi refresh` then would drop every Kubernetes resource from the state.
		DeleteUnreachable:     pulumi.Bool(false),
		EnableServerSideApply: pulumi.Bool(true),
	}, pulumi.Parent(c), pulumi.DependsOn([]pulumi.Resource{ready}))
	if err != nil {
		return nil, err
	}

	if args.DockerHost != nil {
		c.Docker, err = docker.NewProvider(ctx, name+"-docker", &docker.ProviderArgs{
			Host: args.DockerHost,
			// The daemon is needed only when an image is built; without this, a preview
			// where it is not running (CI, a stopped VM) fails just for configuring it.
			DisableDockerDaemonCheck: pulumi.Bool(true),
		}, pulumi.Parent(c), pulumi.DependsOn([]pulumi.Resource{ready}))
		if err != nil {
			return nil, err
		}
	}

	if args.StorageClassExists {
		c.StorageClass = pulumi.String(args.StorageClass).ToStringOutput()
	} else if c.StorageClass, err = storageClass(ctx, name, args.StorageClass, pulumi.Parent(c), pulumi.Provider(c.Provider)); err != nil {
		return nil, err
	}
	if args.DataDir != "" && args.DataDirOnMac {
		dirs, err := local.NewCommand(ctx, name+"-host-dirs", &local.CommandArgs{
			Interpreter: pulumi.ToStringArray(shell.Interpreter),
			Create:      pulumi.String(storage.DataDirsScript),
			Environment: pulumi.StringMap{
				"LAMINA_DATA_DIR":     pulumi.String(args.DataDir),
				"LAMINA_DATA_SUBDIRS": pulumi.String(shell.Lines(args.DataSubdirs)),
			},
		}, pulumi.Parent(c))
		if err != nil {
			return nil, err
		}
		c.HostDirs = []pulumi.Resource{dirs}
	}

	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"kubeconfig":   c.Kubeconfig,
		"kubeContext":  c.KubeContext,
		"nodes":        c.Nodes,
		"storageClass": c.StorageClass,
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// storageClass declares the one StorageClass of volumes on the host data directory.
func storageClass(ctx *pulumi.Context, name, class string, opts ...pulumi.ResourceOption) (pulumi.StringOutput, error) {
	sc, err := storagev1.NewStorageClass(ctx, name+"-host-storage", &storagev1.StorageClassArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name: pulumi.String(class),
			Labels: pulumi.StringMap{
				"app.kubernetes.io/managed-by": pulumi.String("pulumi"),
				"app.kubernetes.io/part-of":    pulumi.String("lamina"),
			},
		},
		// Volumes are PersistentVolumes the program declares on the host data directory,
		// never provisioned on demand, and never deleted with their claims.
		Provisioner:   pulumi.String("kubernetes.io/no-provisioner"),
		ReclaimPolicy: pulumi.String("Retain"),
		// Each claim names its volume, so there is no choice to delay until a pod is
		// scheduled. With WaitForFirstConsumer the provider waits to see such a claim
		// Pending, and when the binding won the race it never did: the claim failed
		// after 5 minutes, and so did every release behind it.
		VolumeBindingMode: pulumi.String("Immediate"),
	}, opts...)
	if err != nil {
		return pulumi.StringOutput{}, err
	}
	return sc.Metadata.Name().Elem(), nil
}

// WaitForRollout declares a step that waits, bounded by timeout, until every pod of
// workload (kind/name, as kubectl names it) in namespace is Ready, with kubectl on this
// Mac. It is for what Helm's own wait lets through: a DaemonSet whose update strategy
// allows one unavailable pod counts as ready for Helm on a one-node cluster as soon as
// its pod is scheduled, Ready or not. The step runs again whenever revision changes (the
// release's revision) or the cluster may have changed underneath.
func (c *Cluster) WaitForRollout(ctx *pulumi.Context, name, namespace, workload string, timeout time.Duration,
	revision pulumi.StringInput, opts ...pulumi.ResourceOption) (*local.Command, error) {
	return local.NewCommand(ctx, name, &local.CommandArgs{
		Interpreter: pulumi.ToStringArray(shell.Interpreter),
		Create:      pulumi.String(RolloutScript),
		Environment: c.env(pulumi.StringMap{
			"LAMINA_ROLLOUT_WORKLOAD":        pulumi.String(workload),
			"LAMINA_ROLLOUT_NAMESPACE":       pulumi.String(namespace),
			"LAMINA_ROLLOUT_TIMEOUT_SECONDS": pulumi.String(strconv.Itoa(int(timeout / time.Second))),
			"LAMINA_ROLLOUT_REVISION":        revision,
		}),
	}, opts...)
}
