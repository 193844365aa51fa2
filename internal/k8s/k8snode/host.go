//go:build linux

package k8snode

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// kernelSettings are the host sysctls a node changes: the kubelet's kernel
// tunables (global) and kube-proxy's conntrack timeouts. The cluster's own
// namespace gets its per-namespace settings (ip_forward, bridge-nf-call)
// inside; these are saved before the start and written back.
var kernelSettings = []string{
	"vm/overcommit_memory",
	"vm/panic_on_oom",
	"kernel/panic",
	"kernel/panic_on_oops",
	"kernel/keys/root_maxkeys",
	"kernel/keys/root_maxbytes",
	"net/netfilter/nf_conntrack_max",
	"net/netfilter/nf_conntrack_tcp_timeout_established",
	"net/netfilter/nf_conntrack_tcp_timeout_close_wait",
	"net/ipv4/ip_forward",
	"net/bridge/bridge-nf-call-iptables",
}

// watchedPaths are host files and folders container runtimes and kubelets
// write by default. The cluster's mount namespace hides them, and the stop
// checks that none appeared.
var watchedPaths = []string{
	"/run/containerd", "/run/mount", "/run/netns", "/var/run/netns", "/var/lib/cni", "/var/lib/kubelet", "/var/lib/containerd",
	"/var/log/pods", "/var/log/containers", "/opt/containerd", "/opt/cni", "/etc/cni", "/etc/kubernetes",
	"/usr/libexec/kubernetes",
}

// hostState is what a start may change on the host and a stop must give
// back: mounts, iptables rules, routes, cgroups, sysctls and files.
type hostState struct {
	sysctls  map[string]string
	mounts   []string
	iptables string
	routes   string
	cgroups  []string
	paths    map[string]bool
}

func snapshotHost(ctx context.Context) (*hostState, error) {
	h := &hostState{sysctls: map[string]string{}, paths: map[string]bool{}}
	for _, k := range kernelSettings {
		if b, err := os.ReadFile("/proc/sys/" + k); err == nil {
			h.sysctls[k] = strings.TrimSpace(string(b))
		}
	}
	var err error
	if h.mounts, err = mountPoints(); err != nil {
		return nil, err
	}
	if h.iptables, err = iptablesRules(ctx); err != nil {
		return nil, err
	}
	out, err := exec.CommandContext(ctx, "ip", "route", "show", "table", "all").Output()
	if err != nil {
		return nil, fmt.Errorf("reading the host's routes: %w", err)
	}
	h.routes = string(out)
	if h.cgroups, err = topCgroups(); err != nil {
		return nil, err
	}
	for _, p := range watchedPaths {
		_, err := os.Lstat(p)
		h.paths[p] = err == nil
	}
	return h, nil
}

// restoreSysctls writes back every saved value that differs now.
func (h *hostState) restoreSysctls() error {
	var errs []error
	for k, v := range h.sysctls {
		b, err := os.ReadFile("/proc/sys/" + k)
		if err != nil || strings.TrimSpace(string(b)) == v {
			continue
		}
		if err := os.WriteFile("/proc/sys/"+k, []byte(v), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("restoring sysctl %s=%s: %w", k, v, err))
		}
	}
	return errors.Join(errs...)
}

// diff names every difference between h (before) and now (after).
func (h *hostState) diff(now *hostState) error {
	var errs []error
	for k, v := range h.sysctls {
		if now.sysctls[k] != v {
			errs = append(errs, fmt.Errorf("sysctl %s is %q, was %q", k, now.sysctls[k], v))
		}
	}
	if d := setDiff(h.mounts, now.mounts); d != "" {
		errs = append(errs, fmt.Errorf("host mounts changed: %s", d))
	}
	if h.iptables != now.iptables {
		errs = append(errs, fmt.Errorf("host iptables rules changed:\nbefore:\n%s\nafter:\n%s", h.iptables, now.iptables))
	}
	if h.routes != now.routes {
		errs = append(errs, fmt.Errorf("host routes changed:\nbefore:\n%s\nafter:\n%s", h.routes, now.routes))
	}
	if d := setDiff(h.cgroups, now.cgroups); d != "" {
		errs = append(errs, fmt.Errorf("host cgroups changed: %s", d))
	}
	for p, existed := range h.paths {
		if now.paths[p] != existed {
			errs = append(errs, fmt.Errorf("%s exists=%v, was %v", p, now.paths[p], existed))
		}
	}
	return errors.Join(errs...)
}

func setDiff(before, after []string) string {
	in := map[string]int{}
	for _, s := range before {
		in[s]--
	}
	for _, s := range after {
		in[s]++
	}
	var d []string
	for s, n := range in {
		switch {
		case n > 0:
			d = append(d, "+"+s)
		case n < 0:
			d = append(d, "-"+s)
		}
	}
	sort.Strings(d)
	return strings.Join(d, ", ")
}

func mountPoints() ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("reading the host's mounts: %w", err)
	}
	defer func() { _ = f.Close() }()
	var mps []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 {
			mps = append(mps, fields[4])
		}
	}
	return mps, sc.Err()
}

// iptablesRules returns the host's rules without packet counters.
func iptablesRules(ctx context.Context) (string, error) {
	var b strings.Builder
	for _, cmd := range []string{"iptables-save", "ip6tables-save"} {
		out, err := exec.CommandContext(ctx, cmd).Output()
		if err != nil {
			return "", fmt.Errorf("reading the host's rules with %s: %w", cmd, err)
		}
		for _, l := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(l, "#") {
				continue
			}
			if strings.HasPrefix(l, ":") { // chain policy with counters
				if i := strings.LastIndex(l, " ["); i > 0 {
					l = l[:i]
				}
			}
			b.WriteString(l + "\n")
		}
	}
	return b.String(), nil
}

// cgroupHierarchies lists the mount points of the host's cgroup
// hierarchies (v1 controllers and the v2 unified one).
func cgroupHierarchies() ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("reading the host's mounts: %w", err)
	}
	defer func() { _ = f.Close() }()
	var hs []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		for i, fld := range fields {
			if fld == "-" && i+1 < len(fields) && (fields[i+1] == "cgroup" || fields[i+1] == "cgroup2") {
				hs = append(hs, fields[4])
			}
		}
	}
	return hs, sc.Err()
}

// topCgroups lists the cgroups at the root of every hierarchy.
func topCgroups() ([]string, error) {
	hs, err := cgroupHierarchies()
	if err != nil {
		return nil, err
	}
	var cgs []string
	for _, h := range hs {
		entries, err := os.ReadDir(h)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if e.IsDir() {
				cgs = append(cgs, filepath.Join(h, e.Name()))
			}
		}
	}
	return cgs, nil
}

// cgroupProcs lists the processes in the cgroup trees named name at the
// root of every hierarchy.
func cgroupProcs(name string) []int {
	hs, _ := cgroupHierarchies()
	seen := map[int]bool{}
	var pids []int
	for _, h := range hs {
		// A tree that does not exist, or a cgroup removed while walking,
		// holds no process: errors are skipped.
		_ = filepath.WalkDir(filepath.Join(h, name), func(p string, d os.DirEntry, walkErr error) error {
			if walkErr != nil || !d.IsDir() {
				return nil //nolint:nilerr // see above
			}
			b, readErr := os.ReadFile(filepath.Join(p, "cgroup.procs"))
			if readErr != nil {
				return nil //nolint:nilerr // see above
			}
			for _, f := range strings.Fields(string(b)) {
				var pid int
				if _, err := fmt.Sscanf(f, "%d", &pid); err == nil && !seen[pid] {
					seen[pid] = true
					pids = append(pids, pid)
				}
			}
			return nil
		})
	}
	return pids
}

// removeCgroups removes the cgroup trees named name at the root of every
// hierarchy, deepest first; they must hold no process.
func removeCgroups(name string) error {
	hs, err := cgroupHierarchies()
	if err != nil {
		return err
	}
	var errs []error
	for _, h := range hs {
		root := filepath.Join(h, name)
		var dirs []string
		_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			if err := os.Remove(dirs[i]); err != nil && !os.IsNotExist(err) {
				errs = append(errs, fmt.Errorf("removing cgroup %s: %w", dirs[i], err))
			}
		}
	}
	return errors.Join(errs...)
}
