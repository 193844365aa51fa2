// Command iter8 is the metrics-driven release optimizer: it runs experiments
// (load, metrics, SLO checks), reports them and asserts their outcome.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"iter8.tools/iter8/internal/cli"
)

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
	code := cli.Main(ctx, os.Args[1:], cli.Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	cancel(nil)
	os.Exit(code)
}
