package stacks_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lamina-os/lamina-infra/components/colima"
	"github.com/lamina-os/lamina-infra/components/storage"
	"github.com/lamina-os/lamina-infra/internal/recorder"
	"github.com/lamina-os/lamina-infra/stacks/offline"
)

var bothStacks = []string{"development", "production"}

// Every Kubernetes resource goes through the cluster's provider, which waits for the
// kubeconfig, which waits for the nodes to be Ready, which waits for the VM. No default
// provider could ever act on whatever cluster kubectl happens to point at.
func TestEveryKubernetesResourceUsesTheClusterProvider(t *testing.T) {
	for _, stack := range bothStacks {
		t.Run(stack, func(t *testing.T) {
			g := preview(t, stackSource(t, stack, nil))
			provider := g.Find("pulumi:providers:kubernetes", "cluster-kubernetes")
			require.NotNil(t, provider)
			vm := command(t, g, "colima-vm")
			kubeconfig := command(t, g, "cluster-kubeconfig")
			assert.Contains(t, provider.Dependencies, kubeconfig.URN)
			assert.True(t, g.DependsOn(provider, vm.URN), "the provider must wait for the VM")

			var k8s []*recorder.Resource
			for _, r := range g.Resources {
				if strings.HasPrefix(r.Type, "kubernetes:") {
					k8s = append(k8s, r)
				}
			}
			require.NotEmpty(t, k8s)
			for _, r := range k8s {
				assert.Equal(t, provider.URN, r.Provider, r.URN)
				assert.True(t, g.DependsOn(r, vm.URN), "%s must wait for the VM", r.URN)
			}

			assert.Equal(t, false, provider.Inputs["deleteUnreachable"], "a stopped VM is unreachable too; refresh must not forget resources")
			assert.Equal(t, true, g.Find("pulumi:providers:docker", "cluster-docker").Inputs["disableDockerDaemonCheck"])

			src := stackSource(t, stack, nil)
			assert.JSONEq(t, `["kubernetes","docker"]`, src.Values["pulumi:disable-default-providers"],
				"default providers stay disabled in the stack file")
		})
	}
}

// The kubeconfig is secret in the command's state, in the provider's configuration and
// in the stack outputs, and it never reaches the console or the next run's environment.
func TestKubeconfigStaysSecret(t *testing.T) {
	const token = "token-4c1d0e9a-do-not-print"
	mac := newFakeMac(t, "colima", "kubectl")
	mac.env["FAKE_KUBECONFIG"] = "apiVersion: v1\nusers:\n- name: admin\n  user:\n    token: " + token
	overrides, _ := withDataDir(t, "development", nil)
	g := deploy(t, stackSource(t, "development", overrides), mac)

	kc := command(t, g, "cluster-kubeconfig")
	assert.Equal(t, []string{"stdout"}, kc.AdditionalSecretOutputs)
	assert.Equal(t, "stderr", kc.Inputs["logging"])
	assert.Equal(t, false, kc.Inputs["addPreviousOutputInEnv"])

	provider := g.Find("pulumi:providers:kubernetes", "cluster-kubernetes")
	assert.Equal(t, recorder.SecretMask, provider.Inputs["kubeconfig"])
	assert.True(t, provider.Raw()["kubeconfig"].IsSecret())
	assert.Contains(t, provider.Raw()["kubeconfig"].SecretValue().Element.StringValue(), token,
		"the provider gets the real kubeconfig")

	assert.Equal(t, recorder.SecretMask, g.Outputs["kubeconfig"])
	raw, ok := g.RawOutput("kubeconfig")
	require.True(t, ok)
	assert.True(t, raw.Secret)
	assert.Contains(t, raw.Value, token)

	var out bytes.Buffer
	require.NoError(t, g.WriteJSON(&out))
	assert.NotContains(t, out.String(), token)
}

// The teardown works as docs/how-it-works.md writes it: production's VM is the one resource of
// either stack protected against `pulumi destroy`. Replacing the VM (another profile
// name) deletes the old one first, and the data directories are never deleted.
func TestVMLifecycleOptions(t *testing.T) {
	for stack, protect := range map[string]bool{"development": false, "production": true} {
		g := preview(t, stackSource(t, stack, nil))
		vm := command(t, g, "colima-vm")
		assert.Equal(t, protect, vm.Protect, stack)
		for _, r := range g.Resources {
			assert.False(t, r.Protect && r != vm, "%s: %s is protected; pulumi destroy would stop on it", stack, r.URN)
		}
		assert.True(t, vm.DeleteBeforeReplace, stack)
		assert.Equal(t, []any{"lamina-" + stack}, vm.Inputs["triggers"], stack)
		assert.Equal(t, colima.EnsureScript, vm.Inputs["create"], stack)
		dirs, start := strings.Index(colima.EnsureScript, storage.DataDirsPart), strings.Index(colima.EnsureScript, `colima "${start_args[@]}"`)
		assert.True(t, dirs >= 0 && start > dirs, "%s: the VM's command creates the directories before it starts the VM", stack)
		assert.NotContains(t, colima.DeleteScript, storage.DataDirsPart, "%s: deleting the VM leaves the directories alone", stack)
		volumes := g.ByType("kubernetes:core/v1:PersistentVolume")
		require.NotEmpty(t, volumes, stack)
		for _, pv := range volumes {
			assert.True(t, g.DependsOn(pv, vm.URN), "%s: volume %s must wait for the VM's command, which creates its directory", stack, pv.Name)
		}
	}
}

// The same configuration renders to the same bytes, whatever order the program's
// goroutines registered resources in.
func TestRenderIsDeterministic(t *testing.T) {
	for _, stack := range bothStacks {
		var first [2]string
		for i := 0; i < 5; i++ {
			g, err := offline.Render(projectDir, stack, grafanaPassword)
			require.NoError(t, err)
			var js, ya bytes.Buffer
			require.NoError(t, g.WriteJSON(&js))
			require.NoError(t, g.WriteYAML(&ya))
			if i == 0 {
				first = [2]string{js.String(), ya.String()}
				assert.Contains(t, ya.String(), "kind: StorageClass")
				continue
			}
			assert.Equal(t, first[0], js.String(), "%s json render %d differs", stack, i)
			assert.Equal(t, first[1], ya.String(), "%s yaml render %d differs", stack, i)
		}
	}
}

// Render shows what a preview before the first `up` would: the VM's address is not
// known yet, secrets are masked, and the rest is the configuration's.
func TestRenderMasksUnknownsAndSecrets(t *testing.T) {
	g, err := offline.Render(projectDir, "production", grafanaPassword)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"address": recorder.UnknownMask, "cpus": float64(16), "memoryGiB": float64(256), "diskGiB": float64(500)}, g.Outputs["vm"])
	assert.Equal(t, recorder.SecretMask, g.Outputs["kubeconfig"])
	assert.Equal(t, "colima-lamina-production", g.Outputs["kubeContext"])
	assert.Equal(t, recorder.UnknownMask, command(t, g, "cluster-ready").Inputs["environment"].(map[string]any)["LAMINA_REFRESH"])
}

func TestStorageClassKeepsVolumes(t *testing.T) {
	g := preview(t, stackSource(t, "development", nil))
	sc := g.Find("kubernetes:storage.k8s.io/v1:StorageClass", "cluster-host-storage")
	require.NotNil(t, sc)
	assert.Equal(t, "lamina-host", sc.Inputs["metadata"].(map[string]any)["name"])
	assert.Equal(t, "Retain", sc.Inputs["reclaimPolicy"])
	assert.Equal(t, "kubernetes.io/no-provisioner", sc.Inputs["provisioner"])
	// Each claim names its volume: nothing to wait for, and the provider's wait for a
	// WaitForFirstConsumer claim to be Pending raced with the binding.
	assert.Equal(t, "Immediate", sc.Inputs["volumeBindingMode"])
}

// A generated secret changes only when the user asks (pulumi up --target-replace):
// pulumi-command would run the create command again on any change of its inputs, so the
// engine is told to ignore every one of them.
func TestGeneratedSecretsChangeOnlyWhenAsked(t *testing.T) {
	g := preview(t, stackSource(t, "development", nil))
	var generated []string
	for _, r := range g.ByType(commandType) {
		create, _ := r.Inputs["create"].(string)
		if !strings.HasPrefix(create, "openssl rand") {
			continue
		}
		generated = append(generated, r.Name)
		for input := range r.Inputs {
			assert.Contains(t, r.IgnoreChanges, input, "%s: a change of %s would make a new secret", r.Name, input)
		}
	}
	assert.ElementsMatch(t, []string{"grafana-admin-password", "chromadb-token", "kiali-signing-key"}, generated)
}

// A release's extra values from the stack file (the escape hatch, as Pulumi's own chart
// components offer) are merged over the program's typed values: objects key by key,
// anything else replaced. Nothing but that release changes.
func TestExtraChartValuesMergeOverTheTypedValuesOfTheirReleaseOnly(t *testing.T) {
	plain := preview(t, stackSource(t, "development", nil))
	src := stackSource(t, "development", nil)
	src.Values["lamina:grafana"] = section(t, src, "lamina:grafana", map[string]any{"chart": map[string]any{
		"values": map[string]any{"podLabels": map[string]any{"team": "agents"}, "resources": map[string]any{"limits": map[string]any{"cpu": "3"}}},
	}})
	g := preview(t, src)

	values := release(t, g, "grafana").Inputs["values"]
	assert.Equal(t, map[string]any{"team": "agents"}, field(values, "podLabels"))
	typed := field(release(t, plain, "grafana").Inputs["values"], "resources")
	assert.Equal(t, "3", field(values, "resources", "limits", "cpu"))
	assert.Equal(t, field(typed, "limits", "memory"), field(values, "resources", "limits", "memory"), "the typed limit beside it stays")
	assert.Equal(t, field(typed, "requests"), field(values, "resources", "requests"))
	assert.Equal(t, "admin-password", field(values, "admin", "passwordKey"), "what the program owns stays")

	require.Len(t, g.Resources, len(plain.Resources))
	for i, r := range g.Resources {
		if r.Name != "grafana" {
			assert.Equal(t, plain.Resources[i], r, r.URN)
		}
	}
}

// Extra values cannot drop what the program sets by replacing the object that holds
// it (Prometheus's server, which names its Service and its volume): the program stops
// with the key, before `pulumi up` gets past its preview.
func TestExtraChartValuesCannotReplaceAnObjectTheProgramSets(t *testing.T) {
	src := stackSource(t, "development", nil)
	src.Values["lamina:monitoring"] = section(t, src, "lamina:monitoring", map[string]any{"prometheus": map[string]any{
		"chart": map[string]any{"values": map[string]any{"server": nil}},
	}})
	_, err := offline.Run(src, nil, recorder.Options{Preview: true})
	assert.ErrorContains(t, err, "release prometheus: lamina:monitoring.prometheus.chart.values.server: replaces an object the program sets with null; set the keys inside it instead")
}
