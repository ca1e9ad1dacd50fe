{{- define "cache.fullname" -}}
{{ .Release.Name }}-{{ .Chart.Name }}
{{- end -}}
{{- define "popular.name" -}}
overridden-by-subchart
{{- end -}}
