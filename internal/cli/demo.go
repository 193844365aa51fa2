package cli

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"

	"iter8.tools/iter8/internal/demo"
	"iter8.tools/iter8/internal/report"
	"iter8.tools/iter8/internal/store"
	"iter8.tools/iter8/internal/task"
)

// demoKnobs tune the demo services: by default log-normal latency with a
// 5 ms median and a 25 ms p99, and 1% of requests failing (HTTP 503, gRPC
// Unavailable).
type demoKnobs struct {
	median, p99 time.Duration
	errorRate   float64
}

func (k demoKnobs) latency() demo.Latency {
	if k.median <= 0 {
		return nil
	}
	return demo.LogNormal(k.median, max(k.p99, k.median))
}

func (k demoKnobs) http() demo.HTTPConfig {
	return demo.HTTPConfig{Latency: k.latency(), ErrorRate: k.errorRate, ErrorCode: 503}
}

func (k demoKnobs) grpc() demo.GRPCConfig {
	return demo.GRPCConfig{Latency: k.latency(), ErrorRate: k.errorRate, ErrorCode: codes.Unavailable}
}

// demoGRPCValues are the gRPC experiment the demo runs.
func demoGRPCValues(addr string) []string {
	return []string{
		"tasks={grpc,assess}",
		"grpc.host=" + addr,
		"grpc.call=helloworld.Greeter.SayHello",
		"grpc.data.name=iter8",
		"grpc.duration=5s",
		"grpc.rps=50",
		"grpc.concurrency=8",
		"assess.SLOs.upper.grpc/error-rate=0.02",
		"assess.SLOs.upper.grpc/latency/mean=50",
		"assess.SLOs.upper.grpc/latency/p99=100",
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
		serve, useGRPC bool
		addr, grpcAddr string
		knobs          demoKnobs
		loops          loopOptions
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run an experiment end to end against a built-in demo service",
		Long: `demo starts a demo HTTP service on 127.0.0.1 (log-normal latency, 5 ms median, 25 ms p99,
1% of responses 503), runs an http + assess experiment against it for 5 seconds, and prints
the report. With --grpc it does the same with a gRPC service (helloworld.Greeter.SayHello,
1% of calls Unavailable) and a grpc + assess experiment. Values flags change the experiment.
--serve only runs the demo services, so you can point your own experiments at them: the gRPC
one also serves iter8.demo.v1.Demo (unary and all three stream kinds), health and reflection.`,
		Example: `  iter8 demo
  iter8 demo --set assess.SLOs.upper.http/latency-p99=10     # an SLO that fails
  iter8 demo --runDir ./demo && iter8 assert --runDir ./demo -c completed -c nofailure -c slos
  iter8 demo --grpc                                              # a gRPC experiment
  iter8 demo --loops 5 --interval 10s                            # five loops, re-assessing each
  iter8 demo --serve --addr 127.0.0.1:8080 --grpc-addr 127.0.0.1:50051   # just the services`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var gsrv *demo.GRPC
			if serve || useGRPC {
				var err error
				if gsrv, err = demo.StartGRPC(knobs.grpc(), grpcAddr); err != nil {
					return err
				}
				defer func() { _ = gsrv.Close() }()
			}
			httpCfg := knobs.http()
			var srv *demo.HTTP
			if serve {
				// gRPC calls by full method name (registered services)
				// and by "grpc <method>" (the demo services), HTTP
				// requests by "METHOD /path": the service's own count.
				httpCfg.Stats = func() map[string]int64 {
					m := gsrv.CallCounts()
					for k, v := range gsrv.MethodCalls() {
						m["grpc "+k] = v
					}
					for k, v := range srv.Counts() {
						m[k] = v
					}
					return m
				}
			}
			srv, err := demo.StartHTTP(httpCfg, addr)
			if err != nil {
				return err
			}
			defer func() { _ = srv.Close() }()
			if serve {
				_, _ = fmt.Fprintf(a.streams.Out, "demo HTTP service listening on %s, gRPC service on %s (Ctrl-C to stop)\n", srv.URL(), gsrv.Addr())
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
			set := demoValues(srv.URL() + "/demo")
			if useGRPC {
				set = demoGRPCValues(gsrv.Addr())
			}
			o.values.Set = append(set, o.values.Set...)
			st, unlock, err := o.write(cmd.Context())
			if err != nil {
				return err
			}
			defer unlock()
			path := filepath.Join(o.runDir, store.FileName)
			a.logger.Info("running the demo experiment", "experiment", path)
			if err := loops.check(); err != nil {
				return err
			}
			exp, runErr := loops.run(cmd.Context(), a.runner(st, o.runDir, false, task.Deps{}))
			if exp != nil {
				_, _ = fmt.Fprintln(a.streams.Out)
				if err := report.Text(a.streams.Out, exp, a.textOptions()); err != nil {
					return err
				}
				_, _ = fmt.Fprintf(a.streams.Out, "\nThe experiment is in %s; try:\n  iter8 report --runDir %s -o html --output-file report.html\n  iter8 assert --runDir %s -c completed -c nofailure -c slos\n", path, o.runDir, o.runDir)
			}
			return runErr
		},
	}
	o.addFlags(cmd.Flags())
	_ = cmd.Flags().Set("runDir", "")
	cmd.Flags().Lookup("runDir").DefValue = ""
	cmd.Flags().Lookup("runDir").Usage = "directory for experiment.yaml (default: a new temporary directory)"
	cmd.Flags().BoolVar(&serve, "serve", false, "only run the demo service until interrupted")
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:0", "address of the demo HTTP service")
	cmd.Flags().StringVar(&grpcAddr, "grpc-addr", "127.0.0.1:0", "address of the demo gRPC service")
	cmd.Flags().BoolVar(&useGRPC, "grpc", false, "run a gRPC experiment instead of an HTTP one")
	loops.addFlags(cmd.Flags())
	cmd.Flags().DurationVar(&knobs.median, "latency", 5*time.Millisecond, "median latency of the demo services (0: none)")
	cmd.Flags().DurationVar(&knobs.p99, "latency-p99", 25*time.Millisecond, "99th percentile latency of the demo services")
	cmd.Flags().Float64Var(&knobs.errorRate, "error-rate", 0.01, "fraction of requests the demo services fail")
	return cmd
}
