package stacks_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/lamina-os/lamina-infra/components/dockermesh"
	"github.com/lamina-os/lamina-infra/internal/recorder"
	"github.com/lamina-os/lamina-infra/internal/recorder/recordertest"
)

// containerNamed is the Docker container of that name.
func containerNamed(t *testing.T, g *recorder.Graph, name string) *recorder.Resource {
	t.Helper()
	for _, c := range g.ByType(containerType) {
		if c.Inputs["name"] == name {
			return c
		}
	}
	t.Fatalf("no container %s", name)
	return nil
}

// dockerEnv is a container's environment, by name.
func dockerEnv(c *recorder.Resource) map[string]string {
	out := map[string]string{}
	for _, e := range list(c.Inputs["envs"]) {
		k, v, _ := strings.Cut(e.(string), "=")
		out[k] = v
	}
	return out
}

// yamlFile reads a configuration file a container is given.
func yamlFile(t *testing.T, g *recorder.Graph, container, path string) map[string]any {
	t.Helper()
	text, ok := filesOf(t, g, containerNamed(t, g, container))[path]
	require.True(t, ok, "%s reads %s", container, path)
	var out map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(text), &out), "%s's %s", container, path)
	return out
}

// The Docker target runs Loki, Vector, Grafana and ChromaDB with the settings the
// Kubernetes target gives them through their charts and pods: both are made from the
// same components' values, so a change to one reaches the other, or this test fails.
// What differs is only where each runs: addresses, paths, labels and the default
// datasource.
func TestBothTargetsRunTheSameSettings(t *testing.T) {
	kube := deployStack(t, "development")
	docker, _ := deployCompact(t)

	// Loki: the schema, the compactor's retention and no usage reports.
	lokiValues := field(release(t, kube, "loki").Inputs["values"], "loki")
	lokiFile := yamlFile(t, docker, "lamina-loki", dockermesh.FilesDir+"/loki.yaml")
	assert.Equal(t, recordertest.JSON(t, field(lokiValues, "schemaConfig", "configs")), recordertest.JSON(t, field(lokiFile, "schema_config", "configs")), "Loki's schema")
	assert.Equal(t, "2024-04-01", field(lokiFile, "schema_config", "configs").([]any)[0].(map[string]any)["from"])
	for _, k := range []string{"retention_enabled", "delete_request_store"} {
		assert.Equal(t, field(lokiValues, "compactor", k), field(lokiFile, "compactor", k), "Loki's compactor.%s", k)
	}
	assert.Equal(t, false, field(lokiValues, "analytics", "reporting_enabled"))
	assert.Equal(t, false, field(lokiFile, "analytics", "reporting_enabled"))

	// Vector's sink to Loki, but for where it reads and what it labels.
	kubeSink := field(release(t, kube, "vector").Inputs["values"], "customConfig", "sinks", "loki").(map[string]any)
	dockerSink := field(yamlFile(t, docker, "lamina-vector", dockermesh.FilesDir+"/vector.yaml"), "sinks", "loki").(map[string]any)
	for _, k := range []string{"endpoint", "inputs", "labels"} {
		delete(kubeSink, k)
		delete(dockerSink, k)
	}
	assert.Equal(t, recordertest.JSON(t, kubeSink), recordertest.JSON(t, dockerSink), "Vector's Loki sink")
	assert.Equal(t, "accept", dockerSink["out_of_order_action"])

	// Grafana: grafana.ini on one, GF_<SECTION>_<KEY> on the other.
	grafanaValues := release(t, kube, "grafana").Inputs["values"]
	ini := field(grafanaValues, "grafana.ini").(map[string]any)
	env := dockerEnv(containerNamed(t, docker, "lamina-grafana"))
	compared := 0
	for section, keys := range ini {
		for key, value := range keys.(map[string]any) {
			if section == "server" && key == "root_url" {
				continue // each target's own address
			}
			compared++
			assert.Equal(t, fmt.Sprint(value), env["GF_"+strings.ToUpper(section)+"_"+strings.ToUpper(key)], "grafana.ini %s.%s", section, key)
		}
	}
	assert.Equal(t, 4, compared, "analytics (2), users and plugins")
	assert.Equal(t, "true", env["GF_PLUGINS_PREINSTALL_DISABLED"])
	// Its Loki datasource, but for Loki's address and which datasource is the default.
	var kubeLoki, dockerLoki map[string]any
	for _, ds := range list(field(grafanaValues, "datasources", "datasources.yaml", "datasources")) {
		if field(ds, "type") == "loki" {
			kubeLoki = ds.(map[string]any)
		}
	}
	provisioned := yamlFile(t, docker, "lamina-grafana", dockermesh.FilesDir+"/provisioning/datasources/lamina.yaml")
	require.Len(t, list(provisioned["datasources"]), 1)
	dockerLoki = list(provisioned["datasources"])[0].(map[string]any)
	assert.Equal(t, true, dockerLoki["isDefault"], "Loki is the Docker target's only datasource")
	for _, k := range []string{"url", "isDefault"} {
		delete(kubeLoki, k)
		delete(dockerLoki, k)
	}
	assert.Equal(t, recordertest.JSON(t, kubeLoki), recordertest.JSON(t, dockerLoki), "Grafana's Loki datasource")

	// ChromaDB's environment, but for where its logging configuration lies and how the
	// token is handed over.
	kubeChroma := envOf(container(object(t, kube, "StatefulSet", "chromadb")))
	dockerChroma := dockerEnv(containerNamed(t, docker, "lamina-chromadb"))
	delete(kubeChroma, "CHROMA_SERVER_AUTHN_CREDENTIALS")
	delete(dockerChroma, "CHROMA_SERVER_AUTHN_CREDENTIALS_FILE")
	assert.NotEqual(t, kubeChroma["CHROMA_LOG_CONFIG"], dockerChroma["CHROMA_LOG_CONFIG"])
	delete(kubeChroma, "CHROMA_LOG_CONFIG")
	delete(dockerChroma, "CHROMA_LOG_CONFIG")
	assert.Len(t, dockerChroma, 5)
	assert.Equal(t, recordertest.JSON(t, kubeChroma), recordertest.JSON(t, dockerChroma), "ChromaDB's environment")
}
