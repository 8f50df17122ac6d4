# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The egress stage's logic: declared destinations checked and turned into ServiceEntries (and,
through an egress gateway, the Gateway and VirtualService that force them through it), the report
of what REGISTRY_ONLY would block, and the cluster's own address ranges for bypass_ranges.

Pure logic, no Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

from .ingress_model import MANAGED_BY
from .rollback import EGRESS_LABEL

PROTOCOLS = ("HTTP", "HTTPS", "HTTP2", "GRPC", "TLS", "TCP", "MONGO")
RESOLUTIONS = ("DNS", "DNS_ROUND_ROBIN", "STATIC", "NONE")
# What an egress gateway can route by host: HTTP by Host header, TLS and HTTPS by SNI (passed through).
GATEWAY_PROTOCOLS = {"HTTP": "http", "HTTPS": "tls", "TLS": "tls"}
DNS_NAME = re.compile(r"^(\*\.)?([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)*[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
CLUSTER_SUFFIXES = (".svc", ".cluster.local")


def entry_name(entry, index):
    """`egress_destinations[i] (name)`: how every error names an entry."""
    name = entry.get("name") if isinstance(entry, dict) else None
    if not name and isinstance(entry, dict) and isinstance(entry.get("hosts"), list) and entry["hosts"]:
        name = entry["hosts"][0]
    return "egress_destinations[{0}]{1}".format(index, " ({0})".format(name) if name else "")


def _port_errors(where, ports, through_gateway):
    errors = []
    if not isinstance(ports, list) or not ports:
        return ["{0}: ports is missing (a list of {{number, protocol}})".format(where)]
    for number, port in enumerate(ports):
        at = "{0}: ports[{1}]".format(where, number)
        if not isinstance(port, dict):
            errors.append("{0} is not a mapping".format(at))
            continue
        value = port.get("number")
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
            errors.append("{0}.number must be a port number (1-65535), got {1!r}".format(at, value))
        protocol = port.get("protocol")
        if protocol not in PROTOCOLS:
            errors.append("{0}.protocol must be one of {1}, got {2!r}".format(at, ", ".join(PROTOCOLS), protocol))
        elif through_gateway and protocol not in GATEWAY_PROTOCOLS:
            errors.append("{0}.protocol {1} cannot go through the egress gateway (HTTP, HTTPS or TLS can)".format(
                at, protocol))
    return errors


def validate(entries):
    """Every problem of the declared destinations, each naming the entry and the field."""
    if not isinstance(entries, list):
        return ["egress_destinations must be a list, got {0}".format(type(entries).__name__)]
    errors, names = [], {}
    for index, entry in enumerate(entries):
        where = entry_name(entry, index)
        if not isinstance(entry, dict):
            errors.append("{0} is not a mapping".format(where))
            continue
        unknown = sorted(set(entry) - {"name", "hosts", "ports", "resolution", "addresses", "endpoints",
                                       "through_gateway"})
        if unknown:
            errors.append("{0}: unknown field(s) {1}".format(where, ", ".join(unknown)))
        hosts = entry.get("hosts")
        if not isinstance(hosts, list) or not hosts:
            errors.append("{0}: hosts is missing (a list of DNS names)".format(where))
            hosts = []
        for host in hosts:
            if not isinstance(host, str) or not DNS_NAME.match(host):
                errors.append("{0}: hosts has {1!r}, not a DNS name (a leading *. is allowed)".format(where, host))
        resolution = entry.get("resolution", "DNS")
        if resolution not in RESOLUTIONS:
            errors.append("{0}: resolution must be one of {1}, got {2!r}".format(
                where, ", ".join(RESOLUTIONS), resolution))
        wildcards = [h for h in hosts if isinstance(h, str) and h.startswith("*.")]
        if wildcards and resolution != "NONE":
            errors.append("{0}: wildcard host {1} needs resolution NONE (Istio cannot resolve a wildcard)".format(
                where, wildcards[0]))
        if resolution == "STATIC" and not entry.get("endpoints"):
            errors.append("{0}: resolution STATIC needs endpoints (a list of {{address}})".format(where))
        for address in entry.get("addresses") or []:
            try:
                ipaddress.ip_network(str(address), strict=False)
            except ValueError:
                errors.append("{0}: addresses has {1!r}, not an IP address or CIDR".format(where, address))
        through = entry.get("through_gateway", False)
        if not isinstance(through, bool):
            errors.append("{0}: through_gateway must be true or false, got {1!r}".format(where, through))
        elif through and wildcards:
            errors.append("{0}: through_gateway needs exact hosts, not {1}".format(where, wildcards[0]))
        errors.extend(_port_errors(where, entry.get("ports"), through is True))
        name = resource_name(entry)
        if name in names:
            errors.append("{0}: its name {1} is also {2}'s".format(where, name, names[name]))
        names[name] = where
    return errors


def resource_name(entry):
    """The generated objects' name for an entry: its `name`, else its first host, as a DNS label."""
    base = entry.get("name") or (entry.get("hosts") or ["destination"])[0]
    name = re.sub(r"[^a-z0-9-]+", "-", str(base).lower().replace("*.", "wildcard.")).strip("-")
    return ("egress-" + name)[:63].rstrip("-")


def owner_selector(owner):
    """The label selector of what the egress stage generated for `owner`."""
    return ",".join("{0}={1}".format(k, v) for k, v in sorted(_labels(owner).items()))


def _labels(owner):
    labels = dict(MANAGED_BY)
    labels[EGRESS_LABEL] = owner
    return labels


def service_entry(entry, namespace, owner):
    spec = {"hosts": list(entry["hosts"]), "location": "MESH_EXTERNAL",
            "resolution": entry.get("resolution", "DNS"),
            "ports": [{"number": p["number"], "protocol": p["protocol"],
                       "name": p.get("name") or "{0}-{1}".format(p["protocol"].lower(), p["number"])}
                      for p in entry["ports"]]}
    if entry.get("addresses"):
        spec["addresses"] = [str(a) for a in entry["addresses"]]
    if entry.get("endpoints"):
        spec["endpoints"] = entry["endpoints"]
    return {"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
            "metadata": {"name": resource_name(entry), "namespace": namespace, "labels": _labels(owner)},
            "spec": spec}


def gateway_routing(entry, gateway, owner):
    """The Gateway on the egress gateway and the VirtualService that sends the entry's hosts from
    every sidecar (`mesh`) to the egress gateway, and from there out, as Istio's egress gateway
    task does. `gateway`: {name, namespace, selector}."""
    name = resource_name(entry)
    service = "{0}.{1}.svc.cluster.local".format(gateway["name"], gateway["namespace"])
    gateway_ref = "{0}/{1}".format(gateway["namespace"], name)
    servers, routes = [], {"http": [], "tls": []}
    for port in entry["ports"]:
        kind = GATEWAY_PROTOCOLS[port["protocol"]]
        server = {"port": {"number": port["number"], "protocol": "HTTP" if kind == "http" else "TLS",
                           "name": "{0}-{1}".format(kind, port["number"])}, "hosts": list(entry["hosts"])}
        if kind == "tls":
            server["tls"] = {"mode": "PASSTHROUGH"}
        servers.append(server)
        for source, destination in (("mesh", service), (gateway_ref, None)):
            match = {"gateways": [source], "port": port["number"]}
            if kind == "tls":
                match["sniHosts"] = list(entry["hosts"])
            route = [{"destination": {"host": destination or entry["hosts"][0], "port": {"number": port["number"]}}}]
            routes[kind].append({"match": [match], "route": route})
    labels = _labels(owner)
    virtual_service = {"hosts": list(entry["hosts"]), "gateways": ["mesh", gateway_ref]}
    virtual_service.update((kind, rules) for kind, rules in routes.items() if rules)
    return [
        {"apiVersion": "networking.istio.io/v1", "kind": "Gateway",
         "metadata": {"name": name, "namespace": gateway["namespace"], "labels": labels},
         "spec": {"selector": dict(gateway["selector"]), "servers": servers}},
        {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
         "metadata": {"name": name, "namespace": gateway["namespace"], "labels": labels},
         "spec": virtual_service},
    ]


def resources(entries, namespace, owner, gateway=None):
    """Every object the declared destinations need, ServiceEntries first."""
    generated = [service_entry(entry, namespace, owner) for entry in entries]
    if gateway:
        for entry in entries:
            if entry.get("through_gateway"):
                generated.extend(gateway_routing(entry, gateway, owner))
    return generated


def covers(pattern, host):
    """Whether a ServiceEntry host (exact or `*.suffix`) registers `host`."""
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if pattern == "*":
        return True
    if pattern.startswith("*."):
        return host.endswith(pattern[1:])
    return pattern == host


def _split_destination(text):
    """`host` or `host:port` as observed (from access logs, flow logs...)."""
    host, port = str(text).strip().rpartition(":")[::2]
    if host and port.isdigit():
        return host, int(port)
    return str(text).strip(), None


def registered(service_entries):
    """[(host pattern, ports or None for any, where it comes from)] of the ServiceEntries listed."""
    known = []
    for item in service_entries:
        spec = item.get("spec") or {}
        ports = set(p.get("number") for p in spec.get("ports") or []) or None
        metadata = item.get("metadata") or {}
        for host in spec.get("hosts") or []:
            known.append((host, ports, "ServiceEntry {0}/{1}".format(metadata.get("namespace"), metadata.get("name"))))
    return known


def _is_cluster_host(host):
    return host.endswith(CLUSTER_SUFFIXES) or "." not in host


def would_block(known, external_name_services, observed):
    """What REGISTRY_ONLY would block: the hosts of ExternalName Services and observed
    destinations that no ServiceEntry registers (declared or already in the cluster), each with
    where it was seen. In-cluster names are served by Kubernetes Services and never blocked."""
    blocked = []

    def registered_for(host, port):
        return any(covers(pattern, host) and (ports is None or port is None or port in ports)
                   for pattern, ports, dummy in known)

    for service in external_name_services:
        spec, metadata = service.get("spec") or {}, service.get("metadata") or {}
        host = (spec.get("externalName") or "").rstrip(".")
        if not host or _is_cluster_host(host):
            continue
        ports = [p.get("port") for p in spec.get("ports") or []] or [None]
        missing = [p for p in ports if not registered_for(host, p)]
        if missing:
            blocked.append({"host": host, "ports": [p for p in missing if p is not None],
                            "source": "ExternalName Service {0}/{1}".format(
                                metadata.get("namespace"), metadata.get("name"))})
    for text in observed:
        host, port = _split_destination(text)
        if host and not _is_cluster_host(host) and not registered_for(host, port):
            blocked.append({"host": host, "ports": [port] if port else [], "source": "observed destination"})
    return blocked


def cluster_ranges(service_cidrs, nodes):
    """(service CIDRs, pod CIDRs) from the ServiceCIDR objects and the Nodes' podCIDRs, collapsed."""
    services = [c for item in service_cidrs for c in ((item.get("spec") or {}).get("cidrs") or [])]
    pods = []
    for node in nodes:
        spec = node.get("spec") or {}
        pods.extend(spec.get("podCIDRs") or ([spec["podCIDR"]] if spec.get("podCIDR") else []))
    return collapse(services), collapse(pods)


def collapse(cidrs):
    """CIDRs normalised and merged (adjacent and nested ranges become one), IPv4 first."""
    networks = [ipaddress.ip_network(str(c), strict=False) for c in cidrs]
    merged = []
    for version in (4, 6):
        merged.extend(str(n) for n in ipaddress.collapse_addresses(n for n in networks if n.version == version))
    return merged


# Istio's per-pod override of global.proxy.includeIPRanges, read by the injector from the pod.
INCLUDE_OUTBOUND_ANNOTATION = "traffic.sidecar.istio.io/includeOutboundIPRanges"
# Set beside it, so that only annotations the egress stage wrote are ever taken away again.
OUTBOUND_MARKER = "adoptmesh.istio/include-outbound-ranges"


def outbound_ranges_patch(workload, ranges):
    """The pod-template annotations patch that makes a workload's sidecars capture `ranges`
    (None: take the stage's annotation away), or None when the template already says so. A
    template that carries the annotation without the marker was annotated by its owner and is
    left alone (returned as False)."""
    template = ((workload.get("spec") or {}).get("template") or {}).get("metadata") or {}
    annotations = template.get("annotations") or {}
    ours = OUTBOUND_MARKER in annotations
    if ranges is None:
        if not ours:
            return None
        wanted = {INCLUDE_OUTBOUND_ANNOTATION: None, OUTBOUND_MARKER: None}
    else:
        if INCLUDE_OUTBOUND_ANNOTATION in annotations and not ours:
            return False
        if annotations.get(INCLUDE_OUTBOUND_ANNOTATION) == ranges and ours:
            return None
        wanted = {INCLUDE_OUTBOUND_ANNOTATION: ranges, OUTBOUND_MARKER: "true"}
    return {"spec": {"template": {"metadata": {"annotations": wanted}}}}
