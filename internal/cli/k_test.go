package cli

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/store"
	"iter8.tools/iter8/internal/version"
)

// k report and k assert warn, once, when the pod that ran the experiment
// had another iter8 release than the CLI, and say nothing otherwise.
func TestVersionCheckWarnsOnAnotherRelease(t *testing.T) {
	cases := []struct {
		name, build string
		warn        bool
	}{
		{"same release", version.Version + "+g1234567", false},
		{"same release without commit", version.Version, false},
		{"another release", "v0.13.9+gabcdef0", true},
		{"no pod ran", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			exp := &experiment.Experiment{Result: &experiment.Result{Iter8Version: "v0.14", Iter8Build: tc.build}}
			mem, err := store.NewMemory(exp)
			if err != nil {
				t.Fatal(err)
			}
			var log bytes.Buffer
			vc := &versionCheck{Store: mem, logger: slog.New(slog.NewTextHandler(&log, nil))}
			for range 2 {
				if _, err := vc.Load(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			got := strings.Count(log.String(), "level=WARN")
			if tc.warn && (got != 1 || !strings.Contains(log.String(), tc.build) || !strings.Contains(log.String(), version.Image())) {
				t.Errorf("want one warning naming the pod's version %s and the image %s, got:\n%s", tc.build, version.Image(), log.String())
			}
			if !tc.warn && got != 0 {
				t.Errorf("want no warning, got:\n%s", log.String())
			}
		})
	}
}
