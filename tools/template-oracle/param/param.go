// Package param mirrors the template parameter types of Kanister's pkg/param.
// Package name, type names, field names and field order are significant: Go's
// text/template puts type names into error messages, and toJson walks the
// fields in declaration order. None of these types has json tags except
// where Kanister's have them (v1alpha1.Location, Kubernetes types).
package param

import (
	corev1 "k8s.io/api/core/v1"

	"kapsel.dev/template-oracle/v1alpha1"
)

// TemplateParams is the dot of every Blueprint template.
type TemplateParams struct {
	StatefulSet      *StatefulSetParams
	DeploymentConfig *DeploymentConfigParams
	Deployment       *DeploymentParams
	PVC              *PVCParams
	Namespace        *NamespaceParams
	ArtifactsIn      map[string]v1alpha1.Artifact
	ConfigMaps       map[string]corev1.ConfigMap
	Secrets          map[string]corev1.Secret
	Time             string
	Profile          *Profile
	Options          map[string]string
	Object           map[string]interface{}
	CurrentPhase     *Phase
	Phases           map[string]*Phase
	DeferPhase       *Phase
	PodOverride      v1alpha1.JSONMap
	PodAnnotations   map[string]string
	PodLabels        map[string]string
}

// DeploymentConfigParams describes an OpenShift DeploymentConfig.
type DeploymentConfigParams struct {
	Name                   string
	Namespace              string
	Pods                   []string
	Containers             [][]string
	PersistentVolumeClaims map[string]map[string]string
}

// StatefulSetParams describes a StatefulSet.
type StatefulSetParams struct {
	Name                   string
	Namespace              string
	Pods                   []string
	Containers             [][]string
	PersistentVolumeClaims map[string]map[string]string
}

// DeploymentParams describes a Deployment.
type DeploymentParams struct {
	Name                   string
	Namespace              string
	Pods                   []string
	Containers             [][]string
	PersistentVolumeClaims map[string]map[string]string
}

// PVCParams describes a PersistentVolumeClaim.
type PVCParams struct {
	Name      string
	Namespace string
}

// NamespaceParams describes a Namespace.
type NamespaceParams struct {
	Name      string
	Namespace string
}

// Profile is a resolved Kanister Profile.
type Profile struct {
	Location      v1alpha1.Location
	Credential    Credential
	SkipSSLVerify bool
}

// CredentialType names the credential variant.
type CredentialType string

// Credential holds resolved (plaintext) credentials.
type Credential struct {
	Type              CredentialType
	KeyPair           *KeyPair
	Secret            *corev1.Secret
	KopiaServerSecret *KopiaServerCreds
}

// KeyPair is an id/secret pair.
type KeyPair struct {
	ID     string
	Secret string
}

// KopiaServerCreds are the credentials of a Kopia repository server.
type KopiaServerCreds struct {
	Username       string
	Hostname       string
	Password       string
	Cert           string
	ConnectOptions map[string]int
}

// Phase holds what a phase fetched and produced.
type Phase struct {
	Secrets    map[string]corev1.Secret
	ConfigMaps map[string]corev1.ConfigMap
	Output     map[string]interface{}
}
