//go:build linux

// Package providertest starts real metric backends for tests: a Prometheus
// server scraping an in-process exporter, a PostgreSQL server and a MariaDB
// (MySQL protocol) server. Both
// listen on 127.0.0.1 on free ports, keep their data in a temporary
// directory, and are stopped and removed when the test ends. They use the
// Debian packages prometheus, postgresql and mariadb-server (.ci/run installs
// them).
package providertest

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	// The database/sql drivers, for Postgres.Exec and MySQL.Exec.
	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
)

// startTimeout bounds how long a server may take to become ready.
const startTimeout = 60 * time.Second

func freePort(t testing.TB) int {
	t.Helper()
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	return port
}

// server is a child process whose log lines are watched for readiness.
type server struct {
	cmd *exec.Cmd
	// stopSignal asks the server for a quick clean shutdown.
	stopSignal syscall.Signal
	mu         sync.Mutex
	log        strings.Builder
	done       chan struct{}
}

// start runs cmd and waits until a line of its stderr contains ready, the
// process exits, or startTimeout passes. The server is stopped with
// stopSignal when the test ends.
func start(t testing.TB, name string, cmd *exec.Cmd, ready string, stopSignal syscall.Signal) {
	t.Helper()
	s := &server{cmd: cmd, stopSignal: stopSignal, done: make(chan struct{})}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	readyCh := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		seen := false
		for sc.Scan() {
			s.mu.Lock()
			s.log.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
			if !seen && strings.Contains(sc.Text(), ready) {
				seen = true
				close(readyCh)
			}
		}
		_ = cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() { s.stop(t, name) })
	select {
	case <-readyCh:
	case <-s.done:
		t.Fatalf("%s exited before it was ready:\n%s", name, s.output())
	case <-time.After(startTimeout):
		t.Fatalf("%s was not ready within %s:\n%s", name, startTimeout, s.output())
	}
}

func (s *server) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// stop asks the server to shut down and kills it if it has not within 15s.
func (s *server) stop(t testing.TB, name string) {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(s.stopSignal)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
		t.Logf("%s did not stop within 15s and was killed", name)
	}
}

// Exporter serves Prometheus metrics computed from the time since its first
// scrape, so that rates and ratios are known exactly. It counts scrapes.
//
// Every sample carries the exporter's own timestamp, the millisecond its
// value was computed for, so Prometheus computes rates on the exporter's
// clock: the time a scrape takes to reach the exporter (tens of
// milliseconds on a busy machine, a few percent of a 1s interval) does not
// distort them.
type Exporter struct {
	srv     *httptest.Server
	mu      sync.Mutex
	first   time.Time
	scrapes int
	elapsed []time.Duration // of each scrape
	changed chan struct{}
}

// NewExporter serves the text exposition that render returns for the time
// elapsed since the first scrape (zero at the first scrape), in whole
// milliseconds, each sample stamped with that time.
func NewExporter(t testing.TB, render func(elapsed time.Duration) string) *Exporter {
	e := &Exporter{changed: make(chan struct{})}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		e.mu.Lock()
		now := time.UnixMilli(time.Now().UnixMilli())
		if e.scrapes == 0 {
			e.first = now
		}
		elapsed := now.Sub(e.first)
		e.scrapes++
		e.elapsed = append(e.elapsed, elapsed)
		close(e.changed)
		e.changed = make(chan struct{})
		e.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = io.WriteString(w, stamp(render(elapsed), now))
	}))
	t.Cleanup(e.srv.Close)
	return e
}

// stamp gives every sample line of a text exposition the timestamp at.
func stamp(exposition string, at time.Time) string {
	var b strings.Builder
	ts := " " + strconv.FormatInt(at.UnixMilli(), 10)
	for line := range strings.Lines(exposition) {
		body := strings.TrimRight(line, "\n")
		b.WriteString(body)
		if trimmed := strings.TrimSpace(body); trimmed != "" && !strings.HasPrefix(trimmed, "#") {
			b.WriteString(ts)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// Target is the exporter's host:port, for a scrape config.
func (e *Exporter) Target() string { return strings.TrimPrefix(e.srv.URL, "http://") }

// First is the time of the first scrape (zero before it).
func (e *Exporter) First() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.first
}

// Scrapes returns the time since the first scrape that each scrape so far
// was served for. Prometheus scrapes a target one scrape after another, so
// when the exporter has served n scrapes, the first n-1 are stored.
func (e *Exporter) Scrapes() []time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.elapsed)
}

// WaitScrapes waits until the exporter has been scraped n times.
func (e *Exporter) WaitScrapes(t testing.TB, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		e.mu.Lock()
		got, ch := e.scrapes, e.changed
		e.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("the exporter was scraped %d times in %s, want %d", got, timeout, n)
		}
	}
}

// Prometheus is a running Prometheus server.
type Prometheus struct {
	// URL is the server's base URL, http://127.0.0.1:<port>.
	URL string
}

// PrometheusBin is the Prometheus binary: $ITER8_PROMETHEUS or the Debian
// package's.
func PrometheusBin() string {
	if b := os.Getenv("ITER8_PROMETHEUS"); b != "" {
		return b
	}
	return "/usr/bin/prometheus"
}

// StartPrometheus starts Prometheus scraping the targets (host:port) every
// interval (at least 1s).
func StartPrometheus(t testing.TB, interval time.Duration, targets ...string) *Prometheus {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a Prometheus server: needs the external process; runs without -short")
	}
	dir := t.TempDir()
	quoted := make([]string, len(targets))
	for i, tg := range targets {
		quoted[i] = strconv.Quote(tg)
	}
	cfg := fmt.Sprintf(`global:
  scrape_interval: %[1]s
  scrape_timeout: %[1]s
  evaluation_interval: %[1]s
scrape_configs:
- job_name: exporter
  static_configs:
  - targets: [%[2]s]
`, interval, strings.Join(quoted, ", "))
	cfgFile := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	cmd := exec.CommandContext(context.Background(), PrometheusBin(),
		"--config.file="+cfgFile,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port),
		"--log.level=info",
	)
	cmd.Dir = dir
	start(t, "prometheus", cmd, "Server is ready to receive web requests", syscall.SIGTERM)
	return &Prometheus{URL: fmt.Sprintf("http://127.0.0.1:%d", port)}
}

// Sample is one series of an instant query's result.
type Sample struct {
	Labels map[string]string
	Value  float64
}

// Query runs an instant PromQL query and returns its samples.
func (p *Prometheus) Query(ctx context.Context, q string) ([]Sample, error) {
	return p.query(ctx, q, url.Values{"query": {q}})
}

// QueryAt runs an instant PromQL query evaluated at the time at.
func (p *Prometheus) QueryAt(ctx context.Context, q string, at time.Time) ([]Sample, error) {
	return p.query(ctx, q, url.Values{"query": {q}, "time": {strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', 3, 64)}})
}

func (p *Prometheus) query(ctx context.Context, q string, params url.Values) ([]Sample, error) {
	var data struct {
		Result []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
	}
	if err := p.get(ctx, q, params, &data); err != nil {
		return nil, err
	}
	var out []Sample
	for _, r := range data.Result {
		s, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("query %s: value %v: %w", q, r.Value[1], err)
		}
		out = append(out, Sample{Labels: r.Metric, Value: v})
	}
	return out, nil
}

// get runs the instant query q (with params) and decodes the data of a
// successful answer into data.
func (p *Prometheus) get(ctx context.Context, q string, params url.Values, data any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"/api/v1/query?"+params.Encode(), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	body := struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   any    `json:"data"`
	}{Data: data}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return fmt.Errorf("query %s: %w", q, err)
	}
	if body.Status != "success" {
		return fmt.Errorf("query %s: %s", q, body.Error)
	}
	return nil
}

// Points returns the stored samples of every series that selector (a series
// selector, such as x{a="b"}) matches over the lookback before now, from an
// instant query of the range selector, ascending by time.
func (p *Prometheus) Points(ctx context.Context, selector string, lookback time.Duration) ([][]Point, error) {
	q := fmt.Sprintf("%s[%dms]", selector, lookback.Milliseconds())
	var data struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Values [][2]any `json:"values"`
		} `json:"result"`
	}
	if err := p.get(ctx, q, url.Values{"query": {q}}, &data); err != nil {
		return nil, err
	}
	if data.ResultType != "matrix" {
		return nil, fmt.Errorf("query %s: result type %q, want a matrix", q, data.ResultType)
	}
	var out [][]Point
	for _, r := range data.Result {
		var pts []Point
		for _, pv := range r.Values {
			ts, ok := pv[0].(float64)
			s, _ := pv[1].(string)
			v, err := strconv.ParseFloat(s, 64)
			if !ok || err != nil {
				return nil, fmt.Errorf("query %s: sample %v, want [seconds, \"value\"]", q, pv)
			}
			pts = append(pts, Point{T: time.UnixMilli(int64(math.Round(ts * 1000))), V: v})
		}
		out = append(out, pts)
	}
	return out, nil
}

// WaitFor polls an instant query until its first sample is at least min,
// and fails the test after timeout.
func (p *Prometheus) WaitFor(t testing.TB, q string, minValue float64, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var last []Sample
	var lastErr error
	for {
		last, lastErr = p.Query(ctx, q)
		if lastErr == nil && len(last) > 0 && last[0].Value >= minValue {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("Prometheus: %s did not reach %v within %s (last %v, %v)", q, minValue, timeout, last, lastErr)
		case <-tick.C:
		}
	}
}

// Postgres is a running PostgreSQL server with a password-protected user.
type Postgres struct {
	Port     int
	User     string
	Password string
	Database string
}

// DSN is the server's connection URL, password included.
func (p *Postgres) DSN() string {
	return fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/%s?sslmode=disable", p.User, p.Password, p.Port, p.Database)
}

// PostgresBin returns the directory of the PostgreSQL server binaries:
// $ITER8_PG_BIN or the newest /usr/lib/postgresql/<version>/bin.
func PostgresBin(t testing.TB) string {
	t.Helper()
	if b := os.Getenv("ITER8_PG_BIN"); b != "" {
		return b
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi < vj
	})
	if len(dirs) == 0 {
		t.Fatal("PostgreSQL is not installed: expected /usr/lib/postgresql/<version>/bin (Debian package postgresql; .ci/run installs it) or ITER8_PG_BIN")
	}
	return dirs[len(dirs)-1]
}

// StartPostgres initialises a database cluster in a temporary directory and
// starts PostgreSQL on 127.0.0.1. PostgreSQL refuses to run as root, so when
// the test runs as root the server runs as the postgres user (created by
// the Debian package) or, failing that, nobody.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a PostgreSQL server: needs the external process; runs without -short")
	}
	bin := PostgresBin(t)
	// Not t.TempDir: its parent is private to root.
	dir, err := os.MkdirTemp("", "iter8-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	pw := make([]byte, 12)
	_, _ = rand.Read(pw)
	p := &Postgres{Port: freePort(t), User: "iter8", Password: hex.EncodeToString(pw), Database: "postgres"}
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte(p.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		cred = unprivileged(t)
		if err := chownAll(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	data := filepath.Join(dir, "data")
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", data, "-U", p.User, "--pwfile="+pwFile,
		"--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync", "--no-instructions")
	initdb.Dir = dir
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	cmd := exec.CommandContext(context.Background(), filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(p.Port), "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "full_page_writes=off",
		"-c", "synchronous_commit=off", "-c", "shared_buffers=16MB", "-c", "max_connections=20")
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	// SIGINT is PostgreSQL's fast shutdown.
	start(t, "postgres", cmd, "database system is ready to accept connections", syscall.SIGINT)
	return p
}

// unprivileged returns the credentials of the postgres user, or nobody.
func unprivileged(t testing.TB) *syscall.Credential {
	t.Helper()
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 == nil && err2 == nil {
			return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		}
	}
	t.Fatal("running as root and there is no postgres or nobody user to run PostgreSQL as")
	return nil
}

func chownAll(dir string, uid, gid int) error {
	return filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Chown(p, uid, gid)
	})
}

// Exec runs SQL statements (for setting up test data).
func (p *Postgres) Exec(t testing.TB, stmts ...string) {
	t.Helper()
	db, err := sql.Open("pgx", p.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// MySQL is a running MariaDB (MySQL protocol) server with a
// password-protected user and a database.
type MySQL struct {
	Port     int
	User     string
	Password string
	Database string
	socket   string
}

// DSN is the server's data source name, password included, in
// go-sql-driver/mysql's format.
func (m *MySQL) DSN() string {
	return fmt.Sprintf("%s:%s@tcp(127.0.0.1:%d)/%s", m.User, m.Password, m.Port, m.Database)
}

// MySQLBin is the directory of the MariaDB server binaries: $ITER8_MYSQL_BIN
// or /usr/sbin (Debian package mariadb-server).
func MySQLBin() string {
	if b := os.Getenv("ITER8_MYSQL_BIN"); b != "" {
		return b
	}
	return "/usr/sbin"
}

// StartMySQL initialises a MariaDB data directory in a temporary directory
// and starts the server on 127.0.0.1, with user iter8 owning database shop.
// Under root the server drops to the mysql user (created by the Debian
// package).
func StartMySQL(t testing.TB) *MySQL {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a MariaDB server: needs the external process; runs without -short")
	}
	dir, err := os.MkdirTemp("", "iter8-my-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	pw := make([]byte, 12)
	_, _ = rand.Read(pw)
	m := &MySQL{Port: freePort(t), User: "iter8", Password: hex.EncodeToString(pw), Database: "shop", socket: filepath.Join(dir, "sock")}
	var userArg []string
	if os.Geteuid() == 0 {
		u, err := user.Lookup("mysql")
		if err != nil {
			t.Fatal("running as root and there is no mysql user to run MariaDB as (Debian package mariadb-server creates it)")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := chownAll(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		userArg = []string{"--user=mysql"}
	}
	data := filepath.Join(dir, "data")
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	install := exec.CommandContext(ctx, "mariadb-install-db", append([]string{"--no-defaults", "--datadir=" + data,
		"--auth-root-authentication-method=normal", "--skip-test-db"}, userArg...)...)
	install.Dir = dir
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("mariadb-install-db: %v\n%s", err, out)
	}
	cmd := exec.CommandContext(context.Background(), filepath.Join(MySQLBin(), "mariadbd"), append([]string{"--no-defaults",
		"--datadir=" + data, "--port=" + strconv.Itoa(m.Port), "--bind-address=127.0.0.1", "--socket=" + m.socket,
		"--pid-file=" + filepath.Join(dir, "pid"), "--skip-name-resolve", "--innodb-buffer-pool-size=16M",
		"--innodb-log-file-size=8M", "--skip-log-bin"}, userArg...)...)
	cmd.Dir = dir
	start(t, "mariadbd", cmd, "ready for connections", syscall.SIGTERM)
	m.exec(t, "root@unix("+m.socket+")/",
		fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY '%s'", m.User, m.Password),
		"CREATE DATABASE "+m.Database,
		fmt.Sprintf("GRANT ALL ON %s.* TO '%s'@'%%'", m.Database, m.User))
	return m
}

// Exec runs SQL statements as the user, in the database.
func (m *MySQL) Exec(t testing.TB, stmts ...string) {
	t.Helper()
	m.exec(t, m.DSN(), stmts...)
}

func (m *MySQL) exec(t testing.TB, dsn string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}
