package k8s

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
)

// PodLog is the log of one pod of an experiment: one loop of a Job or
// CronJob run.
type PodLog struct {
	Pod   string
	Job   string // the Job that made the pod, if any
	Phase corev1.PodPhase
	// Created is when the pod was created.
	Created time.Time
	// Loop is the experiment loop the pod ran, read from its log; 0 when
	// unknown.
	Loop int
	Log  string
	// Err says why the log could not be read (the pod is still pending, or
	// its node cannot be reached).
	Err error
}

// Logs returns the logs of the group's pods (label iter8.tools/group),
// oldest first: for a CronJob run, one per loop.
func Logs(ctx context.Context, c kubernetes.Interface, namespace, group string) ([]PodLog, error) {
	sel := labels.SelectorFromSet(labels.Set{GroupLabel: group}).String()
	pods, err := c.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, fmt.Errorf("listing the pods of experiment group %s: %w", group, access(err, "list", "pods", namespace, ""))
	}
	items := pods.Items
	sort.Slice(items, func(i, j int) bool {
		a, b := items[i].CreationTimestamp.Time, items[j].CreationTimestamp.Time
		if !a.Equal(b) {
			return a.Before(b)
		}
		return items[i].Name < items[j].Name
	})
	out := make([]PodLog, 0, len(items))
	for i := range items {
		p := &items[i]
		pl := PodLog{Pod: p.Name, Phase: p.Status.Phase, Created: p.CreationTimestamp.Time}
		for _, ref := range p.OwnerReferences {
			if ref.Kind == "Job" {
				pl.Job = ref.Name
			}
		}
		if p.Spec.NodeName == "" {
			pl.Err = fmt.Errorf("the pod is %s and not scheduled to a node yet: no log", strings.ToLower(string(p.Status.Phase)))
			out = append(out, pl)
			continue
		}
		b, err := c.CoreV1().Pods(namespace).GetLogs(p.Name, &corev1.PodLogOptions{Container: "iter8"}).DoRaw(ctx)
		if err != nil {
			pl.Err = fmt.Errorf("reading the log: %w", access(err, "get", "pods/log", namespace, p.Name))
		} else {
			pl.Log = string(b)
			pl.Loop = loopOf(pl.Log)
		}
		out = append(out, pl)
	}
	return out, nil
}

var loopStarted = regexp.MustCompile(`msg="(?:experiment started|generator pod waiting for its shares)"[^\n]*? loop=(\d+)`)

// loopOf reads the loop number iter8 k run logged when it started (in a
// load generator pod 1..N-1 of a distributed run, when it began to wait for
// its shares).
func loopOf(log string) int {
	m := loopStarted.FindStringSubmatch(log)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[len(m)-1])
	return n
}

// WriteLogs prints the logs, each under a header naming its loop, pod, Job
// and phase.
func WriteLogs(w io.Writer, logs []PodLog) error {
	for i, l := range logs {
		title := fmt.Sprintf("run %d of %d", i+1, len(logs))
		if l.Loop > 0 {
			title = fmt.Sprintf("loop %d", l.Loop)
		}
		where := "pod " + l.Pod
		if l.Job != "" {
			where += ", job " + l.Job
		}
		if _, err := fmt.Fprintf(w, "===== %s: %s, %s, created %s =====\n", title, where, l.Phase, l.Created.UTC().Format(time.RFC3339)); err != nil {
			return err
		}
		body := l.Log
		if l.Err != nil {
			body = "(" + l.Err.Error() + ")\n"
		} else if body != "" && !strings.HasSuffix(body, "\n") {
			body += "\n"
		}
		if _, err := io.WriteString(w, body); err != nil {
			return err
		}
	}
	return nil
}
