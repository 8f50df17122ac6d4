# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ingress backends: the Service port a backend names, resolved (a named port through its
Service), and what ingress-nginx's access log calls it (for the traffic replay). No Ansible imports."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from .findings import ERROR, Finding
from .ingress_input import as_dict, as_list
from .ingress_model import Destination
from .names import is_dns1123_label


def index_services(services):
    index = {}
    for service in services or []:
        metadata = as_dict(as_dict(service).get("metadata"))
        namespace = metadata.get("namespace") or "default"
        if is_dns1123_label(metadata.get("name")) and is_dns1123_label(namespace):
            index[(namespace, metadata["name"])] = as_dict(service.get("spec"))
    return index


def destination(backend, namespace, ref, where, services, findings):
    """The Destination of an Ingress backend, or None with a finding."""
    backend = as_dict(backend)
    if backend.get("resource") is not None:
        findings.append(Finding("ingress", ref, ERROR, "resource-backend-unsupported",
                                "{0}: resource backends cannot be routed by an Istio gateway".format(where)))
        return None
    service = as_dict(backend.get("service"))
    name = service.get("name")
    port = as_dict(service.get("port"))
    if not isinstance(name, str) or not is_dns1123_label(name):
        findings.append(Finding("ingress", ref, ERROR, "invalid-backend",
                                "{0}: backend.service.name {1!r} is not a Service name".format(where, name)))
        return None
    number = port.get("number")
    spec = services.get((namespace, name))
    if services and spec is None:
        findings.append(Finding("ingress", ref, ERROR, "service-not-found",
                                "{0}: Service {1}/{2} does not exist".format(where, namespace, name)))
        return None
    if number is None:
        port_name = port.get("name")
        if not isinstance(port_name, str) or not port_name:
            findings.append(Finding("ingress", ref, ERROR, "invalid-backend",
                                    "{0}: backend.service.port needs a number or a name".format(where)))
            return None
        if spec is None:
            findings.append(Finding("ingress", ref, ERROR, "named-port-unresolved",
                                    "{0}: port {1!r} of Service {2}/{3} cannot be resolved without the Service".format(
                                        where, port_name, namespace, name)))
            return None
        matches = [p for p in as_list(spec.get("ports")) if as_dict(p).get("name") == port_name]
        if not matches or not isinstance(matches[0].get("port"), int):
            findings.append(Finding("ingress", ref, ERROR, "named-port-unresolved",
                                    "{0}: Service {1}/{2} has no port named {3!r}".format(
                                        where, namespace, name, port_name)))
            return None
        number = matches[0]["port"]
    if not isinstance(number, int) or isinstance(number, bool) or not 0 < number < 65536:
        findings.append(Finding("ingress", ref, ERROR, "invalid-backend",
                                "{0}: backend.service.port.number {1!r} is not a port".format(where, number)))
        return None
    return Destination(name, namespace, number, None)


def backend_entry(namespace, path_spec, destination, host, regex):
    """One routed path of an Ingress as the replay needs it: the host (None for defaultBackend), the
    path as written, its type, whether ingress-nginx reads it as a regex, the upstream name, where it goes.
    The backend was checked by `_destination` already: a Service name and a port number or name."""
    service = path_spec["backend"]["service"]
    given = service["port"]
    upstream = "{0}-{1}-{2}".format(namespace, service["name"], given.get("number") or given.get("name"))
    return {"host": host, "path": path_spec.get("path"), "path_type": path_spec.get("pathType"), "regex": regex,
            "upstream": upstream, "service": "{0}.{1}".format(service["name"], namespace), "port": destination.port}


def upstream_name(namespace, backend):
    """The name ingress-nginx gives a backend's upstream (`$proxy_upstream_name`): `<namespace>-<service>-<port>`,
    the port as the Ingress gives it (number, else name)."""
    service = as_dict(as_dict(backend).get("service"))
    port = as_dict(service.get("port"))
    if port.get("number"):
        return "{0}-{1}-{2}".format(namespace, service.get("name"), port["number"])
    if port.get("name"):
        return "{0}-{1}-{2}".format(namespace, service.get("name"), port["name"])
    return "{0}-INVALID".format(namespace)
