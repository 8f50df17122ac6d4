#!/usr/bin/env bash
# Offline test content for the local control plane, taken from pinned Go modules:
#   <out>/charts/      Istio's Helm charts (base, istiod, gateway, cni, ztunnel) for each pinned
#                      Istio source, packaged with `helm package` and indexed with
#                      `helm repo index`: a chart repository of the same shape as Istio's own,
#                      served over HTTP on loopback by the test fixtures and the demo.
#   <out>/crds/        Gateway API (standard channel) and cert-manager CRDs.
#   tools/cluster/content.sh [OUT_DIR]      (default: <repo>/.build/content)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${1:-$repo/.build/content}
helm=${HELM:-$repo/.build/bin/helm}
export GOTOOLCHAIN=local

# chart version => istio.io/istio module version. The module proxy serves Istio as
# pseudo-versions of its release branches; the chart versions name the branch and commit.
ISTIO_SOURCES=(
  "1.30.4-dev.9739e10eb9d7 v0.0.0-20260826214018-9739e10eb9d7"
  "1.31.0-dev.eed52ebb66ad v0.0.0-20260827124520-eed52ebb66ad"
)
GATEWAY_API=sigs.k8s.io/gateway-api@v1.6.3
CERT_MANAGER=github.com/cert-manager/cert-manager@v1.21.2

stamp=$( { printf '%s\n' "${ISTIO_SOURCES[@]}" "$GATEWAY_API" "$CERT_MANAGER"; cat "$0"; } | sha256sum | cut -c1-16)
if [[ -f $out/.stamp && $(cat "$out/.stamp") == "$stamp" ]]; then
  echo "content: up to date in $out"
  exit 0
fi

module_dir() {
  # Outside any module, so no go.mod or go.sum of ours is touched.
  (cd / && GOFLAGS='' go mod download -json "$1") | sed -n 's/^\s*"Dir": "\(.*\)",\?$/\1/p'
}

rm -rf "$out"
mkdir -p "$out/charts" "$out/crds"
for source in "${ISTIO_SOURCES[@]}"; do
  read -r chart_version module_version <<<"$source"
  dir=$(module_dir "istio.io/istio@$module_version")
  [[ -d $dir ]] || { echo "content: cannot download istio.io/istio@$module_version" >&2; exit 1; }
  for chart in base istio-control/istio-discovery gateway istio-cni ztunnel; do
    "$helm" package "$dir/manifests/charts/$chart" --version "$chart_version" \
      --app-version "$chart_version" --destination "$out/charts" >/dev/null
  done
  echo "content: Istio charts $chart_version"
done
"$helm" repo index "$out/charts"

dir=$(module_dir "$GATEWAY_API")
for file in "$dir"/config/crd/standard/gateway.networking.k8s.io_*.yaml; do
  printf -- '---\n'; cat "$file"
done > "$out/crds/gateway-api-standard.yaml"
dir=$(module_dir "$CERT_MANAGER")
for file in "$dir"/deploy/crds/*.yaml; do
  printf -- '---\n'; cat "$file"
done > "$out/crds/cert-manager.yaml"
echo "content: CRDs of ${GATEWAY_API#*/} and ${CERT_MANAGER#*/}"
echo "$stamp" > "$out/.stamp"
