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
	"sort"
	"time"

	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/inputs"
	"iter8.tools/iter8/internal/load"
	"iter8.tools/iter8/internal/load/httpload"
	"iter8.tools/iter8/internal/secret"
)

// Defaults of the http task, as in the original unless noted.
const (
	defaultQPS         = 8.0
	defaultConnections = 4
	defaultNumRequests = 100
	// defaultTimeout bounds each request (new in this iter8).
	defaultTimeout = 10 * time.Second
	// defaultRateTolerance is how far the achieved rate may fall below qps
	// before the run is flagged.
	defaultRateTolerance = 0.01
)

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
	PayloadStr         string            `json:"payloadStr,omitempty"`
	PayloadFile        string            `json:"payloadFile,omitempty"`
	PayloadURL         string            `json:"payloadURL,omitempty"`
	ContentType        string            `json:"contentType,omitempty"`
	ErrorRanges        []errorRange      `json:"errorRanges,omitempty"`
	HTTP2              *bool             `json:"http2,omitempty"`
	CACertFile         string            `json:"caCertFile,omitempty"`
	CertFile           string            `json:"certFile,omitempty"`
	KeyFile            string            `json:"keyFile,omitempty"`
	ServerName         string            `json:"serverName,omitempty"`
	InsecureSkipVerify *bool             `json:"insecureSkipVerify,omitempty"`
}

// endpointInputs are one endpoint of a mix.
type endpointInputs struct {
	requestInputs
	// Weight is the endpoint's share of requests (default 1).
	Weight *float64 `json:"weight,omitempty"`
	// QPS is accepted from experiments written for the original, which ran
	// endpoints one after another at their own rates; here the endpoints run
	// together and a per-endpoint qps becomes the endpoint's weight.
	QPS *float64 `json:"qps,omitempty"`
}

// httpInputs are the http task's inputs (compat section 3.2 and more).
type httpInputs struct {
	requestInputs
	NumRequests        *int64                    `json:"numRequests,omitempty"`
	Duration           *inputs.Duration          `json:"duration,omitempty"`
	QPS                *float64                  `json:"qps,omitempty"`
	Connections        *int                      `json:"connections,omitempty"`
	Percentiles        []float64                 `json:"percentiles,omitempty"`
	Warmup             *bool                     `json:"warmup,omitempty"`
	AllowInitialErrors bool                      `json:"allowInitialErrors,omitempty"`
	Timeout            *inputs.Duration          `json:"timeout,omitempty"`
	RateTolerance      *float64                  `json:"rateTolerance,omitempty"`
	Uniform            bool                      `json:"uniform,omitempty"`
	Abort              []abortCondition          `json:"abort,omitempty"`
	Endpoints          map[string]map[string]any `json:"endpoints,omitempty"`
}

// resolvedEndpoint is an endpoint with inherited inputs and its weight.
type resolvedEndpoint struct {
	id     string
	req    requestInputs
	weight float64
}

type httpTask struct {
	in    httpInputs
	eps   []resolvedEndpoint
	abort *abortWatch
}

func newHTTP(with map[string]any) (experiment.Task, error) {
	t := &httpTask{}
	if err := inputs.Decode(with, &t.in); err != nil {
		return nil, err
	}
	if err := t.in.defaults(); err != nil {
		return nil, err
	}
	eps, err := t.in.resolveEndpoints()
	if err != nil {
		return nil, err
	}
	t.eps = eps
	if t.abort, err = compileAborts("http", t.in.Abort); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *httpTask) Inputs() any { return t.in }

func (in *httpInputs) defaults() error {
	if in.URL == "" && len(in.Endpoints) == 0 {
		return &inputs.FieldError{Field: "url", Missing: true, Expected: "the URL to send requests to, such as http://127.0.0.1:8080/get (or endpoints)"}
	}
	if in.NumRequests != nil && *in.NumRequests < 1 {
		return &inputs.FieldError{Field: "numRequests", Value: *in.NumRequests, Expected: "a whole number of at least 1"}
	}
	if in.Duration != nil && in.Duration.Duration <= 0 {
		return &inputs.FieldError{Field: "duration", Value: in.Duration.String(), Expected: "a positive duration such as 30s"}
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
		return &inputs.FieldError{Field: "qps", Value: q, Expected: "a number of requests per second >= 0 (0 sends as fast as responses return)"}
	}
	if in.Connections == nil {
		c := defaultConnections
		in.Connections = &c
	}
	if *in.Connections < 1 {
		return &inputs.FieldError{Field: "connections", Value: *in.Connections, Expected: "a whole number of at least 1"}
	}
	if len(in.ErrorRanges) == 0 {
		lower := 400
		in.ErrorRanges = []errorRange{{Lower: &lower}}
	}
	for _, p := range in.Percentiles {
		if p <= 0 || p > 100 || math.IsNaN(p) {
			return &inputs.FieldError{Field: "percentiles", Value: p, Expected: "percentiles greater than 0 and at most 100"}
		}
	}
	in.Percentiles = mergePercentiles(in.Percentiles)
	if in.Timeout == nil {
		in.Timeout = &inputs.Duration{Duration: defaultTimeout}
	}
	if in.Timeout.Duration <= 0 {
		return &inputs.FieldError{Field: "timeout", Value: in.Timeout.String(), Expected: "a positive duration such as 10s"}
	}
	if in.RateTolerance == nil {
		r := defaultRateTolerance
		in.RateTolerance = &r
	}
	if r := *in.RateTolerance; r <= 0 || r >= 1 || math.IsNaN(r) {
		return &inputs.FieldError{Field: "rateTolerance", Value: r, Expected: "a fraction between 0 and 1, such as 0.01"}
	}
	return nil
}

// resolveEndpoints returns the endpoints to load: the top-level request alone,
// or each endpoint with the top-level inputs as defaults.
func (in *httpInputs) resolveEndpoints() ([]resolvedEndpoint, error) {
	if len(in.Endpoints) == 0 {
		if err := in.check(""); err != nil {
			return nil, err
		}
		return []resolvedEndpoint{{req: in.requestInputs, weight: 1}}, nil
	}
	eps, err := decodeEndpoints(in.Endpoints, "http",
		[]string{"numRequests", "duration", "connections", "timeout", "warmup", "allowInitialErrors", "percentiles", "rateTolerance", "uniform", "abort", "endpoints"},
		func(e *endpointInputs) *float64 { return firstSet(e.Weight, e.QPS) })
	if err != nil {
		return nil, err
	}
	out := make([]resolvedEndpoint, 0, len(eps))
	for _, e := range eps {
		r := inherit(in.requestInputs, e.in.requestInputs)
		if err := r.check("endpoints." + e.id + "."); err != nil {
			return nil, err
		}
		out = append(out, resolvedEndpoint{id: e.id, req: r, weight: e.weight})
	}
	return out, nil
}

// inherit fills an endpoint's unset inputs from the top level; headers merge,
// the endpoint's winning.
func inherit(top, ep requestInputs) requestInputs {
	r := ep
	str := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	str(&r.URL, top.URL)
	str(&r.Method, top.Method)
	str(&r.Host, top.Host)
	str(&r.ContentType, top.ContentType)
	str(&r.CACertFile, top.CACertFile)
	str(&r.CertFile, top.CertFile)
	str(&r.KeyFile, top.KeyFile)
	str(&r.ServerName, top.ServerName)
	if r.PayloadStr == "" && r.PayloadFile == "" && r.PayloadURL == "" {
		r.PayloadStr, r.PayloadFile, r.PayloadURL = top.PayloadStr, top.PayloadFile, top.PayloadURL
	}
	if len(r.ErrorRanges) == 0 {
		r.ErrorRanges = top.ErrorRanges
	}
	if r.HTTP2 == nil {
		r.HTTP2 = top.HTTP2
	}
	if r.InsecureSkipVerify == nil {
		r.InsecureSkipVerify = top.InsecureSkipVerify
	}
	if len(top.Headers) > 0 {
		h := make(map[string]string, len(top.Headers)+len(ep.Headers))
		for k, v := range top.Headers {
			h[k] = v
		}
		for k, v := range ep.Headers {
			h[k] = v
		}
		r.Headers = h
	}
	return r
}

// check validates resolved request inputs; prefix names the endpoint.
func (r *requestInputs) check(prefix string) error {
	if r.URL == "" {
		return &inputs.FieldError{Field: prefix + "url", Missing: true, Expected: "the URL to send requests to"}
	}
	if err := checkURL(prefix+"url", r.URL); err != nil {
		return err
	}
	set := 0
	for _, s := range []string{r.PayloadStr, r.PayloadFile, r.PayloadURL} {
		if s != "" {
			set++
		}
	}
	if set > 1 {
		return &inputs.FieldError{Field: prefix + "payloadStr", Value: "more than one payload", Expected: "at most one of payloadStr, payloadFile and payloadURL"}
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

// checkSecrets refuses secret-looking entries (Authorization, Cookie, tokens,
// keys) given as they are rather than as references.
func checkSecrets(field string, m map[string]string) error {
	for _, k := range sortedMapKeys(m) {
		if secret.CheckLiteral(k, m[k]) != nil {
			return &inputs.FieldError{Field: field + "." + k, Value: "(hidden)", Expected: "a secret reference such as ${env:NAME} or ${file:/path}: a secret given as it is would be stored in the experiment"}
		}
	}
	return nil
}

func sortedMapKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func checkURL(field, s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return &inputs.FieldError{Field: field, Value: s, Expected: "an absolute http:// or https:// URL"}
	}
	return nil
}

func (t *httpTask) Run(ctx context.Context, env *experiment.Env) error {
	in := t.in
	eps := make([]httpload.Endpoint, len(t.eps))
	weights := make([]float64, len(t.eps))
	for i, e := range t.eps {
		body, err := payload(ctx, env.Dir, e.req)
		if err != nil {
			return err
		}
		headers, err := resolveAll(e.req.Headers)
		if err != nil {
			return err
		}
		eps[i] = httpload.Endpoint{
			URL:         e.req.URL,
			Method:      e.req.Method,
			Headers:     headers,
			Host:        e.req.Host,
			Body:        body,
			ContentType: e.req.ContentType,
			HTTP2:       e.req.HTTP2 != nil && *e.req.HTTP2,
			TLS: httpload.TLS{
				CAFile:             abs(env.Dir, e.req.CACertFile),
				CertFile:           abs(env.Dir, e.req.CertFile),
				KeyFile:            abs(env.Dir, e.req.KeyFile),
				ServerName:         e.req.ServerName,
				InsecureSkipVerify: e.req.InsecureSkipVerify != nil && *e.req.InsecureSkipVerify,
			},
		}
		weights[i] = e.weight
	}
	target, err := httpload.New(httpload.Config{Endpoints: eps, Connections: *in.Connections, Timeout: in.Timeout.Duration})
	if err != nil {
		if len(t.eps) > 1 {
			return err
		}
		return errors.New(trimEndpointPrefix(err.Error()))
	}
	defer target.Close()
	if !in.AllowInitialErrors {
		if err := target.Probe(ctx); err != nil {
			return fmt.Errorf("cannot reach %w (set allowInitialErrors: true to run anyway and count such failures as errors)", err)
		}
	}
	ranges := make([][]errorRange, len(t.eps))
	for i, e := range t.eps {
		ranges[i] = e.req.ErrorRanges
	}
	var rate float64
	if in.QPS != nil {
		rate = *in.QPS
	}
	opts := loadPlan{
		name: "http", connections: *in.Connections, weights: weights, rateTolerance: *in.RateTolerance,
		rate: rate, uniform: in.Uniform, requests: in.NumRequests, duration: in.Duration, abort: t.abort,
		isError: func(ep int, o load.Outcome) bool {
			if o.Err != "" {
				return true
			}
			for _, r := range ranges[ep] {
				if r.contains(o.Code) {
					return true
				}
			}
			return false
		},
	}.options(env)
	rep, err := runLoad(ctx, env, target, opts)
	if err != nil {
		return err
	}
	if in.Warmup != nil && *in.Warmup {
		env.Logger.Info("warmup finished; its results are discarded", "requests", rep.Total.Requests)
		return ctx.Err()
	}
	insights, err := env.Experiment.Result.InitInsights(1, nil)
	if err != nil {
		return err
	}
	protos := target.Protocols()
	if err := recordLoad(insights, "http", "-", rep.Total, rep, in.Percentiles, commonProtocol(protos), 1); err != nil {
		return err
	}
	if len(t.eps) > 1 || t.eps[0].id != "" {
		for i, e := range t.eps {
			if err := recordLoad(insights, "http-"+e.id, "-", rep.Endpoints[i], rep, in.Percentiles, protos[i], weightShare(weights, i)); err != nil {
				return err
			}
		}
	}
	env.Logger.Info("http load finished", "requests", rep.Total.Requests, "errors", rep.Total.Errors, "rate", round(rep.AchievedRate, 1))
	return finishLoad(ctx, env, rep)
}

func trimEndpointPrefix(s string) string {
	const p = "endpoint 0: "
	if len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}

func commonProtocol(ps []string) string {
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

func abs(dir, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// payload returns the request body from payloadStr, payloadFile (relative to
// the run directory) or payloadURL (fetched here, not by an external tool).
func payload(ctx context.Context, dir string, in requestInputs) ([]byte, error) {
	switch {
	case in.PayloadStr != "":
		return []byte(in.PayloadStr), nil
	case in.PayloadFile != "":
		return readLimited(abs(dir, in.PayloadFile), "payloadFile")
	case in.PayloadURL != "":
		return fetch(ctx, in.PayloadURL)
	}
	return nil, nil
}

// maxInputFile bounds files and downloads read as task inputs (payloads,
// data, templates): iter8 holds them in memory.
const maxInputFile = 64 << 20

// readLimited reads a task's input file, refusing one over maxInputFile.
func readLimited(path, field string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", field, err)
	}
	defer func() { _ = f.Close() }()
	b, err := io.ReadAll(io.LimitReader(f, maxInputFile+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", field, err)
	}
	if len(b) > maxInputFile {
		return nil, fmt.Errorf("reading %s: %s is larger than %d MiB", field, path, maxInputFile>>20)
	}
	return b, nil
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
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxInputFile+1))
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", u, err)
	}
	if len(b) > maxInputFile {
		return nil, fmt.Errorf("fetching %s: larger than %d MiB", u, maxInputFile>>20)
	}
	return b, nil
}

// resolveAll resolves the secret references in a map's values.
func resolveAll(m map[string]string) (map[string]string, error) {
	if len(m) == 0 {
		return m, nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		rv, err := secret.Resolve(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out[k] = rv
	}
	return out, nil
}

// weightShare is endpoint i's fraction of the total weight.
func weightShare(weights []float64, i int) float64 {
	var total float64
	for _, w := range weights {
		total += w
	}
	if total == 0 {
		return 1
	}
	return weights[i] / total
}
