//go:build linux

// Package k8snode runs a real single-node Kubernetes cluster for tests:
// etcd, kube-apiserver, kube-controller-manager (every default controller,
// the Job and CronJob controllers among them), kube-scheduler, containerd
// with runc, the kubelet, kube-proxy and a bridge CNI, with iter8's own image
// built from the checkout and imported into containerd. Pods run for real:
// in-cluster configuration with projected tokens, the chart's RBAC, the pod
// security context and container logs are what a user's cluster gives.
//
// The whole cluster lives in a network namespace (and a private mount
// namespace) the package creates: the node's address is on a link inside it,
// so no test traffic leaves loopback and that namespace. The host gets
// unreachable routes for the cluster's ranges while it runs, so a client
// started outside by mistake fails at once. Stop ends every process it
// started, and checks that the host's mounts, iptables rules, routes,
// cgroups, sysctls and runtime folders are as they were before the start.
//
// Clients run inside the namespace: Command wraps a program with nsenter,
// and Config dials through the namespace from the test process.
//
// The node is slow to start (about 10 s) and holds fixed names (cgroups,
// routes), so a test binary starts one, through Shared, and TestMain stops it
// with StopShared. Tests skip it only under -short.
package k8snode

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"iter8.tools/iter8/internal/k8s/k8stest"
)

// components are the executables hack/kube/build.sh provides.
var components = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy"}

// ownCgroups are the cgroup trees a node makes at the root of every
// hierarchy: the kubelet's pods, and containerd's namespace for containers
// run with ctr.
var ownCgroups = []string{"kubepods", "k8s.io"}

// hostTools are the programs from Debian packages the node needs.
var hostTools = map[string]string{
	"containerd": "containerd", "ctr": "containerd", "runc": "runc", "iptables": "iptables",
	"/usr/lib/cni/bridge": "containernetworking-plugins", "/usr/lib/cni/host-local": "containernetworking-plugins",
	"nsenter": "util-linux", "ip": "iproute2",
}

// Cluster is a running node.
type Cluster struct {
	// Host is the API server's URL, reachable inside the namespace only.
	Host string
	// CA is the PEM certificate of the cluster's authority.
	CA []byte
	// AdminToken authenticates as a member of system:masters.
	AdminToken string
	// Config is the admin's client configuration; it dials through the
	// cluster's namespace.
	Config *rest.Config
	// Client is the admin's typed client.
	Client kubernetes.Interface
	// Iter8Image is the name of the iter8 image built from the checkout and
	// imported into the node (the chart's default iter8Image).
	Iter8Image string
	// Started is how long the start took, node Ready included.
	Started time.Duration

	dir     string
	tokens  map[string]string // component identity -> static token
	sb      *sandbox
	host    *hostState
	routes  []string
	procs   []*proc
	lock    *os.File
	stopped bool
}

type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

// Start builds what is missing (Kubernetes components, images), starts the
// node and waits until it is Ready. iter8Binary is a static iter8 executable
// to put in the image. A failed start leaves the host as it was.
func Start(ctx context.Context, iter8Binary string) (*Cluster, error) {
	begin := time.Now()
	if err := checkHostTools(); err != nil {
		return nil, err
	}
	assets, err := k8stest.RequireAssets(components...)
	if err != nil {
		return nil, err
	}
	lock, err := lockMachine(assets)
	if err != nil {
		return nil, err
	}
	if err := recoverLeftovers(ctx); err != nil {
		_ = lock.Close()
		return nil, err
	}
	host, err := snapshotHost(ctx)
	if err != nil {
		_ = lock.Close()
		return nil, err
	}
	base := ""
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		base = "/dev/shm" // etcd's fsyncs and the images' layers on tmpfs
	}
	// A node killed with its test binary left its run folder (the machine
	// lock says no other node runs).
	stale, _ := filepath.Glob(filepath.Join(cmp.Or(base, os.TempDir()), "iter8-node-*"))
	for _, d := range stale {
		_ = os.RemoveAll(d)
	}
	dir, err := os.MkdirTemp(base, "iter8-node-")
	if err != nil {
		_ = lock.Close()
		return nil, fmt.Errorf("node: %w", err)
	}
	c := &Cluster{dir: dir, host: host, lock: lock, AdminToken: randomToken()}
	if err := c.boot(ctx, assets, iter8Binary); err != nil {
		if serr := c.Stop(); serr != nil {
			err = fmt.Errorf("%w\nstopping after the failed start: %w", err, serr)
		}
		return nil, err
	}
	c.Started = time.Since(begin)
	return c, nil
}

func checkHostTools() error {
	var missing []string
	for tool, pkg := range hostTools {
		var err error
		if strings.HasPrefix(tool, "/") {
			_, err = os.Stat(tool)
		} else {
			_, err = exec.LookPath(tool)
		}
		if err != nil {
			missing = append(missing, fmt.Sprintf("%s (Debian package %s)", tool, pkg))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("the test node needs %s: .ci/run installs them", strings.Join(missing, ", "))
	}
	if os.Geteuid() != 0 {
		return errors.New("the test node needs root (namespaces, cgroups, mounts)")
	}
	return nil
}

// lockMachine serialises nodes on one machine: cgroup names and routes are
// fixed. The lock file lives in the build cache, beside the components.
func lockMachine(assets string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(assets, ".node.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("node lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("node lock: %w", err)
	}
	return f, nil
}

// recoverLeftovers removes what a node killed with its test binary (kill -9
// skips Stop) left on the host: its unreachable routes, the containers in
// its cgroups, containerd's shims (in a mount namespace other than the
// host's), and the cgroups. The daemons themselves die with the test binary
// (Pdeathsig). It fails when the host still holds a node's cgroups.
func recoverLeftovers(ctx context.Context) error {
	out, err := exec.CommandContext(ctx, "ip", "route", "show", "type", "unreachable").Output()
	if err != nil {
		return fmt.Errorf("reading the host's routes: %w", err)
	}
	for _, cidr := range []string{NodeCIDR, PodCIDR, ServiceCIDR} {
		if strings.Contains(string(out), "unreachable "+cidr) {
			if b, err := exec.CommandContext(ctx, "ip", "route", "del", "unreachable", cidr).CombinedOutput(); err != nil {
				return fmt.Errorf("removing a leftover route unreachable %s: %w: %s", cidr, err, b)
			}
		}
	}
	hostMnt, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		return err
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		var pids []int
		for _, cg := range ownCgroups {
			pids = append(pids, cgroupProcs(cg)...)
		}
		pids = append(pids, strayShims(hostMnt)...)
		if len(pids) == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes of an earlier node survive SIGKILL: %v", pids)
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, cg := range ownCgroups {
		if err := removeCgroups(cg); err != nil {
			return fmt.Errorf("an earlier node's cgroups: %w", err)
		}
	}
	return nil
}

// strayShims lists containerd shims outside the host's mount namespace:
// those of a node whose test binary was killed.
func strayShims(hostMnt string) []int {
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
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err != nil || !strings.HasPrefix(string(comm), "containerd-shim") {
			continue
		}
		if mnt, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", pid)); err == nil && mnt != hostMnt {
			pids = append(pids, pid)
		}
	}
	return pids
}

func (c *Cluster) boot(ctx context.Context, assets, iter8Binary string) error {
	dir := c.dir
	for _, d := range []string{"etcd", "containerd", "cni", "cni-ipam", "kubelet", "volume-plugins", "images"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return fmt.Errorf("node: %w", err)
		}
	}
	imgs, err := buildImages(ctx, filepath.Join(dir, "images"), iter8Binary)
	if err != nil {
		return err
	}
	c.Iter8Image = imgs.iter8Ref

	if c.sb, err = newSandbox(ctx); err != nil {
		return err
	}
	for _, cidr := range []string{NodeCIDR, PodCIDR, ServiceCIDR} {
		if out, err := exec.CommandContext(ctx, "ip", "route", "add", "unreachable", cidr).CombinedOutput(); err != nil {
			return fmt.Errorf("host route unreachable %s: %w: %s", cidr, err, out)
		}
		c.routes = append(c.routes, cidr)
	}

	if err := c.writePKI(); err != nil {
		return err
	}
	etcdURL := "http://127.0.0.1:2379"
	if err := c.start("etcd", filepath.Join(assets, "etcd"),
		"--name", "default", "--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", "http://127.0.0.1:2380", "--initial-advertise-peer-urls", "http://127.0.0.1:2380",
		"--initial-cluster", "default=http://127.0.0.1:2380",
	); err != nil {
		return err
	}
	plain := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: c.sb.dial}}
	if err := c.waitHTTP(ctx, etcdURL+"/health", plain); err != nil {
		return err
	}

	c.Host = "https://" + NodeIP + ":6443"
	if err := c.start("kube-apiserver", filepath.Join(assets, "kube-apiserver"),
		"--etcd-servers", etcdURL,
		"--bind-address", NodeIP, "--advertise-address", NodeIP, "--secure-port", "6443",
		"--tls-cert-file", filepath.Join(dir, "apiserver.crt"), "--tls-private-key-file", filepath.Join(dir, "apiserver.key"),
		"--client-ca-file", filepath.Join(dir, "ca.crt"),
		"--kubelet-client-certificate", filepath.Join(dir, "apiserver-kubelet-client.crt"),
		"--kubelet-client-key", filepath.Join(dir, "apiserver-kubelet-client.key"),
		"--kubelet-preferred-address-types", "InternalIP",
		"--service-account-key-file", filepath.Join(dir, "sa.key"),
		"--service-account-signing-key-file", filepath.Join(dir, "sa.key"),
		"--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
		"--service-cluster-ip-range", ServiceCIDR,
		"--authorization-mode", "Node,RBAC",
		"--enable-admission-plugins", "NodeRestriction",
		"--token-auth-file", filepath.Join(dir, "tokens.csv"),
		"--allow-privileged=false",
		"--enable-priority-and-fairness=false",
		"--profiling=false",
	); err != nil {
		return err
	}
	tlsClient, err := c.httpClient()
	if err != nil {
		return err
	}
	if err := c.waitHTTP(ctx, c.Host+"/readyz", tlsClient); err != nil {
		return err
	}
	c.Config = c.ClientConfig(c.AdminToken)
	if c.Client, err = kubernetes.NewForConfig(c.Config); err != nil {
		return fmt.Errorf("node: admin client: %w", err)
	}

	kc := func(name string) (string, error) {
		return c.WriteKubeconfig(filepath.Join(dir, name+".kubeconfig"), c.tokens[name], "default")
	}
	cmKC, err := kc("controller-manager")
	if err != nil {
		return err
	}
	if err := c.start("kube-controller-manager", filepath.Join(assets, "kube-controller-manager"),
		"--kubeconfig", cmKC, "--authentication-kubeconfig", cmKC, "--authorization-kubeconfig", cmKC,
		"--leader-elect=false", "--bind-address", "127.0.0.1", "--secure-port", "10257",
		"--service-account-private-key-file", filepath.Join(dir, "sa.key"),
		"--root-ca-file", filepath.Join(dir, "ca.crt"),
		"--use-service-account-credentials=true",
		"--flex-volume-plugin-dir", filepath.Join(dir, "volume-plugins"),
		"--profiling=false",
	); err != nil {
		return err
	}
	schedKC, err := kc("scheduler")
	if err != nil {
		return err
	}
	if err := c.start("kube-scheduler", filepath.Join(assets, "kube-scheduler"),
		"--kubeconfig", schedKC, "--authentication-kubeconfig", schedKC, "--authorization-kubeconfig", schedKC,
		"--leader-elect=false", "--bind-address", "127.0.0.1", "--secure-port", "10259", "--profiling=false",
	); err != nil {
		return err
	}

	ctrdConf, err := writeFile(dir, "containerd.toml", containerdConfig(dir))
	if err != nil {
		return err
	}
	if _, err := writeFile(filepath.Join(dir, "cni"), "10-iter8.conflist", cniConfig(dir)); err != nil {
		return err
	}
	if err := c.start("containerd", "containerd", "--config", ctrdConf); err != nil {
		return err
	}
	if err := c.waitContainerd(ctx); err != nil {
		return err
	}
	for _, archive := range []string{imgs.iter8, imgs.pause} {
		if out, err := c.sb.run(ctx, true, "ctr", "--address", containerdSocket(dir), "-n", "k8s.io", "images", "import", archive); err != nil {
			return fmt.Errorf("importing %s into containerd: %w\n%s", filepath.Base(archive), err, out)
		}
	}

	// The kubelet sets global kernel tunables once at its start; they are
	// written back as soon as the node is Ready.
	kubeletConf, err := writeFile(dir, "kubelet.yaml", kubeletConfig(dir))
	if err != nil {
		return err
	}
	kubeletKC, err := kc("kubelet")
	if err != nil {
		return err
	}
	if err := c.start("kubelet", filepath.Join(assets, "kubelet"),
		"--config", kubeletConf, "--kubeconfig", kubeletKC,
		"--root-dir", filepath.Join(dir, "kubelet"),
		"--node-ip", NodeIP, "--hostname-override", NodeName,
	); err != nil {
		return err
	}
	proxyKC, err := kc("kube-proxy")
	if err != nil {
		return err
	}
	proxyConf, err := writeFile(dir, "kube-proxy.yaml", kubeProxyConfig(proxyKC))
	if err != nil {
		return err
	}
	if err := c.start("kube-proxy", filepath.Join(assets, "kube-proxy"), "--config", proxyConf); err != nil {
		return err
	}
	if err := c.waitNodeReady(ctx); err != nil {
		return err
	}
	return c.host.restoreSysctls()
}

// writePKI writes the cluster's CA, serving and client certificates, the
// service account key, and a static token per component identity.
func (c *Cluster) writePKI() error {
	ca, err := newAuthority()
	if err != nil {
		return err
	}
	c.CA = ca.pem
	if err := os.WriteFile(filepath.Join(c.dir, "ca.crt"), ca.pem, 0o644); err != nil {
		return err
	}
	_, svcNet, _ := net.ParseCIDR(ServiceCIDR)
	svcIP := append(net.IP(nil), svcNet.IP.To4()...)
	svcIP[3]++ // the kubernetes Service's ClusterIP
	if err := ca.issue(c.dir, "apiserver", "kube-apiserver", nil,
		[]net.IP{net.ParseIP(NodeIP), svcIP, net.ParseIP("127.0.0.1")},
		[]string{"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "localhost"}); err != nil {
		return err
	}
	if err := ca.issue(c.dir, "apiserver-kubelet-client", "kube-apiserver-kubelet-client", []string{"system:masters"}, nil, nil); err != nil {
		return err
	}
	if err := ca.issue(c.dir, "kubelet-serving", NodeName, nil, []net.IP{net.ParseIP(NodeIP)}, []string{NodeName}); err != nil {
		return err
	}
	if err := writeRSAKey(filepath.Join(c.dir, "sa.key")); err != nil {
		return err
	}
	c.tokens = map[string]string{
		"admin":              c.AdminToken,
		"controller-manager": randomToken(),
		"scheduler":          randomToken(),
		"kubelet":            randomToken(),
		"kube-proxy":         randomToken(),
	}
	users := map[string]string{
		"admin":              `admin,admin,"system:masters"`,
		"controller-manager": "system:kube-controller-manager,system:kube-controller-manager,",
		"scheduler":          "system:kube-scheduler,system:kube-scheduler,",
		"kubelet":            "system:node:" + NodeName + ",system:node:" + NodeName + `,"system:nodes"`,
		"kube-proxy":         "system:kube-proxy,system:kube-proxy,",
	}
	var b strings.Builder
	for name, tok := range c.tokens {
		fmt.Fprintf(&b, "%s,%s\n", tok, users[name])
	}
	return os.WriteFile(filepath.Join(c.dir, "tokens.csv"), []byte(b.String()), 0o600)
}

type images struct{ iter8, pause, iter8Ref string }

// buildImages builds the image tool of hack/image (its own module, for
// go-containerregistry) and writes the iter8 and pause images into dir.
func buildImages(ctx context.Context, dir, iter8Binary string) (images, error) {
	root, err := repoRoot()
	if err != nil {
		return images{}, err
	}
	tool := filepath.Join(dir, "image-tool")
	build := exec.CommandContext(ctx, "go", "build", "-o", tool, ".")
	build.Dir = filepath.Join(root, "hack", "image")
	if out, err := build.CombinedOutput(); err != nil {
		return images{}, fmt.Errorf("building hack/image: %w\n%s", err, out)
	}
	im := images{iter8: filepath.Join(dir, "iter8.tar"), pause: filepath.Join(dir, "pause.tar")}
	ref, err := exec.CommandContext(ctx, tool, "-src", root, "-print-ref").Output()
	if err != nil {
		return images{}, fmt.Errorf("naming the iter8 image: %w", err)
	}
	im.iter8Ref = strings.TrimSpace(string(ref))
	cmd := exec.CommandContext(ctx, tool, "-src", root, "-binary", iter8Binary, "-iter8", im.iter8, "-pause", im.pause)
	if out, err := cmd.CombinedOutput(); err != nil {
		return images{}, fmt.Errorf("building the images with hack/image: %w\n%s", err, out)
	}
	return im, nil
}

func repoRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("locating the repository: no caller information")
	}
	// internal/k8s/k8snode/k8snode.go
	return filepath.Join(filepath.Dir(file), "..", "..", ".."), nil
}

// start runs a daemon inside the cluster's namespaces.
func (c *Cluster) start(name, bin string, args ...string) error {
	logPath := filepath.Join(c.dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("starting %s: %w", name, err)
	}
	// Not bound to a context: the process lives until Stop. nsenter
	// enters the namespaces and execs the daemon in the same process.
	cmd := c.sb.command(context.WithoutCancel(context.Background()), true, bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		_ = f.Close()
		close(p.done)
	}()
	c.procs = append(c.procs, p)
	return nil
}

// poll calls cond every 100 ms until it returns true or an error, the last
// started process exits, or limit passes.
func (c *Cluster) poll(ctx context.Context, what string, limit time.Duration, cond func() (bool, error)) error {
	p := c.procs[len(c.procs)-1]
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		last = err
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before %s: %w\n%s", p.name, what, orStatus(p.err), tailFile(p.log, 3000))
		case <-ctx.Done():
			return fmt.Errorf("%s: not within %s: %w\n%s", what, limit, orStatus(last), tailFile(p.log, 3000))
		case <-tick.C:
		}
	}
}

func (c *Cluster) waitHTTP(ctx context.Context, url string, client *http.Client) error {
	return c.poll(ctx, url+" answering 200", time.Minute, func() (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return false, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return false, err
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return false, fmt.Errorf("%s answered %s", url, resp.Status)
		}
		return true, nil
	})
}

func (c *Cluster) waitContainerd(ctx context.Context) error {
	return c.poll(ctx, "containerd serving", time.Minute, func() (bool, error) {
		out, err := c.sb.run(ctx, true, "ctr", "--address", containerdSocket(c.dir), "version")
		if err != nil {
			return false, fmt.Errorf("%w: %s", err, out)
		}
		return true, nil
	})
}

func (c *Cluster) waitNodeReady(ctx context.Context) error {
	return c.poll(ctx, "node "+NodeName+" Ready", 2*time.Minute, func() (bool, error) {
		n, err := c.Client.CoreV1().Nodes().Get(ctx, NodeName, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady {
				if cond.Status == corev1.ConditionTrue {
					return true, nil
				}
				return false, fmt.Errorf("node Ready=%s: %s", cond.Status, cond.Message)
			}
		}
		return false, errors.New("node has no Ready condition yet")
	})
}

// Stop ends every process of the cluster (daemons, shims, containers), removes
// what the kubelet left in the host's cgroups, the host routes and the run
// folder, writes back the sysctls, and fails when the host differs from its
// state before the start.
func (c *Cluster) Stop() error {
	if c.stopped {
		return nil
	}
	c.stopped = true
	var errs []error
	for i := len(c.procs) - 1; i >= 0; i-- {
		p := c.procs[i]
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	c.procs = nil
	if c.sb != nil {
		// Containers (in the kubepods cgroups), then shims and the holder
		// (in the cluster's mount namespace).
		deadline := time.Now().Add(30 * time.Second)
		for {
			pids := c.sb.members()
			for _, cg := range ownCgroups {
				pids = append(pids, cgroupProcs(cg)...)
			}
			if len(pids) == 0 {
				break
			}
			if time.Now().After(deadline) {
				errs = append(errs, fmt.Errorf("processes of the node still alive after SIGKILL: %v", pids))
				break
			}
			for _, pid := range pids {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			time.Sleep(50 * time.Millisecond)
		}
		c.sb.kill()
		for _, cg := range ownCgroups {
			if err := removeCgroups(cg); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, cidr := range c.routes {
		if out, err := exec.CommandContext(context.Background(), "ip", "route", "del", "unreachable", cidr).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("removing host route unreachable %s: %w: %s", cidr, err, out))
		}
	}
	c.routes = nil
	if c.host != nil {
		if err := c.host.restoreSysctls(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.dir != "" && os.Getenv("ITER8_NODE_KEEP") == "" {
		if err := os.RemoveAll(c.dir); err != nil {
			errs = append(errs, err)
		}
	}
	if c.host != nil {
		now, err := snapshotHost(context.Background())
		if err != nil {
			errs = append(errs, err)
		} else if err := c.host.diff(now); err != nil {
			errs = append(errs, fmt.Errorf("the host is not as it was before the node started: %w", err))
		}
	}
	if c.lock != nil {
		_ = c.lock.Close()
	}
	return errors.Join(errs...)
}

// Logs returns the tail of a daemon's log (etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, containerd, kubelet, kube-proxy).
func (c *Cluster) Logs(name string, n int) string {
	return tailFile(filepath.Join(c.dir, name+".log"), n)
}

// Command returns a command that runs name inside the cluster's network
// namespace, as a user's shell on the node would: kubectl, iter8 and curl
// reach the API server, Services and pods from there.
func (c *Cluster) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return c.sb.command(ctx, false, name, args...)
}

// NodeCommand returns a command that runs name on the node itself: in the
// cluster's network and mount namespaces, where containerd's default socket
// (/run/containerd/containerd.sock) is, for ctr.
func (c *Cluster) NodeCommand(ctx context.Context, name string, args ...string) *exec.Cmd {
	return c.sb.command(ctx, true, name, args...)
}

// Listen listens on an address inside the cluster's network namespace, such
// as NodeIP+":0": pods reach it, the host does not. It serves test targets
// from the test process.
func (c *Cluster) Listen(network, addr string) (net.Listener, error) {
	return c.sb.listen(network, addr)
}

// Dial connects to an address inside the cluster's network namespace.
func (c *Cluster) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	return c.sb.dial(ctx, network, addr)
}

func (c *Cluster) httpClient() (*http.Client, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(c.CA) {
		return nil, errors.New("node: the cluster CA is not PEM")
	}
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext:     c.sb.dial,
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
	}}, nil
}

// ClientConfig returns a client configuration authenticating with token
// that dials through the cluster's namespace.
func (c *Cluster) ClientConfig(token string) *rest.Config {
	return &rest.Config{
		Host:            c.Host,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAData: c.CA},
		QPS:             200,
		Burst:           400,
		Dial:            c.sb.dial,
	}
}

// WriteKubeconfig writes a kubeconfig file for token with namespace as the
// context's namespace, and returns its path. Only clients inside the
// cluster's namespace (Command) can use it.
func (c *Cluster) WriteKubeconfig(path, token, namespace string) (string, error) {
	return k8stest.WriteKubeconfig(path, c.Host, c.CA, token, namespace)
}

// Kubeconfig writes an admin kubeconfig in a test's temporary folder whose
// context uses namespace, and returns its path.
func (c *Cluster) Kubeconfig(t testing.TB, namespace string) string {
	t.Helper()
	p, err := c.WriteKubeconfig(filepath.Join(t.TempDir(), "kubeconfig"), c.AdminToken, namespace)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Namespace creates a fresh namespace named after the test, waits for its
// default ServiceAccount, and deletes it when the test ends.
func (c *Cluster) Namespace(t testing.TB) string {
	t.Helper()
	name := k8stest.NamespaceName(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = c.Client.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{})
	})
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		_, err := c.Client.CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{})
		if err == nil {
			return name
		}
		if !apierrors.IsNotFound(err) {
			t.Fatalf("namespace %s: default ServiceAccount: %v", name, err)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("namespace %s: no default ServiceAccount within a minute", name)
		case <-tick.C:
		}
	}
}

var (
	sharedMu      sync.Mutex
	sharedCluster *Cluster
	sharedErr     error
)

// Shared returns the test binary's node, starting it on first use with
// iter8Binary in its image. It skips the test under -short; a failure to
// start fails the test.
func Shared(t testing.TB, iter8Binary string) *Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("the real Kubernetes node does not run under -short")
	}
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if sharedCluster == nil && sharedErr == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		sharedCluster, sharedErr = Start(ctx, iter8Binary)
		cancel()
	}
	if sharedErr != nil {
		t.Fatalf("starting the Kubernetes node: %v", sharedErr)
	}
	return sharedCluster
}

// StopShared stops the node Shared started, if any; call it from TestMain
// after m.Run and fail the run on its error (the host was not restored).
func StopShared() error {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if sharedCluster == nil {
		return nil
	}
	err := sharedCluster.Stop()
	sharedCluster = nil
	return err
}

// randomToken is a random bearer token: 16 bytes, hex-encoded.
func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func orStatus(err error) error {
	if err == nil {
		return errors.New("no error reported")
	}
	return err
}

func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	b = bytes.TrimSpace(b)
	if len(b) > n {
		return "..." + string(b[len(b)-n:])
	}
	return string(b)
}
