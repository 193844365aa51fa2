package k8s

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"helm.sh/helm/v4/pkg/action"
	helmchart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/kube"
	release "helm.sh/helm/v4/pkg/release"
	"helm.sh/helm/v4/pkg/storage/driver"
	"iter8.tools/iter8/internal/inputs"
)

// Release is an experiment group installed as a Helm release named after
// the group, with its history in Secrets (Helm's default storage driver).
type Release struct {
	Kube      *Kube
	Namespace string
	Group     string
	// Logger receives Helm's messages at debug level; nil discards them.
	Logger *slog.Logger
	// Timeout bounds each Helm operation; 5 minutes when zero.
	Timeout time.Duration
}

// Launched describes an installed or upgraded release.
type Launched struct {
	Revision int
	Upgraded bool
	Manifest string
}

func (r *Release) timeout() time.Duration {
	if r.Timeout > 0 {
		return r.Timeout
	}
	return 5 * time.Minute
}

func (r *Release) config() (*action.Configuration, error) {
	cfg := action.NewConfiguration()
	cfg.SetLogger(debugHandler{r.logger().Handler()})
	if err := cfg.Init(r.Kube.Flags, r.Namespace, "secret"); err != nil {
		return nil, fmt.Errorf("helm: %w", err)
	}
	return cfg, nil
}

func (r *Release) logger() *slog.Logger {
	if r.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Logger
}

// Launch installs the chart as the group's release, or upgrades the release
// when it exists (the experiment is replaced and the revision grows). It
// does not wait for the experiment to run.
func (r *Release) Launch(ctx context.Context, ch *helmchart.Chart, vals map[string]any) (*Launched, error) {
	cfg, err := r.config()
	if err != nil {
		return nil, err
	}
	exists, err := r.exists(cfg)
	if err != nil {
		return nil, err
	}
	var rel release.Releaser
	if exists {
		up := action.NewUpgrade(cfg)
		up.Namespace = r.Namespace
		up.WaitStrategy = kube.HookOnlyStrategy
		up.Timeout = r.timeout()
		// iter8 k run owns the experiment Secret's data once it has run;
		// a relaunch replaces it.
		up.ForceConflicts = true
		up.ServerSideApply = "true"
		up.MaxHistory = 10
		up.Description = "iter8 k launch"
		rel, err = up.RunWithContext(ctx, r.Group, ch, vals)
	} else {
		in := action.NewInstall(cfg)
		in.ReleaseName = r.Group
		in.Namespace = r.Namespace
		in.WaitStrategy = kube.HookOnlyStrategy
		in.Timeout = r.timeout()
		in.Description = "iter8 k launch"
		rel, err = in.RunWithContext(ctx, ch, vals)
	}
	if err != nil {
		verb := "installing"
		if exists {
			verb = "upgrading"
		}
		return nil, fmt.Errorf("%s release %s in namespace %s: %w", verb, r.Group, r.Namespace, err)
	}
	acc, err := release.NewAccessor(rel)
	if err != nil {
		return nil, fmt.Errorf("helm: %w", err)
	}
	return &Launched{Revision: acc.Version(), Upgraded: exists, Manifest: acc.Manifest()}, nil
}

// exists reports whether the group's release is installed.
func (r *Release) exists(cfg *action.Configuration) (bool, error) {
	h := action.NewHistory(cfg)
	h.Max = 1
	rels, err := h.Run(r.Group)
	switch {
	case errors.Is(err, driver.ErrReleaseNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("reading the history of release %s in namespace %s: %w", r.Group, r.Namespace, err)
	}
	return len(rels) > 0, nil
}

// Manifest renders the manifests a launch would install, without a cluster.
func (r *Release) Manifest(ctx context.Context, ch *helmchart.Chart, vals map[string]any) (string, error) {
	cfg := action.NewConfiguration()
	cfg.SetLogger(debugHandler{r.logger().Handler()})
	in := action.NewInstall(cfg)
	in.ReleaseName = r.Group
	in.Namespace = r.Namespace
	in.DryRunStrategy = action.DryRunClient
	rel, err := in.RunWithContext(ctx, ch, vals)
	if err != nil {
		return "", fmt.Errorf("rendering release %s: %w", r.Group, err)
	}
	acc, err := release.NewAccessor(rel)
	if err != nil {
		return "", fmt.Errorf("helm: %w", err)
	}
	return strings.TrimSpace(acc.Manifest()) + "\n", nil
}

// Delete uninstalls the group's release: every object it created goes, and
// the pods of its Jobs with them.
func (r *Release) Delete(ctx context.Context) error {
	cfg, err := r.config()
	if err != nil {
		return err
	}
	un := action.NewUninstall(cfg)
	un.WaitStrategy = kube.HookOnlyStrategy
	un.Timeout = r.timeout()
	un.DeletionPropagation = "background"
	un.Description = "iter8 k delete"
	if _, err := un.Run(r.Group); err != nil {
		if errors.Is(err, driver.ErrReleaseNotFound) {
			return inputs.Invalidf("experiment group %q not found in namespace %s: there is no release %s", r.Group, r.Namespace, r.Group)
		}
		return fmt.Errorf("uninstalling release %s in namespace %s: %w", r.Group, r.Namespace, err)
	}
	return nil
}

// debugHandler passes Helm's records on at debug level: they are details of
// the operation, not news for the user.
type debugHandler struct{ slog.Handler }

func (h debugHandler) Enabled(ctx context.Context, _ slog.Level) bool {
	return h.Handler.Enabled(ctx, slog.LevelDebug)
}

func (h debugHandler) Handle(ctx context.Context, rec slog.Record) error {
	rec.Level = slog.LevelDebug
	return h.Handler.Handle(ctx, rec)
}

func (h debugHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return debugHandler{h.Handler.WithAttrs(as)}
}

func (h debugHandler) WithGroup(name string) slog.Handler {
	return debugHandler{h.Handler.WithGroup(name)}
}
