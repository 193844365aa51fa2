package load

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"iter8.tools/iter8/internal/metrics"
)

// Every request n of the global schedule belongs to exactly one shard, and
// the shards' counts add up to the total, whatever the total and the count.
func TestShardCoversEachRequestOnce(t *testing.T) {
	t.Parallel()
	for count := 1; count <= 7; count++ {
		for total := uint64(0); total <= 50; total++ {
			seen := make([]int, total)
			var sum uint64
			for i := range count {
				s := Shard{Index: i, Count: count}
				k := s.Requests(total)
				sum += k
				for j := range k {
					n := s.global(j)
					if n >= total {
						t.Fatalf("shard %d/%d request %d is global %d, beyond the total %d", i, count, j, n, total)
					}
					if n%uint64(count) != uint64(i) {
						t.Fatalf("shard %d/%d got request %d", i, count, n)
					}
					seen[n]++
				}
			}
			if sum != total {
				t.Fatalf("%d shards of %d requests send %d", count, total, sum)
			}
			for n, c := range seen {
				if c != 1 {
					t.Fatalf("%d shards of %d requests: request %d sent %d times", count, total, n, c)
				}
			}
		}
	}
}

// countingTarget counts requests per endpoint, answering at once.
type countingTarget struct{ eps []atomic.Int64 }

type countingConn struct{ t *countingTarget }

func (c countingConn) Do(_ context.Context, ep int) Outcome {
	c.t.eps[ep].Add(1)
	return Outcome{Code: 200}
}
func (countingConn) Close() error             { return nil }
func (t *countingTarget) NewConn() Conn       { return countingConn{t} }
func newCountingTarget(n int) *countingTarget { return &countingTarget{eps: make([]atomic.Int64, n)} }

// Sharded runs send, together, exactly the requests of the unsharded run:
// each shard its exact share, and each endpoint of a weighted mix as many
// requests as the global schedule gives it (so each request n went to the
// endpoint Pick(n) once).
func TestShardedRunsSplitTheSchedule(t *testing.T) {
	t.Parallel()
	weights := []float64{1, 2, 3}
	const total, count = 1001, 4
	want := make([]int64, len(weights))
	sched := NewSchedule(weights)
	for n := range uint64(total) {
		want[sched.Pick(n)]++
	}
	for _, open := range []bool{false, true} {
		t.Run(fmt.Sprintf("open=%t", open), func(t *testing.T) {
			t.Parallel()
			tg := newCountingTarget(len(weights))
			var sent int64
			for i := range count {
				o := Options{Connections: 2, Requests: total, Weights: weights, Shard: Shard{Index: i, Count: count}}
				if open {
					// fast enough that the run takes milliseconds; the
					// schedule is what is tested, not the clock
					o.Pacer = Constant{PerSecond: MaxRate}
				}
				rep, err := Run(context.Background(), tg, o)
				if err != nil {
					t.Fatal(err)
				}
				if share := (Shard{Index: i, Count: count}).Requests(total); rep.Sent != int64(share) || rep.Total.Requests != int64(share) {
					t.Errorf("shard %d sent %d (recorded %d), want its share %d", i, rep.Sent, rep.Total.Requests, share)
				}
				if open && rep.IntendedRate != MaxRate/count {
					t.Errorf("shard %d: intended rate %g, want its part %g", i, rep.IntendedRate, MaxRate/count)
				}
				sent += rep.Sent
			}
			if sent != total {
				t.Errorf("the shards sent %d, want %d", sent, total)
			}
			for ep := range weights {
				if got := tg.eps[ep].Load(); got != want[ep] {
					t.Errorf("endpoint %d got %d requests, want the schedule's %d", ep, got, want[ep])
				}
			}
		})
	}
}

// A shard waits for the common start and times its schedule from it.
func TestShardStartsAtTheCommonStart(t *testing.T) {
	t.Parallel()
	start := time.Now().Add(50 * time.Millisecond)
	tg := newCountingTarget(1)
	rep, err := Run(context.Background(), tg, Options{Pacer: Constant{PerSecond: 1000}, Requests: 10, StartAt: start, Shard: Shard{Index: 1, Count: 2}})
	if err != nil {
		t.Fatal(err)
	}
	if time.Now().Before(start) || rep.Sent != 5 {
		t.Errorf("the shard finished before the common start, or sent %d of its 5", rep.Sent)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, tg, Options{Requests: 10, StartAt: time.Now().Add(time.Hour)}); err == nil {
		t.Error("a run cancelled while waiting for its start returned no error")
	}
}

// samples are fixed latencies spread over five orders of magnitude.
func samples(n int) []time.Duration {
	out := make([]time.Duration, n)
	x := uint64(12345)
	for i := range out {
		x = x*6364136223846793005 + 1442695040888963407
		us := 1 + (x>>33)%100000
		if i%97 == 0 {
			us *= 37 // a tail
		}
		out[i] = time.Duration(us) * time.Microsecond
	}
	return out
}

// The merge is exact: N shards' histograms, each holding the samples of its
// requests (n mod N), sent through the Secret's encoding and merged, equal
// one histogram of all the samples: the same count, minimum, maximum, mean
// and every percentile. Counters add up; one saturated shard makes the
// merged run saturated.
func TestMergeIsExact(t *testing.T) {
	t.Parallel()
	all := samples(20011)
	one := metrics.NewHDR()
	for _, d := range all {
		one.Record(d)
	}
	for _, count := range []int{1, 2, 4, 7} {
		parts := make([]*Report, count)
		for i := range parts {
			parts[i] = &Report{Open: true, Endpoints: []Stats{emptyStats(true)}, GeneratorLag: metrics.NewHDR(), IntendedRate: 100.0 / float64(count)}
		}
		for n, d := range all {
			p := parts[n%count]
			st := &p.Endpoints[0]
			st.Requests++
			st.Codes["200"]++
			if n%10 == 0 {
				st.Replayed++
			}
			st.Latency.Record(d)
			st.Service.Record(d / 2)
			p.Sent++
		}
		for i, p := range parts {
			p.Total = p.Endpoints[0]
			// as the parts travel: encoded, then decoded by the merging pod
			p.Endpoints[0].Latency = roundTrip(t, p.Endpoints[0].Latency)
			p.Endpoints[0].Service = roundTrip(t, p.Endpoints[0].Service)
			if i == count-1 && count > 1 {
				p.Saturated, p.SaturationReason = true, "behind"
			}
			p.GeneratorLateness, p.UnsentHeld = time.Duration(i+1)*time.Millisecond, 1
		}
		m := Merge(parts)
		got := m.Total.Latency
		if got.Count() != one.Count() || got.MinMs() != one.MinMs() || got.MaxMs() != one.MaxMs() || got.MeanMs() != one.MeanMs() || got.StdDevMs() != one.StdDevMs() {
			t.Errorf("%d shards: merged count %d min %g max %g mean %g sd %g, want %d %g %g %g %g", count,
				got.Count(), got.MinMs(), got.MaxMs(), got.MeanMs(), got.StdDevMs(), one.Count(), one.MinMs(), one.MaxMs(), one.MeanMs(), one.StdDevMs())
		}
		for p := 0.5; p <= 100; p += 0.5 {
			if g, w := got.PercentileMs(p), one.PercentileMs(p); g != w {
				t.Errorf("%d shards: merged p%g = %g ms, one histogram says %g ms", count, p, g, w)
			}
		}
		for _, p := range []float64{99.9, 99.99, 99.999} {
			if g, w := got.PercentileMs(p), one.PercentileMs(p); g != w {
				t.Errorf("%d shards: merged p%g = %g ms, one histogram says %g ms", count, p, g, w)
			}
		}
		if m.Total.Requests != int64(len(all)) || m.Sent != int64(len(all)) || m.Total.Codes["200"] != int64(len(all)) || m.Total.Service.Count() != int64(len(all)) {
			t.Errorf("%d shards: merged requests %d sent %d codes %v", count, m.Total.Requests, m.Sent, m.Total.Codes)
		}
		if want := int64((len(all) + 9) / 10); m.Total.Replayed != want || m.Endpoints[0].Replayed != want {
			t.Errorf("%d shards: merged replayed %d (endpoint %d), want %d", count, m.Total.Replayed, m.Endpoints[0].Replayed, want)
		}
		if d := m.IntendedRate - 100; d > 1e-9 || d < -1e-9 {
			t.Errorf("%d shards: merged intended rate %g, want 100", count, m.IntendedRate)
		}
		if m.GeneratorLateness != time.Duration(count)*time.Millisecond || m.UnsentHeld != int64(count) {
			t.Errorf("%d shards: generator lateness %v, unsent held %d: want the latest and the sum", count, m.GeneratorLateness, m.UnsentHeld)
		}
		if wantSat := count > 1; m.Saturated != wantSat || (wantSat && m.SaturationReason != fmt.Sprintf("generator %d: behind", count-1)) {
			t.Errorf("%d shards: saturated %t (%q), want %t", count, m.Saturated, m.SaturationReason, wantSat)
		}
	}
}

func roundTrip(t *testing.T, h *metrics.HDR) *metrics.HDR {
	t.Helper()
	s, err := h.Encode()
	if err != nil {
		t.Fatal(err)
	}
	out, err := metrics.DecodeHDR(s)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
