package httpload

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"maps"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"iter8.tools/iter8/internal/load"
)

// The fast HTTP/1.1 path: each worker owns one keep-alive connection per
// address and writes a request serialised once up front, then parses just
// enough of the response (status, Content-Length, Transfer-Encoding,
// Connection) to find its end. No allocation per request.

var (
	errProtocol  = errors.New("malformed HTTP response")
	errCancelled = errors.New("request cancelled")
)

// buildRequest serialises an HTTP/1.1 request.
func buildRequest(ep *endpoint) []byte {
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
	return b.Bytes()
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

	raw *rawConn // plain TCP: writes and reads through the raw socket
	br  *bufio.Reader
	err error // the last failure, for messages
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
	d := net.Dialer{Timeout: c.timeout}
	nc, err := d.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return err
	}
	if c.tls != nil {
		tc := tls.Client(nc, c.tls)
		hctx, cancel := context.WithTimeout(ctx, c.timeout)
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
	c.nc = nc
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
func (c *h1Conn) do(ctx context.Context, req []byte, head bool) load.Outcome {
	c.watch(ctx)
	if c.nc == nil {
		if err := c.dial(ctx); err != nil {
			return c.fail(ctx, err)
		}
	}
	if err := c.nc.SetDeadline(time.Now().Add(c.timeout)); err != nil {
		return c.fail(ctx, err)
	}
	if c.raw != nil && c.br.Buffered() == 0 {
		c.raw.send(req) // written by the read that waits for the response
	} else if _, err := c.nc.Write(req); err != nil {
		return c.fail(ctx, err)
	}
	code, closeConn, err := readResponse(c.br, head)
	if err != nil {
		return c.fail(ctx, err)
	}
	if closeConn {
		c.reset()
	}
	return load.Outcome{Code: code}
}

func (c *h1Conn) fail(ctx context.Context, err error) load.Outcome {
	c.reset()
	c.err = err
	if ctx.Err() != nil || errors.Is(err, errCancelled) {
		return load.Outcome{Err: load.Canceled}
	}
	if errors.Is(err, errProtocol) {
		return load.Outcome{Err: load.Protocol}
	}
	return load.Outcome{Err: load.Classify(err)}
}

// readResponse reads one response and discards its body. It returns the
// status code and whether the server will close the connection.
func readResponse(br *bufio.Reader, head bool) (code int, closeConn bool, err error) {
	for {
		line, err := readLine(br)
		if err != nil {
			return 0, true, err
		}
		if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
			return 0, true, errProtocol
		}
		code = int(line[9]-'0')*100 + int(line[10]-'0')*10 + int(line[11]-'0')
		if code < 100 || code > 999 || line[9] < '0' || line[9] > '9' || line[10] < '0' || line[10] > '9' || line[11] < '0' || line[11] > '9' {
			return 0, true, errProtocol
		}
		closeConn = line[7] == '0' // HTTP/1.0 closes unless told otherwise
		length := int64(-1)
		chunked := false
		for {
			line, err = readLine(br)
			if err != nil {
				return 0, true, err
			}
			if len(line) <= 2 {
				break
			}
			switch lower(line[0]) {
			case 'c':
				switch {
				case hasPrefixFold(line, "content-length:"):
					if length, err = parseLength(line[len("content-length:"):]); err != nil {
						return 0, true, err
					}
				case hasPrefixFold(line, "connection:"):
					v := line[len("connection:"):]
					if containsFold(v, "close") {
						closeConn = true
					} else if containsFold(v, "keep-alive") {
						closeConn = false
					}
				}
			case 't':
				if hasPrefixFold(line, "transfer-encoding:") && containsFold(line[len("transfer-encoding:"):], "chunked") {
					chunked = true
				}
			}
		}
		if code < 200 && code != 101 {
			continue // an interim response (100 Continue): the real one follows
		}
		switch {
		case head || code == 204 || code == 304 || code == 101:
		case chunked:
			err = discardChunked(br)
		case length >= 0:
			_, err = br.Discard(int(length))
		default:
			// No length: the body runs to the end of the connection.
			_, err = io.Copy(io.Discard, br)
			closeConn = true
		}
		if err != nil {
			return 0, true, err
		}
		return code, closeConn, nil
	}
}

// readLine reads one line, however long.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err == nil {
		return line, nil
	}
	if !errors.Is(err, bufio.ErrBufferFull) {
		if errors.Is(err, io.EOF) && len(line) > 0 {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	// A header longer than the buffer: keep its start, skip the rest.
	keep := append([]byte(nil), line[:64]...)
	for errors.Is(err, bufio.ErrBufferFull) {
		_, err = br.ReadSlice('\n')
	}
	if err != nil {
		return nil, err
	}
	return append(keep, '\r', '\n'), nil
}

// parseLength parses a Content-Length value without allocating.
func parseLength(v []byte) (int64, error) {
	return parseInt(bytes.TrimSpace(v), 10)
}

// parseInt parses a non-negative decimal or hexadecimal number.
func parseInt(v []byte, base int64) (int64, error) {
	if len(v) == 0 || len(v) > 15 {
		return 0, errProtocol
	}
	var n int64
	for _, c := range v {
		var d int64
		switch {
		case '0' <= c && c <= '9':
			d = int64(c - '0')
		case base == 16 && 'a' <= lower(c) && lower(c) <= 'f':
			d = int64(lower(c)-'a') + 10
		default:
			return 0, errProtocol
		}
		n = n*base + d
	}
	return n, nil
}

func discardChunked(br *bufio.Reader) error {
	for {
		line, err := readLine(br)
		if err != nil {
			return err
		}
		line = bytes.TrimSpace(line)
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		size, err := parseInt(line, 16)
		if err != nil {
			return err
		}
		if size == 0 {
			// trailers, up to an empty line
			for {
				t, err := readLine(br)
				if err != nil {
					return err
				}
				if len(t) <= 2 {
					return nil
				}
			}
		}
		if _, err := br.Discard(int(size) + 2); err != nil {
			return err
		}
	}
}
