package task

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"iter8.tools/iter8/internal/chart"
	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/golden"
	"iter8.tools/iter8/internal/metrics"
	"iter8.tools/iter8/internal/slo"
	"iter8.tools/iter8/internal/source"
)

// hookReceiver is a local HTTP server that records notifications and answers
// with the given status codes in turn (the last one repeats).
type hookReceiver struct {
	mu       sync.Mutex
	codes    []int
	requests []recorded
	srv      *httptest.Server
}

type recorded struct {
	method, path, query string
	header              http.Header
	body                []byte
}

func newHookReceiver(t *testing.T, codes ...int) *hookReceiver {
	r := &hookReceiver{codes: codes}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.requests = append(r.requests, recorded{req.Method, req.URL.Path, req.URL.RawQuery, req.Header.Clone(), b})
		code := r.codes[min(len(r.requests), len(r.codes))-1]
		r.mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *hookReceiver) got() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.requests...)
}

// notifiedExperiment is a third loop with one SLO met and one not.
func notifiedExperiment(t *testing.T) *experiment.Experiment {
	t.Helper()
	exp := &experiment.Experiment{Spec: make([]experiment.TaskSpec, 3), Result: &experiment.Result{NumLoops: 3, NumCompletedTasks: 3}}
	in, err := exp.Result.InitInsights(1, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = in.SetValue("http/latency-p99", metrics.Meta{Units: "msec", Type: metrics.Gauge}, 0, 23.4)
	_ = in.SetValue("http/error-rate", metrics.Meta{Type: metrics.Gauge}, 0, 0.05)
	in.SLOVerdicts = slo.Evaluate([]slo.Objective{
		{Metric: "http/latency-p99", Limit: 100, Direction: slo.Upper},
		{Metric: "http/error-rate", Limit: 0.01, Direction: slo.Upper},
		{Metric: "http/request-count", Limit: 100, Direction: slo.Lower},
	}, 1, in)
	return exp
}

// notifyFromChart renders a wrapper with the chart and builds its task.
func notifyFromChart(t *testing.T, set ...string) *notifyTask {
	t.Helper()
	c, err := chart.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	vals, err := chart.Values{Set: set}.Merge(context.Background(), source.Reader{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := c.Experiment(vals)
	if err != nil {
		t.Fatal(err)
	}
	exp, err := experiment.Decode(doc)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(doc), "s3cr3t") {
		t.Fatalf("a secret reached the experiment:\n%s", doc)
	}
	tk, err := newNotify(exp.Spec[0].With)
	if err != nil {
		t.Fatal(err)
	}
	n := tk.(*notifyTask)
	n.retryDelay = 10 * time.Millisecond
	return n
}

func secretFile(t *testing.T, value string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte(value+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func runNotify(t *testing.T, n *notifyTask) (string, error) {
	t.Helper()
	var logs bytes.Buffer
	env := &experiment.Env{
		Experiment: notifiedExperiment(t),
		Logger:     slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug - 4})),
		Now:        func() time.Time { return time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC) },
	}
	err := n.Run(context.Background(), env)
	return logs.String(), err
}

// Slack, GitHub and webhook notifications reach a local hookReceiver with the
// right content and headers, retrying after a 503.
func TestNotifyWrappers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		set     func(url, secretPath string) []string
		path    string
		headers map[string]string
	}{
		{"slack", func(u, s string) []string {
			return []string{"tasks={slack}", "slack.url=${file:" + s + "}", "slack.links.report=https://ci.example/report.html"}
		}, "/services/T0/B0/s3cr3t", map[string]string{"Content-Type": "application/json"}},
		{"github", func(u, s string) []string {
			return []string{"tasks={github}", "github.owner=iter8-tools", "github.repo=demo", "github.token=${file:" + s + "}", "github.apiURL=" + u}
		}, "/repos/iter8-tools/demo/dispatches", map[string]string{"Authorization": "token s3cr3t", "Accept": "application/vnd.github+json"}},
		{"webhook", func(u, s string) []string {
			return []string{"tasks={webhook}", "webhook.url=" + u + "/hook", "webhook.headers.X-Key=${file:" + s + "}", "webhook.params.source=iter8"}
		}, "/hook", map[string]string{"X-Key": "s3cr3t", "Content-Type": "application/json"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := newHookReceiver(t, http.StatusServiceUnavailable, http.StatusOK)
			secretValue := "s3cr3t"
			if tt.name == "slack" {
				secretValue = rec.srv.URL + "/services/T0/B0/s3cr3t" // the webhook URL is the secret
			}
			n := notifyFromChart(t, tt.set(rec.srv.URL, secretFile(t, secretValue))...)
			logs, err := runNotify(t, n)
			if err != nil {
				t.Fatal(err)
			}
			got := rec.got()
			if len(got) != 2 {
				t.Fatalf("%d requests, want 2 (a 503, then a retry)", len(got))
			}
			last := got[1]
			if last.method != http.MethodPost || last.path != tt.path {
				t.Errorf("%s %s, want POST %s", last.method, last.path, tt.path)
			}
			for k, v := range tt.headers {
				if last.header.Get(k) != v {
					t.Errorf("header %s = %q, want %q", k, last.header.Get(k), v)
				}
			}
			if tt.name == "webhook" && last.query != "source=iter8" {
				t.Errorf("query %q", last.query)
			}
			if !json.Valid(last.body) {
				t.Fatalf("payload is not JSON:\n%s", last.body)
			}
			golden.Check(t, filepath.Join("testdata", "notify", tt.name+".json"), last.body)
			if strings.Contains(logs, "s3cr3t") {
				t.Errorf("the secret reached the logs:\n%s", logs)
			}
			if !strings.Contains(logs, "notification sent") || !strings.Contains(logs, "retrying") {
				t.Errorf("logs:\n%s", logs)
			}
		})
	}
}

// softFailure keeps the experiment going when a notification cannot be
// sent; without it the task fails and says why, without the secret.
func TestNotifySoftFailure(t *testing.T) {
	t.Parallel()
	for _, soft := range []bool{true, false} {
		rec := newHookReceiver(t, http.StatusInternalServerError)
		n := notifyFromChart(t, "tasks={webhook}", "webhook.url="+rec.srv.URL+"/hook", "webhook.headers.Authorization=Bearer ${file:"+secretFile(t, "s3cr3t")+"}",
			"webhook.softFailure="+map[bool]string{true: "true", false: "false"}[soft])
		logs, err := runNotify(t, n)
		if got := len(rec.got()); got != 4 {
			t.Errorf("softFailure %v: %d attempts, want 4 (3 retries)", soft, got)
		}
		if soft {
			if err != nil || !strings.Contains(logs, "notification not sent (softFailure") {
				t.Errorf("softFailure: error %v, logs:\n%s", err, logs)
			}
		} else if err == nil || !strings.Contains(err.Error(), "answered 500 Internal Server Error (after 4 attempts)") || strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("without softFailure: error %v", err)
		}
		// a 4xx is not retried
		rec4 := newHookReceiver(t, http.StatusForbidden)
		n = notifyFromChart(t, "tasks={webhook}", "webhook.url="+rec4.srv.URL, "webhook.softFailure=false")
		if _, err := runNotify(t, n); err == nil || len(rec4.got()) != 1 {
			t.Errorf("403: error %v after %d attempts, want 1", err, len(rec4.got()))
		}
	}
}

func TestNotifyChartErrors(t *testing.T) {
	t.Parallel()
	c, err := chart.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		set  []string
		want string
	}{
		{[]string{"tasks={slack}"}, "slack.url is required"},
		{[]string{"tasks={slack}", "slack.url=https://hooks.slack.com/services/T/B/x"}, "slack.url must be a secret reference such as ${env:SLACK_WEBHOOK_URL}"},
		{[]string{"tasks={github}", "github.owner=o", "github.repo=r", "github.token=ghp_abc"}, "github.token must be a secret reference such as ${env:GITHUB_TOKEN}"},
		{[]string{"tasks={github}", "github.owner=o"}, "github.repo is required"},
		{[]string{"tasks={webhook}"}, "webhook.url is required"},
	} {
		vals, err := chart.Values{Set: tt.set}.Merge(context.Background(), source.Reader{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Experiment(vals); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %v, want %q", tt.set, err, tt.want)
		}
	}
	if _, err := newNotify(map[string]any{"url": "http://x", "payloadTemplate": "{{ .Broken "}); err == nil || !strings.Contains(err.Error(), `field "payloadTemplate"`) {
		t.Errorf("broken template: %v", err)
	}
}
