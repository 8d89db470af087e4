package graph

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/lamina-os/lamina-infra/internal/recorder"
)

// A small stack: a VM script, then a Helm release through a provider, then two
// releases after it, one of which also waits for an image build; a ConfigMap between
// steps is walked through, not drawn.
func sample() *recorder.Graph {
	r := func(urn, typ, name, parent, provider string, deps ...string) *recorder.Resource {
		return &recorder.Resource{URN: urn, Type: typ, Name: name, Parent: parent, Provider: provider, Dependencies: deps}
	}
	return &recorder.Graph{Resources: []*recorder.Resource{
		r("stack", "pulumi:pulumi:Stack", "dev", "", ""),
		r("vmc", "lamina:colima:ColimaVM", "colima", "stack", ""),
		r("vm", "command:local:Command", "colima-vm", "vmc", ""),
		r("prov", "pulumi:providers:kubernetes", "k8s", "stack", "", "vm"),
		r("img", "docker:index/image:Image", "app-build", "stack", ""),
		r("meshc", "lamina:istio:Istio", "istio", "stack", ""),
		r("base", "kubernetes:helm.sh/v3:Release", "istio-base", "meshc", "prov"),
		r("cm", "kubernetes:core/v1:ConfigMap", "settings", "meshc", "prov", "base"),
		r("istiod", "kubernetes:helm.sh/v3:Release", "istiod", "meshc", "prov", "cm", "base"),
		r("app", "kubernetes:apps/v1:Deployment", "app", "stack", "prov", "istiod", "img"),
	}}
}

// Each step waits for the steps it needs and no more (a wait implied by another is
// dropped), and the critical path is the longest chain.
func TestStepsWaitsAndCriticalPath(t *testing.T) {
	g := Build(sample())
	var got []string
	for _, s := range g.Steps {
		got = append(got, s.ID+" "+s.Name+" ["+s.Kind+"] in "+s.Component+" after "+strings.Join(s.After, ","))
	}
	assert.Equal(t, []string{
		"s1 colima-vm [script] in colima after ",
		"s2 app-build [image build] in  after ",
		"s3 istio-base [Helm release] in istio after s1",
		"s4 istiod [Helm release] in istio after s3",
		"s5 app [rollout] in  after s2,s4",
	}, got)
	assert.Equal(t, []string{"s1", "s3", "s4", "s5"}, g.Critical)
}

// Mermaid and DOT mark the critical path's steps and links, and only those.
func TestMermaidAndDOTMarkTheCriticalPath(t *testing.T) {
	g := Build(sample())
	var m strings.Builder
	assert.NoError(t, g.Mermaid(&m))
	assert.Contains(t, m.String(), "  subgraph c3[\"istio (lamina:istio:Istio)\"]\n    s3[\"istio-base<br/><i>Helm release</i>\"]\n")
	assert.Contains(t, m.String(), "  class s1,s3,s4,s5 critical\n")
	// Links in order: s1-->s3 (0), s3-->s4 (1), s2-->s5 (2), s4-->s5 (3).
	assert.Contains(t, m.String(), "  linkStyle 0,1,3 stroke:#c0392b,stroke-width:3px\n")

	var d strings.Builder
	assert.NoError(t, g.DOT(&d))
	assert.Contains(t, d.String(), "  s2 -> s5;\n")
	assert.Contains(t, d.String(), "  s4 -> s5 [color=\"#c0392b\", penwidth=3];\n")
	assert.Contains(t, d.String(), "    s1 [label=\"colima-vm\\nscript\", color=\"#c0392b\", penwidth=3];\n")
}
