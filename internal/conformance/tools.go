//go:build tools

// The tools this module pins: the control plane the conformance tests start, and the
// rest of a cluster's control plane, kubectl and kwok (the simulated kubelet), which the
// engine tests (internal/e2e) start from here too. internal/e2e/build-tools.sh builds
// them all in one build ("cluster"), so every library they share compiles once.
package conformance

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "sigs.k8s.io/kwok/cmd/kwok"
)
