package provider

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"iter8.tools/iter8/internal/provider/providertest"
)

// api is a REST API answering by path, and checking a bearer token on
// /private.
func api(t *testing.T, token string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var authorized atomic.Int64
	mux := http.NewServeMux()
	reply := func(path, body string) {
		mux.HandleFunc(path, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, body) })
	}
	reply("/number", `{"data": {"result": [{"value": [1, 0.25]}]}}`)
	reply("/string", `{"data": {"result": [{"value": [1, "42.5"]}]}}`)
	reply("/empty", `{"data": {"result": []}}`)
	reply("/nan", `{"data": {"result": [{"value": [1, "NaN"]}]}}`)
	reply("/inf", `{"data": {"result": [{"value": [1, "+Inf"]}]}}`)
	reply("/word", `{"data": {"result": [{"value": [1, "high"]}]}}`)
	reply("/gosyntax", `{"data": {"result": [{"value": [1, "1_0"]}], "hex": "0x1p-2"}}`)
	reply("/object", `{"data": {"result": [{"value": [1, {"a": 1}]}]}}`)
	reply("/html", `<html>oops</html>`)
	mux.HandleFunc("/status", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"status":"error","errorType":"bad_data","error":"parse error at char 5"}`)
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		// A server that echoes credentials in its error.
		w.WriteHeader(http.StatusForbidden)
		_, _ = fmt.Fprintf(w, "denied for %s (query %s)", r.Header.Get("Authorization"), r.URL.RawQuery)
	})
	mux.HandleFunc("/query", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, _ = fmt.Fprintf(w, `{"method": %q, "q": %q, "body": %q, "ct": %q}`, r.Method, r.URL.Query().Get("q"), b, r.Header.Get("Content-Type"))
	})
	mux.HandleFunc("/private", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		authorized.Add(1)
		_, _ = io.WriteString(w, `{"v": 7}`)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, &authorized
}

func collect(t *testing.T, c *Client, text string, vals map[string]any) []Measurement {
	t.Helper()
	spec, err := render(t, "p", text, vals)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := c.Collect(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func TestCollectREST(t *testing.T) {
	t.Setenv("ITER8_PROVIDER_TEST_TOKEN", "tok-3141")
	t.Setenv("ITER8_PROVIDER_TEST_TAB_TOKEN", "tab\t\ttok-2718")
	srv, authorized := api(t, "tok-3141")
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	const jq = ".data.result[0].value[1]"
	tests := []struct {
		name, url, jq, method string
		headers               map[string]any
		status                Status
		value                 float64
		reason                string
	}{
		{"number", srv.URL + "/number", jq, "", nil, OK, 0.25, ""},
		{"numeric string", srv.URL + "/string", jq, "", nil, OK, 42.5, ""},
		{"tonumber", srv.URL + "/string", jq + " | tonumber", "", nil, OK, 42.5, ""},
		{"no result", srv.URL + "/empty", jq, "", nil, NoData, 0, `jq expression ".data.result[0].value[1]" returned null`},
		{"no output", srv.URL + "/empty", ".data.result[]", "", nil, NoData, 0, `jq expression ".data.result[]" returned no result`},
		{"NaN", srv.URL + "/nan", jq, "", nil, NoData, 0, `returned NaN (for example a ratio of zero to zero)`},
		{"infinity", srv.URL + "/inf", jq, "", nil, Failed, 0, `returned +Inf, which cannot be judged (histogram_quantile gives +Inf when the quantile lies above the largest finite bucket: add a larger bucket)`},
		{"not a number", srv.URL + "/word", jq, "", nil, Failed, 0, `jq expression ".data.result[0].value[1]" returned the string "high", not a number`},
		{"Go's digit separators", srv.URL + "/gosyntax", jq, "", nil, Failed, 0, `returned the string "1_0", not a number`},
		{"a hexadecimal float", srv.URL + "/gosyntax", ".data.hex", "", nil, Failed, 0, `returned the string "0x1p-2", not a number`},
		{"an object", srv.URL + "/object", jq, "", nil, Failed, 0, `returned {"a":1}, not a number`},
		{"jq runtime error", srv.URL + "/empty", jq + " | tonumber", "", nil, Failed, 0, `jq expression ".data.result[0].value[1] | tonumber" failed: `},
		{"HTTP status", srv.URL + "/status", jq, "", nil, Failed, 0, `GET ` + srv.URL + `/status: HTTP 400 Bad Request: {"status":"error","errorType":"bad_data","error":"parse error at char 5"}`},
		{"not JSON", srv.URL + "/html", jq, "", nil, Failed, 0, `the response is not JSON`},
		{"connection refused", closed.URL + "/number", jq, "", nil, Failed, 0, "GET " + closed.URL + "/number: dial tcp " + strings.TrimPrefix(closed.URL, "http://") + ": connect: connection refused"},
		{"timeout", srv.URL + "/slow", jq, "", nil, Failed, 0, "GET " + srv.URL + "/slow: no response within 300ms"},
		{"secret header", srv.URL + "/private", ".v", "", map[string]any{"Authorization": "Bearer ${env:ITER8_PROVIDER_TEST_TOKEN}"}, OK, 7, ""},
		{"wrong secret", srv.URL + "/private", ".v", "", map[string]any{"Authorization": "Bearer nope"}, Failed, 0, "HTTP 401 Unauthorized: (empty body)"},
		{"unset secret", srv.URL + "/private", ".v", "", map[string]any{"Authorization": "Bearer ${env:ITER8_PROVIDER_TEST_UNSET}"}, Failed, 0, "header Authorization: secret: resolving ${env:ITER8_PROVIDER_TEST_UNSET}: environment variable ITER8_PROVIDER_TEST_UNSET is not set"},
		{"echoed secret is redacted", srv.URL + "/echo?key=${env:ITER8_PROVIDER_TEST_TOKEN}", ".v", "", map[string]any{"Authorization": "Bearer ${env:ITER8_PROVIDER_TEST_TOKEN}"}, Failed, 0, "GET " + srv.URL + "/echo: HTTP 403 Forbidden: denied for Bearer [redacted] (query key=[redacted]&q=up)"},
		// the echo's white space is collapsed for the message: the
		// secret's tabs with it
		{"echoed secret with tabs", srv.URL + "/echo", ".v", "", map[string]any{"Authorization": "Bearer ${env:ITER8_PROVIDER_TEST_TAB_TOKEN}"}, Failed, 0, "HTTP 403 Forbidden: denied for Bearer [redacted] (query q=up)"},
		{"POST", srv.URL + "/query", ".method", "POST", nil, Failed, 0, `returned the string "POST", not a number`},
	}
	// (a timeout no busy machine reaches for the answers that come; 300 ms
	// for the one that never does)
	c, short := &Client{Timeout: time.Minute}, &Client{Timeout: 300 * time.Millisecond}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := c
			if tt.name == "timeout" {
				c = short
			}
			text := fmt.Sprintf("url: %q\nmethod: %q\nheaders: %s\nmetrics:\n- name: m\n  type: gauge\n  params: [{name: q, value: up}]\n  jqExpression: %q\n", tt.url, tt.method, toJSON(tt.headers), tt.jq)
			ms := collect(t, c, text, nil)
			m := ms[0]
			if m.Status != tt.status || m.Value != tt.value || !strings.Contains(m.Reason, tt.reason) || (tt.reason == "" && m.Reason != "") {
				t.Errorf("got %s %v %q\nwant %s %v %q", m.Status, m.Value, m.Reason, tt.status, tt.value, tt.reason)
			}
			if strings.Contains(m.Reason, "tok-3141") || strings.Contains(m.Reason, "tok-2718") {
				t.Errorf("the secret leaked: %s", m.Reason)
			}
		})
	}
	if authorized.Load() != 1 {
		t.Errorf("the API saw the right token %d times, want 1", authorized.Load())
	}
}

func toJSON(m map[string]any) string {
	if m == nil {
		return "{}"
	}
	var parts []string
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%q: %q", k, v))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// Params, body and content type reach the server as the spec says.
func TestCollectRequest(t *testing.T) {
	t.Parallel()
	srv, _ := api(t, "x")
	text := `url: ` + srv.URL + `/query
method: POST
metrics:
{{- range $f := list "method" "q" "body" "ct" }}
- name: {{ $f }}
  type: gauge
  params: [{name: q, value: 'sum(rate(x{a="b"}[1m]))'}]
  body: '{"n": 1}'
  jqExpression: '.{{ $f }} | length'
{{- end }}
`
	ms := collect(t, &Client{}, text, nil)
	want := map[string]float64{"method": 4, "q": float64(len(`sum(rate(x{a="b"}[1m]))`)), "body": 8, "ct": float64(len("application/json;charset=utf-8"))}
	for _, m := range ms {
		if m.Status != OK || m.Value != want[m.Metric.Name] {
			t.Errorf("%s: %s %v %s, want %v", m.Metric.Name, m.Status, m.Value, m.Reason, want[m.Metric.Name])
		}
	}
}

// A cancelled context stops the collection with its cause.
func TestCollectCancelled(t *testing.T) {
	t.Parallel()
	srv, _ := api(t, "x")
	spec, err := render(t, "p", "url: "+srv.URL+"/slow\nmetrics: [{name: a, type: gauge, jqExpression: .}]", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	time.AfterFunc(50*time.Millisecond, func() { cancel(fmt.Errorf("stopped by test")) })
	_, err = (&Client{}).Collect(ctx, spec)
	if err == nil || err.Error() != "stopped by test" {
		t.Errorf("error %v", err)
	}
}

// SQL metrics against a real PostgreSQL: values pass only as bound
// parameters, and each way of having no value or failing is told apart.
func TestCollectPostgres(t *testing.T) {
	t.Parallel()
	pg := providertest.StartPostgres(t)
	pg.Exec(t,
		`CREATE TABLE orders (version text, amount numeric, created_at timestamptz DEFAULT now())`,
		`INSERT INTO orders (version, amount) VALUES ('v1', 10.5), ('v1', 20), ('v2', 7)`,
	)
	tmpl := func(query string, args ...string) string {
		q := make([]string, len(args))
		for i, a := range args {
			q[i] = fmt.Sprintf("%q", a)
		}
		return fmt.Sprintf("driver: postgres\ndsn: %q\nmetrics:\n- name: m\n  type: gauge\n  query: %q\n  args: [%s]\n", "{{ .dsn }}", query, strings.Join(q, ", "))
	}
	dsn := pg.DSN()
	badPassword := strings.Replace(dsn, ":"+pg.Password+"@", ":wrong@", 1)
	closedPort := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = l.Close() }()
		return strings.Replace(dsn, fmt.Sprintf(":%d/", pg.Port), fmt.Sprintf(":%d/", l.Addr().(*net.TCPAddr).Port), 1)
	}()
	tests := []struct {
		name, text, dsn string
		vals            map[string]any
		status          Status
		value           float64
		reason          string
	}{
		{"count", tmpl("SELECT count(*) FROM orders WHERE version = $1", "{{ .version }}"), dsn, map[string]any{"version": "v1"}, OK, 2, ""},
		{"numeric sum", tmpl("SELECT sum(amount) FROM orders WHERE version = $1", "{{ .version }}"), dsn, map[string]any{"version": "v1"}, OK, 30.5, ""},
		{"time parameter", tmpl("SELECT count(*) FROM orders WHERE created_at >= $1", "{{ .startingTime }}"), dsn, map[string]any{"startingTime": "2000-01-01T00:00:00Z"}, OK, 3, ""},
		{"time parameter, cast as in the docs", tmpl("SELECT count(*) FROM orders WHERE created_at >= $1::timestamptz", "{{ .startingTime }}"), dsn, map[string]any{"startingTime": "2000-01-01T00:00:00Z"}, OK, 3, ""},
		{"injection is a value", tmpl("SELECT count(*) FROM orders WHERE version = $1", "{{ .version }}"), dsn, map[string]any{"version": "v1' OR '1'='1"}, OK, 0, ""},
		{"NULL", tmpl("SELECT sum(amount) FROM orders WHERE version = $1", "{{ .version }}"), dsn, map[string]any{"version": "v9"}, NoData, 0, "the SQL query returned NULL"},
		{"no rows", tmpl("SELECT amount FROM orders WHERE version = $1", "{{ .version }}"), dsn, map[string]any{"version": "v9"}, NoData, 0, "the SQL query returned no rows"},
		{"two rows", tmpl("SELECT amount FROM orders WHERE version = $1", "{{ .version }}"), dsn, map[string]any{"version": "v1"}, Failed, 0, "the SQL query returned more than one row"},
		{"two columns", tmpl("SELECT 1, 2"), dsn, nil, Failed, 0, "SQL query returned 2 columns (?column?, ?column?): expected one number"},
		{"text", tmpl("SELECT 'high'"), dsn, nil, Failed, 0, `the SQL query returned the string "high", not a number`},
		{"SQL error", tmpl("SELECT count(*) FROM nosuchtable"), dsn, nil, Failed, 0, `SQL query: ERROR: relation "nosuchtable" does not exist (SQLSTATE 42P01)`},
		{"wrong password", tmpl("SELECT 1"), badPassword, nil, Failed, 0, `password authentication failed for user "iter8"`},
		{"server down", tmpl("SELECT 1"), closedPort, nil, Failed, 0, "connect: connection refused"},
		{"bad dsn", tmpl("SELECT 1"), "postgres://x:y@127.0.0.1:notaport/db", nil, Failed, 0, "dsn postgres://x:y@127.0.0.1:notaport/db: cannot parse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			vals := map[string]any{"dsn": tt.dsn}
			for k, v := range tt.vals {
				vals[k] = v
			}
			spec, err := render(t, "p", tt.text, vals)
			if err != nil {
				t.Fatal(err)
			}
			ms, err := (&Client{Timeout: 10 * time.Second}).Collect(context.Background(), spec)
			if err != nil {
				t.Fatal(err)
			}
			m := ms[0]
			if m.Status != tt.status || m.Value != tt.value || !strings.Contains(m.Reason, tt.reason) || (tt.reason == "" && m.Reason != "") {
				t.Errorf("got %s %v %q\nwant %s %v %q", m.Status, m.Value, m.Reason, tt.status, tt.value, tt.reason)
			}
		})
	}
}

// The DSN comes from a secret reference; its password never appears in a
// message, even in the driver's.
func TestPostgresSecretDSN(t *testing.T) {
	pg := providertest.StartPostgres(t)
	t.Setenv("ITER8_PROVIDER_TEST_DSN", pg.DSN())
	ms := collect(t, &Client{}, "driver: postgres\ndsn: ${env:ITER8_PROVIDER_TEST_DSN}\nmetrics: [{name: one, type: gauge, query: SELECT 1}, {name: bad, type: gauge, query: SELECT x}]", nil)
	if ms[0].Status != OK || ms[0].Value != 1 {
		t.Errorf("one: %+v", ms[0])
	}
	if ms[1].Status != Failed || strings.Contains(ms[1].Reason, pg.Password) {
		t.Errorf("bad: %+v", ms[1])
	}
	t.Setenv("ITER8_PROVIDER_TEST_DSN", "postgres://iter8:"+pg.Password+"@127.0.0.1:notaport/x")
	ms = collect(t, &Client{}, "driver: postgres\ndsn: ${env:ITER8_PROVIDER_TEST_DSN}\nmetrics: [{name: one, type: gauge, query: SELECT 1}]", nil)
	if ms[0].Status != Failed || strings.Contains(ms[0].Reason, pg.Password) || !strings.Contains(ms[0].Reason, "dsn ${env:ITER8_PROVIDER_TEST_DSN}") {
		t.Errorf("a bad DSN: %+v", ms[0])
	}
}

// SQL metrics against a real MariaDB through the MySQL driver: "?"
// placeholders, DECIMAL results, and the same no-data and error outcomes.
func TestCollectMySQL(t *testing.T) {
	t.Parallel()
	my := providertest.StartMySQL(t)
	my.Exec(t,
		"CREATE TABLE orders (version varchar(8), amount decimal(10,2), created_at datetime DEFAULT CURRENT_TIMESTAMP)",
		"INSERT INTO orders (version, amount) VALUES ('v1', 10.5), ('v1', 20), ('v2', 7)",
	)
	tmpl := func(query string, args ...string) string {
		q := make([]string, len(args))
		for i, a := range args {
			q[i] = fmt.Sprintf("%q", a)
		}
		return fmt.Sprintf("driver: mysql\ndsn: %q\nmetrics:\n- name: m\n  type: gauge\n  query: %q\n  args: [%s]\n", "{{ .dsn }}", query, strings.Join(q, ", "))
	}
	tests := []struct {
		name, text string
		vals       map[string]any
		status     Status
		value      float64
		reason     string
	}{
		{"count", tmpl("SELECT count(*) FROM orders WHERE version = ?", "{{ .version }}"), map[string]any{"version": "v1"}, OK, 2, ""},
		{"decimal sum", tmpl("SELECT sum(amount) FROM orders WHERE version = ?", "{{ .version }}"), map[string]any{"version": "v1"}, OK, 30.5, ""},
		{"injection is a value", tmpl("SELECT count(*) FROM orders WHERE version = ?", "{{ .version }}"), map[string]any{"version": "v1' OR '1'='1"}, OK, 0, ""},
		{"NULL", tmpl("SELECT sum(amount) FROM orders WHERE version = ?", "{{ .version }}"), map[string]any{"version": "v9"}, NoData, 0, "the SQL query returned NULL"},
		{"no rows", tmpl("SELECT amount FROM orders WHERE version = ?", "{{ .version }}"), map[string]any{"version": "v9"}, NoData, 0, "the SQL query returned no rows"},
		{"text", tmpl("SELECT 'high'"), nil, Failed, 0, `the SQL query returned the string "high", not a number`},
		{"SQL error", tmpl("SELECT count(*) FROM nosuchtable"), nil, Failed, 0, "SQL query: Error 1146 (42S02): Table 'shop.nosuchtable' doesn't exist"},
		{"wrong password", tmpl("SELECT 1"), map[string]any{"dsn": strings.Replace(my.DSN(), ":"+my.Password+"@", ":wrong@", 1)}, Failed, 0, "Access denied for user 'iter8'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			vals := map[string]any{"dsn": my.DSN()}
			for k, v := range tt.vals {
				vals[k] = v
			}
			ms := collect(t, &Client{Timeout: 10 * time.Second}, tt.text, vals)
			m := ms[0]
			if m.Status != tt.status || m.Value != tt.value || !strings.Contains(m.Reason, tt.reason) || (tt.reason == "" && m.Reason != "") {
				t.Errorf("got %s %v %q\nwant %s %v %q", m.Status, m.Value, m.Reason, tt.status, tt.value, tt.reason)
			}
			if strings.Contains(m.Reason, my.Password) {
				t.Errorf("the password leaked: %s", m.Reason)
			}
		})
	}
}
