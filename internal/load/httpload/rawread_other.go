//go:build !unix

package httpload

import "net"

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
