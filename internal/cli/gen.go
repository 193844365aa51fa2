package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"iter8.tools/iter8/internal/chart"
	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/inputs"
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
	// accepted for compatibility with v0.11 scripts; the chart is built in
	noDownload, chartsParentDir, remoteFolderURL string
}

func (o *genOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringSliceVarP(&o.values.Files, "values", "f", nil, "values file or http(s) URL (can be repeated)")
	fs.StringArrayVar(&o.values.Set, "set", nil, "set values on the command line (key1=val1,key2=val2; can be repeated)")
	fs.StringArrayVar(&o.values.Strings, "set-string", nil, "set STRING values on the command line (can be repeated)")
	fs.StringArrayVar(&o.values.FromFile, "set-file", nil, "set values from files: key=path (can be repeated)")
	fs.StringVar(&o.runDir, "runDir", ".", "directory where experiment.yaml is written")
	fs.BoolVar(&o.allowRun, "allow-run", false, "allow run tasks (shell scripts) from values fetched from a URL")
	fs.BoolVar(&o.localChart, "localChart", false, "render a chart from the local folder given by --chartName instead of the built-in chart")
	fs.StringVarP(&o.chartName, "chartName", "c", "iter8", "chart to render: iter8 (built in) or, with --localChart, a chart folder")
	for _, f := range []struct {
		name string
		dst  *string
	}{{"noDownload", &o.noDownload}, {"chartsParentDir", &o.chartsParentDir}, {"remoteFolderURL", &o.remoteFolderURL}} {
		fs.StringVar(f.dst, f.name, "", "ignored: the chart is built into iter8")
		fs.Lookup(f.name).NoOptDefVal = "true"
		_ = fs.MarkHidden(f.name)
	}
}

// loadChart loads the built-in chart, or the --localChart folder.
func (o *genOptions) loadChart() (*chart.Chart, error) {
	if o.localChart {
		return chart.Local(o.chartName)
	}
	if o.chartName != "iter8" {
		return nil, usagef("--chartName %q: the built-in chart is iter8; use --localChart to render a chart folder", o.chartName)
	}
	return chart.Embedded()
}

// load loads the chart and merges the values, once: a values URL is
// fetched once.
func (o *genOptions) load() (*chart.Chart, map[string]any, error) {
	c, err := o.loadChart()
	if err != nil {
		return nil, nil, err
	}
	vals, err := o.values.Merge()
	if err != nil {
		return nil, nil, err
	}
	return c, vals, nil
}

// experiment decodes and validates a rendered experiment document and fills
// in the task defaults.
func (o *genOptions) experiment(doc []byte) (*experiment.Experiment, error) {
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
	steps, err := experiment.Build(exp.Spec, task.Registry(task.Deps{}))
	if err != nil {
		return nil, err
	}
	exp.Spec = experiment.Specs(steps)
	return exp, nil
}

// render turns the values into a validated experiment with task defaults
// filled in.
func (o *genOptions) render() (*experiment.Experiment, error) {
	c, vals, err := o.load()
	if err != nil {
		return nil, err
	}
	doc, err := c.Experiment(vals)
	if err != nil {
		return nil, err
	}
	return o.experiment(doc)
}

// write renders the experiment into runDir/experiment.yaml. It returns the
// store, locked against other runs, and the function that unlocks it.
func (o *genOptions) write(_ context.Context) (experiment.Store, func(), error) {
	exp, err := o.render()
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
	if err := store.WriteAtomic(f.Path, b); err != nil {
		unlock()
		return nil, nil, err
	}
	return f, unlock, nil
}

func newGenCmd(a *app) *cobra.Command {
	o := &genOptions{}
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
