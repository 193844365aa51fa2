package httpload

import (
	"syscall"
	"unsafe"
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
