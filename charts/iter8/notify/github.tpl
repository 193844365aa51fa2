{{- /* A GitHub repository_dispatch event carrying the concise report. */ -}}
{"event_type": {{ .Data.eventType | default "iter8" | toJson }}, "client_payload": {{ .Report | toJson }}}
