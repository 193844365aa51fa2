package provider

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"iter8.tools/iter8/internal/secret"
	"iter8.tools/iter8/internal/source"
)

// Status says how a metric's query went.
type Status string

// Statuses.
const (
	OK     Status = "ok"
	NoData Status = "noData"
	Failed Status = "error"
)

// Measurement is what one metric's query gave.
type Measurement struct {
	Metric *Metric
	Status Status
	// Value is set when Status is OK.
	Value float64
	// Reason says why there is no value.
	Reason string
}

// DefaultTimeout bounds each query when Client.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// Client sends provider queries.
type Client struct {
	// HTTP sends REST queries; nil means source.Client(), which sends no
	// Referer and refuses cross-host redirects of requests with headers (each query is
	// bounded by Timeout through its context).
	HTTP *http.Client
	// Timeout bounds each query; zero means DefaultTimeout.
	Timeout time.Duration
}

// Collect queries every metric of spec, in order. A query that fails or has
// no value is a measurement saying why; Collect itself fails only when ctx is
// done. Secret references are resolved here, and messages are cleaned of the
// secrets.
func (c *Client) Collect(ctx context.Context, spec *Spec) ([]Measurement, error) {
	var r secret.Redactor
	out := make([]Measurement, len(spec.Metrics))
	var db *sql.DB
	var openErr error
	if spec.IsSQL() {
		db, openErr = openDB(spec, &r)
		if db != nil {
			defer func() { _ = db.Close() }()
		}
	}
	for i := range spec.Metrics {
		m := &spec.Metrics[i]
		if err := ctx.Err(); err != nil {
			return nil, context.Cause(ctx)
		}
		var meas Measurement
		switch {
		case openErr != nil:
			meas = failed(openErr)
		case spec.IsSQL():
			meas = c.querySQL(ctx, db, m, &r)
		default:
			meas = c.queryREST(ctx, spec, m, &r)
		}
		if meas.Status == Failed && ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		meas.Metric = m
		meas.Reason = r.Redact(meas.Reason)
		out[i] = meas
	}
	return out, nil
}

func (c *Client) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

func failed(err error) Measurement { return Measurement{Status: Failed, Reason: err.Error()} }

func noData(format string, args ...any) Measurement {
	return Measurement{Status: NoData, Reason: fmt.Sprintf(format, args...)}
}

// maxResponse bounds a REST response.
const maxResponse = 16 << 20

func (c *Client) queryREST(ctx context.Context, spec *Spec, m *Metric, r *secret.Redactor) Measurement {
	req, desc, err := buildRequest(ctx, spec, m, r)
	if err != nil {
		return failed(err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	req = req.WithContext(ctx)
	hc := c.HTTP
	if hc == nil {
		hc = source.Client()
	}
	resp, err := hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return failed(fmt.Errorf("%s: no response within %s", desc, c.timeout()))
		}
		return failed(fmt.Errorf("%s: %w", desc, err))
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return failed(fmt.Errorf("%s: reading the response: %w", desc, err))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return failed(fmt.Errorf("%s: HTTP %s: %s", desc, resp.Status, snippet(r, body)))
	}
	if len(body) > maxResponse {
		return failed(fmt.Errorf("%s: the response is larger than %d bytes", desc, maxResponse))
	}
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		return failed(fmt.Errorf("%s: the response is not JSON (%w): %s", desc, err, snippet(r, body)))
	}
	return extract(ctx, m, doc, r)
}

// buildRequest resolves secrets and builds the request. desc names it for
// messages with the references unresolved.
func buildRequest(ctx context.Context, spec *Spec, m *Metric, r *secret.Redactor) (*http.Request, string, error) {
	desc := spec.Method + " " + stripQuery(spec.URL)
	raw, err := r.Resolve(spec.URL)
	if err != nil {
		return nil, desc, fmt.Errorf("url: %w", err)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, desc, fmt.Errorf("url %s: expected an absolute http:// or https:// URL", spec.URL)
	}
	q := u.Query()
	for _, p := range m.Params {
		v, err := r.Resolve(p.Value)
		if err != nil {
			return nil, desc, fmt.Errorf("params %s: %w", p.Name, err)
		}
		q.Add(p.Name, v)
	}
	u.RawQuery = q.Encode()
	var body io.Reader
	if m.Body != "" {
		b, err := r.Resolve(m.Body)
		if err != nil {
			return nil, desc, fmt.Errorf("body: %w", err)
		}
		body = strings.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, spec.Method, u.String(), body)
	if err != nil {
		return nil, desc, err
	}
	req.Header.Set("Content-Type", "application/json;charset=utf-8")
	for k, v := range spec.Headers {
		rv, err := r.Resolve(v)
		if err != nil {
			return nil, desc, fmt.Errorf("header %s: %w", k, err)
		}
		req.Header.Set(k, rv)
	}
	return req, desc, nil
}

func stripQuery(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i]
	}
	return u
}

// maxSnippet bounds the part of a response body a message keeps.
const maxSnippet = 300

// snippet returns the start of a response body for a message, redacted
// before it is cut so that no piece of a secret survives the cut. No more
// of a body than this is ever kept.
func snippet(r *secret.Redactor, b []byte) string {
	if len(b) > 64<<10 {
		b = b[:64<<10] // whitespace collapsing need not see a whole 16 MiB body
	}
	// redacted before its white space is collapsed: a secret with a tab
	// or a line end would no longer match as it was resolved
	s := r.Truncate(strings.Join(strings.Fields(r.Redact(string(b))), " "), maxSnippet)
	if s == "" {
		return "(empty body)"
	}
	return s
}

// extract runs the metric's jq expression on the response and takes the
// first result as the value.
func extract(ctx context.Context, m *Metric, doc any, r *secret.Redactor) Measurement {
	iter := m.jq.RunWithContext(ctx, doc)
	v, ok := iter.Next()
	if !ok {
		return noData("jq expression %q returned no result", m.JQExpression)
	}
	if err, isErr := v.(error); isErr {
		return failed(fmt.Errorf("jq expression %q failed: %w", m.JQExpression, err))
	}
	return number(v, fmt.Sprintf("jq expression %q", m.JQExpression), r)
}

// number turns a query result into a value: numbers and numeric strings are
// values; null and NaN are no data; infinities and anything else are errors.
func number(v any, what string, r *secret.Redactor) Measurement {
	var f float64
	switch x := v.(type) {
	case nil:
		return noData("%s returned null", what)
	case float64:
		f = x
	case float32:
		f = float64(x)
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	case int32:
		f = float64(x)
	case uint64:
		f = float64(x)
	case *big.Int:
		f, _ = new(big.Float).SetInt(x).Float64()
	case []byte:
		return number(string(x), what, r)
	case string:
		t := strings.TrimSpace(x)
		p, err := strconv.ParseFloat(t, 64)
		if err == nil && strings.ContainsAny(t, "_xX") {
			// Go's syntax (1_000, 0x1p-2), not a decimal a query returns
			err = strconv.ErrSyntax
		}
		if err != nil {
			return failed(fmt.Errorf("%s returned the string %q, not a number", what, r.Truncate(x, maxSnippet)))
		}
		f = p
	case bool:
		return failed(fmt.Errorf("%s returned %t, not a number", what, x))
	default:
		b, _ := json.Marshal(x)
		return failed(fmt.Errorf("%s returned %s, not a number", what, snippet(r, b)))
	}
	switch {
	case math.IsNaN(f):
		return noData("%s returned NaN (for example a ratio of zero to zero)", what)
	case math.IsInf(f, 0):
		// Not no data: Prometheus's histogram_quantile returns +Inf when
		// the quantile lies above the largest finite bucket, that is for
		// a very slow service, which onNoData: ignore must never pass. No
		// limit can judge it and JSON cannot store it: the query fails.
		return failed(fmt.Errorf("%s returned %v, which cannot be judged (histogram_quantile gives +Inf when the quantile lies above the largest finite bucket: add a larger bucket)", what, f))
	}
	return Measurement{Status: OK, Value: f}
}

// openDB opens the spec's database with its secrets resolved. It does not
// connect: the first query does.
func openDB(spec *Spec, r *secret.Redactor) (*sql.DB, error) {
	dsn, err := r.Resolve(spec.DSN)
	if err != nil {
		return nil, fmt.Errorf("dsn: %w", err)
	}
	var conn driver.Connector
	switch spec.Driver {
	case "postgres":
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			return nil, fmt.Errorf("dsn %s: %s", spec.DSN, r.Redact(err.Error()))
		}
		conn = stdlib.GetConnector(*cfg)
	case "mysql":
		cfg, err := mysql.ParseDSN(dsn)
		if err != nil {
			return nil, fmt.Errorf("dsn %s: %s", spec.DSN, r.Redact(err.Error()))
		}
		if conn, err = mysql.NewConnector(cfg); err != nil {
			return nil, fmt.Errorf("dsn %s: %s", spec.DSN, r.Redact(err.Error()))
		}
	default:
		return nil, fmt.Errorf("driver %q: expected postgres or mysql", spec.Driver)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(1)
	return db, nil
}

func (c *Client) querySQL(ctx context.Context, db *sql.DB, m *Metric, r *secret.Redactor) Measurement {
	ctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	rows, err := db.QueryContext(ctx, m.Query, m.Args...)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return failed(fmt.Errorf("SQL query: no result within %s", c.timeout()))
		}
		return failed(fmt.Errorf("SQL query: %w", err))
	}
	defer func() { _ = rows.Close() }()
	cols, err := rows.Columns()
	if err != nil {
		return failed(fmt.Errorf("SQL query: %w", err))
	}
	if len(cols) != 1 {
		return failed(fmt.Errorf("SQL query returned %d columns (%s): expected one number", len(cols), strings.Join(cols, ", ")))
	}
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return failed(fmt.Errorf("SQL query: %w", err))
		}
		return noData("the SQL query returned no rows")
	}
	var v any
	if err := rows.Scan(&v); err != nil {
		return failed(fmt.Errorf("SQL query: reading the result: %w", err))
	}
	if rows.Next() {
		return failed(errors.New("the SQL query returned more than one row: expected one row with one number"))
	}
	if err := rows.Err(); err != nil {
		return failed(fmt.Errorf("SQL query: %w", err))
	}
	if v == nil {
		return noData("the SQL query returned NULL")
	}
	return number(v, "the SQL query", r)
}
