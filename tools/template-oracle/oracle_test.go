package main

import (
	"encoding/json"
	"strings"
	"testing"
)

const testBlueprint = `apiVersion: cr.kanister.io/v1alpha1
kind: Blueprint
metadata:
  name: bp
actions:
  backup:
    outputArtifacts:
      out:
        keyValue:
          first: "{{ .Phases.one.Output.k }}"
          deferred: "{{ .DeferPhase.Output.d }}"
        kopiaSnapshot: "{{ .Phases.two.Output.k }}"
      empty:
        keyValue: {}
    phases:
    - func: KubeTask
      name: one
      objects:
        sec:
          kind: Secret
          name: "{{ .StatefulSet.Name }}-{{ len .Phases }}"
      args:
        own: "{{ index .Phases.one.Secrets.s.Data \"k\" | toString }}"
        ownOutput: "{{ .Phases.one.Output }}"
        current: "{{ .CurrentPhase }}"
        "{{ .StatefulSet.Namespace }}-key": [1, "{{ 1 }}", {"x": "{{ .Time }}"}, true, 2.5]
        nested:
          "{{ .StatefulSet.Namespace }}-key": "v"
    - func: KubeTask
      name: two
      args:
        prev: "{{ .Phases.one.Output.k }}"
        later: "{{ len .Phases }}"
    - func: WaitV2
      name: three
      args:
        condition: "{{ $.status }}"
    deferPhase:
      func: KubeTask
      name: cleanup
      args:
        seen: "{{ .Phases.two.Output.k }} {{ .DeferPhase.Secrets.ds.Data.k | toString }} {{ .DeferPhase.Output }}"
  broken:
    phases:
    - func: KubeTask
      name: a
      args:
        missing: "{{ .ArtifactsIn.nope.KeyValue.x }}"
    - func: KubeTask
      name: b
      args:
        parse: "{{ if }}"
    - func: KubeTask
      name: c
      args:
        nilArg: null
    - func: KubeTask
      name: d
      objects:
        o:
          name: "{{ .Namespace.Name }}"
      args: {}
`

const testParams = `{
  "time": "2025-01-02T03:04:05.123456789Z",
  "object": {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "sts", "namespace": "ns"}},
  "phases": {
    "one": {"secrets": {"s": {"metadata": {"name": "s"}, "data": {"k": "c2VjcmV0"}}}, "output": {"k": "out-one"}},
    "two": {"output": {"k": "out-two"}}
  },
  "deferPhase": {"secrets": {"ds": {"metadata": {"name": "ds"}, "data": {"k": "ZGVm"}}}, "output": {"d": "out-defer"}}
}`

func renderTestBlueprint(t *testing.T, params string) map[string]interface{} {
	t.Helper()
	bp, err := loadBlueprint([]byte(testBlueprint))
	if err != nil {
		t.Fatal(err)
	}
	rp, err := loadParams([]byte(params))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := renderBlueprint(bp, rp)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]interface{}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func get(t *testing.T, v interface{}, path ...interface{}) interface{} {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]interface{})
			if !ok {
				t.Fatalf("%v: not an object at %q", path, k)
			}
			v = m[k]
		case int:
			l, ok := v.([]interface{})
			if !ok || k >= len(l) {
				t.Fatalf("%v: no element %d", path, k)
			}
			v = l[k]
		}
	}
	return v
}

func TestBlueprintRenderingFollowsTheController(t *testing.T) {
	out := renderTestBlueprint(t, testParams)
	one := []interface{}{"backup", "phases", 0}
	checks := []struct {
		path []interface{}
		want interface{}
	}{
		// Objects are rendered before any phase runs: .Phases is empty.
		{append(one, "objects", "sec", "name"), "sts-0"},
		// A phase sees its own secrets but not its own output.
		{append(one, "args", "own"), "secret"},
		{append(one, "args", "ownOutput"), "map[]"},
		// .CurrentPhase is nil while args are rendered.
		{append(one, "args", "current"), "<nil>"},
		// Keys of nested maps are rendered, top-level arg names are not;
		// lists element-wise; other scalars unchanged.
		{append(one, "args", "nested", "ns-key"), "v"},
		{append(one, "args", "{{ .StatefulSet.Namespace }}-key", 0), 1.0},
		{append(one, "args", "{{ .StatefulSet.Namespace }}-key", 1), "1"},
		{append(one, "args", "{{ .StatefulSet.Namespace }}-key", 2, "x"), "2025-01-02T03:04:05.123456789Z"},
		{append(one, "args", "{{ .StatefulSet.Namespace }}-key", 3), true},
		{append(one, "args", "{{ .StatefulSet.Namespace }}-key", 4), 2.5},
		// Later phases see earlier outputs, but not phases still to come.
		{[]interface{}{"backup", "phases", 1, "args", "prev"}, "out-one"},
		{[]interface{}{"backup", "phases", 1, "args", "later"}, "2"},
		// WaitV2 args are passed through unrendered.
		{[]interface{}{"backup", "phases", 2, "args", "condition"}, "{{ $.status }}"},
		// The deferPhase sees every output and its own secrets, not its output.
		{[]interface{}{"backup", "deferPhase", "args", "seen"}, "out-two def map[]"},
		// Artifacts see the deferPhase output too.
		{[]interface{}{"backup", "outputArtifacts", "out", "keyValue", "deferred"}, "out-defer"},
		{[]interface{}{"backup", "outputArtifacts", "out", "kopiaSnapshot"}, "out-two"},
		// Kanister's rewrite of missing-key errors.
		{[]interface{}{"broken", "phases", 0, "error"}, `Failed to render template: "nope" not found`},
		{[]interface{}{"broken", "phases", 1, "error"}, "template: config:1: missing value for if"},
		{[]interface{}{"broken", "phases", 3, "error"}, `could not render object reference {o}: template: config:1:13: executing "config" at <.Namespace.Name>: nil pointer evaluating *param.NamespaceParams.Name`},
	}
	for _, c := range checks {
		if got := get(t, out, c.path...); got != c.want {
			t.Errorf("%v = %#v, want %#v", c.path, got, c.want)
		}
	}
	if got := get(t, out, "backup", "outputArtifacts", "empty"); len(got.(map[string]interface{})) != 0 {
		t.Errorf("empty artifact = %#v, want {}", got)
	}
	if got := get(t, out, "broken", "phases", 2, "error").(string); got != "cannot render a null argument (Kanister panics on it)" {
		t.Errorf("null arg error = %q", got)
	}
	if got := get(t, out, "broken", "deferPhase"); got != nil {
		t.Errorf("broken.deferPhase = %#v, want null", got)
	}
}

func TestObjectsAreNotRenderedWithoutTime(t *testing.T) {
	out := renderTestBlueprint(t, `{"object": {"kind": "StatefulSet", "metadata": {"name": "sts"}}}`)
	if got := get(t, out, "backup", "phases", 0, "objects"); got != nil {
		t.Errorf("objects = %#v, want null", got)
	}
}

func TestParamsDefaults(t *testing.T) {
	rp, err := loadParams([]byte(`{"object": {"kind": "Namespace", "metadata": {"name": "nsx"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		`{{ toJson .Namespace }}`:                               `{"Name":"nsx","Namespace":"nsx"}`,
		`{{ toJson .Secrets }} {{ toJson .ConfigMaps }}`:        `{} {}`,
		`{{ toJson .ArtifactsIn }} {{ toJson .Options }}`:       `null null`,
		`{{ toJson .Phases }} {{ toJson .DeferPhase }}`:         `{} {"Secrets":null,"ConfigMaps":null,"Output":null}`,
		`{{ .StatefulSet }} {{ .Profile }} {{ .CurrentPhase }}`: `<nil> <nil> <nil>`,
	}
	for src, want := range cases {
		got, err, _ := execTemplate("config", src, rp.base)
		if err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", src, got, err, want)
		}
	}
	if _, err := loadParams([]byte(`{"bogus": 1}`)); err == nil {
		t.Error("unknown fields must be rejected")
	}
	if _, err := loadParams([]byte(`{"object": {"kind": "ConfigMap"}, "workload": {}}`)); err == nil {
		t.Error("workload for a non-workload kind must be rejected")
	}
}

func TestWorkloadDefaultsAndSecretTypeMeta(t *testing.T) {
	rp, err := loadParams([]byte(`{
	  "object": {"kind": "deployment", "metadata": {"name": "d", "namespace": "n"}},
	  "secrets": {"s": {"kind": "Secret", "apiVersion": "v1", "metadata": {"name": "s"}, "data": {"k": "dg=="}}}
	}`))
	if err != nil {
		t.Fatal(err)
	}
	got, err, _ := execTemplate("config", `{{ toJson .Deployment }}|{{ toJson .Secrets.s }}`, rp.base)
	want := `{"Name":"d","Namespace":"n","Pods":[],"Containers":[],"PersistentVolumeClaims":{}}|{"metadata":{"name":"s","creationTimestamp":null},"data":{"k":"dg=="}}`
	if err != nil || got != want {
		t.Errorf("got %q, %v\nwant %q", got, err, want)
	}
}

func TestServe(t *testing.T) {
	in := strings.NewReader(`{"template": "{{ .a }}", "data": {"a": 1.5}}
{"template": "{{ .b }}", "data": {}}
{"template": "{{ .b }}", "data": {}, "kanister": true}
{"template": "{{ substr 0 1 \"é\" }}"}
not json
`)
	var out strings.Builder
	if err := serve(in, &out); err != nil {
		t.Fatal(err)
	}
	want := `{"output":"1.5","error":null}
{"output":null,"error":"template: config:1:3: executing \"config\" at <.b>: map has no entry for key \"b\"","errorKind":"exec"}
{"output":null,"error":"Failed to render template: \"b\" not found","errorKind":"exec"}
{"output":"\ufffd","error":null,"outputBase64":"ww=="}
`
	lines := strings.Split(out.String(), "\n")
	if got := strings.Join(lines[:4], "\n") + "\n"; got != want {
		t.Errorf("serve output:\n%s\nwant:\n%s", got, want)
	}
	if !strings.Contains(lines[4], `"errorKind":"request"`) {
		t.Errorf("bad request line: %s", lines[4])
	}
}

func TestKsprigReplacements(t *testing.T) {
	cases := map[string]string{
		`{{ derivePassword 1 "long" "p" "u" "s" }}`: "sprig usage of 'derivePassword' is not allowed by kanister as it is not FIPS compatible",
		`{{ genPrivateKey "dsa" }}`:                 "sprig usage of 'genPrivateKey for dsa' is not allowed",
		`{{ bcrypt "x" }}`:                          `function "bcrypt" not defined`,
	}
	for src, want := range cases {
		_, err, _ := execTemplate("config", src, nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want it to contain %q", src, err, want)
		}
	}
}
