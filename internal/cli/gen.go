package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"iter8.tools/iter8/internal/chart"
	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/inputs"
	"iter8.tools/iter8/internal/source"
	"iter8.tools/iter8/internal/store"
	"iter8.tools/iter8/internal/task"
)

// genOptions render an experiment from values.
type genOptions struct {
	values     chart.Values
	runDir     string
	localChart bool
	chartName  string
	allowRun   bool
	// allowLocalSecrets lets values and templates fetched from a URL read
	// local secrets and files.
	allowLocalSecrets bool
	// Iter8 v0.11's chart flags: the chart is chartsParentDir/charts/
	// chartName, downloaded from remoteFolderURL unless noDownload. iter8
	// downloads nothing: the built-in chart stands in for the remote folder.
	chartsParentDir, remoteFolderURL string
	noDownload                       bool
	// valuesTimeout bounds fetching each values URL (hidden; tests shorten it).
	valuesTimeout time.Duration
	// app's logger says when the built-in chart stands in for a remote
	// folder; nil logs nothing.
	app *app
	// deps are what the experiment is validated with: k launch allows the
	// load generator pods of an Indexed Job (replicas).
	deps task.Deps
}

func (o *genOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringSliceVarP(&o.values.Files, "values", "f", nil, "values file or http(s) URL (can be repeated)")
	fs.StringArrayVar(&o.values.Set, "set", nil, "set values on the command line (key1=val1,key2=val2; can be repeated)")
	fs.StringArrayVar(&o.values.Strings, "set-string", nil, "set STRING values on the command line (can be repeated)")
	fs.StringArrayVar(&o.values.FromFile, "set-file", nil, "set values from files: key=path (can be repeated)")
	fs.StringVar(&o.runDir, "runDir", ".", "directory where experiment.yaml is written")
	fs.BoolVar(&o.allowRun, "allow-run", false, "allow run tasks (shell scripts) from values fetched from a URL")
	fs.BoolVar(&o.allowLocalSecrets, allowLocalSecretsFlag, false, "allow values and provider templates fetched from a URL to read local secrets (${env:...}, ${file:...}) and files outside the run directory")
	fs.BoolVar(&o.localChart, "localChart", false, "render a chart from the local folder given by --chartName instead of the built-in chart")
	fs.StringVarP(&o.chartName, "chartName", "c", "iter8", "chart to render: iter8 (built in) or, with --localChart, a chart folder")
	addV011ChartFlags(fs, &o.chartsParentDir, &o.remoteFolderURL)
	fs.BoolVar(&o.noDownload, "noDownload", false, "(Iter8 v0.11) render the chart folder <chartsParentDir>/charts/<chartName> instead of the built-in chart")
	fs.Lookup("noDownload").NoOptDefVal = "true"
	_ = fs.MarkHidden("noDownload")
	fs.DurationVar(&o.valuesTimeout, "values-timeout", source.DefaultTimeout, "time allowed to fetch each values URL")
	_ = fs.MarkHidden("values-timeout")
}

// addV011ChartFlags adds Iter8 v0.11's --chartsParentDir and
// --remoteFolderURL, hidden: --localChart is the current way to render a
// chart folder.
func addV011ChartFlags(fs *pflag.FlagSet, parent, remote *string) {
	fs.StringVar(parent, "chartsParentDir", "", "(Iter8 v0.11) folder holding the charts folder (default \".\")")
	fs.StringVar(remote, "remoteFolderURL", "", "(Iter8 v0.11) where the charts folder was downloaded from; iter8 downloads nothing: the built-in chart stands in for it")
	_ = fs.MarkHidden("chartsParentDir")
	_ = fs.MarkHidden("remoteFolderURL")
}

// loadChart loads the built-in chart, the --localChart folder, or, with
// Iter8 v0.11's flags, the chart folder under --chartsParentDir.
func (o *genOptions) loadChart() (*chart.Chart, error) {
	if o.localChart {
		return chart.Local(o.chartName)
	}
	if o.noDownload || o.chartsParentDir != "" || o.remoteFolderURL != "" {
		return o.v011Chart()
	}
	if o.chartName != "iter8" {
		return nil, usagef("--chartName %q: the built-in chart is iter8; use --localChart to render a chart folder", o.chartName)
	}
	return chart.Embedded()
}

// v011Chart resolves the chart as Iter8 v0.11 did: with --noDownload, the
// folder <chartsParentDir>/charts/<chartName>; without it, the chart of
// the remote charts folder, which the built-in chart stands in for (the
// original refused to download over an existing charts folder, and so does
// this).
func (o *genOptions) v011Chart() (*chart.Chart, error) {
	parent := o.chartsParentDir
	if parent == "" {
		parent = "."
	}
	charts := filepath.Join(parent, "charts")
	if o.noDownload {
		dir := filepath.Join(charts, o.chartName)
		if _, err := os.Stat(dir); err != nil {
			return nil, usagef("--noDownload: no chart folder %s (iter8 hub writes the built-in chart there for editing)", dir)
		}
		return chart.Local(dir)
	}
	if _, err := os.Stat(charts); err == nil {
		return nil, usagef("'charts' folder found in %s; --noDownload is required to render its chart %s (without it, the built-in chart stands in for the remote charts folder)", parent, o.chartName)
	}
	if o.chartName != "iter8" {
		return nil, usagef("--chartName %q: the remote charts folder stands for the built-in chart iter8; use --chartsParentDir with --noDownload, or --localChart, to render a chart folder", o.chartName)
	}
	if o.remoteFolderURL != "" && o.app != nil && o.app.logger != nil {
		o.app.logger.Info("iter8 downloads nothing: the built-in chart stands in for the remote charts folder", "remoteFolderURL", o.remoteFolderURL)
	}
	return chart.Embedded()
}

// load loads the chart and merges the values, once: a values URL is
// fetched once.
func (o *genOptions) load(ctx context.Context) (*chart.Chart, map[string]any, error) {
	c, err := o.loadChart()
	if err != nil {
		return nil, nil, err
	}
	var stdin io.Reader
	if o.app != nil {
		stdin = o.app.streams.In
	}
	vals, err := o.values.Merge(ctx, source.Reader{Timeout: o.valuesTimeout}, stdin)
	if err != nil {
		return nil, nil, err
	}
	if o.allowLocalSecrets {
		grantLocalSecrets(vals)
	}
	return c, vals, nil
}

// keep takes the literal secrets out of vals (chart.Keep), each replaced by
// a reference to a file in dir, and warns about them, naming the values and
// where the secrets are kept, never the secrets: references are the
// recommended form.
func (o *genOptions) keep(vals map[string]any, dir, where string) (*chart.Kept, error) {
	kept, err := chart.Keep(vals, dir)
	if err != nil {
		return nil, err
	}
	if len(kept.Paths) > 0 && o.app != nil && o.app.logger != nil {
		o.app.logger.Warn("secrets given as they are: kept out of the experiment, beside it, and redacted; give secrets as references instead, ${env:NAME} or ${file:/path}",
			"values", strings.Join(kept.Paths, ", "), "keptIn", where)
	}
	return kept, nil
}

// experiment decodes and validates a rendered experiment document and fills
// in the task defaults. own are the references to kept secrets that keep
// made: not the remote values' doing.
func (o *genOptions) experiment(doc []byte, own []string) (*experiment.Experiment, error) {
	exp, err := experiment.Decode(doc)
	if err != nil {
		return nil, fmt.Errorf("the chart rendered an invalid experiment: %w", err)
	}
	if remote := o.values.Remote(); remote != "" && !o.allowRun {
		for i, ts := range exp.Spec {
			if ts.Run != nil {
				return nil, usagef("task %d is a run task (a shell script) and the values come from %s: iter8 runs scripts from remote values only with --allow-run", i+1, remote)
			}
		}
	}
	if remote := o.values.Remote(); remote != "" && !o.allowLocalSecrets {
		if err := checkRemoteInputs(exp.Spec, remote, own); err != nil {
			return nil, err
		}
	}
	steps, err := experiment.Build(exp.Spec, task.Registry(o.deps))
	if err != nil {
		return nil, err
	}
	exp.Spec = experiment.Specs(steps)
	return exp, nil
}

// render turns the values into a validated experiment with task defaults
// filled in; literal secrets are kept out of it, referenced in keptDir.
func (o *genOptions) render(ctx context.Context, keptDir string) (*experiment.Experiment, *chart.Kept, error) {
	c, vals, err := o.load(ctx)
	if err != nil {
		return nil, nil, err
	}
	kept, err := o.keep(vals, keptDir, keptDir+" (0600 files)")
	if err != nil {
		return nil, nil, err
	}
	doc, err := c.Experiment(vals)
	if err != nil {
		return nil, nil, kept.Redact(err)
	}
	exp, err := o.experiment(doc, kept.Refs)
	if err != nil {
		return nil, nil, kept.Redact(err)
	}
	return exp, kept, nil
}

// write renders the experiment into runDir/experiment.yaml, and the literal
// secrets into runDir/experiment.secrets, 0600. It returns the store,
// locked against other runs, and the function that unlocks it.
func (o *genOptions) write(ctx context.Context) (experiment.Store, func(), error) {
	abs, err := filepath.Abs(o.runDir)
	if err != nil {
		return nil, nil, inputs.Invalidf("--runDir %s: %v", o.runDir, err)
	}
	exp, kept, err := o.render(ctx, filepath.Join(abs, store.KeptDir))
	if err != nil {
		return nil, nil, err
	}
	if err := os.MkdirAll(o.runDir, 0o755); err != nil {
		return nil, nil, inputs.Invalidf("--runDir %s: %v", o.runDir, err)
	}
	b, err := experiment.Encode(exp)
	if err != nil {
		return nil, nil, err
	}
	f := store.NewFile(o.runDir)
	unlock, err := f.Lock()
	if err != nil {
		return nil, nil, err
	}
	// The secrets first: a reader of the new experiment finds them.
	if err := store.WriteKept(o.runDir, kept.Secrets); err != nil {
		unlock()
		return nil, nil, err
	}
	if err := store.WriteAtomic(f.Path, b); err != nil {
		unlock()
		return nil, nil, err
	}
	return f, unlock, nil
}

func newGenCmd(a *app) *cobra.Command {
	o := &genOptions{app: a}
	cmd := &cobra.Command{
		Use:   "gen",
		Short: "Generate experiment.yaml from values, without running it",
		Long: `gen renders the experiment chart with the given values into experiment.yaml in --runDir.
Inputs are validated and task defaults filled in, so the file shows exactly what will run.`,
		Example: `  iter8 gen --set "tasks={http,assess}" --set http.url=http://127.0.0.1:8080/get \
    --set assess.SLOs.upper.http/latency-p99=100
  iter8 gen -f values.yaml --runDir ./exp1`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, unlock, err := o.write(cmd.Context())
			if err != nil {
				return err
			}
			unlock()
			a.logger.Info("experiment generated", "file", filepath.Join(o.runDir, store.FileName))
			return nil
		},
	}
	o.addFlags(cmd.Flags())
	return cmd
}
