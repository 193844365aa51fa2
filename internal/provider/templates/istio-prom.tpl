{{- /*
istio-prom: Istio's standard metrics from the Prometheus that Istio's add-on
installs. The original Iter8 template, with its defects fixed: istioPromURL
can be overridden, and latency percentiles are computed.

  istioPromURL        the query endpoint (default
                      http://prometheus.istio-system:9090/api/v1/query)
  headers             request headers, e.g. {Authorization: "Bearer ${env:PROM_TOKEN}"}
  labels              label matchers for every query, e.g.
                      {destination_app: httpbin, destination_version: v2}
                      (response_code is set by the template)
  reporter, destinationWorkload, destinationWorkloadNamespace
                      the original v0.11 variables, added to labels
  latencyPercentiles  percentiles to compute (default [50, 90, 95, 99])

Counts and sums are the counters' latest values in the window
(last_over_time), as in the original: they count since the workload started.
No 5xx series is 0 errors when the workload has requests; labels that match
no request give no data (the original read 0 requests and 0 errors).
*/ -}}
{{- $labels := dict }}
{{- range $k, $v := .labels }}
{{- if eq $k "response_code" }}
{{- fail "values.labels.response_code is not allowed: the template sets response_code itself" }}
{{- end }}
{{- $_ := set $labels $k $v }}
{{- end }}
{{- with .reporter }}{{ $_ := set $labels "reporter" . }}{{ end }}
{{- with .destinationWorkload }}{{ $_ := set $labels "destination_workload" . }}{{ end }}
{{- with .destinationWorkloadNamespace }}{{ $_ := set $labels "destination_workload_namespace" . }}{{ end }}
{{- $m := list }}
{{- range $k, $v := $labels }}
{{- $m = append $m (printf "%s=%q" $k (toString $v)) }}
{{- end }}
{{- $sel := join "," $m }}
{{- $err := join "," (prepend $m "response_code=~\"5..\"") }}
{{- $w := printf "%ds" (int64 .elapsedTimeSeconds) }}
{{- $jq := ".data.result[0].value[1]" }}
{{- /* no 5xx series reads 0 errors only when the workload's requests are
  there: labels that match nothing give no data, never a passing 0 (the
  original fell back to vector(0) for both) */ -}}
{{- $requests := printf "sum(last_over_time(istio_requests_total{%s}[%s]))" $sel $w }}
{{- $errors := printf "sum(last_over_time(istio_requests_total{%s}[%s])) or on() (0 * %s)" $err $w $requests }}
url: {{ .istioPromURL | default "http://prometheus.istio-system:9090/api/v1/query" | toJson }}
method: GET
{{- with .headers }}
headers: {{ toJson . }}
{{- end }}
metrics:
- name: request-count
  type: counter
  description: number of requests
  params:
  - name: query
    value: {{ $requests | toJson }}
  jqExpression: {{ $jq }}
- name: error-count
  type: counter
  description: number of responses with a 5xx status code
  params:
  - name: query
    value: {{ $errors | toJson }}
  jqExpression: {{ $jq }}
- name: error-rate
  type: gauge
  description: fraction of responses with a 5xx status code
  params:
  - name: query
    value: {{ printf "(%s) / (%s)" $errors $requests | toJson }}
  jqExpression: {{ $jq }}
- name: latency-mean
  type: gauge
  units: msec
  description: mean latency
  params:
  - name: query
    value: {{ printf "sum(last_over_time(istio_request_duration_milliseconds_sum{%s}[%s])) / sum(last_over_time(istio_request_duration_milliseconds_count{%s}[%s]))" $sel $w $sel $w | toJson }}
  jqExpression: {{ $jq }}
{{- range $p := (.latencyPercentiles | default (list 50 90 95 99)) }}
- name: latency-p{{ $p }}
  type: gauge
  units: msec
  description: {{ $p }}th percentile latency
  params:
  - name: query
    value: {{ printf "histogram_quantile(%v, sum by (le) (rate(istio_request_duration_milliseconds_bucket{%s}[%s])))" (divf $p 100) $sel $w | toJson }}
  jqExpression: {{ $jq }}
{{- end }}
