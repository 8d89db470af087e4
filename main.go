// Command lamina-infra is the Pulumi program of the Lamina OS platform. It loads the
// stack's typed configuration and builds the platform; see stacks.Program.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/lamina-os/lamina-infra/stacks"
	"github.com/lamina-os/lamina-infra/stacks/config"
)

func main() {
	var src config.Source
	pulumi.Run(stacks.Program(&src, stacks.ThisMac()), stacks.Capture(&src))
}
