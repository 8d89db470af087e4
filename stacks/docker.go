package stacks

import (
	"fmt"
	"net/netip"
	"path"
	"strconv"

	"github.com/pulumi/pulumi-command/sdk/go/command/local"
	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/lamina-os/lamina-infra/components/chromadb"
	"github.com/lamina-os/lamina-infra/components/colima"
	"github.com/lamina-os/lamina-infra/components/core"
	"github.com/lamina-os/lamina-infra/components/dashboard"
	"github.com/lamina-os/lamina-infra/components/dockermesh"
	"github.com/lamina-os/lamina-infra/components/grafana"
	"github.com/lamina-os/lamina-infra/components/llmserve"
	"github.com/lamina-os/lamina-infra/components/logs"
	"github.com/lamina-os/lamina-infra/components/network"
	"github.com/lamina-os/lamina-infra/components/storage"
	"github.com/lamina-os/lamina-infra/internal/kube"
	"github.com/lamina-os/lamina-infra/internal/secret"
	"github.com/lamina-os/lamina-infra/internal/shell"
	"github.com/lamina-os/lamina-infra/stacks/config"
)

// DockerPlatform is what the Docker target builds: a daemon, the mesh's CA, networks,
// services behind their proxies, and the edge.
type DockerPlatform struct {
	VM       *colima.ColimaVM
	Provider *docker.Provider
	PKI      *dockermesh.PKI
	Mesh     *docker.Network
	// EdgeNetwork is the one network that is not internal: the edge publishes from it.
	EdgeNetwork *docker.Network
	Services    map[string]*dockermesh.Service
	Edge        *docker.Container
	Images      map[string]pulumi.StringOutput
}

// Where the containers read the files the program gives them (read-only, under
// dockermesh.FilesDir), and the observability containers' users (the images').
const (
	lokiConfig    = dockermesh.FilesDir + "/loki.yaml"
	vectorConfig  = dockermesh.FilesDir + "/vector.yaml"
	grafanaSecret = dockermesh.FilesDir + "/secrets/grafana-admin-password"
	// grafanaProvisioning replaces the image's /etc/grafana/provisioning (GF_PATHS_PROVISIONING).
	grafanaProvisioning = dockermesh.FilesDir + "/provisioning"
	// chromaLogConfig is ChromaDB's logging configuration: to standard output only. The
	// image's own (chromadb/log_config.yml, CHROMA_LOG_CONFIG's default) adds a rotating
	// file handler writing chroma.log into the working directory, /chroma, which is
	// root's and read-only here: uvicorn fails at start as any other user
	// (chroma-core/chroma#4044; Dockerfile and bin/docker_entrypoint.sh at 0.6.3).
	chromaLogConfig = dockermesh.FilesDir + "/chroma-log.yaml"
	dockerSocket    = "/var/run/docker.sock"
	// gpuDevices are a krunkit VM's GPU nodes (card0 and renderD128).
	gpuDevices  = "/dev/dri"
	grafanaUser = "472:472"
	// observabilityStartupSeconds is how long Grafana and Loki may take to be ready.
	observabilityStartupSeconds = 120
	lokiUser                    = "10001:10001"
	// Vector reads the containers' logs through the Docker socket, as root in its
	// container; it serves nothing, and reaches only Loki, through its proxy.
	vectorUser = "0:0"
)

// buildDocker declares the Docker target: no Kubernetes, the agent stack and Grafana,
// Loki and Vector as containers, each behind its nginx proxy.
func buildDocker(ctx *pulumi.Context, cfg *config.Config, probes config.Probes) (*DockerPlatform, Outputs, error) {
	d := &DockerPlatform{Services: map[string]*dockermesh.Service{}, Images: map[string]pulumi.StringOutput{}}
	dc := cfg.Docker
	host, daemon, dirsReady, err := d.daemon(ctx, cfg, probes)
	if err != nil {
		return nil, Outputs{}, err
	}
	withDocker := pulumi.Provider(d.Provider)
	labels := map[string]string{stackLabel: ctx.Stack()}
	private, err := d.networks(ctx, cfg, labels, withDocker)
	if err != nil {
		return nil, Outputs{}, err
	}
	if err := d.images(ctx, cfg, daemon, withDocker); err != nil {
		return nil, Outputs{}, err
	}

	// Secrets reach containers as files, never through their environment.
	token := pulumi.ToSecret(pulumi.String(cfg.Chroma.AuthToken)).(pulumi.StringOutput)
	if cfg.Chroma.AuthToken == "" {
		if token, err = secret.Generate(ctx, "chromadb-token", 32); err != nil {
			return nil, Outputs{}, err
		}
	}
	password := pulumi.ToSecret(pulumi.String(cfg.Grafana.AdminPassword)).(pulumi.StringOutput)
	if cfg.Grafana.AdminPassword == "" {
		if password, err = secret.Generate(ctx, "grafana-admin-password", 24); err != nil {
			return nil, Outputs{}, err
		}
	}

	for _, s := range dockerServices(ctx, cfg, d.Images, token, password) {
		cert, err := d.PKI.Issue(ctx, s.Name, []string{s.Name, dockermesh.MeshName(s.Name)})
		if err != nil {
			return nil, Outputs{}, err
		}
		net, ok := private[s.Name]
		if !ok {
			return nil, Outputs{}, fmt.Errorf("docker target: service %s has no private network in config.DockerServices", s.Name)
		}
		s.Private, s.Mesh, s.ProxyImage = net, d.Mesh, dc.ProxyImage
		s.Certificate, s.CACert, s.Labels = cert, d.PKI.CACert, labels
		if d.Services[s.Name], err = dockermesh.NewService(ctx, s.Name, s, withDocker, pulumi.DependsOn(dirsReady)); err != nil {
			return nil, Outputs{}, err
		}
	}

	urls, err := d.edge(ctx, cfg, labels, withDocker)
	if err != nil {
		return nil, Outputs{}, err
	}

	out := newOutputs(ctx, cfg, dc.EdgeAddress, urls, config.DataSubdirs)
	out.CACertificate = d.PKI.CACert
	out.GrafanaUser, out.GrafanaPass = pulumi.String(cfg.Grafana.AdminUser), password
	refs := pulumi.Map{}
	for _, name := range []string{llmserve.Name, chromadb.Name, core.Name, dashboard.Name} {
		refs[name] = d.Images[name]
	}
	out.Images = refs
	if d.VM != nil {
		out.withVM(d.VM)
	}
	out.DockerHost = host
	return d, out, nil
}

// daemon declares the Docker daemon the target runs on: this stack's Colima VM started
// without Kubernetes, or lamina:docker.host with the data directories made here; then
// its provider. daemon stands for the daemon the images are built on.
func (d *DockerPlatform) daemon(ctx *pulumi.Context, cfg *config.Config, probes config.Probes) (host pulumi.StringOutput, daemon string, dirsReady []pulumi.Resource, err error) {
	dc := cfg.Docker
	if dc.Host == "" {
		vm, observed, err := newColimaVM(ctx, cfg, probes)
		if err != nil {
			return host, "", nil, err
		}
		daemon = observed
		d.VM, host, dirsReady = vm, vm.DockerHost, []pulumi.Resource{vm}
	} else {
		// Another daemon: the data directories are made here, on this Mac, whose paths
		// that daemon's host must share (Docker Desktop shares /Users).
		dirs, err := local.NewCommand(ctx, "data-dirs", &local.CommandArgs{
			Interpreter: pulumi.ToStringArray(shell.Interpreter),
			Create:      pulumi.String(storage.DataDirsScript),
			Environment: pulumi.StringMap{
				"LAMINA_DATA_DIR":     pulumi.String(cfg.Data.Dir),
				"LAMINA_DATA_SUBDIRS": pulumi.String(shell.Lines(config.DataSubdirs)),
			},
		})
		if err != nil {
			return host, "", nil, err
		}
		host, dirsReady = pulumi.String(dc.Host).ToStringOutput(), []pulumi.Resource{dirs}
	}
	// After the VM's commands: a VM found stopped is started before the daemon is asked.
	if d.Provider, err = docker.NewProvider(ctx, "docker", &docker.ProviderArgs{Host: host}, pulumi.DependsOn(dirsReady)); err != nil {
		return host, "", nil, err
	}
	return host, daemon, dirsReady, nil
}

// networks declares the internal mesh network, the edge's network and the mesh's CA, and
// returns each service's private network.
func (d *DockerPlatform) networks(ctx *pulumi.Context, cfg *config.Config, labels map[string]string, withDocker pulumi.ResourceOption) (map[string]netip.Prefix, error) {
	dc := cfg.Docker
	meshNet, private, err := config.DockerNetworks(dc.Subnet)
	if err != nil {
		return nil, err // validated already
	}
	if d.Mesh, err = docker.NewNetwork(ctx, "mesh", &docker.NetworkArgs{
		Name: pulumi.String("lamina-mesh"), Driver: pulumi.String("bridge"), Internal: pulumi.Bool(true),
		IpamConfigs: docker.NetworkIpamConfigArray{&docker.NetworkIpamConfigArgs{Subnet: pulumi.String(meshNet.String())}},
		Labels:      dockermesh.NetworkLabels(labels, ""),
	}, withDocker, dockermesh.ReplaceNamed); err != nil {
		return nil, err
	}
	if d.EdgeNetwork, err = docker.NewNetwork(ctx, "edge-network", &docker.NetworkArgs{
		Name: pulumi.String("lamina-edge"), Driver: pulumi.String("bridge"),
		Labels: dockermesh.NetworkLabels(labels, ""),
	}, withDocker, dockermesh.ReplaceNamed); err != nil {
		return nil, err
	}
	if d.PKI, err = dockermesh.NewPKI(ctx, "mesh-tls", dockermesh.PKIArgs{
		Name: "Lamina mesh CA (" + ctx.Stack() + ")", Days: dc.TLSDays, Generation: dc.TLSGeneration,
	}); err != nil {
		return nil, err
	}

	return private, nil
}

// images declares the Lamina images built on this daemon (or taken prebuilt), and pulls
// the others once and keeps them.
func (d *DockerPlatform) images(ctx *pulumi.Context, cfg *config.Config, daemon string, withDocker pulumi.ResourceOption) error {
	dc := cfg.Docker
	for _, im := range []struct {
		name  string
		image config.Image
	}{{llmserve.Name, cfg.Images.LLMServe}, {core.Name, cfg.Images.Core}, {dashboard.Name, cfg.Images.Dashboard}} {
		built, err := newImage(ctx, cfg, im.name, im.image, nil, daemon, withDocker)
		if err != nil {
			return err
		}
		d.Images[im.name] = built.Ref
		if !im.image.Build {
			if d.Images[im.name], err = pull(ctx, im.name, im.image.Reference, withDocker); err != nil {
				return err
			}
		}
	}
	for name, ref := range map[string]string{
		chromadb.Name: cfg.Chroma.Image, "grafana": dc.Grafana.Image, "loki": dc.Loki.Image,
		"vector": dc.Vector.Image, "proxy": dc.ProxyImage,
	} {
		var err error
		if d.Images[name], err = pull(ctx, name, ref, withDocker); err != nil {
			return err
		}
	}

	return nil
}

// dockerServices are the target's services: the agent stack's, then Grafana, Loki and
// Vector, with the settings their components give both targets.
func dockerServices(ctx *pulumi.Context, cfg *config.Config, images map[string]pulumi.StringOutput, token, password pulumi.StringOutput) []dockermesh.ServiceArgs {
	dc := cfg.Docker
	url := func(service string, port int) string { return "http://" + service + ":" + strconv.Itoa(port) }
	mb := func(q string) int64 { v, _ := config.ParseQuantity(q); return int64(v) }
	cpus := func(q string) float64 { v, _ := config.ParseQuantity(q); return v }
	user := func(s config.Security) string { return fmt.Sprintf("%d:%d", s.RunAsUser, s.RunAsGroup) }
	dataDir := func(sub string) string { return path.Join(cfg.Data.Dir, sub) }
	lokiPort, grafanaPort := logs.LokiPort, grafana.ContainerPort
	llm, ch, co, da := cfg.LLM, cfg.Chroma, cfg.Core, cfg.Dashboard
	coreEnv := merge(core.Settings(co.Mode, co.Agents).Map(), map[string]string{
		"LAMINA_LLM_URL": url(llmserve.Name, llmserve.Port),
		"CHROMA_HOST":    chromadb.Name, "CHROMA_PORT": strconv.Itoa(chromadb.Port),
	})
	var llmDevices, llmCheck []string
	if llm.Accelerator == config.AcceleratorGPU {
		// krunkit's GPU is the VM's /dev/dri (its render node is made 0666 at boot): the
		// server's container gets it without privilege, and the same Vulkan check as a
		// pod's preflight must pass before `pulumi up` goes on.
		llmDevices, llmCheck = []string{gpuDevices}, llmserve.VulkanCheck
	}
	return []dockermesh.ServiceArgs{
		{Name: llmserve.Name, Image: images[llmserve.Name], Port: llmserve.Port, Env: merge(llm.Env),
			Files:  []dockermesh.File{{Path: llmserve.Manifest, Content: pulumi.String(catalogueOf(llm).YAML())}},
			Mounts: []dockermesh.Mount{{Host: dataDir(modelsVolume), Container: llmserve.ModelsDir}},
			User:   user(llm.Security), MemoryBytes: mb(llm.Resources.Limits.Memory), CPUs: cpus(llm.Resources.Limits.CPU),
			Callers: []string{core.Name, "edge"}, Streaming: true, Internet: llm.Downloads,
			HealthPath: llmserve.HealthPath, StartupSeconds: llmserve.StartupSeconds, Devices: llmDevices, Check: llmCheck},
		{Name: chromadb.Name, Image: images[chromadb.Name], Port: chromadb.Port,
			Env: merge(chromadb.Settings(chromaLogConfig).Map(), map[string]string{
				"CHROMA_SERVER_AUTHN_CREDENTIALS_FILE": chromaTokenFile,
			}),
			Files: []dockermesh.File{
				{Path: chromaTokenFile, Content: token},
				{Path: chromaLogConfig, Content: pulumi.String(chromadb.LogConfig)},
			},
			Mounts: []dockermesh.Mount{{Host: dataDir("chromadb"), Container: chromadb.DataDir}},
			User:   user(ch.Security), MemoryBytes: mb(ch.Resources.Limits.Memory), CPUs: cpus(ch.Resources.Limits.CPU),
			Callers: []string{core.Name, "edge"}, HealthPath: chromadb.HealthPath, StartupSeconds: chromadb.StartupSeconds},
		{Name: core.Name, Image: images[core.Name], Port: core.Port,
			Command: append([]string{"python", "-m", "lamina.api.unified_server"}, core.Args(co.Mode, co.Agents)...),
			Env:     merge(coreEnv, co.Env),
			User:    user(co.Security), MemoryBytes: mb(co.Resources.Limits.Memory), CPUs: cpus(co.Resources.Limits.CPU),
			Callers: []string{dashboard.Name, "edge"}, HealthPath: core.HealthPath, StartupSeconds: core.StartupSeconds,
			Calls: []dockermesh.Call{
				{Service: llmserve.Name, Port: llmserve.Port},
				// The token goes with each request from core's proxy: core's container
				// never holds it.
				{Service: chromadb.Name, Port: chromadb.Port, Headers: map[string]pulumi.StringInput{
					chromadb.TokenHeader: pulumi.Sprintf("Bearer %s", token)}},
			}},
		{Name: dashboard.Name, Image: images[dashboard.Name], Port: dashboard.Port,
			Env:  merge(map[string]string{"LAMINA_API_URL": url(core.Name, core.Port)}, da.Env),
			User: user(da.Security), MemoryBytes: mb(da.Resources.Limits.Memory), CPUs: cpus(da.Resources.Limits.CPU),
			Callers: []string{"edge"}, Calls: []dockermesh.Call{{Service: core.Name, Port: core.Port}},
			HealthPath: dashboard.HealthPath, StartupSeconds: dashboard.StartupSeconds},
		{Name: "grafana", Image: images["grafana"], Port: grafanaPort,
			Env: merge(grafana.Env(fmt.Sprintf("https://%s.%s:%d", grafana.Host, cfg.Edge.Domain, dc.EdgePort)).Map(), map[string]string{
				"GF_SECURITY_ADMIN_USER": cfg.Grafana.AdminUser, "GF_SECURITY_ADMIN_PASSWORD__FILE": grafanaSecret,
				"GF_PATHS_PROVISIONING": grafanaProvisioning,
			}),
			Files: []dockermesh.File{
				{Path: grafanaSecret, Content: password},
				{Path: grafanaProvisioning + "/datasources/lamina.yaml", Content: pulumi.String(grafana.DatasourcesFile(grafanaDatasources(url("loki", lokiPort))))},
			},
			Mounts: []dockermesh.Mount{{Host: dataDir("grafana"), Container: "/var/lib/grafana"}},
			User:   grafanaUser, MemoryBytes: mb(dc.Grafana.Memory), CPUs: cpus(dc.Grafana.CPUs),
			Callers: []string{"edge"}, Calls: []dockermesh.Call{{Service: "loki", Port: lokiPort}},
			HealthPath: "/api/health", StartupSeconds: observabilityStartupSeconds},
		{Name: "loki", Image: images["loki"], Port: lokiPort, Command: []string{"-config.file=" + lokiConfig},
			Files:  []dockermesh.File{{Path: lokiConfig, Content: pulumi.String(logs.LokiFile(lokiPort, "/loki", cfg.Logs.Loki.Retention))}},
			Mounts: []dockermesh.Mount{{Host: dataDir("loki"), Container: "/loki"}},
			User:   lokiUser, MemoryBytes: mb(dc.Loki.Memory), CPUs: cpus(dc.Loki.CPUs),
			Callers: []string{"grafana", "vector"}, HealthPath: "/ready", StartupSeconds: observabilityStartupSeconds},
		{Name: "vector", Image: images["vector"], Command: []string{"--config", vectorConfig},
			Files:  []dockermesh.File{{Path: vectorConfig, Content: pulumi.String(vectorFile(url("loki", lokiPort), ctx.Stack()))}},
			Mounts: []dockermesh.Mount{{Host: dockerSocket, Container: dockerSocket, ReadOnly: true}},
			User:   vectorUser, MemoryBytes: mb(dc.Vector.Memory), CPUs: cpus(dc.Vector.CPUs),
			Calls: []dockermesh.Call{{Service: "loki", Port: lokiPort}}},
	}
}

// edge declares the one published port: a hostname per service a browser reaches. It
// returns their URLs by hostname without the domain.
func (d *DockerPlatform) edge(ctx *pulumi.Context, cfg *config.Config, labels map[string]string, withDocker pulumi.ResourceOption) (map[string]string, error) {
	dc := cfg.Docker
	var hostnames []string
	var routes []dockermesh.Route
	urls := map[string]string{}
	for _, r := range []struct{ host, service string }{
		{llmserve.Host, llmserve.Name}, {core.Host, core.Name}, {dashboard.Host, dashboard.Name}, {grafana.Host, "grafana"},
	} {
		name := r.host + "." + cfg.Edge.Domain
		hostnames = append(hostnames, name)
		routes = append(routes, dockermesh.Route{Name: name, Target: dockermesh.MeshName(r.service) + ":" + strconv.Itoa(dockermesh.MeshPort), Service: r.service})
		urls[r.host] = fmt.Sprintf("https://%s:%d", name, dc.EdgePort)
	}
	edgeCert, err := d.PKI.Issue(ctx, "edge", hostnames)
	if err != nil {
		return nil, err
	}
	// The edge starts beside the services, not after them: nginx resolves each route's
	// proxy per request, and `up` still ends only when every proxy, each waited for
	// until its app answers, is healthy.
	if d.Edge, err = dockermesh.NewEdge(ctx, "edge", dockermesh.EdgeArgs{
		Address: dc.EdgeAddress, Port: dc.EdgePort, Routes: routes,
		Network: d.EdgeNetwork, Mesh: d.Mesh, ProxyImage: dc.ProxyImage,
		Certificate: edgeCert, CACert: d.PKI.CACert, Labels: labels,
	}, withDocker); err != nil {
		return nil, err
	}

	return urls, nil
}

// chromaTokenFile is where ChromaDB reads its token: one line, without a newline (a
// newline would become part of the token; chromadb/auth/token_authn/__init__.py at 0.6.3
// keeps a lone line as read, and strips the tokens it receives).
const chromaTokenFile = dockermesh.FilesDir + "/secrets/chroma-token"

// pull declares an image pulled once onto the daemon and kept there, and returns the
// reference containers run it by.
func pull(ctx *pulumi.Context, name, ref string, opts ...pulumi.ResourceOption) (pulumi.StringOutput, error) {
	img, err := docker.NewRemoteImage(ctx, name+"-pull", &docker.RemoteImageArgs{Name: pulumi.String(ref), KeepLocally: pulumi.Bool(true)}, opts...)
	if err != nil {
		return pulumi.StringOutput{}, err
	}
	return img.RepoDigest.ApplyT(func(string) string { return ref }).(pulumi.StringOutput), nil
}

// merge is maps in order, later ones winning.
func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// grafanaDatasources are Grafana's datasources on this target: Loki alone, the default.
func grafanaDatasources(loki string) []grafana.Datasource {
	ds := logs.Datasource(loki, network.Endpoint{})
	ds.IsDefault = true
	return []grafana.Datasource{ds}
}

// stackLabel marks every container and network of this stack.
const stackLabel = "lamina.io/stack"

// vectorFile sends every container's logs of this stack to Loki, through Vector's
// proxy, labelled by stack, service and role (dockermesh's labels).
func vectorFile(loki, stack string) string {
	return kube.YAML(map[string]any{
		"sources": map[string]any{"containers": map[string]any{
			"type":           "docker_logs",
			"docker_host":    "unix://" + dockerSocket,
			"include_labels": []string{stackLabel + "=" + stack},
		}},
		"sinks": map[string]any{"loki": logs.LokiSink(loki, "containers", map[string]string{
			"stack":   stack,
			"service": `{{ label."` + dockermesh.ServiceLabel + `" }}`,
			"role":    `{{ label."` + dockermesh.RoleLabel + `" }}`,
		})},
	})
}
