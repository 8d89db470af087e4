// Package core provides Core: the unified agent server (lamina-core), running one agent
// or several, wired to lamina-llm-serve and ChromaDB by their Services' names.
package core

import (
	"strconv"
	"strings"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/lamina-os/lamina-infra/components/chromadb"
	"github.com/lamina-os/lamina-infra/components/network"
	"github.com/lamina-os/lamina-infra/components/workload"
	"github.com/lamina-os/lamina-infra/internal/kube"
	"github.com/lamina-os/lamina-infra/internal/spec"
)

// Names and ports of the agent server.
const (
	// Name is the Service, Deployment and service account (the server's mesh identity,
	// the only one ChromaDB admits).
	Name = "lamina-core"
	// Port is where the server listens and the Service's port.
	Port       = 8080
	HealthPath = "/health"
	// StartupSeconds is how long it may take to answer HealthPath after a start.
	StartupSeconds = 120
	// Modes, as the configuration names them.
	SingleAgent = spec.ModeSingleAgent
	MultiAgent  = spec.ModeMultiAgent
)

// Host is the hostname's first label the API is served under.
const Host = "core"

// Identity is the agent server's pods in namespace, with their mesh identity: what
// ChromaDB admits.
func Identity(namespace string) network.Peer { return network.App(namespace, Name).As(Name) }

// CoreArgs configure the agent server.
type CoreArgs struct {
	// Namespace is the server's namespace, NamespaceName the same as a string.
	Namespace     pulumi.StringInput
	NamespaceName string
	Image         pulumi.StringInput
	PullPolicy    string
	// Mode is single-agent (Agents[0] alone) or multi-agent.
	Mode     string
	Agents   []string
	Replicas int
	// LLMURL is lamina-llm-serve's in-cluster URL.
	LLMURL pulumi.StringInput
	// ChromaHost and ChromaPort are ChromaDB's Service, in this namespace: its token
	// comes from ChromaDB's Secret.
	ChromaHost pulumi.StringInput
	ChromaPort int
	// LLM and Chroma are the same two servers' pods and ports: the server opens a flow
	// to each.
	LLM, Chroma network.Endpoint
	Resources   kube.Resources
	// RunAsUser and RunAsGroup are the server's user and group.
	RunAsUser, RunAsGroup int
	// Env is extra environment.
	Env map[string]string
	// DependsOn are what the server needs first (ChromaDB's Secret, istio.Istio.Sidecars).
	DependsOn []pulumi.Resource
}

// Core is the agent server.
type Core struct {
	pulumi.ResourceState

	Workload *workload.Workload

	// The calls to lamina-llm-serve and ChromaDB, and the API's hostname.
	network.Declaration
}

// Args is the server's command line: every agent in multi-agent mode, one in
// single-agent mode.
func Args(mode string, agents []string) []string {
	args := []string{"--host", "0.0.0.0", "--port", strconv.Itoa(Port)}
	if mode == SingleAgent && len(agents) > 0 {
		args = append(args, "--agent", agents[0])
	}
	return args
}

// Settings are the agent server's environment on both targets: its mode and agents,
// the first of them its default. Where llm-serve and ChromaDB are, and ChromaDB's
// token, each target hands over its own way.
func Settings(mode string, agents []string) spec.Env {
	first := ""
	if len(agents) > 0 {
		first = agents[0]
	}
	return spec.Env{
		{Name: "SERVER_MODE", Value: mode},
		{Name: "AGENT_NAME", Value: first},
		{Name: "LAMINA_AGENTS", Value: strings.Join(agents, ",")},
	}
}

// NewCore declares the agent server.
func NewCore(ctx *pulumi.Context, name string, args CoreArgs, opts ...pulumi.ResourceOption) (*Core, error) {
	c := &Core{}
	if err := ctx.RegisterComponentResource("lamina:core:Core", name, c, opts...); err != nil {
		return nil, err
	}
	env := append(workload.EnvVars(Settings(args.Mode, args.Agents)),
		&corev1.EnvVarArgs{Name: pulumi.String("LAMINA_LLM_URL"), Value: args.LLMURL},
		&corev1.EnvVarArgs{Name: pulumi.String("CHROMA_HOST"), Value: args.ChromaHost},
		workload.EnvVar("CHROMA_PORT", strconv.Itoa(args.ChromaPort)),
		chromadb.TokenEnv("CHROMADB_TOKEN"),
	)
	var err error
	if c.Workload, err = workload.NewWorkload(ctx, name, workload.WorkloadArgs{
		Name: Name, Namespace: args.Namespace, Kind: workload.Deployment, Replicas: args.Replicas,
		Image: args.Image, PullPolicy: args.PullPolicy,
		Command: []string{"python", "-m", "lamina.api.unified_server"}, Args: Args(args.Mode, args.Agents),
		Env: env, ExtraEnv: args.Env, Port: Port, HealthPath: HealthPath, StartupSeconds: StartupSeconds,
		Resources: args.Resources, RunAsUser: args.RunAsUser, RunAsGroup: args.RunAsGroup,
		DependsOn: args.DependsOn,
	}, pulumi.Parent(c)); err != nil {
		return nil, err
	}
	self := Identity(args.NamespaceName)
	c.Open(args.LLM.From("core-to-llm-serve", self), args.Chroma.From("core-to-chromadb", self))
	c.Serve(network.Route{Host: Host, Namespace: args.NamespaceName, Service: Name, Port: Port})
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"image": c.Workload.Image}); err != nil {
		return nil, err
	}
	return c, nil
}
