package httpload

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"iter8.tools/iter8/internal/load"
)

// The fast HTTP/1.1 path: each worker owns one keep-alive connection per
// address and writes a request serialised once up front, then parses just
// enough of the response (status, Content-Length, Transfer-Encoding,
// Connection) to find its end. No allocation per request.

// h1Req is a request serialised for the fast path, with what reading its
// answer and sending it again need.
type h1Req struct {
	b    []byte
	head bool // a HEAD request: its answer has no body
	// replay: it may be sent again after the server closed the connection
	// without answering (GET, HEAD, OPTIONS or TRACE without a body, as
	// net/http's Transport replays)
	replay bool
}

// buildRequest serialises an HTTP/1.1 request.
func buildRequest(ep *endpoint) h1Req {
	var b bytes.Buffer
	b.WriteString(ep.method)
	b.WriteByte(' ')
	b.WriteString(ep.u.RequestURI())
	b.WriteString(" HTTP/1.1\r\nHost: ")
	b.WriteString(ep.hostHeader())
	b.WriteString("\r\n")
	keys := slices.Sorted(maps.Keys(ep.Headers))
	hasUA := slices.ContainsFunc(keys, func(k string) bool { return equalFold(k, "user-agent") })
	if !hasUA {
		b.WriteString("User-Agent: iter8\r\n")
	}
	for _, k := range keys {
		if equalFold(k, "host") || equalFold(k, "content-length") {
			continue
		}
		b.WriteString(k)
		b.WriteString(": ")
		b.WriteString(ep.Headers[k])
		b.WriteString("\r\n")
	}
	if ep.ContentType != "" {
		b.WriteString("Content-Type: ")
		b.WriteString(ep.ContentType)
		b.WriteString("\r\n")
	}
	if len(ep.Body) > 0 || ep.method == "POST" || ep.method == "PUT" || ep.method == "PATCH" {
		b.WriteString("Content-Length: ")
		b.WriteString(strconv.Itoa(len(ep.Body)))
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	b.Write(ep.Body)
	replay := len(ep.Body) == 0 && slices.Contains([]string{"GET", "HEAD", "OPTIONS", "TRACE"}, ep.method)
	return h1Req{b: b.Bytes(), head: ep.method == "HEAD", replay: replay}
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// hasPrefixFold reports whether line starts with prefix, ASCII case-insensitively;
// prefix must be lower case.
func hasPrefixFold(line []byte, prefix string) bool {
	if len(line) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		if lower(line[i]) != prefix[i] {
			return false
		}
	}
	return true
}

// containsFold reports whether s contains the lower-case word w, ignoring case.
func containsFold(s []byte, w string) bool {
	for i := 0; i+len(w) <= len(s); i++ {
		if hasPrefixFold(s[i:], w) {
			return true
		}
	}
	return false
}

// h1Conn is one worker's connection to one address.
type h1Conn struct {
	addr    string
	tls     *tls.Config
	timeout time.Duration

	mu        sync.Mutex // guards nc against the cancellation callback
	nc        net.Conn
	cancelled bool
	ctx       context.Context
	stop      func() bool

	raw *rawConn        // plain TCP: writes and reads through the raw socket
	tcp syscall.RawConn // TLS: the TCP socket under it
	br  *bufio.Reader
	err error // the last failure, for messages

	sentAt   time.Time // when the request in progress was sent
	req      h1Req     // that request
	deferred bool      // its answer is read later (begin with now)
	// answers counts the answers read on the current connection; again
	// is set while the request in progress is sent a second time (see
	// mayRetry), and replayed when it is sent again although it may have
	// reached the server (a replay).
	answers  int
	again    bool
	replayed bool
	// wrote counts the bytes of the request in progress written without
	// the raw socket; cut is the error of a write the server cut short
	// (see writeCut).
	wrote int
	cut   error
	// size is the size of the last answer read over the raw socket
	// (bytes, head and body; 0 when unknown); mark is the count of bytes
	// read from it before that answer.
	size, mark int64
}

func newH1Conn(addr string, tlsConf *tls.Config, timeout time.Duration) *h1Conn {
	return &h1Conn{addr: addr, tls: tlsConf, timeout: timeout}
}

// watch makes cancellation of ctx interrupt any blocked read or write.
func (c *h1Conn) watch(ctx context.Context) {
	if ctx == c.ctx {
		return
	}
	if c.stop != nil {
		c.stop()
	}
	c.ctx = ctx
	c.mu.Lock()
	c.cancelled = false
	c.mu.Unlock()
	c.stop = context.AfterFunc(ctx, func() {
		c.mu.Lock()
		c.cancelled = true
		if c.nc != nil {
			_ = c.nc.SetDeadline(time.Unix(1, 0))
		}
		c.mu.Unlock()
	})
}

func (c *h1Conn) dial(ctx context.Context) error {
	timeout := c.timeout
	if c.again {
		// a request sent again has what is left of its own timeout
		timeout = max(time.Until(c.sentAt.Add(c.timeout)), time.Millisecond)
	}
	d := net.Dialer{Timeout: timeout}
	nc, err := d.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return err
	}
	var tcp syscall.RawConn
	if c.tls != nil {
		if t, ok := nc.(*net.TCPConn); ok {
			tcp, _ = t.SyscallConn()
		}
		tc := tls.Client(nc, c.tls)
		hctx, cancel := context.WithTimeout(ctx, timeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			_ = nc.Close()
			return err
		}
		nc = tc
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cancelled {
		_ = nc.Close()
		return errCancelled
	}
	c.nc, c.tcp, c.answers = nc, tcp, 0
	var rd io.Reader = nc
	if c.raw = newRawConn(nc); c.raw != nil {
		rd = c.raw
	}
	if c.br == nil {
		c.br = bufio.NewReaderSize(rd, 16<<10)
	} else {
		c.br.Reset(rd)
	}
	return nil
}

func (c *h1Conn) reset() {
	c.mu.Lock()
	if c.nc != nil {
		_ = c.nc.Close()
		c.nc = nil
	}
	c.mu.Unlock()
}

// Close closes the connection.
func (c *h1Conn) Close() error {
	if c.stop != nil {
		c.stop()
	}
	c.reset()
	return nil
}

// preconnect dials ahead of the first request; a failure is left for the
// first request to report.
func (c *h1Conn) preconnect(ctx context.Context) {
	c.watch(ctx)
	if c.nc == nil {
		_ = c.dial(ctx)
	}
}

// do sends one request and reads its response.
func (c *h1Conn) do(ctx context.Context, req h1Req) load.Outcome {
	if out, ok := c.begin(ctx, req, false); !ok {
		return out
	}
	return c.end(ctx)
}

// canDefer reports whether the answer to a request sent now can be read
// later and still timed (see load.Deferrer).
func (c *h1Conn) canDefer() bool { return c.nc != nil && c.raw != nil && c.raw.canDefer() }

// begin starts a request: it connects if need be, arms the timeout and
// sends req, at once when now is set, else within the read that waits for
// the answer. ok is false when the request is over (out says why).
func (c *h1Conn) begin(ctx context.Context, req h1Req, now bool) (out load.Outcome, ok bool) {
	c.watch(ctx)
	// (a failed dial reads no answer; a dial here has a whole timeout)
	c.size, c.again, c.replayed = 0, false, false
	// (before the clock starts: a session ticket can take a moment)
	closed := c.nc != nil && c.tcp != nil && c.tlsClosed()
	if c.nc == nil {
		if err := c.dial(ctx); err != nil {
			return c.fail(ctx, err), false
		}
	}
	c.sentAt, c.req, c.deferred, c.size, c.again, c.wrote, c.cut = time.Now(), req, now, 0, false, 0, nil
	if closed {
		// the server closed the idle connection: the request goes over a
		// new one, its set-up timed (see mayRetry)
		c.reset()
		c.again = true
	}
	return c.send(ctx, now)
}

// tlsLook is how long tlsClosed lets the TLS layer read records that
// arrived while a connection was idle. The bytes are in the socket
// already, so the read returns at once; the deadline only bounds a record
// that arrived in part. It was 1 ms: a busy machine that ran the goroutine
// more than 1 ms after it set the deadline found it passed before the
// read, took the server's close_notify for no close, and sent a POST over
// the closed connection (counted connection-closed, not sent again).
// (The look is before the request's clock starts.)
const tlsLook = 50 * time.Millisecond

// tlsClosed reports whether the server closed an idle TLS connection
// (which net/http's client notices by reading in the background): the TCP
// socket has seen the server's end, or TLS records arrived meanwhile that
// end in the server's close_notify (not a session ticket, which TLS 1.3
// servers send after the handshake).
func (c *h1Conn) tlsClosed() bool {
	closed, pending := peerState(c.tcp)
	if closed || !pending {
		return closed
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(tlsLook))
	_, err := c.br.Peek(1)
	_ = c.nc.SetReadDeadline(time.Time{})
	if err == nil {
		return false // data, unsolicited: send finds it buffered
	}
	var ne net.Error
	return !errors.As(err, &ne) || !ne.Timeout()
}

// send sends c.req (see begin), the second time over a new connection; the
// deadline counts from the first send.
func (c *h1Conn) send(ctx context.Context, now bool) (out load.Outcome, ok bool) {
	if c.nc == nil {
		if err := c.dial(ctx); err != nil {
			return c.fail(ctx, err), false
		}
	}
	if err := c.nc.SetDeadline(c.sentAt.Add(c.timeout)); err != nil {
		return c.fail(ctx, err), false
	}
	if n := c.br.Buffered(); n > 0 {
		// bytes that arrived before this request was sent (over TLS:
		// tlsClosed read them; over plain TCP the raw check sees them)
		b, _ := c.br.Peek(n)
		switch {
		case emptyLines(b):
			_, _ = c.br.Discard(n)
		case idleTimeout(b[:min(n, len("HTTP/1.1 408"))]) && c.mayRetry(ctx, errPeerClosed):
			// the server timed the idle connection out with a 408
			c.reset()
			return c.send(ctx, now)
		default:
			return c.fail(ctx, errUnsolicited), false
		}
	}
	var err error
	switch {
	case c.raw != nil && now:
		c.raw.stamp, c.mark = 0, c.raw.got
		err = c.raw.sendNow(c.req.b)
	case c.raw != nil:
		// written by the read that waits for the response, once the
		// socket was seen to hold no unsolicited bytes
		c.raw.stamp, c.mark = 0, c.raw.got
		c.raw.send(c.req.b)
	default:
		c.wrote, err = c.nc.Write(c.req.b)
	}
	if err != nil {
		if c.mayRetry(ctx, err) {
			c.reset()
			return c.send(ctx, now)
		}
		if c.writeCut(err) {
			// the server may have answered before it read the whole
			// request (rejecting a large body): end reads its answer
			c.cut = err
			return load.Outcome{}, true
		}
		return c.fail(ctx, err), false
	}
	return load.Outcome{}, true
}

// written is how many bytes of the request in progress were written.
func (c *h1Conn) written() int {
	if c.raw != nil {
		return c.raw.wrote
	}
	return c.wrote
}

// writeCut reports whether err is a write that the server cut short by
// closing or resetting the connection after part of the request reached it.
func (c *h1Conn) writeCut(err error) bool {
	var se *os.SyscallError
	return c.written() > 0 && errors.As(err, &se) && se.Syscall == "write" &&
		(errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET))
}

// mayRetry reports whether the request in progress, which failed with err
// before any byte of its answer arrived, is sent again over a new
// connection, and marks it sent again. Servers close connections that
// were idle for a while (uvicorn and Node.js after 5 s; some with a 408
// first): a request is sent once more, as net/http's Transport does, when
// nothing of it reached the server (the server had closed or reset the
// connection first, or the write failed), or when it can be replayed
// (h1Req.replay) and a connection that already carried an answer closed
// without answering it. Its time counts from the first send, the new
// connection's set-up included.
func (c *h1Conn) mayRetry(ctx context.Context, err error) bool {
	if c.again || ctx.Err() != nil {
		return false
	}
	var se *os.SyscallError
	switch {
	case errors.Is(err, errPeerClosed),
		c.written() == 0 && errors.As(err, &se) && se.Syscall == "write" && (errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET)):
		// nothing reached the server, even on a connection that carried
		// no answer yet (opened before the run and idle since)
	case c.cut == nil && c.answers > 0 && c.req.replay && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)):
		// it may have reached the server, which closed or reset the
		// connection without answering: counted (load.Outcome.Replayed)
		c.replayed = true
	default:
		return false
	}
	c.again = true
	return true
}

// lateRead is how long a deferred answer read at or after its deadline
// may take to read: it may have arrived in time.
const lateRead = time.Millisecond

// end reads the answer to the request begin sent.
func (c *h1Conn) end(ctx context.Context) load.Outcome {
	late := c.deferred && time.Until(c.sentAt.Add(c.timeout)) < lateRead
	if late {
		// The read would fail at its deadline without looking: look,
		// and judge the answer by when it arrived.
		c.mu.Lock()
		if !c.cancelled {
			_ = c.nc.SetReadDeadline(time.Now().Add(lateRead))
		}
		c.mu.Unlock()
	}
	c.deferred = false
	_, err := c.br.Peek(1)
	if err != nil && c.cut == nil && c.writeCut(err) {
		// the write inside the read was cut short: look for an answer
		// the server sent first
		c.cut = err
		_, err = c.br.Peek(1)
	}
	if err != nil {
		// no byte of the answer came
		if c.mayRetry(ctx, err) {
			return c.retry(ctx)
		}
		if c.cut != nil {
			err = c.cut // the server cut the request short without answering
		}
		return c.fail(ctx, err)
	}
	code, closeConn, err := readResponse(c.br, c.req.head)
	if c.raw != nil {
		// (a failed answer's bytes count too: a large one is large)
		c.size = c.raw.got - c.mark
	}
	if err != nil {
		return c.fail(ctx, err)
	}
	c.answers++
	if n := c.br.Buffered(); !closeConn && n > 0 {
		if b, _ := c.br.Peek(n); !emptyLines(b) {
			// more than one response to one request: which one answers
			// it is unknown, and the spare would answer the next
			return c.fail(ctx, errUnsolicited)
		}
		_, _ = c.br.Discard(n) // empty lines after the answer
	}
	out := load.Outcome{Code: code, At: c.answered()}
	if late && (out.At.IsZero() || out.At.Sub(c.sentAt) > c.timeout) {
		// it came after the timeout (or when is unknown)
		c.reset()
		return load.Outcome{Err: load.Timeout}
	}
	if closeConn {
		c.reset()
	}
	return out
}

// retry sends the request in progress again over a new connection and
// reads its answer (see mayRetry); its time runs from the first send. For
// an answer that was deferred, the loss was found only when it was
// collected, and when the server closed the connection is unknown (it may
// have held the request first): its time includes the wait until then,
// an excess of at most the deferral's bound, never a shortfall.
func (c *h1Conn) retry(ctx context.Context) load.Outcome {
	c.reset()
	if out, ok := c.send(ctx, false); !ok {
		return out
	}
	return c.end(ctx)
}

// answered is when the answer's last bytes arrived, from the kernel's
// receive timestamp, on the clock of sentAt; zero when there is no
// timestamp. A timestamp outside the time from the send to now is not this
// answer's arrival (the wall clock was set meanwhile): the connection then
// trusts no more of them, and defers no answer.
func (c *h1Conn) answered() time.Time {
	if c.raw == nil || c.raw.stamp == 0 {
		return time.Time{}
	}
	at := c.sentAt.Add(time.Duration(c.raw.stamp - c.sentAt.UnixNano()))
	if at.Before(c.sentAt) || at.After(time.Now()) {
		c.raw.distrust()
		return time.Time{}
	}
	return at
}

func (c *h1Conn) fail(ctx context.Context, err error) load.Outcome {
	c.reset()
	c.err = err
	if ctx.Err() != nil || errors.Is(err, errCancelled) {
		return load.Outcome{Err: load.Canceled}
	}
	var pe *protoError
	if errors.As(err, &pe) {
		return load.Outcome{Err: pe.kind}
	}
	return load.Outcome{Err: load.Classify(err)}
}

// Protocol errors. The fast parser accepts what net/http.ReadResponse
// accepts, with the same status and body length, and refuses what it
// refuses (see FuzzReadResponse), except that it is stricter in three
// documented ways: a folded (obs-fold) header line, a header name with a
// space, and a status code with a sign are protocol errors here.
var (
	errProtocol = &protoError{load.Protocol, "malformed HTTP response"}
	// errStatus: the status line is not "HTTP/d.d ddd ...".
	errStatus = &protoError{load.ProtocolStatus, "malformed HTTP status line"}
	// errLength: an invalid Content-Length, or several that disagree.
	errLength = &protoError{load.ProtocolLength, "invalid or conflicting Content-Length"}
	// errUnsolicited: bytes arrived that answer no request (a second
	// response to one request, or data before a request was sent).
	errUnsolicited = &protoError{load.ProtocolUnsolicited, "bytes that answer no request"}
	// stricter than net/http
	errFolded       = &protoError{load.Protocol, "folded header line"}
	errSpaceInName  = &protoError{load.Protocol, "space in a header name"}
	errSignedStatus = &protoError{load.ProtocolStatus, "signed status code"}
	errCancelled    = errors.New("request cancelled")
	// errPeerClosed: the server had closed the connection before the
	// request was written; nothing was sent.
	errPeerClosed = fmt.Errorf("the server closed the connection before the request was sent: %w", io.ErrUnexpectedEOF)
)

// protoError is a response that breaks HTTP/1.1 framing; kind is the key it
// is counted under.
type protoError struct {
	kind load.ErrorKind
	msg  string
}

func (e *protoError) Error() string { return e.msg }

// head is what the fast path keeps of a response head.
type head struct {
	code      int
	closeConn bool
	length    int64 // -1: none
	chunked   bool
}

// readResponse reads one response and discards its body. It returns the
// status code and whether the connection must be closed after it. Interim
// 1xx responses (but 101) are skipped; 101 closes the connection.
func readResponse(br *bufio.Reader, isHead bool) (code int, closeConn bool, err error) {
	for {
		h, err := readHead(br)
		if err != nil {
			return 0, true, err
		}
		if h.code/100 == 1 && h.code != 101 {
			continue // an interim response (100 Continue): the real one follows
		}
		switch {
		case h.code == 101:
			// Switching Protocols: what follows on the connection is not
			// HTTP/1.1 (net/http hands the connection over and never
			// reuses it), so it is closed after this answer.
			h.closeConn = true
		case isHead || h.code == 204 || h.code == 304:
		case h.chunked:
			err = discardChunked(br)
		case h.length >= 0:
			err = discardN(br, uint64(h.length))
		default:
			// No length: the body runs to the end of the connection.
			_, err = io.Copy(io.Discard, br)
			h.closeConn = true
		}
		if err != nil {
			return 0, true, err
		}
		return h.code, h.closeConn, nil
	}
}

// readHead parses a status line and headers as net/http does.
func readHead(br *bufio.Reader) (head, error) {
	h := head{length: -1}
	line, err := readLine(br)
	if err != nil {
		return h, err
	}
	major, minor, err := parseStatusLine(line, &h)
	if err != nil {
		return h, err
	}
	if major == 0 && minor == 0 {
		major, minor = 1, 1 // as net/http reads HTTP/0.0
	}
	var (
		cl                 []byte // the first Content-Length, trimmed
		clSeen, clConflict bool
		teCount            int
		teChunked          bool
		badTrailer         bool
		keepAlive          bool
	)
	err = readFields(br, true, func(name, value []byte) {
		switch {
		case equalFoldBytes(name, "content-length"):
			if !clSeen {
				cl, clSeen = append(cl[:0], value...), true
			} else if !bytes.Equal(cl, value) {
				clConflict = true
			}
		case equalFoldBytes(name, "transfer-encoding"):
			teCount++
			teChunked = equalFoldBytes(value, "chunked")
		case equalFoldBytes(name, "trailer"):
			for _, k := range bytes.Split(value, []byte(",")) {
				k = trimSpace(k)
				if equalFoldBytes(k, "transfer-encoding") || equalFoldBytes(k, "trailer") || equalFoldBytes(k, "content-length") {
					badTrailer = true
				}
			}
		case equalFoldBytes(name, "connection"):
			if containsFold(value, "close") {
				h.closeConn = true
			} else if containsFold(value, "keep-alive") {
				keepAlive = true
			}
		}
	})
	if err != nil {
		return h, err
	}
	if major < 1 || (major == 1 && minor == 0 && !keepAlive) {
		h.closeConn = true // HTTP/1.0 closes unless told otherwise
	}
	if teCount > 0 && (major > 1 || major == 1 && minor >= 1) {
		if teCount != 1 || !teChunked {
			return h, errProtocol // only a single "chunked", as net/http
		}
		h.chunked = true
	}
	if clConflict {
		return h, errLength
	}
	if clSeen {
		n, ok := parseDecimal(cl)
		if !ok {
			return h, errLength
		}
		h.length = n
	}
	if h.chunked {
		if badTrailer {
			return h, errProtocol
		}
		h.length = -1
	}
	return h, nil
}

// parseStatusLine parses "HTTP/d.d ddd reason" as net/http does: the
// version is one digit each, spaces may repeat before the code, and the
// code is exactly three digits.
func parseStatusLine(line []byte, h *head) (major, minor int, err error) {
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		return 0, 0, errStatus
	}
	proto, rest := line[:sp], line[sp+1:]
	if len(proto) != len("HTTP/1.1") || string(proto[:5]) != "HTTP/" || proto[6] != '.' || !isDigit(proto[5]) || !isDigit(proto[7]) {
		return 0, 0, errStatus
	}
	for len(rest) > 0 && rest[0] == ' ' {
		rest = rest[1:]
	}
	if i := bytes.IndexByte(rest, ' '); i >= 0 {
		rest = rest[:i]
	}
	if len(rest) != 3 {
		return 0, 0, errStatus
	}
	if !isDigit(rest[0]) || !isDigit(rest[1]) || !isDigit(rest[2]) {
		if (rest[0] == '+' || rest[0] == '-') && isDigit(rest[1]) && isDigit(rest[2]) {
			return 0, 0, errSignedStatus
		}
		return 0, 0, errStatus
	}
	h.code = int(rest[0]-'0')*100 + int(rest[1]-'0')*10 + int(rest[2]-'0')
	return int(proto[5] - '0'), int(proto[7] - '0'), nil
}

// readFields reads header (or trailer) lines up to an empty line, checking
// them as textproto does, and calls f with each name and trimmed value.
func readFields(br *bufio.Reader, first bool, f func(name, value []byte)) error {
	for {
		line, err := readLine(br)
		if err != nil {
			return err
		}
		if len(line) == 0 {
			return nil
		}
		if line[0] == ' ' || line[0] == '\t' {
			if first {
				return errProtocol // net/http refuses it as well
			}
			return errFolded
		}
		first = false
		line = trimOWS(line)
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return errProtocol
		}
		name, value := line[:colon], line[colon+1:]
		for _, c := range name {
			if !validFieldByte(c) {
				if c == ' ' {
					return errSpaceInName
				}
				return errProtocol
			}
		}
		for _, c := range value {
			if c < ' ' && c != '\t' || c == 0x7f {
				return errProtocol
			}
		}
		f(name, trimOWS(value))
	}
}

// readLine reads one line without its "\n" and one "\r" before it, as
// bufio.Reader.ReadLine does; a line longer than the buffer keeps its start.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	switch {
	case err == nil:
	case errors.Is(err, bufio.ErrBufferFull):
		// A line longer than the buffer: keep its start, skip the rest.
		keep := append([]byte(nil), line[:64]...)
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = br.ReadSlice('\n')
		}
		if err != nil {
			return nil, eofIsUnexpected(err)
		}
		return keep, nil
	case errors.Is(err, io.EOF) && len(line) > 0:
		return line, nil // a last line without "\n"
	default:
		return nil, eofIsUnexpected(err)
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

func eofIsUnexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// emptyLines reports whether b holds only line ends (CR and LF): empty
// lines a server sent after an answer, which answer nothing and are
// ignored, as RFC 9112 (section 2.2) has servers ignore them before a
// request.
func emptyLines(b []byte) bool {
	for _, c := range b {
		if c != '\r' && c != '\n' {
			return false
		}
	}
	return len(b) > 0
}

// idleTimeout reports whether early bytes, which arrived before a request
// was sent, begin a 408 response: a server closing an idle connection.
func idleTimeout(early []byte) bool {
	return len(early) == len("HTTP/1.1 408") && string(early[:7]) == "HTTP/1." && string(early[8:]) == " 408"
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// validFieldByte reports whether c may be in a header name (an RFC 7230
// token character).
func validFieldByte(c byte) bool {
	return c < 0x80 && c > ' ' && c != 0x7f && strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) < 0
}

// trimOWS trims spaces and tabs, as textproto trims header lines.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// trimSpace trims ASCII space, tab, CR and LF, as textproto.TrimString does.
func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func equalFoldBytes(b []byte, lowerWord string) bool {
	return len(b) == len(lowerWord) && hasPrefixFold(b, lowerWord)
}

// parseDecimal parses a Content-Length: digits only, below 2^63.
func parseDecimal(v []byte) (int64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	var n uint64
	for _, c := range v {
		if !isDigit(c) {
			return 0, false
		}
		if n > (1<<63-1)/10 {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
		if n > 1<<63-1 {
			return 0, false
		}
	}
	return int64(n), true
}

// discardN discards n bytes; too few is io.ErrUnexpectedEOF.
func discardN(br *bufio.Reader, n uint64) error {
	for n > 0 {
		step := int(min(n, 1<<30))
		d, err := br.Discard(step)
		n -= uint64(d)
		if err != nil {
			return eofIsUnexpected(err)
		}
	}
	return nil
}

// maxChunkLine and maxChunkExcess bound chunk-size lines and the non-data
// bytes of a chunked body, as net/http does.
const (
	maxChunkLine   = 4096
	maxChunkExcess = 16 << 10
)

// discardChunked discards a chunked body and its trailer, checking it as
// net/http's chunked reader does.
func discardChunked(br *bufio.Reader) error {
	var excess uint64
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				return errProtocol
			}
			return eofIsUnexpected(err)
		}
		if len(line) < 2 || bytes.IndexByte(line, '\r') != len(line)-2 {
			return errProtocol // a bare LF or a CR inside the line
		}
		p := line[:len(line)-2]
		if len(p) >= maxChunkLine {
			return errProtocol
		}
		excess += uint64(len(p)) + 2
		for len(p) > 0 && (p[len(p)-1] == ' ' || p[len(p)-1] == '\t') {
			p = p[:len(p)-1]
		}
		if i := bytes.IndexByte(p, ';'); i >= 0 {
			p = p[:i]
		}
		size, ok := parseHex(p)
		if !ok {
			return errProtocol
		}
		if data := 16 + 2*size; size > 1<<61 || data >= excess {
			excess = 0
		} else {
			excess -= data
		}
		if excess > maxChunkExcess {
			return errProtocol
		}
		if size == 0 {
			return discardTrailer(br)
		}
		if err := discardN(br, size); err != nil {
			return err
		}
		crlf, err := br.Peek(2)
		if err != nil {
			return eofIsUnexpected(err)
		}
		if crlf[0] != '\r' || crlf[1] != '\n' {
			return errProtocol
		}
		_, _ = br.Discard(2)
	}
}

// discardTrailer reads the trailer after the last chunk as net/http does:
// an empty line at once, or fields followed by "\r\n\r\n" within the buffer.
func discardTrailer(br *bufio.Reader) error {
	buf, err := br.Peek(2)
	if len(buf) == 2 && buf[0] == '\r' && buf[1] == '\n' {
		_, _ = br.Discard(2)
		return nil
	}
	if len(buf) < 2 {
		return io.ErrUnexpectedEOF
	}
	if err != nil {
		return err
	}
	found := false
	for k := 4; ; k++ {
		buf, err := br.Peek(k)
		if bytes.HasSuffix(buf, []byte("\r\n\r\n")) {
			found = true
			break
		}
		if err != nil {
			break
		}
	}
	if !found {
		return errProtocol
	}
	return readFields(br, true, func(_, _ []byte) {})
}

// parseHex parses a chunk size: 1 to 16 hexadecimal digits.
func parseHex(v []byte) (uint64, bool) {
	if len(v) == 0 || len(v) > 16 {
		return 0, false
	}
	var n uint64
	for _, c := range v {
		var d byte
		switch {
		case isDigit(c):
			d = c - '0'
		case 'a' <= lower(c) && lower(c) <= 'f':
			d = lower(c) - 'a' + 10
		default:
			return 0, false
		}
		n = n<<4 | uint64(d)
	}
	return n, true
}
