{{/*
iter8.experiment renders the experiment (the spec) from .Values.tasks and
each task's values. Tasks run in the order listed.
*/}}
{{- define "iter8.experiment" -}}
{{- if not .Values.tasks }}
{{- fail "tasks is required: list the experiment's tasks, for example --set \"tasks={http,assess}\"" }}
{{- end }}
{{- if not (kindIs "slice" .Values.tasks) }}
{{- fail (printf "tasks must be a list such as {http,assess}, not %v" .Values.tasks) }}
{{- end }}
spec:
{{- range $i, $t := .Values.tasks }}
{{- if eq $t "http" }}
{{- include "task.http" $.Values.http }}
{{- else if eq $t "custommetrics" }}
{{- include "task.custommetrics" $.Values.custommetrics }}
{{- else if eq $t "assess" }}
{{- include "task.assess" $.Values.assess }}
{{- else if eq $t "grpc" }}
{{- include "task.grpc" $.Values.grpc }}
{{- else if eq $t "slack" }}
{{- include "task.slack" (dict "v" $.Values.slack "root" $) }}
{{- else if eq $t "github" }}
{{- include "task.github" (dict "v" $.Values.github "root" $) }}
{{- else if eq $t "webhook" }}
{{- include "task.webhook" (dict "v" $.Values.webhook "root" $) }}
{{- else if eq $t "run" }}
{{- include "task.run" $.Values.run }}
{{- else }}
{{- fail (printf "task name must be one of assess, custommetrics, github, grpc, http, run, slack, webhook; got %q" $t) }}
{{- end }}
{{- end }}
{{- end }}
