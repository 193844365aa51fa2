// Package httpload sends HTTP requests for the load engine. HTTP/1.1 (plain
// or over TLS) goes through a minimal keep-alive client that serialises each
// request once and does not allocate per request; HTTP/2, over TLS (ALPN) or
// cleartext (h2c), goes through net/http.
package httpload

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"iter8.tools/iter8/internal/load"
)

// TLS configures TLS for https URLs.
type TLS struct {
	// CAFile is a PEM file of CAs to trust instead of the system pool.
	CAFile string
	// CertFile and KeyFile are a client certificate and key (mutual TLS).
	CertFile, KeyFile string
	// ServerName overrides the name used for SNI and verification.
	ServerName string
	// InsecureSkipVerify disables certificate verification.
	InsecureSkipVerify bool
}

// Endpoint is one request template.
type Endpoint struct {
	URL     string
	Method  string
	Headers map[string]string
	// Host overrides the Host header (and :authority in HTTP/2).
	Host        string
	Body        []byte
	ContentType string
	// HTTP2 sends HTTP/2: negotiated with ALPN for https URLs, or cleartext
	// with prior knowledge (h2c) for http URLs.
	HTTP2 bool
	TLS   TLS
}

// Config configures a Target.
type Config struct {
	Endpoints   []Endpoint
	Connections int
	Timeout     time.Duration
	// Unreachable, when set, is called once, for the first endpoint whose
	// first answered request failed in transport (no response), with its
	// URL and the error. That request is measured like any other: it
	// replaces a probe sent before the run, so that a server counts
	// exactly the requests asked for.
	Unreachable func(error)
}

type endpoint struct {
	Endpoint
	u      *url.URL
	method string
	addr   string
	group  int   // fast-path connection group; -1 for net/http
	req    h1Req // serialised request (fast path)
	tls    *tls.Config
	client *http.Client // net/http path
	stdReq *http.Request

	protoOnce sync.Once
	proto     string
	// answered is set once a request to the endpoint came back (see
	// Config.Unreachable).
	answered atomic.Bool
	// largest is the size of the largest answer read from the endpoint
	// over the fast path (bytes, head and body; 0 before the first).
	largest atomic.Int64
	// closes is set once a deferred answer was lost to the server closing
	// its connection: answers are no longer deferred (see h1Conn.retry).
	closes atomic.Bool
	// ready holds a connection dialled before the clock started, which the
	// net/http transport takes for its first connection (see Preconnect);
	// dialOnce dials it once for all workers.
	ready    chan readyConn
	dialOnce sync.Once
}

// readyConn is a connection dialled ahead, when, and its TCP socket.
type readyConn struct {
	nc  net.Conn
	at  time.Time
	tcp syscall.RawConn
}

// preconnectFresh is how long a connection dialled ahead may wait for its
// first request: Go's HTTP/2 server closes a connection whose client has
// not spoken within 10 s, and the transport would not retry the request
// on it.
const preconnectFresh = 5 * time.Second

// take returns the connection dialled ahead when it is fresh and the
// server has not closed it meanwhile (a short idle timeout), or nil; a
// stale one is closed.
func (ep *endpoint) take() net.Conn {
	select {
	case r := <-ep.ready:
		if time.Since(r.at) < preconnectFresh && (r.tcp == nil || !peerHungUp(r.tcp)) {
			return r.nc
		}
		_ = r.nc.Close()
	default:
	}
	return nil
}

// deferMaxAnswer is the largest answer an endpoint may have given for its
// answers to be deferred. A deferred answer waits in the socket until the
// worker reads it: one larger than the receive window the connection
// offers would stop the server mid-answer until then, and that stall would
// count as the target's service time. A new TCP connection over a network
// offers about ten segments (about 14 KiB); over loopback, more.
const deferMaxAnswer = 8 << 10

// note records the size of an answer read from ep.
func (ep *endpoint) note(size int64) {
	for {
		l := ep.largest.Load()
		if size <= l || ep.largest.CompareAndSwap(l, size) {
			return
		}
	}
}

// deferrable reports whether answers from ep may be deferred: every answer
// read from it so far, and at least one, was small enough.
func (ep *endpoint) deferrable() bool {
	l := ep.largest.Load()
	return l > 0 && l <= deferMaxAnswer && !ep.closes.Load()
}

func (ep *endpoint) hostHeader() string {
	if ep.Host != "" {
		return ep.Host
	}
	return ep.u.Host
}

// Target sends requests to one or more endpoints.
type Target struct {
	cfg         Config
	eps         []*endpoint
	groups      []group
	clients     []*http.Client
	unreachable sync.Once
	// deferred counts the requests of closed Conns whose answers were
	// collected later (tests)
	deferred atomic.Int64
}

type group struct {
	addr string
	tls  *tls.Config
}

var _ load.Target = (*Target)(nil)

// New validates the endpoints and prepares a target. Errors name the
// endpoint (by index) and the problem.
func New(cfg Config) (*Target, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("httpload: no endpoints")
	}
	if cfg.Connections < 1 {
		cfg.Connections = 1
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	t := &Target{cfg: cfg}
	groups := map[string]int{}
	for i, e := range cfg.Endpoints {
		ep, err := t.prepare(e)
		if err != nil {
			return nil, &load.EndpointError{Index: i, Err: err}
		}
		if ep.client == nil {
			key := ep.u.Scheme + "|" + ep.addr + "|" + fmt.Sprint(e.TLS)
			g, ok := groups[key]
			if !ok {
				g = len(t.groups)
				groups[key] = g
				t.groups = append(t.groups, group{addr: ep.addr, tls: ep.tls})
			}
			ep.group = g
		}
		t.eps = append(t.eps, ep)
	}
	return t, nil
}

func (t *Target) prepare(e Endpoint) (*endpoint, error) {
	u, err := url.Parse(e.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("url %q: expected an absolute http:// or https:// URL", e.URL)
	}
	ep := &endpoint{Endpoint: e, u: u, method: strings.ToUpper(e.Method), group: -1}
	if ep.method == "" {
		ep.method = http.MethodGet
		if len(e.Body) > 0 {
			ep.method = http.MethodPost
		}
	}
	if !validToken(ep.method) {
		return nil, fmt.Errorf("method %q is not a valid HTTP method", e.Method)
	}
	for k, v := range e.Headers {
		if !validToken(k) {
			return nil, fmt.Errorf("header name %q is not valid", k)
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			return nil, fmt.Errorf("header %s: value contains a line break or NUL", k)
		}
	}
	if strings.ContainsAny(e.Host+e.ContentType, "\r\n\x00") {
		return nil, errors.New("host or contentType contains a line break or NUL")
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	ep.addr = net.JoinHostPort(u.Hostname(), port)
	if u.Scheme == "https" {
		if ep.tls, err = tlsConfig(e.TLS, u.Hostname(), e.HTTP2); err != nil {
			return nil, err
		}
	}
	if e.HTTP2 {
		ep.client = t.stdClient(ep)
		req, err := http.NewRequestWithContext(context.Background(), ep.method, e.URL, nil)
		if err != nil {
			return nil, err
		}
		for k, v := range e.Headers {
			req.Header.Set(k, v)
		}
		if e.ContentType != "" {
			req.Header.Set("Content-Type", e.ContentType)
		}
		if req.Header.Get("User-Agent") == "" {
			req.Header.Set("User-Agent", "iter8")
		}
		req.Host = e.Host
		ep.stdReq = req
		return ep, nil
	}
	ep.req = buildRequest(ep)
	ep.proto = "HTTP/1.1"
	return ep, nil
}

func tlsConfig(o TLS, host string, h2 bool) (*tls.Config, error) {
	c := &tls.Config{ServerName: host, InsecureSkipVerify: o.InsecureSkipVerify, MinVersion: tls.VersionTLS12} //nolint:gosec // the user asks for it explicitly
	if o.ServerName != "" {
		c.ServerName = o.ServerName
	}
	c.NextProtos = []string{"http/1.1"}
	if h2 {
		c.NextProtos = []string{"h2", "http/1.1"}
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return nil, errors.New("a client certificate needs both a certificate file and a key file")
	}
	files := load.ClientFiles{CAFile: o.CAFile, CertFile: o.CertFile, KeyFile: o.KeyFile}
	// the files are local: there is nothing to cancel
	if err := files.Apply(context.Background(), c, "CA file"); err != nil {
		return nil, err
	}
	return c, nil
}

// stdClient returns a net/http client for an HTTP/2 endpoint.
func (t *Target) stdClient(ep *endpoint) *http.Client {
	ep.ready = make(chan readyConn, 1)
	dialer := &net.Dialer{Timeout: t.cfg.Timeout}
	tr := &http.Transport{
		Proxy:               nil,
		MaxIdleConns:        t.cfg.Connections,
		MaxIdleConnsPerHost: t.cfg.Connections,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		TLSClientConfig:     ep.tls,
		ForceAttemptHTTP2:   true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if nc := ep.take(); nc != nil {
				return nc, nil
			}
			return dialer.DialContext(ctx, network, addr)
		},
	}
	if ep.tls != nil {
		tr.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			if nc := ep.take(); nc != nil {
				return nc, nil
			}
			return dialTLS(ctx, dialer, network, addr, ep.tls)
		}
	}
	if ep.u.Scheme == "http" {
		// h2c with prior knowledge
		tr.Protocols = new(http.Protocols)
		tr.Protocols.SetUnencryptedHTTP2(true)
	}
	c := &http.Client{Transport: tr, Timeout: t.cfg.Timeout, CheckRedirect: noRedirect}
	t.clients = append(t.clients, c)
	return c
}

func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// dialTLS dials addr and completes the TLS handshake (ALPN offers h2).
func dialTLS(ctx context.Context, d *net.Dialer, network, addr string, conf *tls.Config) (net.Conn, error) {
	nc, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	tc := tls.Client(nc, conf)
	if d.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d.Timeout)
		defer cancel()
	}
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = nc.Close()
		return nil, err
	}
	return tc, nil
}

// preconnect dials the first connection of an HTTP/2 endpoint before the
// clock starts, so that the first request does not pay for the TCP and TLS
// handshakes (HTTP/2 multiplexes requests over it: one is enough). A
// failed dial is left to that request to report.
func (ep *endpoint) preconnect(ctx context.Context, timeout time.Duration) {
	ep.dialOnce.Do(func() {
		d := &net.Dialer{Timeout: timeout}
		var nc net.Conn
		var err error
		if ep.tls != nil {
			nc, err = dialTLS(ctx, d, "tcp", ep.addr, ep.tls)
		} else {
			nc, err = d.DialContext(ctx, "tcp", ep.addr)
		}
		if err != nil {
			return
		}
		r := readyConn{nc: nc, at: time.Now()}
		under := nc
		if tc, ok := nc.(*tls.Conn); ok {
			under = tc.NetConn()
		}
		if tc, ok := under.(*net.TCPConn); ok {
			r.tcp, _ = tc.SyscallConn()
		}
		ep.ready <- r
	})
}

// classifyStd classifies an error of net/http. Its HTTP/2 stream errors
// (a server's RST_STREAM) are of a type it does not export, and say so in
// their text only: "stream error: stream ID 3; INTERNAL_ERROR; received
// from peer".
func classifyStd(err error) load.ErrorKind {
	if k := load.Classify(err); k != load.Other {
		return k
	}
	if strings.Contains(err.Error(), "stream error: ") {
		return load.StreamReset
	}
	return load.Other
}

// validToken reports whether s is a valid HTTP token (method, header name).
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return true
}

// Protocols returns the protocol each endpoint used (HTTP/1.1, HTTP/2.0),
// or "" for an endpoint that received no response over net/http.
func (t *Target) Protocols() []string {
	out := make([]string, len(t.eps))
	for i, ep := range t.eps {
		out[i] = ep.proto
	}
	return out
}

// NewConn returns a sender for one worker.
func (t *Target) NewConn() load.Conn {
	return &conn{t: t, h1: make([]*h1Conn, len(t.groups))}
}

// Close releases idle connections of the net/http clients.
func (t *Target) Close() {
	for _, c := range t.clients {
		c.CloseIdleConnections()
	}
	for _, ep := range t.eps {
		if ep.ready != nil {
			select {
			case r := <-ep.ready: // dialled ahead and never used
				_ = r.nc.Close()
			default:
			}
		}
	}
}

type conn struct {
	t       *Target
	h1      []*h1Conn
	lastErr error
	open    *h1Conn   // the connection of a request whose answer Collect reads
	openEP  *endpoint // and its endpoint
	nDefer  int64     // requests whose answers Collect read (Target.deferred)
}

func (c *conn) Do(ctx context.Context, i int) load.Outcome {
	ep := c.t.eps[i]
	out := c.do(ctx, ep)
	if c.t.cfg.Unreachable != nil && !ep.answered.Load() {
		c.first(ep, out)
	}
	return out
}

// first judges the first request to come back from ep (see
// Config.Unreachable); a request cut short by cancellation says nothing.
func (c *conn) first(ep *endpoint, out load.Outcome) {
	if out.Err == load.Canceled || !ep.answered.CompareAndSwap(false, true) || out.Err == "" {
		return
	}
	cause := c.lastErr
	if cause == nil {
		cause = errors.New(string(out.Err))
	}
	err := fmt.Errorf("%s: %w", ep.URL, cause)
	c.t.unreachable.Do(func() { c.t.cfg.Unreachable(err) })
}

// Send implements load.Deferrer: an HTTP/1.1 request over plain TCP, on a
// connection open and already answering with receive timestamps, is sent
// now and its answer read by Collect; any other request is made whole.
func (c *conn) Send(ctx context.Context, i int) (load.Outcome, bool) {
	ep := c.t.eps[i]
	var h *h1Conn
	if ep.client == nil && (c.t.cfg.Unreachable == nil || ep.answered.Load()) {
		h = c.h1[ep.group]
	}
	if h == nil || !h.canDefer() || !ep.deferrable() {
		return c.Do(ctx, i), true
	}
	if out, ok := h.begin(ctx, ep.req, true); !ok {
		c.lastErr = h.err
		out.Replayed = h.replayed
		return out, true
	}
	c.open, c.openEP = h, ep
	if !h.canDefer() || h.cut != nil {
		// sent over a new connection (the server had closed the other),
		// which has not shown receive timestamps yet, or cut short by
		// the server: read the answer now
		return c.Collect(ctx), true
	}
	c.nDefer++
	return load.Outcome{}, false
}

// Collect implements load.Deferrer.
func (c *conn) Collect(ctx context.Context) load.Outcome {
	h, ep := c.open, c.openEP
	c.open, c.openEP = nil, nil
	out := h.end(ctx)
	out.Replayed = h.replayed
	if out.Err != "" {
		c.lastErr = h.err
	}
	if h.again {
		ep.closes.Store(true)
	}
	ep.note(h.size)
	return out
}

var _ load.Deferrer = (*conn)(nil)

func (c *conn) do(ctx context.Context, ep *endpoint) load.Outcome {
	if ep.client != nil {
		return c.doStd(ctx, ep)
	}
	h := c.h1[ep.group]
	if h == nil {
		g := c.t.groups[ep.group]
		h = newH1Conn(g.addr, g.tls, c.t.cfg.Timeout)
		c.h1[ep.group] = h
	}
	out := h.do(ctx, ep.req)
	out.Replayed = h.replayed
	if out.Err != "" {
		c.lastErr = h.err
	}
	ep.note(h.size)
	return out
}

func (c *conn) doStd(ctx context.Context, ep *endpoint) load.Outcome {
	req := ep.stdReq.WithContext(ctx)
	if len(ep.Body) > 0 {
		req.Body = io.NopCloser(bytes.NewReader(ep.Body))
		req.ContentLength = int64(len(ep.Body))
	}
	resp, err := ep.client.Do(req)
	if err != nil {
		c.lastErr = err
		if ctx.Err() != nil {
			return load.Outcome{Err: load.Canceled}
		}
		return load.Outcome{Err: classifyStd(err)}
	}
	_, err = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	ep.protoOnce.Do(func() { ep.proto = resp.Proto })
	if err != nil {
		c.lastErr = err
		return load.Outcome{Err: classifyStd(err)}
	}
	return load.Outcome{Code: resp.StatusCode}
}

// Preconnect opens the worker's HTTP/1.1 connections before the run.
func (c *conn) Preconnect(ctx context.Context) {
	for _, ep := range c.t.eps {
		if ep.client != nil {
			ep.preconnect(ctx, c.t.cfg.Timeout)
		}
	}
	for g := range c.t.groups {
		if c.h1[g] == nil {
			grp := c.t.groups[g]
			c.h1[g] = newH1Conn(grp.addr, grp.tls, c.t.cfg.Timeout)
		}
		c.h1[g].preconnect(ctx)
	}
}

var _ load.Preconnector = (*conn)(nil)

func (c *conn) Close() error {
	c.t.deferred.Add(c.nDefer)
	c.nDefer = 0
	for _, h := range c.h1 {
		if h != nil {
			_ = h.Close()
		}
	}
	return nil
}
