//go:build tools

// kwok, the kubelet the engine tests simulate their node with, at the version this
// module pins (build-tools.sh builds ./cmd/kwok of it and copies its stages).
package tools

import _ "sigs.k8s.io/kwok/cmd/kwok"
