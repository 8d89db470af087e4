// Package recordertest reads what a program registered under recorder.Run, for the
// components' tests: a resource that must be there, a value at a path, and a
// registered input as the provider receives it.
package recordertest

import (
	"encoding/json"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/require"

	"github.com/lamina-os/lamina-infra/internal/recorder"
)

// Find is the resource of type typ named name, failing the test when there is none.
func Find(t testing.TB, g *recorder.Graph, typ, name string) *recorder.Resource {
	t.Helper()
	r := g.Find(typ, name)
	require.NotNil(t, r, "%s %s", typ, name)
	return r
}

// At walks v by path: a string is an object's key, an int a list's index. It fails the
// test when v has no such place.
func At(t testing.TB, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			require.True(t, ok, "%v: not an object at %q", path, k)
			v = m[k]
		case int:
			a, ok := v.([]any)
			require.True(t, ok && k < len(a), "%v: no item %d", path, k)
			v = a[k]
		default:
			t.Fatalf("%v: %v is neither a key nor an index", path, p)
		}
	}
	return v
}

// Reveal is a registered input with its secrets and outputs opened, as the provider
// receives it.
func Reveal(v resource.PropertyValue) any {
	switch {
	case v.IsSecret():
		return Reveal(v.SecretValue().Element)
	case v.IsOutput():
		return Reveal(v.OutputValue().Element)
	case v.IsObject():
		out := map[string]any{}
		for k, e := range v.ObjectValue() {
			out[string(k)] = Reveal(e)
		}
		return out
	case v.IsArray():
		var out []any
		for _, e := range v.ArrayValue() {
			out = append(out, Reveal(e))
		}
		return out
	}
	return v.V
}

// Texts are every key and string of a value, at every depth: where a credential must
// not appear.
func Texts(v any) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			out = append(append(out, k), Texts(e)...)
		}
	case []any:
		for _, e := range x {
			out = append(out, Texts(e)...)
		}
	case string:
		out = append(out, x)
	}
	return out
}

// ReleaseType is a Helm release's type token.
const ReleaseType = "kubernetes:helm.sh/v3:Release"

// Values are the values of the Helm release named release, which must be known and
// not secret.
func Values(t testing.TB, g *recorder.Graph, release string) map[string]any {
	t.Helper()
	v, ok := Find(t, g, ReleaseType, release).Inputs["values"].(map[string]any)
	require.True(t, ok, "%s: the values are known and not secret", release)
	return v
}

// Env is a command's environment.
func Env(t testing.TB, r *recorder.Resource) map[string]any {
	t.Helper()
	e, ok := r.Inputs["environment"].(map[string]any)
	require.True(t, ok, "%s has an environment", r.Name)
	return e
}

// JSON is v as JSON reads it back, so that values decoded from YAML (ints) and
// recorded inputs (floats) compare alike.
func JSON(t testing.TB, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	var out any
	require.NoError(t, json.Unmarshal(b, &out))
	return out
}
