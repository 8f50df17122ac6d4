#!/usr/bin/env bash
# Offline test content for the local control plane, taken from pinned Go modules:
#   <out>/charts/      Istio's Helm charts (base, istiod, gateway, cni, ztunnel) for each pinned
#                      Istio source, packaged with `helm package` and indexed with
#                      `helm repo index`: a chart repository of the same shape as Istio's own,
#                      served over HTTP on loopback by the test fixtures and the demo.
#   <out>/oci/         the same charts pushed with `helm push` into the storage of a CNCF
#                      distribution registry, under istio/release/charts (as Istio publishes them
#                      at oci://ghcr.io/istio/release/charts); every plane serves it read-only.
#   <out>/crds/        Gateway API (standard channel) and cert-manager CRDs, and an older Gateway
#                      API bundle (v1.4.1) that Istio 1.30+ no longer works with, for preflight tests.
#   tools/cluster/content.sh [OUT_DIR]      (default: <repo>/.build/content)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${1:-$repo/.build/content}
helm=${HELM:-$repo/.build/bin/helm}
registry=${REGISTRY:-$repo/.build/bin/registry}
export GOTOOLCHAIN=local

# chart version => istio.io/istio module version. The module proxy serves Istio as
# pseudo-versions of its release branches; the chart versions name the branch and commit.
ISTIO_SOURCES=(
  "1.30.4-dev.9739e10eb9d7 v0.0.0-20260826214018-9739e10eb9d7"
  "1.31.0-dev.eed52ebb66ad v0.0.0-20260827124520-eed52ebb66ad"
)
GATEWAY_API=sigs.k8s.io/gateway-api@v1.6.3
GATEWAY_API_OLD=sigs.k8s.io/gateway-api@v1.4.1
CERT_MANAGER=github.com/cert-manager/cert-manager@v1.21.2

stamp=$( { printf '%s\n' "${ISTIO_SOURCES[@]}" "$GATEWAY_API" "$GATEWAY_API_OLD" "$CERT_MANAGER"; cat "$0"; } | sha256sum | cut -c1-16)
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
work=$(mktemp -d)
registry_pid=""
cleanup() {
  [[ -n $registry_pid ]] && kill "$registry_pid" 2>/dev/null && wait "$registry_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
for source in "${ISTIO_SOURCES[@]}"; do
  read -r chart_version module_version <<<"$source"
  dir=$(module_dir "istio.io/istio@$module_version")
  [[ -d $dir ]] || { echo "content: cannot download istio.io/istio@$module_version" >&2; exit 1; }
  # As Istio's release build does: the charts name the published images (docker.io/istio at the
  # chart's version), not the dev builds' registry.istio.io/testing:latest.
  rm -rf "$work/charts" && cp -r "$dir/manifests/charts" "$work/charts" && chmod -R u+w "$work/charts"
  find "$work/charts" -name values.yaml -exec sed -i -E \
    -e 's#^([[:space:]]*hub:) registry\.istio\.io/testing[[:space:]]*$#\1 docker.io/istio#' \
    -e "s#^([[:space:]]*tag:) latest[[:space:]]*\$#\\1 $chart_version#" {} +
  for chart in base istio-control/istio-discovery gateway istio-cni ztunnel; do
    "$helm" package "$work/charts/$chart" --version "$chart_version" \
      --app-version "$chart_version" --destination "$out/charts" >/dev/null
  done
  echo "content: Istio charts $chart_version"
done
"$helm" repo index "$out/charts"

# The OCI copy: a registry on a free loopback port writes the storage that planes serve later.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$work/registry.yml" <<YAML
version: 0.1
log: {level: warn}
storage:
  filesystem: {rootdirectory: $out/oci}
http:
  addr: 127.0.0.1:$port
YAML
OTEL_TRACES_EXPORTER=none OTEL_SDK_DISABLED=true "$registry" serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
registry_pid=$!
python3 - "$port" <<'PY' || { cat "$work/registry.log" >&2; exit 1; }
import sys, time, urllib.request
for _ in range(300):
    try:
        urllib.request.urlopen("http://127.0.0.1:%s/v2/" % sys.argv[1], timeout=2)
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit("content: the registry did not start")
PY
for archive in "$out"/charts/*.tgz; do
  HELM_REGISTRY_CONFIG="$work/registry-config.json" "$helm" push "$archive" \
    "oci://127.0.0.1:$port/istio/release/charts" --plain-http >"$work/push.log" 2>&1 \
    || { cat "$work/push.log" "$work/registry.log" >&2; exit 1; }
done
kill "$registry_pid"; wait "$registry_pid" 2>/dev/null || true; registry_pid=""
echo "content: OCI registry storage with the same charts in $out/oci"

dir=$(module_dir "$GATEWAY_API")
for file in "$dir"/config/crd/standard/gateway.networking.k8s.io_*.yaml; do
  printf -- '---\n'; cat "$file"
done > "$out/crds/gateway-api-standard.yaml"
dir=$(module_dir "$GATEWAY_API_OLD")
for file in "$dir"/config/crd/standard/gateway.networking.k8s.io_*.yaml; do
  printf -- '---\n'; cat "$file"
done > "$out/crds/gateway-api-standard-${GATEWAY_API_OLD#*@}.yaml"
dir=$(module_dir "$CERT_MANAGER")
for file in "$dir"/deploy/crds/*.yaml; do
  printf -- '---\n'; cat "$file"
done > "$out/crds/cert-manager.yaml"
echo "content: CRDs of ${GATEWAY_API#*/} and ${CERT_MANAGER#*/}"
echo "$stamp" > "$out/.stamp"
