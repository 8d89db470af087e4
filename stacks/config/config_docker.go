package config

// Docker is the Docker target (lamina:cluster.target docker), for a Mac too small for
// Kubernetes: the agent stack and Grafana, Loki and Vector as containers on one Docker
// daemon. Each service sits behind an nginx proxy of its own that accepts only mutual
// TLS from the services allowed to call it, with certificates from one local CA; its
// container is on a private network with its proxy alone. Only the edge proxy publishes
// a port. The agents' configuration is the same typed config as in Kubernetes
// (lamina:llm, lamina:chroma, lamina:core, lamina:dashboard): their limits bound the
// containers.
type Docker struct {
	// Host is the Docker daemon: empty for this stack's own Colima profile (lamina:colima,
	// started with the docker runtime and without Kubernetes), else unix://, tcp:// or
	// ssh:// followed by an address.
	Host string `json:"host"`
	// Subnet is the range the program's networks are carved from: the proxies' mesh
	// network takes its first /24, each service's private network a /28 after it.
	// Allowed: an IPv4 CIDR from /16 to /20 within 10.0.0.0/8, 172.16.0.0/12 or
	// 192.168.0.0/16, not overlapping the VM's network (lamina:cluster.nodeCIDR).
	Subnet string `json:"subnet"`
	// EdgeAddress is where the edge proxy publishes the gateway on the Docker host
	// (Colima forwards the VM's loopback to this Mac's). Allowed: 127.0.0.1 (this Mac
	// only, the default; the only one on this stack's own VM, which owns none of the
	// Mac's addresses) or, with Host set, another IPv4 address of that host, which
	// reaches other machines; not 0.0.0.0.
	EdgeAddress string `json:"edgeAddress"`
	// EdgePort is the gateway's port there; its URLs are https://<name>.<domain>:<port>.
	// Allowed: 1024 to 65535.
	EdgePort int `json:"edgePort"`
	// ProxyImage is the proxies' image: nginx running as an unprivileged user. Allowed:
	// an image reference with a tag or digest, not latest.
	ProxyImage string `json:"proxyImage"`
	// TLSDays is how long each certificate of the mesh is valid. Allowed: 30 to 3650.
	TLSDays int `json:"tlsDays"`
	// TLSGeneration names the mesh's CA: the CA and every certificate are generated once
	// and kept, secret, in the state; a new generation replaces them all on the next
	// up (rotation on request). Allowed: 1 or more.
	TLSGeneration int `json:"tlsGeneration"`
	// Grafana, Loki and Vector are the observability containers: their images and
	// memory limits.
	Grafana Container `json:"grafana"`
	Loki    Container `json:"loki"`
	Vector  Container `json:"vector"`
}

// Container is an image and its limits, for the Docker target's own containers.
type Container struct {
	// Image is an image reference with a tag or digest, not latest.
	Image string `json:"image"`
	// Memory is the container's memory limit. Allowed: 32Mi to 64Gi.
	Memory string `json:"memory"`
	// CPUs is the container's share of cores, as a Kubernetes quantity. Allowed: 100m to 32.
	CPUs string `json:"cpus"`
}

// DockerProfile is the Docker target's profile, sized for a 16 GB Mac.
const DockerProfile = "docker"
