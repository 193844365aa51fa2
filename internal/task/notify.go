package task

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/template"
	"time"

	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/inputs"
	"iter8.tools/iter8/internal/report"
	"iter8.tools/iter8/internal/secret"
	"iter8.tools/iter8/internal/slo"
	"iter8.tools/iter8/internal/source"
	"iter8.tools/iter8/internal/tmpl"
)

// notifyInputs are the notify task's inputs (compat section 3.6). The url,
// headers and params may hold secret references (${env:NAME}, ${file:/path}),
// resolved only when the request is sent.
type notifyInputs struct {
	URL                string            `json:"url,omitempty"`
	Method             string            `json:"method,omitempty"`
	Headers            map[string]string `json:"headers,omitempty"`
	Params             map[string]string `json:"params,omitempty"`
	PayloadTemplate    string            `json:"payloadTemplate,omitempty"`
	PayloadTemplateURL string            `json:"payloadTemplateURL,omitempty"`
	SoftFailure        bool              `json:"softFailure,omitempty"`
	Links              map[string]string `json:"links,omitempty"`
	Data               map[string]string `json:"data,omitempty"`
	Retries            *int              `json:"retries,omitempty"`
	Timeout            *inputs.Duration  `json:"timeout,omitempty"`
}

type notifyTask struct {
	in notifyInputs
	// retryDelay is the first backoff; it doubles on each retry.
	retryDelay time.Duration
}

const (
	defaultNotifyRetries = 3
	defaultNotifyTimeout = 10 * time.Second
	maxPayload           = 1 << 20
)

func newNotify(with map[string]any) (experiment.Task, error) {
	t := &notifyTask{retryDelay: 500 * time.Millisecond}
	if err := inputs.Decode(with, &t.in); err != nil {
		return nil, err
	}
	in := &t.in
	if in.URL == "" {
		return nil, &inputs.FieldError{Field: "url", Missing: true, Expected: "the URL to notify, such as ${env:SLACK_WEBHOOK_URL}"}
	}
	if !secret.Contains(in.URL) {
		if err := checkURL("url", in.URL); err != nil {
			return nil, err
		}
	}
	if in.PayloadTemplate != "" && in.PayloadTemplateURL != "" {
		return nil, &inputs.FieldError{Field: "payloadTemplate", Value: "both", Expected: "at most one of payloadTemplate and payloadTemplateURL"}
	}
	if in.PayloadTemplate != "" {
		if _, err := parsePayload(in.PayloadTemplate); err != nil {
			return nil, &inputs.FieldError{Field: "payloadTemplate", Value: firstLine(in.PayloadTemplate), Expected: "a Go template (" + err.Error() + ")"}
		}
	}
	if err := checkSecrets("headers", in.Headers); err != nil {
		return nil, err
	}
	if err := checkSecrets("params", in.Params); err != nil {
		return nil, err
	}
	if in.Method == "" {
		in.Method = http.MethodGet
		if in.PayloadTemplate != "" || in.PayloadTemplateURL != "" {
			in.Method = http.MethodPost
		}
	}
	in.Method = strings.ToUpper(in.Method)
	if in.Retries == nil {
		r := defaultNotifyRetries
		in.Retries = &r
	}
	if *in.Retries < 0 || *in.Retries > 10 {
		return nil, &inputs.FieldError{Field: "retries", Value: *in.Retries, Expected: "a number of retries from 0 to 10"}
	}
	if err := positiveDuration("timeout", &in.Timeout, defaultNotifyTimeout, "a positive duration"); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *notifyTask) Inputs() any { return t.in }

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " ..."
	}
	return s
}

// parsePayload parses a payload template with bounded cost (package tmpl:
// sprig without env, expandenv and getHostByName, output at most 1 MiB).
func parsePayload(text string) (*tmpl.Template, error) {
	funcs := template.FuncMap{}
	// mrkdwn escapes text for Slack's mrkdwn, where <, > and & are markup.
	funcs["mrkdwn"] = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace
	funcs["deref"] = func(f *float64) float64 {
		if f == nil {
			return 0
		}
		return *f
	}
	return tmpl.Parse("payload", text, tmpl.DefaultLimits(), funcs, "missingkey=zero")
}

// Summary is the concise report a notification carries: the experiment's
// status and each SLO with its value and limit, not the whole experiment.
// Payload templates see it as . and, with the experiment, as .Report (see
// Report).
type Summary struct {
	TimeStamp         string            `json:"timeStamp"`
	Status            string            `json:"status"`
	Completed         bool              `json:"completed"`
	NoTaskFailures    bool              `json:"noTaskFailures"`
	NumTasks          int               `json:"numTasks"`
	NumCompletedTasks int               `json:"numCompletedTasks"`
	NumLoops          int               `json:"numLoops"`
	FailureReason     string            `json:"failureReason,omitempty"`
	SLOsSatisfied     bool              `json:"slosSatisfied"`
	Versions          []string          `json:"versions,omitempty"`
	SLOs              []SLOSummary      `json:"slos,omitempty"`
	Links             map[string]string `json:"links,omitempty"`
}

// SLOSummary is one SLO for every version.
type SLOSummary struct {
	SLO      string          `json:"slo"`
	Metric   string          `json:"metric"`
	Limit    float64         `json:"limit"`
	Units    string          `json:"units,omitempty"`
	Upper    bool            `json:"upper"`
	Versions []VersionResult `json:"versions"`
}

// VersionResult is an SLO's outcome for one version.
type VersionResult struct {
	Version string   `json:"version"`
	Value   *float64 `json:"value,omitempty"`
	Outcome string   `json:"outcome"`
	Passed  bool     `json:"passed"`
	Reason  string   `json:"reason,omitempty"`
}

// notifyData is what payload templates see: the summary (as .), the
// original's report (as .Report) and the task's data input (as .Data).
type notifyData struct {
	Summary
	Report Report
	Data   map[string]string
}

// Report is what payload templates written for the original Iter8 see as
// .Report: the summary's fields (.Report.Status, .Report.SLOs...) and the
// experiment itself (.Report.Experiment, its spec and result). In JSON
// (.Report | toJson, the original's Slack and GitHub payloads) it has the
// original's keys, timeStamp, completed, noTaskFailures, numTasks,
// numCompletedTasks, numLoops and experiment, plus summary: eight top-level
// properties, within the ten a GitHub repository_dispatch client_payload
// may have.
type Report struct {
	Summary
	Experiment *experiment.Experiment
}

// MarshalJSON encodes the report in the original's shape, with the summary
// under its own key.
func (r Report) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		TimeStamp         string                 `json:"timeStamp"`
		Completed         bool                   `json:"completed"`
		NoTaskFailures    bool                   `json:"noTaskFailures"`
		NumTasks          int                    `json:"numTasks"`
		NumCompletedTasks int                    `json:"numCompletedTasks"`
		NumLoops          int                    `json:"numLoops"`
		Experiment        *experiment.Experiment `json:"experiment"`
		Summary           Summary                `json:"summary"`
	}{r.TimeStamp, r.Completed, r.NoTaskFailures, r.NumTasks, r.NumCompletedTasks, r.NumLoops, r.Experiment, r.Summary})
}

// payloadExperiment is the experiment as a payload carries it: spec and
// result as stored, without what only this iter8 records in bulk (the HDR
// histograms and the loop history), which the original's payload never had
// and which would outgrow a GitHub dispatch (64 KB).
func payloadExperiment(exp *experiment.Experiment) *experiment.Experiment {
	if exp == nil || exp.Result == nil {
		return exp
	}
	out := *exp
	res := *exp.Result
	res.History = nil
	if res.Insights != nil {
		in := *res.Insights
		in.Histograms = nil
		res.Insights = &in
	}
	out.Result = &res
	return &out
}

// summarize builds the concise report from the report model every output
// format uses, so notifications say what reports say.
func summarize(exp *experiment.Experiment, links map[string]string, now time.Time) Summary {
	m := report.New(exp)
	st := m.Status
	s := Summary{
		TimeStamp: now.UTC().Format(time.RFC3339), Completed: st.Completed, NoTaskFailures: !st.Failure,
		NumTasks: st.Tasks, NumCompletedTasks: st.CompletedTasks, NumLoops: st.Loops,
		FailureReason: st.FailureReason, SLOsSatisfied: st.SLOsSatisfied, Versions: m.Versions, Links: links,
	}
	for _, o := range m.SLOs {
		ss := SLOSummary{SLO: o.Condition, Metric: o.Metric, Limit: o.Limit, Units: o.Units, Upper: o.Direction != slo.Lower}
		for _, r := range o.Results {
			ss.Versions = append(ss.Versions, VersionResult{Version: r.Version, Value: r.Value, Outcome: string(r.Outcome), Passed: r.Satisfied(), Reason: r.Reason})
		}
		s.SLOs = append(s.SLOs, ss)
	}
	switch {
	case st.Failure:
		s.Status = "failed"
	case len(m.SLOs) == 0:
		s.Status = "no SLOs checked"
	case st.SLOsSatisfied:
		s.Status = "SLOs satisfied"
	default:
		s.Status = "SLOs not satisfied"
	}
	return s
}

// Run sends the notification, retrying on 5xx answers and connection errors
// with an exponential backoff. With softFailure, a notification that cannot
// be sent is logged and does not fail the experiment.
func (t *notifyTask) Run(ctx context.Context, env *experiment.Env) error {
	err := t.send(ctx, env)
	if err != nil && t.in.SoftFailure && ctx.Err() == nil && !errors.Is(err, secret.ErrRefused) {
		env.Logger.Warn("notification not sent (softFailure: the experiment goes on)", "error", err.Error())
		return nil
	}
	return err
}

func (t *notifyTask) send(ctx context.Context, env *experiment.Env) error {
	in := t.in
	red := &secret.Redactor{}
	target, err := red.Resolve(in.URL)
	if err != nil {
		return fmt.Errorf("url: %w", err)
	}
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("url %s is not an absolute http(s) URL", in.URL)
	}
	if len(in.Params) > 0 {
		q := u.Query()
		for k, v := range in.Params {
			rv, err := red.Resolve(v)
			if err != nil {
				return fmt.Errorf("params.%s: %w", k, err)
			}
			q.Set(k, rv)
		}
		u.RawQuery = q.Encode()
	}
	headers := map[string]string{}
	for k, v := range in.Headers {
		rv, err := red.Resolve(v)
		if err != nil {
			return fmt.Errorf("headers.%s: %w", k, err)
		}
		headers[k] = rv
	}
	var body []byte
	if in.PayloadTemplate != "" || in.PayloadTemplateURL != "" {
		if body, err = t.payload(ctx, env); err != nil {
			return err
		}
		if _, ok := headers["Content-Type"]; !ok {
			headers["Content-Type"] = "application/json"
		}
	}
	delay := t.retryDelay
	for attempt := 0; ; attempt++ {
		code, err := t.post(ctx, u.String(), headers, body)
		retry := err != nil || code >= 500
		if err == nil && code/100 == 2 {
			env.Logger.Info("notification sent", "url", red.Redact(redactURL(u)), "status", code, "attempts", attempt+1)
			return nil
		}
		if err == nil && !retry {
			return fmt.Errorf("notifying %s: the server answered %d %s", red.Redact(redactURL(u)), code, http.StatusText(code))
		}
		if attempt >= *in.Retries {
			if err != nil {
				return fmt.Errorf("notifying %s: %s (after %d attempts)", red.Redact(redactURL(u)), red.Redact(err.Error()), attempt+1)
			}
			return fmt.Errorf("notifying %s: the server answered %d %s (after %d attempts)", red.Redact(redactURL(u)), code, http.StatusText(code), attempt+1)
		}
		env.Logger.Info("notification failed, retrying", "attempt", attempt+1, "in", delay.String())
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
		}
		delay = min(delay*2, 10*time.Second)
	}
}

// redactURL keeps a URL's scheme, host and path for messages; its query may
// hold tokens.
func redactURL(u *url.URL) string {
	c := *u
	c.RawQuery, c.User = "", nil
	if strings.Contains(c.Path, "/services/") { // a Slack webhook's path is its secret
		c.Path = "/services/hidden"
	}
	return c.String()
}

func (t *notifyTask) post(ctx context.Context, target string, headers map[string]string, body []byte) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, t.in.Timeout.Duration)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, t.in.Method, target, rd)
	if err != nil {
		return 0, err
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "iter8")
	}
	resp, err := source.Client().Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its URL is rebuilt (scheme lower-cased): the caller names the URL, redacted
		}
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxPayload))
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// payload renders the payload template with the concise report.
func (t *notifyTask) payload(ctx context.Context, env *experiment.Env) ([]byte, error) {
	text, src, remote := t.in.PayloadTemplate, "payloadTemplate", false
	if t.in.PayloadTemplateURL != "" {
		src, remote = t.in.PayloadTemplateURL, source.IsURL(t.in.PayloadTemplateURL)
		var b []byte
		var err error
		if ref := t.in.PayloadTemplateURL; source.IsURL(ref) {
			b, err = source.Reader{}.URL(ctx, "", ref)
		} else {
			b, err = source.Reader{}.File(ctx, "payloadTemplateURL", source.Path(env.Dir, ref))
		}
		if err != nil {
			return nil, fmt.Errorf("payloadTemplateURL: %w", err)
		}
		text = string(b)
	}
	pt, err := parsePayload(text)
	if err != nil {
		return nil, fmt.Errorf("payload template: %w", err)
	}
	now := time.Now
	if env.Now != nil {
		now = env.Now
	}
	s := summarize(env.Experiment, t.in.Links, now())
	rep := Report{Summary: s, Experiment: payloadExperiment(env.Experiment)}
	data := notifyData{Summary: s, Report: rep, Data: t.in.Data}
	b, err := pt.Execute(data)
	if err != nil {
		return nil, fmt.Errorf("payload template: %w", err)
	}
	if err := checkPayloadRefs(text, b, data, src, remote); err != nil {
		return nil, err
	}
	if len(b) > maxPayload {
		return nil, errors.New("the rendered payload is larger than 1 MiB")
	}
	return b, nil
}

// checkPayloadRefs refuses a payload in which the template itself wrote a
// secret reference: one in its text, or one it rendered that its data does
// not hold (the experiment keeps its references, and a payload may show
// them as text). A payload is sent as rendered, never resolved, so such a
// reference could only be a mistake or, in a template from a URL, an
// attempt to name a local secret.
func checkPayloadRefs(text string, payload []byte, data notifyData, src string, remote bool) error {
	refs := secret.All(text)
	if secret.Contains(string(payload)) {
		given, err := json.Marshal(data)
		if err != nil {
			return fmt.Errorf("payload template: %w", err)
		}
		for _, ref := range secret.All(string(payload)) {
			if !strings.Contains(string(given), ref) {
				refs = append(refs, ref)
			}
		}
	}
	if len(refs) == 0 {
		return nil
	}
	how := "renders"
	if remote {
		how = "came from a URL and renders"
	}
	return &secret.RefusedError{What: "payload template", Source: src, How: how, Ref: refs[0],
		Why: "a notification payload is sent as rendered and never resolved: give secrets in the url, headers or params"}
}
