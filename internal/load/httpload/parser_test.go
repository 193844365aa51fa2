package httpload

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"iter8.tools/iter8/internal/load"
)

// Framing errors are protocol errors, counted by kind.
func TestReadResponseProtocolErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, resp string
		kind       load.ErrorKind
	}{
		{"four-digit status", "HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n", load.ProtocolStatus},
		{"status with a letter", "HTTP/1.1 200x OK\r\nContent-Length: 0\r\n\r\n", load.ProtocolStatus},
		{"status too short", "HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n", load.ProtocolStatus},
		{"conflicting lengths", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde", load.ProtocolLength},
		{"signed length", "HTTP/1.1 200 OK\r\nContent-Length: +3\r\n\r\nabc", load.ProtocolLength},
		{"two encodings", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", load.Protocol},
		{"header without colon", "HTTP/1.1 200 OK\r\nbroken\r\nContent-Length: 0\r\n\r\n", load.Protocol},
	}
	for _, tt := range tests {
		br := bufio.NewReader(bytes.NewReader([]byte(tt.resp)))
		_, _, err := readResponse(br, false)
		var pe *protoError
		if !errors.As(err, &pe) || pe.kind != tt.kind {
			t.Errorf("%s: error %v, want a %s protocol error", tt.name, err, tt.kind)
		}
	}
}

// A 101 Switching Protocols answer ends HTTP/1.1 on its connection: the
// bytes after it are another protocol's, never the next request's answer,
// so the connection is closed. (It was reused: an upgrade's first frame was
// read as the next response.)
func TestSwitchingProtocolsClosesTheConnection(t *testing.T) {
	t.Parallel()
	for _, resp := range []string{
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n\x00\x00\x12\x04",
	} {
		code, closeConn, err := readResponse(bufio.NewReader(bytes.NewReader([]byte(resp))), false)
		if err != nil || code != 101 || !closeConn {
			t.Errorf("%q: code %d, close %v, error %v; want 101 and the connection closed", resp, code, closeConn, err)
		}
	}
}

// misbehave serves connections: on the first, it writes early before any
// request and answer to every request; later connections are served well.
func misbehave(t *testing.T, early, answer string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for first := true; ; first = false {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			early, answer := early, answer
			if !first {
				early, answer = "", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
			}
			go func() {
				defer func() { _ = c.Close() }()
				if early != "" {
					_, _ = io.WriteString(c, early)
				}
				br := bufio.NewReader(c)
				for {
					if _, err := http.ReadRequest(br); err != nil {
						return
					}
					if _, err := io.WriteString(c, answer); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// A server that answers one request with two responses, or speaks before a
// request was sent, is a protocol error on that connection, which is
// replaced; the spare response never answers the next request.
func TestUnsolicitedBytes(t *testing.T) {
	t.Parallel()
	ok := "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
	tests := []struct{ name, early, answer string }{
		{"two responses to one request", "", ok + "HTTP/1.1 203 Spare\r\nContent-Length: 0\r\n\r\n"},
		{"bytes before the request", "HTTP/1.1 203 Early\r\nContent-Length: 0\r\n\r\n", ok},
	}
	for _, tt := range tests {
		for _, deferred := range []bool{false, true} {
			name := fmt.Sprintf("%s (deferred %v)", tt.name, deferred)
			codes := fourRequests(t, name, tt.early, tt.answer, deferred)
			if codes[string(load.ProtocolUnsolicited)] == 0 || codes["OK"] == 0 {
				t.Errorf("%s: outcomes %v, want protocol-unsolicited, then a replaced connection that works", name, codes)
			}
		}
	}
}

// Bytes that arrive between an answer and the next request, on a
// connection whose answers have receive timestamps, are found before the
// request is sent, whatever arrives after it: a spare response is a
// protocol error and never answers the request, line ends are dropped, and
// a 408 before the server closes the connection sends the request again
// over a new one. (A receive timestamp cannot tell them: Linux merges a
// later segment, or a FIN, into unread bytes and stamps them with its
// arrival.)
func TestBytesBetweenRequests(t *testing.T) {
	t.Parallel()
	ok := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	spare := "HTTP/1.1 203 Spare\r\nContent-Length: 0\r\n\r\n"
	r408 := "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
	tests := []struct {
		name, between string
		after         string // written once the next request was read ("close": the server closes)
		want          string // the next request's outcome: a status text or an error kind
		conns         int32
	}{
		{"a spare response", spare, ok, string(load.ProtocolUnsolicited), 2},
		{"a spare response, then a close", spare, "close", string(load.ProtocolUnsolicited), 2},
		{"a spare's head, its body after the request", "HTTP/1.1 203 Spare\r\nContent-Length: 4\r\n\r\nab", "cd" + ok, string(load.ProtocolUnsolicited), 2},
		{"line ends", "\r\n\r\n", ok, "OK", 1},
		{"a 408, then a close", r408, "close", "OK", 2},
	}
	for _, tt := range tests {
		for _, deferred := range []bool{false, true} {
			name := fmt.Sprintf("%s (deferred %v)", tt.name, deferred)
			addr, accepted := serveConns(t, nil, func(c net.Conn, n int32) {
				defer func() { _ = c.Close() }()
				br := bufio.NewReader(c)
				for between := false; ; {
					r, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					answer := ok
					if between {
						if answer, between = tt.after, false; answer == "close" {
							return
						}
					}
					if _, err := io.WriteString(c, answer); err != nil {
						return
					}
					if n == 1 && r.URL.Path == "/between" {
						time.Sleep(20 * time.Millisecond) // read alone, after the answer
						_, _ = io.WriteString(c, tt.between)
						between = true
					}
				}
			})
			c := newH1Conn(addr, nil, 5*time.Second)
			ctx := context.Background()
			req := buildRequest(mustEndpoint(t, "http://"+addr+"/"))
			warmStamps(t, c, req, nil)
			if out := c.do(ctx, buildRequest(mustEndpoint(t, "http://"+addr+"/between"))); out.Code != 200 {
				t.Fatalf("%s: first request: %+v (%v)", name, out, c.err)
			}
			waitReadable(t, c) // the bytes have arrived
			if got := requestOver(ctx, c, req, deferred); got != tt.want {
				t.Errorf("%s: the request after them: %q (%v), want %q", name, got, c.err, tt.want)
			}
			if out := c.do(ctx, req); out.Code != 200 {
				t.Errorf("%s: the request after that: %+v (%v), want 200", name, out, c.err)
			}
			if n := accepted.Load(); n != tt.conns {
				t.Errorf("%s: %d connections, want %d", name, n, tt.conns)
			}
			_ = c.Close()
		}
	}
}

// Empty lines (CRLF) a server sends after an answer, or before the first,
// answer nothing and are dropped: every request is answered.
func TestEmptyLinesIgnored(t *testing.T) {
	t.Parallel()
	ok := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	tests := []struct{ name, early, answer string }{
		{"a line end after each answer", "", ok + "\r\n"},
		{"empty lines before the first request", "\r\n\r\n", ok},
	}
	for _, tt := range tests {
		for _, deferred := range []bool{false, true} {
			name := fmt.Sprintf("%s (deferred %v)", tt.name, deferred)
			if codes := fourRequests(t, name, tt.early, tt.answer, deferred); codes["OK"] != 4 {
				t.Errorf("%s: outcomes %v, want 4 OK", name, codes)
			}
		}
	}
}

// fourRequests sends four requests to a misbehaving server, made whole or
// with their answers read after the send returned (deferred), and counts
// their outcomes (status texts, error kinds).
func fourRequests(t *testing.T, name, early, answer string, deferred bool) map[string]int {
	t.Helper()
	addr := misbehave(t, early, answer)
	c := newH1Conn(addr, nil, 5*time.Second)
	defer func() { _ = c.Close() }()
	ctx := context.Background()
	c.preconnect(ctx)
	if early != "" {
		waitReadable(t, c)
	}
	codes := map[string]int{}
	for range 4 {
		req := buildRequest(mustEndpoint(t, "http://"+addr+"/"))
		got := requestOver(ctx, c, req, deferred)
		codes[got]++
		if got == http.StatusText(http.StatusNonAuthoritativeInfo) {
			t.Errorf("%s: the spare response answered a request", name)
		}
	}
	return codes
}

// requestOver sends req over c, made whole or with its answer read after
// the send returned (deferred), and names its outcome: a status text or an
// error kind.
func requestOver(ctx context.Context, c *h1Conn, req h1Req, deferred bool) string {
	var out load.Outcome
	if deferred {
		var ok bool
		if out, ok = c.begin(ctx, req, true); ok {
			out = c.end(ctx)
		}
	} else {
		out = c.do(ctx, req)
	}
	if out.Err != "" {
		return string(out.Err)
	}
	return http.StatusText(out.Code)
}

// waitReadable blocks until c's socket holds unread bytes (through the
// poller, not by sleeping).
func waitReadable(t *testing.T, c *h1Conn) {
	t.Helper()
	if c.raw == nil {
		t.Fatal("no raw connection")
	}
	err := c.raw.rc.Read(func(fd uintptr) bool {
		var one [1]byte
		n, err := recvPeek(fd, one[:])
		return n > 0 || err == nil || !errors.Is(err, syscall.EAGAIN)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func mustEndpoint(t *testing.T, url string) *endpoint {
	t.Helper()
	tg, err := New(Config{Endpoints: []Endpoint{{URL: url}}})
	if err != nil {
		t.Fatal(err)
	}
	return tg.eps[0]
}

// stdRead is the reference: net/http reads the response (skipping interim
// 1xx responses but 101, as the fast path does) and its body; it returns
// the status and how many bytes the response took, head and body.
func stdRead(data []byte) (code int, body int64, err error) {
	r := bytes.NewReader(data)
	br := bufio.NewReaderSize(r, 16<<10)
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://x/", nil)
	for {
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			return 0, 0, err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		if err != nil {
			return 0, 0, err
		}
		if resp.StatusCode/100 == 1 && resp.StatusCode != http.StatusSwitchingProtocols {
			continue
		}
		return resp.StatusCode, int64(len(data)) - int64(r.Len()) - int64(br.Buffered()), nil
	}
}

// fastRead is the fast path on the same bytes.
func fastRead(data []byte) (code int, consumed int64, err error) {
	r := bytes.NewReader(data)
	br := bufio.NewReaderSize(r, 16<<10)
	code, _, err = readResponse(br, false)
	return code, int64(len(data)) - int64(r.Len()) - int64(br.Buffered()), err
}

// FuzzReadResponse is a differential test of the fast parser against
// net/http.ReadResponse: on the same bytes they agree on the status, on how
// many bytes the response took (its head and body) and on error or not.
// The fast parser is stricter in three documented ways (a folded header
// line, a space in a header name, a signed status code): there it may
// refuse what net/http accepts, never the reverse.
func FuzzReadResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x\r\nhello\r\n0\r\nT: 1\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.0 200 OK\r\n\r\nuntil close",
		"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200x OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab",
		"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
		"HTTP/1.1 200 OK\nContent-Length: 1\n\nx",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: Content-Length\r\n\r\n0\r\n\r\n",
		"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		code, n, err := fastRead(data)
		wantCode, wantN, wantErr := stdRead(data)
		if err != nil && wantErr == nil {
			if errors.Is(err, errFolded) || errors.Is(err, errSpaceInName) || errors.Is(err, errSignedStatus) {
				return // documented strictness
			}
			t.Fatalf("fast parser refused what net/http accepts (%d, %d bytes): %v\n%q", wantCode, wantN, err, data)
		}
		if err == nil && wantErr != nil {
			t.Fatalf("fast parser accepted (%d, %d bytes) what net/http refuses: %v\n%q", code, n, wantErr, data)
		}
		if err == nil && (code != wantCode || n != wantN) {
			t.Fatalf("fast parser: status %d, %d bytes; net/http: status %d, %d bytes\n%q", code, n, wantCode, wantN, data)
		}
	})
}
