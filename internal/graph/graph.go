// Package graph draws the install order of a stack: its slow steps (what `pulumi up`
// waits on: scripts, Helm releases, image builds, rollouts), grouped by the component
// that declares them, each after the steps it waits for, with the critical path marked:
// the longest chain of steps that must run one after another, whatever else runs in
// parallel.
package graph

import (
	"fmt"
	"io"
	"strings"

	"github.com/lamina-os/lamina-infra/internal/recorder"
)

// Step is one slow step.
type Step struct {
	ID   string
	Name string
	// Kind says what it is: script, Helm release, image build, rollout.
	Kind string
	// Component is the top-level component that declares it ("" for the stack itself).
	Component, ComponentType string
	// After are the steps it waits for, directly (the graph is transitively reduced).
	After []string
	// Critical marks the steps of the critical path.
	Critical bool
}

// Graph is the stack's steps in dependency order.
type Graph struct {
	Steps []*Step
	// Critical is the critical path, first step first.
	Critical []string
}

// kindOf says whether r is a slow step and which kind.
func kindOf(r *recorder.Resource) (string, bool) {
	switch {
	case r.Type == "command:local:Command" && r.Name == "colima-start":
		// The VM's start follows the VM's command and waits on nothing of its own: it
		// starts the VM only when it was found stopped, in an up where the VM's command
		// does not run. Of the two, one is slow.
		return "", false
	case r.Type == "command:local:Command":
		return "script", true
	case r.Type == "kubernetes:helm.sh/v3:Release":
		return "Helm release", true
	case r.Type == "docker:index/image:Image":
		return "image build", true
	case r.Type == "kubernetes:apps/v1:Deployment" || r.Type == "kubernetes:apps/v1:StatefulSet":
		return "rollout", true
	}
	return "", false
}

// Build finds the slow steps of g and what each waits for.
func Build(g *recorder.Graph) *Graph {
	out := &Graph{}
	steps := map[string]*Step{}
	for _, r := range g.Resources {
		kind, ok := kindOf(r)
		if !ok {
			continue
		}
		s := &Step{ID: fmt.Sprintf("s%d", len(out.Steps)+1), Name: r.Name, Kind: kind}
		if top := topComponent(g, r); top != nil {
			s.Component, s.ComponentType = top.Name, top.Type
		}
		steps[r.URN] = s
		out.Steps = append(out.Steps, s)
	}
	// The steps each waits for: through anything that is not a step itself.
	direct := map[*Step]map[*Step]bool{}
	for _, r := range g.Resources {
		s, ok := steps[r.URN]
		if !ok {
			continue
		}
		direct[s] = map[*Step]bool{}
		seen := map[string]bool{}
		var walk func(x *recorder.Resource)
		walk = func(x *recorder.Resource) {
			for _, u := range append([]string{x.Provider}, x.Dependencies...) {
				if u == "" || seen[u] {
					continue
				}
				seen[u] = true
				if t, ok := steps[u]; ok {
					direct[s][t] = true
					continue
				}
				if next := g.Resource(u); next != nil {
					walk(next)
				}
			}
		}
		walk(r)
	}
	// Transitive reduction: drop a wait that another wait already implies.
	reach := map[*Step]map[*Step]bool{}
	var reachable func(s *Step) map[*Step]bool
	reachable = func(s *Step) map[*Step]bool {
		if m, ok := reach[s]; ok {
			return m
		}
		m := map[*Step]bool{}
		for t := range direct[s] {
			m[t] = true
			for u := range reachable(t) {
				m[u] = true
			}
		}
		reach[s] = m
		return m
	}
	for _, s := range out.Steps {
		for _, t := range out.Steps { // in order, so After is deterministic
			if !direct[s][t] {
				continue
			}
			implied := false
			for u := range direct[s] {
				if u != t && reachable(u)[t] {
					implied = true
					break
				}
			}
			if !implied {
				s.After = append(s.After, t.ID)
			}
		}
	}
	// The critical path: the longest chain, in steps; steps come in dependency order.
	byID := map[string]*Step{}
	length := map[string]int{}
	prev := map[string]string{}
	end := ""
	for _, s := range out.Steps {
		byID[s.ID] = s
		length[s.ID] = 1
		for _, a := range s.After {
			if length[a]+1 > length[s.ID] {
				length[s.ID], prev[s.ID] = length[a]+1, a
			}
		}
		if end == "" || length[s.ID] > length[end] {
			end = s.ID
		}
	}
	for id := end; id != ""; id = prev[id] {
		byID[id].Critical = true
		out.Critical = append([]string{id}, out.Critical...)
	}
	return out
}

// Chain names the steps of the critical path, first step first.
func (gr *Graph) Chain() []string {
	names := map[string]string{}
	for _, s := range gr.Steps {
		names[s.ID] = s.Name
	}
	out := make([]string, 0, len(gr.Critical))
	for _, id := range gr.Critical {
		out = append(out, names[id])
	}
	return out
}

// topComponent is the component directly under the stack that r belongs to.
func topComponent(g *recorder.Graph, r *recorder.Resource) *recorder.Resource {
	var top *recorder.Resource
	for p := g.Resource(r.Parent); p != nil; p = g.Resource(p.Parent) {
		if p.Type == "pulumi:pulumi:Stack" {
			break
		}
		top = p
	}
	return top
}

// groups lists the components in the order of their first step, with their steps.
func (gr *Graph) groups() ([]string, map[string][]*Step, map[string]string) {
	var order []string
	steps := map[string][]*Step{}
	types := map[string]string{}
	for _, s := range gr.Steps {
		if _, ok := steps[s.Component]; !ok {
			order = append(order, s.Component)
		}
		steps[s.Component] = append(steps[s.Component], s)
		types[s.Component] = s.ComponentType
	}
	return order, steps, types
}

// critical reports whether the edge from a to b is on the critical path.
func (gr *Graph) critical(a, b string) bool {
	for i := 0; i+1 < len(gr.Critical); i++ {
		if gr.Critical[i] == a && gr.Critical[i+1] == b {
			return true
		}
	}
	return false
}

// Mermaid writes the graph as a Mermaid flowchart, top to bottom in install order.
func (gr *Graph) Mermaid(w io.Writer) error {
	var b strings.Builder
	b.WriteString("flowchart TD\n")
	order, steps, types := gr.groups()
	for i, c := range order {
		indent := "  "
		if c != "" {
			fmt.Fprintf(&b, "  subgraph c%d[\"%s (%s)\"]\n", i+1, c, types[c])
			indent = "    "
		}
		for _, s := range steps[c] {
			fmt.Fprintf(&b, "%s%s[\"%s<br/><i>%s</i>\"]\n", indent, s.ID, s.Name, s.Kind)
		}
		if c != "" {
			b.WriteString("  end\n")
		}
	}
	var criticalLinks []string
	link := 0
	for _, s := range gr.Steps {
		for _, a := range s.After {
			fmt.Fprintf(&b, "  %s --> %s\n", a, s.ID)
			if gr.critical(a, s.ID) {
				criticalLinks = append(criticalLinks, fmt.Sprint(link))
			}
			link++
		}
	}
	b.WriteString("  classDef critical stroke:#c0392b,stroke-width:3px\n")
	fmt.Fprintf(&b, "  class %s critical\n", strings.Join(gr.Critical, ","))
	if len(criticalLinks) > 0 {
		fmt.Fprintf(&b, "  linkStyle %s stroke:#c0392b,stroke-width:3px\n", strings.Join(criticalLinks, ","))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// DOT writes the graph for Graphviz.
func (gr *Graph) DOT(w io.Writer) error {
	var b strings.Builder
	b.WriteString("digraph lamina {\n  rankdir=TB;\n  node [shape=box, fontname=\"Helvetica\"];\n")
	order, steps, types := gr.groups()
	for i, c := range order {
		indent := "  "
		if c != "" {
			fmt.Fprintf(&b, "  subgraph cluster_%d {\n    label=%q;\n", i+1, c+" ("+types[c]+")")
			indent = "    "
		}
		for _, s := range steps[c] {
			attrs := fmt.Sprintf("label=%q", s.Name+"\n"+s.Kind)
			if s.Critical {
				attrs += ", color=\"#c0392b\", penwidth=3"
			}
			fmt.Fprintf(&b, "%s%s [%s];\n", indent, s.ID, attrs)
		}
		if c != "" {
			b.WriteString("  }\n")
		}
	}
	for _, s := range gr.Steps {
		for _, a := range s.After {
			attrs := ""
			if gr.critical(a, s.ID) {
				attrs = " [color=\"#c0392b\", penwidth=3]"
			}
			fmt.Fprintf(&b, "  %s -> %s%s;\n", a, s.ID, attrs)
		}
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}
