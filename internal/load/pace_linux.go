package load

import (
	"os"
	"syscall"
	"time"
	"unsafe"
)

// sleeper waits for a request's due time on a timerfd watched by the
// runtime's network poller: the poller wakes when the timer fires, to the
// microsecond, where a Go timer shorter than a millisecond wakes an idle
// process up to a millisecond late (the poller's epoll timeout is in whole
// milliseconds). Its system calls are raw, as the HTTP client's are, so
// that they do not wake the runtime's monitor thread.
type sleeper struct {
	f      *os.File
	tfd    uintptr
	rc     syscall.RawConn
	buf    [8]byte
	closed chan struct{}
}

// newSleeper returns a sleeper that stop interrupts, or nil when the
// system has no timerfd.
func newSleeper(stop <-chan struct{}) *sleeper {
	fd, _, e := syscall.RawSyscall(syscall.SYS_TIMERFD_CREATE, uintptr(1) /* CLOCK_MONOTONIC */, syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if e != 0 {
		return nil
	}
	f := os.NewFile(fd, "timerfd")
	rc, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		return nil
	}
	s := &sleeper{f: f, tfd: fd, rc: rc, closed: make(chan struct{})}
	go func() {
		select {
		case <-stop:
			_ = f.SetReadDeadline(time.Unix(1, 0))
		case <-s.closed:
		}
	}()
	return s
}

// sleep waits d; it reports false when interrupted.
func (s *sleeper) sleep(d time.Duration) bool {
	spec := [4]int64{0, 0, int64(d / time.Second), int64(d % time.Second)}
	if _, _, e := syscall.RawSyscall6(syscall.SYS_TIMERFD_SETTIME, s.tfd, 0, uintptr(unsafe.Pointer(&spec)), 0, 0, 0); e != 0 {
		return false
	}
	var rerr syscall.Errno
	err := s.rc.Read(func(fd uintptr) bool {
		_, _, rerr = syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&s.buf[0])), 8)
		return rerr != syscall.EAGAIN
	})
	return err == nil && rerr == 0
}

// close releases the timerfd.
func (s *sleeper) close() {
	close(s.closed)
	_ = s.f.Close()
}
