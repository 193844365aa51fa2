//go:build linux

package k8snode

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// sandbox is the network and mount namespace pair the cluster lives in. A
// holder process (sleep) keeps both alive; every daemon joins them with
// nsenter. The mount namespace is private: the mounts containerd and the
// kubelet make (overlay root filesystems, volumes, pod netns files) and the
// tmpfs over /run, /var/lib, /var/log and /opt never reach the host, and
// vanish with the last process in the namespace.
type sandbox struct {
	holder *exec.Cmd
	netFD  int // open /proc/<holder>/ns/net, for dialing from the test process
	pid    int
}

// hiddenDirs get an empty tmpfs in the cluster's mount namespace: the
// daemons write there by default (shim sockets, pod netns files, libcni
// caches, /var/log/containers links, /opt/containerd), and the host must
// not see any of it.
var hiddenDirs = []string{"/run", "/var/lib", "/var/log", "/opt"}

func newSandbox(ctx context.Context) (*sandbox, error) {
	holder := exec.CommandContext(context.WithoutCancel(ctx), "sleep", "infinity")
	holder.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNET | syscall.CLONE_NEWNS,
		Pdeathsig:  syscall.SIGKILL,
	}
	if err := holder.Start(); err != nil {
		return nil, fmt.Errorf("creating the cluster's network namespace: %w", err)
	}
	s := &sandbox{holder: holder, pid: holder.Process.Pid, netFD: -1}
	go func() { _ = holder.Wait() }()
	fd, err := unix.Open(s.nsPath("net"), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		s.kill()
		return nil, fmt.Errorf("opening the cluster's network namespace: %w", err)
	}
	s.netFD = fd
	script := []string{
		// Nothing mounted here propagates to the host, nor from it. -n:
		// util-linux would otherwise make the host's /run/mount for its
		// utab before /run is hidden.
		"mount -n --make-rprivate /",
	}
	for _, d := range hiddenDirs {
		script = append(script, fmt.Sprintf("mount -n -t tmpfs -o mode=0755 iter8-node %s", d))
	}
	script = append(script,
		"mkdir -p /run/lock /var/lib/cni /var/log/pods /var/log/containers",
		"ip link set lo up",
		// This kernel has no dummy links: a veth pair with both ends inside.
		"ip link add "+nodeLink+" type veth peer name "+nodeLink+"p",
		"ip addr add "+NodeIP+"/24 dev "+nodeLink,
		"ip link set "+nodeLink+" up",
		"ip link set "+nodeLink+"p up",
		// Traffic to ClusterIPs from the node itself is DNATed by
		// kube-proxy in OUTPUT, after a route lookup: give the range one.
		"ip route add "+ServiceCIDR+" dev "+nodeLink,
		"sysctl -qw net.ipv4.ip_forward=1",
		"sysctl -qw net.bridge.bridge-nf-call-iptables=1",
	)
	if out, err := s.run(ctx, true, "sh", "-ec", strings.Join(script, "\n")); err != nil {
		s.kill()
		return nil, fmt.Errorf("setting up the cluster's namespaces: %w\n%s", err, out)
	}
	return s, nil
}

func (s *sandbox) nsPath(kind string) string { return fmt.Sprintf("/proc/%d/ns/%s", s.pid, kind) }

// command returns a command that runs inside the cluster's network
// namespace (and its mount namespace too when mount is set).
func (s *sandbox) command(ctx context.Context, mount bool, name string, args ...string) *exec.Cmd {
	ns := []string{"--net=" + s.nsPath("net")}
	if mount {
		ns = append(ns, "--mount="+s.nsPath("mnt"))
	}
	return exec.CommandContext(ctx, "nsenter", append(append(ns, "--", name), args...)...)
}

func (s *sandbox) run(ctx context.Context, mount bool, name string, args ...string) (string, error) {
	out, err := s.command(ctx, mount, name, args...).CombinedOutput()
	return string(out), err
}

// inside runs fn on a thread that has entered the cluster's network
// namespace: sockets fn makes belong to the namespace for their lifetime.
func (s *sandbox) inside(fn func() error) error {
	ch := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		home, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			ch <- fmt.Errorf("the test's network namespace: %w", err)
			return
		}
		defer func() { _ = unix.Close(home) }()
		if err := unix.Setns(s.netFD, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- fmt.Errorf("entering the cluster's network namespace: %w", err)
			return
		}
		ferr := fn()
		if err := unix.Setns(home, unix.CLONE_NEWNET); err != nil {
			// The thread stays locked, and ends with this goroutine.
			ch <- errors.Join(ferr, fmt.Errorf("leaving the cluster's network namespace: %w", err))
			return
		}
		runtime.UnlockOSThread()
		ch <- ferr
	}()
	return <-ch
}

// dial connects from the test process to an address inside the cluster's
// network namespace.
func (s *sandbox) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := s.inside(func() error {
		var err error
		c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
		return err
	})
	if err != nil && c != nil {
		_ = c.Close()
		c = nil
	}
	return c, err
}

// listen listens on an address inside the cluster's network namespace.
func (s *sandbox) listen(network, addr string) (net.Listener, error) {
	var l net.Listener
	err := s.inside(func() error {
		var err error
		l, err = (&net.ListenConfig{}).Listen(context.Background(), network, addr)
		return err
	})
	if err != nil && l != nil {
		_ = l.Close()
		l = nil
	}
	return l, err
}

func (s *sandbox) kill() {
	if s.netFD >= 0 {
		_ = unix.Close(s.netFD)
		s.netFD = -1
	}
	if s.holder != nil && s.holder.Process != nil {
		_ = s.holder.Process.Kill()
	}
}

// members lists the processes in the sandbox's mount namespace, the holder
// included (containerd's shims are among them).
func (s *sandbox) members() []int {
	want, err := os.Readlink(s.nsPath("mnt"))
	if err != nil {
		return nil
	}
	return processesWithNamespace("mnt", want)
}

func processesWithNamespace(kind, want string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil || fmt.Sprint(pid) != e.Name() {
			continue
		}
		if l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, kind)); err == nil && l == want {
			pids = append(pids, pid)
		}
	}
	return pids
}
