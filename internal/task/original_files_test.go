package task

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"iter8.tools/iter8/internal/demo"
	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/report"
	"iter8.tools/iter8/internal/store"
)

// runOriginal runs the original's experiment file name from
// testdata/original in dir, as iter8 run does, with $URL and $HOST
// replaced; drop removes the chart's download steps (run: curl) first, as
// when the file was launched without them. It returns the experiment and
// the log.
func runOriginal(t *testing.T, name, dir string, repl map[string]string, drop bool) (*experiment.Experiment, string, error) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "original", name))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for k, v := range repl {
		doc = strings.ReplaceAll(doc, k, v)
	}
	exp, err := experiment.Decode([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if drop {
		var kept []experiment.TaskSpec
		for _, s := range exp.Spec {
			if s.Run == nil {
				kept = append(kept, s)
			}
		}
		exp.Spec = kept
	}
	st, err := store.NewMemory(exp)
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	r := &experiment.Runner{Store: st, Registry: Registry(Deps{}), Dir: dir, Logger: slog.New(slog.NewTextHandler(&log, nil))}
	got, err := r.Run(context.Background())
	return got, log.String(), err
}

// The hub chart 0.13.x writes payloadURL beside payloadFile, a curl step
// before and warmupNumRequests in the main task: it runs, sending the
// downloaded payload (the URL fetched once, by the download step), 5 warmup
// and 10 measured requests, with no warning. Without the download step the
// file is absent and each task fetches the URL instead, as its meaning is.
func TestOriginalHTTPPayloadURL(t *testing.T) {
	t.Parallel()
	skipInShortMode(t, "runs curl and sends requests")
	for _, drop := range []bool{false, true} {
		o, url := newOrigin(t, map[string][]byte{"/payload": []byte(`{"from":"payloadURL"}`)})
		exp, log, err := runOriginal(t, "hub-0.13-http-payloadurl.yaml", t.TempDir(), map[string]string{"$URL": url}, drop)
		if err != nil {
			t.Fatalf("drop %v: run: %v\n%s", drop, err, log)
		}
		wantFetches := 1
		if drop {
			wantFetches = 2
		}
		// exactly 5 warmup and 10 measured posts: no probe of its own
		if posts := o.count("/post"); !exp.Completed() || exp.Result.Failure || o.count("/payload") != wantFetches || posts != 15 {
			t.Errorf("drop %v: completed %v failure %v, payload fetched %d times (want %d), %d posts (want 15)", drop, exp.Completed(), exp.Result.Failure, o.count("/payload"), wantFetches, posts)
		}
		if got := value(t, exp, "http/request-count"); got != 10 {
			t.Errorf("drop %v: http/request-count = %v, want 10", drop, got)
		}
		for _, b := range o.bodies {
			if b != `{"from":"payloadURL"}` {
				t.Fatalf("drop %v: body %q, want the payload", drop, b)
			}
		}
		for i, st := range exp.Result.Tasks {
			if len(st.Warnings) > 0 {
				t.Errorf("drop %v: task %d warnings %q, want none", drop, i+1, st.Warnings)
			}
		}
	}
}

// The gRPC tutorials' files keep protoURL and dataURL beside proto and
// data-file: they run, with the downloaded proto and data, and without the
// download steps from the URLs.
func TestOriginalGRPCProtoURLDataURL(t *testing.T) {
	t.Parallel()
	skipInShortMode(t, "runs curl and a gRPC server")
	src := t.TempDir()
	protoFile, err := demo.WriteDemoProtos(src)
	if err != nil {
		t.Fatal(err)
	}
	proto := readFile(t, protoFile)
	for _, drop := range []bool{false, true} {
		o, url := newOrigin(t, map[string][]byte{"/demo.proto": proto, "/data.json": []byte(`{"name":"from dataURL"}`)})
		srv := startGRPC(t, demo.GRPCConfig{})
		dir := t.TempDir()
		if _, err := demo.WriteDemoProtos(filepath.Join(dir, "protos")); err != nil {
			t.Fatal(err)
		}
		exp, log, err := runOriginal(t, "hub-0.13-grpc-protourl-dataurl.yaml", dir, map[string]string{"$URL": url, "$HOST": srv.Addr()}, drop)
		if err != nil {
			t.Fatalf("drop %v: run: %v\n%s", drop, err, log)
		}
		if !exp.Completed() || exp.Result.Failure || srv.Calls("Unary") != 20 || value(t, exp, "grpc/request-count") != 20 || value(t, exp, "grpc/error-count") != 0 {
			t.Errorf("drop %v: completed %v failure %v (%s), server saw %d calls, want 20", drop, exp.Completed(), exp.Result.Failure, exp.Result.FailureReason, srv.Calls("Unary"))
		}
		if o.count("/demo.proto") != 1 || o.count("/data.json") != 1 {
			t.Errorf("drop %v: proto fetched %d, data %d times, want once each", drop, o.count("/demo.proto"), o.count("/data.json"))
		}
		if got := srv.LastRequest("Unary"); !strings.Contains(got, "from dataURL") {
			t.Errorf("drop %v: server received %s", drop, got)
		}
	}
}

// A key the original ignored (a typo the chart passed through) runs with a
// warning naming it, in the log, on the task's state and in the report;
// the original's outcome stands: 10 requests, exit 0.
func TestOriginalUnknownKey(t *testing.T) {
	t.Parallel()
	skipInShortMode(t, "sends requests")
	o, url := newOrigin(t, nil)
	exp, log, err := runOriginal(t, "hub-0.13-http-unknown-key.yaml", t.TempDir(), map[string]string{"$URL": url}, false)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, log)
	}
	// exactly 10 posts: no probe of its own
	if posts := o.count("/post"); !exp.Completed() || exp.Result.Failure || posts != 10 || value(t, exp, "http/request-count") != 10 {
		t.Errorf("completed %v failure %v, %d requests, want 10", exp.Completed(), exp.Result.Failure, posts)
	}
	const want = `unknown input "numRequest" ignored, as the original did: did you mean "numRequests"?`
	if w := exp.Result.Tasks[0].Warnings; len(w) != 1 || w[0] != want {
		t.Errorf("warnings %q, want [%q]", w, want)
	}
	if !strings.Contains(log, "level=WARN") || !strings.Contains(log, `numRequest`) {
		t.Errorf("log has no warning naming the key:\n%s", log)
	}
	var text bytes.Buffer
	if err := report.Text(&text, exp, report.Options{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "Task 1 (http): warning: "+want) {
		t.Errorf("report has no warning:\n%s", text.String())
	}
}
