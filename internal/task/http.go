package task

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/inputs"
	"iter8.tools/iter8/internal/load"
	"iter8.tools/iter8/internal/load/httpload"
	"iter8.tools/iter8/internal/secret"
	"iter8.tools/iter8/internal/source"
)

// Defaults of the http task, as in the original unless noted.
const (
	defaultQPS         = 8.0
	defaultConnections = 4
	defaultNumRequests = 100
	// defaultTimeout bounds each request (new in this iter8).
	defaultTimeout = 10 * time.Second
)

// httpTask is the load skeleton over HTTP requests.
type httpTask = loadTask[requestInputs, httpInputs]

func newHTTP(with map[string]any) (experiment.Task, error) {
	return newLoad[requestInputs, httpInputs, endpointInputs](with)
}

// errorRange is an inclusive range of status codes counted as errors.
type errorRange struct {
	Lower *int `json:"lower,omitempty"`
	Upper *int `json:"upper,omitempty"`
}

func (r errorRange) contains(code int) bool {
	return (r.Lower == nil || code >= *r.Lower) && (r.Upper == nil || code <= *r.Upper)
}

// requestInputs describe the requests sent; endpoints inherit them from the
// top level of the task.
type requestInputs struct {
	URL                string            `json:"url,omitempty"`
	Method             string            `json:"method,omitempty"`
	Host               string            `json:"host,omitempty"`
	Headers            map[string]string `json:"headers,omitempty"`
	PayloadStr         string            `json:"payloadStr,omitempty" inherit:"payload"`
	PayloadFile        string            `json:"payloadFile,omitempty" inherit:"payload"`
	PayloadURL         string            `json:"payloadURL,omitempty" inherit:"payload"`
	ContentType        string            `json:"contentType,omitempty"`
	ErrorRanges        []errorRange      `json:"errorRanges,omitempty"`
	HTTP2              *bool             `json:"http2,omitempty"`
	CACertFile         string            `json:"caCertFile,omitempty"`
	CertFile           string            `json:"certFile,omitempty"`
	KeyFile            string            `json:"keyFile,omitempty"`
	ServerName         string            `json:"serverName,omitempty"`
	InsecureSkipVerify *bool             `json:"insecureSkipVerify,omitempty"`
}

// httpInputs are the http task's inputs (compat section 3.2 and more).
type httpInputs struct {
	requestInputs
	loadInputs
	NumRequests        *int64           `json:"numRequests,omitempty"`
	QPS                *float64         `json:"qps,omitempty"`
	Connections        *int             `json:"connections,omitempty"`
	AllowInitialErrors bool             `json:"allowInitialErrors,omitempty"`
	Timeout            *inputs.Duration `json:"timeout,omitempty"`
	// QPSSchedule steps the rate over the run instead of qps (schedule.go).
	QPSSchedule *rateSchedule `json:"qpsSchedule,omitempty"`
	extras      planExtras
}

func (in *httpInputs) skeleton() (loadKind[requestInputs], *loadInputs, requestInputs, loadPlan) {
	kind := loadKind[requestInputs]{
		name: "http", sep: "-", unit: "requests", isError: httpErrors, target: in.target,
		runLevel: []string{"qpsSchedule"},
	}
	return kind, &in.loadInputs, in.requestInputs, loadPlan{connections: *in.Connections, rate: *in.QPS, timeout: in.Timeout.Duration, requests: in.NumRequests, extras: in.extras}
}

func (in *httpInputs) defaults() error {
	if in.URL == "" && len(in.Endpoints) == 0 {
		return &inputs.FieldError{Field: "url", Missing: true, Expected: "the URL to send requests to, such as http://127.0.0.1:8080/get (or endpoints)"}
	}
	if err := in.checkCount("numRequests", in.NumRequests); err != nil {
		return err
	}
	if in.NumRequests == nil && in.Duration == nil {
		n := int64(defaultNumRequests)
		in.NumRequests = &n
	}
	if in.QPS == nil {
		q := defaultQPS
		in.QPS = &q
	}
	if err := checkRate("qps", in.QPS, "a number of requests per second >= 0 (0 sends as fast as responses return)"); err != nil {
		return err
	}
	if in.Connections == nil {
		c := defaultConnections
		in.Connections = &c
	}
	if err := checkPositive("connections", in.Connections); err != nil {
		return err
	}
	if len(in.ErrorRanges) == 0 {
		lower := 400
		in.ErrorRanges = []errorRange{{Lower: &lower}}
	}
	if err := positiveDuration("timeout", &in.Timeout, defaultTimeout, "a positive duration such as 10s"); err != nil {
		return err
	}
	if err := checkRanges("qps", in.QPS, map[string]*int{"connections": in.Connections}, "numRequests", in.NumRequests, in.Duration); err != nil {
		return err
	}
	var err error
	if in.extras, err = in.QPSSchedule.plan(in.NumRequests, in.Duration); err != nil {
		return err
	}
	return in.checkSummary()
}

// check validates resolved request inputs; prefix names the endpoint.
func (r requestInputs) check(prefix string) error {
	if r.URL == "" {
		return &inputs.FieldError{Field: prefix + "url", Missing: true, Expected: "the URL to send requests to"}
	}
	if err := checkURL(prefix+"url", r.URL); err != nil {
		return err
	}
	if countSet(r.PayloadStr, r.PayloadFile+r.PayloadURL) > 1 {
		return &inputs.FieldError{Field: prefix + "payloadStr", Value: "more than one payload", Expected: "at most one of payloadStr and payloadFile (or payloadURL)"}
	}
	if r.PayloadURL != "" {
		if err := checkURL(prefix+"payloadURL", r.PayloadURL); err != nil {
			return err
		}
	}
	for i, er := range r.ErrorRanges {
		if er.Lower != nil && er.Upper != nil && *er.Lower > *er.Upper {
			return &inputs.FieldError{Field: fmt.Sprintf("%serrorRanges[%d]", prefix, i), Value: map[string]int{"lower": *er.Lower, "upper": *er.Upper}, Expected: "lower <= upper"}
		}
	}
	if (r.CertFile == "") != (r.KeyFile == "") {
		return &inputs.FieldError{Field: prefix + "certFile", Value: r.CertFile, Expected: "certFile and keyFile together (a client certificate and its key)"}
	}
	return checkSecrets(prefix+"headers", r.Headers)
}

// httpErrors counts transport failures and the status codes in each
// endpoint's error ranges as errors.
func httpErrors(eps []mixEndpoint[requestInputs]) func(int, load.Outcome) bool {
	ranges := make([][]errorRange, len(eps))
	for i, e := range eps {
		ranges[i] = e.in.ErrorRanges
	}
	return func(ep int, o load.Outcome) bool {
		if o.Err != "" || o.Code < 100 || o.Code > 599 {
			// (a status outside 100-599 is no HTTP status, RFC 9110
			// 15: an error whatever the ranges, though net/http reads
			// three digits such as 000 or 099)
			return true
		}
		for _, r := range ranges[ep] {
			if r.contains(o.Code) {
				return true
			}
		}
		return false
	}
}

// target builds the HTTP target. Unless allowInitialErrors, the first
// request to each endpoint also probes it: when it fails in transport, the
// run stops with an error (that request is measured, not sent on its own,
// so that the server counts exactly numRequests).
func (in *httpInputs) target(ctx context.Context, env *experiment.Env, eps []mixEndpoint[requestInputs], opts load.Options, stop func(error)) (measured, error) {
	cfg := httpload.Config{Endpoints: make([]httpload.Endpoint, len(eps)), Connections: opts.Connections, Timeout: opts.Timeout}
	for i, e := range eps {
		ep, err := e.in.endpoint(ctx, env.Dir)
		if err != nil {
			return nil, endpointErr(e.id, err)
		}
		cfg.Endpoints[i] = ep
	}
	allow := in.AllowInitialErrors
	if len(eps) == 1 && eps[0].own.allowInitialErrors != nil {
		allow = *eps[0].own.allowInitialErrors // an endpoint run in turn
	}
	if !allow && stop != nil {
		cfg.Unreachable = func(err error) {
			stop(fmt.Errorf("%s %w (set allowInitialErrors: true to run anyway and count such failures as errors)", firstFailure(err), err))
		}
	}
	target, err := httpload.New(cfg)
	if err != nil {
		return nil, targetError(eps, err)
	}
	return httpTarget{target}, nil
}

// endpoint turns request inputs into the engine's endpoint: the payload
// read, secret references resolved, files relative to the run directory.
func (r requestInputs) endpoint(ctx context.Context, dir string) (httpload.Endpoint, error) {
	body, err := r.payload(ctx, dir)
	if err != nil {
		return httpload.Endpoint{}, err
	}
	headers, err := secret.ResolveMap(r.Headers)
	if err != nil {
		return httpload.Endpoint{}, err
	}
	return httpload.Endpoint{
		URL:         r.URL,
		Method:      r.Method,
		Headers:     headers,
		Host:        r.Host,
		Body:        body,
		ContentType: r.ContentType,
		HTTP2:       r.HTTP2 != nil && *r.HTTP2,
		TLS: httpload.TLS{
			CAFile:             source.Path(dir, r.CACertFile),
			CertFile:           source.Path(dir, r.CertFile),
			KeyFile:            source.Path(dir, r.KeyFile),
			ServerName:         r.ServerName,
			InsecureSkipVerify: r.InsecureSkipVerify != nil && *r.InsecureSkipVerify,
		},
	}, nil
}

// payload returns the request body from payloadStr, payloadFile (relative to
// the run directory) or payloadURL; with both, as the original's charts
// wrote them, the file if it exists (see fileOrURL).
func (r requestInputs) payload(ctx context.Context, dir string) ([]byte, error) {
	r.PayloadFile, r.PayloadURL = fileOrURL(dir, r.PayloadFile, r.PayloadURL)
	switch {
	case r.PayloadStr != "":
		return []byte(r.PayloadStr), nil
	case r.PayloadFile != "":
		return source.Reader{}.File(ctx, "payloadFile", source.Path(dir, r.PayloadFile))
	case r.PayloadURL != "":
		return source.Reader{}.URL(ctx, "", r.PayloadURL)
	}
	return nil, nil
}

// httpTarget adds the protocol each endpoint spoke to the measurements.
type httpTarget struct{ *httpload.Target }

func (t httpTarget) protocol(ep int) string {
	ps := t.Protocols()
	if ep >= 0 {
		return ps[ep]
	}
	if len(ps) == 0 {
		return ""
	}
	for _, p := range ps[1:] {
		if p != ps[0] {
			return "mixed"
		}
	}
	return ps[0]
}

func (httpTarget) record(*experiment.Insights, string, int, []float64, ...measured) error { return nil }

// firstFailure says what the failure of an endpoint's first request (see
// httpload.Config.Unreachable) shows: "cannot reach" when no connection
// could be made (refused, no such host, a dial or TLS handshake that
// failed or timed out), "no HTTP answer to the first request to" when a
// connection was made and the server closed or reset it, sent something
// that is not HTTP, or did not answer in time.
func firstFailure(err error) string {
	var op *net.OpError
	if (errors.As(err, &op) && (op.Op == "dial" || op.Op == "remote error")) || load.Classify(err) == load.TLS {
		// ("remote error": a TLS alert from the server, in the handshake)
		return "cannot reach"
	}
	return "no HTTP answer to the first request to"
}
