package main

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// The iter8 image runs the binary as the non-root user 65532, has bash as
// /bin/bash and /bin/sh for run tasks and busybox's applets, and the same
// inputs give the same digest.
func TestIter8Image(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "iter8")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\necho stand-in\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	o := options{src: "../..", binary: bin, version: "v1.2.3+dev", arch: "amd64",
		bash: "/bin/bash-static", busybox: "/bin/busybox", certs: ""}
	var digests []string
	for i := range 2 {
		o.iter8Out = filepath.Join(dir, "img"+string(rune('a'+i))+".tar")
		if err := run(o); err != nil {
			t.Fatal(err)
		}
		tag, err := name.NewTag(Repository + ":v1.2.3-dev")
		if err != nil {
			t.Fatal(err)
		}
		img, err := tarball.ImageFromPath(o.iter8Out, &tag)
		if err != nil {
			t.Fatalf("the archive has no image %s: %v", tag, err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, d.String())
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cf.Config.User != "65532:65532" || cf.Config.Entrypoint[0] != "iter8" || cf.OS != "linux" || cf.Architecture != "amd64" {
			t.Errorf("config: user %q, entrypoint %v, platform %s/%s", cf.Config.User, cf.Config.Entrypoint, cf.OS, cf.Architecture)
		}
		files := map[string]*tar.Header{}
		layers, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range layers {
			rc, err := l.Uncompressed()
			if err != nil {
				t.Fatal(err)
			}
			tr := tar.NewReader(rc)
			for {
				h, err := tr.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				files[h.Name] = h
			}
			_ = rc.Close()
		}
		for _, f := range []string{"usr/local/bin/iter8", "bin/bash", "bin/busybox", "etc/passwd"} {
			if files[f] == nil || files[f].Typeflag != tar.TypeReg {
				t.Errorf("the image lacks the file %s", f)
			}
		}
		for link, target := range map[string]string{"bin/sh": "bash", "bin/cat": "busybox", "bin/id": "busybox"} {
			if h := files[link]; h == nil || h.Typeflag != tar.TypeSymlink || h.Linkname != target {
				t.Errorf("the image lacks the link %s -> %s", link, target)
			}
		}
		if h := files["tmp/"]; h == nil || h.Mode&0o1777 != 0o1777 {
			t.Errorf("the image's /tmp is not world-writable with the sticky bit")
		}
	}
	if digests[0] != digests[1] {
		t.Errorf("two builds of the same inputs differ: %v", digests)
	}
}

func TestTag(t *testing.T) {
	for in, want := range map[string]string{"v0.14.0": "v0.14.0", "v0.14.0+g1234567": "v0.14.0-g1234567"} {
		if got := Tag(in); got != want {
			t.Errorf("Tag(%q) = %q, want %q", in, got, want)
		}
	}
}
