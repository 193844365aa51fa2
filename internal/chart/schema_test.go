package chart

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"iter8.tools/iter8/internal/source"

	"helm.sh/helm/v4/pkg/chart/common"

	"iter8.tools/iter8/internal/inputs"
)

// An unknown key at any level of the values is bad input naming the key,
// the valid keys at its level and, for a typo, the key meant.
func TestValuesSchemaRefusesUnknownKeys(t *testing.T) {
	t.Parallel()
	base := []string{"tasks={http,assess}", "http.url=http://127.0.0.1:1/", "assess.SLOs.upper.http/error-count=0"}
	for _, tt := range []struct {
		set  string
		want string
	}{
		{"asess.SLOs.upper.http/latency-mean=50", `values: unknown field "asess": did you mean "assess"? (expected one of abnmetrics, assess,`},
		{"assess.SLO.upper.http/latency-mean=50", `values: unknown field "assess.SLO": did you mean "assess.SLOs"? (expected one of SLOs, abortOnFailure, if, window)`},
		{"assess.SLOs.uper.http/latency-mean=50", `values: unknown field "assess.SLOs.uper": did you mean "assess.SLOs.upper"?`},
		{"ready.deplyo=web", `values: unknown field "ready.deplyo": did you mean "ready.deploy"?`},
		{"slack.ulr=x", `values: unknown field "slack.ulr": did you mean "slack.url"?`},
		{"github.ownr=x", `values: unknown field "github.ownr": did you mean "github.owner"?`},
		{"custommetrics.tempaltes.p=x", `values: unknown field "custommetrics.tempaltes": did you mean "custommetrics.templates"?`},
		{"run.scrpt=x", `values: unknown field "run.scrpt": did you mean "run.script"? (expected one of if, script)`},
		{"runer=job", `values: unknown field "runer": did you mean "runner"?`},
		{"http=5", `values: http: got number, want null or object`},
	} {
		_, err := render(t, Values{Set: append(append([]string{}, base...), tt.set)})
		if !errors.Is(err, inputs.ErrInvalid) || err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("--set %s: error %v, want %q", tt.set, err, tt.want)
		}
	}
	_, err := render(t, Values{Set: append(append([]string{}, base...), "asess.x=1", "slack.ulr=y")})
	if err == nil || strings.Count(err.Error(), "unknown field") != 2 {
		t.Errorf("two unknown keys: %v", err)
	}
}

// Every key the original Iter8 v0.11-v0.13 charts accepted still
// validates, so their values files work unchanged.
func TestValuesSchemaAcceptsTheOriginals(t *testing.T) {
	t.Parallel()
	doc := `
iter8Image: iter8/iter8:0.13
majorMinor: v0.13
runner: job
cronjobSchedule: "*/5 * * * *"
logLevel: info
serviceAccountName: default
abnmetrics:
  endpoint: iter8-abn:50051
resources:
  requests: {memory: 64Mi, cpu: 250m}
  limits: {memory: 128Mi, cpu: 500m}
tasks: [ready, http, grpc, custommetrics, assess, slack, github]
ready: {deploy: httpbin, service: httpbin, ksvc: k, isvc: i, chaosengine: c, timeout: 60s, namespace: default}
http:
  url: http://httpbin.default/get
  numRequests: 100
  duration: 10s
  qps: 8
  connections: 4
  payloadStr: x
  payloadURL: https://example.com/p
  contentType: application/json
  headers: {X-A: b}
  errorRanges: [{lower: 500}]
  percentiles: [97.5]
  allowInitialErrors: true
  warmupNumRequests: 10
  warmupDuration: 2s
  endpoints:
    a: {url: http://a/}
grpc:
  host: hello.default:50051
  call: helloworld.Greeter.SayHello
  protoURL: https://example.com/hello.proto
  dataURL: https://example.com/data.json
  binaryDataURL: https://example.com/data.bin
  metadataURL: https://example.com/md.json
  total: 200
  concurrency: 50
  rps: 10
  skipFirst: 1
  warmupNumRequests: 10
custommetrics:
  templates: {istio-prom: istio-prom}
  values: {labels: {namespace: default}}
  versionValues: [{labels: {destination_version: v1}}]
assess:
  SLOs:
    upper: {http/latency-mean: 50, http/error-count: 0}
    lower: {http/request-count: 10}
slack: {url: "${env:SLACK}", softFailure: false, payloadTemplateURL: https://example.com/t}
github: {owner: o, repo: r, token: "${env:TOKEN}", softFailure: true}
`
	f := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(f, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	vals, err := Values{Files: []string{f}}.Merge(context.Background(), source.Reader{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Render(vals, common.ReleaseOptions{Name: "default", Namespace: "default", IsInstall: true}); err != nil {
		t.Errorf("the original's values do not validate: %v", err)
	}
}
