package recorder

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// WriteJSON prints the whole graph as one JSON document: project, stack, every resource
// in dependency order and the stack outputs, with secrets and unknowns masked. The same
// graph always prints the same bytes.
func (g *Graph) WriteJSON(w io.Writer) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // scripts and URLs stay readable: && and < print as themselves
	enc.SetIndent("", "  ")
	if err := enc.Encode(g); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// IsKubernetesObject reports whether r declares a whole Kubernetes object (not a Helm
// release, a YAML bundle or a patch), that is, something `kubectl apply` would take.
func IsKubernetesObject(r *Resource) bool {
	if !r.Custom || !strings.HasPrefix(r.Type, "kubernetes:") || strings.HasSuffix(r.Type, "Patch") {
		return false
	}
	_, hasVersion := r.Inputs["apiVersion"].(string)
	_, hasKind := r.Inputs["kind"].(string)
	return hasVersion && hasKind
}

// KubernetesObjects returns every Kubernetes object of the graph in dependency order.
func (g *Graph) KubernetesObjects() []*Resource {
	var out []*Resource
	for _, r := range g.Resources {
		if IsKubernetesObject(r) {
			out = append(out, r)
		}
	}
	return out
}

// WriteYAML prints every Kubernetes object as multi-document YAML in dependency order,
// each starting with apiVersion, kind and metadata, for tools such as kubeconform.
func (g *Graph) WriteYAML(w io.Writer) error {
	for _, r := range g.KubernetesObjects() {
		doc, err := objectNode(r.Inputs)
		if err != nil {
			return fmt.Errorf("%s: %w", r.URN, err)
		}
		var buf bytes.Buffer
		fmt.Fprintf(&buf, "---\n# %s\n", r.URN)
		enc := yaml.NewEncoder(&buf)
		enc.SetIndent(2)
		if err := enc.Encode(doc); err != nil {
			return fmt.Errorf("%s: %w", r.URN, err)
		}
		if err := enc.Close(); err != nil {
			return err
		}
		if _, err := w.Write(buf.Bytes()); err != nil {
			return err
		}
	}
	return nil
}

// objectNode builds a YAML mapping whose first keys are apiVersion, kind and metadata and
// whose other keys, at every level, are sorted.
func objectNode(obj map[string]any) (*yaml.Node, error) {
	first := []string{"apiVersion", "kind", "metadata"}
	n := &yaml.Node{Kind: yaml.MappingNode}
	var rest []string
	for k := range obj {
		if k != "apiVersion" && k != "kind" && k != "metadata" {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range append(first, rest...) {
		v, ok := obj[k]
		if !ok {
			continue
		}
		var val yaml.Node
		if err := val.Encode(v); err != nil {
			return nil, err
		}
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: k}, &val)
	}
	return n, nil
}
