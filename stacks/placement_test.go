package stacks_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lamina-os/lamina-infra/stacks/config"
)

// Every workload of several replicas the program declares is spread across nodes as a
// rule, and a PodDisruptionBudget of its namespace selects its pods, so that a node's
// drain takes at most one: production's llm-serve and agent server, and, through their
// charts, its two istiods, its two tracing collectors and its gateway, which may scale to
// five (each chart makes its own budget). Development runs one of each: nothing is
// spread.
func TestEveryWorkloadOfSeveralReplicasIsSpreadAndBudgeted(t *testing.T) {
	for _, stack := range bothStacks {
		t.Run(stack, func(t *testing.T) {
			g := deployStack(t, stack)
			budgets := map[string][]map[string]any{}
			for _, pdb := range kind(g, "PodDisruptionBudget") {
				budgets[namespaceOf(pdb)] = append(budgets[namespaceOf(pdb)], field(pdb.Inputs, "spec", "selector", "matchLabels").(map[string]any))
			}
			var spread []string
			for _, k := range []string{"Deployment", "StatefulSet"} {
				for _, r := range kind(g, k) {
					replicas, _ := field(r.Inputs, "spec", "replicas").(float64)
					if replicas < 2 {
						continue
					}
					spread = append(spread, nameOf(r))
					labels := field(r.Inputs, "spec", "selector", "matchLabels").(map[string]any)
					assert.Contains(t, budgets[namespaceOf(r)], labels, "%s %s has a disruption budget", k, nameOf(r))
					constraints := list(field(r.Inputs, "spec", "template", "spec", "topologySpreadConstraints"))
					require.NotEmpty(t, constraints, "%s %s is spread", k, nameOf(r))
					first := constraints[0].(map[string]any)
					assert.Equal(t, "kubernetes.io/hostname", first["topologyKey"])
					assert.Equal(t, "DoNotSchedule", first["whenUnsatisfiable"])
					assert.Equal(t, labels, field(first, "labelSelector", "matchLabels"))
				}
			}
			gateway := list(field(release(t, g, "istio-ingressgateway").Inputs["values"], "topologySpreadConstraints"))
			istiod := list(field(release(t, g, "istiod").Inputs["values"], "topologySpreadConstraints"))
			if stack == "production" {
				// The tracing collector's two replicas: its chart makes the budget when asked.
				collector := release(t, g, "opentelemetry-collector").Inputs["values"]
				collectorSpread := list(field(collector, "topologySpreadConstraints"))
				require.Len(t, collectorSpread, 2, "the collector's two replicas")
				assert.Equal(t, map[string]any{"app.kubernetes.io/name": "opentelemetry-collector", "app.kubernetes.io/instance": "opentelemetry-collector", "component": "standalone-collector"},
					field(collectorSpread[0], "labelSelector", "matchLabels"))
				assert.Equal(t, map[string]any{"enabled": true, "maxUnavailable": float64(1)}, field(collector, "podDisruptionBudget"))
				assert.ElementsMatch(t, []string{"lamina-llm-serve", "lamina-core"}, spread)
				require.Len(t, gateway, 2, "the gateway scales to five")
				assert.Equal(t, "kubernetes.io/hostname", field(gateway[0], "topologyKey"))
				assert.Equal(t, map[string]any{"istio": "ingressgateway"}, field(gateway[0], "labelSelector", "matchLabels"))
				require.Len(t, istiod, 2, "two istiods")
				assert.Equal(t, map[string]any{"istio": "pilot"}, field(istiod[0], "labelSelector", "matchLabels"))
			} else {
				assert.Empty(t, spread)
				assert.Empty(t, gateway)
				assert.Empty(t, istiod)
			}
		})
	}
}

// The nodes llm-serve may run on are chosen in config by label and taint, never by a
// node's name; bad labels and operators are refused by key, and the Docker target,
// which has no nodes, refuses a placement.
func TestLLMServeIsPlacedByLabelAndTaint(t *testing.T) {
	src := stackSource(t, "production", map[string]string{"lamina:llm": `{"placement": {"nodeSelector": {"lamina.io/gpu": "true"},` +
		`"tolerations": [{"key": "lamina.io/gpu", "operator": "Exists", "effect": "NoSchedule"}]}}`})
	g := preview(t, src)
	pod := field(object(t, g, "Deployment", "lamina-llm-serve").Inputs, "spec", "template", "spec")
	assert.Equal(t, map[string]any{"lamina.io/gpu": "true"}, field(pod, "nodeSelector"))
	assert.Equal(t, []any{map[string]any{"key": "lamina.io/gpu", "operator": "Exists", "effect": "NoSchedule"}}, field(pod, "tolerations"))
	assert.Nil(t, field(object(t, g, "Deployment", "lamina-core").Inputs, "spec", "template", "spec", "nodeSelector"), "only llm-serve is placed")

	for _, tc := range []struct {
		stack, llm string
		want       []string
	}{
		{"production", `{"placement": {"nodeSelector": {"-gpu": "yes please"}, "tolerations": [{"key": "gpu", "operator": "In"}, {"value": "x", "operator": "Exists", "effect": "Never"}]}}`, []string{
			`lamina:llm.placement.nodeSelector["-gpu"]: "-gpu" is not a Kubernetes label key; allowed: an optional DNS prefix and '/', then up to 63 letters, digits, '-', '_' and '.'`,
			`lamina:llm.placement.nodeSelector["-gpu"]: "yes please" is not a Kubernetes label value; allowed: up to 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit`,
			`lamina:llm.placement.tolerations[0].operator: "In" is not allowed; allowed: Equal, Exists`,
			`lamina:llm.placement.tolerations[1].effect: "Never" is not allowed; allowed: NoSchedule, PreferNoSchedule, NoExecute, or empty for all three`,
			`lamina:llm.placement.tolerations[1].value: must be empty with operator Exists, which admits any value`,
		}},
		{"compact", `{"placement": {"nodeSelector": {"lamina.io/gpu": "true"}}}`, []string{
			`lamina:llm.placement: the Docker target has no nodes to choose; remove it, or use lamina:cluster.target colima or existing`,
		}},
	} {
		_, err := config.Load(stackSource(t, tc.stack, map[string]string{"lamina:llm": tc.llm}), nil)
		var cerr *config.ConfigError
		require.ErrorAs(t, err, &cerr, tc.stack)
		var got []string
		for _, p := range cerr.Problems {
			got = append(got, p.String())
		}
		assert.Equal(t, tc.want, got, tc.stack)
	}
}

// On an existing cluster of several nodes, which brings its own load balancer, every
// volume is a claim of the cluster's own StorageClass: no volume is pinned to a node or a host directory, the program declares
// no class and no host-directory Job, and `pulumi destroy` leaves each claim (and its
// data) in the cluster, with the namespace that holds it. The model store, which the three llm-serve replicas mount on
// any node, is ReadWriteMany; a store they cannot all mount is refused by key, and so
// are claims on the Colima target, which keeps its data in data.dir.
func TestAnExistingClusterKeepsItsVolumesInItsStorageClasses(t *testing.T) {
	// The example stack file of docs/examples.
	lab := func(overrides map[string]string) *config.Source {
		src, err := config.ReadStackFile("../docs/examples", "lamina-infra", "lab")
		require.NoError(t, err)
		require.NoError(t, src.AssumeSecret(grafanaPassword))
		for k, v := range overrides {
			src.Values[k] = v
		}
		return src
	}
	g := preview(t, lab(nil))
	assert.Empty(t, kind(g, "PersistentVolume"), "no volume is pinned to a node")
	assert.Empty(t, kind(g, "StorageClass"), "the cluster's classes, not the program's")
	assert.Nil(t, g.Find("kubernetes:batch/v1:Job", "cluster-host-dirs"), "no host directory is made")
	claims := map[string][]any{}
	for _, c := range kind(g, "PersistentVolumeClaim") {
		claims[nameOf(c)] = []any{field(c.Inputs, "spec", "storageClassName"), list(field(c.Inputs, "spec", "accessModes"))[0], c.RetainOnDelete}
		assert.Nil(t, field(c.Inputs, "spec", "volumeName"), "%s is bound by the provisioner", nameOf(c))
	}
	assert.Equal(t, map[string][]any{
		"models-data":     {"nfs", "ReadWriteMany", true},
		"chromadb-data":   {"longhorn", "ReadWriteOnce", true},
		"prometheus-data": {"longhorn", "ReadWriteOnce", true},
		"loki-data":       {"longhorn", "ReadWriteOnce", true},
		"grafana-data":    {"longhorn", "ReadWriteOnce", true},
	}, claims)
	assert.Equal(t, "longhorn", g.Outputs["storageClass"])
	// Deleting a namespace deletes its claims: the three that hold claims are left too.
	var kept []string
	for _, ns := range kind(g, "Namespace") {
		if ns.RetainOnDelete {
			kept = append(kept, field(ns.Inputs, "metadata", "name").(string))
		}
	}
	assert.ElementsMatch(t, []string{config.NamespaceLLMServe, config.NamespaceLaminaSystem, config.NamespaceMonitoring}, kept)
	for _, c := range kind(g, "PersistentVolumeClaim") {
		assert.Contains(t, kept, namespaceOf(c), "the namespace of claim %s is left on destroy", nameOf(c))
	}
	// Its own load balancer gives the gateway its address: no MetalLB, no namespace for
	// it; the Service still asks for lamina:edge.address (a MetalLB the cluster runs
	// honours it), and the outputs' URLs use it.
	for _, r := range g.ByType(releaseType) {
		assert.NotEqual(t, "metallb", r.Inputs["name"], "no MetalLB on an existing cluster")
	}
	assert.Empty(t, kind(g, "IPAddressPool"))
	for _, ns := range kind(g, "Namespace") {
		assert.NotEqual(t, config.NamespaceMetalLB, field(ns.Inputs, "metadata", "name"))
	}
	assert.Equal(t, map[string]any{"metallb.io/loadBalancerIPs": "10.20.0.10"}, field(release(t, g, "istio-ingressgateway").Inputs["values"], "service", "annotations"))
	assert.Equal(t, "10.20.0.10", g.Outputs["gatewayAddress"])
	assert.Equal(t, "LoadBalancer", field(release(t, g, "istio-ingressgateway").Inputs["values"], "service", "type"))
	llm := field(object(t, g, "Deployment", "lamina-llm-serve").Inputs, "spec", "template", "spec")
	assert.Equal(t, map[string]any{"lamina.io/llm": "true"}, field(llm, "nodeSelector"), "llm-serve on its nodes")
	assert.Len(t, list(field(llm, "topologySpreadConstraints")), 2, "and spread across them")

	for _, tc := range []struct {
		overrides map[string]string
		want      []string
	}{
		{map[string]string{"lamina:storage": `{"class": "longhorn", "volumes": {"models": {"accessMode": "ReadWriteOnce"}, "vectors": {}}}`}, []string{
			`lamina:storage.volumes.models.accessMode: is ReadWriteOnce, but lamina:llm.replicas is 3: every replica mounts the model store, on any node; set ReadWriteMany (with a class that offers it) or lamina:llm.replicas 1`,
			`lamina:storage.volumes.vectors: "vectors" is not a volume; allowed: models, prometheus, loki, grafana, chromadb`,
		}},
		{map[string]string{"lamina:cluster": `{"target": "colima"}`, "lamina:storage": `{"class": "local-path"}`}, []string{
			"lamina:edge.address: 10.20.0.10 is not among lamina:metallb.addresses, so MetalLB would not hand it out",
			`lamina:storage: claims of a StorageClass are for lamina:cluster.target existing; the colima target keeps its volumes in lamina:data.dir: remove lamina:storage`,
		}},
	} {
		_, err := config.Load(lab(tc.overrides), nil)
		var cerr *config.ConfigError
		require.ErrorAs(t, err, &cerr)
		var got []string
		for _, p := range cerr.Problems {
			got = append(got, p.String())
		}
		assert.Equal(t, tc.want, got)
	}
}
