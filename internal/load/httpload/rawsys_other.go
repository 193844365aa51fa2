//go:build unix && !linux

package httpload

import "syscall"

// The system calls of rawConn, made the usual way outside Linux.

func sysRead(fd uintptr, p []byte) (int, error) { return syscall.Read(int(fd), p) }

func sysWrite(fd uintptr, p []byte) (int, error) { return syscall.Write(int(fd), p) }

func sysPeek(fd uintptr, p []byte) (int, error) {
	n, _, err := syscall.Recvfrom(int(fd), p, syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return n, err
}

// Receive timestamps are taken on Linux only: elsewhere answers are not
// deferred (see stampMsg on Linux).

func enableStamps(uintptr) bool { return false }

func setLowat(fd uintptr, v *int32) error {
	return syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVLOWAT, int(*v))
}

type stampMsg struct{}

func (*stampMsg) recv(fd uintptr, p []byte) (int, int64, error) {
	n, err := sysRead(fd, p)
	return n, 0, err
}
