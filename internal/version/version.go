// Package version reports the version of the iter8 binary.
package version

import (
	"fmt"
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

// MajorMinor returns the major.minor part, as stored in result.iter8Version.
func MajorMinor() string {
	parts := strings.SplitN(strings.TrimPrefix(Version, "v"), ".", 3)
	if len(parts) < 2 {
		return Version
	}
	return "v" + parts[0] + "." + parts[1]
}
