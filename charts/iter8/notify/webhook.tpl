{{- /* The concise report as JSON. */ -}}
{{ .Report | toPrettyJson }}
