// Package v1alpha1 mirrors the subset of Kanister's cr.kanister.io/v1alpha1
// API types that template rendering touches. The package name, type names,
// field names, field order and json tags follow Kanister's
// pkg/apis/cr/v1alpha1 so that Go's reflection-based messages
// (e.g. "can't evaluate field X in type v1alpha1.Artifact") and toJson output
// are identical.
package v1alpha1

// JSONMap holds free-form JSON (ActionSpec.podOverride).
type JSONMap map[string]interface{}

// ObjectReference points at a Kubernetes object.
type ObjectReference struct {
	APIVersion string `json:"apiVersion"`
	Group      string `json:"group"`
	Resource   string `json:"resource"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	Namespace  string `json:"namespace,omitempty"`
}

// Artifact is an action's input or output artifact.
type Artifact struct {
	KeyValue      map[string]string `json:"keyValue,omitempty"`
	KopiaSnapshot string            `json:"kopiaSnapshot,omitempty"`
}

// Blueprint is the subset of the Blueprint CR the renderer needs.
type Blueprint struct {
	APIVersion string                      `json:"apiVersion,omitempty"`
	Kind       string                      `json:"kind,omitempty"`
	Metadata   map[string]interface{}      `json:"metadata"`
	Actions    map[string]*BlueprintAction `json:"actions,omitempty"`
}

// BlueprintAction is one named action of a Blueprint.
type BlueprintAction struct {
	Name               string              `json:"name"`
	Kind               string              `json:"kind"`
	ConfigMapNames     []string            `json:"configMapNames,omitempty"`
	SecretNames        []string            `json:"secretNames,omitempty"`
	InputArtifactNames []string            `json:"inputArtifactNames,omitempty"`
	OutputArtifacts    map[string]Artifact `json:"outputArtifacts,omitempty"`
	Phases             []BlueprintPhase    `json:"phases,omitempty"`
	DeferPhase         *BlueprintPhase     `json:"deferPhase,omitempty"`
}

// BlueprintPhase is one function invocation.
type BlueprintPhase struct {
	Func       string                     `json:"func"`
	Name       string                     `json:"name"`
	ObjectRefs map[string]ObjectReference `json:"objects,omitempty"`
	Args       map[string]interface{}     `json:"args"`
}

// LocationType is the kind of object store.
type LocationType string

// Location is where a Profile stores artifacts.
type Location struct {
	Type     LocationType `json:"type"`
	Bucket   string       `json:"bucket"`
	Endpoint string       `json:"endpoint"`
	Prefix   string       `json:"prefix"`
	Region   string       `json:"region"`
}
