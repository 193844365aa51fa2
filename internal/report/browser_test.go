package report_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"iter8.tools/iter8/internal/report"
)

// artifactDir is where the browser test saves its screenshots:
// $ITER8_TEST_ARTIFACTS, or testdata/artifacts in this package (ignored by
// git).
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("ITER8_TEST_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("testdata", "artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// startChromium starts a real headless Chromium (Debian's chromium package)
// with a fresh profile and no way to reach the network: every host name
// resolves to nothing and every connection goes to a proxy that does not
// exist.
func startChromium(t *testing.T) context.Context {
	t.Helper()
	if testing.Short() {
		t.Skip("starts Chromium: needs the external browser; runs without -short")
	}
	path, err := exec.LookPath("chromium")
	if err != nil {
		path = "/usr/bin/chromium"
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("chromium is not installed (apt-get install chromium, as .ci/run does): %v", err)
		}
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND"),
		chromedp.Flag("proxy-server", "http://127.0.0.1:9"),
		chromedp.WindowSize(1280, 900),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	browser, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	// start the browser now, with no deadline (a deadline here would bound
	// the browser's whole life)
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return browser
}

// pageRun is what a page did in the browser.
type pageRun struct {
	mu       sync.Mutex
	console  []string
	requests []string
	blocked  []string
	dialogs  []string
}

func (p *pageRun) add(list *[]string, s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	*list = append(*list, s)
}

func (p *pageRun) snapshot() (console, requests, blocked, dialogs []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.console...), append([]string(nil), p.requests...), append([]string(nil), p.blocked...), append([]string(nil), p.dialogs...)
}

// openPage opens a file in a new tab of the browser, recording console
// messages, every request, and dialogs; requests for anything but the file
// itself are failed before they are sent.
func openPage(browser context.Context, t *testing.T, file string) (context.Context, *pageRun, string) {
	t.Helper()
	abs, err := filepath.Abs(file)
	if err != nil {
		t.Fatal(err)
	}
	fileURL := (&url.URL{Scheme: "file", Path: abs}).String()
	tab, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	run := &pageRun{}
	if err := chromedp.Do(tab); err != nil { // open the tab
		t.Fatal(err)
	}
	console := chromedp.Console(tab)
	requests := chromedp.Events(tab, network.RequestWillBeSent)
	paused := chromedp.Events(tab, fetch.RequestPaused)
	dialogs := chromedp.Events(tab, page.JavascriptDialogOpening)
	go func() {
		for m, err := range console {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleWarning || m.IsException() {
				run.add(&run.console, m.String())
			}
		}
	}()
	go func() {
		for ev, err := range requests {
			if err != nil {
				return
			}
			run.add(&run.requests, ev.Request.URL)
		}
	}()
	go func() {
		for ev, err := range paused {
			if err != nil {
				return
			}
			if ev.Request.URL == fileURL {
				_, _ = chromedp.Call(tab, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
				continue
			}
			run.add(&run.blocked, ev.Request.URL)
			_, _ = chromedp.Call(tab, fetch.FailRequest, fetch.FailRequestParams{RequestID: ev.RequestID, ErrorReason: network.ErrorReasonBlockedByClient})
		}
	}()
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			run.add(&run.dialogs, ev.Message)
			_, _ = chromedp.Call(tab, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	ctx, cancelTimeout := context.WithTimeout(tab, time.Minute)
	t.Cleanup(cancelTimeout)
	if _, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*"}}}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(fileURL), chromedp.WaitReady("body")); err != nil {
		t.Fatalf("opening %s: %v", fileURL, err)
	}
	return ctx, run, fileURL
}

// settle waits until the browser has delivered the page's events: a
// round trip through the page after the load, then until the recorded lists
// stop changing between two round trips (events and replies share one
// connection, so a reply means earlier events have arrived).
func settle(ctx context.Context, t *testing.T, run *pageRun) {
	t.Helper()
	last := -1
	for range 50 {
		if _, err := chromedp.Call(ctx, page.GetFrameTree, cdp.Empty{}); err != nil {
			t.Fatal(err)
		}
		c, r, b, d := run.snapshot()
		n := len(c) + len(r) + len(b) + len(d)
		if n == last {
			return
		}
		last = n
	}
}

func size(ctx context.Context, t *testing.T, sel string) (float64, float64) {
	t.Helper()
	box, err := chromedp.Run(ctx, chromedp.Dimensions(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("%s: %v", sel, err)
	}
	return float64(box.Width), float64(box.Height)
}

// The HTML report opened from a file in a real browser with the network
// blocked: nothing is requested but the file, the console stays clean, and
// the SLO table and the charts have a size. Screenshots (wide and phone)
// are saved as test artifacts.
func TestHTMLInChromium(t *testing.T) {
	t.Parallel()
	browser := startChromium(t)
	dir := t.TempDir()
	artifacts := artifactDir(t)
	// screenshots cost the most CPU: take them of the fixtures that show
	// the most (the checks run on all)
	shots := map[string]bool{"endpoints": true, "multi-loop": true, "no-data": true, "hostile": true}
	for _, fx := range []string{"endpoints", "grpc", "multi-loop", "two-versions", "no-data", "failed", "no-insights", "hostile"} {
		t.Run(fx, func(t *testing.T) {
			file := filepath.Join(dir, fx+".html")
			if err := os.WriteFile(file, render(t, "html", load(t, fx), report.Options{}), 0o644); err != nil {
				t.Fatal(err)
			}
			ctx, run, fileURL := openPage(browser, t, file)
			if fx != "no-insights" {
				if w, h := size(ctx, t, "#slo-table"); w < 100 || h < 40 {
					t.Errorf("SLO table is %vx%v", w, h)
				}
			}
			if fx != "no-insights" && fx != "failed" {
				if w, h := size(ctx, t, "svg.chart"); w < 200 || h < 100 {
					t.Errorf("first chart is %vx%v", w, h)
				}
				if w, h := size(ctx, t, "svg.chart path.area, svg.chart path.line"); w < 10 || h < 10 {
					t.Errorf("first chart's data is %vx%v", w, h)
				}
			}
			if w, h := size(ctx, t, "#verdict"); w == 0 || h == 0 {
				t.Errorf("verdict is %vx%v", w, h)
			}
			if shots[fx] {
				shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(artifacts, fx+".png"), shot, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			// a phone: the page must not be wider than the screen
			if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844)); err != nil {
				t.Fatal(err)
			}
			metrics, err := chromedp.Call(ctx, page.GetLayoutMetrics, cdp.Empty{})
			if err != nil {
				t.Fatal(err)
			}
			if w := metrics.CSSContentSize.Width; w > 391 {
				t.Errorf("on a 390 px wide phone the page is %v px wide", w)
			}
			if shots[fx] {
				shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(artifacts, fx+".phone.png"), shot, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			settle(ctx, t, run)
			console, requests, blocked, dialogs := run.snapshot()
			if len(console) > 0 {
				t.Errorf("console messages:\n%s", strings.Join(console, "\n"))
			}
			for _, u := range requests {
				if u != fileURL {
					t.Errorf("the page requested %s", u)
				}
			}
			if len(requests) == 0 {
				t.Errorf("no request was seen at all, not even for %s: the recorder is broken", fileURL)
			}
			if len(blocked) > 0 || len(dialogs) > 0 {
				t.Errorf("blocked requests %q, dialogs %q", blocked, dialogs)
			}
		})
	}
	t.Logf("screenshots are in %s", artifacts)
}

// The recorders of the browser test do see what they guard against: a page
// that logs an error, runs a script, and loads an image from the network.
func TestChromiumRecordersSeeViolations(t *testing.T) {
	t.Parallel()
	browser := startChromium(t)
	file := filepath.Join(t.TempDir(), "bad.html")
	bad := `<!DOCTYPE html><html><head><meta charset="utf-8"><title>bad</title></head><body>
<img src="http://127.0.0.1:9/leak.png"><script>console.error("boom")</script></body></html>`
	if err := os.WriteFile(file, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, run, _ := openPage(browser, t, file)
	deadline := time.Now().Add(30 * time.Second)
	for {
		settle(ctx, t, run)
		console, requests, blocked, _ := run.snapshot()
		leaked := strings.Contains(strings.Join(requests, " "), "leak.png") && strings.Contains(strings.Join(blocked, " "), "leak.png")
		if leaked && strings.Contains(strings.Join(console, " "), "boom") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("violations not seen: console %q requests %q blocked %q", console, requests, blocked)
		}
		if err := chromedp.Do(ctx, chromedp.WaitReady("body")); err != nil && !errors.Is(err, context.Canceled) {
			t.Fatal(fmt.Errorf("waiting: %w", err))
		}
	}
}
