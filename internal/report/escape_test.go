package report_test

import (
	"bytes"
	"encoding/xml"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"iter8.tools/iter8/internal/report"
)

// hostileTexts are strings the hostile fixture puts in metric names, version
// names, URLs, descriptions, status codes and messages.
var hostileTexts = []string{
	`http/error-count<script>alert("metric")</script>`,
	`v1"><script>alert('v')</script>`,
	`<b onmouseover=alert(1)>`,
	`</style><script>alert('desc')</script>`,
	`"'><b>ms`,
	`http://127.0.0.1:1/?q="><script>alert('url')</script>&x='y'`,
	`<img src=x onerror="alert('task')">`,
	`<svg onload=alert('code')>`,
	`<a href="javascript:alert('r')">here</a>`,
	`http"><script>alert('provider')</script>`,
}

// htmlElements are the elements the HTML report is made of; anything else
// came from the experiment.
var htmlElements = map[string]bool{
	"html": true, "head": true, "meta": true, "title": true, "style": true, "body": true, "header": true, "div": true,
	"h1": true, "h2": true, "h3": true, "p": true, "ul": true, "li": true, "nav": true, "a": true, "main": true,
	"section": true, "table": true, "thead": true, "tbody": true, "tr": true, "th": true, "td": true, "code": true,
	"span": true, "strong": true, "figure": true, "figcaption": true, "footer": true,
	"svg": true, "path": true, "rect": true, "line": true, "circle": true, "text": true,
}

// Markup and quotes in names, URLs and messages of an experiment render as
// inert text in the HTML report: the page has only its own elements, no
// event handler, no script, no link out, and shows the strings as typed.
func TestHTMLEscapesExperimentText(t *testing.T) {
	t.Parallel()
	page := render(t, "html", load(t, "hostile"), report.Options{})
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		switch n.Type {
		case html.ElementNode:
			if !htmlElements[n.Data] {
				t.Errorf("unexpected element <%s>", n.Data)
			}
			for _, a := range n.Attr {
				if strings.HasPrefix(strings.ToLower(a.Key), "on") {
					t.Errorf("<%s> has an event handler %s=%q", n.Data, a.Key, a.Val)
				}
				if a.Key == "href" && !strings.HasPrefix(a.Val, "#") {
					t.Errorf("<%s> links out: %q", n.Data, a.Val)
				}
				if a.Key == "src" || a.Key == "style" || strings.Contains(strings.ToLower(a.Val), "javascript:") {
					t.Errorf("<%s> has %s=%q", n.Data, a.Key, a.Val)
				}
			}
		case html.TextNode:
			if n.Parent != nil && n.Parent.Data == "style" {
				break
			}
			text.WriteString(n.Data)
			text.WriteString("\n")
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	for _, s := range hostileTexts {
		if !strings.Contains(text.String(), s) {
			t.Errorf("the page does not show %q as text", s)
		}
	}
	if n := bytes.Count(page, []byte("<style>")); n != 1 {
		t.Errorf("%d style elements, want 1", n)
	}
}

// The other formats keep hostile text inert too: Markdown escapes it,
// JUnit XML encodes it, and the text report strips terminal control codes.
func TestOtherFormatsEscapeExperimentText(t *testing.T) {
	t.Parallel()
	exp := load(t, "hostile")
	md := string(render(t, "markdown", exp, report.Options{}))
	// outside code blocks and code spans (shown as typed), the only markup
	// is the report's own collapsible block
	outside := regexp.MustCompile("(?s)```.*?```|`[^`]*`").ReplaceAllString(md, "")
	outside = strings.NewReplacer("<details>", "", "</details>", "", "<summary>", "", "</summary>", "").Replace(outside)
	if i := strings.IndexByte(outside, '<'); i >= 0 {
		t.Errorf("markdown has raw markup: %q", outside[i:min(len(outside), i+40)])
	}
	if strings.ContainsAny(md, "\x1b\a") {
		t.Error("markdown passes terminal control codes through")
	}
	var suites junitTestsuites
	if err := xml.Unmarshal(render(t, "junit", exp, report.Options{}), &suites); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range suites.Suites {
		for _, c := range s.Cases {
			if strings.Contains(c.Name, `http/error-count<script>alert("metric")</script>`) {
				found = true
			}
		}
	}
	if !found {
		t.Error("the JUnit report lost the hostile metric name")
	}
	txt := render(t, "text", exp, report.Options{})
	if bytes.ContainsAny(txt, "\x1b\a") {
		t.Error("the text report passes terminal control codes through")
	}
	if !bytes.Contains(txt, []byte("&x='y'\uFFFD[2J")) || !bytes.Contains(txt, []byte(`http/error-count<script>`)) {
		t.Error("the text report lost the hostile text")
	}
}
