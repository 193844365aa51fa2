{{/*
iter8.readyChecks lists, as JSON, the objects the ready.* shortcuts check:
each set shortcut (service, deploy, ksvc, isvc, chaosengine) names one object
of a fixed kind. The ready task and the Role that lets it read those objects
both come from this list, so they cannot disagree.
*/}}
{{- define "iter8.readyChecks" -}}
{{- $in := . | default dict }}
{{- $kinds := list
  (dict "key" "service" "group" "" "version" "v1" "resource" "services" "condition" "")
  (dict "key" "deploy" "group" "apps" "version" "v1" "resource" "deployments" "condition" "Available")
  (dict "key" "ksvc" "group" "serving.knative.dev" "version" "v1" "resource" "services" "condition" "Ready")
  (dict "key" "isvc" "group" "serving.kserve.io" "version" "v1beta1" "resource" "inferenceservices" "condition" "Ready")
  (dict "key" "chaosengine" "group" "litmuschaos.io" "version" "v1alpha1" "resource" "chaosengines" "condition" "") }}
{{- range $k, $v := $in }}
{{- if not (has $k (list "service" "deploy" "ksvc" "isvc" "chaosengine" "timeout" "namespace")) }}
{{- fail (printf "ready.%s is not valid: expected one of service, deploy, ksvc, isvc, chaosengine, timeout, namespace" $k) }}
{{- end }}
{{- end }}
{{- $out := list }}
{{- range $kinds }}
{{- $name := get $in .key }}
{{- if $name }}
{{- $c := dict "name" (toString $name) "group" .group "version" .version "resource" .resource "condition" .condition }}
{{- $out = append $out $c }}
{{- end }}
{{- end }}
{{- toJson $out }}
{{- end }}

{{/*
task.ready renders one ready task per ready.* shortcut, with ready.timeout
and ready.namespace applied to each. Without ready.namespace the task checks
the namespace the experiment runs in.
*/}}
{{- define "task.ready" -}}
{{- $in := . | default dict }}
{{- $checks := fromJsonArray (include "iter8.readyChecks" $in) }}
{{- if not $checks }}
{{- fail "ready needs an object to check: set ready.service, ready.deploy, ready.ksvc, ready.isvc or ready.chaosengine" }}
{{- end }}
{{- range $checks }}
{{- $w := dict "name" .name "resource" .resource "version" .version }}
{{- if .group }}{{ $_ := set $w "group" .group }}{{ end }}
{{- if .condition }}{{ $_ := set $w "condition" .condition }}{{ end }}
{{- if $in.timeout }}{{ $_ := set $w "timeout" (toString $in.timeout) }}{{ end }}
{{- if $in.namespace }}{{ $_ := set $w "namespace" (toString $in.namespace) }}{{ end }}
- task: ready
  with:
{{ toYaml $w | indent 4 }}
{{- end }}
{{- end }}
