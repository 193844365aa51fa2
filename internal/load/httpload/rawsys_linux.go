//go:build linux && !386

package httpload

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The system calls of rawConn on its non-blocking socket, made raw: without
// the runtime's entersyscall/exitsyscall. None of them can block, so none
// needs the runtime to hand the processor to another thread; and a normal
// system call made while the process is idle wakes the runtime's monitor
// thread (sysmon), which then polls every 20 µs for a while. At 2,000
// evenly spaced requests per second those wake-ups cost more CPU than the
// requests themselves (measured: 1.5 s against 0.75 s of CPU for 16,000
// requests; docs/performance.md). Go's own network poller makes its
// epoll calls the same way.

// sysRead reads from fd.
func sysRead(fd uintptr, p []byte) (int, error) {
	n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(bufPtr(p)), uintptr(len(p)))
	if e != 0 {
		return -1, e
	}
	return int(n), nil
}

// sysWrite writes to fd.
func sysWrite(fd uintptr, p []byte) (int, error) {
	n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(bufPtr(p)), uintptr(len(p)))
	if e != 0 {
		return -1, e
	}
	return int(n), nil
}

// sysPeek peeks at the bytes waiting in fd without blocking or consuming
// them.
func sysPeek(fd uintptr, p []byte) (int, error) {
	n, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(bufPtr(p)), uintptr(len(p)),
		syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
	if e != 0 {
		return -1, e
	}
	return int(n), nil
}

// bufPtr is the address of p's first byte, or nil for an empty p.
func bufPtr(p []byte) unsafe.Pointer {
	if len(p) == 0 {
		return nil
	}
	return unsafe.Pointer(&p[0])
}

// The receive timestamps and the receive low-water mark of rawConn.

// enableStamps asks the kernel to report when the bytes of each read
// arrived (SO_TIMESTAMPNS); it reports whether it could.
func enableStamps(fd uintptr) bool {
	return syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1) == nil
}

// setLowat sets the socket's receive low-water mark (SO_RCVLOWAT): below
// it, arriving bytes do not make the socket readable, so the runtime's
// poller is not woken by them. The kernel caps a large value.
func setLowat(fd uintptr, v *int32) error {
	_, _, e := syscall.RawSyscall6(syscall.SYS_SETSOCKOPT, fd, syscall.SOL_SOCKET, syscall.SO_RCVLOWAT,
		uintptr(unsafe.Pointer(v)), 4, 0)
	if e != 0 {
		return e
	}
	return nil
}

// stampMsg is the message header of a read that takes the receive
// timestamp. It lives as long as its connection, so that no read
// allocates.
type stampMsg struct {
	hdr syscall.Msghdr
	iov syscall.Iovec
	oob [8]uint64 // control messages, 8-byte aligned
}

// recv reads into p and returns, besides the count, the kernel's
// receive time of the last bytes read (Unix ns; 0 when it gave none).
func (m *stampMsg) recv(fd uintptr, p []byte) (int, int64, error) {
	oob := unsafe.Slice((*byte)(unsafe.Pointer(&m.oob[0])), len(m.oob)*8)
	m.iov.Base = (*byte)(bufPtr(p))
	m.iov.SetLen(len(p))
	m.hdr.Iov = &m.iov
	m.hdr.Iovlen = 1
	m.hdr.Control = &oob[0]
	m.hdr.SetControllen(len(oob))
	n, _, e := syscall.RawSyscall(syscall.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&m.hdr)), 0)
	m.iov.Base = nil
	if e != 0 {
		return -1, 0, e
	}
	var stamp int64
	ctl := oob[:min(int(m.hdr.Controllen), len(oob))]
	for len(ctl) >= syscall.CmsgLen(0) {
		h := (*syscall.Cmsghdr)(unsafe.Pointer(&ctl[0]))
		l := int(h.Len)
		if l < syscall.CmsgLen(0) || l > len(ctl) {
			break
		}
		if h.Level == syscall.SOL_SOCKET && h.Type == syscall.SO_TIMESTAMPNS && l >= syscall.CmsgLen(int(unsafe.Sizeof(syscall.Timespec{}))) {
			stamp = (*syscall.Timespec)(unsafe.Pointer(&ctl[syscall.CmsgLen(0)])).Nano()
		}
		ctl = ctl[min(syscall.CmsgSpace(l-syscall.CmsgLen(0)), len(ctl)):]
	}
	return int(n), stamp, nil
}

// hungUp reports whether the peer of socket fd closed or reset it, even
// with bytes still unread before the close (POLLRDHUP).
func hungUp(fd uintptr) bool {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLRDHUP}}
	n, err := unix.Poll(fds, 0)
	return err == nil && n > 0 && fds[0].Revents&(unix.POLLRDHUP|unix.POLLHUP|unix.POLLERR) != 0
}
