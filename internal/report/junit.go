package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"

	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/slo"
)

func writeJUnit(w io.Writer, r *Report, _ Options) error {
	timestamp := ""
	if r.StartTime != nil {
		timestamp = r.StartTime.UTC().Format("2006-01-02T15:04:05")
	}
	all := junitSuites{Name: "iter8", Suites: []junitSuite{sloSuite(r, timestamp), taskSuite(r, timestamp)}}
	for _, s := range all.Suites {
		all.add(s.junitTotals)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(all); err != nil {
		return fmt.Errorf("writing JUnit report: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// sloSuite has a test case per SLO and version.
func sloSuite(r *Report, timestamp string) junitSuite {
	suite := junitSuite{Name: "iter8 SLOs", Timestamp: timestamp, Properties: junitProps(r)}
	for _, s := range r.SLOs {
		for _, res := range s.Results {
			c := junitCase{Name: s.Condition, Classname: "iter8.slos"}
			if len(r.Versions) > 1 {
				c.Name += " [" + res.Version + "]"
			}
			value := "no value"
			if res.Value != nil {
				value = "value " + num(*res.Value)
			}
			msg := labelOf(res.Outcome).name + ": " + value + ", limit " + num(s.Limit)
			if res.Reason != "" {
				msg += " (" + res.Reason + ")"
			}
			switch {
			case res.Outcome == slo.Passed:
				c.SystemOut = msg
			case res.Ignored:
				c.Skipped = &junitResult{Message: "no data, ignored (onNoData: ignore): " + res.Reason}
			case res.Outcome == slo.Invalid || res.Outcome == slo.Error:
				c.Error = &junitResult{Message: msg, Type: string(res.Outcome), Text: s.Description}
			default:
				c.Failure = &junitResult{Message: msg, Type: string(res.Outcome), Text: s.Description}
			}
			suite.addCase(c)
		}
	}
	return suite
}

// taskSuite has a test case per task.
func taskSuite(r *Report, timestamp string) junitSuite {
	suite := junitSuite{Name: "iter8 tasks", Timestamp: timestamp}
	for _, t := range r.Tasks {
		c := junitCase{Name: fmt.Sprintf("task %d: %s", t.Index, t.Name), Classname: "iter8.tasks", Time: junitSeconds(t.DurationSeconds)}
		switch experiment.TaskState(t.State) {
		case experiment.Completed:
		case experiment.Failed:
			c.Failure = &junitResult{Message: firstLine(t.Error), Type: "failed", Text: t.Error}
		case experiment.Skipped:
			c.Skipped = &junitResult{Message: "skipped: its if condition was false"}
		default:
			c.Skipped = &junitResult{Message: "did not run: " + t.State}
		}
		suite.addCase(c)
	}
	return suite
}

func junitProps(r *Report) *junitProperties {
	p := &junitProperties{}
	add := func(k, v string) { p.Props = append(p.Props, junitProperty{Name: k, Value: v}) }
	add("iter8Version", r.Iter8Version)
	add("completed", strconv.FormatBool(r.Status.Completed))
	add("failure", strconv.FormatBool(r.Status.Failure))
	if r.Status.FailureReason != "" {
		add("failureReason", r.Status.FailureReason)
	}
	add("loops", strconv.Itoa(r.Status.Loops))
	add("insights", strconv.FormatBool(r.Status.Insights))
	add("versions", strings.Join(r.Versions, ", "))
	return p
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

type junitSuites struct {
	XMLName xml.Name `xml:"testsuites"`
	Name    string   `xml:"name,attr"`
	junitTotals
	Suites []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name string `xml:"name,attr"`
	junitTotals
	Timestamp  string           `xml:"timestamp,attr,omitempty"`
	Properties *junitProperties `xml:"properties,omitempty"`
	Cases      []junitCase      `xml:"testcase"`
}

// junitTotals count the test cases of a suite, or of all suites.
type junitTotals struct {
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     junitSeconds `xml:"time,attr"`
}

func (t *junitTotals) add(o junitTotals) {
	t.Tests += o.Tests
	t.Failures += o.Failures
	t.Errors += o.Errors
	t.Skipped += o.Skipped
	t.Time += o.Time
}

func (s *junitSuite) addCase(c junitCase) {
	s.Cases = append(s.Cases, c)
	t := junitTotals{Tests: 1, Time: c.Time}
	switch {
	case c.Failure != nil:
		t.Failures = 1
	case c.Error != nil:
		t.Errors = 1
	case c.Skipped != nil:
		t.Skipped = 1
	}
	s.add(t)
}

type junitProperties struct {
	Props []junitProperty `xml:"property"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string       `xml:"name,attr"`
	Classname string       `xml:"classname,attr"`
	Time      junitSeconds `xml:"time,attr"`
	Skipped   *junitResult `xml:"skipped,omitempty"`
	Failure   *junitResult `xml:"failure,omitempty"`
	Error     *junitResult `xml:"error,omitempty"`
	SystemOut string       `xml:"system-out,omitempty"`
}

type junitResult struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

// junitSeconds prints a duration in seconds with millisecond precision.
type junitSeconds float64

func (s junitSeconds) MarshalXMLAttr(name xml.Name) (xml.Attr, error) {
	return xml.Attr{Name: name, Value: strconv.FormatFloat(float64(s), 'f', 3, 64)}, nil
}
