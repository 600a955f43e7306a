package validation

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"

	"k8s.io/apimachinery/pkg/util/diff"
)

// objectDiff is the difference between two API values that some of
// upstream's messages end with ("existing ephemeral containers ... may not be
// changed"): a unified diff of their indented JSON. Upstream renders its
// internal types, which have no json tags, so the JSON names every field by
// its Go name, empty ones too; the value is rendered here the same way, which
// gives upstream's text wherever the internal type has the v1 type's fields
// (a container does; a pod spec does not quite).
func objectDiff(a, b any) string {
	ja, errA := goJSON(reflect.ValueOf(a))
	jb, errB := goJSON(reflect.ValueOf(b))
	if errA != nil || errB != nil {
		return diff.Diff(a, b)
	}
	return diff.Diff(json.RawMessage(ja), json.RawMessage(jb))
}

var marshalerType = reflect.TypeFor[json.Marshaler]()

// goJSON renders v as encoding/json renders a value whose struct types have
// no json tags.
func goJSON(v reflect.Value) ([]byte, error) {
	var buf bytes.Buffer
	if err := writeGoJSON(&buf, v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeGoJSON(buf *bytes.Buffer, v reflect.Value) error {
	if !v.IsValid() {
		buf.WriteString("null")
		return nil
	}
	// Quantities, times and int-or-strings render themselves.
	if v.Type().Implements(marshalerType) || (v.CanAddr() && v.Addr().Type().Implements(marshalerType)) {
		if v.Kind() == reflect.Pointer && v.IsNil() {
			buf.WriteString("null")
			return nil
		}
		b, err := json.Marshal(v.Interface())
		if err != nil {
			return err
		}
		buf.Write(b)
		return nil
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			buf.WriteString("null")
			return nil
		}
		return writeGoJSON(buf, v.Elem())
	case reflect.Struct:
		buf.WriteByte('{')
		first := true
		if err := writeFields(buf, v, &first); err != nil {
			return err
		}
		buf.WriteByte('}')
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			buf.WriteString("null")
			return nil
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			b, err := json.Marshal(v.Interface())
			if err != nil {
				return err
			}
			buf.Write(b)
			return nil
		}
		buf.WriteByte('[')
		for i := range v.Len() {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeGoJSON(buf, v.Index(i)); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case reflect.Map:
		if v.IsNil() {
			buf.WriteString("null")
			return nil
		}
		if v.Type().Key().Kind() != reflect.String {
			return fmt.Errorf("map key %s", v.Type().Key())
		}
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		buf.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			name, _ := json.Marshal(k.String())
			buf.Write(name)
			buf.WriteByte(':')
			if err := writeGoJSON(buf, v.MapIndex(k)); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	default:
		b, err := json.Marshal(v.Interface())
		if err != nil {
			return err
		}
		buf.Write(b)
	}
	return nil
}

// writeFields writes a struct's exported fields under their Go names,
// inlining embedded structs as encoding/json does.
func writeFields(buf *bytes.Buffer, v reflect.Value, first *bool) error {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			if err := writeFields(buf, v.Field(i), first); err != nil {
				return err
			}
			continue
		}
		if !*first {
			buf.WriteByte(',')
		}
		*first = false
		name, _ := json.Marshal(f.Name)
		buf.Write(name)
		buf.WriteByte(':')
		if err := writeGoJSON(buf, v.Field(i)); err != nil {
			return err
		}
	}
	return nil
}
