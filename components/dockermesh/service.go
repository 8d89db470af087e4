package dockermesh

import (
	"fmt"
	"maps"
	"math"
	"math/big"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Ports and names of the mesh.
const (
	// MeshPort is where every proxy accepts the mesh's mutual TLS.
	MeshPort = 8443
	// MeshDomain is the suffix of a proxy's name on the mesh network: a service's own
	// name is its proxy's on its private network, where its container calls others.
	MeshDomain = ".mesh.lamina"
	// TLSDir holds a proxy's certificate, key and the CA's certificate; ConfPath its
	// nginx.conf (both under FilesDir, read-only); RunDir its pid and temporary files (a
	// tmpfs).
	TLSDir   = FilesDir + "/tls"
	ConfPath = FilesDir + "/nginx.conf"
	RunDir   = "/tmp"
	// dockerDNS is Docker's embedded DNS server on user-defined networks.
	dockerDNS = "127.0.0.11"
	// proxyUser is the nginx-unprivileged image's user; ProxyMemoryMiB each proxy's
	// memory limit.
	proxyUser      = "101:101"
	ProxyMemoryMiB = 64
	// HealthPort is where a proxy's health server listens, on its container's loopback.
	HealthPort = 8081
	// edgeStartupSeconds is how long the edge (nginx alone) may take to be ready.
	edgeStartupSeconds = 30
)

// Labels say what a container is to the policy pack and to `docker ps`.
const (
	RoleLabel    = "lamina.io/role"
	ServiceLabel = "lamina.io/service"
	RoleApp      = "app"
	RoleProxy    = "proxy"
	RoleEdge     = "edge"
)

// ContainerName is the name of service's container (and of its private network; its
// proxy's adds -proxy): lamina-<service>, once.
func ContainerName(service string) string { return "lamina-" + strings.TrimPrefix(service, "lamina-") }

// MeshName is the name of service's proxy on the mesh network.
func MeshName(service string) string { return service + MeshDomain }

// Call is a service another one calls: by its name and port, as plain HTTP from the
// caller's container.
type Call struct {
	Service string
	Port    int
	// Headers are added to each request by the caller's proxy (secret values allowed).
	Headers map[string]pulumi.StringInput
}

// File is a file a container reads, read-only (files.go): under FilesDir, or at a path
// its image reads. Content may be secret, and is how a secret reaches a container
// (never its environment).
type File struct {
	Path    string
	Content pulumi.StringInput
}

// Mount is a host directory (on the Docker host, which mounts it from the Mac).
type Mount struct {
	Host, Container string
	ReadOnly        bool
}

// ServiceArgs configure one service and its proxy.
type ServiceArgs struct {
	// Name is the service's name and identity.
	Name string
	// Image is the service's image; Port where it listens (0: it serves nothing);
	// Command, Env, Files and Mounts what it runs with.
	Image   pulumi.StringInput
	Port    int
	Command []string
	Env     map[string]string
	Files   []File
	Mounts  []Mount
	// User is user:group; MemoryBytes and CPUs its limits.
	User        string
	MemoryBytes int64
	CPUs        float64
	// Callers are the identities allowed to call the service; Calls what it calls.
	Callers []string
	Calls   []Call
	// Streaming turns off the proxy's response buffering.
	Streaming bool
	// HealthPath is the app's health endpoint (empty: the service serves nothing, and is
	// ready when running); StartupSeconds how long it may take to answer it after a start.
	HealthPath     string
	StartupSeconds int
	// Devices are device nodes of the Docker host (or directories of them, such as
	// /dev/dri) the app's container may read and write; the daemon copies each node's
	// mode, so no capability or privilege is added.
	Devices []string
	// Check, when set, is the app's own health check, a command its image runs, for
	// what its health path cannot tell (llm-serve's seeing the GPU): `pulumi up` waits
	// until it passes, and fails naming the container when it does not. It runs before
	// the proxy exists, so it must not call through it.
	Check []string
	// Internet lets the service's container reach the internet (model downloads): its
	// private network is not internal. It still reaches the other services only through
	// its proxy.
	Internet bool
	// Private is the service's private network's range; Mesh the proxies' network.
	Private netip.Prefix
	Mesh    *docker.Network
	// ProxyImage is nginx, unprivileged; Certificate the service's, CACert the mesh's.
	ProxyImage  string
	Certificate *Certificate
	CACert      pulumi.StringInput
	// Labels mark every container and network (the stack's).
	Labels map[string]string
}

// Service is a service's private network, its container and its proxy, and the volume
// of their files with its carrier.
type Service struct {
	pulumi.ResourceState

	Network    *docker.Network
	App, Proxy *docker.Container
	Files      *docker.Volume
	Carrier    *docker.Container
}

// NewService declares a service behind its proxy. The Docker provider comes with opts.
func NewService(ctx *pulumi.Context, name string, args ServiceArgs, opts ...pulumi.ResourceOption) (*Service, error) {
	s := &Service{}
	if err := ctx.RegisterComponentResource("lamina:dockermesh:Service", name, s, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(s)
	var err error
	if s.Network, err = docker.NewNetwork(ctx, name+"-private", &docker.NetworkArgs{
		Name:        pulumi.String(ContainerName(args.Name)),
		Driver:      pulumi.String("bridge"),
		Internal:    pulumi.Bool(!args.Internet),
		IpamConfigs: docker.NetworkIpamConfigArray{&docker.NetworkIpamConfigArgs{Subnet: pulumi.String(args.Private.String())}},
		Labels:      NetworkLabels(args.Labels, args.Name),
	}, parent, ReplaceNamed); err != nil {
		return nil, err
	}
	appHost := args.Name + "-app"

	// The proxy: the service's names on its private network are those of what it calls.
	var aliases []string
	var outbound []Route
	headers := pulumi.Map{}
	for _, c := range args.Calls {
		aliases = append(aliases, c.Service)
		outbound = append(outbound, Route{
			Name: c.Service, Listen: "0.0.0.0:" + strconv.Itoa(c.Port), Allow: args.Private.String(),
			Target: MeshName(c.Service) + ":" + strconv.Itoa(MeshPort), Service: c.Service,
		})
		for k, v := range c.Headers {
			headers[c.Service+"\x00"+k] = v
		}
	}
	proxy := Proxy{Name: args.Name, TLSDir: TLSDir, RunDir: RunDir, Resolver: dockerDNS, Outbound: outbound, Health: healthListen}
	if args.Port > 0 {
		proxy.Inbound = &Inbound{
			Listen: "0.0.0.0:" + strconv.Itoa(MeshPort), App: "http://" + appHost + ":" + strconv.Itoa(args.Port),
			Callers: args.Callers, Streaming: args.Streaming, HealthPath: args.HealthPath,
		}
	}
	conf := headers.ToMapOutput().ApplyT(func(h map[string]any) (string, error) {
		p := proxy
		p.Outbound = slices.Clone(proxy.Outbound)
		for i := range p.Outbound {
			for k, v := range h {
				if svc, header, ok := strings.Cut(k, "\x00"); ok && svc == p.Outbound[i].Name {
					if p.Outbound[i].Headers == nil {
						p.Outbound[i].Headers = map[string]string{}
					}
					p.Outbound[i].Headers[header] = v.(string)
				}
			}
		}
		return p.Config()
	}).(pulumi.StringOutput)
	if _, err := proxy.Config(); err != nil { // the shape, before any resource
		return nil, fmt.Errorf("service %s: %w", args.Name, err)
	}
	// The files of the app and of its proxy, carried into the service's volume before
	// either is created.
	appName, proxyName := ContainerName(args.Name), ContainerName(args.Name)+"-proxy"
	files := newUnitFiles(args.Name)
	if err := files.add(appName, args.Files); err != nil {
		return nil, err
	}
	if err := files.add(proxyName, proxyFiles(conf, args.Certificate, args.CACert)); err != nil {
		return nil, err
	}
	if s.Files, s.Carrier, err = files.carrier(ctx, args.ProxyImage, args.Labels, parent); err != nil {
		return nil, err
	}
	carried := pulumi.DependsOn([]pulumi.Resource{s.Carrier})

	// The service's container, on its private network alone.
	var env []string
	for _, k := range slices.Sorted(maps.Keys(args.Env)) {
		env = append(env, k+"="+args.Env[k])
	}
	var volumes docker.ContainerVolumeArray
	for _, m := range args.Mounts {
		volumes = append(volumes, &docker.ContainerVolumeArgs{HostPath: pulumi.String(m.Host), ContainerPath: pulumi.String(m.Container), ReadOnly: pulumi.Bool(m.ReadOnly)})
	}
	app := &docker.ContainerArgs{
		Name:  pulumi.String(appName),
		Image: args.Image,
		NetworksAdvanced: docker.ContainerNetworksAdvancedArray{
			&docker.ContainerNetworksAdvancedArgs{Name: s.Network.Name, Aliases: pulumi.ToStringArray([]string{appHost})},
		},
		Envs:    pulumi.ToStringArray(env),
		Volumes: volumes,
		Labels:  containerLabels(args.Labels, args.Name, RoleApp),
		Cpus:    pulumi.String(CPUs(args.CPUs)),
	}
	memoryArgs(app, int(args.MemoryBytes>>20))
	if len(args.Command) > 0 {
		app.Command = pulumi.ToStringArray(args.Command)
	}
	if len(args.Devices) > 0 {
		var devices docker.ContainerDeviceArray
		for _, d := range args.Devices {
			devices = append(devices, &docker.ContainerDeviceArgs{
				HostPath: pulumi.String(d), ContainerPath: pulumi.String(d), Permissions: pulumi.String("rw"),
			})
		}
		app.Devices = devices
	}
	hardenedArgs(app, args.User)
	files.mount(app, appName, s.Files)
	if len(args.Check) > 0 {
		checkArgs(app, args.Check)
	}
	if s.App, err = docker.NewContainer(ctx, name, app, parent, carried); err != nil {
		return nil, err
	}

	// Its proxy, after the app's container: its creation ends when Docker's health check
	// through it finds the app answering, so it is created only once the app exists. An
	// app's creation does not wait for its health path (only for its own Check, which
	// runs in its image and must not need the proxy), so a health path that calls
	// another service through the proxy's outbound side still answers once the proxy
	// runs. Created beside the app, a proxy whose app an interrupted up (Ctrl-C: the
	// engine starts no new step) never created waited out its whole health wait before
	// the run could end: 10m47s measured with llm-serve's.
	proxyArgs := &docker.ContainerArgs{
		Name:  pulumi.String(proxyName),
		Image: pulumi.String(args.ProxyImage),
		NetworksAdvanced: docker.ContainerNetworksAdvancedArray{
			&docker.ContainerNetworksAdvancedArgs{Name: s.Network.Name, Aliases: pulumi.ToStringArray(aliases)},
			&docker.ContainerNetworksAdvancedArgs{Name: args.Mesh.Name, Aliases: pulumi.ToStringArray([]string{MeshName(args.Name)})},
		},
		Command: proxyCommand,
		Labels:  containerLabels(args.Labels, args.Name, RoleProxy),
	}
	memoryArgs(proxyArgs, ProxyMemoryMiB)
	hardenedArgs(proxyArgs, proxyUser)
	files.mount(proxyArgs, proxyName, s.Files)
	readyArgs(proxyArgs, args.StartupSeconds)
	if s.Proxy, err = docker.NewContainer(ctx, name+"-proxy", proxyArgs, parent, pulumi.DependsOn([]pulumi.Resource{s.Carrier, s.App})); err != nil {
		return nil, err
	}

	return s, ctx.RegisterResourceOutputs(s, pulumi.Map{"network": s.Network.Name, "proxy": s.Proxy.Name, "app": s.App.Name})
}

// ReplaceNamed replaces a network or volume of a fixed name by deleting it first, and
// with it the containers on it. The Docker provider replaces only containers that way
// (pulumi-docker v4.10.0 provider/resources.go sets DeleteBeforeReplace on containers
// alone), and Docker 25 and later refuse a second network of a name; a second volume of
// a name is the first one, which the old one's deletion would then take away.
var ReplaceNamed = pulumi.DeleteBeforeReplace(true)

// EdgeArgs configure the edge: the one published port.
type EdgeArgs struct {
	// Address and Port are where it is published on the Docker host.
	Address string
	Port    int
	// Routes are the hostnames it serves, each to a service's proxy.
	Routes []Route
	// Network is the edge's own network (not internal: a port is published from it),
	// Mesh the proxies'.
	Network, Mesh *docker.Network
	ProxyImage    string
	Certificate   *Certificate
	CACert        pulumi.StringInput
	Labels        map[string]string
}

// NewEdge declares the edge proxy: TLS from the user's browser, mutual TLS to each
// service's proxy as the identity edge.
func NewEdge(ctx *pulumi.Context, name string, args EdgeArgs, opts ...pulumi.ResourceOption) (*docker.Container, error) {
	proxy := Proxy{Name: "edge", TLSDir: TLSDir, RunDir: RunDir, Resolver: dockerDNS, Listen: "0.0.0.0:" + strconv.Itoa(MeshPort), Public: args.Routes, Health: healthListen}
	conf, err := proxy.Config()
	if err != nil {
		return nil, err
	}
	const container = "lamina-edge"
	files := newUnitFiles("edge")
	if err := files.add(container, proxyFiles(pulumi.String(conf).ToStringOutput(), args.Certificate, args.CACert)); err != nil {
		return nil, err
	}
	volume, carrier, err := files.carrier(ctx, args.ProxyImage, args.Labels, opts...)
	if err != nil {
		return nil, err
	}
	edge := &docker.ContainerArgs{
		Name:  pulumi.String(container),
		Image: pulumi.String(args.ProxyImage),
		NetworksAdvanced: docker.ContainerNetworksAdvancedArray{
			&docker.ContainerNetworksAdvancedArgs{Name: args.Network.Name},
			&docker.ContainerNetworksAdvancedArgs{Name: args.Mesh.Name, Aliases: pulumi.ToStringArray([]string{MeshName("edge")})},
		},
		Ports: docker.ContainerPortArray{&docker.ContainerPortArgs{
			Internal: pulumi.Int(MeshPort), External: pulumi.Int(args.Port), Ip: pulumi.String(args.Address), Protocol: pulumi.String("tcp"),
		}},
		Command: proxyCommand,
		Labels:  containerLabels(args.Labels, "edge", RoleEdge),
	}
	memoryArgs(edge, ProxyMemoryMiB)
	hardenedArgs(edge, proxyUser)
	files.mount(edge, container, volume)
	readyArgs(edge, edgeStartupSeconds)
	return docker.NewContainer(ctx, name, edge, append(opts, pulumi.DependsOn([]pulumi.Resource{carrier}))...)
}

// proxyCommand runs nginx on the configuration under FilesDir, in the foreground (the
// image's own command, with the configuration's path).
var proxyCommand = pulumi.ToStringArray([]string{"nginx", "-c", ConfPath, "-g", "daemon off;"})

// proxyFiles are a proxy's configuration and TLS files; the key stays secret.
func proxyFiles(conf pulumi.StringOutput, cert *Certificate, ca pulumi.StringInput) []File {
	return []File{
		{Path: ConfPath, Content: conf},
		{Path: TLSDir + "/" + CertFile, Content: cert.Cert},
		{Path: TLSDir + "/" + KeyFile, Content: cert.Key},
		{Path: TLSDir + "/" + CAFile, Content: ca},
	}
}

// healthListen is a proxy's health server, on its container's loopback only.
var healthListen = "127.0.0.1:" + strconv.Itoa(HealthPort)

// healthCheck is a Docker health check that `pulumi up` waits for: it runs every
// startInterval until it first passes, for up to start after the container starts, then
// every interval; past the start, retries failures in a row mark the container
// unhealthy. up fails after wait, naming the container.
type healthCheck struct {
	test                                    []string
	start, timeout, startInterval, interval time.Duration
	retries                                 int
	wait                                    time.Duration
}

// apply writes the durations as the Docker provider reads them back from the daemon
// (time.Duration's String: "2m0s", not "120s"; kreuzwerker's
// resource_docker_container_funcs.go), or every preview would show the health check
// changing.
func (h healthCheck) apply(c *docker.ContainerArgs) {
	c.Healthcheck = &docker.ContainerHealthcheckArgs{
		Tests:         pulumi.ToStringArray(h.test),
		Interval:      pulumi.String(h.interval.String()),
		Timeout:       pulumi.String(h.timeout.String()),
		Retries:       pulumi.Int(h.retries),
		StartPeriod:   pulumi.String(h.start.String()),
		StartInterval: pulumi.String(h.startInterval.String()),
	}
	c.Wait = pulumi.Bool(true)
	c.WaitTimeout = pulumi.Int(int(h.wait / time.Second))
}

// readyArgs give a proxy Docker's health check (busybox's wget in the nginx image asks
// its /ready, so the app behind it is checked without any tool in the app's image): up
// goes on within a second of the app answering (the check runs every second for startup
// seconds, then every 10), or fails once three checks after the start have failed.
func readyArgs(c *docker.ContainerArgs, startupSeconds int) {
	startup := time.Duration(max(startupSeconds, 10)) * time.Second
	healthCheck{
		test:  []string{"CMD", "wget", "-q", "-O", "/dev/null", "http://" + healthListen + "/ready"},
		start: startup, startInterval: time.Second, interval: 10 * time.Second, timeout: 6 * time.Second, retries: 3,
		wait: startup + 3*10*time.Second + 10*time.Second,
	}.apply(c)
}

// appCheck is how long an app's own check may take to first pass after a start.
const appCheck = 60 * time.Second

// checkArgs give an app container its own health check (a command in its image): up goes
// on within 2 s of its passing, or fails after the 60 s, the last check's own 30 s and
// 10 s. After the start it runs every 5 minutes, and one failure marks it unhealthy.
func checkArgs(c *docker.ContainerArgs, command []string) {
	healthCheck{
		test:  append([]string{"CMD"}, command...),
		start: appCheck, startInterval: 2 * time.Second, interval: 5 * time.Minute, timeout: 30 * time.Second, retries: 1,
		wait: appCheck + 30*time.Second + 10*time.Second,
	}.apply(c)
}

// CPUs is a CPU limit as the Docker provider reads it back from the daemon's NanoCPUs
// (kreuzwerker's helpers.go nanoInt64ToDecimalString: "1.0" for one core, "0.5", "0.25"),
// or every preview would replace the container for a "1" it reads as "1.0".
func CPUs(cpus float64) string {
	nano := int64(math.Round(cpus * 1e9))
	if nano == 0 {
		return "0"
	}
	r := new(big.Rat).SetFrac64(nano, 1e9)
	s := r.FloatString(9)
	if strings.Count(s, "0") == 9 {
		return r.FloatString(1)
	}
	return strings.TrimRight(s, "0")
}

// memoryArgs bound a container's memory to mib MiB, swap included: memory and swap
// together are the same limit. Left unset, the daemon sets the swap limit to twice the
// memory (moby daemon/daemon_unix.go), which the provider then reads back as a change
// on every preview.
func memoryArgs(c *docker.ContainerArgs, mib int) {
	c.Memory = pulumi.Int(mib)
	c.MemorySwap = pulumi.Int(mib)
}

// hardenedArgs: a user of its own, no capability, no privilege escalation, a read-only
// root file system with a tmpfs for /tmp, restarted unless stopped, running when
// created.
func hardenedArgs(c *docker.ContainerArgs, user string) {
	c.User = pulumi.String(user)
	c.Capabilities = &docker.ContainerCapabilitiesArgs{Drops: pulumi.ToStringArray([]string{"ALL"})}
	c.SecurityOpts = pulumi.ToStringArray([]string{"no-new-privileges:true"})
	c.ReadOnly = pulumi.Bool(true)
	c.Tmpfs = pulumi.StringMap{RunDir: pulumi.String("rw,noexec,nosuid,size=64m")}
	c.Restart = pulumi.String("unless-stopped")
	c.MustRun = pulumi.Bool(true)
	c.LogDriver = pulumi.String("json-file")
	c.LogOpts = pulumi.StringMap{"max-size": pulumi.String("10m"), "max-file": pulumi.String("3")}
}

// containerLabels are a container's: the stack's, its service and its role.
func containerLabels(base map[string]string, service, role string) docker.ContainerLabelArray {
	var out docker.ContainerLabelArray
	for _, kv := range sortedLabels(base, map[string]string{ServiceLabel: service, RoleLabel: role}) {
		out = append(out, &docker.ContainerLabelArgs{Label: pulumi.String(kv[0]), Value: pulumi.String(kv[1])})
	}
	return out
}

// NetworkLabels are a network's labels, in order: base (the stack's), and the service
// whose private network it is, if any.
func NetworkLabels(base map[string]string, service string) docker.NetworkLabelArray {
	own := map[string]string{}
	if service != "" {
		own[ServiceLabel] = service
	}
	var out docker.NetworkLabelArray
	for _, kv := range sortedLabels(base, own) {
		out = append(out, &docker.NetworkLabelArgs{Label: pulumi.String(kv[0]), Value: pulumi.String(kv[1])})
	}
	return out
}

// sortedLabels are own over base, as key-value pairs sorted by key: the base (the
// stack's labels) wins where both set a key, as containers have always had it.
func sortedLabels(base, own map[string]string) [][2]string {
	m := maps.Clone(own)
	maps.Copy(m, base)
	var out [][2]string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, [2]string{k, m[k]})
	}
	return out
}
