package report_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strconv"
	"testing"
	"time"

	"iter8.tools/iter8/internal/report"
)

type junitTestsuites struct {
	XMLName  xml.Name         `xml:"testsuites"`
	Tests    int              `xml:"tests,attr"`
	Failures int              `xml:"failures,attr"`
	Errors   int              `xml:"errors,attr"`
	Skipped  int              `xml:"skipped,attr"`
	Suites   []junitTestsuite `xml:"testsuite"`
}

type junitTestsuite struct {
	Name      string          `xml:"name,attr"`
	Tests     int             `xml:"tests,attr"`
	Failures  int             `xml:"failures,attr"`
	Errors    int             `xml:"errors,attr"`
	Skipped   int             `xml:"skipped,attr"`
	Time      string          `xml:"time,attr"`
	Timestamp string          `xml:"timestamp,attr"`
	Cases     []junitTestcase `xml:"testcase"`
}

type junitTestcase struct {
	Name      string    `xml:"name,attr"`
	Classname string    `xml:"classname,attr"`
	Time      string    `xml:"time,attr"`
	Failure   *struct{} `xml:"failure"`
	Error     *struct{} `xml:"error"`
	Skipped   *struct{} `xml:"skipped"`
}

// junitSchema is the common JUnit XML shape that CI systems read (the
// Jenkins/Ant schema): each element's allowed attributes and children, and
// its required attributes.
var junitSchema = map[string]struct {
	attrs, children, required []string
}{
	"testsuites": {attrs: []string{"name", "tests", "failures", "errors", "skipped", "disabled", "time"}, children: []string{"testsuite"}},
	"testsuite": {attrs: []string{"name", "tests", "failures", "errors", "skipped", "disabled", "time", "timestamp", "hostname", "id", "package", "file"},
		children: []string{"properties", "testcase", "system-out", "system-err"}, required: []string{"name", "tests"}},
	"properties": {children: []string{"property"}},
	"property":   {attrs: []string{"name", "value"}, required: []string{"name", "value"}},
	"testcase": {attrs: []string{"name", "classname", "assertions", "time", "status", "file", "line"},
		children: []string{"skipped", "error", "failure", "system-out", "system-err"}, required: []string{"name"}},
	"skipped":    {attrs: []string{"message"}},
	"error":      {attrs: []string{"message", "type"}},
	"failure":    {attrs: []string{"message", "type"}},
	"system-out": {},
	"system-err": {},
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// checkJUnitShape walks the document and checks every element and attribute
// against junitSchema, and that numbers and timestamps parse.
func checkJUnitShape(t *testing.T, doc []byte) {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(doc))
	var stack []string
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v", err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			name := el.Name.Local
			rule, ok := junitSchema[name]
			switch {
			case !ok:
				t.Errorf("unknown element <%s>", name)
			case len(stack) == 0 && name != "testsuites":
				t.Errorf("root is <%s>, want <testsuites>", name)
			case len(stack) > 0 && !contains(junitSchema[stack[len(stack)-1]].children, name):
				t.Errorf("<%s> inside <%s>", name, stack[len(stack)-1])
			}
			seen := map[string]bool{}
			for _, a := range el.Attr {
				seen[a.Name.Local] = true
				if !contains(rule.attrs, a.Name.Local) {
					t.Errorf("<%s> has unknown attribute %s", name, a.Name.Local)
				}
				switch a.Name.Local {
				case "tests", "failures", "errors", "skipped":
					if n, err := strconv.Atoi(a.Value); err != nil || n < 0 {
						t.Errorf("<%s %s=%q> is not a count", name, a.Name.Local, a.Value)
					}
				case "time":
					if _, err := strconv.ParseFloat(a.Value, 64); err != nil {
						t.Errorf("<%s time=%q> is not seconds", name, a.Value)
					}
				case "timestamp":
					if _, err := time.Parse("2006-01-02T15:04:05", a.Value); err != nil {
						t.Errorf("<%s timestamp=%q>: %v", name, a.Value, err)
					}
				}
			}
			for _, r := range rule.required {
				if !seen[r] {
					t.Errorf("<%s> lacks %s", name, r)
				}
			}
			stack = append(stack, name)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		}
	}
}

// The JUnit report parses as the common JUnit XML shape, with counts that
// add up and one test case per SLO and version.
func TestJUnitShape(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fixture                            string
		slos, failures, errors, skippedAll int
	}{
		{"one-version", 4, 2, 0, 0},
		{"two-versions", 8, 4, 0, 0},
		{"endpoints", 4, 1, 0, 0},
		{"multi-loop", 3, 1, 0, 0},
		{"no-data", 4, 1, 2, 1},
		{"grpc", 3, 1, 0, 0},
		{"failed", 1, 0, 0, 1},
		{"no-insights", 0, 0, 0, 2},
		{"hostile", 4, 2, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			t.Parallel()
			doc := render(t, "junit", load(t, tt.fixture), report.Options{})
			checkJUnitShape(t, doc)
			var s junitTestsuites
			if err := xml.Unmarshal(doc, &s); err != nil {
				t.Fatal(err)
			}
			if len(s.Suites) != 2 || s.Suites[0].Name != "iter8 SLOs" || s.Suites[1].Name != "iter8 tasks" {
				t.Fatalf("suites %+v", s.Suites)
			}
			slos := s.Suites[0]
			if slos.Tests != tt.slos || len(slos.Cases) != tt.slos || slos.Failures != tt.failures || slos.Errors != tt.errors {
				t.Errorf("SLO suite: %d tests (%d cases), %d failures, %d errors; want %d, %d, %d", slos.Tests, len(slos.Cases), slos.Failures, slos.Errors, tt.slos, tt.failures, tt.errors)
			}
			var tests, failures, errs, skipped int
			for _, suite := range s.Suites {
				f, e, sk := 0, 0, 0
				for _, c := range suite.Cases {
					if c.Failure != nil {
						f++
					}
					if c.Error != nil {
						e++
					}
					if c.Skipped != nil {
						sk++
					}
				}
				if suite.Tests != len(suite.Cases) || suite.Failures != f || suite.Errors != e || suite.Skipped != sk {
					t.Errorf("suite %s: counts %d/%d/%d/%d do not match its cases %d/%d/%d/%d", suite.Name, suite.Tests, suite.Failures, suite.Errors, suite.Skipped, len(suite.Cases), f, e, sk)
				}
				tests, failures, errs, skipped = tests+suite.Tests, failures+suite.Failures, errs+suite.Errors, skipped+suite.Skipped
			}
			if s.Tests != tests || s.Failures != failures || s.Errors != errs || s.Skipped != skipped {
				t.Errorf("testsuites counts %d/%d/%d/%d, suites add up to %d/%d/%d/%d", s.Tests, s.Failures, s.Errors, s.Skipped, tests, failures, errs, skipped)
			}
			if skipped != tt.skippedAll {
				t.Errorf("%d skipped, want %d", skipped, tt.skippedAll)
			}
		})
	}
}
