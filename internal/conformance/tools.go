//go:build tools

// The tools this module pins: the control plane the conformance tests start, and the
// rest of a cluster's control plane and kubectl, which the engine tests (internal/e2e)
// start from here too; build-binaries.sh builds them.
package conformance

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
