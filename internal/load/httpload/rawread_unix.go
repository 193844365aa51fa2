//go:build unix

package httpload

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
)

// rawConn sends a request and reads its response with one system call fewer
// than net.Conn: the write happens inside the raw read, after the poller's
// readiness was reset, so the read can wait for the response to arrive
// instead of first trying a read that fails with EAGAIN. On Linux its
// system calls on the non-blocking socket are raw (see rawsys_linux.go).
type rawConn struct {
	nc       net.Conn
	rc       syscall.RawConn
	pending  []byte // request bytes not yet written
	fallback bool   // the socket could not take the request at once
	writing  bool   // the socket was checked for unsolicited bytes
	p        []byte
	n        int
	err      error
	fn       func(fd uintptr) bool
}

func newRawConn(c net.Conn) *rawConn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	r := &rawConn{nc: c, rc: rc}
	r.fn = r.step // bound once: no allocation per Read
	return r
}

// send arranges for req to be written by the next Read.
func (r *rawConn) send(req []byte) { r.pending, r.writing = req, false }

func (r *rawConn) step(fd uintptr) bool {
	if len(r.pending) > 0 && !r.writing {
		// Bytes already waiting answer no request: refuse to send.
		var one [1]byte
		n, err := recvPeek(fd, one[:])
		switch {
		case n > 0:
			r.pending = nil
			r.err = errUnsolicited
			return true
		case err == nil:
			// the server closed the connection; the write and read report it
		case !errors.Is(err, syscall.EAGAIN) && !errors.Is(err, syscall.EINTR):
			r.err = os.NewSyscallError("recvfrom", err)
			return true
		}
		r.writing = true
	}
	if len(r.pending) > 0 {
		n, err := writeFD(fd, r.pending)
		switch {
		case errors.Is(err, syscall.EAGAIN):
			r.fallback = true
			return true
		case err != nil:
			r.err = os.NewSyscallError("write", err)
			return true
		}
		r.pending = r.pending[n:]
		if len(r.pending) > 0 {
			r.fallback = true
			return true
		}
		return false // sent: wait for the response
	}
	for {
		r.n, r.err = sysRead(fd, r.p)
		if !errors.Is(r.err, syscall.EINTR) {
			break
		}
	}
	if errors.Is(r.err, syscall.EAGAIN) {
		return false
	}
	if r.err != nil {
		r.err = os.NewSyscallError("read", r.err)
	}
	return true
}

func writeFD(fd uintptr, b []byte) (int, error) {
	for {
		n, err := sysWrite(fd, b)
		if !errors.Is(err, syscall.EINTR) {
			return n, err
		}
	}
}

// Read writes any pending request, then reads.
func (r *rawConn) Read(p []byte) (int, error) {
	r.p, r.n, r.err = p, 0, nil
	for {
		if err := r.rc.Read(r.fn); err != nil {
			r.p = nil
			return 0, err
		}
		if r.fallback {
			// The socket buffer is full: finish the write the usual way.
			r.fallback = false
			rest := r.pending
			r.pending = nil
			if _, err := r.nc.Write(rest); err != nil {
				r.p = nil
				return 0, err
			}
			continue
		}
		break
	}
	r.p = nil
	switch {
	case r.err != nil:
		return 0, r.err
	case r.n == 0 && len(p) > 0:
		return 0, io.EOF
	}
	return r.n, nil
}

// recvPeek peeks at the socket without blocking.
func recvPeek(fd uintptr, p []byte) (int, error) { return sysPeek(fd, p) }
