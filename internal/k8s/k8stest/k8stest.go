//go:build linux

// Package k8stest runs a real Kubernetes control plane for tests: etcd,
// kube-apiserver and kube-controller-manager on 127.0.0.1 with free ports,
// built from source once per machine by hack/kube/build.sh. There is no
// scheduler and no kubelet; Kubelet plays the kubelet's part for the pods a
// test chooses to run.
//
// A test package starts the control plane once, on first use through Shared,
// and stops it from TestMain with StopShared; each test takes a fresh
// namespace from Env.Namespace.
package k8stest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// AssetsEnv names the environment variable holding the folder with the etcd,
// kube-apiserver and kube-controller-manager executables.
const AssetsEnv = "ITER8_KUBE_ASSETS"

// Env is a running control plane.
type Env struct {
	// Host is the API server's URL.
	Host string
	// CA is the PEM certificate that verifies the API server.
	CA []byte
	// AdminToken authenticates as a member of system:masters.
	AdminToken string
	// Config is the admin's client configuration.
	Config *rest.Config
	// Client is the admin's typed client.
	Client kubernetes.Interface

	dir   string
	procs []*proc // started in order; stopped in reverse
}

type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

// Assets returns the folder holding the control plane executables: the one
// named by ITER8_KUBE_ASSETS, or the one hack/kube/build.sh prints (building
// them if needed, which takes minutes the first time on a machine).
func Assets() (string, error) {
	return RequireAssets("etcd", "kube-apiserver", "kube-controller-manager")
}

// RequireAssets returns the folder holding the named executables, as Assets
// does; it runs hack/kube/build.sh when ITER8_KUBE_ASSETS is unset or lacks
// one of them.
func RequireAssets(names ...string) (string, error) {
	if dir := os.Getenv(AssetsEnv); dir != "" && checkAssets(dir, names) == nil {
		return dir, nil
	}
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	var out, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(root, "hack", "kube", "build.sh"))
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building the Kubernetes components with hack/kube/build.sh: %w\n%s", err, tailString(stderr.String(), 2000))
	}
	dir := strings.TrimSpace(out.String())
	return dir, checkAssets(dir, names)
}

func checkAssets(dir string, names []string) error {
	for _, n := range names {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			return fmt.Errorf("the Kubernetes assets in %s: %w (run hack/kube/build.sh and set %s to the folder it prints)", dir, err, AssetsEnv)
		}
	}
	return nil
}

func repoRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("locating the repository: no caller information")
	}
	// internal/k8s/k8stest/k8stest.go
	return filepath.Join(filepath.Dir(file), "..", "..", ".."), nil
}

// Start runs etcd, kube-apiserver and kube-controller-manager and waits until
// the API server is ready and the controllers run. Stop ends them.
func Start(ctx context.Context) (*Env, error) {
	base := ""
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		base = "/dev/shm" // etcd's fsyncs cost nothing on tmpfs
	}
	dir, err := os.MkdirTemp(base, "iter8-kube-")
	if err != nil {
		return nil, fmt.Errorf("control plane: %w", err)
	}
	env := &Env{dir: dir, AdminToken: randomHex(16)}
	if err := env.boot(ctx); err != nil {
		_ = env.Stop()
		return nil, err
	}
	return env, nil
}

func (e *Env) boot(ctx context.Context) error {
	assets, err := Assets()
	if err != nil {
		return err
	}
	dir := e.dir
	ports, err := freePorts(4)
	if err != nil {
		return err
	}
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	if err := e.start("etcd", filepath.Join(assets, "etcd"),
		"--name", "default",
		"--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "default="+peerURL,
	); err != nil {
		return err
	}
	if err := e.waitHTTP(ctx, "etcd", etcdURL+"/health", nil); err != nil {
		return err
	}

	if err := writeServiceAccountKey(filepath.Join(dir, "sa.key")); err != nil {
		return err
	}
	tokens := fmt.Sprintf("%s,admin,admin,\"system:masters\"\n", e.AdminToken)
	if err := os.WriteFile(filepath.Join(dir, "tokens.csv"), []byte(tokens), 0o600); err != nil {
		return fmt.Errorf("control plane: %w", err)
	}
	certDir := filepath.Join(dir, "certs")
	e.Host = fmt.Sprintf("https://127.0.0.1:%d", ports[2])
	if err := e.start("kube-apiserver", filepath.Join(assets, "kube-apiserver"),
		"--etcd-servers", etcdURL,
		"--bind-address", "127.0.0.1",
		"--secure-port", fmt.Sprint(ports[2]),
		"--cert-dir", certDir,
		"--service-account-key-file", filepath.Join(dir, "sa.key"),
		"--service-account-signing-key-file", filepath.Join(dir, "sa.key"),
		"--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
		"--service-cluster-ip-range", "10.0.0.0/24",
		"--authorization-mode", "RBAC",
		"--token-auth-file", filepath.Join(dir, "tokens.csv"),
		"--allow-privileged=false",
		"--kubelet-preferred-address-types", "InternalIP",
		"--enable-priority-and-fairness=false",
		"--profiling=false",
	); err != nil {
		return err
	}
	var certErr error
	if err := e.waitHTTP(ctx, "kube-apiserver", e.Host+"/readyz", func() (*http.Client, error) {
		// The server writes its self-signed certificate before it serves.
		e.CA, certErr = os.ReadFile(filepath.Join(certDir, "apiserver.crt"))
		if certErr != nil {
			return nil, certErr
		}
		return e.httpClient()
	}); err != nil {
		return err
	}
	e.Config = e.ClientConfig(e.AdminToken)
	e.Client, err = kubernetes.NewForConfig(e.Config)
	if err != nil {
		return fmt.Errorf("control plane: admin client: %w", err)
	}
	adminKubeconfig, err := e.WriteKubeconfig(filepath.Join(dir, "admin.kubeconfig"), e.AdminToken, "default")
	if err != nil {
		return err
	}
	// Only the controllers tests rely on: Jobs make Pods, ServiceAccounts
	// appear in new namespaces, and deletion cascades to dependents. The
	// tests play the CronJob controller, the scheduler and the kubelet, and
	// flip Deployment status themselves.
	if err := e.start("kube-controller-manager", filepath.Join(assets, "kube-controller-manager"),
		"--kubeconfig", adminKubeconfig,
		"--authentication-kubeconfig", adminKubeconfig,
		"--authorization-kubeconfig", adminKubeconfig,
		"--leader-elect=false",
		"--bind-address", "127.0.0.1",
		"--secure-port", fmt.Sprint(ports[3]),
		"--controllers", "job-controller,serviceaccount-controller,garbage-collector-controller",
		"--service-account-private-key-file", filepath.Join(dir, "sa.key"),
		"--root-ca-file", filepath.Join(certDir, "apiserver.crt"),
		"--use-service-account-credentials=false",
		"--profiling=false",
	); err != nil {
		return err
	}
	return nil
}

// Stop ends the processes, the API server before etcd, and removes the
// control plane's files.
func (e *Env) Stop() error {
	var errs []error
	for i := len(e.procs) - 1; i >= 0; i-- {
		p := e.procs[i]
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
			errs = append(errs, fmt.Errorf("%s did not stop on SIGTERM within 15s", p.name))
		}
	}
	e.procs = nil
	if e.dir != "" {
		if err := os.RemoveAll(e.dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (e *Env) start(name, bin string, args ...string) error {
	logPath := filepath.Join(e.dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("starting %s: %w", name, err)
	}
	// Not bound to a context: the process lives until Stop.
	cmd := exec.CommandContext(context.Background(), bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the test binary
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
	e.procs = append(e.procs, p)
	return nil
}

// waitHTTP polls url until it answers 200, the process exits, or a minute
// passes. client, when set, builds the HTTP client (it may fail until the
// server has written its certificate).
func (e *Env) waitHTTP(ctx context.Context, name, url string, client func() (*http.Client, error)) error {
	p := e.procs[len(e.procs)-1]
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		c := http.DefaultClient
		var err error
		if client != nil {
			c, err = client()
		}
		if err == nil {
			var req *http.Request
			req, err = http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err == nil {
				var resp *http.Response
				resp, err = c.Do(req)
				if err == nil {
					_ = resp.Body.Close()
					if resp.StatusCode == http.StatusOK {
						return nil
					}
					err = fmt.Errorf("%s answered %s", url, resp.Status)
				}
			}
		}
		last = err
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before it was ready: %w\n%s", name, orStatus(p.err), tailFile(p.log, 3000))
		case <-ctx.Done():
			return fmt.Errorf("%s was not ready within a minute: %w\n%s", name, orStatus(last), tailFile(p.log, 3000))
		case <-tick.C:
		}
	}
}

func (e *Env) httpClient() (*http.Client, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(e.CA) {
		return nil, errors.New("the API server certificate is not PEM yet")
	}
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}, nil
}

// ClientConfig returns a client configuration authenticating with token.
func (e *Env) ClientConfig(token string) *rest.Config {
	return &rest.Config{
		Host:            e.Host,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAData: e.CA},
		QPS:             200,
		Burst:           400,
	}
}

// WriteKubeconfig writes a kubeconfig file for token with namespace as the
// context's namespace, and returns its path.
func (e *Env) WriteKubeconfig(path, token, namespace string) (string, error) {
	return WriteKubeconfig(path, e.Host, e.CA, token, namespace)
}

// WriteKubeconfig writes a kubeconfig file at path for the API server at
// host (trusting ca) with token, whose context uses namespace, and returns
// the path. The real-node harness writes its kubeconfigs with it too.
func WriteKubeconfig(path, host string, ca []byte, token, namespace string) (string, error) {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["test"] = &clientcmdapi.Cluster{Server: host, CertificateAuthorityData: ca}
	cfg.AuthInfos["test"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "test", Namespace: namespace}
	cfg.CurrentContext = "test"
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return "", fmt.Errorf("writing kubeconfig: %w", err)
	}
	return path, nil
}

// Kubeconfig writes an admin kubeconfig in a test's temporary folder whose
// context uses namespace, and returns its path.
func (e *Env) Kubeconfig(t testing.TB, namespace string) string {
	t.Helper()
	p, err := e.WriteKubeconfig(filepath.Join(t.TempDir(), "kubeconfig"), e.AdminToken, namespace)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var nsUnsafe = regexp.MustCompile(`[^a-z0-9-]+`)

// NamespaceName is a fresh namespace name made from the test's name and a
// random suffix.
func NamespaceName(t testing.TB) string {
	name := strings.Trim(nsUnsafe.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(name) > 40 {
		name = name[:40]
	}
	return strings.Trim(name, "-") + "-" + randomHex(3)
}

// Namespace creates a fresh namespace for the test, named after it, and
// waits for its default ServiceAccount.
func (e *Env) Namespace(t testing.TB) string {
	t.Helper()
	name := NamespaceName(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := e.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
	return name
}

// ServiceAccountToken obtains a token for a ServiceAccount through the
// TokenRequest API, as the kubelet does for a pod; pod, when set, binds the
// token to that pod.
func (e *Env) ServiceAccountToken(ctx context.Context, namespace, sa string, pod *corev1.Pod) (string, error) {
	tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr(int64(3600))}}
	if pod != nil {
		tr.Spec.BoundObjectRef = &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID}
	}
	res, err := e.Client.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, sa, tr, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("token request for service account %s/%s: %w", namespace, sa, err)
	}
	return res.Status.Token, nil
}

var (
	sharedMu  sync.Mutex
	sharedEnv *Env
	sharedErr error
)

// Shared returns the package's control plane, starting it on first use.
// A failure to start fails the test (it is skipped only in short mode,
// where no external process starts).
func Shared(t testing.TB) *Env {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a Kubernetes control plane: needs etcd and kube-apiserver; runs without -short")
	}
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if sharedEnv == nil && sharedErr == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		sharedEnv, sharedErr = Start(ctx)
		cancel()
	}
	if sharedErr != nil {
		t.Fatalf("starting the Kubernetes control plane: %v", sharedErr)
	}
	return sharedEnv
}

// StopShared stops the control plane Shared started, if any; call it from
// TestMain after m.Run.
func StopShared() error {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if sharedEnv == nil {
		return nil
	}
	err := sharedEnv.Stop()
	sharedEnv = nil
	return err
}

func writeServiceAccountKey(path string) error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return fmt.Errorf("service account key: %w", err)
	}
	b := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("service account key: %w", err)
	}
	return nil
}

func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	for range n {
		l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// orStatus keeps err, or says there was none.
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
	return tailString(string(b), n)
}

func tailString(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

func ptr[T any](v T) *T { return &v }
