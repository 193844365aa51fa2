{{/*
Notification wrappers: each renders a notify task. .v holds the wrapper's
values, .root the chart (for the built-in payload templates under notify/).
Tokens and webhook URLs must be secret references (${env:NAME} or
${file:/path}), resolved when the notification is sent: never stored.
*/}}
{{- define "iter8.secretRef" -}}
{{- if not (contains "${" (toString .value)) -}}
{{- fail (printf "%s must be a secret reference such as ${env:%s} or ${file:/path}: a secret given as it is would be stored in experiment.yaml" .field .env) -}}
{{- end -}}
{{- end -}}

{{- define "iter8.softFailure" -}}
{{- if hasKey . "softFailure" }}{{ .softFailure }}{{ else }}true{{ end -}}
{{- end -}}

{{- /* retries and timeout, passed to the notify task as given. */ -}}
{{- define "iter8.notifyRetries" -}}
{{- if hasKey . "retries" }}
    retries: {{ .retries | toJson }}
{{- end }}
{{- if hasKey . "timeout" }}
    timeout: {{ .timeout | toString | toJson }}
{{- end }}
{{- end -}}

{{- define "task.slack" -}}
{{- $in := .v | default dict }}
{{- if not $in.url }}
{{- fail "slack.url is required: the incoming webhook URL, as a secret reference, for example --set slack.url='${env:SLACK_WEBHOOK_URL}'" }}
{{- end }}
{{- include "iter8.secretRef" (dict "value" $in.url "field" "slack.url" "env" "SLACK_WEBHOOK_URL") }}
- task: notify
{{- include "iter8.if" $in.if }}
  with:
    url: {{ $in.url | toString | toJson }}
    method: {{ $in.method | default "POST" | toString | toJson }}
    softFailure: {{ include "iter8.softFailure" $in }}
    {{- include "iter8.notifyRetries" $in }}
    {{- if $in.payloadTemplateURL }}
    payloadTemplateURL: {{ $in.payloadTemplateURL | toString | toJson }}
    {{- else }}
    payloadTemplate: {{ .root.Files.Get "notify/slack.tpl" | toJson }}
    {{- end }}
    {{- with $in.links }}
    links: {{ toJson . }}
    {{- end }}
{{- end }}

{{- define "task.github" -}}
{{- $in := .v | default dict }}
{{- range $k := list "owner" "repo" "token" }}
{{- if not (get $in $k) }}
{{- fail (printf "github.%s is required (github.owner, github.repo and github.token, the token as a secret reference such as ${env:GITHUB_TOKEN})" $k) }}
{{- end }}
{{- end }}
{{- include "iter8.secretRef" (dict "value" $in.token "field" "github.token" "env" "GITHUB_TOKEN") }}
- task: notify
{{- include "iter8.if" $in.if }}
  with:
    url: {{ printf "%s/repos/%s/%s/dispatches" (trimSuffix "/" (toString ($in.apiURL | default "https://api.github.com"))) (toString $in.owner) (toString $in.repo) | toJson }}
    method: POST
    headers:
      Accept: application/vnd.github+json
      Authorization: {{ printf "token %s" (toString $in.token) | toJson }}
    softFailure: {{ include "iter8.softFailure" $in }}
    {{- include "iter8.notifyRetries" $in }}
    data:
      eventType: {{ $in.eventType | default "iter8" | toString | toJson }}
    {{- if $in.payloadTemplateURL }}
    payloadTemplateURL: {{ $in.payloadTemplateURL | toString | toJson }}
    {{- else }}
    payloadTemplate: {{ .root.Files.Get "notify/github.tpl" | toJson }}
    {{- end }}
    {{- with $in.links }}
    links: {{ toJson . }}
    {{- end }}
{{- end }}

{{- define "task.webhook" -}}
{{- $in := deepCopy (.v | default dict) }}
{{- if not $in.url }}
{{- fail "webhook.url is required: the URL to send the report to" }}
{{- end }}
{{- $if := $in.if }}
{{- $_ := unset $in "if" }}
{{- $_ := set $in "softFailure" (eq (include "iter8.softFailure" $in) "true") }}
{{- if not (or $in.payloadTemplate $in.payloadTemplateURL) }}
{{- $_ := set $in "payloadTemplate" (.root.Files.Get "notify/webhook.tpl") }}
{{- end }}
{{- include "iter8.stringMap" (dict "m" $in "key" "headers") }}
{{- include "iter8.stringMap" (dict "m" $in "key" "params") }}
- task: notify
{{- include "iter8.if" $if }}
  with:
{{ toYaml $in | indent 4 }}
{{- end }}
