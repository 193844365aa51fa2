package report

import (
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"strings"

	"iter8.tools/iter8/internal/slo"
)

var (
	//go:embed html.tmpl
	htmlSource string
	//go:embed html.css
	htmlCSS string

	htmlTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
		"num":         num,
		"outcomeName": func(o slo.Outcome) string { return labelOf(o).name },
		"seconds":     func(s float64) string { return strconv.FormatFloat(s, 'f', 2, 64) + " s" },
		"resultClass": func(r SLOResult) string { return r.label().class },
		"resultName":  func(r SLOResult) string { return r.label().name },
		"missing": func(m Metric, i int) *Missing {
			if i < len(m.Missing) {
				return m.Missing[i]
			}
			return nil
		},
	}).Parse(htmlSource))

	// htmlCSP allows the page's one stylesheet and nothing else: no script,
	// no image, font or connection, so the page cannot reach the network
	// even if a value from the experiment were not escaped.
	htmlCSP = func() string {
		sum := sha256.Sum256([]byte(htmlCSS))
		return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; base-uri 'none'; form-action 'none'"
	}()
)

func writeHTML(w io.Writer, r *Report, _ Options) error {
	page := newPage(r)
	if err := htmlTemplate.Execute(w, page); err != nil {
		return fmt.Errorf("writing HTML report: %w", err)
	}
	return nil
}

// page is what the HTML template shows.
type page struct {
	R            *Report
	CSP          string
	CSS          template.CSS
	Verdict      string
	VerdictClass string
	Legend       template.HTML
	Trends       []trendView
	Providers    []providerView
	Loads        []loadView
}

type trendView struct {
	SLO   SLO
	Chart template.HTML
}

type figureView struct {
	Caption string
	Chart   template.HTML
}

type rowView struct {
	Name  string
	Cells []string
}

type providerView struct {
	Title      string
	Histograms []figureView
	Curves     []figureView
	Columns    []string
	Rows       []rowView
}

type codeView struct {
	Name, Kind, Share string
	Count             int64
	Bar               template.HTML
}

type loadView struct {
	Load
	ErrorPct, Duration, Intended, Achieved, Delayed, Conns, CPU string
	Codes                                                       []codeView
	Notes                                                       []healthNote
	Pods                                                        []podView
}

func newPage(r *Report) *page {
	p := &page{R: r, CSP: htmlCSP, CSS: template.CSS(htmlCSS)} //nolint:gosec // our own stylesheet
	p.Verdict, p.VerdictClass = r.verdict()
	p.Legend = legend(r.Versions)
	if len(r.Loops) > 1 {
		for i, s := range r.SLOs {
			p.Trends = append(p.Trends, trendView{SLO: s, Chart: trendChart(r, i)})
		}
	}
	for _, prov := range r.providers() {
		p.Providers = append(p.Providers, providerPanel(r, prov))
	}
	for _, l := range r.Load {
		p.Loads = append(p.Loads, loadPanel(l))
	}
	return p
}

// legend shows each version's colour.
func legend(versions []string) template.HTML {
	var b strings.Builder
	b.WriteString(`<ul class="legend">`)
	for i, v := range versions {
		fmt.Fprintf(&b, `<li><svg viewBox="0 0 14 10" aria-hidden="true"><rect class="c%d" width="14" height="10"/></svg>%s</li>`, i%palette, esc(v))
	}
	b.WriteString(`</ul>`)
	return template.HTML(b.String()) //nolint:gosec // escaped
}

// providerPanel shows a provider's latency: histograms, percentile curves
// and a table.
func providerPanel(r *Report, provider string) providerView {
	ls := r.latencyOf(provider)
	v := providerView{Title: provider}
	if len(ls) > 0 && ls[0].Endpoint != "" {
		ep := ls[0].Endpoint
		v.Title = "Endpoint " + ep + " (" + provider + ")"
	} else if len(r.providers()) > 1 {
		v.Title = "All requests (" + provider + ")"
	}
	xr, yr := sharedAxes(ls)
	for _, l := range ls {
		v.Histograms = append(v.Histograms, figureView{Caption: "Histogram of " + l.Metric, Chart: histogramChart("histogram of "+l.Metric, l, xr)})
	}
	for _, l := range ls {
		if hasPercentiles(l) {
			v.Curves = append(v.Curves, figureView{Caption: "Percentiles of " + l.Metric, Chart: percentileChart("percentiles of "+l.Metric, l, yr)})
		}
	}
	v.Columns, v.Rows = latencyTable(r.Versions, ls)
	return v
}

// sharedAxes are the ranges of a provider's histogram charts (x) and
// percentile charts (y), shared so that latency and service time compare at
// a glance.
func sharedAxes(ls []Latency) (xr, yr logRange) {
	for _, l := range ls {
		for _, lv := range l.Versions {
			for _, b := range lv.buckets {
				if b.Count > 0 {
					xr.add(b.Lower)
					xr.add(b.Upper)
				}
			}
			if len(lv.curve) > 0 {
				yr.add(lv.curve[0].Value)
				yr.add(lv.curve[len(lv.curve)-1].Value)
			}
		}
	}
	return xr.padded(), yr.padded()
}

// latencyTable has a column per version and histogram kind, and a row per
// statistic: requests, mean, the reported percentiles and max.
func latencyTable(versions []string, ls []Latency) ([]string, []rowView) {
	var columns []string
	for _, vi := range versions {
		for _, l := range ls {
			c := l.Kind
			if len(versions) > 1 {
				c = vi + " " + l.Kind
			}
			columns = append(columns, c)
		}
	}
	var rows []rowView
	row := func(name string, get func(LatencyVersion) (float64, bool)) {
		rv := rowView{Name: name}
		for vi := range versions {
			for _, l := range ls {
				c := "–"
				if vi < len(l.Versions) {
					if x, ok := get(l.Versions[vi]); ok {
						c = num(x)
					}
				}
				rv.Cells = append(rv.Cells, c)
			}
		}
		rows = append(rows, rv)
	}
	row("requests", func(lv LatencyVersion) (float64, bool) { return float64(lv.Count), lv.Count > 0 })
	row("mean", func(lv LatencyVersion) (float64, bool) { return deref(lv.Mean) })
	for _, p := range reportedPercentiles() {
		row(percentileName(p), func(lv LatencyVersion) (float64, bool) { return lv.percentile(p) })
	}
	row("max", func(lv LatencyVersion) (float64, bool) { return deref(lv.Max) })
	return columns, rows
}

func deref(p *float64) (float64, bool) {
	if p == nil {
		return 0, false
	}
	return *p, true
}

func hasPercentiles(l Latency) bool {
	for _, v := range l.Versions {
		if v.hasPercentiles() {
			return true
		}
	}
	return false
}

func loadPanel(l Load) loadView {
	v := loadView{Load: l, ErrorPct: pct(l.Errors, l.Requests), Duration: num(l.DurationSeconds) + " s",
		Intended: "–", Achieved: num(l.AchievedRate) + " req/s", Delayed: strconv.FormatInt(l.Delayed, 10),
		Conns: connectionsOf(l), CPU: strconv.FormatFloat(100*l.CPUUtilization, 'f', 1, 64) + "%", Notes: healthNotes(l), Pods: podViews(l.Pods)}
	if l.IntendedRate > 0 {
		v.Intended = num(l.IntendedRate) + " req/s"
		v.Achieved += " (" + strconv.FormatFloat(100*l.AchievedRate/l.IntendedRate, 'f', 1, 64) + "%)"
	}
	for _, c := range l.Codes {
		kind := map[string]string{"http-status": "HTTP status", "grpc-code": "gRPC code", "connection-error": "connection error", inFlightAtAbort: "no answer before the abort"}[c.Kind]
		share := 0.0
		if l.Requests > 0 {
			share = float64(c.Count) / float64(l.Requests)
		}
		class := "bar-ok"
		switch {
		case c.Kind == inFlightAtAbort:
			class = "bar-unknown" // no answer, and no error either
		case isErrorCode(c):
			class = "bar-err"
		}
		v.Codes = append(v.Codes, codeView{Name: c.name(), Kind: kind, Count: c.Count, Share: pct(c.Count, l.Requests), Bar: barSVG(share, class)})
	}
	return v
}

// isErrorCode guesses whether responses with this code were errors: failures
// to get a response, HTTP 4xx/5xx (the default errorRanges), and gRPC codes
// other than OK.
func isErrorCode(c Code) bool {
	switch c.Kind {
	case "http-status":
		n, _ := strconv.Atoi(c.Code)
		return n >= 400
	case "grpc-code":
		return c.Code != "0" && c.Code != "OK"
	case inFlightAtAbort:
		return false
	}
	return true
}

func pct(n, of int64) string {
	if of == 0 {
		return "–"
	}
	return strconv.FormatFloat(100*float64(n)/float64(of), 'f', 1, 64) + "%"
}
