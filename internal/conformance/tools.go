//go:build tools

// The tools this module pins: the control plane the conformance tests start (built by
// build-binaries.sh).
package conformance

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
)
