//go:build tools

// The local-path provisioner (rancher/local-path-provisioner) the engine tests run out of
// cluster against the simulated one, at the version this module pins (build-tools.sh
// builds the module's root package, its main, as local-path-provisioner).
package tools

import _ "github.com/rancher/local-path-provisioner"
