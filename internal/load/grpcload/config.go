package grpcload

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"iter8.tools/iter8/internal/load"
	"iter8.tools/iter8/internal/source"
)

// This file turns what a user gives (file names, URLs, TLS options) into the
// parts of an Endpoint: TLS configuration, method descriptors and metadata.

// TLS configures TLS from files. gRPC is plaintext unless an option is set.
type TLS struct {
	// CAFile is a PEM file of CAs to trust instead of the system pool.
	CAFile string
	// CertFile and KeyFile are a client certificate and key (mutual TLS).
	CertFile, KeyFile string
	// ServerName overrides the name used for SNI and verification.
	ServerName string
	// InsecureSkipVerify disables certificate verification.
	InsecureSkipVerify bool
}

// Enabled reports whether any option asks for TLS.
func (o TLS) Enabled() bool {
	return o.CAFile != "" || o.CertFile != "" || o.ServerName != "" || o.InsecureSkipVerify
}

// Config returns the TLS configuration, or nil for plaintext.
func (o TLS) Config(ctx context.Context) (*tls.Config, error) {
	if !o.Enabled() {
		return nil, nil
	}
	conf := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: o.ServerName, InsecureSkipVerify: o.InsecureSkipVerify} //nolint:gosec // the user asks for it explicitly
	files := load.ClientFiles{CAFile: o.CAFile, CertFile: o.CertFile, KeyFile: o.KeyFile}
	if err := files.Apply(ctx, conf, "cacert"); err != nil {
		return nil, err
	}
	return conf, nil
}

// Descriptors say where a method's descriptors come from: a .proto file, a
// .proto downloaded from a URL, a protoset or, when none is given, the
// server itself through reflection.
type Descriptors struct {
	Proto    string
	ProtoURL string
	Protoset string
	// ImportPaths are where the imports of a .proto file are found.
	ImportPaths []string
	// ReflectMetadata is sent with reflection requests.
	ReflectMetadata map[string]string
}

// Reflection reports whether the descriptors come from the server.
func (d Descriptors) Reflection() bool {
	return d.Proto == "" && d.ProtoURL == "" && d.Protoset == ""
}

// Server is where reflection requests go.
type Server struct {
	Host      string
	Authority string
	TLS       *tls.Config
	// ConnectTimeout bounds connecting and the reflection requests.
	ConnectTimeout time.Duration
}

// Method finds the descriptor of call (package.Service.Method).
func (d Descriptors) Method(ctx context.Context, call string, srv Server) (protoreflect.MethodDescriptor, error) {
	files, err := d.files(ctx, call, srv)
	if err != nil {
		return nil, err
	}
	return FindMethod(files, call)
}

func (d Descriptors) files(ctx context.Context, call string, srv Server) (*protoregistry.Files, error) {
	switch {
	case d.Proto != "":
		return FromProto(ctx, []string{d.Proto}, d.ImportPaths)
	case d.ProtoURL != "":
		return d.download(ctx)
	case d.Protoset != "":
		return FromProtoset(ctx, d.Protoset)
	}
	svc, _, _ := ParseCall(call)
	cc, err := Dial(srv.Host, srv.TLS, srv.Authority)
	if err != nil {
		return nil, err
	}
	defer func() { _ = cc.Close() }()
	if err := Connect(ctx, cc, srv.ConnectTimeout); err != nil {
		return nil, fmt.Errorf("cannot connect to %s: %w", srv.Host, err)
	}
	rctx, cancel := context.WithTimeout(ctx, srv.ConnectTimeout)
	defer cancel()
	files, err := FromReflection(rctx, cc, metadataMD(d.ReflectMetadata), svc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (no proto or protoset was given, so iter8 asked the server)", srv.Host, err)
	}
	return files, nil
}

// download fetches ProtoURL and compiles it from a temporary folder, under
// the file name the URL ends with.
func (d Descriptors) download(ctx context.Context) (*protoregistry.Files, error) {
	b, err := source.Reader{}.URL(ctx, "", d.ProtoURL)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "iter8-proto-")
	if err != nil {
		return nil, err
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	p := filepath.Join(tmp, protoName(d.ProtoURL))
	if err := os.WriteFile(p, b, 0o600); err != nil {
		return nil, err
	}
	return FromProto(ctx, []string{p}, d.ImportPaths)
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

func metadataMD(m map[string]string) metadata.MD {
	if len(m) == 0 {
		return nil
	}
	md := metadata.MD{}
	for k, v := range m {
		md[strings.ToLower(k)] = []string{v}
	}
	return md
}

// ReadMetadata returns the metadata sent with every call: a JSON object of
// strings read from file or url (at most one is set), under inline entries,
// which win.
func ReadMetadata(ctx context.Context, file, url string, inline map[string]string) (map[string]string, error) {
	var raw []byte
	var err error
	switch {
	case file != "":
		raw, err = source.Reader{}.File(ctx, "metadata-file", file)
	case url != "":
		raw, err = source.Reader{}.URL(ctx, "", url)
	}
	if err != nil {
		return nil, err
	}
	md := map[string]string{}
	if raw != nil {
		if err := json.Unmarshal(raw, &md); err != nil {
			return nil, fmt.Errorf("metadata must be a JSON object of strings: %w", err)
		}
	}
	for k, v := range inline {
		md[k] = v
	}
	return md, nil
}
