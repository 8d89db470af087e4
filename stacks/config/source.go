package config

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Source is a stack's raw configuration: every key with its value as the Pulumi engine
// hands it to a program ("namespace:key" to a string; objects and lists as JSON).
type Source struct {
	// Project and Stack name what the configuration belongs to.
	Project, Stack string
	// Origin says where the values came from, for error messages.
	Origin string
	// Values maps "namespace:key" to its value.
	Values map[string]string
	// Secret holds the keys whose values are secret.
	Secret map[string]bool
}

// StackFile returns the path of a stack's settings file in the project directory.
func StackFile(projectDir, stack string) string {
	return filepath.Join(projectDir, "Pulumi."+stack+".yaml")
}

// ReadStackFile reads Pulumi.<stack>.yaml from the project directory the way the engine
// would present it to the program, with no passphrase: secure values become "[secret]".
func ReadStackFile(projectDir, project, stack string) (*Source, error) {
	path := StackFile(projectDir, stack)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the settings of stack %q: %w", stack, err)
	}
	return ParseStackFile(filepath.Base(path), project, stack, data)
}

// SecretPlaceholder stands in for a secure value that cannot be decrypted offline.
const SecretPlaceholder = "[secret]"

// ParseStackFile parses the contents of a stack settings file named name.
func ParseStackFile(name, project, stack string, data []byte) (*Source, error) {
	var file struct {
		Config map[string]yaml.Node `yaml:"config"`
	}
	if err := yaml.Unmarshal(data, &file); err != nil {
		return nil, fmt.Errorf("%s: not a Pulumi stack settings file: %s", name, oneLine(err.Error()))
	}
	src := &Source{
		Project: project, Stack: stack, Origin: name,
		Values: map[string]string{}, Secret: map[string]bool{},
	}
	keys := make([]string, 0, len(file.Config))
	for k := range file.Config {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		if ns, rest, ok := strings.Cut(key, ":"); !ok || ns == "" || rest == "" {
			return nil, fmt.Errorf("%s: config key %q is not of the form <namespace>:<name>; the program reads keys of the form %s:<section>", name, key, Namespace)
		}
		node := file.Config[key]
		var raw any
		if err := node.Decode(&raw); err != nil {
			return nil, fmt.Errorf("%s: %s: %s", name, key, oneLine(err.Error()))
		}
		value, secret, err := engineValue(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %s", name, key, err)
		}
		src.Values[key] = value
		if secret {
			src.Secret[key] = true
		}
	}
	return src, nil
}

// engineValue renders a decoded YAML value as the engine passes it: scalars as their
// text, objects and lists as JSON. {secure: ...} becomes the secret placeholder.
func engineValue(raw any) (string, bool, error) {
	v, secret, err := jsonable(raw)
	if err != nil {
		return "", false, err
	}
	switch x := v.(type) {
	case nil:
		return "", secret, nil
	case string:
		return x, secret, nil
	case bool, float64, int, int64, uint64:
		return fmt.Sprint(x), secret, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", false, fmt.Errorf("cannot be represented as JSON: %s", oneLine(err.Error()))
	}
	return string(b), secret, nil
}

// jsonable converts YAML-decoded values into JSON-encodable ones, replacing secure
// values by the placeholder and reporting whether it met one.
func jsonable(raw any) (any, bool, error) {
	switch x := raw.(type) {
	case map[string]any:
		if s, ok := x["secure"].(string); ok && len(x) == 1 && s != "" {
			return SecretPlaceholder, true, nil
		}
		out := make(map[string]any, len(x))
		secret := false
		for k, v := range x {
			c, s, err := jsonable(v)
			if err != nil {
				return nil, false, err
			}
			out[k], secret = c, secret || s
		}
		return out, secret, nil
	case map[any]any:
		return nil, false, fmt.Errorf("object keys must be strings")
	case []any:
		out := make([]any, len(x))
		secret := false
		for i, v := range x {
			c, s, err := jsonable(v)
			if err != nil {
				return nil, false, err
			}
			out[i], secret = c, secret || s
		}
		return out, secret, nil
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return nil, false, fmt.Errorf("%v is not a number the program can use", x)
		}
		return x, false, nil
	case nil, string, bool, int, int64, uint64:
		return x, false, nil
	default:
		// Timestamps and other YAML types reach the program as their text.
		return fmt.Sprint(x), false, nil
	}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// AssumeSecret sets the field at path (namespace:section.field...) to the secret
// placeholder, as if the stack file held it as a secret that cannot be decrypted
// offline. It lets a review render a stack whose required secret is set on the Mac but
// not in this checkout (production's Grafana password, say).
func (s *Source) AssumeSecret(path string) error {
	key, rest, _ := strings.Cut(path, ".")
	if !strings.HasPrefix(key, Namespace+":") || rest == "" {
		return fmt.Errorf("%q is not a field of a section; want %s:<section>.<field>, such as %s:grafana.adminPassword", path, Namespace, Namespace)
	}
	section := map[string]any{}
	if raw, ok := s.Values[key]; ok && raw != "" {
		if err := json.Unmarshal([]byte(raw), &section); err != nil {
			return fmt.Errorf("%s is not an object: %s", key, oneLine(err.Error()))
		}
	}
	m := section
	fields := strings.Split(rest, ".")
	for _, f := range fields[:len(fields)-1] {
		next, ok := m[f].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[f] = next
		}
		m = next
	}
	m[fields[len(fields)-1]] = SecretPlaceholder
	b, err := json.Marshal(section)
	if err != nil {
		return err
	}
	s.Values[key] = string(b)
	s.Secret[key] = true
	return nil
}
