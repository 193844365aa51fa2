package demo

import (
	"context"
	"crypto/tls"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bufbuild/protocompile"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

//go:embed proto
var protoFS embed.FS

// DemoService is the demo gRPC service's full name.
const DemoService = "iter8.demo.v1.Demo"

// GRPCConfig tunes the gRPC target.
type GRPCConfig struct {
	// Latency delays each call (request n, counted over all methods).
	Latency Latency
	// ErrorRate fails this fraction of calls with ErrorCode, spread evenly.
	ErrorRate float64
	// ErrorCode defaults to Unavailable.
	ErrorCode codes.Code
	// StreamInterval spaces the replies of server streams.
	StreamInterval time.Duration
	// TLS serves TLS with this configuration (see CA).
	TLS *tls.Config
}

// GRPC is a running gRPC target: the demo service (unary and the three
// stream kinds, from embedded .proto files, served without generated code),
// the standard health service, and server reflection (v1 and v1alpha).
type GRPC struct {
	cfg   GRPCConfig
	srv   *grpc.Server
	ln    net.Listener
	files *protoregistry.Files
	req   protoreflect.MessageDescriptor
	reply protoreflect.MessageDescriptor
	n     atomic.Uint64
	done  chan struct{}

	conns atomic.Int64 // connections accepted

	mu       sync.Mutex
	calls    map[string]int64 // by method name
	received map[string]int64 // request messages by method
	sent     map[string]int64 // reply messages by method
	last     map[string]string
	methods  map[string]int64  // calls by full method name, all services
	metadata map[string]string // last value of each metadata key
}

// Files compiles the demo service's embedded .proto files.
func Files(ctx context.Context) (*protoregistry.Files, error) {
	sub, err := fs.Sub(protoFS, "proto")
	if err != nil {
		return nil, err
	}
	c := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
			Accessor: func(path string) (io.ReadCloser, error) { return sub.Open(path) },
		}),
	}
	linked, err := c.Compile(ctx, "iter8/demo/v1/demo.proto", "helloworld/helloworld.proto")
	if err != nil {
		return nil, fmt.Errorf("compiling the demo service: %w", err)
	}
	files := &protoregistry.Files{}
	var add func(fd protoreflect.FileDescriptor) error
	add = func(fd protoreflect.FileDescriptor) error {
		if _, err := files.FindFileByPath(fd.Path()); err == nil {
			return nil
		}
		imports := fd.Imports()
		for i := range imports.Len() {
			if err := add(imports.Get(i).FileDescriptor); err != nil {
				return err
			}
		}
		return files.RegisterFile(fd)
	}
	for _, f := range linked {
		if err := add(f); err != nil {
			return nil, err
		}
	}
	return files, nil
}

// WriteDemoProtos writes the demo service's .proto files under dir (as
// iter8/demo/v1/*.proto) and returns the path of the service's file.
func WriteDemoProtos(dir string) (string, error) {
	err := fs.WalkDir(protoFS, "proto", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := protoFS.ReadFile(p)
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(p[len("proto/"):]))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	return filepath.Join(dir, "iter8", "demo", "v1", "demo.proto"), err
}

// Protoset returns the demo service's descriptors as a serialised
// FileDescriptorSet (what protoc --descriptor_set_out --include_imports writes).
func Protoset(ctx context.Context) ([]byte, error) {
	files, err := Files(ctx)
	if err != nil {
		return nil, err
	}
	set := &descriptorpb.FileDescriptorSet{}
	files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
		return true
	})
	return proto.Marshal(set)
}

// StartGRPC starts the gRPC target on 127.0.0.1 (a free port unless addr is given).
func StartGRPC(cfg GRPCConfig, addr string) (*GRPC, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	if cfg.ErrorCode == codes.OK {
		cfg.ErrorCode = codes.Unavailable
	}
	files, err := Files(context.Background())
	if err != nil {
		return nil, err
	}
	s := &GRPC{
		cfg: cfg, files: files, done: make(chan struct{}),
		calls: map[string]int64{}, received: map[string]int64{}, sent: map[string]int64{},
		last: map[string]string{}, metadata: map[string]string{}, methods: map[string]int64{},
	}
	d, err := files.FindDescriptorByName(DemoService)
	if err != nil {
		return nil, err
	}
	svc := d.(protoreflect.ServiceDescriptor)
	s.req = svc.Methods().ByName("Unary").Input()
	s.reply = svc.Methods().ByName("Unary").Output()

	opts := []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			s.countMethod(info.FullMethod)
			return h(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			s.countMethod(info.FullMethod)
			return h(srv, ss)
		}),
	}
	if cfg.TLS != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(cfg.TLS)))
	}
	s.srv = grpc.NewServer(opts...)
	s.srv.RegisterService(s.serviceDesc(), s)
	hello, err := s.greeterDesc()
	if err != nil {
		return nil, err
	}
	s.srv.RegisterService(hello, s)
	healthpb.RegisterHealthServer(s.srv, health.NewServer())
	// Reflection resolves the demo's dynamic descriptors as well as the
	// generated ones (health).
	ro := reflection.ServerOptions{Services: s.srv, DescriptorResolver: composite{files, protoregistry.GlobalFiles}}
	reflectionv1.RegisterServerReflectionServer(s.srv, reflection.NewServerV1(ro))
	reflectionv1alpha.RegisterServerReflectionServer(s.srv, reflection.NewServer(ro))

	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("demo: listening on %s: %w", addr, err)
	}
	s.ln = ln
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(countingListener{ln, &s.conns})
	}()
	return s, nil
}

// countingListener counts the connections it accepts.
type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// Connections returns how many connections the server has accepted.
func (s *GRPC) Connections() int64 { return s.conns.Load() }

// composite resolves descriptors from several registries.
type composite []*protoregistry.Files

func (c composite) FindFileByPath(p string) (protoreflect.FileDescriptor, error) {
	for _, f := range c {
		if fd, err := f.FindFileByPath(p); err == nil {
			return fd, nil
		}
	}
	return nil, protoregistry.NotFound
}

func (c composite) FindDescriptorByName(n protoreflect.FullName) (protoreflect.Descriptor, error) {
	for _, f := range c {
		if d, err := f.FindDescriptorByName(n); err == nil {
			return d, nil
		}
	}
	return nil, protoregistry.NotFound
}

// Addr returns host:port.
func (s *GRPC) Addr() string { return s.ln.Addr().String() }

// Close stops the server.
func (s *GRPC) Close() error {
	stopped := make(chan struct{})
	go func() { s.srv.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		s.srv.Stop()
	}
	<-s.done
	return nil
}

// Calls returns how many calls a method (e.g. "Unary") received.
func (s *GRPC) Calls(method string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// MethodCalls returns the calls the demo services received by method name
// (such as "SayHello"), as Calls counts them.
func (s *GRPC) MethodCalls() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int64, len(s.calls))
	for k, v := range s.calls {
		out[k] = v
	}
	return out
}

func (s *GRPC) countMethod(m string) {
	s.mu.Lock()
	s.methods[m]++
	s.mu.Unlock()
}

// CallCounts returns the calls received by full method name
// (/grpc.health.v1.Health/Check), for every service.
func (s *GRPC) CallCounts() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int64, len(s.methods))
	for k, v := range s.methods {
		out[k] = v
	}
	return out
}

// Received returns how many request messages a method received.
func (s *GRPC) Received(method string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.received[method]
}

// Sent returns how many reply messages a method sent.
func (s *GRPC) Sent(method string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent[method]
}

// LastRequest returns the last request a method received, as JSON.
func (s *GRPC) LastRequest(method string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last[method]
}

// Metadata returns the last value received for a metadata key.
func (s *GRPC) Metadata(key string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.metadata[key]
}

func (s *GRPC) serviceDesc() *grpc.ServiceDesc {
	return &grpc.ServiceDesc{
		ServiceName: DemoService,
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{{
			MethodName: "Unary",
			Handler: func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
				in := dynamicpb.NewMessage(s.req)
				if err := dec(in); err != nil {
					return nil, err
				}
				if err := s.begin(ctx, "Unary", in); err != nil {
					return nil, err
				}
				s.count("Unary", 0, 1)
				return s.newReply("hello "+name(in), 0), nil
			},
		}},
		Streams: []grpc.StreamDesc{
			{StreamName: "ServerStream", ServerStreams: true, Handler: s.serverStream},
			{StreamName: "ClientStream", ClientStreams: true, Handler: s.clientStream},
			{StreamName: "Bidi", ServerStreams: true, ClientStreams: true, Handler: s.bidi},
		},
	}
}

// GreeterService is the hello world service's full name.
const GreeterService = "helloworld.Greeter"

// greeterDesc serves helloworld.Greeter/SayHello, with the demo's latency
// and error settings; its calls count as "SayHello".
func (s *GRPC) greeterDesc() (*grpc.ServiceDesc, error) {
	d, err := s.files.FindDescriptorByName(GreeterService)
	if err != nil {
		return nil, err
	}
	m := d.(protoreflect.ServiceDescriptor).Methods().ByName("SayHello")
	in, out := m.Input(), m.Output()
	return &grpc.ServiceDesc{
		ServiceName: GreeterService,
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{{
			MethodName: "SayHello",
			Handler: func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
				req := dynamicpb.NewMessage(in)
				if err := dec(req); err != nil {
					return nil, err
				}
				if err := s.admit(ctx, "SayHello", req, nil); err != nil {
					return nil, err
				}
				s.count("SayHello", 0, 1)
				rep := dynamicpb.NewMessage(out)
				rep.Set(out.Fields().ByName("message"), protoreflect.ValueOfString("Hello "+name(req)))
				return rep, nil
			},
		}},
	}, nil
}

// begin records a call of the demo service and applies its latency and
// status code, including those the request's options ask for (unless the
// stream is to break later, see breakAfter).
func (s *GRPC) begin(ctx context.Context, method string, in *dynamicpb.Message) error {
	opts := in.Get(s.req.Fields().ByName("options")).Message()
	if opts.Get(opts.Descriptor().Fields().ByName("break_stream")).Bool() {
		return s.admit(ctx, method, in, nil)
	}
	return s.admit(ctx, method, in, opts)
}

// breakAfter returns after how many replies a stream should fail, and with
// which error, or -1 when it should not.
func (s *GRPC) breakAfter(in *dynamicpb.Message, replies int64) (int64, error) {
	opts := in.Get(s.req.Fields().ByName("options")).Message()
	if !opts.Get(opts.Descriptor().Fields().ByName("break_stream")).Bool() {
		return -1, nil
	}
	code := codes.Code(opts.Get(opts.Descriptor().Fields().ByName("code")).Int())
	if code == codes.OK {
		code = codes.Aborted
	}
	return replies / 2, status.Error(code, "stream broken on request")
}

// admit records a call and applies the configured latency and errors, and
// those of opts when given.
func (s *GRPC) admit(ctx context.Context, method string, in *dynamicpb.Message, opts protoreflect.Message) error {
	n := s.n.Add(1) - 1
	js, _ := protojson.Marshal(in)
	s.mu.Lock()
	s.calls[method]++
	s.received[method]++
	s.last[method] = string(js)
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		for k, v := range md {
			if len(v) > 0 {
				s.metadata[k] = v[len(v)-1]
			}
		}
	}
	s.mu.Unlock()
	delay := time.Duration(0)
	if s.cfg.Latency != nil {
		delay = s.cfg.Latency(n)
	}
	if opts != nil {
		if ms := opts.Get(opts.Descriptor().Fields().ByName("delay_ms")).Int(); ms > 0 {
			delay = time.Duration(ms) * time.Millisecond
		}
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return status.FromContextError(ctx.Err()).Err()
		}
	}
	if opts != nil {
		if c := opts.Get(opts.Descriptor().Fields().ByName("code")).Int(); c != 0 {
			return status.Error(codes.Code(c), "requested status")
		}
	}
	if rate := s.cfg.ErrorRate; rate > 0 && math.Floor(float64(n+1)*rate) > math.Floor(float64(n)*rate) {
		return status.Error(s.cfg.ErrorCode, "injected error")
	}
	return nil
}

func (s *GRPC) count(method string, received, sent int64) {
	s.mu.Lock()
	s.received[method] += received
	s.sent[method] += sent
	s.mu.Unlock()
}

func name(m *dynamicpb.Message) string {
	return m.Get(m.Descriptor().Fields().ByName("name")).String()
}

func (s *GRPC) newReply(msg string, i int64) *dynamicpb.Message {
	r := dynamicpb.NewMessage(s.reply)
	r.Set(s.reply.Fields().ByName("message"), protoreflect.ValueOfString(msg))
	r.Set(s.reply.Fields().ByName("index"), protoreflect.ValueOfInt64(i))
	return r
}

func (s *GRPC) serverStream(_ any, st grpc.ServerStream) error {
	in := dynamicpb.NewMessage(s.req)
	if err := st.RecvMsg(in); err != nil {
		return err
	}
	if err := s.begin(st.Context(), "ServerStream", in); err != nil {
		return err
	}
	n := in.Get(s.req.Fields().ByName("count")).Int()
	if n <= 0 {
		n = 3
	}
	at, breakErr := s.breakAfter(in, n)
	for i := range n {
		if i == at {
			return breakErr
		}
		if i > 0 && s.cfg.StreamInterval > 0 {
			time.Sleep(s.cfg.StreamInterval)
		}
		if err := st.SendMsg(s.newReply(name(in), i)); err != nil {
			return err
		}
		s.count("ServerStream", 0, 1)
	}
	return nil
}

func (s *GRPC) clientStream(_ any, st grpc.ServerStream) error {
	var got int64
	for {
		in := dynamicpb.NewMessage(s.req)
		err := st.RecvMsg(in)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if got == 0 {
			if err := s.begin(st.Context(), "ClientStream", in); err != nil {
				return err
			}
		} else {
			s.count("ClientStream", 1, 0)
		}
		got++
	}
	s.count("ClientStream", 0, 1)
	return st.SendMsg(s.newReply(fmt.Sprintf("received %d", got), got))
}

func (s *GRPC) bidi(_ any, st grpc.ServerStream) error {
	var (
		i        int64
		breakAt  int64 = -1
		breakErr error
	)
	for {
		in := dynamicpb.NewMessage(s.req)
		err := st.RecvMsg(in)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if i == 0 {
			// the first message decides: break after one reply
			if at, err := s.breakAfter(in, 2); at >= 0 {
				breakAt, breakErr = max(at, 1), err
			}
		}
		if i == breakAt {
			return breakErr
		}
		if i == 0 {
			if err := s.begin(st.Context(), "Bidi", in); err != nil {
				return err
			}
		} else {
			s.count("Bidi", 1, 0)
		}
		if err := st.SendMsg(s.newReply(name(in), i)); err != nil {
			return err
		}
		s.count("Bidi", 0, 1)
		i++
	}
}
