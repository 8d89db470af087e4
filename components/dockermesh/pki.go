package dockermesh

import (
	"encoding/pem"
	"fmt"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi-command/sdk/go/command/local"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/lamina-os/lamina-infra/internal/shell"
)

// SplitPEM separates what CAScript and CertScript print: a private key, then a
// certificate. Each comes back as its own PEM text.
func SplitPEM(bundle string) (key, cert string, err error) {
	rest := []byte(bundle)
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		text := string(pem.EncodeToMemory(block))
		switch {
		case strings.HasSuffix(block.Type, "PRIVATE KEY") && key == "":
			key = text
		case block.Type == "CERTIFICATE" && cert == "":
			cert = text
		default:
			return "", "", fmt.Errorf("unexpected PEM block %s", block.Type)
		}
	}
	if key == "" || cert == "" {
		return "", "", fmt.Errorf("want a private key and a certificate, got %d and %d", len(key), len(cert))
	}
	return key, cert, nil
}

// PKIArgs configure the mesh's certificate authority.
type PKIArgs struct {
	// Name is the CA's common name.
	Name string
	// Days is how long the CA and each certificate are valid.
	Days int
	// Generation names the CA and its certificates: a new one replaces them all.
	Generation int
}

// PKI is the mesh's CA, generated once on the Mac and kept, secret, in the state.
type PKI struct {
	pulumi.ResourceState

	// CA is the command that made the CA; CACert its certificate (not secret), which
	// every proxy trusts.
	CA     *local.Command
	CACert pulumi.StringOutput

	name   string
	args   PKIArgs
	bundle pulumi.StringOutput
}

// Certificate is a service's key (secret) and certificate, signed by the mesh's CA.
type Certificate struct {
	Command   *local.Command
	Key, Cert pulumi.StringOutput
}

// onceInputs are the inputs of a command that makes keys: ignored after creation, so
// that only a new generation (a new resource) or a replace the user asks for
// (`pulumi up --target-replace <urn>`) makes new ones. pulumi-command would otherwise
// run the create again whenever an input changes and no update command is given.
var onceInputs = []string{"interpreter", "create", "environment", "logging", "addPreviousOutputInEnv"}

// NewPKI declares the CA.
func NewPKI(ctx *pulumi.Context, name string, args PKIArgs, opts ...pulumi.ResourceOption) (*PKI, error) {
	p := &PKI{name: name, args: args}
	if err := ctx.RegisterComponentResource("lamina:dockermesh:PKI", name, p, opts...); err != nil {
		return nil, err
	}
	var err error
	if p.CA, err = keyCommand(ctx, fmt.Sprintf("%s-ca-g%d", name, args.Generation), CAScript, pulumi.StringMap{
		"LAMINA_CA_NAME":  pulumi.String(args.Name),
		"LAMINA_TLS_DAYS": pulumi.String(strconv.Itoa(args.Days)),
	}, nil, pulumi.Parent(p)); err != nil {
		return nil, err
	}
	p.bundle = pulumi.ToSecret(p.CA.Stdout).(pulumi.StringOutput)
	_, p.CACert = split(p.bundle)
	p.CACert = pulumi.Unsecret(p.CACert).(pulumi.StringOutput)
	return p, ctx.RegisterResourceOutputs(p, pulumi.Map{"caCertificate": p.CACert})
}

// Issue declares the certificate of identity name for the DNS names its proxy answers
// to. A change of the names issues it anew; so does a new CA.
func (p *PKI) Issue(ctx *pulumi.Context, name string, dns []string) (*Certificate, error) {
	cmd, err := keyCommand(ctx, fmt.Sprintf("%s-%s-g%d", p.name, name, p.args.Generation), CertScript, pulumi.StringMap{
		"LAMINA_CA":        p.bundle,
		"LAMINA_CERT_NAME": pulumi.String(name),
		"LAMINA_CERT_DNS":  pulumi.String(shell.Lines(dns)),
		"LAMINA_TLS_DAYS":  pulumi.String(strconv.Itoa(p.args.Days)),
	}, pulumi.Array{pulumi.ToStringArray(dns), p.CA.ID()}, pulumi.Parent(p))
	if err != nil {
		return nil, err
	}
	key, cert := split(pulumi.ToSecret(cmd.Stdout).(pulumi.StringOutput))
	return &Certificate{Command: cmd, Key: key, Cert: pulumi.Unsecret(cert).(pulumi.StringOutput)}, nil
}

// keyCommand runs script once, its stdout (keys) secret and never logged.
func keyCommand(ctx *pulumi.Context, name, script string, env pulumi.StringMap, triggers pulumi.Array, opts ...pulumi.ResourceOption) (*local.Command, error) {
	args := &local.CommandArgs{
		Interpreter:            pulumi.ToStringArray(shell.Interpreter),
		Create:                 pulumi.String(script),
		Environment:            env,
		Logging:                local.LoggingStderr,
		AddPreviousOutputInEnv: pulumi.Bool(false),
	}
	if triggers != nil {
		args.Triggers = triggers
	}
	return local.NewCommand(ctx, name, args, append(opts,
		pulumi.AdditionalSecretOutputs([]string{"stdout"}),
		pulumi.IgnoreChanges(onceInputs))...)
}

// split is SplitPEM on an output: the key stays secret.
func split(bundle pulumi.StringOutput) (key, cert pulumi.StringOutput) {
	parts := bundle.ApplyT(func(b string) ([]string, error) {
		if !strings.Contains(b, "-----BEGIN ") {
			// An offline render knows no command's output (a mask, "[secret]"): it
			// stands for both parts. The scripts print PEM or fail.
			return []string{b, b}, nil
		}
		k, c, err := SplitPEM(b)
		return []string{k, c}, err
	}).(pulumi.StringArrayOutput)
	return parts.Index(pulumi.Int(0)), parts.Index(pulumi.Int(1))
}
