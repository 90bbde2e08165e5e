{{- define "podsec.labels" -}}
app.kubernetes.io/name: podsec-webhook
app.kubernetes.io/part-of: podsec
{{- end -}}

{{/* The memory limit: podsec's bound (ServerSettings.memory_bound) for .Values.workers, in 64 MiB
steps: 264 MiB for the server process, 184 MiB per worker. tests/charts checks it against podsec. */}}
{{- define "podsec.memory" -}}
{{- $mi := add 264 (mul 184 (int .Values.workers)) -}}
{{- mul (div (add $mi 63) 64) 64 -}}Mi
{{- end -}}

{{- define "podsec.skipped" -}}
- kube-system
- {{ .Release.Namespace }}
{{- if eq .Values.tls.mode "cert-manager" }}
- {{ .Values.certManagerNamespace }}
{{- end }}
{{- end -}}

{{- define "podsec.clientConfig" -}}
service:
  namespace: {{ .root.Release.Namespace }}
  name: podsec-webhook
  path: {{ .path }}
  port: 443
{{- if eq .root.Values.tls.mode "secret" }}
caBundle: {{ required "tls.caBundle is required with tls.mode secret" .root.Values.tls.caBundle | b64enc }}
{{- end }}
{{- end -}}

{{- define "podsec.caAnnotation" -}}
{{- if eq .Values.tls.mode "cert-manager" }}
annotations:
  cert-manager.io/inject-ca-from: {{ .Release.Namespace }}/podsec-webhook
{{- end }}
{{- end -}}
