//go:build !unix

package httpload

import (
	"net"
	"syscall"
)

// rawConn is only used on Unix; elsewhere requests use net.Conn.
type rawConn struct {
	net.Conn
	stamp int64
	got   int64
	wrote int
}

func newRawConn(net.Conn) *rawConn { return nil }

func (r *rawConn) send([]byte) {}

func (r *rawConn) canDefer() bool { return false }

func (r *rawConn) sendNow([]byte) error { return nil }

func (r *rawConn) distrust() {}

// peerState is not known here: an idle TLS connection the server closed
// fails its next request.
func peerState(syscall.RawConn) (closed, pending bool) { return false, false }

func peerHungUp(syscall.RawConn) bool { return false }
