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

// inputs are every input Generate sets.
var inputs = []string{"interpreter", "create", "logging", "addPreviousOutputInEnv"}

// Generate declares a command that prints bytes random bytes as hex (openssl rand, which
// every Mac has) when it is created and never again. pulumi-command runs the create
// command again whenever an input changes and no update command is given, which would
// rotate the secret silently (Grafana would keep the old password in its database):
// every input is ignored after creation, so only a replace the user asks for (`pulumi
// up --target-replace <urn>`) makes a new one. Its output is secret in the state and in
// the program, and it is not printed to the console.
func Generate(ctx *pulumi.Context, name string, bytes int, opts ...pulumi.ResourceOption) (pulumi.StringOutput, error) {
	cmd, err := local.NewCommand(ctx, name, &local.CommandArgs{
		Interpreter:            pulumi.ToStringArray(shell.Interpreter),
		Create:                 pulumi.String("openssl rand -hex " + strconv.Itoa(bytes)),
		Logging:                local.LoggingStderr,
		AddPreviousOutputInEnv: pulumi.Bool(false),
	}, append(opts,
		pulumi.AdditionalSecretOutputs([]string{"stdout"}),
		pulumi.IgnoreChanges(inputs))...)
	if err != nil {
		return pulumi.StringOutput{}, err
	}
	return pulumi.ToSecret(cmd.Stdout).(pulumi.StringOutput), nil
}
