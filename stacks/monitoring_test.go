package stacks_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lamina-os/lamina-infra/internal/recorder"
)

// Each stack's Prometheus sizing reaches the chart and its volume: the original's
// development (a week at 30 s on 50 GiB) and production (a month at 15 s on 200 GiB).
func TestPrometheusSizingReachesTheChart(t *testing.T) {
	for stack, want := range map[string]struct {
		retention, interval, size string
		limits                    map[string]any
	}{
		"development": {"7d", "30s", "50Gi", map[string]any{"cpu": "2", "memory": "4Gi"}},
		"production":  {"30d", "15s", "200Gi", map[string]any{"cpu": "4", "memory": "16Gi"}},
	} {
		t.Run(stack, func(t *testing.T) {
			g := preview(t, stackSource(t, stack, nil))
			release := g.Find(releaseType, "prometheus")
			require.NotNil(t, release)
			values := release.Inputs["values"]
			assert.Equal(t, want.retention, field(values, "server", "retention"))
			assert.Equal(t, want.interval, field(values, "server", "global", "scrape_interval"))
			assert.Equal(t, want.limits, field(values, "server", "resources", "limits"))
			assert.Equal(t, "monitoring", release.Inputs["namespace"])

			claim := g.Find("kubernetes:core/v1:PersistentVolumeClaim", "prometheus-data-claim")
			volume := g.Find("kubernetes:core/v1:PersistentVolume", "prometheus-data-volume")
			require.NotNil(t, claim)
			require.NotNil(t, volume)
			assert.Equal(t, field(claim.Inputs, "metadata", "name"), field(values, "server", "persistentVolume", "existingClaim"),
				"the chart uses the claim the program declares")
			assert.Equal(t, want.size, field(volume.Inputs, "spec", "capacity", "storage"))
			assert.Equal(t, want.size, field(claim.Inputs, "spec", "resources", "requests", "storage"))
			assert.True(t, g.DependsOn(release, claim.URN), "the release waits for its claim")
			assert.True(t, g.DependsOn(release, g.Find(releaseType, "istiod").URN),
				"the release waits for istiod, which injects its sidecars")

			// kube-state-metrics is scraped through Istio's merged metrics, not through its
			// Service, which STRICT mTLS would refuse to a plaintext scrape.
			assert.Equal(t, false, field(values, "kube-state-metrics", "prometheusScrape"))
			assert.Equal(t, "true", field(values, "kube-state-metrics", "podAnnotations", "prometheus.io/scrape"))
			for _, off := range []string{"alertmanager", "prometheus-pushgateway", "prometheus-node-exporter"} {
				assert.Equal(t, false, field(values, off, "enabled"), off)
			}
		})
	}
}

// Every volume holds its data in its own directory of the host data directory, on this
// stack's node (whatever the cluster calls it), keeps it when released, and is protected
// and retained by Pulumi, as is its claim: `pulumi destroy` deletes neither.
func TestHostVolumesAreRetainedProtectedAndOnThisStacksNode(t *testing.T) {
	for _, stack := range []string{"development", "production"} {
		t.Run(stack, func(t *testing.T) {
			mac := newFakeMac(t, "colima", "kubectl")
			node := "colima-lamina-" + stack + "-node"
			mac.env["FAKE_KUBECTL_NODE"] = node
			overrides, dataDir := withDataDir(t, stack, nil)
			g := deploy(t, stackSource(t, stack, overrides), mac)

			volumes := g.ByType("kubernetes:core/v1:PersistentVolume")
			require.NotEmpty(t, volumes)
			for _, pv := range volumes {
				spec := pv.Inputs["spec"]
				assert.True(t, pv.Protect && pv.RetainOnDelete, "%s: protect and retainOnDelete", pv.Name)
				assert.Equal(t, "Retain", field(spec, "persistentVolumeReclaimPolicy"), pv.Name)
				assert.Equal(t, "lamina-host", field(spec, "storageClassName"), pv.Name)
				path, _ := field(spec, "local", "path").(string)
				assert.True(t, strings.HasPrefix(path, dataDir+string(filepath.Separator)), "%s: %s is outside %s", pv.Name, path, dataDir)
				assert.DirExists(t, path, "the VM's data-dirs step creates it before the VM starts")
				terms := field(spec, "nodeAffinity", "required", "nodeSelectorTerms").([]any)
				require.Len(t, terms, 1)
				assert.Equal(t, []any{map[string]any{"key": "kubernetes.io/hostname", "operator": "In", "values": []any{node}}},
					field(terms[0], "matchExpressions"), pv.Name)

				var claim *recorder.Resource
				for _, c := range g.ByType("kubernetes:core/v1:PersistentVolumeClaim") {
					if field(c.Inputs, "spec", "volumeName") == field(pv.Inputs, "metadata", "name") {
						claim = c
					}
				}
				require.NotNil(t, claim, "%s has no claim", pv.Name)
				assert.True(t, claim.Protect && claim.RetainOnDelete, "%s: protect and retainOnDelete", claim.Name)
				assert.Equal(t, field(claim.Inputs, "metadata", "name"), field(spec, "claimRef", "name"), "pre-bound to its claim")
				assert.Equal(t, field(claim.Inputs, "metadata", "namespace"), field(spec, "claimRef", "namespace"))
			}
		})
	}
}
