//go:build linux

package k8stest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Kubelet plays a node's kubelet for tests: it registers a Node whose kubelet
// endpoint is an HTTPS server on 127.0.0.1 serving container logs, binds pods
// to that node, runs a pod's container command as a local process with a
// token for the pod's ServiceAccount, and records its output and exit status
// in the pod's status, so controllers and `logs` see what a real node would
// report.
type Kubelet struct {
	env *Env
	// Node is the Node's name.
	Node string
	// Binaries maps a container command's first word (such as "iter8") to
	// the local executable that runs it.
	Binaries map[string]string
	// Env is added to every process's environment.
	Env []string

	srv  *httptest.Server
	mu   sync.Mutex
	logs map[string][]byte // namespace/pod/container
}

// NewKubelet registers a node for the test and serves its logs until the
// test ends.
func (e *Env) NewKubelet(t testing.TB, binaries map[string]string) *Kubelet {
	t.Helper()
	k := &Kubelet{env: e, Binaries: binaries, logs: map[string][]byte{}}
	k.Node = "node-" + randomHex(4)
	k.srv = httptest.NewTLSServer(http.HandlerFunc(k.serve))
	t.Cleanup(k.srv.Close)
	port := k.srv.Listener.Addr().(*net.TCPAddr).Port
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	node, err := e.Client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: k.Node}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("registering node: %v", err)
	}
	node.Status = corev1.NodeStatus{
		Addresses:       []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(port)}},
		Conditions:      []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now(), Reason: "KubeletReady"}},
	}
	if _, err := e.Client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("registering node status: %v", err)
	}
	return k
}

// serve answers the API server's log requests:
// GET /containerLogs/{namespace}/{pod}/{container}.
func (k *Kubelet) serve(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/containerLogs/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	k.mu.Lock()
	b, ok := k.logs[rest]
	k.mu.Unlock()
	if !ok {
		http.Error(w, "container "+rest+" has no logs", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write(b)
}

// PodRun is the outcome of running a pod.
type PodRun struct {
	ExitCode int
	Output   string
}

// WaitPod waits until a pod matching selector exists in namespace and
// returns the newest one.
func (k *Kubelet) WaitPod(ctx context.Context, namespace string, selector labels.Selector) (*corev1.Pod, error) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		pods, err := k.env.Client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector.String()})
		if err == nil && len(pods.Items) > 0 {
			newest := &pods.Items[0]
			for i := range pods.Items {
				if pods.Items[i].CreationTimestamp.After(newest.CreationTimestamp.Time) {
					newest = &pods.Items[i]
				}
			}
			return newest, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("no pod with labels %s in %s: %w", selector, namespace, errors.Join(ctx.Err(), err))
		case <-tick.C:
		}
	}
}

// JobPod waits for the pod the Job controller creates for job.
func (k *Kubelet) JobPod(ctx context.Context, job *batchv1.Job) (*corev1.Pod, error) {
	return k.WaitPod(ctx, job.Namespace, labels.SelectorFromSet(labels.Set{"batch.kubernetes.io/job-name": job.Name}))
}

// Run does what a node would do with pod: it binds the pod to this node,
// marks it running, obtains a token for its ServiceAccount (TokenRequest,
// bound to the pod), runs its single container's command locally with that
// identity (a kubeconfig named by KUBECONFIG), keeps the output as the
// container's log, and records the exit status in the pod's status.
func (k *Kubelet) Run(ctx context.Context, pod *corev1.Pod) (*PodRun, error) {
	c := k.env.Client.CoreV1()
	if len(pod.Spec.Containers) != 1 {
		return nil, fmt.Errorf("pod %s has %d containers: expected 1", pod.Name, len(pod.Spec.Containers))
	}
	ctr := pod.Spec.Containers[0]
	argv := append(append([]string{}, ctr.Command...), ctr.Args...)
	if len(argv) == 0 {
		return nil, fmt.Errorf("pod %s: container %s has no command", pod.Name, ctr.Name)
	}
	bin, ok := k.Binaries[argv[0]]
	if !ok {
		return nil, fmt.Errorf("pod %s: no local executable for command %q", pod.Name, argv[0])
	}
	err := c.Pods(pod.Namespace).Bind(ctx, &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Name: pod.Name, UID: pod.UID},
		Target:     corev1.ObjectReference{Kind: "Node", Name: k.Node},
	}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("binding pod %s: %w", pod.Name, err)
	}
	started := metav1.Now()
	if err := k.setStatus(ctx, pod, corev1.PodStatus{
		Phase: corev1.PodRunning, StartTime: &started,
		ContainerStatuses: []corev1.ContainerStatus{{Name: ctr.Name, Image: ctr.Image, Ready: true, Started: ptr(true),
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: started}}}},
	}); err != nil {
		return nil, err
	}
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	token, err := k.env.ServiceAccountToken(ctx, pod.Namespace, sa, pod)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "iter8-pod-")
	if err != nil {
		return nil, err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	kubeconfig, err := k.env.WriteKubeconfig(filepath.Join(dir, "kubeconfig"), token, pod.Namespace)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), k.Env...), "KUBECONFIG="+kubeconfig, "HOME="+dir, "TMPDIR="+dir)
	for _, ev := range ctr.Env {
		cmd.Env = append(cmd.Env, ev.Name+"="+ev.Value)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(runErr, &ee):
		code = ee.ExitCode()
	case runErr != nil:
		return nil, fmt.Errorf("running pod %s: %w", pod.Name, runErr)
	}
	k.mu.Lock()
	k.logs[pod.Namespace+"/"+pod.Name+"/"+ctr.Name] = out.Bytes()
	k.mu.Unlock()
	phase, reason := corev1.PodSucceeded, "Completed"
	if code != 0 {
		phase, reason = corev1.PodFailed, "Error"
	}
	finished := metav1.Now()
	if err := k.setStatus(ctx, pod, corev1.PodStatus{
		Phase: phase, StartTime: &started,
		ContainerStatuses: []corev1.ContainerStatus{{Name: ctr.Name, Image: ctr.Image, Started: ptr(false),
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: int32(code), Reason: reason, StartedAt: started, FinishedAt: finished}}}},
	}); err != nil {
		return nil, err
	}
	return &PodRun{ExitCode: code, Output: out.String()}, nil
}

func (k *Kubelet) setStatus(ctx context.Context, pod *corev1.Pod, st corev1.PodStatus) error {
	c := k.env.Client.CoreV1().Pods(pod.Namespace)
	for range 10 {
		cur, err := c.Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("pod %s status: %w", pod.Name, err)
		}
		cur.Status.Phase = st.Phase
		cur.Status.StartTime = st.StartTime
		cur.Status.ContainerStatuses = st.ContainerStatuses
		cur.Status.Conditions = nil
		if _, err = c.UpdateStatus(ctx, cur, metav1.UpdateOptions{}); err == nil {
			return nil
		}
		if !apierrors.IsConflict(err) {
			return fmt.Errorf("pod %s status: %w", pod.Name, err)
		}
	}
	return fmt.Errorf("pod %s status: too many conflicts", pod.Name)
}
