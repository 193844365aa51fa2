package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"iter8.tools/iter8/internal/experiment"
)

// startRun starts `iter8 args...` in dir and returns it once its log shows
// want; the caller stops it.
func startRun(t *testing.T, dir, want string, args ...string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sc := bufio.NewScanner(stderr)
	found := make(chan bool, 1)
	go func() {
		for sc.Scan() {
			if strings.Contains(sc.Text(), want) {
				found <- true
				return
			}
		}
		found <- false
	}()
	select {
	case ok := <-found:
		if !ok {
			t.Fatalf("iter8 %v ended before logging %q", args, want)
		}
	case <-time.After(time.Minute):
		t.Fatalf("iter8 %v did not log %q within a minute", args, want)
	}
	return cmd, sc
}

func writeExperiment(t *testing.T, dir, doc string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "experiment.yaml"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Two runs on the same directory do not corrupt each other: the second is
// refused with a clear message.
func TestConcurrentRunsAreLocked(t *testing.T) {
	needBinary(t)
	t.Parallel()
	srv := startTarget(t)
	dir := t.TempDir()
	writeExperiment(t, dir, "spec:\n- task: http\n  with: {url: "+srv.URL()+", duration: 5m, qps: 5}\n")
	first, _ := startRun(t, dir, "task 1: http: started", "run")
	for _, args := range [][]string{{"run"}, {"launch", "--set", "tasks={http}", "--set", "http.url=" + srv.URL()}, {"gen", "--set", "tasks={http}", "--set", "http.url=" + srv.URL()}} {
		r := iter8(t, dir, args...)
		want := fmt.Sprintf("is in use by process %d (another iter8 run)", first.Process.Pid)
		if r.code != 4 || !strings.Contains(r.stderr, want) {
			t.Errorf("iter8 %v while another run holds the directory: exit %d, %s", args, r.code, r.stderr)
		}
	}
	_ = first.Process.Signal(syscall.SIGINT)
	_ = first.Wait()
	// report and assert only read; they work at any time
	if r := iter8(t, dir, "report"); r.code != 0 {
		t.Errorf("report: %d %s", r.code, r.stderr)
	}
	// the lock is gone with the process
	writeExperiment(t, dir, "spec:\n- run: echo again\n")
	if r := iter8(t, dir, "run"); r.code != 0 {
		t.Errorf("run after the first ended: %d %s", r.code, r.stderr)
	}
}

// kill -9 at any moment leaves an experiment file that parses.
func TestKillDuringSaves(t *testing.T) {
	needBinary(t)
	t.Parallel()
	dir := t.TempDir()
	var doc strings.Builder
	doc.WriteString("spec:\n")
	for range 100 {
		doc.WriteString("- run: \"true\"\n")
	}
	writeExperiment(t, dir, doc.String())
	for i := range 8 {
		// stop at a different task each time: saves happen before and after each
		want := fmt.Sprintf("task %d: run: started", 10+i*11)
		cmd, _ := startRun(t, dir, want, "run", "--reuseResult", "--loops", "0")
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		b, err := os.ReadFile(filepath.Join(dir, "experiment.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		exp, err := experiment.Decode(b)
		if err != nil {
			t.Fatalf("after kill -9 number %d the file does not parse: %v", i+1, err)
		}
		if exp.Result == nil || exp.Result.NumLoops < 1 {
			t.Fatalf("after kill -9 number %d: result %+v", i+1, exp.Result)
		}
		leftovers, _ := filepath.Glob(filepath.Join(dir, ".experiment.yaml.tmp-*"))
		for _, l := range leftovers {
			_ = os.Remove(l) // a temp file may remain; it is never the experiment
		}
	}
}

// A run killed with kill -9 in its loop holds nothing: assert, finding no
// run holding the experiment, judges the loop interrupted at once (as the
// next run on the file would record it), rather than pass nofailure or wait
// out its timeout for a run that will not end. While the run lives, assert
// waits for it.
func TestAssertSeesAKilledRun(t *testing.T) {
	needBinary(t)
	t.Parallel()
	srv := startTarget(t)
	dir := t.TempDir()
	writeExperiment(t, dir, "spec:\n- task: http\n  with: {url: "+srv.URL()+", duration: 5m, qps: 5}\n- task: assess\n  with: {SLOs: {upper: [{metric: http/error-count, limit: 0}]}}\n")
	run, _ := startRun(t, dir, "task 1: http: started", "run")
	if r := iter8(t, dir, "assert", "-c", "nofailure"); r.code != 0 {
		t.Errorf("assert -c nofailure while the run lives: exit %d, %s", r.code, r.stderr)
	}
	if r := iter8(t, dir, "assert", "-c", "completed", "--timeout", "1s", "--interval", "100ms"); r.code != 1 || !strings.Contains(r.stderr, "waiting for the experiment") {
		t.Errorf("assert -c completed --timeout 1s while the run lives: exit %d, want 1 after waiting: %s", r.code, r.stderr)
	}
	if err := run.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = run.Wait()
	const why = "loop 1 was interrupted: task 1 (http) was running when its process stopped"
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"-c", "nofailure"}, []string{"condition does not hold: nofailure: " + why}},
		{[]string{"-c", "slos"}, []string{"not judged (not judged in loop 1: " + why}},
		// (a run that will not end: no wait for its timeout, which
		// iter8's two minutes here would cut short)
		{[]string{"-c", "completed", "--timeout", "10m"}, []string{"completed: 0 of 2 tasks have completed in loop 1", "no iter8 run holds the experiment: " + why}},
	} {
		r := iter8(t, dir, append([]string{"assert"}, tt.args...)...)
		if r.code != 1 {
			t.Errorf("assert %v after kill -9: exit %d, want 1: %s", tt.args, r.code, r.stderr)
		}
		for _, w := range tt.want {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("assert %v after kill -9: want %q in:\n%s", tt.args, w, r.stderr)
			}
		}
	}
	// assert only reads: the file still shows the loop as its process left it
	if b, err := os.ReadFile(filepath.Join(dir, "experiment.yaml")); err != nil || !strings.Contains(string(b), "state: running") {
		t.Errorf("assert changed the experiment file (%v):\n%s", err, b)
	}
}

// inMountNamespace runs iter8 with a tiny tmpfs mounted on dir, holding the
// given experiment.
func inMountNamespace(t *testing.T, dir, doc string, args ...string) result {
	t.Helper()
	src := filepath.Join(t.TempDir(), "experiment.yaml")
	if err := os.WriteFile(src, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	// run iter8, then print the experiment as the run left it: the tmpfs
	// goes away with the namespace
	script := fmt.Sprintf("mount -t tmpfs -o size=12k tmpfs %q && cp %q %q && cd %q || exit 99; %q \"$@\"; rc=$?; cat experiment.yaml; exit $rc", dir, src, dir, dir, bin)
	unshareArgs := []string{"-m"}
	if os.Geteuid() != 0 {
		unshareArgs = []string{"-r", "-m"}
	}
	full := append(append(unshareArgs, "sh", "-c", script, "sh"), args...)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "unshare", full...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// A full disk gives a clear error and keeps the previous file.
func TestDiskFull(t *testing.T) {
	needBinary(t)
	t.Parallel()
	srv := startTarget(t)
	dir := t.TempDir()
	doc := "spec:\n- task: http\n  with: {url: " + srv.URL() + ", numRequests: 200, qps: 0, percentiles: [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40]}\n"
	r := inMountNamespace(t, dir, doc, "run")
	if r.code == 0 || r.code == 99 || !strings.Contains(r.stderr, "no space left on device") || !strings.Contains(r.stderr, "saving") {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	exp, err := experiment.Decode([]byte(r.stdout))
	if err != nil {
		t.Fatalf("the previous file was not kept: %v\n%s", err, r.stdout)
	}
	if exp.Result == nil || exp.Result.Tasks[0].State != experiment.Running {
		t.Errorf("the file should be the last one saved (task running): %+v", exp.Result)
	}
}

// An unwritable run directory gives a clear error and keeps the previous
// file.
func TestPermissionDenied(t *testing.T) {
	needBinary(t)
	t.Parallel()
	dir, err := os.MkdirTemp("/tmp", "iter8-ro-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(dir, 0o755); _ = os.RemoveAll(dir) })
	doc := "spec:\n- run: echo hi\n"
	writeExperiment(t, dir, doc)
	args := []string{"run", "--runDir", dir}
	var cmd *exec.Cmd
	if os.Geteuid() == 0 {
		// root may write anywhere: run as nobody, from a binary nobody can read
		binCopy := filepath.Join(dir, "..", filepath.Base(dir)+"-iter8")
		b, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(binCopy, b, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Remove(binCopy) })
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		cmd = exec.Command("setpriv", append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", binCopy}, args...)...)
	} else {
		if err := os.Chmod(dir, 0o555); err != nil {
			t.Fatal(err)
		}
		cmd = exec.Command(bin, args...)
	}
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "permission denied") {
		t.Fatalf("run in an unwritable directory: %v\n%s", err, out)
	}
	got, rerr := os.ReadFile(filepath.Join(dir, "experiment.yaml"))
	if rerr != nil || string(got) != doc {
		t.Errorf("the previous file changed: %q %v", got, rerr)
	}
}
