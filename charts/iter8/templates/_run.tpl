{{/*
task.run renders a run task from .Values.run: a script string, or a map with
script and if. The script runs with bash; only use trusted input.
*/}}
{{- define "task.run" -}}
{{- $in := . }}
{{- if kindIs "string" $in }}
{{- $in = dict "script" $in }}
{{- end }}
{{- if not $in.script }}
{{- fail "run.script is required when tasks include run: the shell script to execute" }}
{{- end }}
- run: {{ toJson (toString $in.script) }}
{{- include "iter8.if" $in.if }}
{{- end }}
