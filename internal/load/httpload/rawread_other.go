//go:build !unix

package httpload

import "net"

// rawConn is only used on Unix; elsewhere requests use net.Conn.
type rawConn struct{ net.Conn }

func newRawConn(net.Conn) *rawConn { return nil }

func (r *rawConn) send([]byte) {}
