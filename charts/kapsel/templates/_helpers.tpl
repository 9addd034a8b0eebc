{{/* The objects' base name: <release>-kapsel, or the release name when it already says kapsel. */}}
{{- define "kapsel.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default "kapsel" .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "kapsel.selectorLabels" -}}
app.kubernetes.io/name: {{ default "kapsel" .Values.nameOverride }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "kapsel.labels" -}}
{{ include "kapsel.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "kapsel.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "kapsel.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The namespaces where the controller gets workload rights (JSON list):
the release namespace (Blueprints and Profiles are looked up there too), the
watched ones and rbac.extraNamespaces. */}}
{{- define "kapsel.workloadNamespaces" -}}
{{- $ns := list .Release.Namespace -}}
{{- range .Values.watch.namespaces }}{{ $ns = append $ns . }}{{ end -}}
{{- range .Values.rbac.extraNamespaces }}{{ $ns = append $ns . }}{{ end -}}
{{- $ns | uniq | toJson -}}
{{- end -}}

{{- define "kapsel.webhookSecretName" -}}
{{- default (printf "%s-webhook-cert" (include "kapsel.fullname" .)) .Values.webhook.tls.secretName -}}
{{- end -}}

{{- define "kapsel.useCertManager" -}}
{{- if and .Values.webhook.enabled .Values.webhook.certManager.enabled (not .Values.webhook.tls.secretName) (.Capabilities.APIVersions.Has "cert-manager.io/v1") -}}
true
{{- end -}}
{{- end -}}
