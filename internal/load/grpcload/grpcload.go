// Package grpcload calls any gRPC method for the load engine without
// generated code: method descriptors come from .proto files, a protoset or
// server reflection; requests are built once from JSON and sent as bytes;
// responses are counted, not decoded. Unary calls and client, server and
// bidirectional streams are supported, with per-message stream metrics.
package grpcload

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	_ "google.golang.org/grpc/encoding/gzip" // registers the gzip compressor for enable-compression
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"iter8.tools/iter8/internal/load"
	"iter8.tools/iter8/internal/metrics"
	"iter8.tools/iter8/internal/tmpl"
)

// Endpoint is one method to call.
type Endpoint struct {
	Host   string
	Method protoreflect.MethodDescriptor
	// Data is the request as JSON: an object, or (for client and bidi
	// streams) a list of objects, one message each. It may be a Go template
	// using .RequestNumber, .UUID, .Timestamp, .TimestampUnix,
	// .TimestampUnixMilli and .TimestampUnixNano.
	Data []byte
	// Binary is a serialised request message, used instead of Data.
	Binary    []byte
	Metadata  map[string]string
	Authority string
	// StreamInterval spaces the messages a client or bidi stream sends.
	StreamInterval time.Duration
	// StreamCallDuration ends a stream call after this long.
	StreamCallDuration time.Duration
	// StreamCallCount is the number of messages a client or bidi stream sends
	// (default: the number of messages in Data).
	StreamCallCount int
	// TLS secures the connection; nil means plaintext.
	TLS *tls.Config
}

// Config configures a Target.
type Config struct {
	Endpoints []Endpoint
	// Connections is the number of connections per host (default 1); calls
	// are multiplexed over them.
	Connections    int
	Timeout        time.Duration
	ConnectTimeout time.Duration
	MaxRecvMsgSize int
	MaxSendMsgSize int
	Compression    bool
	// Keepalive, when positive, pings an idle connection after this long
	// (ghz's keepalive).
	Keepalive time.Duration
	// LBPolicy names the client's load-balancing policy, such as
	// round_robin (ghz's lb-strategy); empty keeps gRPC's default.
	LBPolicy string
}

// StreamStats are per-message measurements of stream calls.
type StreamStats struct {
	Sent, Received int64
	// FirstResponse is the time from the start of a call to its first
	// response message; InterMessage the time between response messages.
	FirstResponse, InterMessage *metrics.HDR
	// Active is the time spent in stream calls, from their start to their
	// end, whether they received messages or not: the received-message
	// rate is per second of stream call.
	Active time.Duration
}

func newStreamStats() StreamStats {
	return StreamStats{FirstResponse: metrics.NewHDR(), InterMessage: metrics.NewHDR()}
}

func (s *StreamStats) merge(o StreamStats) {
	s.Sent += o.Sent
	s.Received += o.Received
	s.FirstResponse.Merge(o.FirstResponse)
	s.InterMessage.Merge(o.InterMessage)
	s.Active += o.Active
}

type endpoint struct {
	Endpoint
	path     string // /package.Service/Method
	desc     *grpc.StreamDesc
	pool     []*grpc.ClientConn
	msgs     [][]byte // pre-built messages when Data is not a template
	tmpl     *tmpl.Template
	md       metadata.MD
	seq      atomic.Uint64
	streamMu sync.Mutex
	streams  StreamStats
}

// Target calls one or more gRPC methods.
type Target struct {
	cfg   Config
	eps   []*endpoint
	conns []*grpc.ClientConn
	opts  []grpc.CallOption
	next  atomic.Uint64 // conn index for new workers
}

var _ load.Target = (*Target)(nil)

// New prepares a target: it builds every request message (reporting fields
// that do not exist) and creates the connections, which connect lazily.
func New(cfg Config) (*Target, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("grpcload: no endpoints")
	}
	if cfg.Connections < 1 {
		cfg.Connections = 1
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 20 * time.Second
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	t := &Target{cfg: cfg, opts: []grpc.CallOption{grpc.ForceCodecV2(rawCodec{})}}
	if cfg.Compression {
		t.opts = append(t.opts, grpc.UseCompressor("gzip"))
	}
	if cfg.MaxRecvMsgSize > 0 {
		t.opts = append(t.opts, grpc.MaxCallRecvMsgSize(cfg.MaxRecvMsgSize))
	}
	if cfg.MaxSendMsgSize > 0 {
		t.opts = append(t.opts, grpc.MaxCallSendMsgSize(cfg.MaxSendMsgSize))
	}
	pools := map[string][]*grpc.ClientConn{}
	for i, e := range cfg.Endpoints {
		ep, err := t.prepare(e)
		if err != nil {
			t.Close()
			return nil, &load.EndpointError{Index: i, Err: err}
		}
		key := fmt.Sprintf("%s|%s|%p", e.Host, e.Authority, e.TLS)
		pool, ok := pools[key]
		if !ok {
			for range cfg.Connections {
				cc, err := Dial(e.Host, e.TLS, e.Authority, cfg.dialOptions()...)
				if err != nil {
					t.Close()
					return nil, &load.EndpointError{Index: i, Err: err}
				}
				pool = append(pool, cc)
				t.conns = append(t.conns, cc)
			}
			pools[key] = pool
		}
		ep.pool = pool
		t.eps = append(t.eps, ep)
	}
	return t, nil
}

// dialOptions are the connection options of cfg beyond Dial's.
func (cfg Config) dialOptions() []grpc.DialOption {
	var opts []grpc.DialOption
	if cfg.Keepalive > 0 {
		opts = append(opts, grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: cfg.Keepalive}))
	}
	if cfg.LBPolicy != "" {
		opts = append(opts, grpc.WithDefaultServiceConfig(fmt.Sprintf(`{"loadBalancingConfig":[{%q:{}}]}`, cfg.LBPolicy)))
	}
	return opts
}

// CheckLBPolicy reports a load-balancing policy that gRPC does not know.
func CheckLBPolicy(name string) error {
	if balancer.Get(name) == nil {
		return fmt.Errorf("unknown load-balancing policy %q: expected one registered with gRPC, such as pick_first or round_robin", name)
	}
	return nil
}

// Dial creates a client connection (it connects lazily); extra adds
// options.
func Dial(host string, tlsConf *tls.Config, authority string, extra ...grpc.DialOption) (*grpc.ClientConn, error) {
	creds := insecure.NewCredentials()
	if tlsConf != nil {
		creds = credentials.NewTLS(tlsConf)
	}
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithUserAgent("iter8"),
		// Large windows and buffers: a load generator should not be the
		// flow-control bottleneck.
		grpc.WithInitialWindowSize(1 << 20),
		grpc.WithInitialConnWindowSize(1 << 22),
	}
	if authority != "" {
		opts = append(opts, grpc.WithAuthority(authority))
	}
	opts = append(opts, extra...)
	cc, err := grpc.NewClient("passthrough:///"+host, opts...)
	if err != nil {
		return nil, fmt.Errorf("host %q: %w", host, err)
	}
	return cc, nil
}

func (t *Target) prepare(e Endpoint) (*endpoint, error) {
	md := e.Method
	if md == nil {
		return nil, errors.New("no method")
	}
	ep := &endpoint{
		Endpoint: e,
		path:     "/" + string(md.Parent().FullName()) + "/" + string(md.Name()),
		desc:     &grpc.StreamDesc{StreamName: string(md.Name()), ClientStreams: md.IsStreamingClient(), ServerStreams: md.IsStreamingServer()},
		streams:  newStreamStats(),
	}
	if len(e.Metadata) > 0 {
		ep.md = metadata.New(e.Metadata)
	}
	switch {
	case len(e.Binary) > 0:
		if err := proto.Unmarshal(e.Binary, dynamicpb.NewMessage(md.Input())); err != nil {
			return nil, fmt.Errorf("binary data is not a %s message: %w", md.Input().FullName(), err)
		}
		ep.msgs = [][]byte{e.Binary}
	case bytes.Contains(e.Data, []byte("{{")):
		t, err := tmpl.Parse("data", string(e.Data), dataLimits(), nil, "missingkey=error")
		if err != nil {
			return nil, fmt.Errorf("data template: %w", err)
		}
		ep.tmpl = t
		// Check the template renders to valid messages once, up front.
		if _, err := ep.messages(0); err != nil {
			return nil, err
		}
	default:
		msgs, err := buildMessages(md, e.Data)
		if err != nil {
			return nil, err
		}
		ep.msgs = msgs
	}
	if !md.IsStreamingClient() && len(ep.msgs) > 1 {
		return nil, fmt.Errorf("data is a list of %d messages, but %s takes one request message", len(ep.msgs), md.FullName())
	}
	return ep, nil
}

// templateData is what a data template can use.
type templateData struct {
	RequestNumber      uint64
	UUID               string
	Timestamp          string
	TimestampUnix      int64
	TimestampUnixMilli int64
	TimestampUnixNano  int64
}

// messages returns the serialised request messages of call n.
func (ep *endpoint) messages(n uint64) ([][]byte, error) {
	if ep.tmpl == nil {
		return ep.msgs, nil
	}
	now := time.Now()
	b, err := ep.tmpl.Execute(templateData{
		RequestNumber: n, UUID: uuid.NewString(), Timestamp: now.Format(time.RFC3339Nano),
		TimestampUnix: now.Unix(), TimestampUnixMilli: now.UnixMilli(), TimestampUnixNano: now.UnixNano(),
	})
	if err != nil {
		return nil, fmt.Errorf("data template: %w", err)
	}
	return buildMessages(ep.Method, b)
}

// dataLimits bound a data template, rendered once per request: messages of
// at most 4 MiB (gRPC's default limit), 100,000-item lists, a second.
func dataLimits() tmpl.Limits {
	l := tmpl.DefaultLimits()
	l.Output, l.Time = 4<<20, time.Second
	return l
}

// buildMessages turns JSON (an object or a list of objects) into serialised
// messages of the method's input type. Unknown fields are errors.
func buildMessages(md protoreflect.MethodDescriptor, data []byte) ([][]byte, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		data = []byte("{}")
	}
	var items []json.RawMessage
	if data[0] == '[' {
		if err := json.Unmarshal(data, &items); err != nil {
			return nil, fmt.Errorf("data is not a JSON list of messages: %w", err)
		}
	} else {
		items = []json.RawMessage{data}
	}
	out := make([][]byte, 0, len(items))
	for i, raw := range items {
		m := dynamicpb.NewMessage(md.Input())
		if err := protojson.Unmarshal(raw, m); err != nil {
			where := "data"
			if len(items) > 1 {
				where = fmt.Sprintf("data[%d]", i)
			}
			return nil, fmt.Errorf("%s is not a valid %s message: %s", where, md.Input().FullName(), cleanProtoJSONError(err))
		}
		b, err := proto.Marshal(m)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

func cleanProtoJSONError(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "proto:")
	s = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s), "(line 1:"))
	return strings.ReplaceAll(s, "\u00a0", " ")
}

// Probe connects every connection, within the connect timeout, and returns a
// clear error for a host that cannot be reached.
func (t *Target) Probe(ctx context.Context) error {
	for _, ep := range t.eps {
		for _, cc := range ep.pool {
			if err := Connect(ctx, cc, t.cfg.ConnectTimeout); err != nil {
				return fmt.Errorf("cannot connect to %s: %w", ep.Host, err)
			}
		}
	}
	return nil
}

// Connect connects cc within timeout; the error says why it could not.
func Connect(ctx context.Context, cc *grpc.ClientConn, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cc.Connect()
	for {
		s := cc.GetState()
		switch s {
		case connectivity.Ready:
			return nil
		case connectivity.TransientFailure:
			// Let the connection tell why.
			err := cc.Invoke(ctx, "/grpc.health.v1.Health/Check", &[]byte{}, &sink{}, grpc.ForceCodecV2(rawCodec{}))
			if code := status.Code(err); code == codes.Unavailable || code == codes.DeadlineExceeded {
				return errors.New(dialError(status.Convert(err).Message()))
			}
			// Any other answer means the server is there.
			return nil
		}
		if !cc.WaitForStateChange(ctx, s) {
			return fmt.Errorf("no connection within %v (state %s)", timeout, s)
		}
	}
}

// dialError keeps the useful end of grpc's connection error message.
func dialError(msg string) string {
	for _, p := range []string{"Error while dialing: ", "desc = "} {
		if i := strings.LastIndex(msg, p); i >= 0 {
			msg = msg[i+len(p):]
		}
	}
	return strings.Trim(msg, `"`)
}

// Close closes the connections.
func (t *Target) Close() {
	for _, cc := range t.conns {
		_ = cc.Close()
	}
}

// Streams returns the per-message measurements of an endpoint's stream calls.
func (t *Target) Streams(ep int) StreamStats {
	e := t.eps[ep]
	e.streamMu.Lock()
	defer e.streamMu.Unlock()
	return e.streams
}

// ResetStreams forgets the stream measurements of the calls made so far
// (warm-up calls that are not measured).
func (t *Target) ResetStreams() {
	for _, e := range t.eps {
		e.streamMu.Lock()
		e.streams = newStreamStats()
		e.streamMu.Unlock()
	}
}

// IsStream reports whether an endpoint's method streams.
func (t *Target) IsStream(ep int) bool {
	d := t.eps[ep].desc
	return d.ClientStreams || d.ServerStreams
}

// NewConn returns a caller for one worker.
func (t *Target) NewConn() load.Conn {
	c := &conn{t: t, idx: int(t.next.Add(1) - 1), streams: make([]StreamStats, len(t.eps))}
	c.opts = append(slices.Clip(t.opts), grpc.Header(&c.hdr), grpc.Trailer(&c.trl))
	for i := range c.streams {
		c.streams[i] = newStreamStats()
	}
	return c
}

type conn struct {
	t       *Target
	idx     int
	base    context.Context
	ctxs    []context.Context // per endpoint, with metadata
	streams []StreamStats
	// opts are the target's call options plus two that keep a unary
	// call's response header and trailer in hdr and trl: either says the
	// server answered the call.
	opts     []grpc.CallOption
	hdr, trl metadata.MD
}

func (c *conn) ctx(ctx context.Context, ep int) context.Context {
	if ctx != c.base {
		c.base = ctx
		c.ctxs = make([]context.Context, len(c.t.eps))
		for i, e := range c.t.eps {
			c.ctxs[i] = ctx
			if e.md != nil {
				c.ctxs[i] = metadata.NewOutgoingContext(ctx, e.md)
			}
		}
	}
	return c.ctxs[ep]
}

func (c *conn) Do(ctx context.Context, i int) load.Outcome {
	ep := c.t.eps[i]
	cc := ep.pool[c.idx%len(ep.pool)]
	msgs, err := ep.messages(ep.seq.Add(1) - 1)
	if err != nil {
		return load.Outcome{Code: int(codes.InvalidArgument)}
	}
	var sent time.Time
	if ep.tmpl != nil {
		sent = time.Now() // rendering the request was the generator's time
	}
	callCtx, cancel := context.WithTimeout(c.ctx(ctx, i), c.t.cfg.Timeout)
	defer cancel()
	var answered bool
	if !ep.desc.ClientStreams && !ep.desc.ServerStreams {
		var s sink
		c.hdr, c.trl = nil, nil
		err = cc.Invoke(callCtx, ep.path, &msgs[0], &s, c.opts...)
		answered = len(c.hdr) > 0 || len(c.trl) > 0
	} else {
		answered, err = c.stream(callCtx, cc, ep, msgs, &c.streams[i])
	}
	deadline, _ := callCtx.Deadline()
	out := outcome(ctx, err, deadline, time.Now(), answered)
	out.Sent = sent
	return out
}

// outcome maps a call's error to its status code; failures that produced no
// answer from the server are error kinds, not timed. A deadline-exceeded
// status is a timeout (timed at the timeout) only when the call's deadline
// had come; before it, the server sent that status (its own deadline for
// a downstream call ran out): an answer, timed as any other. Unavailable
// and cancelled are the server's answers, timed, when it answered (sent a
// response header or trailer: a server shedding load); else the client's
// (no connection, the stream reset).
func outcome(ctx context.Context, err error, deadline, now time.Time, answered bool) load.Outcome {
	if err == nil {
		return load.Outcome{Code: int(codes.OK)}
	}
	code := status.Code(err)
	switch {
	case ctx.Err() != nil:
		return load.Outcome{Err: load.Canceled}
	case !deadline.IsZero() && endedByDeadline(err, deadline, now):
		return load.Outcome{Code: int(codes.DeadlineExceeded), Err: load.DeadlineExceeded}
	case code == codes.DeadlineExceeded:
		return load.Outcome{Code: int(code)}
	case (code == codes.Unavailable || code == codes.Canceled) && !answered:
		return load.Outcome{Code: int(code), Err: load.ErrorKind(code.String())}
	}
	return load.Outcome{Code: int(code)}
}

// stream runs one streaming call: it sends the request messages (spaced by
// StreamInterval, StreamCallCount of them) and receives every response,
// recording per-message times.
func (c *conn) stream(ctx context.Context, cc *grpc.ClientConn, ep *endpoint, msgs [][]byte, st *StreamStats) (answered bool, err error) {
	var planned time.Time // when the stream call is due to end
	if ep.StreamCallDuration > 0 {
		planned = time.Now().Add(ep.StreamCallDuration)
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, ep.StreamCallDuration)
		defer cancel()
	}
	start := time.Now()
	s, err := cc.NewStream(ctx, ep.desc, ep.path, c.t.opts...)
	if err != nil {
		return false, err
	}
	count := 1
	if ep.desc.ClientStreams {
		count = len(msgs)
		if ep.StreamCallCount > 0 {
			count = ep.StreamCallCount
		}
	}
	recvErr := make(chan error, 1)
	var received int64
	var last time.Time
	recv := func() error {
		for {
			var m sink
			err := s.RecvMsg(&m)
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			now := time.Now()
			if received == 0 {
				st.FirstResponse.Record(now.Sub(start))
			} else {
				st.InterMessage.Record(now.Sub(last))
			}
			last = now
			received++
			if !ep.desc.ServerStreams {
				// one response: the call is over once it has been read
				err := s.RecvMsg(&m)
				if errors.Is(err, io.EOF) {
					return nil
				}
				return err
			}
		}
	}
	if ep.desc.ClientStreams && ep.desc.ServerStreams {
		go func() { recvErr <- recv() }()
	}
	var sendErr error
	for n := range count {
		if n > 0 && ep.StreamInterval > 0 {
			t := time.NewTimer(ep.StreamInterval)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
		}
		if ctx.Err() != nil {
			break
		}
		m := msgs[n%len(msgs)]
		if sendErr = s.SendMsg(&m); sendErr != nil {
			break
		}
		st.Sent++
	}
	if errors.Is(sendErr, io.EOF) {
		sendErr = nil // the server ended the stream; RecvMsg returns its status
	}
	_ = s.CloseSend()
	var err2 error
	if ep.desc.ClientStreams && ep.desc.ServerStreams {
		err2 = <-recvErr
	} else {
		err2 = recv()
	}
	end := time.Now()
	st.Received += received
	st.Active += end.Sub(start)
	if dl, ok := ctx.Deadline(); ok && endedByDeadline(err2, dl, end) {
		// The call's deadline ended it while it waited for a message: the
		// wait is a lower bound, as a timed-out call's latency is. A
		// stream that got none has its first response at least that
		// late; one that stalled after a message, a gap at least that
		// long (unless the stream's planned duration ended it, as it
		// was meant to).
		switch {
		case received == 0:
			st.FirstResponse.Record(end.Sub(start))
		case ep.desc.ServerStreams && (planned.IsZero() || dl.Before(planned)):
			st.InterMessage.Record(end.Sub(last))
		}
	}
	if err2 == nil && sendErr != nil {
		err2 = sendErr
	}
	if !planned.IsZero() && endedByDeadline(err2, planned, time.Now()) {
		return true, nil // the stream ran for its configured duration
	}
	if err2 != nil {
		// (the stream is over: Header does not wait)
		hdr, _ := s.Header()
		answered = len(hdr) > 0 || len(s.Trailer()) > 0
	}
	return answered, err2
}

// endedByDeadline reports whether a call that failed with err at now ended
// because its deadline had come: a deadline-exceeded (or cancelled) status
// once the clock reached it. The server, which learns the deadline from the
// request, may end the call a moment before the client's own timer fires,
// so the clock decides, not the context.
func endedByDeadline(err error, deadline, now time.Time) bool {
	c := status.Code(err)
	return (c == codes.DeadlineExceeded || c == codes.Canceled) && !now.Before(deadline)
}

// Close hands this worker's stream measurements to the target.
func (c *conn) Close() error {
	for i, st := range c.streams {
		ep := c.t.eps[i]
		ep.streamMu.Lock()
		ep.streams.merge(st)
		ep.streamMu.Unlock()
	}
	return nil
}

// rawCodec sends pre-serialised messages and counts responses without
// decoding them: requests are built once, and the generator spends no CPU on
// protobuf per call.
type rawCodec struct{}

// sink receives a response without decoding it.
type sink struct{ n int }

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	b, ok := v.(*[]byte)
	if !ok {
		return nil, fmt.Errorf("grpcload: cannot send %T", v)
	}
	return mem.BufferSlice{mem.SliceBuffer(*b)}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	s, ok := v.(*sink)
	if !ok {
		return fmt.Errorf("grpcload: cannot receive into %T", v)
	}
	s.n = data.Len()
	return nil
}

func (rawCodec) Name() string { return "proto" }
