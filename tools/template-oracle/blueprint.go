package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/yaml"

	"kapsel.dev/template-oracle/param"
	"kapsel.dev/template-oracle/v1alpha1"
)

// skipRenderFuncs are the functions whose args the controller passes on
// unrendered (they render their own templates); compared lower-cased.
var skipRenderFuncs = map[string]bool{"wait": true, "waitv2": true}

type phaseResult struct {
	Name    string                              `json:"name"`
	Func    string                              `json:"func"`
	Objects map[string]v1alpha1.ObjectReference `json:"objects"`
	Args    map[string]interface{}              `json:"args"`
}

type phaseError struct {
	Name  string `json:"name"`
	Func  string `json:"func"`
	Error string `json:"error"`
}

type actionResult struct {
	Phases               []interface{}                `json:"phases"`
	DeferPhase           interface{}                  `json:"deferPhase"`
	OutputArtifacts      map[string]v1alpha1.Artifact `json:"outputArtifacts,omitempty"`
	OutputArtifactsError *string                      `json:"outputArtifactsError,omitempty"`
}

func renderBlueprintFiles(bpPath, paramsPath string) ([]byte, error) {
	bpYAML, err := os.ReadFile(bpPath)
	if err != nil {
		return nil, err
	}
	paramsJSON, err := os.ReadFile(paramsPath)
	if err != nil {
		return nil, err
	}
	bp, err := loadBlueprint(bpYAML)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", bpPath, err)
	}
	rp, err := loadParams(paramsJSON)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", paramsPath, err)
	}
	return renderBlueprint(bp, rp)
}

// loadBlueprint decodes YAML the way the Blueprint reaches the controller:
// YAML is converted to JSON, and JSON numbers inside args become int64 when
// integral and float64 otherwise (client-go's decoding of CR objects).
func loadBlueprint(data []byte) (*v1alpha1.Blueprint, error) {
	j, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, err
	}
	var bp v1alpha1.Blueprint
	if err := utiljson.Unmarshal(j, &bp); err != nil {
		return nil, err
	}
	if bp.Kind != "Blueprint" {
		return nil, fmt.Errorf("not a Blueprint (kind %q)", bp.Kind)
	}
	return &bp, nil
}

func renderPhase(p v1alpha1.BlueprintPhase, objects map[string]v1alpha1.ObjectReference, objErr error, tp param.TemplateParams) interface{} {
	if objErr != nil {
		return phaseError{Name: p.Name, Func: p.Func, Error: objErr.Error()}
	}
	var args map[string]interface{}
	if skipRenderFuncs[strings.ToLower(p.Func)] {
		args = p.Args
	} else {
		var err error
		args, err = renderArgs(p.Args, tp)
		if err != nil {
			return phaseError{Name: p.Name, Func: p.Func, Error: err.Error()}
		}
	}
	return phaseResult{Name: p.Name, Func: p.Func, Objects: objects, Args: args}
}

// renderAction follows pkg/controller and pkg/phase.go:
//  1. param.New's TemplateParams (Phases empty, DeferPhase empty) render the
//     object references of every phase and of the deferPhase up front.
//  2. Phases run in order. Before phase i runs, .Phases holds phases 0..i-1
//     with their Secrets, ConfigMaps and Output and phase i with its Secrets
//     and ConfigMaps only; its args are rendered then. .CurrentPhase is nil
//     while args are rendered (Phase.Exec sets it afterwards, on its copy).
//  3. The deferPhase's args see every phase with output, and .DeferPhase
//     with Secrets and ConfigMaps only.
//  4. Output artifacts see .DeferPhase with its output as well.
//
// Unlike the controller, every phase is rendered even if an earlier one
// failed, so a golden shows all problems at once.
func renderAction(a *v1alpha1.BlueprintAction, rp *renderParams) actionResult {
	initial := rp.base
	initial.Phases = map[string]*param.Phase{}
	initial.DeferPhase = &param.Phase{}

	type objs struct {
		m   map[string]v1alpha1.ObjectReference
		err error
	}
	phaseObjs := make([]objs, len(a.Phases))
	for i, p := range a.Phases {
		m, err := renderObjectRefs(p.ObjectRefs, initial)
		phaseObjs[i] = objs{m, err}
	}
	var deferObjs objs
	if a.DeferPhase != nil {
		deferObjs.m, deferObjs.err = renderObjectRefs(a.DeferPhase.ObjectRefs, initial)
	}

	res := actionResult{Phases: []interface{}{}}
	phases := map[string]*param.Phase{}
	for i, p := range a.Phases {
		tp := rp.base
		tp.DeferPhase = &param.Phase{}
		tp.CurrentPhase = nil
		phases[p.Name] = phaseParams(rp.phases[p.Name], false)
		tp.Phases = copyPhases(phases)
		res.Phases = append(res.Phases, renderPhase(p, phaseObjs[i].m, phaseObjs[i].err, tp))
		phases[p.Name] = phaseParams(rp.phases[p.Name], true)
	}

	deferParams := &param.Phase{}
	if a.DeferPhase != nil {
		tp := rp.base
		tp.CurrentPhase = nil
		tp.Phases = copyPhases(phases)
		tp.DeferPhase = phaseParams(rp.deferPhase, false)
		res.DeferPhase = renderPhase(*a.DeferPhase, deferObjs.m, deferObjs.err, tp)
		deferParams = phaseParams(rp.deferPhase, true)
	}

	tp := rp.base
	tp.CurrentPhase = nil
	tp.Phases = copyPhases(phases)
	tp.DeferPhase = deferParams
	arts, err := renderArtifacts(a.OutputArtifacts, tp)
	if err != nil {
		msg := err.Error()
		res.OutputArtifactsError = &msg
	} else {
		res.OutputArtifacts = arts
	}
	return res
}

func copyPhases(m map[string]*param.Phase) map[string]*param.Phase {
	out := make(map[string]*param.Phase, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func renderBlueprint(bp *v1alpha1.Blueprint, rp *renderParams) ([]byte, error) {
	result := map[string]actionResult{}
	for name, a := range bp.Actions {
		if a == nil {
			return nil, fmt.Errorf("action %q is null", name)
		}
		result[name] = renderAction(a, rp)
	}
	// Round-trip through a generic value so that every object's keys come
	// out sorted.
	raw, err := json.Marshal(result)
	if err != nil {
		return nil, err
	}
	var generic interface{}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&generic); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(generic); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
