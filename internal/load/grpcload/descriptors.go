package grpcload

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/bufbuild/protocompile"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	"iter8.tools/iter8/internal/source"
)

// ParseCall splits a method name given as package.Service.Method or
// package.Service/Method (a leading slash is allowed).
func ParseCall(call string) (service, method string, err error) {
	c := strings.TrimPrefix(strings.TrimSpace(call), "/")
	if i := strings.LastIndex(c, "/"); i > 0 {
		service, method = c[:i], c[i+1:]
	} else if i := strings.LastIndex(c, "."); i > 0 {
		service, method = c[:i], c[i+1:]
	}
	if service == "" || method == "" || strings.Contains(method, ".") || strings.Contains(service, "/") {
		return "", "", fmt.Errorf("call %q: expected package.Service.Method or package.Service/Method", call)
	}
	return service, method, nil
}

// FindMethod looks a method up in a set of files, saying what exists when it
// does not.
func FindMethod(files *protoregistry.Files, call string) (protoreflect.MethodDescriptor, error) {
	service, method, err := ParseCall(call)
	if err != nil {
		return nil, err
	}
	d, err := files.FindDescriptorByName(protoreflect.FullName(service))
	if err != nil {
		return nil, fmt.Errorf("service %q not found; services known: %s", service, strings.Join(serviceNames(files), ", "))
	}
	sd, ok := d.(protoreflect.ServiceDescriptor)
	if !ok {
		return nil, fmt.Errorf("%q is a %T, not a service", service, d)
	}
	md := sd.Methods().ByName(protoreflect.Name(method))
	if md == nil {
		var names []string
		for i := range sd.Methods().Len() {
			names = append(names, string(sd.Methods().Get(i).Name()))
		}
		return nil, fmt.Errorf("service %s has no method %q; its methods are %s", service, method, strings.Join(names, ", "))
	}
	return md, nil
}

func serviceNames(files *protoregistry.Files) []string {
	var out []string
	files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		for i := range fd.Services().Len() {
			out = append(out, string(fd.Services().Get(i).FullName()))
		}
		return true
	})
	sort.Strings(out)
	if len(out) == 0 {
		return []string{"(none)"}
	}
	return out
}

// FromProto compiles .proto files, finding imports in importPaths (and the
// folder of each file), with the well-known types built in.
func FromProto(ctx context.Context, protoFiles, importPaths []string) (*protoregistry.Files, error) {
	paths := append([]string{}, importPaths...)
	var names []string
	for _, f := range protoFiles {
		dir, base := filepath.Split(f)
		// A file is compiled by its path relative to an import path that holds it.
		rel := ""
		for _, ip := range importPaths {
			if r, err := filepath.Rel(ip, f); err == nil && !strings.HasPrefix(r, "..") {
				rel = filepath.ToSlash(r)
				break
			}
		}
		if rel == "" {
			if dir == "" {
				dir = "."
			}
			paths = append(paths, dir)
			rel = base
		}
		names = append(names, rel)
	}
	c := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
			ImportPaths: paths,
			Accessor: func(p string) (io.ReadCloser, error) {
				b, err := source.Reader{}.File(ctx, "", p)
				if err != nil {
					return nil, err
				}
				return io.NopCloser(bytes.NewReader(b)), nil
			},
		}),
	}
	linked, err := c.Compile(ctx, names...)
	if err != nil {
		hint := ""
		if errors.Is(err, os.ErrNotExist) {
			hint = "; imports are looked up under each import path, so an import path must be the folder that holds the import's own path"
		}
		return nil, fmt.Errorf("compiling %s (import paths: %s): %w%s", strings.Join(protoFiles, ", "), strings.Join(paths, ", "), err, hint)
	}
	files := &protoregistry.Files{}
	for _, f := range linked {
		if err := register(files, f); err != nil {
			return nil, err
		}
	}
	return files, nil
}

func register(files *protoregistry.Files, fd protoreflect.FileDescriptor) error {
	if _, err := files.FindFileByPath(fd.Path()); err == nil {
		return nil
	}
	imports := fd.Imports()
	for i := range imports.Len() {
		if err := register(files, imports.Get(i).FileDescriptor); err != nil {
			return err
		}
	}
	return files.RegisterFile(fd)
}

// FromProtoset reads a serialised FileDescriptorSet.
func FromProtoset(ctx context.Context, path string) (*protoregistry.Files, error) {
	b, err := source.Reader{}.File(ctx, "protoset", path)
	if err != nil {
		return nil, err
	}
	set := &descriptorpb.FileDescriptorSet{}
	if err := proto.Unmarshal(b, set); err != nil {
		return nil, fmt.Errorf("protoset %s is not a FileDescriptorSet: %w", path, err)
	}
	files, err := protodesc.NewFiles(set)
	if err != nil {
		return nil, fmt.Errorf("protoset %s: %w (was it written with --include_imports?)", path, err)
	}
	return files, nil
}

// FromReflection asks the server for the descriptors of a service through
// server reflection, v1 first and v1alpha when the server lacks v1.
func FromReflection(ctx context.Context, cc grpc.ClientConnInterface, md metadata.MD, service string) (*protoregistry.Files, error) {
	if md != nil {
		ctx = metadata.NewOutgoingContext(ctx, md)
	}
	fdps, err := reflectV1(ctx, cc, service)
	if status.Code(err) == codes.Unimplemented {
		fdps, err = reflectV1Alpha(ctx, cc, service)
	}
	if err != nil {
		if status.Code(err) == codes.Unimplemented {
			return nil, fmt.Errorf("the server does not offer reflection; give proto or protoset")
		}
		return nil, fmt.Errorf("server reflection: %w", err)
	}
	set := &descriptorpb.FileDescriptorSet{}
	for _, fdp := range fdps {
		set.File = append(set.File, fdp)
	}
	files, err := protodesc.NewFiles(set)
	if err != nil {
		return nil, fmt.Errorf("server reflection returned unusable descriptors: %w", err)
	}
	return files, nil
}

// reflectStream is what the v1 and v1alpha clients have in common.
type reflectClient struct {
	send func(fileBySymbol, fileByName string) error
	recv func() (files [][]byte, notFound string, err error)
}

func reflectV1(ctx context.Context, cc grpc.ClientConnInterface, service string) (map[string]*descriptorpb.FileDescriptorProto, error) {
	st, err := reflectionv1.NewServerReflectionClient(cc).ServerReflectionInfo(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = st.CloseSend() }()
	c := reflectClient{
		send: func(sym, name string) error {
			r := &reflectionv1.ServerReflectionRequest{}
			if sym != "" {
				r.MessageRequest = &reflectionv1.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: sym}
			} else {
				r.MessageRequest = &reflectionv1.ServerReflectionRequest_FileByFilename{FileByFilename: name}
			}
			return st.Send(r)
		},
		recv: func() ([][]byte, string, error) {
			r, err := st.Recv()
			if err != nil {
				return nil, "", err
			}
			if e := r.GetErrorResponse(); e != nil {
				return nil, e.GetErrorMessage(), nil
			}
			return r.GetFileDescriptorResponse().GetFileDescriptorProto(), "", nil
		},
	}
	return c.collect(service)
}

// reflectV1Alpha uses the deprecated v1alpha protocol, which many servers
// still offer alone.
//
//nolint:staticcheck // deliberate use of the deprecated v1alpha API
func reflectV1Alpha(ctx context.Context, cc grpc.ClientConnInterface, service string) (map[string]*descriptorpb.FileDescriptorProto, error) {
	st, err := reflectionv1alpha.NewServerReflectionClient(cc).ServerReflectionInfo(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = st.CloseSend() }()
	c := reflectClient{
		send: func(sym, name string) error {
			r := &reflectionv1alpha.ServerReflectionRequest{}
			if sym != "" {
				r.MessageRequest = &reflectionv1alpha.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: sym}
			} else {
				r.MessageRequest = &reflectionv1alpha.ServerReflectionRequest_FileByFilename{FileByFilename: name}
			}
			return st.Send(r)
		},
		recv: func() ([][]byte, string, error) {
			r, err := st.Recv()
			if err != nil {
				return nil, "", err
			}
			if e := r.GetErrorResponse(); e != nil {
				return nil, e.GetErrorMessage(), nil
			}
			return r.GetFileDescriptorResponse().GetFileDescriptorProto(), "", nil
		},
	}
	return c.collect(service)
}

// collect fetches the file defining service and, transitively, its imports.
func (c reflectClient) collect(service string) (map[string]*descriptorpb.FileDescriptorProto, error) {
	got := map[string]*descriptorpb.FileDescriptorProto{}
	add := func(raw [][]byte) ([]string, error) {
		var deps []string
		for _, b := range raw {
			fdp := &descriptorpb.FileDescriptorProto{}
			if err := proto.Unmarshal(b, fdp); err != nil {
				return nil, fmt.Errorf("decoding a descriptor from the server: %w", err)
			}
			if _, ok := got[fdp.GetName()]; ok {
				continue
			}
			got[fdp.GetName()] = fdp
			deps = append(deps, fdp.GetDependency()...)
		}
		return deps, nil
	}
	if err := c.send(service, ""); err != nil {
		return nil, err
	}
	raw, notFound, err := c.recv()
	if err != nil {
		return nil, err
	}
	if notFound != "" {
		return nil, fmt.Errorf("the server does not know service %q (%s)", service, notFound)
	}
	queue, err := add(raw)
	if err != nil {
		return nil, err
	}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		if _, ok := got[name]; ok {
			continue
		}
		if err := c.send("", name); err != nil {
			return nil, err
		}
		raw, notFound, err := c.recv()
		if err != nil {
			return nil, err
		}
		if notFound != "" {
			return nil, fmt.Errorf("the server could not send %s, imported by %s's files: %s", name, service, notFound)
		}
		deps, err := add(raw)
		if err != nil {
			return nil, err
		}
		queue = append(queue, deps...)
	}
	return got, nil
}
