package task

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/load"
	"iter8.tools/iter8/internal/load/httpload"
)

// Defaults of the http task, as in the original unless noted.
const (
	defaultQPS         = 8.0
	defaultConnections = 4
	defaultNumRequests = 100
	// defaultTimeout bounds each request (new in this iter8).
	defaultTimeout = 10 * time.Second
)

// errorRange is an inclusive range of status codes counted as errors.
type errorRange struct {
	Lower *int `json:"lower,omitempty"`
	Upper *int `json:"upper,omitempty"`
}

func (r errorRange) contains(code int) bool {
	return (r.Lower == nil || code >= *r.Lower) && (r.Upper == nil || code <= *r.Upper)
}

// httpInputs are the http task's inputs (compat section 3.2).
type httpInputs struct {
	URL                string               `json:"url,omitempty"`
	NumRequests        *int64               `json:"numRequests,omitempty"`
	Duration           *experiment.Duration `json:"duration,omitempty"`
	QPS                *float64             `json:"qps,omitempty"`
	Connections        *int                 `json:"connections,omitempty"`
	PayloadStr         string               `json:"payloadStr,omitempty"`
	PayloadFile        string               `json:"payloadFile,omitempty"`
	PayloadURL         string               `json:"payloadURL,omitempty"`
	ContentType        string               `json:"contentType,omitempty"`
	Headers            map[string]string    `json:"headers,omitempty"`
	ErrorRanges        []errorRange         `json:"errorRanges,omitempty"`
	Percentiles        []float64            `json:"percentiles,omitempty"`
	Warmup             *bool                `json:"warmup,omitempty"`
	AllowInitialErrors bool                 `json:"allowInitialErrors,omitempty"`
	Timeout            *experiment.Duration `json:"timeout,omitempty"`
}

type httpTask struct {
	in httpInputs
}

func newHTTP(with map[string]any) (experiment.Task, error) {
	t := &httpTask{}
	if err := experiment.DecodeInputs(with, &t.in); err != nil {
		return nil, err
	}
	if err := t.in.defaults(); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *httpTask) Inputs() any { return t.in }

func (in *httpInputs) defaults() error {
	if in.URL == "" {
		return &experiment.FieldError{Field: "url", Missing: true, Expected: "the URL to send requests to, such as http://127.0.0.1:8080/get"}
	}
	if err := checkURL("url", in.URL); err != nil {
		return err
	}
	if in.NumRequests != nil && *in.NumRequests < 1 {
		return &experiment.FieldError{Field: "numRequests", Value: *in.NumRequests, Expected: "a whole number of at least 1"}
	}
	if in.Duration != nil && in.Duration.Duration <= 0 {
		return &experiment.FieldError{Field: "duration", Value: in.Duration.String(), Expected: "a positive duration such as 30s"}
	}
	if in.NumRequests == nil && in.Duration == nil {
		n := int64(defaultNumRequests)
		in.NumRequests = &n
	}
	if in.QPS == nil {
		q := defaultQPS
		in.QPS = &q
	}
	if q := *in.QPS; q < 0 || math.IsNaN(q) || math.IsInf(q, 0) {
		return &experiment.FieldError{Field: "qps", Value: q, Expected: "a number of requests per second >= 0 (0 sends as fast as responses return)"}
	}
	if in.Connections == nil {
		c := defaultConnections
		in.Connections = &c
	}
	if *in.Connections < 1 {
		return &experiment.FieldError{Field: "connections", Value: *in.Connections, Expected: "a whole number of at least 1"}
	}
	set := 0
	for _, s := range []string{in.PayloadStr, in.PayloadFile, in.PayloadURL} {
		if s != "" {
			set++
		}
	}
	if set > 1 {
		return &experiment.FieldError{Field: "payloadStr", Value: "more than one payload", Expected: "at most one of payloadStr, payloadFile and payloadURL"}
	}
	if in.PayloadURL != "" {
		if err := checkURL("payloadURL", in.PayloadURL); err != nil {
			return err
		}
	}
	if len(in.ErrorRanges) == 0 {
		lower := 400
		in.ErrorRanges = []errorRange{{Lower: &lower}}
	}
	for i, r := range in.ErrorRanges {
		if r.Lower != nil && r.Upper != nil && *r.Lower > *r.Upper {
			return &experiment.FieldError{Field: fmt.Sprintf("errorRanges[%d]", i), Value: map[string]int{"lower": *r.Lower, "upper": *r.Upper}, Expected: "lower <= upper"}
		}
	}
	for _, p := range in.Percentiles {
		if p <= 0 || p > 100 || math.IsNaN(p) {
			return &experiment.FieldError{Field: "percentiles", Value: p, Expected: "percentiles greater than 0 and at most 100"}
		}
	}
	in.Percentiles = mergePercentiles(in.Percentiles)
	if in.Timeout == nil {
		in.Timeout = &experiment.Duration{Duration: defaultTimeout}
	}
	if in.Timeout.Duration <= 0 {
		return &experiment.FieldError{Field: "timeout", Value: in.Timeout.String(), Expected: "a positive duration such as 10s"}
	}
	return nil
}

func checkURL(field, s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return &experiment.FieldError{Field: field, Value: s, Expected: "an absolute http:// or https:// URL"}
	}
	return nil
}

func (t *httpTask) Run(ctx context.Context, env *experiment.Env) error {
	in := t.in
	body, err := payload(ctx, env.Dir, in)
	if err != nil {
		return err
	}
	target, err := httpload.New(httpload.Config{
		Endpoints:   []httpload.Endpoint{{URL: in.URL, Headers: in.Headers, Body: body, ContentType: in.ContentType}},
		Connections: *in.Connections,
		Timeout:     in.Timeout.Duration,
	})
	if err != nil {
		return err
	}
	defer target.Close()
	if !in.AllowInitialErrors {
		if err := target.Probe(ctx); err != nil {
			return fmt.Errorf("cannot reach %s: %w (set allowInitialErrors: true to run anyway and count such failures as errors)", in.URL, err)
		}
	}
	opts := load.Options{
		Connections: *in.Connections,
		IsError: func(o load.Outcome) bool {
			if o.Err != "" {
				return true
			}
			for _, r := range in.ErrorRanges {
				if r.contains(o.Code) {
					return true
				}
			}
			return false
		},
		Progress: progressPrinter(env.Progress, "http"),
	}
	if in.NumRequests != nil {
		opts.Requests = uint64(*in.NumRequests)
	} else {
		opts.Duration = in.Duration.Duration
	}
	if *in.QPS > 0 {
		opts.Pacer = load.Constant{PerSecond: *in.QPS}
	}
	rep, err := load.Run(ctx, target, opts)
	if env.Progress != nil {
		_, _ = fmt.Fprintln(env.Progress)
	}
	if err != nil {
		return err
	}
	warm := in.Warmup != nil && *in.Warmup
	if warm {
		env.Logger.Info("warmup finished; its results are discarded", "requests", rep.Total.Requests)
		return ctx.Err()
	}
	insights, err := env.Experiment.Result.InitInsights(1, nil)
	if err != nil {
		return err
	}
	if err := recordLoad(insights, "http", rep.Total, rep, in.Percentiles); err != nil {
		return err
	}
	env.Logger.Info("http load finished", "requests", rep.Total.Requests, "errors", rep.Total.Errors, "rate", round(rep.AchievedRate, 1))
	if rep.Saturated {
		env.Logger.Warn("the intended load was not delivered; SLO verdicts on this run are invalid", "reason", rep.SaturationReason)
	}
	return ctx.Err()
}

// payload returns the request body from payloadStr, payloadFile (relative to
// the run directory) or payloadURL (fetched here, not by an external tool).
func payload(ctx context.Context, dir string, in httpInputs) ([]byte, error) {
	switch {
	case in.PayloadStr != "":
		return []byte(in.PayloadStr), nil
	case in.PayloadFile != "":
		p := in.PayloadFile
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("reading payloadFile: %w", err)
		}
		return b, nil
	case in.PayloadURL != "":
		return fetch(ctx, in.PayloadURL)
	}
	return nil, nil
}

// fetch downloads a small resource (a payload, a template) with a timeout.
func fetch(ctx context.Context, u string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", u, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", u, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("fetching %s: %s", u, resp.Status)
	}
	const limit = 64 << 20
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", u, err)
	}
	if len(b) > limit {
		return nil, errors.New("fetching " + u + ": larger than 64 MiB")
	}
	return b, nil
}
