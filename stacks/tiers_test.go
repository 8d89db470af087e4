package stacks_test

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lamina-os/lamina-infra/internal/recorder"
	"github.com/lamina-os/lamina-infra/stacks/config"
)

// The agent stack's namespaces in production and in staging.
var (
	productionAgents = []string{"lamina-system", "lamina-llm-serve", "lamina-dashboard"}
	stagingAgents    = []string{"lamina-staging", "lamina-staging-llm-serve", "lamina-staging-dashboard"}
	// The platform's namespaces staging's flows reach into.
	platformJoined = []string{"istio-gateway", "monitoring", "observability"}
)

// objectKey names a Kubernetes object as the cluster does.
func objectKey(r *recorder.Resource) string {
	return fmt.Sprintf("%s %s/%s", r.Inputs["kind"], namespaceOf(r), nameOf(r))
}

// Staging declares the agent stack alone, in namespaces of its own, on production's
// cluster: no VM, no chart, no mesh-wide policy, nothing production declares, and every
// object it puts in production's namespaces carries its name.
func TestStagingJoinsProductionsPlatformWithTheAgentStackAlone(t *testing.T) {
	production := deployStack(t, "production")
	staging := deployStack(t, "staging")

	assert.Equal(t, "colima-lamina-production", staging.Outputs["kubeContext"], "staging uses production's cluster")
	assert.Equal(t, "production", staging.Outputs["platform"])
	var types []string
	for _, r := range staging.Resources {
		if r.Custom && !recorder.IsKubernetesObject(r) {
			types = append(types, r.Type+" "+r.Name)
		}
	}
	slices.Sort(types)
	// The cluster's providers and checks, its data directories made on this Mac, the
	// images built on production's daemon, ChromaDB's token and the reference to
	// production: no VM and no Helm release.
	assert.Equal(t, []string{
		"command:local:Command chromadb-token", "command:local:Command cluster-host-dirs",
		"command:local:Command cluster-kubeconfig", "command:local:Command cluster-ready",
		"docker:index/image:Image lamina-core-image-build", "docker:index/image:Image lamina-dashboard-image-build",
		"docker:index/image:Image lamina-llm-serve-image-build",
		"docker:index/tag:Tag lamina-core-image-tag", "docker:index/tag:Tag lamina-dashboard-image-tag",
		"docker:index/tag:Tag lamina-llm-serve-image-tag",
		"pulumi:providers:docker cluster-docker", "pulumi:providers:kubernetes cluster-kubernetes",
		"pulumi:pulumi:StackReference platform",
	}, types)

	// Inside production's data directory, made by this Mac: the pods write them.
	for _, sub := range []string{"models", "chromadb"} {
		dir, _ := staging.Outputs["dataDirs"].(map[string]any)[sub].(string)
		assert.Equal(t, "Lamina Data/production/tenants/staging/"+sub, dir[strings.Index(dir, "Lamina Data"):])
		info, err := os.Stat(dir)
		if assert.NoError(t, err) {
			assert.Equal(t, os.FileMode(0o777), info.Mode().Perm(), dir)
		}
	}

	declared := map[string]bool{}
	for _, r := range production.Resources {
		if recorder.IsKubernetesObject(r) {
			declared[objectKey(r)] = true
		}
	}
	var namespaces []string
	for _, r := range staging.Resources {
		if !recorder.IsKubernetesObject(r) {
			continue
		}
		key := objectKey(r)
		assert.False(t, declared[key], "%s is production's too", key)
		ns := namespaceOf(r)
		switch {
		case r.Inputs["kind"] == "Namespace":
			namespaces = append(namespaces, nameOf(r))
			labels, _ := field(r.Inputs, "metadata", "labels").(map[string]any)
			assert.Equal(t, "restricted", labels["pod-security.kubernetes.io/enforce"], nameOf(r))
			assert.Equal(t, "enabled", labels["istio-injection"], nameOf(r))
		case slices.Contains(stagingAgents, ns):
		case ns == "" || slices.Contains(platformJoined, ns) || ns == "kube-system":
			assert.True(t, strings.HasPrefix(nameOf(r), "staging-") || strings.HasPrefix(nameOf(r), "lamina-staging-"),
				"%s, outside staging's namespaces, carries staging's name", key)
		default:
			t.Errorf("%s is in a namespace staging neither owns nor joins", key)
		}
		assert.NotEqual(t, "istio-system", ns, "%s: the mesh's own namespace is production's alone", key)
	}
	assert.ElementsMatch(t, stagingAgents, namespaces)
	for _, ns := range stagingAgents {
		strict := false
		for _, pa := range kind(staging, "PeerAuthentication") {
			strict = strict || namespaceOf(pa) == ns && field(pa.Inputs, "spec", "mtls", "mode") == "STRICT"
		}
		assert.True(t, strict, "%s is STRICT", ns)
		assert.Contains(t, namesIn(staging, "NetworkPolicy", ns), "default-deny")
		assert.Contains(t, namesIn(staging, "AuthorizationPolicy", ns), "deny-all")
	}
	// Its own hostnames, behind production's gateway.
	assert.Equal(t, "192.168.64.210", staging.Outputs["gatewayAddress"])
	assert.Equal(t, "https://dashboard.staging.lamina.home.arpa", staging.Outputs["dashboardURL"])
	gw := object(t, staging, "Gateway", "lamina-staging-gateway")
	assert.Equal(t, "istio-gateway", namespaceOf(gw))
	assert.Equal(t, "lamina-staging-gateway-tls", field(list(field(gw.Inputs, "spec", "servers"))[0], "tls", "credentialName"))
}

// namesIn are the names of the objects of kind k in namespace ns.
func namesIn(g *recorder.Graph, k, ns string) []string {
	var out []string
	for _, r := range kind(g, k) {
		if namespaceOf(r) == ns {
			out = append(out, nameOf(r))
		}
	}
	return out
}

// No flow connects staging's namespaces with production's agent stack, in either
// stack's policies: what staging reaches of production is the platform (the gateway,
// Prometheus, the tracing) and nothing else.
func TestStagingAndProductionAgentsCannotReachEachOther(t *testing.T) {
	production := deployStack(t, "production")
	staging := deployStack(t, "staging")
	// peers lists the namespaces and principals an object's policy names.
	peers := func(r *recorder.Resource) []string {
		var out []string
		var walk func(v any)
		walk = func(v any) {
			switch x := v.(type) {
			case map[string]any:
				if ns, ok := x["kubernetes.io/metadata.name"].(string); ok {
					out = append(out, ns)
				}
				for _, p := range list(x["principals"]) {
					out = append(out, strings.Split(p.(string), "/")[2]) // cluster.local/ns/<ns>/sa/<sa>
				}
				for _, n := range list(x["namespaces"]) {
					out = append(out, n.(string))
				}
				for _, e := range x {
					walk(e)
				}
			case []any:
				for _, e := range x {
					walk(e)
				}
			}
		}
		walk(r.Inputs["spec"])
		return out
	}
	count := 0
	for _, tc := range []struct {
		g               *recorder.Graph
		own, forbidden  []string
		stack, opposite string
	}{
		{staging, stagingAgents, productionAgents, "staging", "production's agents"},
		{production, productionAgents, stagingAgents, "production", "staging"},
	} {
		for _, k := range []string{"NetworkPolicy", "AuthorizationPolicy"} {
			for _, r := range kind(tc.g, k) {
				ends := append(peers(r), namespaceOf(r))
				for _, ns := range ends {
					assert.NotContains(t, tc.forbidden, ns, "%s's %s names %s", tc.stack, objectKey(r), tc.opposite)
				}
				count++
			}
		}
	}
	assert.Greater(t, count, 100, "the policies of both stacks were read")
	// And staging's own flows are there: the gateway reaches its agent server, which
	// reaches its llm-serve and ChromaDB.
	assert.Contains(t, namesIn(staging, "NetworkPolicy", "istio-gateway"), "staging-gateway-to-core-egress")
	assert.Contains(t, namesIn(staging, "AuthorizationPolicy", "lamina-staging"), "core-to-chromadb")
	assert.Contains(t, namesIn(staging, "NetworkPolicy", "monitoring"), "staging-prometheus-scrape-lamina-staging-egress")
	assert.Contains(t, namesIn(staging, "AuthorizationPolicy", "observability"), "staging-spans-from-lamina-staging")
}

// Staging checks, before declaring anything of Kubernetes, that production takes it in:
// listed as a tenant, within its share, its data inside production's data directory and
// its hostnames on production's gateway. Each refusal names the key to change.
func TestStagingRefusesAPlatformThatDoesNotTakeItIn(t *testing.T) {
	share := func(cpu, memory float64) func(resource.PropertyMap) {
		return func(outs resource.PropertyMap) {
			outs["tenants"] = resource.NewProperty(resource.PropertyMap{"staging": resource.NewProperty(resource.PropertyMap{
				"cpu": resource.NewProperty(cpu), "memory": resource.NewProperty(memory)})})
		}
	}
	for _, tc := range []struct {
		name      string
		overrides map[string]string
		edit      func(resource.PropertyMap)
		want      string
	}{
		{"not a tenant", nil, func(outs resource.PropertyMap) { outs["tenants"] = resource.NewProperty(resource.PropertyMap{}) },
			"lamina:cluster.platform: stack production does not list staging among its tenants"},
		{"a share too small", nil, share(1, 24<<30),
			"lamina:cluster.platform: this stack's pods request 1.3 cores and 18.9Gi (sidecars and a rollout's second pod included), more than the 1 cores and 24Gi stack production reserves for it"},
		{"data outside the platform's", map[string]string{"lamina:data": `{"dir":"/Users/Shared/lamina/staging"}`}, nil,
			"lamina:data.dir: /Users/Shared/lamina/staging is outside"},
		// Outside staging's own (unused) MetalLB pool too: only the platform's gateway counts.
		{"another gateway", map[string]string{"lamina:edge": `{"domain":"staging.lamina.home.arpa","address":"192.168.64.200"}`}, nil,
			"lamina:edge.address: 192.168.64.200 is not the address of the gateway of stack production (192.168.64.210)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := deployStaging(t, tc.overrides, tc.edit)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			for _, r := range g.Resources {
				assert.False(t, recorder.IsKubernetesObject(r), "%s was declared", r.URN)
			}
		})
	}
}

// Production promoting from staging runs staging's images by their content: none of
// them is built or pulled (the build tier's environment, which is not promoted, still
// is), and a reference that names no content is refused.
func TestProductionPromotesStagingsImagesByContent(t *testing.T) {
	staging := deployStack(t, "staging")
	images := staging.StackOutputs()["images"].ObjectValue()
	overrides, _ := withDataDir(t, "production", map[string]string{"lamina:images": `{"promoteFrom":"staging"}`})
	promote := func(images resource.PropertyMap) (*recorder.Graph, error) {
		return deployWith(stackSource(t, "production", overrides), newFakeMac(t, "colima", "kubectl"),
			map[string]resource.PropertyMap{"staging": {"images": resource.NewProperty(images)}})
	}
	production, err := promote(images)
	require.NoError(t, err)
	for _, r := range production.Resources {
		if strings.HasPrefix(r.Type, "docker:") && !strings.HasPrefix(r.Name, "lamina-build-image-") {
			t.Errorf("%s: a promoted image is not built", r.URN)
		}
	}
	assert.NotNil(t, production.Find(dockerImageType, "lamina-build-image-build"), "the build environment is built")
	for workload, deployment := range map[string]string{"lamina-llm-serve": "lamina-llm-serve", "lamina-core": "lamina-core", "lamina-dashboard": "lamina-dashboard"} {
		ref := images[resource.PropertyKey(workload)].StringValue()
		assert.Regexp(t, `^lamina/`+workload+`:[0-9a-f]{64}$`, ref, "staging built %s", workload)
		c := container(object(t, production, "Deployment", deployment))
		assert.Equal(t, ref, c["image"], "%s runs what staging ran", workload)
		assert.Equal(t, "Never", c["imagePullPolicy"], workload)
	}
	digest := "registry.example/lamina-core@sha256:" + strings.Repeat("ab", 32)
	images["lamina-core"] = resource.NewProperty(digest)
	production, err = promote(images)
	require.NoError(t, err)
	assert.Equal(t, digest, container(object(t, production, "Deployment", "lamina-core"))["image"])

	for _, moving := range []string{"lamina/lamina-core:latest", "lamina/lamina-core:build", "lamina/lamina-core:" + strings.Repeat("a", 63)} {
		images["lamina-core"] = resource.NewProperty(moving)
		_, err := promote(images)
		require.Error(t, err, moving)
		assert.Contains(t, err.Error(), `lamina:images.promoteFrom: stack staging runs lamina-core as "`+moving+`", which is not content-addressed`)
	}
	delete(images, "lamina-core")
	_, err = promote(images)
	assert.ErrorContains(t, err, "lamina:images.promoteFrom: stack staging has no image of lamina-core in its images output")
}

// Production's capacity check counts staging's share of its VM as a workload of its
// own, and a share that does not fit is refused naming the tenant.
func TestProductionCountsStagingsShareInItsVM(t *testing.T) {
	cfg, err := config.Load(stackSource(t, "production", nil), nil)
	require.NoError(t, err)
	demands := cfg.Demands()
	tenant := demands[len(demands)-1]
	assert.Equal(t, config.Demand{Name: "tenant staging", Key: "lamina:colima.tenants[0]", Pods: 1, CPU: 1.5, Memory: 24 << 30}, tenant)
	cpu, memory, _, _ := config.Totals(demands)
	assert.Equal(t, "14.95", config.FormatCores(cpu), "of the 15 cores production's VM has for workloads")
	assert.Equal(t, "239.3Gi", config.FormatGiB(memory), "of the 252Gi production's VM has for workloads")

	tenants := func(list string) map[string]string {
		return map[string]string{"lamina:colima": section(t, stackSource(t, "production", nil), "lamina:colima", map[string]any{"tenants": json.RawMessage(list)})}
	}
	for _, tc := range []struct {
		name, tenants string
		want          []string
	}{
		{"a share that does not fit", `[{"stack":"staging","cpu":"2","memory":"24Gi"}]`, []string{
			"lamina:colima.cpus: 16 cores cannot hold the workloads: their requests, sidecars included, come to 15.45 cores (0.15 of it to start the new pod of lamina-dashboard before the old one stops), 0.45 more than the 15 the VM has for them after 1 for k3s and system pods; the largest: lamina-llm-serve 3 × 2.05 cores (lamina:llm.resources), tenant staging 1 × 2 cores (lamina:colima.tenants[0]), lamina-core 2 × 0.55 cores (lamina:core.resources). Raise the VM's cores or lower those requests",
		}},
		{"tenants that cannot be", `[{"stack":"Staging_1","cpu":"lots","memory":"24Gi"},{"stack":"production","cpu":"1","memory":"0"}]`, []string{
			`lamina:colima.tenants[0].cpu: "lots" is not a CPU quantity above zero; allowed: the form 4 or 3500m`,
			`lamina:colima.tenants[0].stack: "Staging_1" cannot name a tenant's namespaces (lamina-<stack>); allowed: lower-case letters, digits and '-', 1 to 30 characters`,
			`lamina:colima.tenants[1].memory: "0" is not a memory quantity above zero; allowed: the form 24Gi`,
			"lamina:colima.tenants[1].stack: names this stack (production); list only the stacks that join it",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Load(stackSource(t, "production", tenants(tc.tenants)), nil)
			var cerr *config.ConfigError
			require.ErrorAs(t, err, &cerr)
			var got []string
			for _, p := range cerr.Problems {
				got = append(got, p.String())
			}
			slices.Sort(got)
			assert.Equal(t, tc.want, got)
		})
	}
}
