// Package config holds the typed configuration of the whole Lamina platform, the
// development and production profiles that give every field its default, and loading
// and validation of a stack's Pulumi configuration. It depends on no Pulumi or
// Kubernetes package, so that its tests and its fuzzer build and run quickly.
//
// Configuration lives under the Pulumi config namespace "lamina": one key per section
// (lamina:host, lamina:colima, ...), each an object whose fields are documented below.
// A stack file overrides only the fields it names; the profile supplies the rest.
package config

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"
)

// Namespace is the Pulumi config namespace the program reads.
const Namespace = "lamina"

// Config is the typed configuration of the whole platform for one stack.
type Config struct {
	// Profile names the environment whose defaults apply: development or production.
	// It defaults to the stack's name when that is a profile name.
	Profile string `json:"profile"`
	// Host describes the Mac and how its cores and memory are shared.
	Host Host `json:"host"`
	// Data says where persistent data lives on the host.
	Data Data `json:"data"`
	// Storage says where the volumes live on a cluster of several nodes (target
	// existing): claims of the cluster's StorageClass instead of data.dir.
	Storage Storage `json:"storage"`
	// Cluster says which Kubernetes cluster the platform runs on and how to reach it.
	Cluster Cluster `json:"cluster"`
	// Colima sizes and configures the VM that runs k3s (cluster.target colima).
	Colima Colima `json:"colima"`
	// Namespaces says which namespaces stay out of the mesh and their Pod Security.
	Namespaces Namespaces `json:"namespaces"`
	// MetalLB gives LoadBalancer Services addresses reachable from macOS.
	MetalLB MetalLB `json:"metallb"`
	// CertManager issues the gateway's certificate.
	CertManager CertManager `json:"certManager"`
	// Mesh is Istio with strict mutual TLS.
	Mesh Mesh `json:"mesh"`
	// Edge is the HTTPS gateway and its hostnames.
	Edge Edge `json:"edge"`
	// Monitoring is Prometheus and kube-state-metrics.
	Monitoring Monitoring `json:"monitoring"`
	// Grafana is the platform's one dashboard UI. Its section holds a secret (the admin
	// password), so it is a key of its own.
	Grafana Grafana `json:"grafana"`
	// Logs are Loki and the Vector agents.
	Logs Logs `json:"logs"`
	// Tracing is Jaeger.
	Tracing Tracing `json:"tracing"`
	// Kiali is the mesh's console. Its section can hold a secret (an OpenID client's).
	Kiali Kiali `json:"kiali"`
	// Images says whether the Lamina images are built from a checkout or prebuilt.
	Images Images `json:"images"`
	// LLM is lamina-llm-serve, its model store and its model catalogue.
	LLM LLMServe `json:"llm"`
	// Chroma is ChromaDB. Its section holds a secret (the auth token), so it is a key of
	// its own.
	Chroma Chroma `json:"chroma"`
	// Core is the unified agent server.
	Core Core `json:"core"`
	// Dashboard is the Lamina dashboard.
	Dashboard Dashboard `json:"dashboard"`
	// Build is the build tier: the build environment's image and the checks of a commit.
	Build Build `json:"build"`
	// Docker is the Docker target: its daemon, networks, edge, proxies and certificates.
	Docker Docker `json:"docker"`

	// stack is the Pulumi stack this configuration belongs to.
	stack string
	// secret lists the keys whose values the stack file holds as secrets.
	secret map[string]bool
	// stat looks at the host's files; nil offline.
	stat func(string) (fs.FileInfo, error)
}

// Stack returns the name of the Pulumi stack the configuration was loaded for.
func (c *Config) Stack() string { return c.stack }

// Secret reports whether the stack file holds key (a section such as lamina:grafana) as
// a secret.
func (c *Config) Secret(key string) bool { return c.secret[key] }

// Host is the Mac's budget. macOS keeps its share and a reserve stays free; this stack's
// VM and the VMs listed in sideBySide must fit in what is left.
type Host struct {
	// CPUs is the number of cores of the Mac. Allowed: 1 to 1024.
	CPUs int `json:"cpus"`
	// MemoryGiB is the Mac's memory in GiB. Allowed: 1 to 65536.
	MemoryGiB int `json:"memoryGiB"`
	// MacOSCPUs is the number of cores kept for macOS (IDE, tools, system services).
	// Allowed: 0 to cpus - 1.
	MacOSCPUs int `json:"macosCPUs"`
	// MacOSMemoryGiB is the memory kept for macOS in GiB. Allowed: 0 and up, with
	// reserveMemoryGiB less than memoryGiB.
	MacOSMemoryGiB int `json:"macosMemoryGiB"`
	// ReserveMemoryGiB is memory no VM may use (OS overhead, burst capacity) in GiB.
	// Allowed: 0 and up, with macosMemoryGiB less than memoryGiB.
	ReserveMemoryGiB int `json:"reserveMemoryGiB"`
	// SideBySide lists the VMs of other stacks that run on this Mac at the same time.
	// This stack's VM and these together must fit in the budget.
	SideBySide []PlannedVM `json:"sideBySide"`
}

// PlannedVM is another stack's VM that shares the host.
type PlannedVM struct {
	// Stack is the other stack's name. Allowed: a stack name other than this one.
	Stack string `json:"stack"`
	// CPUs is the number of cores of that stack's VM. Allowed: 1 and up.
	CPUs int `json:"cpus"`
	// MemoryGiB is the memory of that stack's VM in GiB. Allowed: 1 and up.
	MemoryGiB int `json:"memoryGiB"`
	// Addresses are that stack's metallb.addresses: VMs of one type share one network,
	// so the pools must not overlap. Left out, they are that stack's profile's pool on
	// this stack's VM network. Allowed: ranges or CIDRs.
	Addresses []string `json:"addresses"`
}

// Data is the host side of persistent data.
type Data struct {
	// Dir is the host directory holding this stack's persistent data (models, metrics,
	// logs, dashboards, vectors), one subdirectory each. It is mounted writable into the
	// VM at the same path, created before the VM starts and never deleted by the program.
	// Allowed: an absolute, clean path without ',' ':' or control characters, outside
	// temporary directories.
	Dir string `json:"dir"`
}

// DataSubdirs are the subdirectories of data.dir, one per kind of persistent data.
var DataSubdirs = []string{"models", "prometheus", "loki", "grafana", "chromadb"}

// Cluster targets.
const (
	// TargetColima creates and manages a Colima VM with k3s on this Mac.
	TargetColima = "colima"
	// TargetExisting uses a cluster reachable through a kubeconfig and creates no VM.
	TargetExisting = "existing"
	// TargetShared joins the cluster and platform of another stack (cluster.platform):
	// only the agent stack is declared, in namespaces of this stack's own.
	TargetShared = "shared"
	// TargetDocker runs the agent stack as Docker containers, without Kubernetes, each
	// behind an nginx proxy speaking mutual TLS (lamina:docker).
	TargetDocker = "docker"
)

// Targets are the allowed values of cluster.target.
var Targets = []string{TargetColima, TargetExisting, TargetShared, TargetDocker}

// Cluster is where the platform runs.
type Cluster struct {
	// Target is colima (a Colima VM with k3s on this Mac), existing (a cluster reached
	// through cluster.kubeconfig and cluster.context; no VM is created) or shared (the
	// cluster and platform of the stack cluster.platform: its mesh, gateway, certificate
	// issuer and observability; this stack declares only the agent stack, in namespaces
	// named after it, and that stack's lamina:colima.tenants must list it) or docker (no
	// Kubernetes: the agent stack, Grafana, Loki and Vector as Docker containers behind
	// nginx proxies speaking mutual TLS, on lamina:docker.host or this stack's Colima
	// profile started without Kubernetes; see lamina:docker).
	Target string `json:"target"`
	// Platform is the stack whose cluster and platform a shared stack joins (target
	// shared only), read through a Pulumi StackReference of its outputs. Allowed: a
	// stack name other than this one.
	Platform string `json:"platform"`
	// Kubeconfig is the kubeconfig file of an existing cluster (target existing only).
	// Allowed: an absolute path or one starting with ~/.
	Kubeconfig string `json:"kubeconfig"`
	// Context is the kubeconfig context of an existing cluster (target existing only;
	// with colima the context is always colima-<colima.profile>).
	Context string `json:"context"`
	// DockerHost is the Docker daemon that builds images with target existing
	// (unix://, tcp:// or ssh://); empty means this stack builds no images. With colima
	// it is always the profile's own Docker socket.
	DockerHost string `json:"dockerHost"`
	// ReadyTimeout bounds the wait for every node to be Ready, as a Go duration.
	// Allowed: 30s to 30m.
	ReadyTimeout Duration `json:"readyTimeout"`
	// APIServerPort is the port the Kubernetes API server listens on, which the network
	// policy lets pods that read the API reach. With colima, k3s is started on it (Colima
	// would pick a random port otherwise, and keeps the port a VM was created with); with
	// existing, it must be the port of the cluster's own kubernetes Service endpoints.
	// Either way pulumi up stops when the cluster listens elsewhere. Allowed: 1 to 65535.
	APIServerPort int `json:"apiServerPort"`
	// NodeCIDR is the network on which the nodes are reachable from macOS; with colima it
	// is the network of the VM's --network-address: macOS's vmnet shared network
	// (192.168.64.0/24 by default) for a vz VM, Colima's network helper's
	// 192.168.106.0/24 for a krunkit VM, where the profile's addresses (this one,
	// metallb.addresses, edge.address, host.sideBySide) move with lamina:colima.vmType.
	// MetalLB's addresses come from it. With existing, the nodes' own network, which the
	// network policies open the API server and the kubelets to: required there. Allowed:
	// an IPv4 CIDR not overlapping podCIDR or serviceCIDR; with krunkit, within
	// 192.168.106.0/24.
	NodeCIDR string `json:"nodeCIDR"`
	// PodCIDR is the cluster's pod network (k3s --cluster-cidr). Allowed: an IPv4 CIDR
	// not overlapping nodeCIDR or serviceCIDR.
	PodCIDR string `json:"podCIDR"`
	// ServiceCIDR is the cluster's service network (k3s --service-cidr). Allowed: an
	// IPv4 CIDR not overlapping nodeCIDR or podCIDR.
	ServiceCIDR string `json:"serviceCIDR"`
	// StorageClass names the one StorageClass for volumes on the host data directory
	// (no dynamic provisioning, reclaim policy Retain). Allowed: a DNS-1123 subdomain.
	StorageClass string `json:"storageClass"`
}

// Colima is the VM that runs k3s.
type Colima struct {
	// Profile is the Colima profile (VM) name; its kube context is colima-<profile>.
	// Allowed: lower-case letters, digits and '-', 1 to 40 characters, starting and
	// ending with a letter or digit; not default or colima (the user's own VM).
	Profile string `json:"profile"`
	// CPUs is the VM's number of cores. Allowed: 1 to the host budget.
	CPUs int `json:"cpus"`
	// MemoryGiB is the VM's memory in GiB. Allowed: 2 to the host budget.
	MemoryGiB int `json:"memoryGiB"`
	// DiskGiB is the VM's disk in GiB. It can grow; Colima cannot shrink a disk, so a
	// smaller value than the existing VM's is refused when applied. Allowed: 20 to 8192.
	DiskGiB int `json:"diskGiB"`
	// Arch is the VM's architecture, fixed when the VM is created. Allowed: aarch64,
	// x86_64.
	Arch string `json:"arch"`
	// VMType is the kind of VM, fixed when the VM is created: vz (Apple's
	// Virtualization framework; containers get no GPU) or krunkit (libkrun; containers
	// see the Mac's GPU as a Vulkan device, /dev/dri). krunkit needs Apple silicon, macOS
	// 14 or later, krunkit 1.2.1 or later, Colima 0.10.2 or later, Lima 2.0 or later with
	// its krunkit driver, and Colima's network helper installed once in a terminal
	// (lamina doctor checks each and prints the command); it runs only
	// aarch64, at most 60 GiB of memory (the VM's memory and the GPU's share 62 GiB of
	// address space), and mounts the data directory with reverse sshfs, the only mount
	// type Colima gives it. Allowed: vz, krunkit.
	VMType string `json:"vmType"`
	// K3sVersion is the k3s release Colima installs. Allowed: a k3s release tag such as
	// v1.35.0+k3s1.
	K3sVersion string `json:"k3sVersion"`
	// K3sArgs are extra k3s server arguments, one per item, after the program's own
	// (--disable=traefik, --disable=servicelb, --cluster-cidr, --service-cidr).
	// Allowed: items starting with "--", without ',' or control characters, not
	// repeating the program's own.
	K3sArgs []string `json:"k3sArgs"`
	// DNS lists the VM's DNS resolvers; empty keeps Colima's default. Allowed: IP
	// addresses.
	DNS []string `json:"dns"`
	// Tenants are the stacks that join this stack's cluster and platform (their
	// lamina:cluster.target shared), each with what its pods may request in all. The
	// capacity check counts them inside this VM; a tenant whose own requests exceed its
	// share stops at its preview.
	Tenants []Tenant `json:"tenants"`
	// Protect makes `pulumi destroy` refuse to delete the VM. To delete a protected VM
	// on purpose, set it to false, run `pulumi up`, then `pulumi destroy`.
	Protect bool `json:"protect"`
}

// Tenant is a stack that runs its agent stack on this stack's platform.
type Tenant struct {
	// Stack is the tenant stack's name. Allowed: lower-case letters, digits and '-', 1
	// to 30 characters (its namespaces are named after it), not this stack.
	Stack string `json:"stack"`
	// CPU is what the tenant's pods may request in all, sidecars included. Allowed: a
	// CPU quantity.
	CPU string `json:"cpu"`
	// Memory is what the tenant's pods may request in all, sidecars included. Allowed:
	// a memory quantity.
	Memory string `json:"memory"`
}

// Duration is a time.Duration written as a Go duration string ("5m", "90s").
type Duration struct{ time.Duration }

// MarshalText prints the duration as Go does ("5m0s").
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("not a duration such as 90s or 5m")
	}
	d.Duration = v
	return nil
}

// ExpandHome turns a leading ~/ into the home directory of whoever runs the program: on
// the Mac, the user running `pulumi up`.
func ExpandHome(p string) string {
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return path.Join(home, rest)
		}
	}
	return p
}

// VM types and accelerators.
const (
	VMTypeVZ      = "vz"
	VMTypeKrunkit = "krunkit"

	AcceleratorNone = "none"
	AcceleratorGPU  = "gpu"
)
