// Package demo is the built-in demo target of iter8 demo (and of the tests
// and benchmarks): an HTTP service with a tunable latency distribution, error
// rate and stalls, and a gRPC service with unary and streaming methods, both
// in process. Test-only helpers (a throwaway CA, a minimal raw responder)
// live in demotest.
package demo

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Latency gives the delay added to the n-th request (0-based). Latencies are
// deterministic functions of n so tests know the truth.
type Latency func(n uint64) time.Duration

// Fixed adds the same delay to every request.
func Fixed(d time.Duration) Latency { return func(uint64) time.Duration { return d } }

// Uniform spreads delays evenly over [lo, hi].
func Uniform(lo, hi time.Duration) Latency {
	return func(n uint64) time.Duration {
		return lo + time.Duration(unit(n)*float64(hi-lo))
	}
}

// LogNormal draws delays from a log-normal distribution with the given median
// and 99th percentile.
func LogNormal(median, p99 time.Duration) Latency {
	mu := math.Log(float64(median))
	sigma := (math.Log(float64(p99)) - mu) / 2.326347874 // z of 0.99
	return func(n uint64) time.Duration {
		return time.Duration(math.Exp(mu + sigma*normal(n)))
	}
}

// unit maps n to a pseudo-random number in [0, 1), the same for the same n.
func unit(n uint64) float64 {
	h := fnv.New64a()
	var b [8]byte
	for i := range b {
		b[i] = byte(n >> (8 * i))
	}
	_, _ = h.Write(b[:])
	return float64(h.Sum64()>>11) / (1 << 53)
}

// normal maps n to a standard normal deviate (Box-Muller on two uniforms).
func normal(n uint64) float64 {
	u1 := unit(2*n) + 1e-12
	u2 := unit(2*n + 1)
	return math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
}

// HTTPConfig tunes the HTTP target.
type HTTPConfig struct {
	// Latency delays each request; nil means no delay.
	Latency Latency
	// ErrorRate answers this fraction of requests with ErrorCode, spread
	// evenly (request n fails when floor((n+1)·rate) > floor(n·rate)).
	ErrorRate float64
	// ErrorCode defaults to 500.
	ErrorCode int
	// BodySize is the size of a success response body (default 64 bytes).
	BodySize int
	// Stalls pause the whole server: after the given number of requests,
	// every request waits until the stall is over.
	Stalls []Stall
	// TLS serves HTTPS with this configuration (HTTP/1.1 and, through ALPN,
	// HTTP/2). Use CA to make one.
	TLS *tls.Config
	// H2C serves cleartext HTTP/2 with prior knowledge besides HTTP/1.1.
	H2C bool
	// IdleTimeout closes keep-alive connections idle this long, as
	// uvicorn and Node.js do after 5 s; 0 keeps them open.
	IdleTimeout time.Duration
	// RecordTimes keeps every request's handling time, for accuracy tests.
	RecordTimes bool
	// Stats, when set, is served as JSON at /_iter8/stats (for benchmarks
	// that count what a separate server process received).
	Stats func() map[string]int64
}

// Stall is a pause of the whole server.
type Stall struct {
	After uint64
	For   time.Duration
}

// HTTP is a running HTTP target. Besides the configured behaviour, each
// request may ask for its own with query parameters: delay=250ms, status=503.
type HTTP struct {
	cfg         HTTPConfig
	srv         *http.Server
	ln          net.Listener
	body        []byte
	n           atomic.Uint64
	mu          sync.Mutex
	counts      map[string]int64 // by "METHOD path"
	times       []time.Duration
	timed       chan struct{}    // signalled when a time is recorded
	protos      map[string]int64 // by protocol, e.g. HTTP/1.1
	waiters     []waiter
	clientCerts atomic.Int64
	stallMu     sync.Mutex
	stallEnd    time.Time
	done        chan struct{}
}

// StartHTTP starts the target on 127.0.0.1 (a free port unless addr is given).
func StartHTTP(cfg HTTPConfig, addr string) (*HTTP, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	if cfg.ErrorCode == 0 {
		cfg.ErrorCode = http.StatusInternalServerError
	}
	if cfg.BodySize == 0 {
		cfg.BodySize = 64
	}
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("demo: listening on %s: %w", addr, err)
	}
	s := &HTTP{
		cfg:    cfg,
		ln:     ln,
		body:   makeBody(cfg.BodySize),
		counts: map[string]int64{},
		protos: map[string]int64{},
		done:   make(chan struct{}),
		timed:  make(chan struct{}, 1),
	}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: cfg.IdleTimeout, ErrorLog: log.New(io.Discard, "", 0)}
	if cfg.H2C {
		s.srv.Protocols = new(http.Protocols)
		s.srv.Protocols.SetHTTP1(true)
		s.srv.Protocols.SetUnencryptedHTTP2(true)
	}
	if cfg.TLS != nil {
		c := cfg.TLS.Clone()
		if len(c.NextProtos) == 0 {
			c.NextProtos = []string{"h2", "http/1.1"}
		}
		s.srv.TLSConfig = c
		ln = tls.NewListener(ln, c)
		s.ln = ln
	}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

func makeBody(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return b
}

// URL returns the target's base URL, e.g. http://127.0.0.1:40123.
func (s *HTTP) URL() string {
	if s.cfg.TLS != nil {
		return "https://" + s.ln.Addr().String()
	}
	return "http://" + s.ln.Addr().String()
}

// Addr returns the listening address.
func (s *HTTP) Addr() string { return s.ln.Addr().String() }

// Close stops the server and waits for it.
func (s *HTTP) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = s.srv.Close()
	}
	<-s.done
	return err
}

// Requests returns how many requests the server has received.
func (s *HTTP) Requests() int64 { return int64(s.n.Load()) }

// Count returns how many requests arrived for a method and path.
func (s *HTTP) Count(method, path string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[method+" "+path]
}

// Counts returns request counts by "METHOD /path".
func (s *HTTP) Counts() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int64, len(s.counts))
	for k, v := range s.counts {
		out[k] = v
	}
	return out
}

// Protocols returns request counts by protocol (HTTP/1.1, HTTP/2.0).
func (s *HTTP) Protocols() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int64, len(s.protos))
	for k, v := range s.protos {
		out[k] = v
	}
	return out
}

type waiter struct {
	n  int64
	ch chan struct{}
}

// WaitRequests blocks until the server has received at least n requests or
// ctx is done; tests use it instead of sleeping.
func (s *HTTP) WaitRequests(ctx context.Context, n int64) error {
	s.mu.Lock()
	if int64(s.n.Load()) >= n {
		s.mu.Unlock()
		return nil
	}
	w := waiter{n: n, ch: make(chan struct{})}
	s.waiters = append(s.waiters, w)
	s.mu.Unlock()
	select {
	case <-w.ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stall makes every request that arrives in the next d wait until d has
// passed, like a server pausing (a GC pause, a failover).
func (s *HTTP) Stall(d time.Duration) {
	s.stallMu.Lock()
	s.stallEnd = time.Now().Add(d)
	s.stallMu.Unlock()
}

func (s *HTTP) stallLeft() time.Duration {
	s.stallMu.Lock()
	defer s.stallMu.Unlock()
	return time.Until(s.stallEnd)
}

// Times returns the handling time of every request, when RecordTimes is set,
// once n have been recorded (a client may see its last response before the
// server records it) or ctx is done.
func (s *HTTP) Times(ctx context.Context, n int) []time.Duration {
	for {
		s.mu.Lock()
		if len(s.times) >= n {
			defer s.mu.Unlock()
			return append([]time.Duration(nil), s.times...)
		}
		s.mu.Unlock()
		select {
		case <-s.timed:
		case <-ctx.Done():
			s.mu.Lock()
			defer s.mu.Unlock()
			return append([]time.Duration(nil), s.times...)
		}
	}
}

// ClientCertificates returns how many requests presented a client certificate.
func (s *HTTP) ClientCertificates() int64 { return s.clientCerts.Load() }

// ServeHTTP answers one request.
func (s *HTTP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/_iter8/stats" && s.cfg.Stats != nil {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s.cfg.Stats())
		return
	}
	start := time.Now()
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		s.clientCerts.Add(1)
	}
	s.mu.Lock()
	n := s.n.Add(1) - 1
	s.counts[r.Method+" "+r.URL.Path]++
	s.protos[r.Proto]++
	if len(s.waiters) > 0 {
		kept := s.waiters[:0]
		for _, w := range s.waiters {
			if int64(n+1) >= w.n {
				close(w.ch)
			} else {
				kept = append(kept, w)
			}
		}
		s.waiters = kept
	}
	s.mu.Unlock()
	_, _ = io.Copy(io.Discard, r.Body)

	delay := time.Duration(0)
	if s.cfg.Latency != nil {
		delay = s.cfg.Latency(n)
	}
	q := r.URL.Query()
	if d := q.Get("delay"); d != "" {
		if v, err := time.ParseDuration(d); err == nil {
			delay = v
		}
	}
	for _, st := range s.cfg.Stalls {
		if n == st.After {
			s.Stall(st.For)
		}
	}
	if fault := q.Get("fault"); fault != "" && s.fault(w, r, fault) {
		return
	}
	if left := s.stallLeft(); left > delay {
		delay = left
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	status := http.StatusOK
	if rate := s.cfg.ErrorRate; rate > 0 && math.Floor(float64(n+1)*rate) > math.Floor(float64(n)*rate) {
		status = s.cfg.ErrorCode
	}
	if st := q.Get("status"); st != "" {
		if v, err := strconv.Atoi(st); err == nil && v >= 100 && v < 600 {
			status = v
		}
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Content-Length", strconv.Itoa(len(s.body)))
	w.WriteHeader(status)
	_, _ = w.Write(s.body)
	if s.cfg.RecordTimes {
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		d := time.Since(start)
		s.mu.Lock()
		s.times = append(s.times, d)
		s.mu.Unlock()
		select {
		case s.timed <- struct{}{}:
		default:
		}
	}
}

// fault misbehaves as a request's fault parameter asks, and reports whether
// it answered the request:
//   - reset: abort the connection with a TCP reset before answering
//   - reset-mid: send headers and half the body, then reset
//   - stall-body: send headers and half the body, then stall until the client
//     gives up
//   - huge: a body of size bytes (size parameter, default 100 MiB)
//   - endless: a body that never ends
//   - close: answer, then close the connection (HTTP/1.1) or send GOAWAY
//     (HTTP/2)
//
// Stalling before the headers is the delay parameter; a 5xx storm is the
// status parameter or ErrorRate.
func (s *HTTP) fault(w http.ResponseWriter, r *http.Request, fault string) bool {
	half := s.body[:len(s.body)/2]
	switch fault {
	case "reset":
		resetConnection(w)
	case "reset-mid", "stall-body":
		w.Header().Set("Content-Length", strconv.Itoa(len(s.body)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(half)
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		if fault == "reset-mid" {
			resetConnection(w)
			return true
		}
		<-r.Context().Done()
	case "huge":
		size := int64(100 << 20)
		if v, err := strconv.ParseInt(r.URL.Query().Get("size"), 10, 64); err == nil && v > 0 {
			size = v
		}
		w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
		w.WriteHeader(http.StatusOK)
		chunk := bytes.Repeat([]byte("x"), 64<<10)
		for size > 0 {
			n := min(size, int64(len(chunk)))
			if _, err := w.Write(chunk[:n]); err != nil {
				return true
			}
			size -= n
		}
	case "endless":
		w.WriteHeader(http.StatusOK)
		chunk := bytes.Repeat([]byte("x"), 16<<10)
		for {
			if _, err := w.Write(chunk); err != nil {
				return true
			}
			if r.Context().Err() != nil {
				return true
			}
		}
	case "close":
		w.Header().Set("Connection", "close")
		return false // answer normally, then close
	default:
		return false
	}
	return true
}

// resetConnection aborts the connection with a TCP reset.
func resetConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	c, _, err := hj.Hijack()
	if err != nil {
		return
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}
