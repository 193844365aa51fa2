package cli

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"

	"helm.sh/helm/v4/pkg/chart/common"
	helmchart "helm.sh/helm/v4/pkg/chart/v2"

	"iter8.tools/iter8/internal/chart"
	"iter8.tools/iter8/internal/inputs"
	"iter8.tools/iter8/internal/k8s"
	"iter8.tools/iter8/internal/store"
)

// kLaunch installs (or upgrades) an experiment as a Helm release: the action
// behind k launch.
type kLaunch struct {
	gen     *genOptions
	release *k8s.Release
	dry     bool // write the manifests to manifest.yaml in the run directory instead
	logger  *slog.Logger
}

// Run merges the values once and renders the chart once, so invalid input
// (the experiment's task inputs, the runner, schedule and ready values) exits
// before anything is installed; then it installs the release, or writes its
// manifests with dry.
func (l *kLaunch) Run(ctx context.Context) error {
	c, vals, err := l.gen.load(ctx)
	if err != nil {
		return err
	}
	// Literal secrets go under their own keys of the experiment's Secret,
	// mounted in the pod, where the experiment references them.
	kept, err := l.gen.keep(vals, chart.KeptMount, "Secret "+l.release.Group+", a key each, mounted at "+chart.KeptMount+" in the pod")
	if err != nil {
		return err
	}
	if len(kept.Secrets) > 0 {
		ks := make(map[string]any, len(kept.Secrets))
		for k, v := range kept.Secrets {
			ks[k] = v
		}
		vals[chart.KeptValues] = ks
	}
	r, err := c.Release(vals, common.ReleaseOptions{Name: l.release.Group, Namespace: l.release.Namespace, Revision: 1, IsInstall: true})
	if err != nil {
		return kept.Redact(err)
	}
	if _, err := l.gen.experiment(r.Experiment, kept.Refs); err != nil {
		return kept.Redact(err)
	}
	if l.dry {
		return kept.Redact(l.writeManifest(ctx, c.Helm(), vals, len(kept.Secrets) > 0))
	}
	launched, err := l.release.Launch(ctx, c.Helm(), vals)
	if err != nil {
		return kept.Redact(err)
	}
	runner, _ := vals["runner"].(string)
	if runner == "" {
		runner = "none"
	}
	l.logger.Info("experiment launched. Happy Iter8ing!", "group", l.release.Group, "namespace", l.release.Namespace, "revision", launched.Revision, "runner", runner)
	return nil
}

// writeManifest writes the release's manifests, as Helm would install them,
// to manifest.yaml in the run directory; nothing is installed. A manifest
// holding kept secrets (in the experiment's Secret) is private, 0600.
func (l *kLaunch) writeManifest(ctx context.Context, ch *helmchart.Chart, vals map[string]any, private bool) error {
	m, err := l.release.Manifest(ctx, ch, vals)
	if err != nil {
		return err
	}
	dir := l.gen.runDir
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return inputs.Invalidf("--runDir %s: %v", dir, err)
	}
	path := filepath.Join(dir, "manifest.yaml")
	write := store.WriteAtomic
	if private {
		write = store.WritePrivate
	}
	if err := write(path, []byte(m)); err != nil {
		return err
	}
	l.logger.Info("manifests written (dry run: nothing installed)", "file", filepath.Clean(path))
	return nil
}
