"""playbooks/rollback-istio.yml after a full adoption (through STRICT and the cutover)."""

import json

import pytest

from conftest import own_plane, recap_changed
from test_adoption_playbook import Adoption

# Objects users made before the adoption, of the kinds the rollback removes generated ones of.
USER_OBJECTS = """
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: team-gateway, namespace: shop}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["team.example.test"]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: team-routes, namespace: shop}
spec:
  hosts: ["team.example.test"]
  gateways: [team-gateway]
  http: [{route: [{destination: {host: web}}]}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: team-web, namespace: shop}
spec:
  host: web
  trafficPolicy: {connectionPool: {tcp: {maxConnections: 50}}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: team-db-port, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  portLevelMtls: {"8080": {mode: PERMISSIVE}}
"""
USER_KINDS = ("gateways.networking.istio.io,virtualservices.networking.istio.io,destinationrules.networking.istio.io,"
              "peerauthentications.security.istio.io")


@pytest.fixture(scope="module")
def rollback_plane():
    with own_plane("rollback") as plane:
        yield plane


def user_objects(adoption):
    return sorted("{0}/{1}".format(i["kind"], i["metadata"]["name"])
                  for i in adoption.kubectl.json("-n", "shop", "get", USER_KINDS)["items"]
                  if i["metadata"]["name"].startswith("team-"))


def test_rollback_of_a_full_adoption_keeps_what_users_made_and_reruns_without_change(rollback_plane, tmp_path):
    adoption = Adoption(rollback_plane, tmp_path)
    backups = {"adoptmesh_backup_dir": str(tmp_path / "backups")}
    adoption.seed()
    # Labels from before the adoption: legacy had opted out and carries a team label.
    adoption.kubectl.run("label", "namespace", "legacy", "istio-injection=disabled", "team=legacy", "--overwrite")
    adoption.run("-e", "adoption_stage=install", **backups)
    adoption.kubectl.run("apply", "-f", "-", input=USER_OBJECTS)
    assert len(user_objects(adoption)) == 4
    ingresses = sorted(i["metadata"]["name"] for i in adoption.kubectl.json("get", "ingresses", "-A")["items"])

    adoption.run("-e", "adoption_stage=strict", **backups)
    adoption.run("-e", "adoption_stage=cutover", **backups)
    assert adoption.kubectl.json("get", "ingresses", "-A")["items"] == []
    assert adoption.kubectl.json("-n", "shop", "get", "peerauthentication", "default")["spec"]["mtls"]["mode"] == "STRICT"
    assert adoption.kubectl.json("get", "namespace", "legacy")["metadata"]["labels"]["istio-injection"] == "enabled"

    # Check mode lists every step and writes nothing.
    written = ",ingresses,peerauthentications,gateways.networking.istio.io,virtualservices,destinationrules"
    before = adoption.resource_versions(extra_kinds=written)
    output = adoption.run("--check", "-e", "rollback_restart=true", playbook="rollback-istio.yml", **backups)
    assert adoption.resource_versions(extra_kinds=written) == before
    for listed in ("PeerAuthentication shop/default", "PeerAuthentication istio-system/default",
                   "VirtualService istio-ingress/", "shop/storefront", "legacy"):
        assert listed in output, listed

    output = adoption.run("-e", "rollback_restart=true", "-e", "rollback_batch_size=50",
                          playbook="rollback-istio.yml", **backups)
    # Ingresses back, generated objects and the collection's policies gone, the users' all there.
    assert sorted(i["metadata"]["name"] for i in adoption.kubectl.json("get", "ingresses", "-A")["items"]) == ingresses
    assert adoption.kubectl.json("get", "peerauthentications", "-A")["items"] == [
        p for p in adoption.kubectl.json("get", "peerauthentications", "-A")["items"]
        if p["metadata"]["name"] == "team-db-port"]
    assert adoption.kubectl.json("-n", "istio-ingress", "get", "virtualservices,gateways.networking.istio.io,"
                                 "destinationrules")["items"] == []
    assert user_objects(adoption) == ["DestinationRule/team-web", "Gateway/team-gateway",
                                      "PeerAuthentication/team-db-port", "VirtualService/team-routes"]
    # Labels as before the adoption; the record of them is gone.
    legacy = adoption.kubectl.json("get", "namespace", "legacy")["metadata"]
    assert legacy["labels"]["istio-injection"] == "disabled" and legacy["labels"]["team"] == "legacy"
    assert "adoptmesh.istio/injection-labels-before" not in (legacy.get("annotations") or {})
    assert "istio-injection" not in adoption.kubectl.json("get", "namespace", "shop")["metadata"]["labels"]
    # The restart took the sidecars out.
    adoption.kubectl.run("wait", "--for=condition=Available", "deployment", "--all", "-n", "shop", "--timeout=120s")
    pods = [p for p in adoption.kubectl.json("-n", "shop", "get", "pods")["items"]
            if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")]
    assert pods and not [p["metadata"]["name"] for p in pods
                         if "sidecar.istio.io/status" in (p["metadata"].get("annotations") or {})]

    assert "Restart the workloads that still run a sidecar" in output
    # The record on the cluster no longer claims the stages the rollback walked back.
    record = adoption.kubectl.json("-n", "istio-system", "get", "configmap", "adoptmesh-adoption-state")["data"]
    assert record["reached"] == "install" and "strict" not in json.loads(record["completed"])
    assert recap_changed(adoption.run("-e", "rollback_restart=true", playbook="rollback-istio.yml", **backups)) == 0

    # The Helm releases go when asked; the CRDs, and with them the users' objects, stay.
    adoption.run("-e", "rollback_uninstall=true", playbook="rollback-istio.yml", **backups)
    releases = adoption.kubectl.json("get", "secrets", "-A", "-l", "owner=helm")["items"]
    assert sorted(set(r["metadata"]["labels"]["name"] for r in releases)) == ["istio-base"]
    assert adoption.kubectl.run("-n", "istio-system", "get", "deployment", "istiod", check=False).returncode != 0
    assert user_objects(adoption) == ["DestinationRule/team-web", "Gateway/team-gateway",
                                      "PeerAuthentication/team-db-port", "VirtualService/team-routes"]
    assert recap_changed(adoption.run("-e", "rollback_uninstall=true", playbook="rollback-istio.yml", **backups)) == 0

    # Only when asked does istio-base go, and Istio's CRDs with every object of their kinds.
    adoption.run("-e", "rollback_uninstall=true", "-e", "rollback_remove_crds=true", playbook="rollback-istio.yml",
                 **backups)
    assert not [c for c in adoption.kubectl.json("get", "crd")["items"] if c["metadata"]["name"].endswith(".istio.io")]
    assert adoption.kubectl.json("get", "secrets", "-A", "-l", "owner=helm")["items"] == []
    assert sorted(i["metadata"]["name"] for i in adoption.kubectl.json("get", "ingresses", "-A")["items"]) == ingresses

    # Adopting again starts from scratch. The client's discovery cache (kubernetes.core keeps one
    # per API server and user, with no expiry) still names Istio's kinds: a LIST of them answers
    # 404 and reads as "not installed", not as a failure of the preflight.
    output = adoption.run("-e", "adoption_stage=preflight", **backups)
    assert "404 page not found" not in output
    assert recap_changed(output) == 0
