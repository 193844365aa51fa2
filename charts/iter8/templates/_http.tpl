{{/*
task.http renders the http task from .Values.http. Every value except the
chart-only ones (if, warmupNumRequests, warmupDuration) is passed to the task,
which rejects unknown fields by name.
*/}}
{{- define "task.http" -}}
{{- $in := deepCopy (. | default dict) }}
{{- if not (or $in.url $in.endpoints) }}
{{- fail "http.url is required: the URL to load, for example --set http.url=http://127.0.0.1:8080/get" }}
{{- end }}
{{- $if := $in.if }}
{{- $wn := $in.warmupNumRequests }}
{{- $wd := $in.warmupDuration }}
{{- $_ := unset $in "if" }}
{{- $_ := unset $in "warmupNumRequests" }}
{{- $_ := unset $in "warmupDuration" }}
{{- include "iter8.toNumbers" (dict "m" $in "keys" (list "qps" "numRequests" "connections" "replicas")) }}
{{- include "iter8.toNumberList" (dict "m" $in "key" "percentiles") }}
{{- include "iter8.toStrings" (dict "m" $in "keys" (list "url" "payloadStr" "payloadFile" "payloadURL" "contentType" "duration" "timeout")) }}
{{- include "iter8.toStrings" (dict "m" $in "keys" (list "provider")) }}
{{- include "iter8.stringMap" (dict "m" $in "key" "headers") }}
{{- if kindIs "map" $in.qpsSchedule }}
{{- include "iter8.toNumbers" (dict "m" $in.qpsSchedule "keys" (list "start" "step" "end")) }}
{{- include "iter8.toStrings" (dict "m" $in.qpsSchedule "keys" (list "stepDuration" "maxDuration")) }}
{{- end }}
{{- if or $wn $wd }}
{{- $w := deepCopy $in }}
{{- $_ := set $w "warmup" true }}
{{- $_ := unset $w "numRequests" }}
{{- $_ := unset $w "duration" }}
{{- if $wn }}
{{- $_ := set $w "numRequests" $wn }}
{{- include "iter8.toNumbers" (dict "m" $w "keys" (list "numRequests")) }}
{{- else }}
{{- $_ := set $w "duration" (toString $wd) }}
{{- end }}
- task: http
{{- include "iter8.if" $if }}
  with:
{{ toYaml $w | indent 4 }}
{{- end }}
- task: http
{{- include "iter8.if" $if }}
  with:
{{ toYaml $in | indent 4 }}
{{- end }}
