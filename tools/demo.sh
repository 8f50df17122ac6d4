#!/usr/bin/env bash
# `make demo`: adopt the local control plane into the mesh, through the STRICT stage, and print
# where the report is. The plane stays up afterwards for a look around (`make cluster-down`).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
export PATH="$repo/.build/bin:$repo/.venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$repo/.build/collections" ANSIBLE_CONFIG="$repo/ansible.cfg"

echo "demo: starting the local control plane"
python tools/cluster/plane.py up --name local
export KUBECONFIG="$repo/.cluster/local/kubeconfig"

echo "demo: seeding the sample estate (tools/demo/estate.yaml)"
kubectl apply -f tools/demo/estate.yaml >/dev/null
kubectl wait --for=condition=Available deployment --all -A --timeout=120s >/dev/null

# A week of ingress-nginx traffic for the estate, as its access log would have it (generated):
# the ingress stage replays it against the translation and the report says what would move.
access_log="$repo/.cluster/local/ingress-nginx-access.log.gz"
echo "demo: writing a generated ingress-nginx access log of the estate ($access_log)"
python tools/access_logs.py --ingresses tools/demo/estate.yaml --lines 200000 --output "$access_log" >/dev/null

echo "demo: running playbooks/adopt-istio.yml through the ingress and strict stages"
ansible-playbook playbooks/adopt-istio.yml -i inventories/local -e adoption_stage=strict \
  -e "{\"ingress_gateway_replay_logs\": [\"$access_log\"]}"

echo
echo "demo: the report is in $repo/.cluster/reports/local.md (and local.json; fleet.html is the page for a whole fleet)"
echo "demo: the plane is still running: export KUBECONFIG=$KUBECONFIG; make cluster-down stops it"
