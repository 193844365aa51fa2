package source

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	small := filepath.Join(dir, "small.json")
	if err := os.WriteFile(small, []byte(`{"a":1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.bin")
	if err := os.WriteFile(big, make([]byte, 2<<20+1), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r := Reader{Max: 2 << 20}

	b, err := r.Read(ctx, "payloadFile", dir, "small.json")
	if err != nil || string(b) != `{"a":1}` {
		t.Fatalf("Read(small.json) = %q, %v", b, err)
	}

	_, err = r.File(ctx, "payloadFile", big)
	if !errors.Is(err, ErrTooLarge) || err.Error() != "reading payloadFile: "+big+" is larger than 2 MiB" {
		t.Errorf("File(big) = %v", err)
	}

	missing := filepath.Join(dir, "missing")
	_, err = r.File(ctx, "template", missing)
	if !errors.Is(err, fs.ErrNotExist) || err.Error() != "reading template: open "+missing+": no such file or directory" {
		t.Errorf("File(missing) = %v", err)
	}
	_, err = r.File(ctx, "", missing)
	if err == nil || err.Error() != "open "+missing+": no such file or directory" {
		t.Errorf("File(missing) without a name = %v", err)
	}

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := r.File(canceled, "x", small); !errors.Is(err, context.Canceled) {
		t.Errorf("File with a canceled context = %v", err)
	}
}

func TestURL(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("hello")) })
	mux.HandleFunc("/big", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(make([]byte, 1<<20+1)) })
	mux.HandleFunc("/never", func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	ctx := context.Background()
	// (a timeout no busy machine reaches for the answers that come; a
	// short one for the answer that never does)
	r := Reader{Max: 1 << 20, Timeout: time.Minute}

	b, err := r.Read(ctx, "payloadURL", "/ignored", srv.URL+"/ok")
	if err != nil || string(b) != "hello" {
		t.Fatalf("Read(/ok) = %q, %v", b, err)
	}

	_, err = r.URL(ctx, "", srv.URL+"/missing")
	var se *StatusError
	if !errors.As(err, &se) || err.Error() != "fetching "+srv.URL+"/missing: HTTP 404 Not Found" {
		t.Errorf("URL(/missing) = %v", err)
	}
	_, err = r.URL(ctx, "template", srv.URL+"/missing")
	if err == nil || err.Error() != "fetching template "+srv.URL+"/missing: HTTP 404 Not Found" {
		t.Errorf("URL(/missing) named = %v", err)
	}

	_, err = r.URL(ctx, "", srv.URL+"/big")
	if !errors.Is(err, ErrTooLarge) || err.Error() != "fetching "+srv.URL+"/big: larger than 1 MiB" {
		t.Errorf("URL(/big) = %v", err)
	}

	short := Reader{Max: 1 << 20, Timeout: 50 * time.Millisecond}
	_, err = short.URL(ctx, "", srv.URL+"/never")
	if !errors.Is(err, context.DeadlineExceeded) || !strings.HasPrefix(err.Error(), "fetching "+srv.URL+"/never: ") {
		t.Errorf("URL(/never) = %v", err)
	}
}

func TestIsURLAndPath(t *testing.T) {
	t.Parallel()
	for ref, want := range map[string]bool{"http://h/x": true, "https://h": true, "./x.tpl": false, "prometheus": false, "ftp://h": false, "HTTPS://h/x": true} {
		if got := IsURL(ref); got != want {
			t.Errorf("IsURL(%q) = %v", ref, got)
		}
	}
	for _, tt := range []struct{ dir, p, want string }{{"/run", "a.json", "/run/a.json"}, {"/run", "/abs", "/abs"}, {"/run", "", ""}, {"", "a", "a"}} {
		if got := Path(tt.dir, tt.p); got != tt.want {
			t.Errorf("Path(%q, %q) = %q, want %q", tt.dir, tt.p, got, tt.want)
		}
	}
}

// A device that never ends (its stat size is 0) stops at the cap.
func TestFileDeviceCapped(t *testing.T) {
	t.Parallel()
	_, err := Reader{Max: 1 << 20}.File(context.Background(), "data", "/dev/zero")
	if !errors.Is(err, ErrTooLarge) || err.Error() != "reading data: /dev/zero is larger than 1 MiB" {
		t.Errorf("File(/dev/zero) = %v", err)
	}
}
