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

// Resources are a container's requests and limits, as Kubernetes quantities: the
// configuration's (lamina:<section>.resources) and the charts' and pods' alike.
type Resources struct {
	// Requests are the CPU and memory the scheduler reserves.
	Requests Quantities `json:"requests"`
	// Limits are the most the container may use.
	Limits Quantities `json:"limits"`
}

// Quantities are CPU and memory amounts.
type Quantities struct {
	// CPU is a Kubernetes CPU quantity such as 500m or 2. Allowed: a quantity.
	CPU string `json:"cpu"`
	// Memory is a Kubernetes memory quantity such as 512Mi or 2Gi. Allowed: a quantity.
	Memory string `json:"memory"`
}

// The agent server's modes: one agent (the first of its agents), or several.
const (
	ModeSingleAgent = "single-agent"
	ModeMultiAgent  = "multi-agent"
)
