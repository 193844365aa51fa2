package task

import (
	"testing"
)

// Templates written for the original reach the experiment through .Report
// with Go field names, as they did; iter8's summary fields stay there too.
func TestNotifyReportGoFields(t *testing.T) {
	t.Parallel()
	hook := newHookReceiver(t, 200)
	tk, err := newNotify(map[string]any{
		"url": hook.srv.URL + "/hook",
		"payloadTemplate": `{{ .Report.TimeStamp }}|{{ .Report.Completed }}|{{ .Report.NoTaskFailures }}|{{ .Report.NumTasks }}|` +
			`{{ .Report.NumCompletedTasks }}|{{ .Report.NumLoops }}|{{ len .Report.Experiment.Spec }}|` +
			`{{ .Report.Experiment.Result.NumLoops }}|{{ .Report.Experiment.Result.Insights.NumVersions }}|{{ .Report.Status }}|{{ .Status }}`,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := runNotify(t, tk.(*notifyTask)); err != nil {
		t.Fatal(err)
	}
	got := hook.got()
	want := "2026-11-27T12:00:00Z|true|true|3|3|3|3|3|1|SLOs not satisfied|SLOs not satisfied"
	if len(got) != 1 || string(got[0].body) != want {
		t.Fatalf("payload %q, want %q", got, want)
	}
}
