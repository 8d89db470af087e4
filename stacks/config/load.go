package config

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"
)

// Load turns a stack's raw configuration into the typed tree: the profile's defaults
// overlaid with what the stack sets, then validated. Unknown keys, values of the wrong
// type and values out of range are all reported together in one *ConfigError. probes,
// when set, are asked whether the files the configuration names are there; nil checks
// none.
func Load(src *Source, probes Probes) (*Config, error) {
	var ps problems
	profile, ok := src.Values[Namespace+":profile"]
	if !ok {
		profile = src.Stack
	}
	cfg, ok := Defaults(profile)
	if !ok {
		if _, set := src.Values[Namespace+":profile"]; set {
			d := decoder{ps: &ps, secret: src.Secret[Namespace+":profile"]}
			ps.add(Namespace+":profile", "%s is not a profile; allowed: %s", d.show(profile), strings.Join(Profiles(), ", "))
		} else {
			ps.add(Namespace+":profile", "not set, and the stack name %q is not a profile; set it to one of: %s", src.Stack, strings.Join(Profiles(), ", "))
		}
		return nil, &ConfigError{Stack: src.Stack, Origin: src.Origin, Problems: ps}
	}
	vmType := requestedVMType(src)
	cfg.onVMNetwork(vmType)
	// A stack that runs no MetalLB inherits none of the profile's settings for it.
	target := requestedTarget(src, cfg.Cluster.Target)
	if target != TargetColima {
		cfg.withoutMetalLB()
	}
	cfg.stack = src.Stack
	if probes != nil {
		cfg.stat = probes.Stat
	}
	cfg.secret = map[string]bool{}
	for k, secret := range src.Secret {
		cfg.secret[k] = secret
	}

	keys := make([]string, 0, len(src.Values))
	for k := range src.Values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	root := reflect.ValueOf(&cfg).Elem()
	for _, key := range keys {
		ns, name, _ := strings.Cut(key, ":")
		if ns != Namespace {
			if ns == src.Project || (ns != "" && distance(ns, Namespace) <= 2) {
				ps.add(key, "the program does not read namespace %q; did you mean %s:%s?", ns, Namespace, name)
			}
			continue
		}
		field, ok := fieldByTag(root, name)
		if !ok {
			ps.add(key, "unknown key; %s", suggest(name, tagsOf(root.Type()), Namespace+":"))
			continue
		}
		if name == "profile" {
			continue // already applied
		}
		// On an existing cluster a MetalLB section reads as "install it": say it is not.
		// The other targets ignore it, as they do every platform setting they do not use.
		if name == "metallb" && target == TargetExisting {
			ps.add(key, "is only for lamina:cluster.target colima, where the program runs MetalLB in its own VM; with %s the cluster's own load balancer gives the gateway its address (lamina:edge.address); remove it", target)
			continue
		}
		d := decoder{ps: &ps, secret: src.Secret[key]}
		raw, ok := d.section(key, src.Values[key], field.Kind())
		if ok {
			d.decode(key, raw, field)
		}
	}
	cfg.sideBySideDefaults(vmType)
	if target == TargetExisting {
		// The profiles' networks are the Colima VM's: on another cluster they would be a
		// guess, so the stack says its own.
		for _, f := range []struct{ section, field, what string }{
			{"cluster", "nodeCIDR", "the network of the cluster's nodes, which the network policies open the API server and the kubelets to (a profile's value is the Colima VM's network)"},
			{"edge", "address", "the address the cluster's load balancer gives the gateway, which the outputs' URLs and lamina hosts use (a profile's value is an address of the Colima VM's network)"},
		} {
			if !setsField(src, f.section, f.field) {
				ps.add(Namespace+":"+f.section+"."+f.field, "is required with lamina:cluster.target existing: %s", f.what)
			}
		}
	}
	// Validate even after decoding problems: a value that could not be decoded keeps the
	// profile's default, so the rest is checked as it will be used, and every problem is
	// reported in one go. A key already reported is not reported twice.
	reported := map[string]bool{}
	for _, p := range ps {
		reported[p.Key] = true
	}
	for _, p := range validate(&cfg) {
		if !reported[p.Key] {
			ps = append(ps, p)
		}
	}
	if len(ps) > 0 {
		sort.SliceStable(ps, func(i, j int) bool { return ps[i].Key < ps[j].Key })
		return nil, &ConfigError{Stack: src.Stack, Origin: src.Origin, Problems: ps}
	}
	return &cfg, nil
}

// decoder overlays raw configuration values onto the typed tree and collects problems.
// A secret value never appears in a message.
type decoder struct {
	ps     *problems
	secret bool
}

// show names a value for a message.
func (d decoder) show(raw any) string {
	if d.secret {
		return "a secret value"
	}
	return describe(raw)
}

// section parses a top-level value: objects and lists arrive as JSON, scalars as text.
func (d decoder) section(key, text string, kind reflect.Kind) (any, bool) {
	if kind != reflect.Struct && kind != reflect.Slice && kind != reflect.Map {
		return text, true
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(text)))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil || dec.More() {
		d.ps.add(key, "expected %s, got %s", kindName(kind), d.show(text))
		return nil, false
	}
	return raw, true
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

// retired are keys earlier versions read, by the type that read them, each with what
// replaced it, so that a stack file written for them is refused with the way forward
// rather than a guess.
var retired = map[reflect.Type]map[string]string{
	reflect.TypeFor[Edge](): {
		"routes": "each component serves its own hostname now (grafana, prometheus, jaeger, kiali, llm, dashboard and core under lamina:edge.domain); remove the key",
	},
	reflect.TypeFor[HelmChart](): {"repo": "renamed repository; every chart pin is repository, name, version, timeout and values"},
	reflect.TypeFor[IstioCharts](): {
		"repo":    "each of Istio's charts has its own pin now: base, cni, istiod and gateway, each with repository, name, version, timeout and values",
		"version": "each of Istio's charts has its own pin now: set base.version, cni.version, istiod.version and gateway.version alike",
		"timeout": "each of Istio's charts has its own pin now: base, cni, istiod and gateway, each with its timeout",
	},
}

// decode overlays raw onto dst, reporting every mismatch under its full key.
func (d decoder) decode(key string, raw any, dst reflect.Value) {
	ps := d.ps
	if dst.CanAddr() && dst.Addr().Type().Implements(textUnmarshaler) {
		s, ok := raw.(string)
		if !ok {
			ps.add(key, "expected a string, got %s", d.show(raw))
			return
		}
		if err := dst.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			ps.add(key, "%s is %s", d.show(s), err)
		}
		return
	}
	switch dst.Kind() {
	case reflect.Struct:
		obj, ok := raw.(map[string]any)
		if !ok {
			ps.add(key, "expected an object with keys %s, got %s", strings.Join(tagsOf(dst.Type()), ", "), d.show(raw))
			return
		}
		names := make([]string, 0, len(obj))
		for k := range obj {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, name := range names {
			field, ok := fieldByTag(dst, name)
			if !ok {
				if why, gone := retired[dst.Type()][name]; gone {
					ps.add(key+"."+name, "is no longer a setting: %s", why)
				} else {
					ps.add(key+"."+name, "unknown key; %s", suggest(name, tagsOf(dst.Type()), key+"."))
				}
				continue
			}
			d.decode(key+"."+name, obj[name], field)
		}
	case reflect.String:
		s, ok := raw.(string)
		if !ok {
			ps.add(key, "expected a string, got %s", d.show(raw))
			return
		}
		dst.SetString(s)
	case reflect.Bool:
		switch v := raw.(type) {
		case bool:
			dst.SetBool(v)
		case string:
			// Top-level scalars arrive as text.
			if v != "true" && v != "false" {
				ps.add(key, "expected true or false, got %s", d.show(v))
				return
			}
			dst.SetBool(v == "true")
		default:
			ps.add(key, "expected true or false, got %s", d.show(raw))
		}
	case reflect.Int, reflect.Int64:
		n, ok := raw.(json.Number)
		if !ok {
			ps.add(key, "expected a whole number, got %s", d.show(raw))
			return
		}
		i, err := n.Int64()
		if err != nil {
			if f, ferr := n.Float64(); ferr == nil && f == math.Trunc(f) && math.Abs(f) < 1e18 {
				i = int64(f) // 12.0 is a whole number
			} else {
				ps.add(key, "expected a whole number, got %s", d.show(n))
				return
			}
		}
		if i > math.MaxInt32 || i < math.MinInt32 {
			ps.add(key, "%s is out of range", d.show(n))
			return
		}
		dst.SetInt(i)
	case reflect.Float64:
		n, ok := raw.(json.Number)
		if !ok {
			ps.add(key, "expected a number, got %s", d.show(raw))
			return
		}
		f, err := n.Float64()
		if err != nil || math.IsInf(f, 0) {
			ps.add(key, "expected a number, got %s", d.show(n))
			return
		}
		dst.SetFloat(f)
	case reflect.Slice:
		arr, ok := raw.([]any)
		if !ok {
			ps.add(key, "expected a list, got %s", d.show(raw))
			return
		}
		out := reflect.MakeSlice(dst.Type(), len(arr), len(arr))
		for i, e := range arr {
			d.decode(fmt.Sprintf("%s[%d]", key, i), e, out.Index(i))
		}
		dst.Set(out)
	case reflect.Map:
		obj, ok := raw.(map[string]any)
		if !ok {
			ps.add(key, "expected an object, got %s", d.show(raw))
			return
		}
		if dst.IsNil() {
			dst.Set(reflect.MakeMap(dst.Type()))
		}
		for name, v := range obj {
			elem := reflect.New(dst.Type().Elem()).Elem()
			if old := dst.MapIndex(reflect.ValueOf(name)); old.IsValid() {
				elem.Set(old)
			}
			d.decode(entryKey(key, name), v, elem)
			dst.SetMapIndex(reflect.ValueOf(name), elem)
		}
	case reflect.Interface:
		// Free-form values (a chart's extra values) are taken as the JSON says.
		if raw != nil {
			dst.Set(reflect.ValueOf(raw))
		}
	default:
		ps.add(key, "cannot be set from configuration")
	}
}

// fieldByTag finds the struct field whose json tag is name.
func fieldByTag(v reflect.Value, name string) (reflect.Value, bool) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		if tag, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); tag == name && tag != "" && tag != "-" {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}

// tagsOf lists the config keys of a struct type, sorted.
func tagsOf(t reflect.Type) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		if tag, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); tag != "" && tag != "-" {
			out = append(out, tag)
		}
	}
	sort.Strings(out)
	return out
}

// suggest names the nearest known key, or lists them all when none is near.
func suggest(name string, known []string, prefix string) string {
	best, bestDist := "", math.MaxInt
	lower := strings.ToLower(name)
	for _, k := range known {
		lk := strings.ToLower(k)
		d := distance(lower, lk)
		if d > 1 && lower != "" && (strings.HasPrefix(lk, lower) || strings.HasPrefix(lower, lk)) {
			d = 1 // memory for memoryGiB
		}
		if d < bestDist {
			best, bestDist = k, d
		}
	}
	if best != "" && bestDist <= max(2, len(name)/3) {
		return fmt.Sprintf("did you mean %s%s?", prefix, best)
	}
	return "known keys: " + strings.Join(known, ", ")
}

// distance is the Levenshtein edit distance between a and b.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

func kindName(k reflect.Kind) string {
	switch k {
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice:
		return "a list"
	}
	return "a value"
}

// describe names a decoded JSON value for an error message.
func describe(raw any) string {
	switch v := raw.(type) {
	case nil:
		return "nothing (null)"
	case string:
		return quote(v)
	case json.Number:
		return v.String()
	case bool:
		return fmt.Sprint(v)
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	}
	return fmt.Sprintf("%v", raw)
}
