#!/usr/bin/env bash
# Builds kube-apiserver, kubectl and etcd from the Go module proxy into a cache outside the repository, once.
# The product is pure Python; Go is only used here so that the Kubernetes tests talk to a real API server
# (and run the shipped kubectl script against it).
# Usage: tests/kube/build-apiserver.sh   (prints the bin directory on stdout; progress goes to stderr)
set -euo pipefail
K8S_VERSION=${ECRGC_K8S_VERSION:-1.37.2}
ETCD_VERSION=${ECRGC_ETCD_VERSION:-v3.7.3}
CACHE=${ECRGC_KUBE_CACHE:-$HOME/.cache/ecrgc-kube}
BIN="$CACHE/k8s-$K8S_VERSION-etcd-$ETCD_VERSION/bin"
if [[ -x "$BIN/kube-apiserver" && -x "$BIN/kubectl" && -x "$BIN/etcd" ]]; then
  echo "$BIN"
  exit 0
fi
command -v go >/dev/null || { echo "build-apiserver: go is not installed; it is needed once to build kube-apiserver" >&2; exit 1; }
export GOMODCACHE="$CACHE/gomod" GOCACHE="$CACHE/gocache" GOFLAGS=-mod=mod GOTOOLCHAIN=local
mkdir -p "$BIN"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# kube-apiserver and kubectl: k8s.io/kubernetes pins its staging modules to v0.0.0 with local replaces, so
# `go install` refuses it; pin each staging module to the matching v0.x.y in a throwaway module.
k8s_build() {
  local cmd=$1
  [[ -x "$BIN/$cmd" ]] && return
  (
    cd "$work"
    if [[ ! -f k8s/go.mod ]]; then
      mkdir -p k8s && cd k8s
      go mod init example.invalid/k8stools >/dev/null 2>&1
      staging="v0.${K8S_VERSION#1.}"
      gomod=$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
      for m in $(sed -n 's|^[[:space:]]*\(k8s\.io/[a-z0-9-]*\) => \./staging/.*|\1|p' "$gomod"); do
        go mod edit "-replace=$m=$m@$staging"
      done
      go get "k8s.io/kubernetes@v$K8S_VERSION" >&2
    else
      cd k8s
    fi
    CGO_ENABLED=0 go build -trimpath -pgo=off -o "$BIN/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd" >&2
    mv "$BIN/$cmd.tmp" "$BIN/$cmd"
  )
}
k8s_build kube-apiserver
k8s_build kubectl
# etcd: its main package is the root of go.etcd.io/etcd/server/v3, whose go.mod has replaces.
if [[ ! -x "$BIN/etcd" ]]; then
  (
    cd "$work" && mkdir etcd && cd etcd
    go mod init example.invalid/etcdtools >/dev/null 2>&1
    go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >&2
    CGO_ENABLED=0 go build -trimpath -o "$BIN/etcd.tmp" go.etcd.io/etcd/server/v3 >&2
    mv "$BIN/etcd.tmp" "$BIN/etcd"
  )
fi
echo "$BIN"
