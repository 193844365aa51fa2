{{/*
task.grpc renders the grpc task from .Values.grpc. Every value except the
chart-only ones (if, warmupNumRequests, warmupDuration) is passed to the task,
which rejects unknown keys by name. protoURL, dataURL, binaryDataURL and
metadataURL are fetched by the task itself.
*/}}
{{- define "task.grpc" -}}
{{- $in := deepCopy (. | default dict) }}
{{- if not (or $in.host $in.endpoints) }}
{{- fail "grpc.host is required: the server address, for example --set grpc.host=127.0.0.1:50051" }}
{{- end }}
{{- if not (or $in.call $in.endpoints) }}
{{- fail "grpc.call is required: the method to call, for example --set grpc.call=helloworld.Greeter.SayHello" }}
{{- end }}
{{- $if := $in.if }}
{{- $wn := $in.warmupNumRequests }}
{{- $wd := $in.warmupDuration }}
{{- $_ := unset $in "if" }}
{{- $_ := unset $in "warmupNumRequests" }}
{{- $_ := unset $in "warmupDuration" }}
{{- include "iter8.toNumbers" (dict "m" $in "keys" (list "total" "rps" "concurrency" "connections" "skipFirst" "stream-call-count" "replicas")) }}
{{- /* ghz's runner config: schedules and cpus (issue 14 item 3) */}}
{{- include "iter8.toNumbers" (dict "m" $in "keys" (list "load-start" "load-end" "load-step" "concurrency-start" "concurrency-end" "concurrency-step" "cpus")) }}
{{- include "iter8.toStrings" (dict "m" $in "keys" (list "load-step-duration" "load-max-duration" "concurrency-step-duration" "concurrency-max-duration" "max-duration" "keepalive" "name")) }}
{{- include "iter8.stringMap" (dict "m" $in "key" "tags") }}
{{- include "iter8.toNumberList" (dict "m" $in "key" "percentiles") }}
{{- include "iter8.toStrings" (dict "m" $in "keys" (list "host" "call" "proto" "protoURL" "protoset" "duration" "timeout" "connect-timeout" "stream-interval" "stream-call-duration" "authority" "cname")) }}
{{- include "iter8.toStrings" (dict "m" $in "keys" (list "provider")) }}
{{- include "iter8.stringMap" (dict "m" $in "key" "metadata") }}
{{- include "iter8.stringMap" (dict "m" $in "key" "reflect-metadata") }}
{{- if or $wn $wd }}
{{- $w := deepCopy $in }}
{{- $_ := set $w "warmup" true }}
{{- $_ := unset $w "total" }}
{{- $_ := unset $w "duration" }}
{{- if $wn }}
{{- $_ := set $w "total" $wn }}
{{- include "iter8.toNumbers" (dict "m" $w "keys" (list "total")) }}
{{- else }}
{{- $_ := set $w "duration" (toString $wd) }}
{{- end }}
- task: grpc
{{- include "iter8.if" $if }}
  with:
{{ toYaml $w | indent 4 }}
{{- end }}
- task: grpc
{{- include "iter8.if" $if }}
  with:
{{ toYaml $in | indent 4 }}
{{- end }}
