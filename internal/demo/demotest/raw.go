package demotest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
)

// Raw is a minimal HTTP/1.1 keep-alive responder: it answers every request
// with the same small 200 response, spending as little CPU as possible, so
// that tests and benchmarks of the load generator measure the generator.
// It understands requests without bodies or with Content-Length.
type Raw struct {
	ln    net.Listener
	n     atomic.Int64
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

var rawResponse = []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok")

// StartRaw starts a raw responder on 127.0.0.1.
func StartRaw() (*Raw, error) {
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demotest: %w", err)
	}
	r := &Raw{ln: ln, conns: map[net.Conn]struct{}{}}
	r.wg.Add(1)
	go r.accept()
	return r, nil
}

// URL returns the responder's base URL.
func (r *Raw) URL() string { return "http://" + r.ln.Addr().String() }

// Requests returns the number of requests answered.
func (r *Raw) Requests() int64 { return r.n.Load() }

// Close stops the responder and closes its connections.
func (r *Raw) Close() error {
	err := r.ln.Close()
	r.mu.Lock()
	for c := range r.conns {
		_ = c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
	return err
}

func (r *Raw) accept() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.mu.Lock()
		r.conns[c] = struct{}{}
		r.mu.Unlock()
		r.wg.Add(1)
		go r.serve(c)
	}
}

func (r *Raw) serve(c net.Conn) {
	defer r.wg.Done()
	defer func() {
		r.mu.Lock()
		delete(r.conns, c)
		r.mu.Unlock()
		_ = c.Close()
	}()
	br := bufio.NewReaderSize(c, 16<<10)
	out := make([]byte, 0, 64*len(rawResponse))
	for {
		length := 0
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				return
			}
			if len(line) <= 2 {
				break
			}
			if len(line) > 15 && bytes.EqualFold(line[:15], []byte("content-length:")) {
				for _, ch := range bytes.TrimSpace(line[15:]) {
					length = length*10 + int(ch-'0')
				}
			}
		}
		if length > 0 {
			if _, err := br.Discard(length); err != nil {
				return
			}
		}
		r.n.Add(1)
		out = append(out, rawResponse...)
		// Pipelined requests already buffered are answered in one write.
		if br.Buffered() > 0 && len(out) < cap(out) {
			continue
		}
		if _, err := c.Write(out); err != nil {
			if !errors.Is(err, net.ErrClosed) {
				return
			}
			return
		}
		out = out[:0]
	}
}
