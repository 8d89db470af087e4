//go:build tools

// The tools this module pins: the control plane the conformance tests start (built by
// build-binaries.sh) and the upstream modules whose CRDs and chart schemas they read.
package conformance

import (
	_ "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	_ "go.etcd.io/etcd/server/v3"
	_ "go.universe.tf/metallb/api/v1beta1"
	_ "istio.io/api/security/v1"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
)
