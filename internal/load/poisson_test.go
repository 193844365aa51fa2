package load

import (
	"math"
	"sync"
	"testing"
	"time"
)

// Every figure below is of one fixed seed, so these tests are exact
// reruns; the bounds are several standard deviations wide.

func TestPoissonDeterministic(t *testing.T) {
	t.Parallel()
	a, b, c := NewPoisson(2000, 7), NewPoisson(2000, 7), NewPoisson(2000, 8)
	// the same seed gives the same schedule, whatever order it is asked in
	ns := []uint64{5_000_000, 0, 1, 1023, 1024, 1025, 1 << 20, 3<<30 + 17, 12345}
	for i := len(ns) - 1; i >= 0; i-- {
		_ = b.At(ns[i])
	}
	same := 0
	for _, n := range ns {
		if a.At(n) != b.At(n) {
			t.Errorf("At(%d): %v and %v with the same seed", n, a.At(n), b.At(n))
		}
		if a.At(n) == c.At(n) {
			same++
		}
	}
	if a.At(0) != 0 {
		t.Errorf("At(0) = %v, want 0: the first request starts at once", a.At(0))
	}
	if same > 1 { // At(0) is 0 for every seed
		t.Errorf("%d of %d start times equal under another seed", same, len(ns))
	}
}

func TestPoissonMonotonic(t *testing.T) {
	t.Parallel()
	p := NewPoisson(1e6, 1)
	// across gap, block and top-level boundaries
	for _, base := range []uint64{0, 1<<20 - 2000, 1<<30 - 2000, 5<<30 - 2000} {
		prev := p.At(base)
		for n := base + 1; n < base+4000; n++ {
			at := p.At(n)
			if at < prev {
				t.Fatalf("At(%d) = %v before At(%d) = %v", n, at, n-1, prev)
			}
			prev = at
		}
	}
}

// The mean rate is the one asked for.
func TestPoissonMeanRate(t *testing.T) {
	t.Parallel()
	for _, rate := range []float64{8, 2000, 1e6} {
		p := NewPoisson(rate, 3)
		const n = 1 << 22
		got := float64(n) / p.At(n).Seconds()
		// the relative standard deviation of the sum of n gaps is 1/sqrt(n)
		if math.Abs(got/rate-1) > 5/math.Sqrt(n) {
			t.Errorf("rate %g: %d requests took %v: %.6g req/s", rate, n, p.At(n), got)
		}
		if c := Count(p, 10*time.Second); math.Abs(float64(c)-10*rate) > 5*math.Sqrt(10*rate) {
			t.Errorf("rate %g: Count over 10 s = %d, want about %g", rate, c, 10*rate)
		}
	}
}

// The gaps are exponential: the empirical distribution function of 100,000
// gaps stays within 0.01 of 1-exp(-rate x) (the Kolmogorov-Smirnov
// statistic; 0.005 is its 1% critical value), their coefficient of
// variation is 1, and successive gaps are uncorrelated.
func TestPoissonGaps(t *testing.T) {
	t.Parallel()
	const rate, n = 2000.0, 100_000
	p := NewPoisson(rate, 11)
	gaps := make([]float64, n)
	var sum, sumSq, cross float64
	for i := range gaps {
		gaps[i] = (p.At(uint64(i)+1) - p.At(uint64(i))).Seconds() * rate // in mean gaps
		sum += gaps[i]
		sumSq += gaps[i] * gaps[i]
		if i > 0 {
			cross += (gaps[i] - 1) * (gaps[i-1] - 1)
		}
	}
	mean := sum / n
	cv := math.Sqrt(sumSq/n-mean*mean) / mean
	if math.Abs(mean-1) > 0.02 || math.Abs(cv-1) > 0.03 {
		t.Errorf("gaps: mean %.4f, coefficient of variation %.4f; want 1 and 1", mean, cv)
	}
	if r := cross / n; math.Abs(r) > 0.02 {
		t.Errorf("successive gaps correlate: %.4f", r)
	}
	// Kolmogorov-Smirnov against the exponential, in 200 bins of its
	// quantiles: bin k holds the gaps below -ln(1-k/200).
	const bins = 200
	counts := make([]int, bins)
	for _, g := range gaps {
		k := int((1 - math.Exp(-g)) * bins)
		counts[min(k, bins-1)]++
	}
	cum, worst := 0, 0.0
	for k, c := range counts {
		cum += c
		worst = max(worst, math.Abs(float64(cum)/n-float64(k+1)/bins))
	}
	if worst > 0.01 {
		t.Errorf("gaps depart from the exponential distribution by %.4f", worst)
	}
}

// Blocks of consecutive gaps at every level of the hierarchy sum as they
// would in a Poisson process: k gaps sum to a Gamma(k) variate, of mean
// and variance k.
func TestPoissonBlockSums(t *testing.T) {
	t.Parallel()
	p := NewPoisson(1, 5) // one mean gap is one second
	for _, k := range []uint64{1000, poissonFanout, poissonFanout * poissonFanout, 3 * poissonFanout * poissonFanout / 2} {
		const blocks = 1000
		var sum, sumSq float64
		for b := range uint64(blocks) {
			s := (p.At((b+1)*k) - p.At(b*k)).Seconds()
			z := (s - float64(k)) / math.Sqrt(float64(k))
			sum += z
			sumSq += z * z
		}
		mean, variance := sum/blocks, sumSq/blocks-(sum/blocks)*(sum/blocks)
		if math.Abs(mean) > 0.15 || math.Abs(variance-1) > 0.2 {
			t.Errorf("sums of %d gaps: standardised mean %.3f and variance %.3f; want 0 and 1", k, mean, variance)
		}
	}
}

// Workers ask for start times concurrently.
func TestPoissonConcurrent(t *testing.T) {
	t.Parallel()
	want, p := NewPoisson(500, 9), NewPoisson(500, 9)
	const workers, each = 8, 5000
	var wg sync.WaitGroup
	errs := make(chan uint64, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range uint64(each) {
				n := i*workers + uint64(w)
				if n%997 == 0 {
					n += 1 << 21 // far from the others
				}
				if p.At(n) != want.At(n) {
					errs <- n
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for n := range errs {
		t.Errorf("At(%d) differs when asked concurrently", n)
	}
}

// BenchmarkPoissonAt is the cost of a start time in request order, as the
// workers ask for them (a block of 1,024 gaps is drawn every 1,024 calls).
func BenchmarkPoissonAt(b *testing.B) {
	p := NewPoisson(2000, 1)
	for i := range uint64(b.N) {
		_ = p.At(i)
	}
}
