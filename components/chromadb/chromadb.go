// Package chromadb provides ChromaDB: the agents' vector store as a StatefulSet with its
// data on a host volume, and its auth token, a Pulumi secret, in a Kubernetes Secret the
// agent server reads too.
package chromadb

import (
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/lamina-os/lamina-infra/components/network"
	"github.com/lamina-os/lamina-infra/components/workload"
	"github.com/lamina-os/lamina-infra/internal/kube"
	"github.com/lamina-os/lamina-infra/internal/secret"
	"github.com/lamina-os/lamina-infra/internal/spec"
)

// Names, paths and ports of ChromaDB.
const (
	// Name is the Service (the host name the agent server's client defaults to), the
	// StatefulSet and the service account.
	Name = "chromadb"
	// Port is ChromaDB's HTTP port.
	Port = 8000
	// HealthPath answers without a token.
	HealthPath = "/api/v1/heartbeat"
	// StartupSeconds is how long it may take to answer HealthPath after a start.
	StartupSeconds = 120
	// DataDir is where ChromaDB persists, on the host volume.
	DataDir = "/data"
	// AuthSecret holds the token under TokenKey, in ChromaDB's namespace.
	AuthSecret = "chromadb-auth"
	TokenKey   = "token"
	// TokenHeader is how clients send the token: Authorization: Bearer <token>.
	TokenHeader = "Authorization"
	// LogConfigMap holds LogConfig under LogConfigKey, mounted whole at LogConfigDir (not
	// by subPath, which would never see a change), so ChromaDB reads it at LogConfigPath.
	LogConfigMap  = "chromadb-log-config"
	LogConfigKey  = "log_config.yaml"
	LogConfigDir  = "/etc/chroma"
	LogConfigPath = LogConfigDir + "/" + LogConfigKey
)

// LogConfig is ChromaDB's logging configuration: the image's own (chromadb/log_config.yml
// at 0.6.3, CHROMA_LOG_CONFIG's default) without its file handler, so the same
// formatters, handlers and levels to standard output and standard error only. The image's
// adds a RotatingFileHandler writing chroma.log into the working directory, /chroma,
// which root owns with mode 0755 (Dockerfile L41-67 at 0.6.3): as any other user, as
// this program runs it, uvicorn fails at start configuring it (chroma-core/chroma#4044).
const LogConfig = `version: 1
disable_existing_loggers: False
formatters:
  default:
    "()": uvicorn.logging.DefaultFormatter
    format: '%(levelprefix)s [%(asctime)s] %(message)s'
    use_colors: null
    datefmt: '%d-%m-%Y %H:%M:%S'
  access:
    "()": uvicorn.logging.AccessFormatter
    format: '%(levelprefix)s [%(asctime)s] %(client_addr)s - "%(request_line)s" %(status_code)s'
    datefmt: '%d-%m-%Y %H:%M:%S'
handlers:
  default:
    formatter: default
    class: logging.StreamHandler
    stream: ext://sys.stderr
  access:
    formatter: access
    class: logging.StreamHandler
    stream: ext://sys.stdout
  console:
    class: logging.StreamHandler
    stream: ext://sys.stdout
    formatter: default
loggers:
  root:
    level: WARN
    handlers: [console]
  chromadb:
    level: DEBUG
  uvicorn:
    level: INFO
`

// ChromaDBArgs configure ChromaDB.
type ChromaDBArgs struct {
	// Namespace is ChromaDB's namespace, NamespaceName the same as a string.
	Namespace     pulumi.StringInput
	NamespaceName string
	// Clients are the only mesh identities ChromaDB admits (the agent server's).
	Clients []network.Peer
	// Image is ChromaDB's image, pulled once.
	Image     string
	Resources kube.Resources
	// RunAsUser and RunAsGroup are ChromaDB's user and group.
	RunAsUser, RunAsGroup int
	// Token is the auth token, a secret; nil generates one once.
	Token pulumi.StringInput
	// Claim is the data volume's claim; ClaimReady is the claim resource.
	Claim      string
	ClaimReady pulumi.Resource
	// IstioReady is what a mesh workload waits for (istio.Istio.Sidecars).
	IstioReady []pulumi.Resource
}

// ChromaDB is the vector store.
type ChromaDB struct {
	pulumi.ResourceState

	Workload *workload.Workload
	// Secret holds the token.
	Secret *corev1.Secret
	// Endpoint is ChromaDB's pods and port, admitting only its clients: a flow to it
	// from anyone else is refused.
	Endpoint network.Endpoint

	// The offer of Endpoint to its clients alone.
	network.Declaration
}

// NewChromaDB declares the token's Secret and ChromaDB.
func NewChromaDB(ctx *pulumi.Context, name string, args ChromaDBArgs, opts ...pulumi.ResourceOption) (*ChromaDB, error) {
	c := &ChromaDB{Endpoint: network.Endpoint{Peer: network.App(args.NamespaceName, Name), Ports: network.TCP(Port), Admits: args.Clients}}
	if err := ctx.RegisterComponentResource("lamina:chromadb:ChromaDB", name, c, opts...); err != nil {
		return nil, err
	}
	token := args.Token
	if token == nil {
		generated, err := secret.Generate(ctx, name+"-token", 32, pulumi.Parent(c))
		if err != nil {
			return nil, err
		}
		token = generated
	}
	var err error
	if c.Secret, err = corev1.NewSecret(ctx, name+"-auth", &corev1.SecretArgs{
		Metadata:   kube.Meta(AuthSecret, args.Namespace, map[string]string{workload.AppLabel: Name}),
		Type:       pulumi.String("Opaque"),
		StringData: pulumi.StringMap{TokenKey: token},
	}, pulumi.Parent(c)); err != nil {
		return nil, err
	}
	logs, err := corev1.NewConfigMap(ctx, name+"-log-config", &corev1.ConfigMapArgs{
		Metadata: kube.Meta(LogConfigMap, args.Namespace, map[string]string{workload.AppLabel: Name}),
		Data:     pulumi.StringMap{LogConfigKey: pulumi.String(LogConfig)},
	}, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	env := append(workload.EnvVars(Settings(LogConfigPath)), TokenEnv("CHROMA_SERVER_AUTHN_CREDENTIALS"))
	if c.Workload, err = workload.NewWorkload(ctx, name, workload.WorkloadArgs{
		Name: Name, Namespace: args.Namespace, Kind: workload.StatefulSet, Replicas: 1,
		Image: pulumi.String(args.Image), PullPolicy: workload.PullIfNotPresent, Env: env,
		Port: Port, HealthPath: HealthPath, StartupSeconds: StartupSeconds,
		Resources: args.Resources, RunAsUser: args.RunAsUser, RunAsGroup: args.RunAsGroup,
		Volumes: []workload.Volume{{Name: "data", MountPath: DataDir, Source: corev1.VolumeArgs{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSourceArgs{ClaimName: pulumi.String(args.Claim)}}},
			{Name: "log-config", MountPath: LogConfigDir, ReadOnly: true, Source: corev1.VolumeArgs{
				ConfigMap: &corev1.ConfigMapVolumeSourceArgs{Name: logs.Metadata.Name().Elem()}}}},
		DependsOn: append([]pulumi.Resource{c.Secret, logs, args.ClaimReady}, args.IstioReady...),
	}, pulumi.Parent(c)); err != nil {
		return nil, err
	}
	c.Offer(c.Endpoint)
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"service": c.Workload.Service.Metadata.Name().Elem()}); err != nil {
		return nil, err
	}
	return c, nil
}

// Settings are ChromaDB's environment on both targets, its logging configuration read
// from logConfig: persistent in DataDir, no telemetry, and tokens required in
// TokenHeader. The token itself each target hands over its own way (TokenEnv here, a
// file on the Docker target).
func Settings(logConfig string) spec.Env {
	return spec.Env{
		{Name: "CHROMA_LOG_CONFIG", Value: logConfig},
		{Name: "IS_PERSISTENT", Value: "TRUE"},
		{Name: "PERSIST_DIRECTORY", Value: DataDir},
		{Name: "ANONYMIZED_TELEMETRY", Value: "FALSE"},
		{Name: "CHROMA_SERVER_AUTHN_PROVIDER", Value: "chromadb.auth.token_authn.TokenAuthenticationServerProvider"},
		{Name: "CHROMA_AUTH_TOKEN_TRANSPORT_HEADER", Value: TokenHeader},
	}
}

// TokenEnv is the environment variable name holding the token, read from AuthSecret:
// the token never appears in a pod spec.
func TokenEnv(name string) *corev1.EnvVarArgs {
	return &corev1.EnvVarArgs{Name: pulumi.String(name), ValueFrom: &corev1.EnvVarSourceArgs{
		SecretKeyRef: &corev1.SecretKeySelectorArgs{Name: pulumi.String(AuthSecret), Key: pulumi.String(TokenKey)},
	}}
}
