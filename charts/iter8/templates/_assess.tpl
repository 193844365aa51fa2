{{/*
task.assess renders the assess task. SLOs are given as maps from metric name
to limit (assess.SLOs.upper.http/latency-mean=50), or to {limit, onNoData}
(assess.SLOs.upper.prom/error-rate.limit=0.01 and
assess.SLOs.upper.prom/error-rate.onNoData=ignore), or, as in experiment
files, as lists of {metric, limit, onNoData}.
*/}}
{{- define "task.assess" -}}
{{- $in := deepCopy (. | default dict) }}
{{- $if := $in.if }}
{{- $_ := unset $in "if" }}
{{- $slos := $in.SLOs | default dict }}
{{- if not (kindIs "map" $slos) }}
{{- fail "assess.SLOs must be a map with upper and/or lower" }}
{{- end }}
{{- $out := dict }}
{{- range $dir := list "upper" "lower" }}
{{- $given := get $slos $dir }}
{{- if $given }}
{{- $list := list }}
{{- if not (or (kindIs "map" $given) (kindIs "slice" $given)) }}
{{- fail (printf "assess.SLOs.%s is not valid: expected a map from metric name to limit (assess.SLOs.%s.http/latency-mean=50) or a list of {metric, limit}; got %v" $dir $dir $given) }}
{{- end }}
{{- if kindIs "map" $given }}
{{- range $metric, $limit := $given }}
{{- $x := dict "metric" $metric "limit" $limit }}
{{- if kindIs "map" $limit }}
{{- if not (hasKey $limit "limit") }}
{{- $k := keys $limit | sortAlpha | first }}
{{- if regexMatch "^[0-9]" $k }}
{{- fail (printf "assess.SLOs.%s.%s: the limit is a map, so the metric name was split at a dot; escape dots in metric names: %s\\.%s=<limit>" $dir $metric $metric $k) }}
{{- end }}
{{- fail (printf "assess.SLOs.%s.%s.%s is not valid: expected limit or onNoData (assess.SLOs.%s.%s=<limit>, or .limit=<limit> with .onNoData); if the metric's name is %s.%s, escape the dot: %s\\.%s=<limit>" $dir $metric $k $dir $metric $metric $k $metric $k) }}
{{- end }}
{{- range $k, $_ := $limit }}
{{- if not (has $k (list "limit" "onNoData")) }}
{{- fail (printf "assess.SLOs.%s.%s.%s is not valid: expected limit or onNoData" $dir $metric $k) }}
{{- end }}
{{- end }}
{{- $x = merge (dict "metric" $metric) $limit }}
{{- end }}
{{- include "iter8.toNumbers" (dict "m" $x "keys" (list "limit")) }}
{{- $list = append $list $x }}
{{- end }}
{{- else }}
{{- range $i, $s := $given }}
{{- if not (kindIs "map" $s) }}
{{- fail (printf "assess.SLOs.%s[%d] is not valid: expected {metric, limit} (assess.SLOs.%s[%d].metric=http/latency-mean and assess.SLOs.%s[%d].limit=50); got %v" $dir $i $dir $i $dir $i $s) }}
{{- end }}
{{- $x := deepCopy $s }}
{{- include "iter8.toNumbers" (dict "m" $x "keys" (list "limit")) }}
{{- $list = append $list $x }}
{{- end }}
{{- end }}
{{- $_ := set $out $dir $list }}
{{- end }}
{{- end }}
{{- range $k, $v := $slos }}
{{- if not (has $k (list "upper" "lower")) }}
{{- fail (printf "assess.SLOs.%s is not valid: expected upper or lower" $k) }}
{{- end }}
{{- end }}
{{- $_ := set $in "SLOs" $out }}
- task: assess
{{- include "iter8.if" $if }}
  with:
{{ toYaml $in | indent 4 }}
{{- end }}
