package chart

import (
	"errors"
	"maps"
	"strings"
	"testing"

	"iter8.tools/iter8/internal/inputs"
)

func TestKeep(t *testing.T) {
	t.Parallel()
	vals := map[string]any{
		"http": map[string]any{
			"url": "http://127.0.0.1/",
			"headers": map[string]any{
				"Authorization": "Bearer abc123", "Accept": "text/plain", "X-Api-Key": int64(12345678),
				"X-Ref": "${env:X}",
			},
			"endpoints": map[string]any{"a": map[string]any{"headers": map[string]any{"Cookie": "s=1a2b3c"}}},
		},
		"slack":         map[string]any{"url": "http://127.0.0.1/services/x"},
		"github":        map[string]any{"token": "${env:GITHUB_TOKEN}"},
		"webhook":       map[string]any{"url": "http://127.0.0.1/hook?token=t0k3n"},
		"custommetrics": map[string]any{"values": map[string]any{"dsn": "u:pw1234@tcp(127.0.0.1)/db", "query": "up"}},
		"run":           map[string]any{"script": "echo password=abc"},
	}
	k, err := Keep(vals, "/kept")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"http.headers.Authorization":      "Bearer abc123",
		"http.headers.X-Api-Key":          "12345678",
		"http.endpoints.a.headers.Cookie": "s=1a2b3c",
		"slack.url":                       "http://127.0.0.1/services/x",
		"webhook.url":                     "http://127.0.0.1/hook?token=t0k3n",
		"custommetrics.values.dsn":        "u:pw1234@tcp(127.0.0.1)/db",
	}
	if !maps.Equal(k.Secrets, want) {
		t.Errorf("kept %v\nwant %v", k.Secrets, want)
	}
	h := vals["http"].(map[string]any)["headers"].(map[string]any)
	if h["Authorization"] != "${file:/kept/http.headers.Authorization}" || h["Accept"] != "text/plain" || h["X-Ref"] != "${env:X}" {
		t.Errorf("headers now %v", h)
	}
	if s := vals["run"].(map[string]any)["script"]; s != "echo password=abc" {
		t.Errorf("a run script is not kept aside (it resolves no reference): %v", s)
	}
	if len(k.Refs) != len(want) || len(k.Paths) != len(want) {
		t.Errorf("refs %v, paths %v", k.Refs, k.Paths)
	}
	red := k.Redact(errors.New("bad value Bearer abc123"))
	if strings.Contains(red.Error(), "abc123") {
		t.Errorf("Redact: %v", red)
	}
}

func TestKeepRefusesOwnReferences(t *testing.T) {
	t.Parallel()
	for name, vals := range map[string]map[string]any{
		"a reference to a kept secret": {"webhook": map[string]any{"url": "http://x/${file:/kept/http.headers.Authorization}"}},
		"the reserved value":           {KeptValues: map[string]any{"a": "b"}},
	} {
		if _, err := Keep(vals, "/kept"); !errors.Is(err, inputs.ErrInvalid) {
			t.Errorf("%s: %v, want bad input", name, err)
		}
	}
}

func TestKeepTasks(t *testing.T) {
	t.Parallel()
	tasks := []struct {
		name string
		with map[string]any
	}{
		{"http", map[string]any{"url": "http://127.0.0.1/", "headers": map[string]any{"Authorization": "token abc123", "Accept": "x"}}},
		{"notify", map[string]any{"url": "https://hooks.slack.com/services/T/B/XYZ", "method": "POST"}},
		{"notify", map[string]any{"url": "http://127.0.0.1/hook"}},
		{"run", nil},
	}
	k, err := KeepTasks(len(tasks), func(i int) (string, map[string]any) { return tasks[i].name, tasks[i].with }, "/kept")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"task1.headers.Authorization": "token abc123",
		"task2.url":                   "https://hooks.slack.com/services/T/B/XYZ",
	}
	if !maps.Equal(k.Secrets, want) {
		t.Errorf("kept %v, want %v", k.Secrets, want)
	}
	if got := tasks[1].with["url"]; got != "${file:/kept/task2.url}" {
		t.Errorf("url now %v", got)
	}
	if got := tasks[2].with["url"]; got != "http://127.0.0.1/hook" {
		t.Errorf("a plain url moved: %v", got)
	}
	// an experiment already holding references to kept secrets is fine
	again := map[string]any{"headers": map[string]any{"Authorization": "${file:/kept/task1.headers.Authorization}"}}
	k, err = KeepTasks(1, func(int) (string, map[string]any) { return "http", again }, "/kept")
	if err != nil || len(k.Secrets) != 0 {
		t.Errorf("%v %v", k, err)
	}
}
