#!/usr/bin/env bash
# Builds the pinned control-plane binaries (etcd, kube-apiserver, kube-controller-manager,
# kubectl, helm) from the Go module proxy into a cache directory outside the checkout.
#
# The pins live in hack/tools/*/go.mod; the cache directory's name is derived from them,
# so a changed pin builds into a new directory and an unchanged one is reused in seconds.
#
#   hack/build-binaries.sh          build what is missing, print the bin directory last
#   hack/build-binaries.sh --dir    only print the bin directory
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
tools="$here/tools"

version_of() { # module go.mod-file -> pinned version
  awk -v m="$1" '$1 == m && $2 ~ /^v/ { print $2; exit } $2 == m && $3 ~ /^v/ { print $3; exit }' "$2"
}
K8S_VERSION=$(version_of k8s.io/kubernetes "$tools/kubernetes/go.mod")
ETCD_VERSION=$(version_of go.etcd.io/etcd/server/v3 "$tools/etcd/go.mod")
HELM_VERSION=$(version_of helm.sh/helm/v3 "$tools/helm/go.mod")
sum=$(cat "$tools"/*/go.mod "$tools"/*/go.sum "$tools"/etcd/main.go | sha256sum | cut -c1-10)
cache="${BIZDOMAIN_CACHE:-$HOME/.cache/bizdomain}"
bin="${BIZDOMAIN_BIN_DIR:-$cache/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-helm-$HELM_VERSION-$sum/bin}"

if [[ "${1:-}" == "--dir" ]]; then
  echo "$bin"
  exit 0
fi

# A module that needs a newer Go than the machine's is built with an approved toolchain
# fetched through the module proxy; GOTOOLCHAIN from the environment wins.
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
export GOFLAGS="-buildvcs=false -trimpath"
export CGO_ENABLED=0

mkdir -p "$bin"
log="$bin/../build.log"
minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
k8s_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  k8s_ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  k8s_ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

build() { # name module-dir package ldflags
  local name=$1 dir=$2 pkg=$3 flags=$4
  if [[ -x "$bin/$name" ]]; then
    echo "build-binaries: $name is cached"
    return
  fi
  echo "build-binaries: building $name from $pkg (this takes minutes on 2 cores) ..."
  local start=$SECONDS
  ( while sleep 30; do echo "build-binaries:   ... $name still building, $((SECONDS - start))s"; done ) &
  local ticker=$!
  local status=0
  ( cd "$tools/$dir" && /usr/bin/time -f "$name: %e s elapsed, %M KiB peak RSS" -a -o "$log" \
      go build -ldflags "$flags" -o "$bin/$name.tmp" "$pkg" ) || status=$?
  kill "$ticker" 2>/dev/null; wait "$ticker" 2>/dev/null || true
  if [[ $status -ne 0 ]]; then
    echo "build-binaries: building $name failed (exit $status)" >&2
    rm -f "$bin/$name.tmp"
    exit "$status"
  fi
  mv "$bin/$name.tmp" "$bin/$name"
  echo "build-binaries: built $name in $((SECONDS - start))s ($(tail -n1 "$log"))"
}

build etcd etcd bizdomain.local/tools/etcd "-s -w"
build kubectl kubernetes k8s.io/kubernetes/cmd/kubectl "$k8s_ldflags"
build kube-apiserver kubernetes k8s.io/kubernetes/cmd/kube-apiserver "$k8s_ldflags"
build kube-controller-manager kubernetes k8s.io/kubernetes/cmd/kube-controller-manager "$k8s_ldflags"
build helm helm helm.sh/helm/v3/cmd/helm \
  "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean"

echo "$bin"
