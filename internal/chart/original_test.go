package chart

import (
	"path/filepath"
	"strings"
	"testing"
)

// The original's chart folders keep the experiment in a template named
// experiment (iter8 v0.11 charts/iter8, hub charts/iter8 0.13.7); they
// render as the original's gen rendered them.
func TestOriginalChartFolders(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{"v0.11.16/charts/iter8", "hub-iter8-0.13.7/charts/iter8"} {
		t.Run(dir, func(t *testing.T) {
			t.Parallel()
			c, err := Local(filepath.Join("..", "..", "testdata", "original", dir))
			if err != nil {
				t.Fatal(err)
			}
			doc, err := c.Experiment(map[string]any{"tasks": []any{"http", "assess"},
				"http":   map[string]any{"url": "http://127.0.0.1:1/", "duration": "2s"},
				"assess": map[string]any{"SLOs": map[string]any{"upper": map[string]any{"http/latency-mean": 500}}}})
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"- task: http", "url: http://127.0.0.1:1/", "- task: assess", "metric: http/latency-mean", "numCompletedTasks: 0"} {
				if !strings.Contains(string(doc), want) {
					t.Errorf("rendered experiment lacks %q:\n%s", want, doc)
				}
			}
		})
	}
}

func TestWriteEmbeddedNeverOverwrites(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "charts", "iter8")
	if err := WriteEmbedded(dir); err != nil {
		t.Fatal(err)
	}
	c, err := Local(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Experiment(map[string]any{"tasks": []any{"http"}, "http": map[string]any{"url": "http://127.0.0.1:1/"}}); err != nil {
		t.Errorf("the written chart does not render: %v", err)
	}
	if err := WriteEmbedded(dir); err == nil || !strings.Contains(err.Error(), "does not overwrite") {
		t.Errorf("second write: %v", err)
	}
}
