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

// Placement chooses the nodes a workload's pods may run on: those carrying every label
// of NodeSelector, the tainted ones only when a toleration admits the taint.
type Placement struct {
	// NodeSelector are node labels the pods require, such as lamina.io/gpu: "true".
	// Allowed: Kubernetes label keys and values. Empty: any node.
	NodeSelector map[string]string `json:"nodeSelector"`
	// Tolerations admit the pods to nodes tainted for them, such as the GPU nodes.
	Tolerations []Toleration `json:"tolerations"`
}

// Toleration admits pods to nodes with a matching taint.
type Toleration struct {
	// Key is the taint's key. Allowed: a Kubernetes label key.
	Key string `json:"key"`
	// Operator is Equal (the taint's value must be Value) or Exists (any value).
	// Allowed: Equal, Exists.
	Operator string `json:"operator"`
	// Value is the taint's value with Equal; empty with Exists.
	Value string `json:"value"`
	// Effect is the taint's effect it admits: NoSchedule, PreferNoSchedule or
	// NoExecute; empty admits all three.
	Effect string `json:"effect"`
}

// The node labels placement reads: every node's name, and its zone where the cluster
// has zones (Kubernetes' well-known labels).
const (
	HostnameLabel = "kubernetes.io/hostname"
	ZoneLabel     = "topology.kubernetes.io/zone"
)

// TopologySpread is one topology spread constraint of a pod template.
type TopologySpread struct {
	MaxSkew           int    `json:"maxSkew"`
	TopologyKey       string `json:"topologyKey"`
	WhenUnsatisfiable string `json:"whenUnsatisfiable"`
	LabelSelector     struct {
		MatchLabels map[string]string `json:"matchLabels"`
	} `json:"labelSelector"`
	MatchLabelKeys   []string `json:"matchLabelKeys,omitempty"`
	NodeTaintsPolicy string   `json:"nodeTaintsPolicy"`
}

// Spread keeps the pods of a workload of several replicas (selected by selector) on
// different nodes, and in different zones where it can, so that a node's loss or drain
// takes at most one of them, which its PodDisruptionBudget allows:
//   - across nodes it is a rule (DoNotSchedule; with one node there is one domain, and
//     every pod fits), across zones a preference (a cluster without zones still
//     schedules);
//   - a cordoned or tainted node does not count (nodeTaintsPolicy Honor), so a drain's
//     pods move to the nodes left;
//   - a Deployment's old pods (deployment) do not count against its new ones during a
//     rollout (matchLabelKeys pod-template-hash).
//
// One replica: none.
func Spread(replicas int, selector map[string]string, deployment bool) []TopologySpread {
	if replicas < 2 {
		return nil
	}
	var out []TopologySpread
	for _, c := range []struct{ key, unsatisfiable string }{{HostnameLabel, "DoNotSchedule"}, {ZoneLabel, "ScheduleAnyway"}} {
		t := TopologySpread{MaxSkew: 1, TopologyKey: c.key, WhenUnsatisfiable: c.unsatisfiable, NodeTaintsPolicy: "Honor"}
		t.LabelSelector.MatchLabels = selector
		if deployment {
			t.MatchLabelKeys = []string{"pod-template-hash"}
		}
		out = append(out, t)
	}
	return out
}
