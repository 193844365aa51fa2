package load

import (
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// Poisson paces requests as a Poisson process: the gaps between requests are
// independent and exponentially distributed with mean 1/rate, as the
// arrivals of many independent users are. The schedule is a pure function
// of the request number and the seed (the same seed gives the same arrivals),
// computed lazily in memory that grows by 8 bytes per billion requests.
// Make one with NewPoisson; it is safe for concurrent use.
//
// Gaps are drawn in a hierarchy of blocks of poissonFanout gaps: the total
// of a top-level block is a Gamma draw (the sum of its exponential gaps),
// each block's children share its total in proportions drawn as normalised
// Gamma variates (a Dirichlet draw, which is how the sums of consecutive
// runs of exponential gaps are distributed given their total), down to
// single gaps. So At(n) for any n costs a few block draws, not n gaps, and
// the arrivals are exactly those of a Poisson process.
type Poisson struct {
	rate float64
	seed uint64

	mu    sync.Mutex
	top   []float64 // prefix sums of top-level block totals, grown on demand
	cache [poissonLevels][2]poissonBlock
}

// poissonFanout is the number of children of a block; poissonLevels is the
// number of levels below the top-level blocks (single gaps are level 0), so
// a top-level block holds poissonFanout^poissonLevels gaps.
const (
	poissonFanout = 1024
	poissonLevels = 3
)

// poissonBlock holds the offsets (in mean gaps) of the children of one block
// from the block's start.
type poissonBlock struct {
	valid  bool
	index  uint64 // the block's number among the blocks of its level
	prefix [poissonFanout]float64
}

// NewPoisson returns a Poisson pacer of rate per second and seed.
func NewPoisson(rate float64, seed uint64) *Poisson {
	return &Poisson{rate: rate, seed: seed, top: []float64{0}}
}

// Rate returns the mean rate.
func (p *Poisson) Rate() float64 { return p.rate }

// At returns the start of the n-th request: the sum of the n gaps before
// it (request 0 starts at once). It saturates at the longest Duration.
func (p *Poisson) At(n uint64) time.Duration {
	f := math.Round(p.units(n) * 1e9 / p.rate)
	if !(f < math.MaxInt64) {
		return math.MaxInt64
	}
	return time.Duration(f)
}

// units returns At(n) in mean gaps.
func (p *Poisson) units(n uint64) float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	size := uint64(1)
	for range poissonLevels {
		size *= poissonFanout
	}
	t := n / size
	start := p.topStart(t)
	total := p.topStart(t+1) - start
	// Descend from the top-level block to the gap: at each level, the
	// offset of the child holding n within its parent.
	off := start
	for level := poissonLevels - 1; level >= 0; level-- {
		size /= poissonFanout
		parent := n / (size * poissonFanout)
		child := int(n / size % poissonFanout)
		b := p.block(level, parent, total)
		off += b.prefix[child]
		if child+1 < poissonFanout {
			total = b.prefix[child+1] - b.prefix[child]
		} else {
			total -= b.prefix[child]
		}
	}
	return off
}

// topStart returns the start of top-level block t in mean gaps, drawing the
// totals of the blocks before it as needed.
func (p *Poisson) topStart(t uint64) float64 {
	prefix := p.top
	shape := math.Pow(poissonFanout, poissonLevels)
	for uint64(len(prefix)) <= t {
		i := uint64(len(prefix) - 1)
		r := p.rand(poissonLevels, i)
		prefix = append(prefix, prefix[i]+gamma(r, shape))
	}
	p.top = prefix
	return prefix[t]
}

// block returns the children's offsets of block index at level (whose
// children are blocks of level-1, or gaps at level 0), scaled to total.
// Each level keeps its last two blocks: concurrent workers straddle a
// boundary between two blocks.
func (p *Poisson) block(level int, index uint64, total float64) *poissonBlock {
	c := &p.cache[level]
	for i := range c {
		if c[i].valid && c[i].index == index {
			return &c[i]
		}
	}
	c[1] = c[0]
	b := &c[0]
	b.valid, b.index = true, index
	r := p.rand(level, index)
	shape := math.Pow(poissonFanout, float64(level))
	var sum float64
	for i := range b.prefix {
		b.prefix[i] = sum
		sum += gamma(r, shape)
	}
	scale := total / sum
	for i := range b.prefix {
		b.prefix[i] *= scale
	}
	return b
}

// rand returns the random source of one block: a function of the seed, the
// level and the block's number only.
func (p *Poisson) rand(level int, index uint64) *rand.Rand {
	return rand.New(rand.NewPCG(p.seed^uint64(level+1)*0x9e3779b97f4a7c15, index))
}

// gamma draws from the Gamma distribution of shape (at least 1) and scale 1:
// exponential for shape 1, else Marsaglia and Tsang's method.
func gamma(r *rand.Rand, shape float64) float64 {
	if shape == 1 {
		return r.ExpFloat64()
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := r.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := r.Float64()
		if u < 1-0.0331*x*x*x*x || math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v
		}
	}
}
