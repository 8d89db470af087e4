// Package spec holds the plain types that both the configuration (stacks/config) and
// the components use, so that neither keeps a copy of the other's: it imports neither
// Pulumi nor Kubernetes, and nothing of this module.
package spec

// Var is one environment variable.
type Var struct{ Name, Value string }

// Env is an environment in the order a target sets it: a pod's list, or a container's.
type Env []Var

// Map is the environment as a map, for a target whose order does not matter.
func (e Env) Map() map[string]string {
	out := make(map[string]string, len(e))
	for _, v := range e {
		out[v.Name] = v.Value
	}
	return out
}
