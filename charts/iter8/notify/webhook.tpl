{{- /* The concise report as JSON. */ -}}
{{ .Report.Summary | toPrettyJson }}
