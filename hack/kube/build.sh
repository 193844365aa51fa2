#!/usr/bin/env bash
# Builds a real kube-apiserver and kube-controller-manager from the Go module
# proxy (k8s.io/kubernetes), once per machine, into a cache folder outside the
# repository, and links etcd next to them. Integration tests find the folder
# through KUBEBUILDER_ASSETS-style layout: $dir/{etcd,kube-apiserver,kube-controller-manager}.
#
# Usage: hack/kube/build.sh            # prints the assets folder on stdout
# Env:   ITER8_KUBE_CACHE (default $HOME/.cache/iter8-kube), KUBE_VERSION (default 1.37.2)
set -euo pipefail

ver=${KUBE_VERSION:-1.37.2}
minor=${ver#*.}; minor=${minor%%.*}
cache=${ITER8_KUBE_CACHE:-$HOME/.cache/iter8-kube}
out=$cache/v$ver
mkdir -p "$out"

if [ -x "$out/kube-apiserver" ] && [ -x "$out/kube-controller-manager" ] && [ -e "$out/etcd" ]; then
  echo "$out"; exit 0
fi

etcd_bin=$(command -v etcd || true)
[ -n "$etcd_bin" ] || { echo "etcd not found: install the Debian package etcd-server" >&2; exit 1; }
ln -sf "$etcd_bin" "$out/etcd"

src=$cache/src-v$ver
mkdir -p "$src/apiserver" "$src/controller-manager"
cat > "$src/apiserver/main.go" <<'GO'
// Command apiserver runs the upstream kube-apiserver for iter8's tests.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() { os.Exit(cli.Run(app.NewAPIServerCommand())) }
GO
cat > "$src/controller-manager/main.go" <<'GO'
// Command controller-manager runs the upstream kube-controller-manager for iter8's tests.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

func main() { os.Exit(cli.Run(app.NewControllerManagerCommand())) }
GO

cd "$src"
if [ ! -f go.mod ]; then
  kmod=$(go mod download -json "k8s.io/kubernetes@v$ver" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  {
    echo "module iter8.test/kube"
    echo
    echo "go 1.26.0"
    echo
    echo "require k8s.io/kubernetes v$ver"
    echo
    # every staging replace in k8s.io/kubernetes' go.mod becomes a released version
    grep -E '^\s*k8s.io/[a-z0-9-]+ => ./staging/' "$kmod" | awk -v v="v0.$minor.${ver##*.}" '{print "replace " $1 " => " $1 " " v}'
  } > go.mod
  GOFLAGS=-mod=mod go mod tidy >&2
fi

now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
ld="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ld="$ld -X $p.gitVersion=v$ver -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=$now"
done
go build -trimpath -ldflags "$ld" -o "$out/kube-apiserver" ./apiserver >&2
go build -trimpath -ldflags "$ld" -o "$out/kube-controller-manager" ./controller-manager >&2
echo "$out"
