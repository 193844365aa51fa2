package task

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/inputs"
	"iter8.tools/iter8/internal/load"
	"iter8.tools/iter8/internal/load/grpcload"
	"iter8.tools/iter8/internal/metrics"
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
	Proto              string            `json:"proto,omitempty"`
	ProtoURL           string            `json:"protoURL,omitempty"`
	Protoset           string            `json:"protoset,omitempty"`
	ImportPaths        []string          `json:"import-paths,omitempty"`
	Data               any               `json:"data,omitempty"`
	DataFile           string            `json:"data-file,omitempty"`
	DataURL            string            `json:"dataURL,omitempty"`
	BinaryFile         string            `json:"binary-file,omitempty"`
	BinaryDataURL      string            `json:"binaryDataURL,omitempty"`
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

// grpcEndpointInputs are one endpoint of a mix.
type grpcEndpointInputs struct {
	grpcCallInputs
	Weight *float64 `json:"weight,omitempty"`
	// RPS from experiments written for the original (which ran endpoints one
	// after another) becomes the endpoint's weight.
	RPS *float64 `json:"rps,omitempty"`
}

// grpcInputs are the grpc task's inputs: the original's (ghz's) keys that
// users set, and more.
type grpcInputs struct {
	grpcCallInputs
	Total              *int64                    `json:"total,omitempty"`
	Duration           *inputs.Duration          `json:"duration,omitempty"`
	RPS                *float64                  `json:"rps,omitempty"`
	Concurrency        *int                      `json:"concurrency,omitempty"`
	Connections        *int                      `json:"connections,omitempty"`
	Timeout            *inputs.Duration          `json:"timeout,omitempty"`
	ConnectTimeout     *inputs.Duration          `json:"connect-timeout,omitempty"`
	SkipFirst          *int64                    `json:"skipFirst,omitempty"`
	EnableCompression  bool                      `json:"enable-compression,omitempty"`
	MaxRecvMessageSize *ByteSize                 `json:"max-recv-message-size,omitempty"`
	MaxSendMessageSize *ByteSize                 `json:"max-send-message-size,omitempty"`
	Percentiles        []float64                 `json:"percentiles,omitempty"`
	Warmup             *bool                     `json:"warmup,omitempty"`
	RateTolerance      *float64                  `json:"rateTolerance,omitempty"`
	Uniform            bool                      `json:"uniform,omitempty"`
	Abort              []abortCondition          `json:"abort,omitempty"`
	Endpoints          map[string]map[string]any `json:"endpoints,omitempty"`
}

type grpcEndpoint struct {
	id     string
	in     grpcCallInputs
	weight float64
}

type grpcTask struct {
	in    grpcInputs
	eps   []grpcEndpoint
	abort *abortWatch
}

func newGRPC(with map[string]any) (experiment.Task, error) {
	t := &grpcTask{}
	if err := inputs.Decode(with, &t.in); err != nil {
		return nil, err
	}
	if err := t.in.defaults(); err != nil {
		return nil, err
	}
	eps, err := t.in.resolveEndpoints()
	if err != nil {
		return nil, err
	}
	t.eps = eps
	if t.abort, err = compileAborts("grpc", t.in.Abort); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *grpcTask) Inputs() any { return t.in }

func positive(field string, v *int) error {
	if v != nil && *v < 1 {
		return &inputs.FieldError{Field: field, Value: *v, Expected: "a whole number of at least 1"}
	}
	return nil
}

func (in *grpcInputs) defaults() error {
	if in.Host == "" && len(in.Endpoints) == 0 {
		return &inputs.FieldError{Field: "host", Missing: true, Expected: "the server address host:port, such as 127.0.0.1:50051 (or endpoints)"}
	}
	if in.Call == "" && len(in.Endpoints) == 0 {
		return &inputs.FieldError{Field: "call", Missing: true, Expected: "the method to call, such as helloworld.Greeter.SayHello"}
	}
	if in.Total != nil && *in.Total < 1 {
		return &inputs.FieldError{Field: "total", Value: *in.Total, Expected: "a whole number of at least 1"}
	}
	if in.Duration != nil && in.Duration.Duration <= 0 {
		return &inputs.FieldError{Field: "duration", Value: in.Duration.String(), Expected: "a positive duration such as 30s"}
	}
	if in.Duration != nil {
		in.Total = nil // as ghz: a duration wins over total
	} else if in.Total == nil {
		n := int64(defaultGRPCTotal)
		in.Total = &n
	}
	if in.RPS != nil {
		if r := *in.RPS; r < 0 || math.IsNaN(r) || math.IsInf(r, 0) {
			return &inputs.FieldError{Field: "rps", Value: r, Expected: "calls per second >= 0 (0 calls as fast as responses return)"}
		}
	}
	setInt := func(p **int, v int) {
		if *p == nil {
			*p = &v
		}
	}
	setInt(&in.Concurrency, defaultConcurrency)
	setInt(&in.Connections, defaultGRPCConnections)
	if err := positive("concurrency", in.Concurrency); err != nil {
		return err
	}
	if err := positive("connections", in.Connections); err != nil {
		return err
	}
	setDur := func(p **inputs.Duration, d time.Duration) {
		if *p == nil {
			*p = &inputs.Duration{Duration: d}
		}
	}
	setDur(&in.Timeout, defaultGRPCTimeout)
	setDur(&in.ConnectTimeout, defaultConnectTimeout)
	if in.Timeout.Duration <= 0 {
		return &inputs.FieldError{Field: "timeout", Value: in.Timeout.String(), Expected: "a positive duration such as 20s"}
	}
	if in.ConnectTimeout.Duration <= 0 {
		return &inputs.FieldError{Field: "connect-timeout", Value: in.ConnectTimeout.String(), Expected: "a positive duration such as 10s"}
	}
	if in.SkipFirst != nil && *in.SkipFirst < 0 {
		return &inputs.FieldError{Field: "skipFirst", Value: *in.SkipFirst, Expected: "a whole number >= 0"}
	}
	for _, p := range in.Percentiles {
		if p <= 0 || p > 100 || math.IsNaN(p) {
			return &inputs.FieldError{Field: "percentiles", Value: p, Expected: "percentiles greater than 0 and at most 100"}
		}
	}
	in.Percentiles = mergePercentiles(in.Percentiles)
	if in.RateTolerance == nil {
		r := defaultRateTolerance
		in.RateTolerance = &r
	}
	if r := *in.RateTolerance; r <= 0 || r >= 1 || math.IsNaN(r) {
		return &inputs.FieldError{Field: "rateTolerance", Value: r, Expected: "a fraction between 0 and 1, such as 0.01"}
	}
	return nil
}

func (in *grpcInputs) resolveEndpoints() ([]grpcEndpoint, error) {
	if len(in.Endpoints) == 0 {
		if err := in.check(""); err != nil {
			return nil, err
		}
		return []grpcEndpoint{{in: in.grpcCallInputs, weight: 1}}, nil
	}
	eps, err := decodeEndpoints(in.Endpoints, "grpc",
		[]string{"total", "duration", "concurrency", "connections", "timeout", "connect-timeout", "skipFirst", "warmup", "percentiles", "rateTolerance", "uniform", "abort", "endpoints", "enable-compression", "max-recv-message-size", "max-send-message-size"},
		func(e *grpcEndpointInputs) *float64 { return firstSet(e.Weight, e.RPS) })
	if err != nil {
		return nil, err
	}
	out := make([]grpcEndpoint, 0, len(eps))
	for _, e := range eps {
		r := inheritGRPC(in.grpcCallInputs, e.in.grpcCallInputs)
		if err := r.check("endpoints." + e.id + "."); err != nil {
			return nil, err
		}
		out = append(out, grpcEndpoint{id: e.id, in: r, weight: e.weight})
	}
	return out, nil
}

// inheritGRPC fills an endpoint's unset inputs from the top level; metadata
// merges, the endpoint's winning.
func inheritGRPC(top, ep grpcCallInputs) grpcCallInputs {
	r := ep
	for _, f := range []struct {
		dst *string
		v   string
	}{
		{&r.Host, top.Host}, {&r.Call, top.Call}, {&r.Authority, top.Authority},
		{&r.CACert, top.CACert}, {&r.Cert, top.Cert}, {&r.Key, top.Key}, {&r.CName, top.CName},
		{&r.MetadataFile, top.MetadataFile}, {&r.MetadataURL, top.MetadataURL},
	} {
		if *f.dst == "" {
			*f.dst = f.v
		}
	}
	if r.Proto == "" && r.ProtoURL == "" && r.Protoset == "" {
		r.Proto, r.ProtoURL, r.Protoset = top.Proto, top.ProtoURL, top.Protoset
	}
	if len(r.ImportPaths) == 0 {
		r.ImportPaths = top.ImportPaths
	}
	if r.Data == nil && r.DataFile == "" && r.DataURL == "" && r.BinaryFile == "" && r.BinaryDataURL == "" {
		r.Data, r.DataFile, r.DataURL, r.BinaryFile, r.BinaryDataURL = top.Data, top.DataFile, top.DataURL, top.BinaryFile, top.BinaryDataURL
	}
	for _, f := range []struct{ dst, v **bool }{{&r.Insecure, &top.Insecure}, {&r.SkipTLS, &top.SkipTLS}} {
		if *f.dst == nil {
			*f.dst = *f.v
		}
	}
	if r.StreamInterval == nil {
		r.StreamInterval = top.StreamInterval
	}
	if r.StreamCallDuration == nil {
		r.StreamCallDuration = top.StreamCallDuration
	}
	if r.StreamCallCount == nil {
		r.StreamCallCount = top.StreamCallCount
	}
	r.Metadata = mergeMaps(top.Metadata, ep.Metadata)
	r.ReflectMetadata = mergeMaps(top.ReflectMetadata, ep.ReflectMetadata)
	return r
}

func mergeMaps(a, b map[string]string) map[string]string {
	if len(a) == 0 {
		return b
	}
	out := make(map[string]string, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func (c *grpcCallInputs) check(prefix string) error {
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
	if n := countSet(c.Proto, c.ProtoURL, c.Protoset); n > 1 {
		return &inputs.FieldError{Field: prefix + "proto", Value: c.Proto, Expected: "at most one of proto, protoURL and protoset"}
	}
	var dataSet int
	if c.Data != nil {
		dataSet++
	}
	if dataSet+countSet(c.DataFile, c.DataURL, c.BinaryFile, c.BinaryDataURL) > 1 {
		return &inputs.FieldError{Field: prefix + "data", Value: "more than one", Expected: "at most one of data, data-file, dataURL, binary-file and binaryDataURL"}
	}
	if countSet(c.MetadataFile, c.MetadataURL) > 1 {
		return &inputs.FieldError{Field: prefix + "metadata-file", Value: c.MetadataFile, Expected: "at most one of metadata-file and metadataURL"}
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
	if c.Insecure != nil && *c.Insecure && c.tlsRequested() {
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

func countSet(vals ...string) int {
	n := 0
	for _, v := range vals {
		if v != "" {
			n++
		}
	}
	return n
}

// tlsRequested: plaintext unless a TLS option is given.
func (c *grpcCallInputs) tlsRequested() bool {
	return c.CACert != "" || c.Cert != "" || c.CName != "" || (c.SkipTLS != nil && *c.SkipTLS)
}

func (c *grpcCallInputs) tlsConfig(dir string) (*tls.Config, error) {
	if !c.tlsRequested() {
		return nil, nil
	}
	conf := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.CName, InsecureSkipVerify: c.SkipTLS != nil && *c.SkipTLS} //nolint:gosec // the user asks for it explicitly
	if c.CACert != "" {
		pem, err := os.ReadFile(abs(dir, c.CACert))
		if err != nil {
			return nil, fmt.Errorf("reading cacert: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("cacert %s holds no PEM certificate", c.CACert)
		}
		conf.RootCAs = pool
	}
	if c.Cert != "" {
		cert, err := tls.LoadX509KeyPair(abs(dir, c.Cert), abs(dir, c.Key))
		if err != nil {
			return nil, fmt.Errorf("loading client certificate: %w", err)
		}
		conf.Certificates = []tls.Certificate{cert}
	}
	return conf, nil
}

// data returns the request JSON (or serialised binary message).
func (c *grpcCallInputs) data(ctx context.Context, dir string) (js, bin []byte, err error) {
	switch {
	case c.Data != nil:
		if s, ok := c.Data.(string); ok {
			return []byte(s), nil, nil
		}
		b, err := json.Marshal(c.Data)
		return b, nil, err
	case c.DataFile != "":
		b, err := readLimited(abs(dir, c.DataFile), "data-file")
		return b, nil, err
	case c.DataURL != "":
		b, err := fetch(ctx, c.DataURL)
		return b, nil, err
	case c.BinaryFile != "":
		b, err := readLimited(abs(dir, c.BinaryFile), "binary-file")
		return nil, b, err
	case c.BinaryDataURL != "":
		b, err := fetch(ctx, c.BinaryDataURL)
		return nil, b, err
	}
	return nil, nil, nil
}

func (c *grpcCallInputs) metadata(ctx context.Context, dir string) (map[string]string, error) {
	var raw []byte
	var err error
	switch {
	case c.MetadataFile != "":
		if raw, err = readLimited(abs(dir, c.MetadataFile), "metadata-file"); err != nil {
			return nil, err
		}
	case c.MetadataURL != "":
		if raw, err = fetch(ctx, c.MetadataURL); err != nil {
			return nil, err
		}
	}
	md := map[string]string{}
	if raw != nil {
		if err := json.Unmarshal(raw, &md); err != nil {
			return nil, fmt.Errorf("metadata must be a JSON object of strings: %w", err)
		}
	}
	for k, v := range c.Metadata {
		md[k] = v
	}
	return resolveAll(md)
}

// method resolves the method descriptor from proto, protoURL, protoset or,
// when none is given, server reflection.
func (c *grpcCallInputs) method(ctx context.Context, dir string, tlsConf *tls.Config, connectTimeout time.Duration) (protoreflect.MethodDescriptor, error) {
	var (
		files *protoregistry.Files
		err   error
	)
	imports := make([]string, len(c.ImportPaths))
	for i, p := range c.ImportPaths {
		imports[i] = abs(dir, p)
	}
	switch {
	case c.Proto != "":
		files, err = grpcload.FromProto(ctx, []string{abs(dir, c.Proto)}, imports)
	case c.ProtoURL != "":
		var b []byte
		if b, err = fetch(ctx, c.ProtoURL); err != nil {
			return nil, err
		}
		tmp, terr := os.MkdirTemp("", "iter8-proto-")
		if terr != nil {
			return nil, terr
		}
		defer func() { _ = os.RemoveAll(tmp) }()
		p := filepath.Join(tmp, protoName(c.ProtoURL))
		if err := os.WriteFile(p, b, 0o600); err != nil {
			return nil, err
		}
		files, err = grpcload.FromProto(ctx, []string{p}, imports)
	case c.Protoset != "":
		files, err = grpcload.FromProtoset(abs(dir, c.Protoset))
	default:
		svc, _, _ := grpcload.ParseCall(c.Call)
		cc, derr := grpcload.Dial(c.Host, tlsConf, c.Authority)
		if derr != nil {
			return nil, derr
		}
		defer func() { _ = cc.Close() }()
		if err := grpcload.Connect(ctx, cc, connectTimeout); err != nil {
			return nil, fmt.Errorf("cannot connect to %s: %w", c.Host, err)
		}
		rctx, cancel := context.WithTimeout(ctx, connectTimeout)
		defer cancel()
		rmd, rerr := resolveAll(c.ReflectMetadata)
		if rerr != nil {
			return nil, rerr
		}
		files, err = grpcload.FromReflection(rctx, cc, metadataMD(rmd), svc)
		if err != nil {
			return nil, fmt.Errorf("%s: %w (no proto or protoset was given, so iter8 asked the server)", c.Host, err)
		}
	}
	if err != nil {
		return nil, err
	}
	return grpcload.FindMethod(files, c.Call)
}

func protoName(u string) string {
	base := u[strings.LastIndex(u, "/")+1:]
	if i := strings.IndexAny(base, "?#"); i >= 0 {
		base = base[:i]
	}
	if !strings.HasSuffix(base, ".proto") {
		base = "service.proto"
	}
	return base
}

func (t *grpcTask) Run(ctx context.Context, env *experiment.Env) error {
	in := t.in
	eps := make([]grpcload.Endpoint, len(t.eps))
	weights := make([]float64, len(t.eps))
	for i, e := range t.eps {
		tlsConf, err := e.in.tlsConfig(env.Dir)
		if err != nil {
			return err
		}
		md, err := e.in.method(ctx, env.Dir, tlsConf, in.ConnectTimeout.Duration)
		if err != nil {
			return endpointErr(e.id, err)
		}
		js, bin, err := e.in.data(ctx, env.Dir)
		if err != nil {
			return endpointErr(e.id, err)
		}
		meta, err := e.in.metadata(ctx, env.Dir)
		if err != nil {
			return endpointErr(e.id, err)
		}
		eps[i] = grpcload.Endpoint{
			Host: e.in.Host, Method: md, Data: js, Binary: bin, Metadata: meta, Authority: e.in.Authority, TLS: tlsConf,
		}
		if e.in.StreamInterval != nil {
			eps[i].StreamInterval = e.in.StreamInterval.Duration
		}
		if e.in.StreamCallDuration != nil {
			eps[i].StreamCallDuration = e.in.StreamCallDuration.Duration
		}
		if e.in.StreamCallCount != nil {
			eps[i].StreamCallCount = *e.in.StreamCallCount
		}
		weights[i] = e.weight
	}
	cfg := grpcload.Config{
		Endpoints: eps, Connections: *in.Connections, Timeout: in.Timeout.Duration,
		ConnectTimeout: in.ConnectTimeout.Duration, Compression: in.EnableCompression,
	}
	if in.MaxRecvMessageSize != nil {
		cfg.MaxRecvMsgSize = int(*in.MaxRecvMessageSize)
	}
	if in.MaxSendMessageSize != nil {
		cfg.MaxSendMsgSize = int(*in.MaxSendMessageSize)
	}
	target, err := grpcload.New(cfg)
	if err != nil {
		if len(t.eps) == 1 {
			return errors.New(trimEndpointPrefix(err.Error()))
		}
		return err
	}
	defer target.Close()
	if err := target.Probe(ctx); err != nil {
		return err
	}
	var rate float64
	if in.RPS != nil {
		rate = *in.RPS
	}
	opts := loadPlan{
		name: "grpc", connections: *in.Concurrency, weights: weights, rateTolerance: *in.RateTolerance,
		rate: rate, uniform: in.Uniform, requests: in.Total, duration: in.Duration, abort: t.abort,
		isError: func(_ int, o load.Outcome) bool { return o.Code != int(codes.OK) || o.Err != "" },
	}.options(env)
	if in.SkipFirst != nil && *in.SkipFirst > 0 {
		skip := opts
		skip.Requests, skip.Duration, skip.Progress, skip.Monitor = uint64(*in.SkipFirst), 0, nil, nil
		if _, err := load.Run(ctx, target, skip); err != nil {
			return err
		}
		// a fresh target, so stream counts cover the measured calls only
		target.Close()
		if target, err = grpcload.New(cfg); err != nil {
			return err
		}
		defer target.Close()
	}
	rep, err := runLoad(ctx, env, target, opts)
	if err != nil {
		return err
	}
	if in.Warmup != nil && *in.Warmup {
		env.Logger.Info("warmup finished; its results are discarded", "calls", rep.Total.Requests)
		return ctx.Err()
	}
	insights, err := env.Experiment.Result.InitInsights(1, nil)
	if err != nil {
		return err
	}
	record := func(provider string, st load.Stats, streams []grpcload.StreamStats, share float64) error {
		st.Codes = grpcCodeNames(st.Codes)
		if err := recordLoad(insights, provider, "/", st, rep, in.Percentiles, "gRPC", share); err != nil {
			return err
		}
		return recordStreams(insights, provider, streams, in.Percentiles)
	}
	var all []grpcload.StreamStats
	for i := range t.eps {
		if target.IsStream(i) {
			all = append(all, target.Streams(i))
		}
	}
	if err := record("grpc", rep.Total, all, 1); err != nil {
		return err
	}
	if len(t.eps) > 1 || t.eps[0].id != "" {
		for i, e := range t.eps {
			var s []grpcload.StreamStats
			if target.IsStream(i) {
				s = []grpcload.StreamStats{target.Streams(i)}
			}
			if err := record("grpc-"+e.id, rep.Endpoints[i], s, weightShare(weights, i)); err != nil {
				return err
			}
		}
	}
	env.Logger.Info("grpc load finished", "calls", rep.Total.Requests, "errors", rep.Total.Errors, "rate", round(rep.AchievedRate, 1))
	return finishLoad(ctx, env, rep)
}

func endpointErr(id string, err error) error {
	if id == "" {
		return err
	}
	return fmt.Errorf("endpoint %s: %w", id, err)
}

func metadataMD(m map[string]string) map[string][]string {
	if len(m) == 0 {
		return nil
	}
	md := map[string][]string{}
	for k, v := range m {
		md[strings.ToLower(k)] = []string{v}
	}
	return md
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
	set := func(name, desc, units string, typ metrics.Type, v float64) error {
		return in.SetValue(provider+"/"+name, metrics.Meta{Description: desc, Units: units, Type: typ}, 0, v)
	}
	if err := set("sent-messages", "number of stream messages sent", "", metrics.Counter, float64(total.Sent)); err != nil {
		return err
	}
	if err := set("received-messages", "number of stream messages received", "", metrics.Counter, float64(total.Received)); err != nil {
		return err
	}
	if total.Active > 0 {
		if err := set("received-message-rate", "stream messages received per second of stream call", "messages/s", metrics.Gauge, float64(total.Received)/total.Active.Seconds()); err != nil {
			return err
		}
	}
	if err := recordHistogram(in, provider, "first-response", "/", "time from the start of a stream call to its first response message", total.FirstResponse, percentiles); err != nil {
		return err
	}
	return recordHistogram(in, provider, "inter-message", "/", "time between response messages of a stream", total.InterMessage, percentiles)
}
