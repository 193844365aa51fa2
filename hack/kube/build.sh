#!/usr/bin/env bash
# Builds the Kubernetes components iter8's tests run, from the Go module proxy
# (k8s.io/kubernetes), once per machine, into a cache folder outside the
# repository, and links etcd next to them:
#   $dir/{etcd,kube-apiserver,kube-controller-manager,kube-scheduler,kubelet,kube-proxy}
# The API-server tests (internal/k8s/k8stest) use the first three; the real
# node (internal/k8s/k8snode) uses all of them.
#
# Usage: hack/kube/build.sh            # prints the assets folder on stdout; quiet when warm
# Env:   ITER8_KUBE_CACHE (default $HOME/.cache/iter8-kube), KUBE_VERSION (default 1.37.2)
#
# From an empty Go build cache all five take about 14 minutes on 2 cores; a
# missing component alone takes 15 s (scheduler, proxy) to 75 s (kubelet) once
# the others are built. Concurrent runs wait for each other (flock).
set -euo pipefail

ver=${KUBE_VERSION:-1.37.2}
minor=${ver#*.}; minor=${minor%%.*}
cache=${ITER8_KUBE_CACHE:-$HOME/.cache/iter8-kube}
out=$cache/v$ver
mkdir -p "$out"

# component directory, binary name, package under k8s.io/kubernetes/cmd, constructor call
components=(
  "apiserver kube-apiserver kube-apiserver/app app.NewAPIServerCommand()"
  "controller-manager kube-controller-manager kube-controller-manager/app app.NewControllerManagerCommand()"
  "scheduler kube-scheduler kube-scheduler/app app.NewSchedulerCommand()"
  "kubelet kubelet kubelet/app app.NewKubeletCommand(context.Background())"
  "proxy kube-proxy kube-proxy/app app.NewProxyCommand()"
)

complete() {
  [ -e "$out/etcd" ] || return 1
  local c
  for c in "${components[@]}"; do
    set -- $c
    [ -x "$out/$2" ] || return 1
  done
}

if complete; then echo "$out"; exit 0; fi

exec 9>"$cache/.build.lock"
flock 9
if complete; then echo "$out"; exit 0; fi # built by the run we waited for

etcd_bin=$(command -v etcd || true)
[ -n "$etcd_bin" ] || { echo "etcd not found: install the Debian package etcd-server" >&2; exit 1; }
ln -sf "$etcd_bin" "$out/etcd"

src=$cache/src-v$ver
mkdir -p "$src"
names=""
for c in "${components[@]}"; do
  set -- $c
  names="$names $1"
  mkdir -p "$src/$1"
  ctx_import=""
  case "$4" in *context.*) ctx_import=$'\t"context"\n' ;; esac
  cat > "$src/$1/main.go.new" <<GO
// Command $1 runs the upstream $2 for iter8's tests.
package main

import (
${ctx_import}	"os"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/$3"
)

func main() { os.Exit(cli.Run($4)) }
GO
  if cmp -s "$src/$1/main.go.new" "$src/$1/main.go"; then rm "$src/$1/main.go.new"; else mv "$src/$1/main.go.new" "$src/$1/main.go"; fi
done

cd "$src"
# go.mod is made once per component list: every staging replace in
# k8s.io/kubernetes' go.mod becomes a released version.
if [ ! -f go.mod ] || [ "$(cat .components 2>/dev/null)" != "$names" ]; then
  kmod=$(go mod download -json "k8s.io/kubernetes@v$ver" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  {
    echo "module iter8.test/kube"
    echo
    echo "go 1.26.0"
    echo
    echo "require k8s.io/kubernetes v$ver"
    echo
    grep -E '^\s*k8s.io/[a-z0-9-]+ => ./staging/' "$kmod" | awk -v v="v0.$minor.${ver##*.}" '{print "replace " $1 " => " $1 " " v}'
  } > go.mod
  GOFLAGS=-mod=mod go mod tidy >&2
  echo "$names" > .components
fi

now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
ld="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ld="$ld -X $p.gitVersion=v$ver -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=$now"
done
for c in "${components[@]}"; do
  set -- $c
  [ -x "$out/$2" ] && continue
  echo "building $2 v$ver into $out (minutes on a cold build cache)" >&2
  go build -trimpath -ldflags "$ld" -o "$out/$2.tmp" "./$1" >&2
  mv "$out/$2.tmp" "$out/$2"
done
echo "$out"
