# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every object an emitter writes shares: API versions, metadata naming the source
Ingresses, the order of routes, wildcard coverage, and findings attached to a route. No Ansible
imports."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from .findings import Finding
from .ingress_model import MANAGED_BY, SOURCE_ANNOTATION

ISTIO_NETWORKING = "networking.istio.io/v1"
ISTIO_SECURITY = "security.istio.io/v1"
GATEWAY_API = "gateway.networking.k8s.io/v1"
GATEWAY_API_BETA = "gateway.networking.k8s.io/v1beta1"
GATEWAY_API_GROUP = "gateway.networking.k8s.io/"
HTTP_PORT, HTTPS_PORT = 80, 443


def envoy_literal(name, value):
    """A header value as Envoy must receive it to send it as written: istiod passes route header
    values to Envoy unchanged, and Envoy reads `%...%` in them as a variable (an unknown one makes
    it refuse the gateway's whole route configuration), so a literal `%` is written `%%`. The Host
    header is the exception: istiod turns it into a host rewrite, which Envoy does not format."""
    if name.lower() in ("host", ":authority"):
        return value
    return value.replace("%", "%%")


def metadata(name, namespace, sources):
    return {"name": name, "namespace": namespace, "labels": dict(MANAGED_BY),
            "annotations": {SOURCE_ANNOTATION: ",".join(sorted(sources))}}


def sorted_routes(bucket):
    return sorted(bucket.values(), key=lambda route: route.sort_key())


def sources_of(routes):
    found = set()
    for route in routes:
        found.add(route.source)
        found.update(route.extra_sources)
    return found


def covers(wildcard, host):
    """True when the wildcard host `*` or `*.example.com` also names `host`."""
    if wildcard == host or not wildcard.startswith("*"):
        return False
    return wildcard == "*" or host.endswith(wildcard[1:])


def wildcard_certificates(hosts, tls_servers):
    """{host: (wildcard, Secret)} for hosts without a certificate of their own that a wildcard's covers.

    ingress-nginx serves `a.example.com` over HTTPS with a `*.example.com` certificate; the most
    specific wildcard wins, and its first Secret by name (as _check_tls_overlap keeps one).
    """
    owner = {}
    for credential in sorted(tls_servers):
        for host in tls_servers[credential]["hosts"]:
            owner.setdefault(host, credential)
    wildcards = sorted((w for w in owner if w.startswith("*")), key=len, reverse=True)
    covered = {}
    if not wildcards:
        return covered
    for host in hosts:
        if host in owner:
            continue
        best = next((w for w in wildcards if covers(w, host)), None)
        if best is not None:
            covered[host] = (best, owner[best])
    return covered


def note(result, route, severity, code, message):
    finding = Finding("ingress", route.source, severity, code, message, host=route.host, path=route.path)
    key = (route.source, code, message, route.host, route.path)
    if key not in result.noted:  # a set, not a scan of every finding: linear in the routes
        result.noted.add(key)
        result.findings.append(finding)
