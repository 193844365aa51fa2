{{- /*
knative: request, error and latency metrics of a Knative Service revision, as
recorded by Knative's queue-proxy (revision_request_count,
revision_request_latencies in msec) in Prometheus. A KServe InferenceService
in serverless mode runs its predictor as the Knative Service
<isvc name>-predictor.

  prometheusURL       the Prometheus base URL, e.g. http://prometheus.monitoring:9090
  headers             request headers, e.g. {Authorization: "Bearer ${env:PROM_TOKEN}"}
  namespace           the Knative Service's namespace (required)
  service             the Knative Service's name (required)
  revision            the revision (optional; set it per version in versionValues)
  window              PromQL range (default: the time since startingTime)
  latencyPercentiles  percentiles to compute (default [50, 90, 95, 99])
*/ -}}
{{- $url := required "values.prometheusURL is required: the Prometheus base URL, such as http://prometheus.monitoring:9090" .prometheusURL }}
{{- $labels := dict "namespace_name" (required "values.namespace is required: the Knative Service's namespace" .namespace) "service_name" (required "values.service is required: the Knative Service's name (for KServe, <isvc>-predictor)" .service) }}
{{- with .revision }}{{ $_ := set $labels "revision_name" . }}{{ end }}
{{- $m := list }}
{{- range $k, $v := $labels }}
{{- $m = append $m (printf "%s=%q" $k (toString $v)) }}
{{- end }}
{{- $sel := join "," $m }}
{{- $err := join "," (append $m "response_code_class=\"5xx\"") }}
{{- $w := .window | default (printf "%ds" (int64 .elapsedTimeSeconds)) }}
{{- $jq := ".data.result[0].value[1]" }}
url: {{ printf "%s/api/v1/query" (trimSuffix "/" (toString $url)) | toJson }}
method: GET
{{- with .headers }}
headers: {{ toJson . }}
{{- end }}
metrics:
- name: request-count
  type: counter
  description: number of requests (PromQL increase over the window)
  params:
  - name: query
    value: {{ printf "sum(increase(revision_request_count{%s}[%s]))" $sel $w | toJson }}
  jqExpression: {{ $jq }}
- name: request-rate
  type: gauge
  units: req/s
  description: requests per second
  params:
  - name: query
    value: {{ printf "sum(rate(revision_request_count{%s}[%s]))" $sel $w | toJson }}
  jqExpression: {{ $jq }}
- name: error-count
  type: counter
  description: number of responses with a 5xx status code
  params:
  - name: query
    value: {{ printf "sum(increase(revision_request_count{%s}[%s])) or on() (0 * sum(increase(revision_request_count{%s}[%s])))" $err $w $sel $w | toJson }}
  jqExpression: {{ $jq }}
- name: error-rate
  type: gauge
  description: fraction of responses with a 5xx status code
  params:
  - name: query
    value: {{ printf "(sum(increase(revision_request_count{%s}[%s])) or on() (0 * sum(increase(revision_request_count{%s}[%s])))) / sum(increase(revision_request_count{%s}[%s]))" $err $w $sel $w $sel $w | toJson }}
  jqExpression: {{ $jq }}
- name: latency-mean
  type: gauge
  units: msec
  description: mean latency
  params:
  - name: query
    value: {{ printf "sum(increase(revision_request_latencies_sum{%s}[%s])) / sum(increase(revision_request_latencies_count{%s}[%s]))" $sel $w $sel $w | toJson }}
  jqExpression: {{ $jq }}
{{- range $p := (.latencyPercentiles | default (list 50 90 95 99)) }}
- name: latency-p{{ $p }}
  type: gauge
  units: msec
  description: {{ $p }}th percentile latency (histogram_quantile)
  params:
  - name: query
    value: {{ printf "histogram_quantile(%v, sum by (le) (rate(revision_request_latencies_bucket{%s}[%s])))" (divf $p 100) $sel $w | toJson }}
  jqExpression: {{ $jq }}
{{- end }}
