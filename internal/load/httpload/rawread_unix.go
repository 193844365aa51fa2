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
//
// On Linux it also reads the kernel's receive time of each answer, and it
// can send a request whose answer is read later (sendNow): meanwhile the
// socket's receive low-water mark is set high, so that the answer's arrival
// does not wake the process; the next read that must wait sets it back.
type rawConn struct {
	nc       net.Conn
	rc       syscall.RawConn
	pending  []byte // request bytes not yet written
	fallback bool   // the socket could not take the request at once
	writing  bool   // the socket was checked for unsolicited bytes
	sendOnly bool   // sendNow: write without waiting for the answer
	p        []byte
	n        int
	err      error
	fn       func(fd uintptr) bool
	sendFn   func(fd uintptr)

	stamped bool  // the kernel was asked for receive timestamps
	seen    bool  // and gave one
	stamp   int64 // the receive time of the last read with one (Unix ns)
	msg     stampMsg
	lowHigh bool  // the low-water mark is high (since sendNow, until a read waits)
	lowat   int32 // the value passed to setsockopt
	got     int64 // bytes read
	wrote   int   // bytes of the request in progress written
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
	r.sendFn = r.sendStep
	_ = rc.Control(func(fd uintptr) { r.stamped = enableStamps(fd) })
	return r
}

// canDefer reports whether an answer can be read later and still timed:
// the kernel gives receive timestamps.
func (r *rawConn) canDefer() bool { return r.stamped && r.seen }

// distrust stops taking receive timestamps, after one that could not be
// an answer's arrival.
func (r *rawConn) distrust() { r.stamped, r.seen, r.stamp = false, false, 0 }

// deferLowat is the receive low-water mark while an answer is deferred:
// answers up to this size do not make the socket readable. (The kernel
// also raises the socket's receive buffer to hold it: 64 KiB keeps that
// modest.)
const deferLowat = 64 << 10

// sendNow writes req at once; its answer is read by the next Reads. It
// fails with errUnsolicited when bytes that answer no request are waiting.
func (r *rawConn) sendNow(req []byte) error {
	r.pending, r.writing, r.sendOnly, r.err, r.wrote = req, false, true, nil, 0
	if err := r.rc.Control(r.sendFn); err != nil {
		r.pending = nil
		return err
	}
	r.sendOnly = false
	if r.fallback {
		r.fallback = false
		rest := r.pending
		r.pending = nil
		n, err := r.nc.Write(rest)
		r.wrote += n
		if err != nil {
			return err
		}
	}
	return r.err
}

func (r *rawConn) sendStep(fd uintptr) {
	if !r.lowHigh {
		r.lowat = deferLowat
		if setLowat(fd, &r.lowat) == nil {
			r.lowHigh = true
		}
	}
	r.step(fd)
}

// lower sets the low-water mark back to one byte before a read waits.
func (r *rawConn) lower(fd uintptr) {
	if r.lowHigh {
		r.lowat = 1
		if setLowat(fd, &r.lowat) == nil {
			r.lowHigh = false
		}
	}
}

// send arranges for req to be written by the next Read.
func (r *rawConn) send(req []byte) { r.pending, r.writing, r.wrote = req, false, 0 }

func (r *rawConn) step(fd uintptr) bool {
	if len(r.pending) > 0 && !r.writing {
		// Bytes already waiting answer no request: refuse to send.
		var early [len("HTTP/1.1 408")]byte
		n, err := recvPeek(fd, early[:])
		for n > 0 && emptyLines(early[:n]) {
			// empty lines after the last answer: drop them and look again
			if _, err := sysRead(fd, early[:n]); err != nil {
				r.err = os.NewSyscallError("read", err)
				return true
			}
			n, err = recvPeek(fd, early[:])
		}
		switch {
		case n > 0 && idleTimeout(early[:n]):
			// the server timed the idle connection out and said so
			// with a 408 before closing it (net/http treats it so):
			// nothing is sent
			r.pending = nil
			r.err = errPeerClosed
			return true
		case n > 0:
			r.pending = nil
			r.err = errUnsolicited
			return true
		case err == nil, errors.Is(err, syscall.ECONNRESET):
			// the server closed (or reset) the connection: nothing is
			// sent
			r.pending = nil
			r.err = errPeerClosed
			return true
		case !errors.Is(err, syscall.EAGAIN) && !errors.Is(err, syscall.EINTR):
			r.err = os.NewSyscallError("recvfrom", err)
			return true
		}
		r.writing = true
	}
	if len(r.pending) > 0 && !r.sendOnly {
		// the read after this write waits for the answer: lower the mark
		// first, so that an answer arriving at once makes the socket
		// readable (kernels before 4.18 do not signal it on lowering)
		r.lower(fd)
	}
	if len(r.pending) > 0 {
		n, err := writeFD(fd, r.pending)
		switch {
		case errors.Is(err, syscall.EAGAIN):
			r.fallback = true
			return true
		case err != nil:
			// (a later read may find an answer the server sent first)
			r.pending = nil
			r.err = os.NewSyscallError("write", err)
			return true
		}
		r.wrote += n
		r.pending = r.pending[n:]
		if len(r.pending) > 0 {
			r.fallback = true
			return true
		}
		if r.sendOnly {
			return true
		}
		return false // sent: wait for the response
	}
	for retried := false; ; {
		if r.stamped {
			var stamp int64
			r.n, stamp, r.err = r.msg.recv(fd, r.p)
			if stamp != 0 {
				r.stamp, r.seen = stamp, true
			}
		} else {
			r.n, r.err = sysRead(fd, r.p)
		}
		if errors.Is(r.err, syscall.EINTR) {
			continue
		}
		if errors.Is(r.err, syscall.EAGAIN) && r.lowHigh && !retried {
			// the bytes that arrived while the mark was high did not
			// make the socket readable: lower it and look again
			r.lower(fd)
			retried = true
			continue
		}
		break
	}
	if errors.Is(r.err, syscall.EAGAIN) {
		r.lower(fd)
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
			n, err := r.nc.Write(rest)
			r.wrote += n
			if err != nil {
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
	r.got += int64(r.n)
	return r.n, nil
}

// peerState looks at a socket without reading: closed when the peer ended
// (or reset) the connection and nothing is left to read, pending when
// bytes wait.
func peerState(rc syscall.RawConn) (closed, pending bool) {
	_ = rc.Control(func(fd uintptr) {
		var one [1]byte
		n, err := recvPeek(fd, one[:])
		closed = (n == 0 && err == nil) || errors.Is(err, syscall.ECONNRESET)
		pending = n > 0
	})
	return closed, pending
}

// peerHungUp reports whether the peer closed or reset the connection.
func peerHungUp(rc syscall.RawConn) (gone bool) {
	_ = rc.Control(func(fd uintptr) { gone = hungUp(fd) })
	return gone
}

// recvPeek peeks at the socket without blocking.
func recvPeek(fd uintptr, p []byte) (int, error) { return sysPeek(fd, p) }
