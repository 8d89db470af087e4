//go:build tools

// The Pulumi CLI the engine tests run, at the version this module pins (build-tools.sh
// builds ./cmd/pulumi of it).
package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
