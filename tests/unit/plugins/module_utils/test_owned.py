"""What a gateway's run writes, leaves alone and prunes (plugins/module_utils/owned.py), and the
owner label and certificate sources of the translation that feeds it."""

import copy

import pytest

from ansible_collections.adoptmesh.istio.plugins.module_utils import ingress as translator, owned
from ansible_collections.adoptmesh.istio.plugins.module_utils.errors import InputError
from ansible_collections.adoptmesh.istio.plugins.module_utils.owned import (covers, identity, is_current, owner_selector,
                                                                            plan, stamp)

from .test_ingress import codes, ingress, path, rule, service, translate

TLS = [{"hosts": ["shop.example.com", "api.example.com"], "secretName": "shop-tls"}]
SHOP = ingress("web", rule("shop.example.com", path("/", "web")), rule("api.example.com", path("/", "web")), tls=TLS)


def vs(name, spec=None, labels=None, annotations=None, api="networking.istio.io/v1"):
    return {"apiVersion": api, "kind": "VirtualService",
            "metadata": {"name": name, "namespace": "gw", "labels": labels or {"a": "1"},
                         "annotations": annotations or {}},
            "spec": spec if spec is not None else {"hosts": [name]}}


def test_every_generated_object_carries_the_managed_by_and_owner_labels():
    result = translate([SHOP], [service("web")], gateway_namespace="gw", owner="team-a")
    assert result.resources
    for resource in result.resources:
        assert resource["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "adoptmesh.istio",
                                                  "adoptmesh.istio/gateway": "team-a"}


def test_the_owner_defaults_to_the_gateway_name_and_must_be_a_label_value():
    result = translate([SHOP], [service("web")], gateway_namespace="gw", gateway_name="edge")
    assert {r["metadata"]["labels"]["adoptmesh.istio/gateway"] for r in result.resources} == {"edge"}
    with pytest.raises(InputError, match="owner"):
        translate([SHOP], [service("web")], owner="team a/gateway")


def test_owner_selector_names_both_labels():
    assert owner_selector("team-a") == "adoptmesh.istio/gateway=team-a,app.kubernetes.io/managed-by=adoptmesh.istio"


def test_plan_writes_what_is_missing_or_differs_and_leaves_what_is_current():
    wanted = [vs("a"), vs("b"), vs("c")]
    live_b = copy.deepcopy(vs("b"))
    live_b["metadata"].update(uid="u-b", resourceVersion="7")
    live_b["metadata"]["labels"]["added-by-someone"] = "x"  # extra labels do not matter
    live_c = vs("c", spec={"hosts": ["edited"]})  # a user's edit is put back
    steps = plan(wanted, [live_b, live_c])
    assert [identity(obj) for obj in steps.current] == [identity(vs("b"))]
    assert [(obj["metadata"]["name"], live is not None, known) for obj, live, known in steps.write] == [
        ("a", False, False), ("c", True, True)]
    assert steps.prune == []


def test_plan_prunes_only_listed_objects_that_are_no_longer_produced():
    stale = vs("old")
    steps = plan([vs("a")], [vs("a"), stale])
    assert steps.prune == [stale]
    assert plan([vs("a")], [vs("a"), stale], prune=False).prune == []


def test_the_same_object_read_at_another_version_is_the_same_identity():
    assert identity(vs("a", api="networking.istio.io/v1")) == identity(vs("a", api="networking.istio.io/v1beta1"))


def test_is_current_needs_the_desired_labels_and_annotations_and_spec():
    assert is_current(vs("a"), vs("a"))
    assert not is_current(vs("a"), None)
    assert not is_current(vs("a", labels={"a": "1", "b": "2"}), vs("a"))
    assert not is_current(vs("a", annotations={"n": "1"}), vs("a"))


def test_api_server_defaults_are_current_but_edits_and_dropped_fields_are_not():
    generated = stamp(vs("a", spec={"hosts": ["a"], "http": [{"route": [{"destination": {"host": "web"}}]}]}))
    defaulted = copy.deepcopy(generated)
    defaulted["spec"]["http"][0]["route"][0]["weight"] = 100  # what a CRD default adds
    assert is_current(generated, defaulted)
    edited = copy.deepcopy(generated)
    edited["spec"]["http"][0]["route"][0]["destination"]["host"] = "elsewhere"
    assert not is_current(generated, edited)
    extra_route = copy.deepcopy(generated)
    extra_route["spec"]["http"].append({"route": [{"destination": {"host": "sneaky"}}]})
    assert not is_current(generated, extra_route)
    # The generated spec drops a field the live object still has: the hash tells.
    old = stamp(vs("a", spec={"hosts": ["a"], "gateways": ["gw"], "http": generated["spec"]["http"]}))
    assert not is_current(generated, old)


def test_covers_is_a_superset_check():
    assert covers({"a": 1, "b": [{"c": 2, "d": 3}]}, {"b": [{"c": 2}]})
    assert not covers({"b": [{"c": 2}, {"c": 3}]}, {"b": [{"c": 2}]})
    assert not covers({"a": 1}, {"a": 2}) and not covers(None, {"a": 1})


def test_issued_certificates_keep_credential_names_and_copy_nothing():
    result = translate([SHOP], [service("web")], gateway_namespace="gw", certificates="issued", known_secrets=set())
    gateway = next(r for r in result.resources if r["kind"] == "Gateway")
    credentials = [s["tls"]["credentialName"] for s in gateway["spec"]["servers"] if "tls" in s]
    copied = translate([SHOP], [service("web")], gateway_namespace="gw", known_secrets={("shop", "shop-tls")})
    copied_gateway = next(r for r in copied.resources if r["kind"] == "Gateway")
    assert credentials == [s["tls"]["credentialName"] for s in copied_gateway["spec"]["servers"] if "tls" in s]
    assert credentials and result.secrets_to_copy == [] and not result.has_errors
    assert len(copied.secrets_to_copy) == 1


def test_external_certificates_give_http_servers_only_and_no_redirects():
    force = ingress("forced", rule("force.example.com", path("/", "web")),
                    annotations={"nginx.ingress.kubernetes.io/force-ssl-redirect": "true"})
    result = translate([SHOP, force], [service("web")], gateway_namespace="gw", certificates="external")
    gateway = next(r for r in result.resources if r["kind"] == "Gateway")
    assert all("tls" not in server for server in gateway["spec"]["servers"])
    assert all("redirect" not in route for r in result.resources if r["kind"] == "VirtualService"
               for route in r["spec"]["http"])
    assert ("shop/web", "info", "tls-at-load-balancer") in codes(result)
    assert ("shop/forced", "info", "https-redirect-at-load-balancer") in codes(result)
    assert result.secrets_to_copy == []


def test_an_unknown_certificate_source_is_an_input_error():
    with pytest.raises(InputError, match="certificates"):
        translator.translate([SHOP], [service("web")], certificates="acme")


def test_each_credential_names_the_ingress_secret_it_stands_for():
    other = ingress("other", rule("other.example.com", path("/", "web")), namespace="gw",
                    tls=[{"hosts": ["other.example.com"], "secretName": "own-tls"}])
    result = translate([SHOP, other], [service("web"), service("web", namespace="gw")], gateway_namespace="gw",
                       certificates="issued")
    gateway = next(r for r in result.resources if r["kind"] == "Gateway")
    credentials = sorted(s["tls"]["credentialName"] for s in gateway["spec"]["servers"] if "tls" in s)
    assert sorted(result.credential_secrets) == credentials
    assert result.credential_secrets["own-tls"] == "gw/own-tls"  # in the gateway's namespace: the same name
    assert sorted(result.credential_secrets.values()) == ["gw/own-tls", "shop/shop-tls"]


def test_a_gateway_name_too_long_for_the_owner_label_needs_an_owner():
    long_name = "edge." + "a" * 60
    with pytest.raises(InputError, match="gateway_name"):
        translate([SHOP], [service("web")], gateway_name=long_name)
    result = translate([SHOP], [service("web")], gateway_name=long_name, owner="edge")
    assert {r["metadata"]["labels"]["adoptmesh.istio/gateway"] for r in result.resources} == {"edge"}


def test_an_ingress_another_gateway_took_is_named_with_both_gateways():
    assert owned.claims(["shop/web", "shop/api"], "a") == {"shop/web": "a", "shop/api": "a"}
    assert owned.taken_elsewhere(["shop/web", "shop/api"], "b", {"shop/web": "a", "shop/api": "b"}) == [
        ("shop/web", ["a", "b"])]
    assert owned.taken_elsewhere(["shop/web"], "a", {}) == []
    with pytest.raises(ValueError):
        owned.taken_elsewhere(["shop/web"], "a", ["shop/web"])
