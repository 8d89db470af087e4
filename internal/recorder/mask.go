package recorder

import (
	"fmt"
	"reflect"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// maskObject turns registered inputs into plain values: secrets become SecretMask and
// values that are not known yet become UnknownMask.
func maskObject(m resource.PropertyMap) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		// Pulumi's own bookkeeping keys carry no meaning for a reviewer.
		if k == "__defaults" {
			continue
		}
		out[string(k)] = maskProperty(v)
	}
	return out
}

func maskProperty(v resource.PropertyValue) any {
	switch {
	case v.IsSecret():
		return SecretMask
	case v.IsComputed():
		return UnknownMask
	case v.IsOutput():
		o := v.OutputValue()
		if o.Secret {
			return SecretMask
		}
		if !o.Known {
			return UnknownMask
		}
		return maskProperty(o.Element)
	case v.IsNull():
		return nil
	case v.IsBool():
		return v.BoolValue()
	case v.IsNumber():
		return v.NumberValue()
	case v.IsString():
		return v.StringValue()
	case v.IsArray():
		arr := v.ArrayValue()
		out := make([]any, len(arr))
		for i, e := range arr {
			out[i] = maskProperty(e)
		}
		return out
	case v.IsObject():
		return maskObject(v.ObjectValue())
	case v.IsAsset():
		a := v.AssetValue()
		switch {
		case a.Path != "":
			return map[string]any{"asset": a.Path}
		case a.URI != "":
			return map[string]any{"asset": a.URI}
		default:
			return map[string]any{"asset": "text sha256:" + a.Hash}
		}
	case v.IsArchive():
		a := v.ArchiveValue()
		switch {
		case a.Path != "":
			return map[string]any{"archive": a.Path}
		case a.URI != "":
			return map[string]any{"archive": a.URI}
		default:
			return map[string]any{"archive": "sha256:" + a.Hash}
		}
	case v.IsResourceReference():
		return string(v.ResourceReferenceValue().URN)
	}
	return fmt.Sprintf("%v", v.V)
}

// maskValue turns a resolved stack output into a plain value with the same masks.
func maskValue(v Value) any {
	if v.Secret {
		return SecretMask
	}
	if !v.Known {
		return UnknownMask
	}
	return plain(v.Value)
}

// plain normalises a resolved Go value (strings, numbers, maps and slices of them) so
// that JSON and YAML encoders print it the same way every time.
func plain(v any) any {
	if v == nil {
		return nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Map:
		out := make(map[string]any, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			out[fmt.Sprint(it.Key().Interface())] = plain(it.Value().Interface())
		}
		return out
	case reflect.Slice, reflect.Array:
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = plain(rv.Index(i).Interface())
		}
		return out
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(rv.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return float64(rv.Uint())
	case reflect.Float32, reflect.Float64:
		return rv.Float()
	case reflect.Bool:
		return rv.Bool()
	case reflect.String:
		return rv.String()
	case reflect.Pointer:
		if rv.IsNil() {
			return nil
		}
		return plain(rv.Elem().Interface())
	}
	return fmt.Sprint(v)
}
