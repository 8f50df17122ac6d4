# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shape of the API objects the pure logic reads, checked before it reads them.

An API server, a webhook's mutation, a CRD without a schema or a hand-written record can hand
over `"hostNetwork": "yes"` or `"labels": ["a"]`. Every entry point that takes objects checks
the fields it reads against these schemas first and raises InputError naming the object and the
field, never a Python error deep inside. A field that is absent or null is fine (Kubernetes omits
empty fields); fields the schemas do not name are not read and not checked. No Ansible imports.

A schema is a type (`str`, `bool`, `INT`, `INT_OR_STR`, `ANY`), a dict of field -> schema (an
object), `ListOf(schema)` or `MapOf(schema)` (string keys).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math

from .errors import InputError, field_path
from .names import object_ref

INT = "integer"
INT_OR_STR = "integer or string"
NUMBER = "number"
ANY = "anything"


class ListOf:
    def __init__(self, item):
        self.item = item


class MapOf:
    def __init__(self, value):
        self.value = value


class Required:
    """A field that must be there (not absent, not null)."""

    def __init__(self, schema):
        self.schema = schema


def _kind_name(value):
    for kinds, name in ((bool, "a boolean"), (int, "an integer"), (float, "a number"), (str, "a string"),
                        (list, "a list"), (dict, "a mapping")):
        if isinstance(value, kinds):
            return name
    return "null" if value is None else "a " + type(value).__name__


def _fits(value, expected):
    if expected is ANY:
        return True
    if expected is INT:
        return isinstance(value, int) and not isinstance(value, bool)
    if expected is INT_OR_STR:
        return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))
    if expected is NUMBER:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return isinstance(value, expected)


def _expected_name(expected):
    if isinstance(expected, Required):
        return _expected_name(expected.schema)
    if isinstance(expected, dict) or isinstance(expected, MapOf):
        return "a mapping"
    if isinstance(expected, ListOf):
        return "a list"
    if expected in (INT, INT_OR_STR):
        return "an " + expected
    return {str: "a string", bool: "a boolean"}.get(expected, "a " + str(expected))


def problem(value, schema, path=()):
    """(field path, what is wrong) for the first field of value that does not fit schema, or None."""
    if isinstance(schema, Required):
        if value is None:
            return path, "is required"
        schema = schema.schema
    if value is None:
        return None
    if isinstance(schema, dict):
        if not isinstance(value, dict):
            return path, "is {0}, not a mapping".format(_kind_name(value))
        for field, expected in schema.items():
            found = problem(value.get(field), expected, path + (field,))
            if found:
                return found
        return None
    if isinstance(schema, ListOf):
        if not isinstance(value, list):
            return path, "is {0}, not a list".format(_kind_name(value))
        return _first_problem(enumerate(value), schema.item, path, null_ok=False)
    if isinstance(schema, MapOf):
        if not isinstance(value, dict):
            return path, "is {0}, not a mapping".format(_kind_name(value))
        for key in value:
            if not isinstance(key, str):
                return path, "has a key that is {0}, not a string".format(_kind_name(key))
        return _first_problem(value.items(), schema.value, path, null_ok=schema.value is ANY)
    if not _fits(value, schema):
        return path, "is {0}, not {1}".format(_kind_name(value), _expected_name(schema))
    return None


def _first_problem(items, expected, path, null_ok):
    """The first (path, problem) among a list's or a map's (key, item) pairs; a null item is one
    unless `null_ok` (Kubernetes lists and string maps never hold null)."""
    for key, item in items:
        if item is None and not null_ok:
            return path + (key,), "is null"
        found = problem(item, expected, path + (key,))
        if found:
            return found
    return None


def check(kind, obj, schema):
    """obj itself, or InputError naming the object (`Pod shop/web`) and the field at fault."""
    if not isinstance(obj, dict):
        raise InputError(kind, "<object>", "", "is {0}, not a Kubernetes object".format(_kind_name(obj)))
    found = problem(obj, schema)
    if found:
        path, text = found
        raise InputError(kind, object_ref(obj) if isinstance(obj.get("metadata"), dict) else "<object>",
                         field_path(*path), text)
    return obj


def check_all(kind, objects, schema):
    """The objects (a list), each checked; InputError on the first that does not fit."""
    if not isinstance(objects, (list, tuple)):
        raise InputError(kind, "<list>", "", "the objects are {0}, not a list".format(_kind_name(objects)))
    for obj in objects:
        check(kind, obj, schema)
    return objects


# --- the schemas: only the fields the collection reads ------------------------------------------

OWNER_REFERENCE = {"kind": str, "name": str, "controller": bool}
METADATA = {"name": str, "namespace": str, "labels": MapOf(str), "annotations": MapOf(str),
            "ownerReferences": ListOf(OWNER_REFERENCE), "creationTimestamp": str, "resourceVersion": str,
            "generation": INT}
NAMESPACE = {"metadata": Required(dict(METADATA, name=Required(str)))}
CONTAINER = {"name": str, "image": str, "args": ListOf(str), "command": ListOf(str),
             "ports": ListOf({"name": str, "containerPort": INT, "protocol": str})}
POD_SPEC = {"hostNetwork": bool, "containers": ListOf(CONTAINER), "initContainers": ListOf(CONTAINER)}
POD = {"metadata": Required(dict(METADATA, name=Required(str))), "spec": POD_SPEC, "status": {"phase": str}}
TEMPLATE = {"metadata": METADATA, "spec": POD_SPEC}
WORKLOAD = {"kind": str, "metadata": METADATA,
            "spec": {"replicas": INT, "template": TEMPLATE, "jobTemplate": {"spec": {"template": TEMPLATE}},
                     "selector": {"matchLabels": MapOf(str)}},
            "status": {"replicas": INT, "updatedReplicas": INT, "readyReplicas": INT, "availableReplicas": INT,
                       "observedGeneration": INT, "numberReady": INT, "desiredNumberScheduled": INT,
                       "updatedNumberScheduled": INT, "numberAvailable": INT, "currentRevision": str,
                       "updateRevision": str}}
TLS_SETTINGS = {"tls": {"mode": str}}
TRAFFIC_POLICY = {"tls": {"mode": str}, "portLevelSettings": ListOf(TLS_SETTINGS)}
DESTINATION_RULE = {"metadata": METADATA, "spec": {"host": str, "trafficPolicy": TRAFFIC_POLICY,
                                                   "subsets": ListOf({"trafficPolicy": TRAFFIC_POLICY})}}
PEER_AUTHENTICATION = {"metadata": METADATA, "spec": {"mtls": {"mode": str}, "selector": {"matchLabels": MapOf(str)},
                                                      "portLevelMtls": MapOf({"mode": str})}}
SERVICE = {"metadata": METADATA, "spec": {"ports": ListOf({"name": str, "appProtocol": str, "port": INT,
                                                           "protocol": str})}}
# What the probe audit reads of a workload: every container's probes and hooks, wherever the pod
# template is (a Pod, a workload's template, a CronJob's job template).
HANDLER = {"httpGet": {"path": str, "port": INT_OR_STR, "host": str, "scheme": str,
                       "httpHeaders": ListOf({"name": str, "value": str})},
           "tcpSocket": {"port": INT_OR_STR, "host": str}, "grpc": {"port": INT, "service": str},
           "exec": {"command": ListOf(str)}}
PROBE = dict(HANDLER, timeoutSeconds=INT, periodSeconds=INT, initialDelaySeconds=INT, failureThreshold=INT,
             successThreshold=INT)
PROBED_CONTAINER = dict(CONTAINER, readinessProbe=PROBE, livenessProbe=PROBE, startupProbe=PROBE,
                        lifecycle={"postStart": HANDLER, "preStop": HANDLER})
PROBED_POD_SPEC = {"hostNetwork": bool, "containers": ListOf(PROBED_CONTAINER),
                   "initContainers": ListOf(PROBED_CONTAINER)}
PROBED_TEMPLATE = {"metadata": METADATA, "spec": PROBED_POD_SPEC}
PROBED_WORKLOAD = {"kind": str, "metadata": METADATA,
                   "spec": dict(PROBED_POD_SPEC, template=PROBED_TEMPLATE,
                                jobTemplate={"spec": {"template": PROBED_TEMPLATE}})}
WEBHOOK_CONFIGURATION = {"metadata": METADATA, "webhooks": ListOf({"name": str, "namespaceSelector": ANY,
                                                                  "objectSelector": ANY})}

# What the routing evaluator (gateway_routing.py) reads of a translation's objects.
STRING_MATCH = {"exact": str, "prefix": str, "regex": str}
ISTIO_MATCH = {"uri": STRING_MATCH, "ignoreUriCase": bool, "headers": MapOf(STRING_MATCH),
               "withoutHeaders": MapOf(STRING_MATCH), "queryParams": MapOf(STRING_MATCH), "method": STRING_MATCH,
               "authority": STRING_MATCH, "scheme": STRING_MATCH, "port": INT, "name": str}
ISTIO_HTTP_ROUTE = {"match": ListOf(ISTIO_MATCH),
                    "route": ListOf({"destination": Required({"host": Required(str), "port": {"number": INT},
                                                              "subset": str}), "weight": INT}),
                    "redirect": {"uri": str, "authority": str, "scheme": str, "port": INT, "redirectCode": INT},
                    "directResponse": {"status": INT}, "name": str}
ISTIO_GATEWAY = {"metadata": METADATA, "spec": {"servers": ListOf({"port": {"number": INT, "protocol": str, "name": str},
                                                                   "hosts": ListOf(str)})}}
VIRTUAL_SERVICE = {"metadata": METADATA, "spec": {"hosts": ListOf(str), "gateways": ListOf(str),
                                                  "http": ListOf(ISTIO_HTTP_ROUTE)}}
API_STRING_MATCH = {"type": str, "name": Required(str), "value": str}
HTTP_ROUTE = {"metadata": METADATA, "spec": {
    "parentRefs": ListOf({"name": str, "namespace": str, "sectionName": str, "port": INT}),
    "hostnames": ListOf(str),
    "rules": ListOf({"matches": ListOf({"path": {"type": str, "value": str}, "headers": ListOf(API_STRING_MATCH),
                                        "queryParams": ListOf(API_STRING_MATCH), "method": str}),
                     "filters": ListOf({"type": str, "requestRedirect": {
                         "scheme": str, "hostname": str, "port": INT, "statusCode": INT,
                         "path": {"type": str, "replaceFullPath": str, "replacePrefixMatch": str}}}),
                     "backendRefs": ListOf({"name": str, "namespace": str, "port": INT, "weight": INT, "kind": str,
                                            "group": str})})}}
API_GATEWAY = {"metadata": METADATA, "spec": {"listeners": ListOf({"name": str, "hostname": str, "port": INT,
                                                                   "protocol": str})}}
