package httpload

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"iter8.tools/iter8/internal/load"
)

// serverEnv makes the test binary an HTTP/1.1 server (see TestMain), so that
// the benchmarks measure the client's CPU alone: a server in the same
// process would share its runtime and its CPU time.
const serverEnv = "ITER8_HTTPLOAD_BENCH_SERVER"

func TestMain(m *testing.M) {
	if os.Getenv(serverEnv) != "" {
		os.Exit(serve())
	}
	os.Exit(m.Run())
}

// serve answers every request on 127.0.0.1 with a fixed 68-byte body (as
// bench/http.sh's nginx does), prints its address and returns when stdin
// closes.
func serve() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(ln.Addr())
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); os.Exit(0) }()
	const body = "iter8 benchmark: a fixed small body to keep the response size even.\n"
	resp := []byte(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", len(body), body))
	for {
		c, err := ln.Accept()
		if err != nil {
			return 1
		}
		go func() {
			defer func() { _ = c.Close() }()
			br := bufio.NewReader(c)
			for {
				// requests without a body: read up to the blank line
				for {
					line, err := br.ReadSlice('\n')
					if err != nil {
						return
					}
					if len(line) <= 2 {
						break
					}
				}
				if _, err := c.Write(resp); err != nil {
					return
				}
			}
		}()
	}
}

// startServer runs the test binary as a server in another process.
func startServer(b *testing.B) string {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), serverEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = stdin.Close(); _ = cmd.Wait() })
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatal(err)
	}
	return "http://" + addr[:len(addr)-1] + "/"
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// runBench runs b.N requests with the options and reports the client's CPU
// time per request (cpu-ns/req) and, in open loop, the generator's lag
// (how late requests started while a connection was free: lag-p50-µs and
// lag-p99-µs).
func runBench(b *testing.B, o load.Options) {
	url := startServer(b)
	tg, err := New(Config{Endpoints: []Endpoint{{URL: url}}, Timeout: 10 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	o.Requests, o.Timeout = uint64(b.N), 10*time.Second
	b.ResetTimer()
	cpu := cpuTime()
	rep, err := load.Run(context.Background(), tg, o)
	cpu = cpuTime() - cpu
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if rep.Total.Requests != int64(b.N) || rep.Total.Errors != 0 {
		b.Fatalf("%d requests, %d errors, want %d and none: %v", rep.Total.Requests, rep.Total.Errors, b.N, rep.Total.Codes)
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/req")
	if rep.Open {
		b.ReportMetric(rep.GeneratorLag.PercentileMs(50)*1000, "lag-p50-µs")
		b.ReportMetric(rep.GeneratorLag.PercentileMs(99)*1000, "lag-p99-µs")
	}
}

// BenchmarkOpenLoop sends evenly spaced requests at 2,000 req/s over 16
// connections, as bench/http.sh does: the generator is idle between
// requests, so what each one costs includes waking up for it. Run it with
// a request count, e.g. -benchtime 10000x (5 s), and for the figures of
// docs/performance.md on one core: taskset -c 1.
func BenchmarkOpenLoop(b *testing.B) {
	runBench(b, load.Options{Pacer: load.Constant{PerSecond: 2000}, Connections: 16})
}

// BenchmarkOpenLoopRate is BenchmarkOpenLoop at a low and a high rate, to
// check that what helps at 2,000 req/s costs nothing at 200 (the generator
// idle for 5 ms between requests) or 20,000 (50 µs).
func BenchmarkOpenLoopRate(b *testing.B) {
	for _, rate := range []float64{200, 20000} {
		b.Run(strconv.FormatFloat(rate, 'f', -1, 64), func(b *testing.B) {
			runBench(b, load.Options{Pacer: load.Constant{PerSecond: rate}, Connections: 16})
		})
	}
}

// BenchmarkOpenLoopPoisson is BenchmarkOpenLoop with Poisson arrivals.
func BenchmarkOpenLoopPoisson(b *testing.B) {
	runBench(b, load.Options{Pacer: load.NewPoisson(2000, 1), Connections: 16})
}

// BenchmarkClosedLoop sends requests over one connection as fast as they
// return: ns/op is a round trip, cpu-ns/req the client's part of it.
func BenchmarkClosedLoop(b *testing.B) {
	runBench(b, load.Options{Connections: 1})
}
