// Command iter8 is the metrics-driven release optimizer: it runs experiments
// (load, metrics, SLO checks), reports them and asserts their outcome.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"iter8.tools/iter8/internal/cli"
	"iter8.tools/iter8/internal/startgc"
)

// init runs after every package main imports has been initialised (and in
// main's tests too): the collector's target goes back to GOGC's here.
func init() { startgc.Restore() }

func main() {
	ctx, cancel := context.WithCancelCause(context.Background())
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sig
		cancel(fmt.Errorf("received signal %v", s))
		<-sig // a second signal stops at once
		os.Exit(130)
	}()
	stopProfile := profile()
	code := cli.Main(ctx, os.Args[1:], cli.Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	cancel(nil)
	stopProfile()
	os.Exit(code)
}

// profile writes a CPU profile to the file named by ITER8_CPUPROFILE, for
// performance work; it returns the function that stops it.
func profile() func() {
	path := os.Getenv("ITER8_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ITER8_CPUPROFILE:", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, "ITER8_CPUPROFILE:", err)
		_ = f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}
}
