//go:build unix && (!linux || 386)

package httpload

import (
	"errors"
	"syscall"
)

// The system calls of rawConn, made the usual way outside Linux (and on
// 32-bit x86 Linux, whose socket calls go through socketcall).

func sysRead(fd uintptr, p []byte) (int, error) { return syscall.Read(int(fd), p) }

func sysWrite(fd uintptr, p []byte) (int, error) { return syscall.Write(int(fd), p) }

func sysPeek(fd uintptr, p []byte) (int, error) {
	n, _, err := syscall.Recvfrom(int(fd), p, syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return n, err
}

// hungUp reports whether the peer of socket fd closed or reset it, as far
// as a peek at its first unread byte tells (a close behind unread bytes is
// not seen).
func hungUp(fd uintptr) bool {
	var one [1]byte
	n, err := sysPeek(fd, one[:])
	return (n == 0 && err == nil) || errors.Is(err, syscall.ECONNRESET)
}

// Receive timestamps are taken on 64-bit and ARM Linux only: elsewhere
// answers are not deferred (see stampMsg there).

func enableStamps(uintptr) bool { return false }

func setLowat(fd uintptr, v *int32) error {
	return syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVLOWAT, int(*v))
}

type stampMsg struct{}

func (*stampMsg) recv(fd uintptr, p []byte) (int, int64, error) {
	n, err := sysRead(fd, p)
	return n, 0, err
}
