// Command image builds iter8's container images without Docker or a
// registry, with go-containerregistry, and writes them as docker archives
// (the format of `docker save`) that `docker load`, `kind load
// image-archive`, `ctr -n k8s.io images import` and `crane push` read.
//
// The iter8 image holds a static iter8 binary (built from the checkout, or
// given with -binary) at /usr/local/bin/iter8, bash (Debian's bash-static) as
// /bin/bash and /bin/sh for run tasks, busybox (busybox-static) with its
// applets for the commands scripts use, the CA certificates of the build
// machine, and runs as the non-root user 65532 in /tmp. Its name is
// iter8.tools/iter8:<version>, the version the binary reports, which is the
// chart's default iter8Image.
//
// The pause image holds the sandbox program of hack/image/pause, for a test
// node's containerd (sandbox_image).
//
// Usage, from the repository root:
//
//	(cd hack/image && go run . -src ../.. -iter8 ../../iter8-image.tar)
//	(cd hack/image && go run . -pause /tmp/pause.tar)
//
// Layers have fixed times and owners, so the same inputs give the same
// image digest.
package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Repository is the name of iter8's image, without its tag.
const Repository = "iter8.tools/iter8"

// PauseRef is the name of the pause image.
const PauseRef = "iter8.tools/pause:1"

// epoch is the time of every file and of the images.
var epoch = time.Unix(0, 0).UTC()

type options struct {
	src      string
	iter8Out string
	pauseOut string
	binary   string
	version  string
	arch     string
	bash     string
	busybox  string
	certs    string
	printRef bool
}

func main() {
	var o options
	flag.StringVar(&o.src, "src", "../..", "the iter8 checkout to build the binary from")
	flag.StringVar(&o.iter8Out, "iter8", "", "write the iter8 image to this docker archive")
	flag.StringVar(&o.pauseOut, "pause", "", "write the pause image to this docker archive")
	flag.StringVar(&o.binary, "binary", "", "use this static iter8 binary instead of building one (its version must be -version's)")
	flag.StringVar(&o.version, "version", "", "the iter8 version: set in the binary built and used as the tag (default: the checkout's internal/version)")
	flag.StringVar(&o.arch, "arch", runtime.GOARCH, "the image's architecture (GOARCH)")
	flag.StringVar(&o.bash, "bash", "/bin/bash-static", "a static bash (Debian package bash-static)")
	flag.StringVar(&o.busybox, "busybox", "/bin/busybox", "a static busybox (Debian package busybox-static)")
	flag.StringVar(&o.certs, "certs", "/etc/ssl/certs/ca-certificates.crt", "CA certificates for the image (empty: none)")
	flag.BoolVar(&o.printRef, "print-ref", false, "print the iter8 image's name and exit")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	if o.version == "" {
		v, err := checkoutVersion(o.src)
		if err != nil {
			return err
		}
		o.version = v
	}
	ref := Repository + ":" + Tag(o.version)
	if o.printRef {
		fmt.Println(ref)
		return nil
	}
	if o.iter8Out == "" && o.pauseOut == "" {
		return errors.New("nothing to do: give -iter8 FILE, -pause FILE or both")
	}
	tmp, err := os.MkdirTemp("", "iter8-image-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	if o.iter8Out != "" {
		bin := o.binary
		if bin == "" {
			bin = filepath.Join(tmp, "iter8")
			if err := goBuild(o.src, "./cmd/iter8", bin, o.arch,
				"-X iter8.tools/iter8/internal/version.Version="+o.version); err != nil {
				return err
			}
		}
		img, err := iter8Image(o, bin)
		if err != nil {
			return err
		}
		if err := write(o.iter8Out, ref, img); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "wrote %s to %s\n", ref, o.iter8Out)
	}
	if o.pauseOut != "" {
		bin := filepath.Join(tmp, "pause")
		if err := goBuild(filepath.Join(o.src, "hack", "image"), "./pause", bin, o.arch, ""); err != nil {
			return err
		}
		img, err := pauseImage(o, bin)
		if err != nil {
			return err
		}
		if err := write(o.pauseOut, PauseRef, img); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "wrote %s to %s\n", PauseRef, o.pauseOut)
	}
	return nil
}

var tagUnsafe = regexp.MustCompile(`[^A-Za-z0-9_.-]`)

// Tag turns a version into an image tag (a tag has no '+').
func Tag(version string) string {
	return tagUnsafe.ReplaceAllString(version, "-")
}

var versionLine = regexp.MustCompile(`(?m)^var Version = "([^"]+)"`)

func checkoutVersion(src string) (string, error) {
	path := filepath.Join(src, "internal", "version", "version.go")
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading the version: %w (give -src, the checkout, or -version)", err)
	}
	m := versionLine.FindSubmatch(b)
	if m == nil {
		return "", fmt.Errorf("reading the version: no `var Version = \"...\"` in %s", path)
	}
	return string(m[1]), nil
}

// goBuild builds a static binary of pkg in dir.
func goBuild(dir, pkg, out, arch, extraLD string) error {
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", strings.TrimSpace("-s -w "+extraLD), "-o", out, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s in %s: %w", pkg, dir, err)
	}
	return nil
}

// layer collects the files of one image layer.
type layer struct {
	buf bytes.Buffer
	tw  *tar.Writer
}

func newLayer() *layer {
	l := &layer{}
	l.tw = tar.NewWriter(&l.buf)
	return l
}

func (l *layer) dir(name string, mode int64) error {
	return l.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, ModTime: epoch, Format: tar.FormatPAX})
}

func (l *layer) file(name string, mode int64, data []byte) error {
	if err := l.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: epoch, Format: tar.FormatPAX}); err != nil {
		return err
	}
	_, err := l.tw.Write(data)
	return err
}

func (l *layer) hostFile(name string, mode int64, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return l.file(name, mode, b)
}

func (l *layer) symlink(name, target string) error {
	return l.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777, ModTime: epoch, Format: tar.FormatPAX})
}

func (l *layer) close() (v1.Layer, error) {
	if err := l.tw.Close(); err != nil {
		return nil, err
	}
	b := l.buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
}

func iter8Image(o options, bin string) (v1.Image, error) {
	base := newLayer()
	err := errors.Join(
		base.dir("bin", 0o755), base.dir("etc", 0o755), base.dir("etc/ssl", 0o755), base.dir("etc/ssl/certs", 0o755),
		base.dir("tmp", 0o1777), base.dir("usr", 0o755), base.dir("usr/local", 0o755), base.dir("usr/local/bin", 0o755),
		base.file("etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/sh\niter8:x:65532:65532:iter8:/tmp:/bin/sh\n")),
		base.file("etc/group", 0o644, []byte("root:x:0:\niter8:x:65532:\n")),
		base.file("etc/nsswitch.conf", 0o644, []byte("hosts: files dns\n")),
	)
	if err != nil {
		return nil, err
	}
	if err := staticFile(o.bash, "bash", "bash-static"); err != nil {
		return nil, err
	}
	if err := errors.Join(base.hostFile("bin/bash", 0o755, o.bash), base.symlink("bin/sh", "bash")); err != nil {
		return nil, err
	}
	if err := staticFile(o.busybox, "busybox", "busybox-static"); err != nil {
		return nil, err
	}
	applets, err := busyboxApplets(o.busybox)
	if err != nil {
		return nil, err
	}
	if err := base.hostFile("bin/busybox", 0o755, o.busybox); err != nil {
		return nil, err
	}
	for _, a := range applets {
		if err := base.symlink("bin/"+a, "busybox"); err != nil {
			return nil, err
		}
	}
	if o.certs != "" {
		if err := base.hostFile("etc/ssl/certs/ca-certificates.crt", 0o644, o.certs); err != nil {
			return nil, fmt.Errorf("CA certificates: %w (give -certs '' for none)", err)
		}
	}
	baseLayer, err := base.close()
	if err != nil {
		return nil, err
	}
	app := newLayer()
	if err := app.hostFile("usr/local/bin/iter8", 0o755, bin); err != nil {
		return nil, err
	}
	appLayer, err := app.close()
	if err != nil {
		return nil, err
	}
	return configure(o.arch, []v1.Layer{baseLayer, appLayer}, v1.Config{
		Entrypoint: []string{"iter8"},
		Cmd:        []string{"--help"},
		User:       "65532:65532",
		WorkingDir: "/tmp",
		Env:        []string{"PATH=/usr/local/bin:/bin", "HOME=/tmp"},
		Labels: map[string]string{
			"org.opencontainers.image.title":   "iter8",
			"org.opencontainers.image.version": o.version,
		},
	})
}

func pauseImage(o options, bin string) (v1.Image, error) {
	l := newLayer()
	if err := l.hostFile("pause", 0o755, bin); err != nil {
		return nil, err
	}
	pl, err := l.close()
	if err != nil {
		return nil, err
	}
	return configure(o.arch, []v1.Layer{pl}, v1.Config{Entrypoint: []string{"/pause"}, User: "65535:65535"})
}

func configure(arch string, layers []v1.Layer, cfg v1.Config) (v1.Image, error) {
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	cf.Config = cfg
	cf.Created = v1.Time{Time: epoch}
	return mutate.ConfigFile(img, cf)
}

func write(path, ref string, img v1.Image) error {
	tag, err := name.NewTag(ref)
	if err != nil {
		return fmt.Errorf("image name %q: %w", ref, err)
	}
	if err := tarball.MultiRefWriteToFile(path, map[name.Reference]v1.Image{tag: img}); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// staticFile checks that path is a statically linked ELF executable: the
// image has no shared libraries.
func staticFile(path, what, pkg string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%s for the image: %w (install the Debian package %s, or give -%s)", what, err, pkg, what)
	}
	if !bytes.HasPrefix(b, []byte("\x7fELF")) {
		return fmt.Errorf("%s for the image: %s is not an ELF executable", what, path)
	}
	if bytes.Contains(b, []byte("/lib64/ld-linux")) || bytes.Contains(b, []byte("/lib/ld-linux")) {
		return fmt.Errorf("%s for the image: %s is dynamically linked; it needs a static build (Debian package %s)", what, path, pkg)
	}
	return nil
}

// busyboxApplets lists the applets to link to busybox in /bin, leaving out
// the shells (bash is /bin/sh).
func busyboxApplets(busybox string) ([]string, error) {
	out, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("listing busybox applets with %s --list: %w", busybox, err)
	}
	var applets []string
	for _, a := range strings.Fields(string(out)) {
		switch a {
		case "sh", "ash", "bash", "hush", "busybox":
			continue
		}
		applets = append(applets, a)
	}
	sort.Strings(applets)
	return applets, nil
}
