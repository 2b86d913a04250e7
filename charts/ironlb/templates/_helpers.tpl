{{/* Name prefix of every object: the release name, or "<release>-ironlb". */}}
{{- define "ironlb.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else if contains "ironlb" .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-ironlb" .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "ironlb.namespace" -}}
{{- default .Release.Namespace .Values.namespace -}}
{{- end -}}

{{- define "ironlb.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "ironlb.controllerName" -}}{{ include "ironlb.fullname" . }}-controller{{- end -}}
{{- define "ironlb.speakerName" -}}{{ include "ironlb.fullname" . }}-speaker{{- end -}}
{{- define "ironlb.webhookService" -}}{{ include "ironlb.fullname" . }}-webhook-service{{- end -}}
{{- define "ironlb.webhookSecret" -}}{{ include "ironlb.fullname" . }}-webhook-cert{{- end -}}
{{- define "ironlb.webhookConfiguration" -}}{{ include "ironlb.fullname" . }}-webhook-configuration{{- end -}}
{{- define "ironlb.memberlistSecret" -}}{{ include "ironlb.fullname" . }}-memberlist{{- end -}}

{{/* Labels of every object; selector labels add the component. */}}
{{- define "ironlb.labels" -}}
app.kubernetes.io/name: ironlb
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: ironlb
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "ironlb.selectorLabels" -}}
app.kubernetes.io/name: ironlb
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The speaker's added capabilities, from speaker.mode. */}}
{{- define "ironlb.speakerCapabilities" -}}
{{- if eq .Values.speaker.mode "layer2" -}}
[NET_RAW]
{{- else if eq .Values.speaker.mode "bgp" -}}
[NET_BIND_SERVICE]
{{- else if eq .Values.speaker.mode "all" -}}
[NET_RAW, NET_BIND_SERVICE]
{{- else -}}
{{- fail (printf "speaker.mode must be all, layer2 or bgp, got %q" .Values.speaker.mode) -}}
{{- end -}}
{{- end -}}
