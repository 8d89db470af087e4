package stacks

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/lamina-os/lamina-infra/components/cluster"
	"github.com/lamina-os/lamina-infra/components/images"
	"github.com/lamina-os/lamina-infra/components/istio"
	"github.com/lamina-os/lamina-infra/components/llmserve"
	"github.com/lamina-os/lamina-infra/components/storage"
	"github.com/lamina-os/lamina-infra/internal/kube"
	"github.com/lamina-os/lamina-infra/stacks/config"
)

// The configuration turned into the components' arguments, for every target: charts,
// resources, host volumes, the circuit breaker, llm-serve's catalogue and the images.
// The feature files (mesh.go, monitoring.go, agents.go, buildtier.go, docker.go) call
// it; it calls none of them.

// The agent stack's host volumes: the model store (data.dir/models) and ChromaDB's
// (data.dir/chromadb).
const (
	modelsVolume = "models"
	chromaVolume = "chromadb"
)

// imageRepository is the repository of a built Lamina image.
func imageRepository(workload string) string { return "lamina/" + workload }

// newImage declares the image of workload (lamina/<workload> when built from the
// checkout on the cluster's daemon), or takes promoted, another stack's.
// Both targets declare their images with it; opts carry the daemon's provider.
func newImage(ctx *pulumi.Context, cfg *config.Config, workload string, im config.Image, promoted pulumi.StringInput, daemon string, opts ...pulumi.ResourceOption) (*images.Image, error) {
	checkout := config.ExpandHome(cfg.Images.Checkout)
	return images.NewImage(ctx, workload+"-image", images.ImageArgs{
		Promoted:   promoted,
		Repository: imageRepository(workload),
		Build:      im.Build,
		Context:    path.Join(checkout, im.Context),
		Dockerfile: path.Join(checkout, im.Dockerfile),
		Reference:  im.Reference,
		Daemon:     daemon,
	}, opts...)
}

// onDaemon are the options of a resource on the cluster's Docker daemon, when it has one.
func onDaemon(cl *cluster.Cluster) []pulumi.ResourceOption {
	if cl.Docker == nil {
		return nil
	}
	return []pulumi.ResourceOption{pulumi.Providers(cl.Docker)}
}

// catalogueOf turns the configured catalogue into llm-serve's models.yaml: the enabled
// models, llama.cpp with as many threads as a server's CPU limit, and the defaults.
func catalogueOf(l config.LLMServe) llmserve.Catalogue {
	c := llmserve.Catalogue{Models: map[string]llmserve.Model{}, Defaults: l.Defaults}
	for _, name := range slices.Sorted(maps.Keys(l.Models)) {
		m := l.Models[name]
		if m.Disabled {
			continue
		}
		var dl llmserve.Download
		if m.Download.HuggingFace != "" {
			dl.HuggingFace = &llmserve.HuggingFace{RepoID: m.Download.HuggingFace, Filename: m.Download.File}
		}
		if m.Download.Ollama != "" {
			dl.Ollama = &llmserve.Ollama{Model: m.Download.Ollama}
		}
		c.Models[name] = llmserve.Model{
			Path: m.Path, Backend: m.Backend, Quantization: m.Quantization, Size: m.Size,
			Description: m.Description, UseCases: m.UseCases, Download: dl, Load: m.Load,
		}
	}
	c.Backends = map[string]llmserve.Backend{config.BackendLlamaCpp: {
		Executable:  "llama-server",
		DefaultArgs: llamaArgs(l),
	}}
	return c
}

// llamaArgs are llama-server's arguments for every model: its context and threads, and
// on the GPU every layer offloaded (the threads then only feed it).
func llamaArgs(l config.LLMServe) []string {
	args := []string{"--ctx-size", "8192", "--threads", strconv.Itoa(threads(l.Resources.Limits.CPU))}
	if l.Accelerator == config.AcceleratorGPU {
		args = append(args, "--n-gpu-layers", llmserve.GPULayers)
	}
	return args
}

// threads is a CPU limit as a whole number of threads, at least one.
func threads(cpu string) int {
	if n, ok := strings.CutSuffix(cpu, "m"); ok {
		v, _ := strconv.Atoi(n)
		return max(1, v/1000)
	}
	v, _ := strconv.ParseFloat(cpu, 64)
	return max(1, int(v))
}

// circuitBreaker is the mesh's traffic policy for every workload namespace's services.
func circuitBreaker(cb config.CircuitBreaker) istio.CircuitBreaker {
	return istio.CircuitBreaker{
		Consecutive5xxErrors: cb.Consecutive5xxErrors, Interval: cb.Interval.Duration, BaseEjectionTime: cb.BaseEjectionTime.Duration,
		MaxEjectionPercent: cb.MaxEjectionPercent, MaxConnections: cb.MaxConnections,
		HTTP1MaxPendingRequests: cb.HTTP1MaxPendingRequests, HTTP2MaxRequests: cb.HTTP2MaxRequests,
	}
}

// chart is the release's pin c of cfg, with its extra values and where they are
// configured (the key Config.Charts lists for it).
func chart(cfg *config.Config, c *config.HelmChart) kube.Chart {
	pins := cfg.Charts()
	i := slices.IndexFunc(pins, func(p config.ChartPin) bool { return p.Chart == c })
	if i < 0 {
		panic(fmt.Sprintf("stacks: chart %s is not a pin of the configuration (config.Config.Charts)", c.Name)) // a programming error
	}
	return kube.Chart{Repository: c.Repository, Name: c.Name, Version: c.Version, Timeout: c.Timeout.Duration,
		Values: c.Values, ValuesKey: pins[i].Key + ".values"}
}

// The volumes' names: each names a PersistentVolume (lamina-<name>), its claim
// (<name>-data) and its directory under data.dir.
const (
	prometheusVolume = "prometheus"
	grafanaVolume    = "grafana"
	lokiVolume       = "loki"
)

// volumeNamespaces are the namespaces of the volumes, by volume.
var volumeNamespaces = map[string]string{
	modelsVolume: config.NamespaceLLMServe, chromaVolume: config.NamespaceLaminaSystem,
	prometheusVolume: config.NamespaceMonitoring, lokiVolume: config.NamespaceMonitoring, grafanaVolume: config.NamespaceMonitoring,
}

// holdsClaims says whether namespace ns (unprefixed) holds a claim of a provisioner's
// volume, which `pulumi destroy` must leave with its namespace.
func holdsClaims(cfg *config.Config, ns string) bool {
	for name, in := range volumeNamespaces {
		if in == ns && cfg.Storage.ClassOf(name) != "" {
			return true
		}
	}
	return false
}

// volume declares the volume name and returns its claim, which the workloads wait for:
// a claim of its class (lamina:storage), or a directory of data.dir on this stack's
// node, as a PersistentVolume bound to the claim.
func volume(ctx *pulumi.Context, cfg *config.Config, cl *cluster.Cluster, namespace pulumi.StringInput, name, size string) (*corev1.PersistentVolumeClaim, error) {
	if class := cfg.Storage.ClassOf(name); class != "" {
		c, err := storage.NewClaim(ctx, name+"-data", storage.ClaimArgs{
			ClaimName: name + "-data", Namespace: namespace, Size: size,
			StorageClass: class, AccessMode: cfg.Storage.AccessModeOf(name),
		}, pulumi.Providers(cl.Provider))
		if err != nil {
			return nil, err
		}
		return c.Claim, nil
	}
	v, err := storage.NewHostVolume(ctx, name+"-data", storage.HostVolumeArgs{
		VolumeName:   cfg.ClusterName(name),
		ClaimName:    name + "-data",
		Namespace:    namespace,
		Path:         path.Join(cfg.Data.Dir, name),
		Size:         size,
		StorageClass: cl.StorageClass,
		Node:         cl.Nodes.Index(pulumi.Int(0)),
		After:        cl.HostDirs,
	}, pulumi.Providers(cl.Provider))
	if err != nil {
		return nil, err
	}
	return v.Claim, nil
}
