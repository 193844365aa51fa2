package task

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"

	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/inputs"
	"iter8.tools/iter8/internal/load"
	"iter8.tools/iter8/internal/load/grpcload"
	"iter8.tools/iter8/internal/metrics"
	"iter8.tools/iter8/internal/secret"
	"iter8.tools/iter8/internal/source"
)

// Defaults of the grpc task, as the original's (ghz's).
const (
	defaultGRPCTotal       = 200
	defaultConcurrency     = 50
	defaultGRPCConnections = 1
	defaultGRPCTimeout     = 20 * time.Second
	defaultConnectTimeout  = 10 * time.Second
)

// ByteSize is a size in bytes, given as a number or a string such as 4MB or
// 512KiB.
type ByteSize int64

// UnmarshalJSON accepts a number or a size string.
func (b *ByteSize) UnmarshalJSON(data []byte) error {
	var n float64
	if err := json.Unmarshal(data, &n); err == nil && n >= 0 && n == math.Trunc(n) {
		*b = ByteSize(n)
		return nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return &inputs.ValueError{Expected: "a size such as 4MB, 512KiB or a number of bytes"}
	}
	v, ok := parseSize(s)
	if !ok {
		return &inputs.ValueError{Expected: "a size such as 4MB, 512KiB or a number of bytes"}
	}
	*b = ByteSize(v)
	return nil
}

func parseSize(s string) (int64, bool) {
	s = strings.TrimSpace(strings.ToLower(s))
	units := []struct {
		suffix string
		mult   int64
	}{{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"kb", 1000}, {"mb", 1000 * 1000}, {"gb", 1000 * 1000 * 1000}, {"k", 1000}, {"m", 1000 * 1000}, {"g", 1000 * 1000 * 1000}, {"b", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f*float64(mult) > math.MaxInt32 {
		return 0, false
	}
	return int64(f * float64(mult)), true
}

// grpcCallInputs describe the calls made; endpoints inherit them.
type grpcCallInputs struct {
	Host               string            `json:"host,omitempty"`
	Call               string            `json:"call,omitempty"`
	Proto              string            `json:"proto,omitempty" inherit:"proto"`
	ProtoURL           string            `json:"protoURL,omitempty" inherit:"proto"`
	Protoset           string            `json:"protoset,omitempty" inherit:"proto"`
	ImportPaths        []string          `json:"import-paths,omitempty"`
	Data               any               `json:"data,omitempty" inherit:"data"`
	DataFile           string            `json:"data-file,omitempty" inherit:"data"`
	DataURL            string            `json:"dataURL,omitempty" inherit:"data"`
	BinaryFile         string            `json:"binary-file,omitempty" inherit:"data"`
	BinaryDataURL      string            `json:"binaryDataURL,omitempty" inherit:"data"`
	Metadata           map[string]string `json:"metadata,omitempty"`
	MetadataFile       string            `json:"metadata-file,omitempty"`
	MetadataURL        string            `json:"metadataURL,omitempty"`
	ReflectMetadata    map[string]string `json:"reflect-metadata,omitempty"`
	Authority          string            `json:"authority,omitempty"`
	Insecure           *bool             `json:"insecure,omitempty"`
	SkipTLS            *bool             `json:"skipTLS,omitempty"`
	CACert             string            `json:"cacert,omitempty"`
	Cert               string            `json:"cert,omitempty"`
	Key                string            `json:"key,omitempty"`
	CName              string            `json:"cname,omitempty"`
	StreamInterval     *inputs.Duration  `json:"stream-interval,omitempty"`
	StreamCallDuration *inputs.Duration  `json:"stream-call-duration,omitempty"`
	StreamCallCount    *int              `json:"stream-call-count,omitempty"`
}

// grpcInputs are the grpc task's inputs: the original's (ghz's) keys that
// users set, and more; then the calls' inputs and the common ones.
type grpcInputs struct {
	Total              *int64           `json:"total,omitempty"`
	RPS                *float64         `json:"rps,omitempty"`
	Concurrency        *int             `json:"concurrency,omitempty"`
	Connections        *int             `json:"connections,omitempty"`
	Timeout            *inputs.Duration `json:"timeout,omitempty"`
	ConnectTimeout     *inputs.Duration `json:"connect-timeout,omitempty"`
	SkipFirst          *int64           `json:"skipFirst,omitempty"`
	EnableCompression  bool             `json:"enable-compression,omitempty"`
	MaxRecvMessageSize *ByteSize        `json:"max-recv-message-size,omitempty"`
	MaxSendMessageSize *ByteSize        `json:"max-send-message-size,omitempty"`
	grpcCallInputs
	loadInputs
	ghzInputs
}

// grpcTask is the load skeleton over gRPC calls.
type grpcTask = loadTask[grpcCallInputs, grpcInputs]

func newGRPC(with map[string]any) (experiment.Task, error) {
	return newLoad[grpcCallInputs, grpcInputs, grpcEndpointInputs](with)
}

func (in *grpcInputs) skeleton() (loadKind[grpcCallInputs], *loadInputs, grpcCallInputs, loadPlan) {
	kind := loadKind[grpcCallInputs]{
		name: "grpc", sep: "/", unit: "calls", isError: grpcErrors, target: in.target, codes: grpcCodeNames,
		runLevel: append([]string{"connections", "connect-timeout", "skipFirst", "enable-compression", "max-recv-message-size", "max-send-message-size"}, ghzRunLevel()...),
	}
	var rate float64
	if in.RPS != nil {
		rate = *in.RPS
	}
	return kind, &in.loadInputs, in.grpcCallInputs, loadPlan{connections: *in.Concurrency, rate: rate, timeout: in.Timeout.Duration, requests: in.Total, extras: in.extras}
}

func (in *grpcInputs) defaults() error {
	if in.Host == "" && len(in.Endpoints) == 0 {
		return &inputs.FieldError{Field: "host", Missing: true, Expected: "the server address host:port, such as 127.0.0.1:50051 (or endpoints)"}
	}
	if in.Call == "" && len(in.Endpoints) == 0 {
		return &inputs.FieldError{Field: "call", Missing: true, Expected: "the method to call, such as helloworld.Greeter.SayHello"}
	}
	if err := in.checkCount("total", in.Total); err != nil {
		return err
	}
	if in.Duration != nil {
		in.Total = nil // as ghz: a duration wins over total
	} else if in.Total == nil {
		n := int64(defaultGRPCTotal)
		in.Total = &n
	}
	if err := checkRate("rps", in.RPS, "calls per second >= 0 (0 calls as fast as responses return)"); err != nil {
		return err
	}
	setInt := func(p **int, v int) {
		if *p == nil {
			*p = &v
		}
	}
	setInt(&in.Concurrency, defaultConcurrency)
	setInt(&in.Connections, defaultGRPCConnections)
	if err := checkPositive("concurrency", in.Concurrency); err != nil {
		return err
	}
	if err := checkPositive("connections", in.Connections); err != nil {
		return err
	}
	if err := positiveDuration("timeout", &in.Timeout, defaultGRPCTimeout, "a positive duration such as 20s"); err != nil {
		return err
	}
	if err := positiveDuration("connect-timeout", &in.ConnectTimeout, defaultConnectTimeout, "a positive duration such as 10s"); err != nil {
		return err
	}
	if in.SkipFirst != nil && *in.SkipFirst < 0 {
		return &inputs.FieldError{Field: "skipFirst", Value: *in.SkipFirst, Expected: "a whole number >= 0"}
	}
	if err := checkRanges("rps", in.RPS, map[string]*int{"concurrency": in.Concurrency, "connections": in.Connections}, "total", in.Total, in.Duration); err != nil {
		return err
	}
	if err := in.schedules(in.RPS, in.Total, in.Duration); err != nil {
		return err
	}
	return in.checkSummary()
}

// check validates resolved call inputs; prefix names the endpoint.
func (c grpcCallInputs) check(prefix string) error {
	if c.Host == "" {
		return &inputs.FieldError{Field: prefix + "host", Missing: true, Expected: "the server address host:port"}
	}
	if strings.Contains(c.Host, "://") {
		return &inputs.FieldError{Field: prefix + "host", Value: c.Host, Expected: "host:port without a scheme, such as 127.0.0.1:50051"}
	}
	if c.Call == "" {
		return &inputs.FieldError{Field: prefix + "call", Missing: true, Expected: "the method to call, such as helloworld.Greeter.SayHello"}
	}
	if _, _, err := grpcload.ParseCall(c.Call); err != nil {
		return &inputs.FieldError{Field: prefix + "call", Value: c.Call, Expected: "package.Service.Method or package.Service/Method"}
	}
	if n := countSet(c.Proto+c.ProtoURL, c.Protoset); n > 1 {
		return &inputs.FieldError{Field: prefix + "proto", Value: c.Proto, Expected: "at most one of proto (or protoURL) and protoset"}
	}
	var dataSet int
	if c.Data != nil {
		dataSet++
	}
	if dataSet+countSet(c.DataFile+c.DataURL, c.BinaryFile+c.BinaryDataURL) > 1 {
		return &inputs.FieldError{Field: prefix + "data", Value: "more than one", Expected: "at most one of data, data-file (or dataURL) and binary-file (or binaryDataURL)"}
	}
	for _, u := range []struct{ field, v string }{{"protoURL", c.ProtoURL}, {"dataURL", c.DataURL}, {"binaryDataURL", c.BinaryDataURL}, {"metadataURL", c.MetadataURL}} {
		if u.v != "" {
			if err := checkURL(prefix+u.field, u.v); err != nil {
				return err
			}
		}
	}
	if (c.Cert == "") != (c.Key == "") {
		return &inputs.FieldError{Field: prefix + "cert", Value: c.Cert, Expected: "cert and key together (a client certificate and its key)"}
	}
	if c.Insecure != nil && *c.Insecure && c.tls("").Enabled() {
		return &inputs.FieldError{Field: prefix + "insecure", Value: true, Expected: "false when TLS options (cacert, cert, key, cname, skipTLS) are given"}
	}
	if c.StreamCallCount != nil && *c.StreamCallCount < 1 {
		return &inputs.FieldError{Field: prefix + "stream-call-count", Value: *c.StreamCallCount, Expected: "a whole number of at least 1"}
	}
	if err := checkSecrets(prefix+"metadata", c.Metadata); err != nil {
		return err
	}
	return checkSecrets(prefix+"reflect-metadata", c.ReflectMetadata)
}

// tls returns the TLS options, files relative to dir.
func (c grpcCallInputs) tls(dir string) grpcload.TLS {
	return grpcload.TLS{
		CAFile: source.Path(dir, c.CACert), CertFile: source.Path(dir, c.Cert), KeyFile: source.Path(dir, c.Key),
		ServerName: c.CName, InsecureSkipVerify: c.SkipTLS != nil && *c.SkipTLS,
	}
}

// descriptors says where the method's descriptors come from, files relative
// to dir.
func (c grpcCallInputs) descriptors(dir string) grpcload.Descriptors {
	proto, protoURL := fileOrURL(dir, c.Proto, c.ProtoURL)
	d := grpcload.Descriptors{Proto: source.Path(dir, proto), ProtoURL: protoURL, Protoset: source.Path(dir, c.Protoset)}
	for _, p := range c.ImportPaths {
		d.ImportPaths = append(d.ImportPaths, source.Path(dir, p))
	}
	return d
}

// data returns the request JSON (or serialised binary message).
func (c grpcCallInputs) data(ctx context.Context, dir string) (js, bin []byte, err error) {
	if c.Data != nil {
		if s, ok := c.Data.(string); ok {
			return []byte(s), nil, nil
		}
		b, err := json.Marshal(c.Data)
		return b, nil, err
	}
	binary := c.BinaryFile != "" || c.BinaryDataURL != ""
	what, file, url := "data-file", c.DataFile, c.DataURL
	if binary {
		what, file, url = "binary-file", c.BinaryFile, c.BinaryDataURL
	}
	file, url = fileOrURL(dir, file, url)
	var b []byte
	switch {
	case file != "":
		b, err = source.Reader{}.File(ctx, what, source.Path(dir, file))
	case url != "":
		b, err = source.Reader{}.URL(ctx, "", url)
	default:
		return nil, nil, nil
	}
	if binary {
		return nil, b, err
	}
	return b, nil, err
}

// endpoint turns call inputs into the engine's endpoint: the method found (from files or the server), data and metadata read and
// secret references resolved.
func (c grpcCallInputs) endpoint(ctx context.Context, dir string, tlsConf *tls.Config, connectTimeout time.Duration) (grpcload.Endpoint, error) {
	e := grpcload.Endpoint{Host: c.Host, Authority: c.Authority, TLS: tlsConf}
	d := c.descriptors(dir)
	var err error
	if d.Reflection() {
		if d.ReflectMetadata, err = secret.ResolveMap(c.ReflectMetadata); err != nil {
			return e, err
		}
	}
	srv := grpcload.Server{Host: c.Host, Authority: c.Authority, TLS: tlsConf, ConnectTimeout: connectTimeout}
	if e.Method, err = d.Method(ctx, c.Call, srv); err != nil {
		return e, err
	}
	if e.Data, e.Binary, err = c.data(ctx, dir); err != nil {
		return e, err
	}
	mdFile, mdURL := fileOrURL(dir, c.MetadataFile, c.MetadataURL)
	md, err := grpcload.ReadMetadata(ctx, source.Path(dir, mdFile), mdURL, c.Metadata)
	if err != nil {
		return e, err
	}
	if e.Metadata, err = secret.ResolveMap(md); err != nil {
		return e, err
	}
	if c.StreamInterval != nil {
		e.StreamInterval = c.StreamInterval.Duration
	}
	if c.StreamCallDuration != nil {
		e.StreamCallDuration = c.StreamCallDuration.Duration
	}
	if c.StreamCallCount != nil {
		e.StreamCallCount = *c.StreamCallCount
	}
	return e, nil
}

// grpcErrors counts every status but OK, and transport failures, as errors.
func grpcErrors([]mixEndpoint[grpcCallInputs]) func(int, load.Outcome) bool {
	return func(_ int, o load.Outcome) bool { return o.Code != int(codes.OK) || o.Err != "" }
}

// target builds the gRPC target, connects it and, with skipFirst, makes
// and discards that many calls before the measured ones.
func (in *grpcInputs) target(ctx context.Context, env *experiment.Env, eps []mixEndpoint[grpcCallInputs], opts load.Options, _ func(error)) (measured, error) {
	cfg := grpcload.Config{
		Endpoints: make([]grpcload.Endpoint, len(eps)), Connections: *in.Connections, Timeout: opts.Timeout,
		ConnectTimeout: in.ConnectTimeout.Duration, Compression: in.EnableCompression, LBPolicy: in.LBStrategy,
	}
	if in.Keepalive != nil {
		cfg.Keepalive = in.Keepalive.Duration
	}
	if in.MaxRecvMessageSize != nil {
		cfg.MaxRecvMsgSize = int(*in.MaxRecvMessageSize)
	}
	if in.MaxSendMessageSize != nil {
		cfg.MaxSendMsgSize = int(*in.MaxSendMessageSize)
	}
	for i, e := range eps {
		tlsConf, err := e.in.tls(env.Dir).Config(ctx)
		if err != nil {
			return nil, err
		}
		ep, err := e.in.endpoint(ctx, env.Dir, tlsConf, in.ConnectTimeout.Duration)
		if err != nil {
			return nil, endpointErr(e.id, err)
		}
		cfg.Endpoints[i] = ep
	}
	target, err := grpcload.New(cfg)
	if err != nil {
		return nil, targetError(eps, err)
	}
	if err := target.Probe(ctx); err != nil {
		target.Close()
		return nil, err
	}
	if in.SkipFirst != nil && *in.SkipFirst > 0 {
		skip := opts
		skip.Requests, skip.Duration, skip.Progress, skip.Monitor = uint64(*in.SkipFirst), 0, nil, nil
		if _, err := load.Run(ctx, target, skip); err != nil {
			target.Close()
			return nil, err
		}
		// the measured calls go over the connections the skipped ones
		// warmed (as ghz's skipFirst), and stream counts cover them only
		target.ResetStreams()
	}
	return grpcTarget{target, len(eps), &in.ghzInputs}, nil
}

// endpointErr names a named endpoint in an error.
func endpointErr(id string, err error) error {
	if id == "" {
		return err
	}
	return fmt.Errorf("endpoint %s: %w", id, err)
}

// grpcTarget adds stream measurements to the metrics.
type grpcTarget struct {
	*grpcload.Target
	n   int // endpoints
	ghz *ghzInputs
}

func (grpcTarget) protocol(int) string { return "gRPC" }

// record stores the per-message metrics of endpoint ep's stream calls, or of
// every endpoint's (of more targets too).
func (t grpcTarget) record(in *experiment.Insights, provider string, ep int, percentiles []float64, more ...measured) error {
	t.ghz.recordRun(in, provider)
	streams := t.streams(ep)
	for _, m := range more {
		if g, ok := m.(grpcTarget); ok {
			streams = append(streams, g.streams(-1)...)
		}
	}
	return recordStreams(in, provider, streams, percentiles)
}

// streams returns the stream measurements of endpoint ep, or of every
// endpoint.
func (t grpcTarget) streams(ep int) []grpcload.StreamStats {
	var out []grpcload.StreamStats
	for i := range t.n {
		if (ep < 0 || ep == i) && t.IsStream(i) {
			out = append(out, t.Streams(i))
		}
	}
	return out
}

// grpcCodeNames renames numeric status codes (0, 14) to their names (OK,
// Unavailable).
func grpcCodeNames(in map[string]int64) map[string]int64 {
	out := make(map[string]int64, len(in))
	for k, n := range in {
		if c, err := strconv.Atoi(k); err == nil {
			k = codes.Code(c).String()
		}
		out[k] += n
	}
	return out
}

// recordStreams stores per-message metrics of stream calls.
func recordStreams(in *experiment.Insights, provider string, streams []grpcload.StreamStats, percentiles []float64) error {
	if len(streams) == 0 {
		return nil
	}
	total := grpcload.StreamStats{FirstResponse: metrics.NewHDR(), InterMessage: metrics.NewHDR()}
	for _, s := range streams {
		total.Sent += s.Sent
		total.Received += s.Received
		total.FirstResponse.Merge(s.FirstResponse)
		total.InterMessage.Merge(s.InterMessage)
		total.Active += s.Active
	}
	counts := []plainMetric{
		{"sent-messages", "number of stream messages sent", "", metrics.Counter, float64(total.Sent)},
		{"received-messages", "number of stream messages received", "", metrics.Counter, float64(total.Received)},
	}
	if total.Active > 0 {
		counts = append(counts, plainMetric{"received-message-rate", "stream messages received per second of stream call", "messages/s", metrics.Gauge, float64(total.Received) / total.Active.Seconds()})
	}
	if err := setValues(in, provider, counts...); err != nil {
		return err
	}
	if err := recordHistogram(in, provider, "first-response", "/", "time from the start of a stream call to its first response message", total.FirstResponse, percentiles); err != nil {
		return err
	}
	return recordHistogram(in, provider, "inter-message", "/", "time between response messages of a stream", total.InterMessage, percentiles)
}
