// Command pulumi-resource-kubernetes is the Kubernetes provider the engine tests run:
// the provider module at the commit this module pins, served as its own main does, with
// the schema and mapping that build-tools.sh copies beside this file from the module
// (what the upstream generate.go writes, with the version set).
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
)

// version is what the plugin reports; build-tools.sh sets it to the version it installs
// the plugin under, the one the program's SDK asks for.
var version = "0.0.0"

//go:embed schema-embed.json
var schema []byte

//go:embed terraform-mapping-embed.json
var mapping []byte

func main() {
	provider.Serve("kubernetes", version, schema, mapping)
}
