// Package httpload sends HTTP requests for the load engine: HTTP/1.1 with
// keep-alive, and (through net/http) HTTP/2 over TLS and cleartext h2c.
package httpload

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"iter8.tools/iter8/internal/load"
)

// Endpoint is one request template.
type Endpoint struct {
	URL         string
	Method      string
	Headers     map[string]string
	Host        string
	Body        []byte
	ContentType string
}

// Config configures a Target.
type Config struct {
	Endpoints   []Endpoint
	Connections int
	Timeout     time.Duration
}

// Target sends requests to one or more endpoints.
type Target struct {
	cfg    Config
	client *http.Client
	reqs   []*http.Request
}

var _ load.Target = (*Target)(nil)

// New validates the endpoints and prepares a target.
func New(cfg Config) (*Target, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, fmt.Errorf("httpload: no endpoints")
	}
	if cfg.Connections < 1 {
		cfg.Connections = 1
	}
	tr := &http.Transport{
		Proxy:               nil,
		MaxIdleConns:        cfg.Connections,
		MaxIdleConnsPerHost: cfg.Connections,
		MaxConnsPerHost:     cfg.Connections,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	t := &Target{cfg: cfg, client: &http.Client{Transport: tr, Timeout: cfg.Timeout, CheckRedirect: noRedirect}}
	for i, ep := range cfg.Endpoints {
		u, err := url.Parse(ep.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("endpoint %d: url %q: expected an absolute http:// or https:// URL", i, ep.URL)
		}
		method := ep.Method
		if method == "" {
			method = http.MethodGet
			if len(ep.Body) > 0 {
				method = http.MethodPost
			}
		}
		req, err := http.NewRequestWithContext(context.Background(), method, ep.URL, nil)
		if err != nil {
			return nil, fmt.Errorf("endpoint %d: %w", i, err)
		}
		for k, v := range ep.Headers {
			req.Header.Set(k, v)
		}
		if ep.ContentType != "" {
			req.Header.Set("Content-Type", ep.ContentType)
		}
		if ep.Host != "" {
			req.Host = ep.Host
		}
		t.reqs = append(t.reqs, req)
	}
	return t, nil
}

func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// NewConn returns a sender for one worker.
func (t *Target) NewConn() load.Conn { return &conn{t: t} }

// Probe sends one request to the first endpoint and returns its transport
// error, if any; status codes are not judged.
func (t *Target) Probe(ctx context.Context) error {
	_, err := t.do(ctx, 0)
	return err
}

// Close releases idle connections.
func (t *Target) Close() {
	t.client.CloseIdleConnections()
}

func (t *Target) do(ctx context.Context, ep int) (int, error) {
	tmpl := t.reqs[ep]
	req := tmpl.WithContext(ctx)
	req.Header = tmpl.Header
	if body := t.cfg.Endpoints[ep].Body; len(body) > 0 {
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.ContentLength = int64(len(body))
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return resp.StatusCode, err
	}
	return resp.StatusCode, nil
}

type conn struct {
	t *Target
}

func (c *conn) Do(ctx context.Context, ep int) load.Outcome {
	code, err := c.t.do(ctx, ep)
	if err != nil {
		return load.Outcome{Code: code, Err: load.Classify(err)}
	}
	return load.Outcome{Code: code}
}

func (c *conn) Close() error { return nil }
