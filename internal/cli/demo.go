package cli

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"iter8.tools/iter8/internal/report"
	"iter8.tools/iter8/internal/testserver"
)

// demoService is the demo target's behaviour: log-normal latency with a 5 ms
// median and a 25 ms p99, and 1% of requests answered with 503.
func demoService() testserver.HTTPConfig {
	return testserver.HTTPConfig{
		Latency:   testserver.LogNormal(5*time.Millisecond, 25*time.Millisecond),
		ErrorRate: 0.01,
		ErrorCode: 503,
	}
}

// demoValues are the experiment the demo runs; user values are applied on top.
func demoValues(url string) []string {
	return []string{
		"tasks={http,assess}",
		"http.url=" + url,
		"http.duration=5s",
		"http.qps=50",
		"http.connections=8",
		"assess.SLOs.upper.http/latency-mean=50",
		"assess.SLOs.upper.http/latency-p99=100",
		"assess.SLOs.upper.http/error-rate=0.02",
	}
}

func newDemoCmd(a *app) *cobra.Command {
	o := &genOptions{}
	var (
		serve bool
		addr  string
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run an experiment end to end against a built-in demo service",
		Long: `demo starts a demo HTTP service on 127.0.0.1 (log-normal latency, 5 ms median, 25 ms p99,
1% of responses 503), runs an http + assess experiment against it for 5 seconds, and prints
the report. Values flags change the experiment; --serve only runs the demo service, so
you can point your own experiments at it.`,
		Example: `  iter8 demo
  iter8 demo --set assess.SLOs.upper.http/latency-p99=10     # an SLO that fails
  iter8 demo --runDir ./demo && iter8 assert --runDir ./demo -c completed -c nofailure -c slos
  iter8 demo --serve --addr 127.0.0.1:8080                      # just the demo service`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			srv, err := testserver.StartHTTP(demoService(), addr)
			if err != nil {
				return err
			}
			defer func() { _ = srv.Close() }()
			if serve {
				_, _ = fmt.Fprintf(a.streams.Out, "demo service listening on %s (Ctrl-C to stop)\n", srv.URL())
				sig := make(chan os.Signal, 1)
				signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
				defer signal.Stop(sig)
				select {
				case <-cmd.Context().Done():
				case <-sig:
				}
				return nil
			}
			if o.runDir == "" {
				dir, err := os.MkdirTemp("", "iter8-demo-")
				if err != nil {
					return err
				}
				o.runDir = dir
			}
			o.values.Set = append(demoValues(srv.URL()+"/demo"), o.values.Set...)
			f, err := o.write(cmd.Context())
			if err != nil {
				return err
			}
			a.logger.Info("running the demo experiment", "target", srv.URL(), "experiment", f.Path)
			exp, runErr := a.runner(f, o.runDir, false).Run(cmd.Context())
			if exp != nil {
				_, _ = fmt.Fprintln(a.streams.Out)
				if err := report.Text(a.streams.Out, exp, a.textOptions()); err != nil {
					return err
				}
				_, _ = fmt.Fprintf(a.streams.Out, "\nThe experiment is in %s; try:\n  iter8 report --runDir %s -o html --output-file report.html\n  iter8 assert --runDir %s -c completed -c nofailure -c slos\n", f.Path, o.runDir, o.runDir)
			}
			return runErr
		},
	}
	o.addFlags(cmd.Flags())
	_ = cmd.Flags().Set("runDir", "")
	cmd.Flags().Lookup("runDir").DefValue = ""
	cmd.Flags().Lookup("runDir").Usage = "directory for experiment.yaml (default: a new temporary directory)"
	cmd.Flags().BoolVar(&serve, "serve", false, "only run the demo service until interrupted")
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:0", "address of the demo service")
	return cmd
}
