// Package version reports the version of the iter8 binary.
package version

import (
	"fmt"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
)

// Version is the release version, set at build time with
// -ldflags "-X iter8.tools/iter8/internal/version.Version=v0.14.1".
var Version = "v0.14.0"

// Info describes the binary.
type Info struct {
	Version   string
	GitCommit string
	GoVersion string
}

// Get returns the binary's version information.
func Get() Info {
	info := Info{Version: Version, GoVersion: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				info.GitCommit = s.Value
			}
		}
	}
	return info
}

// String formats the information as the original did.
func (i Info) String() string {
	return fmt.Sprintf("version.BuildInfo{Version:%q, GitCommit:%q, GoVersion:%q}", i.Version, i.GitCommit, i.GoVersion)
}

// Short returns the version with a short commit suffix when known: v0.14.0+g1234567.
func (i Info) Short() string {
	if len(i.GitCommit) >= 7 {
		return i.Version + "+g" + i.GitCommit[:7]
	}
	return i.Version
}

// ImageRepository is the name of iter8's container image, without its tag.
const ImageRepository = "iter8.tools/iter8"

var tagUnsafe = regexp.MustCompile(`[^A-Za-z0-9_.-]`)

// Image returns the name of the image of this binary's version, the
// default image of experiment pods: iter8.tools/iter8:v0.14.0. hack/image
// builds it (see the README's Kubernetes section).
func Image() string {
	return ImageRepository + ":" + tagUnsafe.ReplaceAllString(Version, "-")
}

// Release returns the release part of a version as Info.Short writes it
// (v0.14.0 for v0.14.0+g1234567).
func Release(short string) string {
	r, _, _ := strings.Cut(short, "+")
	return r
}

// MajorMinor returns the major.minor part, as stored in result.iter8Version.
func MajorMinor() string {
	parts := strings.SplitN(strings.TrimPrefix(Version, "v"), ".", 3)
	if len(parts) < 2 {
		return Version
	}
	return "v" + parts[0] + "." + parts[1]
}
