{{/*
task.custommetrics renders the custommetrics task from .Values.custommetrics:
templates (provider name to a built-in template name, a file path or an
http(s) URL), values, versionValues, versionNames, timeout, if and
allowLocalSecrets (set by --allow-local-secrets: templates from a URL may
render secret references). Values are
passed to the task as given; secret references such as ${env:TOKEN} stay
references in the experiment.
*/}}
{{- define "task.custommetrics" -}}
{{- $in := deepCopy (. | default dict) }}
{{- if not $in.templates }}
{{- fail "custommetrics.templates is required: a map from provider name to template (a built-in name: prometheus, istio-prom or knative; a file path; or an http(s) URL), for example --set custommetrics.templates.prom=prometheus" }}
{{- end }}
{{- if not (kindIs "map" $in.templates) }}
{{- fail (printf "custommetrics.templates must be a map from provider name to template, such as --set custommetrics.templates.prom=prometheus, not %v" $in.templates) }}
{{- end }}
{{- $if := $in.if }}
{{- $_ := unset $in "if" }}
{{- include "iter8.stringMap" (dict "m" $in "key" "templates") }}
{{- include "iter8.toStrings" (dict "m" $in "keys" (list "timeout")) }}
- task: custommetrics
{{- include "iter8.if" $if }}
  with:
{{ toYaml $in | indent 4 }}
{{- end }}
