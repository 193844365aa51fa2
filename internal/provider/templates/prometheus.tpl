{{- /*
prometheus: request, error and latency metrics from any Prometheus-compatible
server (Prometheus, Thanos, Mimir, VictoriaMetrics), from PromQL selectors
given as values. Every value except prometheusURL is optional; set at least
one of requests, errors, latency or queries.

  prometheusURL       the server's base URL, e.g. http://prometheus:9090
  headers             request headers, e.g. {Authorization: "Bearer ${env:PROM_TOKEN}"}
  window              PromQL range of each query (default: the time since
                      startingTime, <elapsedTimeSeconds>s)
  requests            selector of the request counter, e.g.
                      http_requests_total{job="shop",version="v2"}
                      -> request-count (increase), request-rate (rate, req/s)
  errors              selector of the error counter, e.g.
                      http_requests_total{job="shop",version="v2",code=~"5.."}
                      -> error-count; error-rate when requests is set.
                      When it matches nothing, error-count is 0 only if the
                      counter has every label the selector matches on, and
                      the requests counter (when set) has data in the
                      window; otherwise there is no data.
  latency             a histogram's name and matchers, without _bucket, e.g.
                      http_request_duration_seconds{job="shop",version="v2"}
                      -> latency-mean, latency-p<P> (histogram_quantile)
  latencyPercentiles  percentiles to compute (default [50, 90, 95, 99])
  latencyScale        factor to the reported unit (default 1000: seconds to msec)
  latencyUnits        unit of latency metrics (default msec)
  queries             any further gauges: {name: PromQL expression}
*/ -}}
{{- $url := required "values.prometheusURL is required: the Prometheus base URL, such as http://prometheus:9090" .prometheusURL }}
{{- if not (or .requests .errors .latency .queries) }}
{{- fail "set at least one of values.requests, values.errors, values.latency or values.queries (PromQL selectors)" }}
{{- end }}
{{- $w := .window | default (printf "%ds" (int64 .elapsedTimeSeconds)) }}
{{- $jq := ".data.result[0].value[1]" }}
url: {{ printf "%s/api/v1/query" (trimSuffix "/" (toString $url)) | toJson }}
method: GET
{{- with .headers }}
headers: {{ toJson . }}
{{- end }}
metrics:
{{- with .requests }}
- name: request-count
  type: counter
  description: number of requests (PromQL increase over the window)
  params:
  - name: query
    value: {{ printf "sum(increase(%s[%s]))" . $w | toJson }}
  jqExpression: {{ $jq }}
- name: request-rate
  type: gauge
  units: req/s
  description: requests per second (PromQL rate over the window)
  params:
  - name: query
    value: {{ printf "sum(rate(%s[%s]))" . $w | toJson }}
  jqExpression: {{ $jq }}
{{- end }}
{{- with .errors }}
{{- /* An error counter often has no series before the first error, so an
  empty match reads 0: but only when that cannot be a misspelt selector. The
  counter must have every label the selector requires (a positive matcher),
  and the request counter, when set, data in the window; otherwise the
  metric has no data, never a 0 that passes any limit. */ -}}
{{- $sel := trim . }}
{{- $name := regexFind "^[a-zA-Z_:][a-zA-Z0-9_:]*" $sel }}
{{- $zero := "" }}
{{- if $.requests }}
{{- $zero = printf "0 * sum(increase(%s[%s]))" $.requests $w }}
{{- else if $name }}
{{- $zero = printf "0 * sum(increase(%s[%s]))" $name $w }}
{{- end }}
{{- if and $zero $name }}
{{- /* the matchers without their quoted values */ -}}
{{- $quoted := print `"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` "`[^`]*`" }}
{{- $bare := regexReplaceAll $quoted (trimPrefix $name $sel) `""` }}
{{- range $m := regexFindAll `[a-zA-Z_][a-zA-Z0-9_]*\s*=` $bare -1 }}
{{- $l := regexFind `^[a-zA-Z_][a-zA-Z0-9_]*` $m }}
{{- if ne $l "__name__" }}
{{- $zero = printf `%s and on() count(%s{%s!=""})` $zero $name $l }}
{{- end }}
{{- end }}
{{- end }}
{{- $errors := printf "sum(increase(%s[%s]))" . $w }}
{{- if $zero }}
{{- $errors = printf "sum(increase(%s[%s])) or on() (%s)" . $w $zero }}
{{- end }}
- name: error-count
  type: counter
  description: number of errors (PromQL increase over the window)
  params:
  - name: query
    value: {{ $errors | toJson }}
  jqExpression: {{ $jq }}
{{- if $.requests }}
- name: error-rate
  type: gauge
  description: fraction of requests that were errors
  params:
  - name: query
    value: {{ printf "(%s) / sum(increase(%s[%s]))" $errors $.requests $w | toJson }}
  jqExpression: {{ $jq }}
{{- end }}
{{- end }}
{{- with .latency }}
{{- $name := regexFind "^[a-zA-Z_:][a-zA-Z0-9_:]*" (trim .) }}
{{- if not $name }}
{{- fail (printf "values.latency %q must start with a histogram name, such as http_request_duration_seconds{job=\"shop\"}" .) }}
{{- end }}
{{- $matchers := trimPrefix $name (trim .) }}
{{- $scale := $.latencyScale | default 1000 }}
{{- $units := $.latencyUnits | default "msec" }}
- name: latency-mean
  type: gauge
  units: {{ $units }}
  description: mean latency
  params:
  - name: query
    value: {{ printf "sum(increase(%s_sum%s[%s])) / sum(increase(%s_count%s[%s])) * %v" $name $matchers $w $name $matchers $w $scale | toJson }}
  jqExpression: {{ $jq }}
{{- range $p := ($.latencyPercentiles | default (list 50 90 95 99)) }}
- name: latency-p{{ $p }}
  type: gauge
  units: {{ $units }}
  description: {{ $p }}th percentile latency (histogram_quantile)
  params:
  - name: query
    value: {{ printf "histogram_quantile(%v, sum by (le) (rate(%s_bucket%s[%s]))) * %v" (divf $p 100) $name $matchers $w $scale | toJson }}
  jqExpression: {{ $jq }}
{{- end }}
{{- end }}
{{- range $name, $q := .queries }}
- name: {{ $name }}
  type: gauge
  description: {{ printf "PromQL: %s" $q | toJson }}
  params:
  - name: query
    value: {{ $q | toJson }}
  jqExpression: {{ $jq }}
{{- end }}
