package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utiljson "k8s.io/apimachinery/pkg/util/json"

	"kapsel.dev/template-oracle/param"
	"kapsel.dev/template-oracle/v1alpha1"
)

// paramsFile is Kapsel's "render parameters" file format. See README.md for
// how each field maps onto param.TemplateParams.
type paramsFile struct {
	Time           *string                      `json:"time"`
	Object         json.RawMessage              `json:"object"`
	Workload       *workloadFile                `json:"workload"`
	ArtifactsIn    map[string]v1alpha1.Artifact `json:"artifactsIn"`
	ConfigMaps     map[string]corev1.ConfigMap  `json:"configMaps"`
	Secrets        map[string]corev1.Secret     `json:"secrets"`
	Profile        *profileFile                 `json:"profile"`
	Options        map[string]string            `json:"options"`
	PodOverride    json.RawMessage              `json:"podOverride"`
	PodLabels      map[string]string            `json:"podLabels"`
	PodAnnotations map[string]string            `json:"podAnnotations"`
	Phases         map[string]*phaseFile        `json:"phases"`
	DeferPhase     *phaseFile                   `json:"deferPhase"`
	// Comment is ignored; fixtures use it to describe themselves.
	Comment interface{} `json:"comment"`
}

type workloadFile struct {
	Pods                   []string                     `json:"pods"`
	Containers             [][]string                   `json:"containers"`
	PersistentVolumeClaims map[string]map[string]string `json:"persistentVolumeClaims"`
}

type profileFile struct {
	Location      v1alpha1.Location `json:"location"`
	Credential    credentialFile    `json:"credential"`
	SkipSSLVerify bool              `json:"skipSSLVerify"`
}

type credentialFile struct {
	Type              string         `json:"type"`
	KeyPair           *keyPairFile   `json:"keyPair"`
	Secret            *corev1.Secret `json:"secret"`
	KopiaServerSecret *kopiaFile     `json:"kopiaServerSecret"`
}

type keyPairFile struct {
	ID     string `json:"id"`
	Secret string `json:"secret"`
}

type kopiaFile struct {
	Username       string         `json:"username"`
	Hostname       string         `json:"hostname"`
	Password       string         `json:"password"`
	Cert           string         `json:"cert"`
	ConnectOptions map[string]int `json:"connectOptions"`
}

type phaseFile struct {
	Secrets    map[string]corev1.Secret    `json:"secrets"`
	ConfigMaps map[string]corev1.ConfigMap `json:"configMaps"`
	Output     map[string]interface{}      `json:"output"`
}

// renderParams is a decoded params file: the TemplateParams Kanister would
// have right after param.New, plus the per-phase data that the controller
// adds while the action runs.
type renderParams struct {
	base       param.TemplateParams
	phases     map[string]*phaseFile
	deferPhase *phaseFile
}

func decodeStrict(data []byte, v interface{}) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after the JSON value")
	}
	return nil
}

// stripSecretTypeMeta mirrors client-go's typed clients, which return
// objects with an empty TypeMeta (no kind, no apiVersion).
func stripSecrets(m map[string]corev1.Secret) map[string]corev1.Secret {
	out := make(map[string]corev1.Secret, len(m))
	for k, s := range m {
		s.TypeMeta = metav1.TypeMeta{}
		out[k] = s
	}
	return out
}

func stripConfigMaps(m map[string]corev1.ConfigMap) map[string]corev1.ConfigMap {
	out := make(map[string]corev1.ConfigMap, len(m))
	for k, c := range m {
		c.TypeMeta = metav1.TypeMeta{}
		out[k] = c
	}
	return out
}

func stringAt(obj map[string]interface{}, path ...string) string {
	var cur interface{} = obj
	for _, p := range path {
		m, ok := cur.(map[string]interface{})
		if !ok {
			return ""
		}
		cur = m[p]
	}
	s, _ := cur.(string)
	return s
}

func loadParams(data []byte) (*renderParams, error) {
	var f paramsFile
	if err := decodeStrict(data, &f); err != nil {
		return nil, fmt.Errorf("params: %w", err)
	}
	tp := param.TemplateParams{
		ArtifactsIn:    f.ArtifactsIn,
		ConfigMaps:     stripConfigMaps(f.ConfigMaps),
		Secrets:        stripSecrets(f.Secrets),
		Options:        f.Options,
		PodAnnotations: f.PodAnnotations,
		PodLabels:      f.PodLabels,
		DeferPhase:     &param.Phase{},
		Phases:         make(map[string]*param.Phase),
	}
	if f.Time != nil {
		tp.Time = *f.Time
	}
	if len(f.PodOverride) > 0 && string(f.PodOverride) != "null" {
		var po map[string]interface{}
		if err := utiljson.Unmarshal(f.PodOverride, &po); err != nil {
			return nil, fmt.Errorf("params: podOverride: %w", err)
		}
		tp.PodOverride = v1alpha1.JSONMap(po)
	}
	if len(f.Object) > 0 && string(f.Object) != "null" {
		var obj map[string]interface{}
		if err := utiljson.Unmarshal(f.Object, &obj); err != nil {
			return nil, fmt.Errorf("params: object: %w", err)
		}
		tp.Object = obj
	}
	if f.Profile != nil {
		p := &param.Profile{
			Location:      f.Profile.Location,
			SkipSSLVerify: f.Profile.SkipSSLVerify,
		}
		c := f.Profile.Credential
		p.Credential.Type = param.CredentialType(c.Type)
		if c.KeyPair != nil {
			p.Credential.KeyPair = &param.KeyPair{ID: c.KeyPair.ID, Secret: c.KeyPair.Secret}
		}
		if c.Secret != nil {
			s := *c.Secret
			s.TypeMeta = metav1.TypeMeta{}
			p.Credential.Secret = &s
		}
		if c.KopiaServerSecret != nil {
			k := c.KopiaServerSecret
			p.Credential.KopiaServerSecret = &param.KopiaServerCreds{
				Username:       k.Username,
				Hostname:       k.Hostname,
				Password:       k.Password,
				Cert:           k.Cert,
				ConnectOptions: k.ConnectOptions,
			}
		}
		tp.Profile = p
	}

	kind := strings.ToLower(stringAt(tp.Object, "kind"))
	name := stringAt(tp.Object, "metadata", "name")
	namespace := stringAt(tp.Object, "metadata", "namespace")
	var w workloadFile
	if f.Workload != nil {
		w = *f.Workload
	}
	if w.Pods == nil {
		w.Pods = []string{}
	}
	if w.Containers == nil {
		w.Containers = [][]string{}
	}
	for i, c := range w.Containers {
		if c == nil {
			w.Containers[i] = []string{}
		}
	}
	if w.PersistentVolumeClaims == nil {
		w.PersistentVolumeClaims = map[string]map[string]string{}
	}
	switch kind {
	case "statefulset":
		tp.StatefulSet = &param.StatefulSetParams{Name: name, Namespace: namespace, Pods: w.Pods, Containers: w.Containers, PersistentVolumeClaims: w.PersistentVolumeClaims}
	case "deployment":
		tp.Deployment = &param.DeploymentParams{Name: name, Namespace: namespace, Pods: w.Pods, Containers: w.Containers, PersistentVolumeClaims: w.PersistentVolumeClaims}
	case "deploymentconfig":
		tp.DeploymentConfig = &param.DeploymentConfigParams{Name: name, Namespace: namespace, Pods: w.Pods, Containers: w.Containers, PersistentVolumeClaims: w.PersistentVolumeClaims}
	default:
		if f.Workload != nil {
			return nil, fmt.Errorf("params: \"workload\" is only valid for StatefulSet, Deployment and DeploymentConfig objects, not kind %q", stringAt(tp.Object, "kind"))
		}
		switch kind {
		case "persistentvolumeclaim", "pvc":
			tp.PVC = &param.PVCParams{Name: name, Namespace: namespace}
		case "namespace":
			// kanctl puts the namespace's name into both fields of the
			// ActionSpec object reference, and param.New copies
			// ObjectReference.Namespace into both.
			tp.Namespace = &param.NamespaceParams{Name: name, Namespace: name}
		}
	}

	for n, p := range f.Phases {
		if p == nil {
			return nil, fmt.Errorf("params: phases.%s is null", n)
		}
	}
	return &renderParams{base: tp, phases: f.Phases, deferPhase: f.DeferPhase}, nil
}

// phaseParams builds the .Phases entry Kanister's InitPhaseParams creates:
// fetched Secrets and ConfigMaps (never nil) and, once the phase has run,
// its output.
func phaseParams(f *phaseFile, withOutput bool) *param.Phase {
	p := &param.Phase{
		Secrets:    map[string]corev1.Secret{},
		ConfigMaps: map[string]corev1.ConfigMap{},
	}
	if f == nil {
		return p
	}
	p.Secrets = stripSecrets(f.Secrets)
	p.ConfigMaps = stripConfigMaps(f.ConfigMaps)
	if withOutput {
		p.Output = f.Output
	}
	return p
}
