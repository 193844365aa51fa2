package grpcload

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadMetadata(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "md.json")
	if err := os.WriteFile(good, []byte(`{"a": "file", "b": "file"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`["not", "an", "object"]`), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	md, err := ReadMetadata(ctx, good, "", map[string]string{"b": "inline"})
	if err != nil || len(md) != 2 || md["a"] != "file" || md["b"] != "inline" {
		t.Errorf("metadata %v, %v; want a from the file, b inline", md, err)
	}
	if _, err := ReadMetadata(ctx, bad, "", nil); err == nil || !strings.HasPrefix(err.Error(), "metadata must be a JSON object of strings") {
		t.Errorf("bad file: %v", err)
	}
	missing := filepath.Join(dir, "missing.json")
	if _, err := ReadMetadata(ctx, missing, "", nil); err == nil || err.Error() != "reading metadata-file: open "+missing+": no such file or directory" {
		t.Errorf("missing file: %v", err)
	}
}

func TestProtoName(t *testing.T) {
	t.Parallel()
	for u, want := range map[string]string{
		"https://h/protos/greeter.proto":        "greeter.proto",
		"https://h/protos/greeter.proto?ref=v1": "greeter.proto",
		"https://h/raw/main#readme":             "service.proto",
	} {
		if got := protoName(u); got != want {
			t.Errorf("protoName(%q) = %q, want %q", u, got, want)
		}
	}
}

func TestTLSEnabled(t *testing.T) {
	t.Parallel()
	conf, err := TLS{}.Config(context.Background())
	if err != nil || conf != nil {
		t.Errorf("no TLS option: %v, %v; want plaintext", conf, err)
	}
	conf, err = TLS{ServerName: "svc.test"}.Config(context.Background())
	if err != nil || conf == nil || conf.ServerName != "svc.test" {
		t.Errorf("cname only: %v, %v", conf, err)
	}
	if _, err := (TLS{CAFile: "/nonexistent/ca.pem"}).Config(context.Background()); err == nil || !strings.HasPrefix(err.Error(), "reading cacert: open /nonexistent/ca.pem") {
		t.Errorf("missing cacert: %v", err)
	}
}
