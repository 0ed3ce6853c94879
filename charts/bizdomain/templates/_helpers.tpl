{{/* Names and labels shared by every template. */}}

{{- define "bizdomain.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's object names: "<release>-bizdomain", or just the release name when it already says bizdomain. */}}
{{- define "bizdomain.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "bizdomain.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "bizdomain.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "bizdomain.selectorLabels" -}}
app.kubernetes.io/name: {{ include "bizdomain.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "bizdomain.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "bizdomain.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: bizdomain
{{- end }}

{{- define "bizdomain.serviceAccountName" -}}
{{- default (include "bizdomain.fullname" .) .Values.serviceAccount.name }}
{{- end }}

{{- define "bizdomain.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The Lease the replicas elect their one active replica with, in the release namespace. */}}
{{- define "bizdomain.leaseName" -}}
{{- default (printf "%s-leader" (include "bizdomain.fullname" .)) .Values.leaderElection.leaseName }}
{{- end }}
