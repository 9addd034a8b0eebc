package main

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"text/template"

	"kapsel.dev/template-oracle/param"
	"kapsel.dev/template-oracle/v1alpha1"
)

// funcs is built once: sprig.TxtFuncMap() is expensive.
var funcs = kanisterFuncMap()

// execTemplate parses and executes src the way Kanister's
// param.renderStringArg does and returns Go's raw error. parseErr tells
// whether the error came from Parse (true) or Execute (false).
func execTemplate(name, src string, data interface{}) (out string, err error, parseErr bool) {
	t, err := template.New(name).Option("missingkey=error").Funcs(funcs).Parse(src)
	if err != nil {
		return "", err, true
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return "", err, false
	}
	return buf.String(), nil, false
}

const undefinedKeyMarker = "map has no entry for key "

// kanisterError applies Kanister's rewrite of execution errors that mention
// a missing map key (a plain substring test on the error text).
func kanisterError(err error, parseErr bool) error {
	if err == nil || parseErr {
		return err
	}
	msg := err.Error()
	if !strings.Contains(msg, undefinedKeyMarker) {
		return err
	}
	pos := strings.LastIndex(msg, undefinedKeyMarker) + len(undefinedKeyMarker)
	key := strings.Trim(msg[pos:], "\"")
	return fmt.Errorf("Failed to render template: \"%s\" not found", key)
}

// renderStringArg mirrors Kanister's renderStringArg including its rewrite
// of missing-key errors.
func renderStringArg(src string, tp param.TemplateParams) (string, error) {
	out, err, parseErr := execTemplate("config", src, tp)
	if err != nil {
		return "", kanisterError(err, parseErr)
	}
	return out, nil
}

// renderValue mirrors Kanister's param.render: strings are rendered, slices
// element-wise, maps key and value, ObjectReference field by field, and every
// other value is returned unchanged. Map entries are visited in sorted key
// order (Kanister's order is Go's random map order), so the first error is
// deterministic.
func renderValue(arg interface{}, tp param.TemplateParams) (interface{}, error) {
	switch v := arg.(type) {
	case nil:
		// reflect.TypeOf(nil).Kind() panics inside Kanister's param.render.
		return nil, errors.New("cannot render a null argument (Kanister panics on it)")
	case string:
		return renderStringArg(v, tp)
	case []interface{}:
		out := make([]interface{}, 0, len(v))
		for _, e := range v {
			r, err := renderValue(e, tp)
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
		return out, nil
	case map[string]interface{}:
		out := make(map[string]interface{}, len(v))
		for _, k := range sortedKeys(v) {
			rk, err := renderStringArg(k, tp)
			if err != nil {
				return nil, err
			}
			rv, err := renderValue(v[k], tp)
			if err != nil {
				return nil, err
			}
			out[rk] = rv
		}
		return out, nil
	default:
		if reflect.TypeOf(arg).Kind() == reflect.Map || reflect.TypeOf(arg).Kind() == reflect.Slice {
			return nil, fmt.Errorf("oracle: unexpected argument type %T", arg)
		}
		return arg, nil
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// renderArgs mirrors param.RenderArgs.
func renderArgs(args map[string]interface{}, tp param.TemplateParams) (map[string]interface{}, error) {
	out := make(map[string]interface{}, len(args))
	for _, k := range sortedKeys(args) {
		r, err := renderValue(args[k], tp)
		if err != nil {
			return nil, err
		}
		out[k] = r
	}
	return out, nil
}

// renderObjectRefs mirrors param.RenderObjectRefs, including its early
// return of nil when .Time is empty.
func renderObjectRefs(in map[string]v1alpha1.ObjectReference, tp param.TemplateParams) (map[string]v1alpha1.ObjectReference, error) {
	if tp.Time == "" {
		return nil, nil
	}
	out := make(map[string]v1alpha1.ObjectReference, len(in))
	for _, k := range sortedKeys(in) {
		ref := in[k]
		fields := []*string{&ref.APIVersion, &ref.Group, &ref.Resource, &ref.Kind, &ref.Name, &ref.Namespace}
		for _, f := range fields {
			r, err := renderStringArg(*f, tp)
			if err != nil {
				return nil, fmt.Errorf("could not render object reference {%s}: %w", k, err)
			}
			*f = r
		}
		out[k] = ref
	}
	return out, nil
}

// renderArtifacts mirrors param.RenderArtifacts.
func renderArtifacts(arts map[string]v1alpha1.Artifact, tp param.TemplateParams) (map[string]v1alpha1.Artifact, error) {
	out := make(map[string]v1alpha1.Artifact, len(arts))
	for _, name := range sortedKeys(arts) {
		a := arts[name]
		ra := v1alpha1.Artifact{}
		for _, k := range sortedKeys(a.KeyValue) {
			rv, err := renderStringArg(a.KeyValue[k], tp)
			if err != nil {
				return nil, err
			}
			if ra.KeyValue == nil {
				ra.KeyValue = make(map[string]string, len(a.KeyValue))
			}
			ra.KeyValue[k] = rv
		}
		if a.KopiaSnapshot != "" {
			ks, err := renderStringArg(a.KopiaSnapshot, tp)
			if err != nil {
				return nil, err
			}
			ra.KopiaSnapshot = ks
		}
		out[name] = ra
	}
	return out, nil
}
