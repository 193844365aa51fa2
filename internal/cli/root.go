// Package cli implements iter8's commands. Each command binds its flags to an
// options struct and calls into the domain packages; the in-cluster runner and
// the tests call the same code.
package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"iter8.tools/iter8/internal/exitcode"
)

// Streams are the command's standard streams.
type Streams struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// ErrUsage marks a command-line usage error.
var ErrUsage = exitcode.New("usage error", exitcode.Usage)

// usageError is a usage error described by its message.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func (e *usageError) Is(target error) bool { return target == ErrUsage }

// ExitCode is exitcode.Usage.
func (e *usageError) ExitCode() exitcode.Code { return exitcode.Usage }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// ErrAssert marks assert conditions that do not hold.
var ErrAssert = exitcode.New("assert conditions do not hold", exitcode.Failed)

// Main runs iter8 with args and returns the exit code.
func Main(ctx context.Context, args []string, s Streams) int {
	root := New(s)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err != nil {
		_, _ = fmt.Fprintf(s.Err, "Error: %v\n", err)
	}
	return int(exitcode.Of(err))
}

// app is state shared by the commands.
type app struct {
	streams  Streams
	logLevel string
	logger   *slog.Logger
}

// New builds the root command.
func New(s Streams) *cobra.Command {
	a := &app{streams: s}
	root := &cobra.Command{
		Use:   "iter8",
		Short: "Metrics-driven release optimizer: load tests, metrics and SLO checks for HTTP and gRPC services",
		Long: `iter8 runs experiments: ordered tasks that generate load against a service, collect
built-in and custom metrics, check service level objectives (SLOs) per version, and
record everything in the experiment. Reports show the results; iter8 assert turns them
into an exit code that gates a CI/CD pipeline.`,
		Example: `  # try it: run a load test with SLOs against a built-in demo service
  iter8 demo

  # load test a service and check SLOs
  iter8 launch --set "tasks={http,assess}" --set http.url=http://127.0.0.1:8080/get \
    --set assess.SLOs.upper.http/latency-mean=50 --set assess.SLOs.upper.http/error-count=0
  iter8 report
  iter8 assert -c completed -c nofailure -c slos`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          noArgs,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return a.setupLogging()
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	root.SuggestionsMinimumDistance = 2
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	root.SetIn(s.In)
	root.PersistentFlags().StringVarP(&a.logLevel, "loglevel", "l", "info", "log level: trace, debug, info, warning, error, fatal or panic")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return usagef("%v", err)
	})
	root.AddCommand(
		newLaunchCmd(a),
		newGenCmd(a),
		newRunCmd(a),
		newReportCmd(a),
		newAssertCmd(a),
		newVersionCmd(a),
		newDemoCmd(a),
		newKCmd(a),
	)
	return root
}

// noArgs rejects positional arguments as a usage error, suggesting a
// command for a likely typo.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unexpected argument %q for %q", args[0], cmd.CommandPath())
	if cmd.HasSubCommands() {
		msg = fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += "; did you mean " + strings.Join(s, " or ") + "?"
		}
	}
	return usagef("%s", msg)
}

// levelTrace is below debug, for the original's trace level.
const levelTrace = slog.LevelDebug - 4

func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "trace":
		return levelTrace, nil
	case "debug":
		return slog.LevelDebug, nil
	case "info", "":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error", "fatal", "panic":
		return slog.LevelError, nil
	}
	return 0, usagef("--loglevel %q: expected trace, debug, info, warning, error, fatal or panic", s)
}

func (a *app) setupLogging() error {
	lvl, err := parseLevel(a.logLevel)
	if err != nil {
		return err
	}
	a.logger = slog.New(slog.NewTextHandler(a.streams.Err, &slog.HandlerOptions{
		Level: lvl,
		ReplaceAttr: func(_ []string, at slog.Attr) slog.Attr {
			if at.Key == slog.LevelKey {
				if l, ok := at.Value.Any().(slog.Level); ok && l == levelTrace {
					return slog.String(slog.LevelKey, "TRACE")
				}
			}
			return at
		},
	}))
	return nil
}

// progress returns stderr when it is a terminal, for live progress lines.
func (a *app) progress() io.Writer {
	if f, ok := a.streams.Err.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return f
	}
	return nil
}
