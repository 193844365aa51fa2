package report

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"

	"iter8.tools/iter8/internal/metrics"
	"iter8.tools/iter8/internal/slo"
)

// Charts are drawn here as small inline SVG documents: no script, no
// external resource, styled by the page's stylesheet through classes (so
// they follow dark mode and print). Every text from the experiment goes
// through esc.

// Chart geometry, in SVG user units; the page scales charts to their box.
const (
	chartW    = 480.0
	chartH    = 250.0
	padLeft   = 56.0
	padRight  = 26.0
	padTop    = 14.0
	padBottom = 42.0
)

// palette is the number of series colours in the stylesheet (.c0 … .c9).
const palette = 10

func esc(s string) string { return template.HTMLEscapeString(s) }

// f formats a coordinate compactly.
func f(v float64) string { return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) }

// svgDoc collects the elements of one chart.
type svgDoc struct {
	b      strings.Builder
	w, h   float64
	x0, x1 float64 // plot area, in pixels
	y0, y1 float64 // y0 is the bottom
	// xTitleY is the baseline of the x axis title.
	xTitleY float64
}

func newSVG(title string, h float64) *svgDoc {
	d := &svgDoc{w: chartW, h: h, x0: padLeft, x1: chartW - padRight, y0: h - padBottom, y1: padTop, xTitleY: h - 6}
	fmt.Fprintf(&d.b, `<svg class="chart" viewBox="0 0 %s %s" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg"><title>%s</title>`,
		f(d.w), f(h), esc(title), esc(title))
	return d
}

func (d *svgDoc) html() template.HTML {
	d.b.WriteString(`</svg>`)
	return template.HTML(d.b.String()) //nolint:gosec // built from escaped parts only
}

func (d *svgDoc) add(format string, args ...any) { fmt.Fprintf(&d.b, format, args...) }

// frame draws the plot area's border and the axis titles.
func (d *svgDoc) frame(xTitle, yTitle string) {
	d.add(`<rect class="frame" x="%s" y="%s" width="%s" height="%s"/>`, f(d.x0), f(d.y1), f(d.x1-d.x0), f(d.y0-d.y1))
	d.add(`<text class="axis-title" x="%s" y="%s" text-anchor="middle">%s</text>`, f((d.x0+d.x1)/2), f(d.xTitleY), esc(xTitle))
	d.add(`<text class="axis-title" transform="translate(13 %s) rotate(-90)" text-anchor="middle">%s</text>`, f((d.y0+d.y1)/2), esc(yTitle))
}

func (d *svgDoc) xTick(px float64, label string) {
	d.add(`<line class="grid" x1="%s" y1="%s" x2="%s" y2="%s"/>`, f(px), f(d.y1), f(px), f(d.y0))
	d.add(`<text class="tick" x="%s" y="%s" text-anchor="middle">%s</text>`, f(px), f(d.y0+15), esc(label))
}

func (d *svgDoc) yTick(py float64, label string) {
	d.add(`<line class="grid" x1="%s" y1="%s" x2="%s" y2="%s"/>`, f(d.x0), f(py), f(d.x1), f(py))
	d.add(`<text class="tick" x="%s" y="%s" text-anchor="end">%s</text>`, f(d.x0-5), f(py+4), esc(label))
}

// scale maps values to pixels, linearly or on a log scale.
type scale struct {
	lo, hi   float64
	log      bool
	pLo, pHi float64
}

func (s scale) px(v float64) float64 {
	a, b, x := s.lo, s.hi, v
	if s.log {
		a, b, x = math.Log10(s.lo), math.Log10(s.hi), math.Log10(math.Max(v, s.lo/10))
	}
	if b == a {
		return (s.pLo + s.pHi) / 2
	}
	return s.pLo + (x-a)/(b-a)*(s.pHi-s.pLo)
}

// logTicks returns 1-2-5 ticks within [lo, hi], thinned to at most about
// seven.
func logTicks(lo, hi float64) []float64 {
	var all []float64
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, e)
			if v >= lo*0.999 && v <= hi*1.001 {
				all = append(all, v)
			}
		}
	}
	if len(all) <= 7 {
		return all
	}
	var decades []float64
	for _, v := range all {
		if m := v / math.Pow(10, math.Floor(math.Log10(v)+1e-9)); math.Abs(m-1) < 1e-6 {
			decades = append(decades, v)
		}
	}
	return decades
}

// linTicks returns about n round ticks within [lo, hi].
func linTicks(lo, hi float64, n int) []float64 {
	if hi <= lo {
		return []float64{lo}
	}
	raw := (hi - lo) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var out []float64
	for v := math.Ceil(lo/step) * step; v <= hi+step*1e-9; v += step {
		out = append(out, math.Round(v/step)*step)
	}
	return out
}

// tickLabel prints a tick value without float noise or exponents.
func tickLabel(v float64) string {
	if math.Abs(v) >= 1e6 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

// logRange is the range a set of histograms spans, for shared axes.
type logRange struct{ lo, hi float64 }

func (r *logRange) add(v float64) {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	if r.lo == 0 || v < r.lo {
		r.lo = v
	}
	if v > r.hi {
		r.hi = v
	}
}

// padded widens the range a little and keeps it non-empty.
func (r logRange) padded() logRange {
	if r.lo == 0 {
		return logRange{0.1, 10}
	}
	lo, hi := r.lo/1.15, r.hi*1.15
	if hi/lo < 10 {
		mid := math.Sqrt(lo * hi)
		lo, hi = mid/math.Sqrt(10), mid*math.Sqrt(10)
	}
	return logRange{lo, hi}
}

// rebin spreads histogram buckets over log-spaced bins across r, splitting
// each bucket's count in proportion to its overlap (in log space) with each
// bin, so bars of varying width become a smooth density on a log axis. It
// returns the percentage of observations per bin.
func rebin(buckets []metrics.Bucket, r logRange, bins int) []float64 {
	out := make([]float64, bins)
	lr0, lr1 := math.Log10(r.lo), math.Log10(r.hi)
	width := (lr1 - lr0) / float64(bins)
	var total float64
	for _, b := range buckets {
		total += float64(b.Count)
	}
	if total == 0 {
		return out
	}
	for _, b := range buckets {
		lo, hi := math.Max(b.Lower, r.lo), math.Max(b.Upper, r.lo)
		l0, l1 := math.Log10(lo), math.Log10(hi)
		if l1 <= l0 {
			l1 = l0 + 1e-9
		}
		first := int(math.Floor((l0 - lr0) / width))
		last := int(math.Floor((l1 - lr0) / width))
		for i := max(first, 0); i <= min(last, bins-1); i++ {
			a := math.Max(l0, lr0+float64(i)*width)
			z := math.Min(l1, lr0+float64(i+1)*width)
			if z > a {
				out[i] += float64(b.Count) * (z - a) / (l1 - l0)
			}
		}
	}
	for i := range out {
		out[i] = 100 * out[i] / total
	}
	return out
}

// histogramChart draws one histogram kind for every version over a shared
// x range.
func histogramChart(title string, l Latency, xr logRange) template.HTML {
	// enough bins to show the shape, few enough that sparse data is not
	// all spikes
	var most int64
	for _, v := range l.Versions {
		most = max(most, v.Count)
	}
	bins := int(math.Max(16, math.Min(48, 2*math.Sqrt(float64(most)))))
	d := newSVG(title, chartH)
	xs := scale{lo: xr.lo, hi: xr.hi, log: true, pLo: d.x0, pHi: d.x1}
	dens := make([][]float64, len(l.Versions))
	ymax := 0.0
	for i, v := range l.Versions {
		dens[i] = rebin(v.buckets, xr, bins)
		for _, p := range dens[i] {
			ymax = math.Max(ymax, p)
		}
	}
	if ymax == 0 {
		ymax = 1
	}
	ticks := linTicks(0, ymax*1.05, 4)
	ys := scale{lo: 0, hi: math.Max(ymax*1.05, ticks[len(ticks)-1]), pLo: d.y0, pHi: d.y1}
	for _, t := range ticks {
		d.yTick(ys.px(t), tickLabel(t)+"%")
	}
	for _, t := range logTicks(xr.lo, xr.hi) {
		d.xTick(xs.px(t), tickLabel(t))
	}
	d.frame(l.Kind+" (msec, log scale)", "% of requests")
	for i, v := range l.Versions {
		if v.Count == 0 {
			continue
		}
		var path strings.Builder
		fmt.Fprintf(&path, "M%s %s", f(d.x0), f(d.y0))
		for b, p := range dens[i] {
			xa := d.x0 + (d.x1-d.x0)*float64(b)/float64(bins)
			xb := d.x0 + (d.x1-d.x0)*float64(b+1)/float64(bins)
			y := ys.px(p)
			fmt.Fprintf(&path, "L%s %sL%s %s", f(xa), f(y), f(xb), f(y))
		}
		fmt.Fprintf(&path, "L%s %sZ", f(d.x1), f(d.y0))
		c := i % palette
		d.add(`<path class="area c%d" d="%s"><title>%s</title></path>`, c, path.String(), esc(v.Version+": "+l.Metric+", "+strconv.FormatInt(v.Count, 10)+" requests"))
	}
	return d.html()
}

// nines maps a percentile to its position on the "number of nines" axis:
// p90 → 1, p99 → 2, p99.9 → 3.
func nines(p float64) float64 { return -math.Log10(1 - p/100) }

// percentileChart draws latency against percentile (p50 to p99.99) for every
// version, both axes logarithmic.
func percentileChart(title string, l Latency, yr logRange) template.HTML {
	d := newSVG(title, chartH)
	marks := landmarkPercentiles()
	xs := scale{lo: nines(marks[0]), hi: nines(marks[len(marks)-1]), pLo: d.x0, pHi: d.x1}
	ys := scale{lo: yr.lo, hi: yr.hi, log: true, pLo: d.y0, pHi: d.y1}
	landmarks := map[float64]bool{}
	for _, p := range marks {
		landmarks[p] = true
		d.xTick(xs.px(nines(p)), percentileName(p))
	}
	for _, t := range logTicks(yr.lo, yr.hi) {
		d.yTick(ys.px(t), tickLabel(t))
	}
	d.frame("percentile", l.Kind+" (msec, log scale)")
	for i, v := range l.Versions {
		if !v.hasPercentiles() {
			continue
		}
		c := i % palette
		var pts, dots strings.Builder
		for k, pt := range v.curve {
			x, y := xs.px(nines(pt.Percentile)), ys.px(pt.Value)
			if k == 0 {
				fmt.Fprintf(&pts, "M%s %s", f(x), f(y))
			} else {
				fmt.Fprintf(&pts, "L%s %s", f(x), f(y))
			}
			if landmarks[pt.Percentile] {
				fmt.Fprintf(&dots, `<circle class="dot c%d" cx="%s" cy="%s" r="3"><title>%s</title></circle>`,
					c, f(x), f(y), esc(fmt.Sprintf("%s %s: %s msec", v.Version, percentileName(pt.Percentile), num(pt.Value))))
			}
		}
		d.add(`<path class="line c%d" d="%s"/>%s`, c, pts.String(), dots.String())
	}
	return d.html()
}

// trendChart draws one SLO's metric over loops for every version, the limit
// as a dashed line, and below the plot one strip per version with each
// loop's outcome.
func trendChart(r *Report, idx int) template.HTML {
	s := r.SLOs[idx]
	t := newTrend(r, idx)
	t.axes()
	t.limit()
	for v := range s.Results {
		t.series(v)
	}
	for v := range s.Results {
		t.strip(v)
	}
	return t.d.html()
}

// stripH is the height of one outcome strip under a trend chart.
const stripH = 12.0

// trend is one trend chart being drawn.
type trend struct {
	r      *Report
	idx    int // the SLO's index
	s      SLO
	d      *svgDoc
	xs, ys scale
	// first and last are the loops on the x axis.
	first, last float64
	// ticks are the y axis ticks; any is set when some loop recorded a
	// value of the metric.
	ticks []float64
	any   bool
}

// newTrend sizes the chart: the loops on x, and on y the metric's values
// and the limit (and zero).
func newTrend(r *Report, idx int) *trend {
	s := r.SLOs[idx]
	d := newSVG("trend of "+s.Condition, chartH+stripH*float64(len(s.Results))+6)
	// the plot ends above the outcome strips
	d.y0 = chartH - padBottom
	d.xTitleY = d.y0 + 32
	t := &trend{r: r, idx: idx, s: s, d: d}
	t.first, t.last = float64(r.Loops[0].first()), float64(r.Loops[len(r.Loops)-1].Loop)
	if t.last == t.first {
		t.last = t.first + 1
	}
	t.xs = scale{lo: t.first, hi: t.last, pLo: d.x0 + 6, pHi: d.x1 - 6}
	lo, hi := math.Min(0, s.Limit), s.Limit
	for _, l := range r.Loops {
		for v := range s.Results {
			if val, ok := t.value(l, v); ok {
				lo, hi, t.any = math.Min(lo, val), math.Max(hi, val), true
			}
		}
	}
	if hi == lo {
		hi = lo + 1
	}
	t.ticks = linTicks(lo, hi+(hi-lo)*0.08, 4)
	t.ys = scale{lo: math.Min(lo, t.ticks[0]), hi: math.Max(hi+(hi-lo)*0.08, t.ticks[len(t.ticks)-1]), pLo: d.y0, pHi: d.y1}
	return t
}

// value is the SLO metric's value for a version at the end of a loop.
func (t *trend) value(l Loop, version int) (float64, bool) {
	if version >= len(l.Values) {
		return 0, false
	}
	val, ok := l.Values[version][t.s.Metric]
	return val, ok && !math.IsNaN(val) && !math.IsInf(val, 0)
}

// axes draws the ticks, the frame and the axis titles.
func (t *trend) axes() {
	d := t.d
	for _, tick := range t.ticks {
		d.yTick(t.ys.px(tick), tickLabel(tick))
	}
	for _, tick := range linTicks(t.first, t.last, 6) {
		if tick == math.Trunc(tick) {
			d.xTick(t.xs.px(tick), strconv.FormatFloat(tick, 'f', 0, 64))
		}
	}
	yTitle := t.s.Metric
	if t.s.Units != "" {
		yTitle += " (" + t.s.Units + ")"
	}
	d.frame("loop", yTitle)
}

// limit draws the limit as a dashed line, and says so when there is no
// value to draw.
func (t *trend) limit() {
	d, s := t.d, t.s
	ly := t.ys.px(s.Limit)
	d.add(`<line class="limit" x1="%s" y1="%s" x2="%s" y2="%s"><title>%s</title></line>`, f(d.x0), f(ly), f(d.x1), f(ly), esc("limit "+num(s.Limit)))
	d.add(`<text class="limit-label" x="%s" y="%s" text-anchor="end">limit %s</text>`, f(d.x1-4), f(ly-4), esc(num(s.Limit)))
	if !t.any {
		d.add(`<text class="note" x="%s" y="%s" text-anchor="middle">no per-loop values recorded for this metric</text>`, f((d.x0+d.x1)/2), f((d.y0+d.y1)/2))
	}
}

// series draws a version's line and a dot per loop; with many loops, dots
// only where the SLO did not pass, and smaller.
func (t *trend) series(v int) {
	dense, radius := len(t.r.Loops) > 30, "3"
	if dense {
		radius = "2"
	}
	c := v % palette
	var path, dots strings.Builder
	pen := "M"
	for _, l := range t.r.Loops {
		val, ok := t.value(l, v)
		if !ok {
			pen = "M"
			continue
		}
		// a merged entry's mean sits in the middle of its loops
		x, y := t.xs.px(float64(l.first()+l.Loop)/2), t.ys.px(val)
		fmt.Fprintf(&path, "%s%s %s", pen, f(x), f(y))
		pen = "L"
		o := t.r.trendOutcome(l, t.idx, v)
		if dense && o == slo.Passed {
			continue
		}
		fmt.Fprintf(&dots, `<circle class="dot c%d o-%s" cx="%s" cy="%s" r="%s"><title>%s</title></circle>`, c, labelOf(o).class, f(x), f(y), radius,
			esc(fmt.Sprintf("%s, %s: %s (%s)", versionLabel(t.r.Versions, v), loopSpan(l), num(val), labelOf(o).name)))
	}
	if path.Len() > 0 {
		t.d.add(`<path class="line c%d" d="%s"/>`, c, path.String())
	}
	t.d.b.WriteString(dots.String())
}

// strip draws a version's outcome per loop under the plot; a merged entry
// spans its loops.
func (t *trend) strip(v int) {
	d, idx := t.d, t.idx
	step := (t.xs.pHi - t.xs.pLo) / math.Max(t.last-t.first, 1)
	y := chartH + stripH*float64(v) - 2
	name := "outcome"
	if len(t.s.Results) > 1 {
		name = short(versionLabel(t.r.Versions, v), 9)
	}
	d.add(`<text class="tick" x="%s" y="%s" text-anchor="end">%s</text>`, f(d.x0-5), f(y+9), esc(name))
	for _, l := range t.r.Loops {
		o := t.r.trendOutcome(l, idx, v)
		cw := math.Max(math.Min(step, 24), 1.5) + step*float64(l.covers()-1)
		x := t.xs.px(float64(l.Loop)) - math.Max(math.Min(step, 24), 1.5)/2 - step*float64(l.covers()-1)
		class := t.s.loopLabel(o).class
		what := labelOf(o).name
		if idx < len(l.Passed) && v < len(l.Passed[idx]) && l.covers() > 1 {
			what = fmt.Sprintf("passed in %d of %d loops; the last %s", l.Passed[idx][v], l.covers(), what)
			if l.Passed[idx][v] < l.covers() && o == slo.Passed {
				class = "mixed"
			}
		}
		d.add(`<rect class="strip %s" x="%s" y="%s" width="%s" height="%s"><title>%s</title></rect>`, class, f(x), f(y), f(math.Max(cw-1, 1)), f(stripH-2),
			esc(fmt.Sprintf("%s, %s: %s", versionLabel(t.r.Versions, v), loopSpan(l), what)))
	}
}

// short truncates a label for a narrow place.
func short(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// barSVG is a small horizontal bar for a share between 0 and 1.
func barSVG(share float64, class string) template.HTML {
	w := math.Max(0, math.Min(1, share)) * 100
	return template.HTML(fmt.Sprintf(`<svg class="bar" viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true"><rect class="bar-bg" width="100" height="10"/><rect class="%s" width="%s" height="10"/></svg>`, //nolint:gosec // no text from the experiment
		esc(class), f(w)))
}

// loopSpan names the loops an entry covers: "loop 7" or "loops 1-6".
func loopSpan(l Loop) string {
	if l.covers() > 1 {
		return fmt.Sprintf("loops %d-%d", l.first(), l.Loop)
	}
	return fmt.Sprintf("loop %d", l.Loop)
}
