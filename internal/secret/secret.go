// Package secret makes random secrets the program needs but nobody has to choose (a
// development admin password, a signing key): generated once on the Mac, then kept,
// secret, in the Pulumi state.
package secret

import (
	"strconv"

	"github.com/pulumi/pulumi-command/sdk/go/command/local"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/lamina-os/lamina-infra/internal/shell"
)

// Generate declares a command that prints bytes random bytes as hex (openssl rand, which
// every Mac has) when it is created and never again: it has no update step, so every
// later `pulumi up` keeps the value. Its output is secret in the state and in the
// program, and it is not printed to the console.
func Generate(ctx *pulumi.Context, name string, bytes int, opts ...pulumi.ResourceOption) (pulumi.StringOutput, error) {
	cmd, err := local.NewCommand(ctx, name, &local.CommandArgs{
		Interpreter:            pulumi.ToStringArray(shell.Interpreter),
		Create:                 pulumi.String("openssl rand -hex " + strconv.Itoa(bytes)),
		Logging:                local.LoggingStderr,
		AddPreviousOutputInEnv: pulumi.Bool(false),
	}, append(opts, pulumi.AdditionalSecretOutputs([]string{"stdout"}))...)
	if err != nil {
		return pulumi.StringOutput{}, err
	}
	return pulumi.ToSecret(cmd.Stdout).(pulumi.StringOutput), nil
}
