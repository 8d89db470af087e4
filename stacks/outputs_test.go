package stacks_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lamina-os/lamina-infra/internal/outputs"
	"github.com/lamina-os/lamina-infra/internal/readme"
	"github.com/lamina-os/lamina-infra/internal/recorder"
	"github.com/lamina-os/lamina-infra/stacks/config"
)

// documentedOutput is a row of the outputs table in docs/outputs.md: its type, whether
// it is secret, and for which stacks only (colima only, not shared, shared only).
type documentedOutput struct{ typ, secret, only string }

// exported says whether a stack with cfg's target exports the output.
func (d documentedOutput) exported(cfg *config.Config) bool {
	target := cfg.Cluster.Target
	switch d.only {
	case "(with `lamina:build.enabled`)":
		return cfg.Build.Enabled
	case "(colima only)":
		return target == "colima"
	case "(with a Colima VM)":
		return target == "colima" || target == "docker" && cfg.Docker.Host == ""
	case "(colima or docker)":
		return target == "colima" || target == "docker"
	case "(kubernetes only)":
		return target != "docker"
	case "(docker only)":
		return target == "docker"
	case "(not shared)":
		return target != "shared"
	case "(shared only)":
		return target == "shared"
	}
	return true
}

// readmeOutputs reads the outputs table of docs/outputs.md.
func readmeOutputs(t *testing.T) map[string]documentedOutput {
	t.Helper()
	table, err := readme.Section("../docs/outputs.md", "<!-- outputs:begin -->", "<!-- outputs:end -->")
	require.NoError(t, err)
	out := map[string]documentedOutput{}
	for _, line := range strings.Split(table, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 5 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		name := strings.Trim(strings.TrimSpace(cells[1]), "`")
		secret, only, _ := strings.Cut(strings.TrimSpace(cells[3]), " ")
		only = strings.TrimSpace(only)
		out[name] = documentedOutput{typ: strings.TrimSpace(cells[2]), secret: secret, only: only}
	}
	return out
}

// typeName names an output's JSON value as docs/outputs.md does.
func typeName(v any) string {
	switch x := v.(type) {
	case string:
		return "string"
	case float64, int:
		return "number"
	case []any:
		return "list of strings"
	case map[string]any:
		if len(x) == 0 {
			return "object" // tenants, when a platform has none
		}
		for _, e := range x {
			if _, ok := e.(string); !ok {
				return "object"
			}
		}
		return "map of strings"
	}
	return reflect.TypeOf(v).String()
}

// The program exports exactly the documented outputs, of the documented types and
// secrecy, and what `pulumi stack output --json --show-secrets` prints of them is what
// internal/outputs (the lamina commands) reads: program, docs/outputs.md and parser agree.
func TestStackOutputsAreTheDocumentedContract(t *testing.T) {
	documented := readmeOutputs(t)
	var tags []string
	st := reflect.TypeFor[outputs.Stack]()
	for i := 0; i < st.NumField(); i++ {
		tags = append(tags, st.Field(i).Tag.Get("json"))
	}
	slices.Sort(tags)
	names := make([]string, 0, len(documented))
	for n := range documented {
		names = append(names, n)
	}
	slices.Sort(names)
	assert.Equal(t, names, tags, "internal/outputs.Stack reads every documented output")

	for _, stack := range allStacks {
		t.Run(stack, func(t *testing.T) {
			g := deployStack(t, stack)
			cfg, err := config.Load(stackSource(t, stack, nil), nil)
			require.NoError(t, err)
			printed := map[string]any{}
			for name := range g.Outputs {
				v, ok := g.RawOutput(name)
				require.True(t, ok)
				require.True(t, v.Known, "%s is known after an up", name)
				doc, ok := documented[name]
				if !assert.True(t, ok, "output %s is not in the table of docs/outputs.md", name) {
					continue
				}
				// As the CLI prints it: JSON.
				b, err := json.Marshal(v.Value)
				require.NoError(t, err)
				var value any
				require.NoError(t, json.Unmarshal(b, &value))
				assert.Equal(t, doc.typ, typeName(value), "type of %s", name)
				assert.Equal(t, doc.secret == "yes", v.Secret, "secrecy of %s", name)
				printed[name] = value
			}
			for name, doc := range documented {
				_, ok := printed[name]
				assert.Equal(t, doc.exported(cfg), ok, "output %s is exported by the %s stack as documented", name, stack)
			}
			assert.Equal(t, float64(outputs.SchemaVersion), printed["schemaVersion"])

			data, err := json.Marshal(printed)
			require.NoError(t, err)
			s, err := outputs.Parse(bytes.NewReader(data), "pulumi stack output")
			require.NoError(t, err)
			assert.Equal(t, stack, s.Stack)
			lines, err := s.HostsLines()
			require.NoError(t, err)
			assert.Len(t, lines, len(s.URLs))
			assert.NotEqual(t, recorder.SecretMask, s.Kubeconfig)
		})
	}
}
