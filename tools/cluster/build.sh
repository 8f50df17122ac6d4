#!/usr/bin/env bash
# Builds the local control plane's binaries from the pinned Go wrapper modules in go/.
#   tools/cluster/build.sh [OUT_DIR]     (default: <repo>/.build/bin)
# Go's default module and build caches are used, so a second build, or a build in another
# clone on the same machine, only re-links. A stamp per module skips even that when nothing
# that goes into the binaries has changed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${1:-$repo/.build/bin}
mkdir -p "$out"

export GOTOOLCHAIN=local GOFLAGS="-mod=readonly -trimpath -buildvcs=false" CGO_ENABLED=0

# Versions reported by the binaries. They must match the modules pinned in go/*/go.mod.
KUBE_VERSION=v1.36.3
HELM_VERSION=v3.21.4
ISTIO_VERSION=1.31-dev
ISTIO_REVISION=eed52ebb66ad
KWOK_VERSION=0.7.0

kube_ldflags() {
  local v=$KUBE_VERSION minor
  minor=${v#v1.}; minor=${minor%%.*}
  local f=""
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    f+=" -X $pkg.gitVersion=$v -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    f+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  echo "-s -w$f"
}

helm_ldflags() {
  local k=${KUBE_VERSION#v}
  echo "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean" \
       "-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=${k%%.*} -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$(cut -d. -f2 <<<"$k")" \
       "-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=${k%%.*} -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$(cut -d. -f2 <<<"$k")"
}

istio_ldflags() {
  local p=istio.io/istio/pkg/version
  echo "-s -w -X $p.buildVersion=$ISTIO_VERSION -X $p.buildGitRevision=$ISTIO_REVISION -X $p.buildStatus=Clean -X $p.buildTag=$ISTIO_VERSION -X $p.buildHub=docker.io/istio"
}

kwok_ldflags() {
  echo "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=${KUBE_VERSION#v}"
}

# build MODULE LDFLAGS PACKAGE...
build() {
  local module=$1 ldflags=$2; shift 2
  local dir=$here/go/$module stamp_file=$out/.stamp-$module stamp bin missing=0
  stamp=$( { cat "$dir/go.mod" "$dir/go.sum"; echo "$ldflags $*"; go version; } | sha256sum | cut -c1-16)
  for pkg in "$@"; do
    bin=$out/$(basename "$pkg"); [[ -x $bin ]] || missing=1
  done
  if [[ $missing == 0 && -f $stamp_file && $(cat "$stamp_file") == "$stamp" ]]; then
    echo "build: $module binaries are up to date"
    return
  fi
  echo "build: $module ($*)"
  (cd "$dir" && go build -ldflags "$ldflags" -o "$out/" "$@")
  echo "$stamp" > "$stamp_file"
}

build kube "$(kube_ldflags)" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl ./etcd
build kwok "$(kwok_ldflags)" sigs.k8s.io/kwok/cmd/kwok
build helm "$(helm_ldflags)" helm.sh/helm/v3/cmd/helm
# The CNCF distribution registry: the plane serves Istio's charts over oci:// as ghcr.io does.
build registry "-s -w" github.com/distribution/distribution/v3/cmd/registry
build istio "$(istio_ldflags)" istio.io/istio/istioctl/cmd/istioctl istio.io/istio/pilot/cmd/pilot-discovery
# cert-manager's own certificate controllers (go/certmanager/main.go says why a main of ours).
build certmanager "-s -w" adoptmesh.local/tools/cert-manager-controller

# The routing oracle: Istio's own config generation and traffic simulator, compiled from the same
# pinned module as pilot-discovery (tools/cluster/go/istio/routeoracle, docs/ingress-translation.md).
oracle_stamp=$( { cat "$here/go/istio/go.mod" "$here/go/istio/go.sum" "$here"/go/istio/routeoracle/*.go; go version; } \
  | sha256sum | cut -c1-16)
if [[ -x $out/route-oracle && -f $out/.stamp-route-oracle && $(cat "$out/.stamp-route-oracle") == "$oracle_stamp" ]]; then
  echo "build: route-oracle is up to date"
else
  echo "build: route-oracle (istio.io/istio/pilot/test/xds, pilot/pkg/simulation)"
  (cd "$here/go/istio" && go test -c -ldflags "-s -w" -o "$out/route-oracle" ./routeoracle)
  echo "$oracle_stamp" > "$out/.stamp-route-oracle"
fi

# The ingress-nginx oracle: the controller's own configuration model and nginx.conf template
# (tools/cluster/go/ingressnginx, docs/ingress-translation.md). Its packages are internal, so the
# pinned module is copied out of Go's module cache and the oracle is compiled inside it.
INGRESS_NGINX_VERSION=v0.0.0-20240708192948-52c50467d67d # tag controller-v1.11.0
INGRESS_NGINX_SUM=h1:tZui5g6S4GO1hxLm6yrEoIXLkl4QfeGytlmZqZ+DmdQ=
nginx_source=$repo/.build/ingress-nginx
nginx_stamp=$( { echo "$INGRESS_NGINX_VERSION $INGRESS_NGINX_SUM"; cat "$here"/go/ingressnginx/*.go; go version; } \
  | sha256sum | cut -c1-16)
if [[ -x $out/ingress-nginx-oracle && -f $nginx_source/rootfs/etc/nginx/template/nginx.tmpl \
      && -f $out/.stamp-ingress-nginx-oracle \
      && $(cat "$out/.stamp-ingress-nginx-oracle") == "$nginx_stamp" ]]; then
  echo "build: ingress-nginx-oracle is up to date"
else
  echo "build: ingress-nginx-oracle (k8s.io/ingress-nginx@$INGRESS_NGINX_VERSION, internal/ingress/controller)"
  download=$(cd / && GOFLAGS='' go mod download -json "k8s.io/ingress-nginx@$INGRESS_NGINX_VERSION")
  module_dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' <<<"$download")
  module_sum=$(sed -n 's/^[[:space:]]*"Sum": "\(.*\)",$/\1/p' <<<"$download")
  if [[ $module_sum != "$INGRESS_NGINX_SUM" || ! -d $module_dir ]]; then
    echo "build: k8s.io/ingress-nginx@$INGRESS_NGINX_VERSION has sum '$module_sum', expected $INGRESS_NGINX_SUM" >&2
    exit 1
  fi
  rm -rf "$nginx_source"
  cp -r "$module_dir" "$nginx_source"
  chmod -R u+w "$nginx_source"
  cp "$here"/go/ingressnginx/*.go "$nginx_source/internal/ingress/controller/"
  # The module's go.work names nested modules its zip leaves out; the oracle needs only the main one.
  (cd "$nginx_source" && GOWORK=off go test -c -tags adoptmesh_oracle -ldflags "-s -w" \
     -o "$out/ingress-nginx-oracle" ./internal/ingress/controller)
  echo "$nginx_stamp" > "$out/.stamp-ingress-nginx-oracle"
fi
echo "build: binaries in $out"
