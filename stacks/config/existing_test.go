package config_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lamina-os/lamina-infra/stacks/config"
)

// lab is the example stack of docs/examples: production's sizing on an existing cluster
// of three nodes, with overrides set over it.
func lab(t testing.TB, overrides map[string]string) *config.Source {
	t.Helper()
	src, err := config.ReadStackFile(projectDir+"/docs/examples", "lamina-infra", "lab")
	require.NoError(t, err)
	require.NoError(t, src.AssumeSecret(grafanaPassword))
	for k, v := range overrides {
		src.Values[k] = v
	}
	return src
}

// An existing cluster brings its own load balancer: the program declares no MetalLB
// and no namespace for it, the edge's address is whatever that load balancer gives the
// gateway (no pool to be inside of), and a stack that still configures MetalLB is told
// by key. The Colima target keeps all three.
func TestOnlyTheColimaTargetRunsMetalLB(t *testing.T) {
	cfg, err := config.Load(lab(t, map[string]string{"lamina:edge": `{"address": "10.20.0.7"}`}), nil)
	require.NoError(t, err)
	assert.False(t, cfg.RunsMetalLB())
	assert.Equal(t, []string{config.NamespaceIstio, config.NamespaceCertManager}, cfg.Systems())
	assert.NotContains(t, cfg.DeclaredNamespaces(), config.NamespaceMetalLB)
	assert.NotContains(t, cfg.Namespaces.PodSecurity, config.NamespaceMetalLB)

	dev, err := config.Load(stackSource(t, "development", nil), nil)
	require.NoError(t, err)
	assert.True(t, dev.RunsMetalLB())
	assert.Contains(t, dev.DeclaredNamespaces(), config.NamespaceMetalLB)

	_, err = config.Load(lab(t, map[string]string{
		"lamina:metallb":    `{"addresses": ["10.20.0.7/32"]}`,
		"lamina:namespaces": `{"outOfMesh": {"metallb-system": "its speaker"}, "podSecurity": {"metallb-system": "privileged"}}`,
	}), nil)
	assert.Equal(t, []string{
		"lamina:metallb: is only for lamina:cluster.target colima, where the program runs MetalLB in its own VM; with existing the cluster's own load balancer gives the gateway its address (lamina:edge.address); remove it",
		"lamina:namespaces.outOfMesh.metallb-system: is MetalLB's, which runs only with lamina:cluster.target colima; remove it",
		"lamina:namespaces.podSecurity.metallb-system: is not a namespace of the platform; allowed: istio-gateway, istio-system, cert-manager, monitoring, observability, lamina-system, lamina-llm-serve, lamina-dashboard, lamina-build",
	}, problems(t, err))
}

// On an existing cluster the program does not guess at capacity: it says so, with what
// the stack requests in all and its largest pod, the numbers an operator compares with
// the nodes' Allocatable. Production's sizing on the lab cluster: three llm-serve
// replicas of 64 GiB each, sidecars included.
func TestAnExistingClusterIsToldItsCapacityIsNotChecked(t *testing.T) {
	cfg, err := config.Load(lab(t, nil), nil)
	require.NoError(t, err)
	assert.Equal(t, "lamina:cluster.target is existing, so the program does not check the cluster's capacity: it cannot read the nodes' allocatable resources before up, and will not guess. "+
		"The stack's pods request 13.3 cores and 214.1Gi in all, sidecars and one rollout's extra pod included (Vector's once; it runs on every node); the largest, lamina-llm-serve (lamina:llm.resources), needs 2.05 cores and 64.1Gi on one node, 3 times. "+
		"Compare with the nodes' Allocatable (kubectl describe nodes); a pod that fits nowhere stays Pending and the up waits for it until its timeout.",
		cfg.CapacityUnchecked())
}

// problems are the lines of a configuration error.
func problems(t testing.TB, err error) []string {
	t.Helper()
	var cerr *config.ConfigError
	require.ErrorAs(t, err, &cerr)
	var got []string
	for _, p := range cerr.Problems {
		got = append(got, p.String())
	}
	return got
}
