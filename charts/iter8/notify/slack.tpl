{{- /* A Slack message (Block Kit) with the experiment's status and each SLO. */ -}}
{{- $mark := dict "passed" "✅" "failed" "❌" "noData" "⚪" "invalid" "⚠️" "error" "❗" -}}
{{- $title := printf "iter8 experiment: %s" .Status -}}
{{- if eq .Status "SLOs satisfied" }}{{ $title = printf "✅ %s" $title }}{{ else if eq .Status "no SLOs checked" }}{{ $title = printf "ℹ️ %s" $title }}{{ else }}{{ $title = printf "❌ %s" $title }}{{ end -}}
{{- $lines := list -}}
{{- range .SLOs -}}
{{- $slo := . -}}
{{- range .Versions -}}
{{- $v := "no data" -}}
{{- if .Value }}{{ $v = printf "%.4g" (deref .Value) }}{{ end -}}
{{- $who := "" -}}
{{- if gt (len $slo.Versions) 1 }}{{ $who = printf " (%s)" .Version }}{{ end -}}
{{- $lines = append $lines (printf "%s `%s`%s: %s" (get $mark .Outcome | default "•") (mrkdwn $slo.SLO) (mrkdwn $who) $v) -}}
{{- end -}}
{{- end -}}
{{- $facts := list (printf "*Loop*\n%d" .NumLoops) (printf "*Tasks*\n%d of %d completed" .NumCompletedTasks .NumTasks) -}}
{
  "text": {{ printf "%s (loop %d)" $title .NumLoops | toJson }},
  "blocks": [
    {"type": "header", "text": {"type": "plain_text", "text": {{ $title | toJson }}}},
    {"type": "section", "fields": [{{ range $i, $f := $facts }}{{ if $i }}, {{ end }}{"type": "mrkdwn", "text": {{ $f | toJson }}}{{ end }}]}
    {{- if .FailureReason }},
    {"type": "section", "text": {"type": "mrkdwn", "text": {{ printf "*Failure*: %s" (mrkdwn .FailureReason) | toJson }}}}
    {{- end }}
    {{- if $lines }},
    {"type": "section", "text": {"type": "mrkdwn", "text": {{ join "\n" $lines | toJson }}}}
    {{- end }}
    {{- if .Links }},
    {"type": "context", "elements": [{{ $i := 0 }}{{ range $name, $url := .Links }}{{ if $i }}, {{ end }}{{ $i = add1 $i }}{"type": "mrkdwn", "text": {{ printf "<%s|%s>" $url (mrkdwn $name) | toJson }}}{{ end }}]}
    {{- end }}
  ]
}
