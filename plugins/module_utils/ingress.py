# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ingress (networking.k8s.io/v1) -> Istio Gateway + VirtualService, with routing equivalence.

For every (host, path, headers) a client can send, the generated objects send it to the same
Service and port as the Ingress controller did (ingress-nginx for class nginx, Istio's own
Ingress support for class istio), or a finding says why that cannot be kept. The source
Ingresses are only read. Pure logic, no Ansible imports; the same input gives byte-identical
output.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import gc
import re

from .errors import InputError, too_deep
from .findings import ERROR, INFO, WARNING, Finding, has_errors, sorted_findings
from .ingress_annotations import NGINX, PARTIAL, number as _number, route_options, truthy as _truthy
from .ingress_model import (CATCH_ALL, EVERY_PATH, EXACT, EXACT_PATH, LITERAL, OWNER_LABEL, PREFIX, PREFIX_PATH, REGEX,
                            REGEX_PATH, Destination, FullPathRewrite, PathMatch, RegexRewrite, Route, redirect)
from .ingress_output import emit
from . import nginx_paths
from .names import is_dns1123_label, is_dns1123_subdomain, is_label_value, stable_name
from .owned import stamp
from .regex import RegexError, available as regex_available, compile_re2

CLASS_ANNOTATION = "kubernetes.io/ingress.class"


CERTIFICATE_SOURCES = ("ingress-secrets", "issued", "external")


class Options:
    """How to translate; defaults match a standard Istio ingress gateway install."""

    def __init__(self, ingress_classes=("nginx", "istio"), include_classless=False, gateway_namespace="istio-ingress",
                 gateway_selector=None, gateway_name=None, cluster_domain="cluster.local", output_api="istio",
                 known_secrets=None, classless_controller="nginx",
                 certificates="ingress-secrets", owner=None, gateway_annotations=None):
        self.ingress_classes = tuple(ingress_classes)
        self.include_classless = include_classless
        # Whose semantics a classless Ingress is translated with: the controller that served it.
        self.classless_controller = classless_controller
        self.gateway_namespace = gateway_namespace
        self.gateway_selector = dict(gateway_selector or {"istio": "ingressgateway"})
        self.gateway_name = gateway_name
        self.cluster_domain = cluster_domain
        self.output_api = output_api
        # {(namespace, name)} of Secrets known to exist; None when unknown (offline without them).
        self.known_secrets = known_secrets
        # Where the gateway's certificates come from: the Ingresses' own Secrets (copied into the
        # gateway namespace), `issued` there under the same names (cert-manager, static files), or
        # `external` (TLS ends at a load balancer in front of the gateway: HTTP servers only).
        self.certificates = certificates
        # The value of OWNER_LABEL on every generated object: which gateway's run made it, so that
        # pruning one gateway's leftovers never touches another's (default: the Gateway's name).
        self.owner = owner
        # Extra annotations on the generated Gateways (external-dns's istio-gateway source reads them).
        self.gateway_annotations = dict(gateway_annotations or {})


class Translation:
    def __init__(self):
        self.resources = []
        self.findings = []
        self.not_translated = []
        self.by_ingress = {}
        self.secrets_to_copy = []
        self.credential_secrets = {}  # credentialName -> the Ingress Secret it stands for, `namespace/name`
        self.extension_providers = []  # meshConfig.extensionProviders the CUSTOM policies name
        self.noted = set()  # findings attached to routes once each (ingress_output._note)

    @property
    def has_errors(self):
        return has_errors(self.findings)

    def as_dict(self):
        return {"resources": self.resources, "findings": [f.as_dict() for f in sorted_findings(self.findings)],
                "not_translated": self.not_translated, "ingresses": self.by_ingress, "secrets_to_copy": self.secrets_to_copy,
                "extension_providers": self.extension_providers}


# --- small readers -------------------------------------------------------------------------------


def _certificate_hosts(ingresses, annotations_of, refs, options):
    """The hosts ingress-nginx's Lua holds a certificate for: every rule host of an Ingress with a
    tls section (its Secret's, or the default certificate when no entry names the host), canaries
    and class istio aside (createServers)."""
    hosts = set()
    if options.certificates == "external":
        return hosts
    for ingress in ingresses:
        ref = refs[id(ingress)]
        spec = _as_dict(ingress.get("spec"))
        if (ingress_class(ingress) or options.classless_controller) == "istio" or not _as_list(spec.get("tls")) \
                or _truthy(annotations_of[ref].get(NGINX + "canary")):
            continue
        for rule in _as_list(spec.get("rules")):
            host = _as_dict(rule).get("host")
            if isinstance(host, str) and host and _valid_host(host):
                hosts.add(host)
    return hosts


def _single_backend(route):
    """The Service port of a route that proxies to one backend, as an ingress-nginx location's
    upstream; None for a redirect or a split."""
    if len(route.destinations) != 1 or route.controller != "nginx":
        return None
    destination = route.destinations[0]
    return None if destination.weight not in (None, 100) else destination.upstream


def _descending(text):
    """A sort key that orders strings by their UTF-8 bytes, last first (a longer string before its prefix)."""
    return tuple(-byte for byte in text.encode("utf-8", "surrogatepass")) + (1,)


def _ref(ingress):
    metadata = ingress.get("metadata") if isinstance(ingress, dict) else None
    metadata = metadata if isinstance(metadata, dict) else {}
    return "%s/%s" % (metadata.get("namespace") or "default", metadata.get("name") or "<unnamed>")


def _as_dict(value):
    return value if isinstance(value, dict) else {}


def _as_list(value):
    return value if isinstance(value, list) else []


def ingress_class(ingress):
    spec = _as_dict(ingress.get("spec"))
    if isinstance(spec.get("ingressClassName"), str) and spec["ingressClassName"]:
        return spec["ingressClassName"]
    value = _as_dict(_as_dict(ingress.get("metadata")).get("annotations")).get(CLASS_ANNOTATION)
    return value if isinstance(value, str) and value else None


# What Envoy's RE2 engine does not have (PCRE, which ingress-nginx uses, does): lookaround,
# backreferences, atomic groups, possessive quantifiers, conditionals.
_RE2_UNSUPPORTED = re.compile(r"\(\?[=!]|\(\?<[=!]|\\[1-9]|\(\?>|\(\?\(|[*+?}]\+")


def re2_problem(pattern):
    """Why a regex cannot run in Envoy (RE2), or None. RE2 itself decides when it is installed."""
    if regex_available():
        try:
            compile_re2(pattern)
        except RegexError as error:
            found = _RE2_UNSUPPORTED.search(pattern)
            if found:
                return "{0!r} is PCRE syntax that Envoy's RE2 engine does not support".format(found.group(0))
            return "not a valid regular expression for Envoy's RE2 engine: {0}".format(error)
        return None
    try:
        re.compile(pattern)
    except (re.error, OverflowError, RecursionError) as error:
        return "not a valid regular expression: {0}".format(error)
    found = _RE2_UNSUPPORTED.search(pattern)
    if found:
        return "{0!r} is PCRE syntax that Envoy's RE2 engine does not support".format(found.group(0))
    return None


def _metadata_problem(metadata):
    """Why an Ingress's name or namespace cannot be one the API server accepts, or None."""
    namespace = metadata.get("namespace")
    if namespace is not None and not is_dns1123_label(namespace):
        return "metadata.namespace {0!r} is not a namespace name (a DNS-1123 label)".format(namespace)
    if not is_dns1123_subdomain(metadata.get("name")):
        return "metadata.name {0!r} is not an object name (a DNS-1123 subdomain)".format(metadata.get("name"))
    return None


def _check_options(options):
    """InputError for options that would give objects the API server refuses."""
    checks = (("gateway_namespace", options.gateway_namespace, is_dns1123_label, "a namespace name"),
              ("cluster_domain", options.cluster_domain, is_dns1123_subdomain, "a DNS domain"))
    for field, value, valid, what in checks:
        if not valid(value):
            raise InputError("", "options", field, "{0!r} is not {1}".format(value, what))
    if options.owner is not None and not is_label_value(options.owner):
        raise InputError("", "options", "owner", "{0!r} is not a label value (63 characters at most, "
                         "alphanumerics, '-', '_' and '.')".format(options.owner))
    if options.owner is None and options.gateway_name is not None and not is_label_value(options.gateway_name):
        raise InputError("", "options", "gateway_name", "{0!r} is the owner label's value too and is longer than a "
                         "label value may be (63 characters); give a shorter owner".format(options.gateway_name))
    if options.certificates not in CERTIFICATE_SOURCES:
        raise InputError("", "options", "certificates", "{0!r} is not one of {1}".format(
            options.certificates, ", ".join(CERTIFICATE_SOURCES)))
    if options.gateway_name is not None and not is_dns1123_subdomain(options.gateway_name):
        raise InputError("", "options", "gateway_name", "{0!r} is not an object name".format(options.gateway_name))
    selector = options.gateway_selector
    if not isinstance(selector, dict) or not selector or not all(
            isinstance(k, str) and is_label_value(v) for k, v in selector.items()):
        raise InputError("", "options", "gateway_selector", "{0!r} is not a non-empty map of pod labels".format(selector))
    if options.classless_controller not in ("nginx", "istio"):
        raise InputError("", "options", "classless_controller", "{0!r} is not nginx or istio".format(
            options.classless_controller))
    if options.output_api not in ("istio", "gateway-api"):
        raise InputError("", "options", "output_api", "{0!r} is not istio or gateway-api".format(options.output_api))


def _valid_host(host):
    if host.startswith("*."):
        return is_dns1123_subdomain(host[2:]) and "*" not in host[2:]
    return is_dns1123_subdomain(host)


def upstream_name(namespace, backend):
    """The name ingress-nginx gives a backend's upstream (`$proxy_upstream_name`): `<namespace>-<service>-<port>`,
    the port as the Ingress gives it (number, else name)."""
    service = _as_dict(_as_dict(backend).get("service"))
    port = _as_dict(service.get("port"))
    if port.get("number"):
        return "{0}-{1}-{2}".format(namespace, service.get("name"), port["number"])
    if port.get("name"):
        return "{0}-{1}-{2}".format(namespace, service.get("name"), port["name"])
    return "{0}-INVALID".format(namespace)


def _backend_entry(namespace, path_spec, destination, host, regex):
    """One routed path of an Ingress as the replay needs it: the host (None for defaultBackend), the
    path as written, its type, whether ingress-nginx reads it as a regex, the upstream name, where it goes.
    The backend was checked by `_destination` already: a Service name and a port number or name."""
    service = path_spec["backend"]["service"]
    given = service["port"]
    upstream = "{0}-{1}-{2}".format(namespace, service["name"], given.get("number") or given.get("name"))
    return {"host": host, "path": path_spec.get("path"), "path_type": path_spec.get("pathType"), "regex": regex,
            "upstream": upstream, "service": "{0}.{1}".format(service["name"], namespace), "port": destination.port}


def _server_locations(ingresses, annotations_of, refs, owners, classless_controller):
    """What ingress-nginx's servers are made of: host -> [[path, type, Ingress, is the default `/`]]
    in the order getBackendServers adds them.

    A path is added unless the first location of the same path has the same type (the older one
    stays); the host's `/`, created with the annotations of the host's oldest Ingress (the catch-all
    server `_`, host `*` here, with none), is replaced by the first Prefix `/`. Canaries add none.
    """
    servers = dict((host, [["/", "Prefix", owner, True]]) for host, owner in owners.items())
    for ingress in ingresses:
        ref = refs[id(ingress)]
        if (ingress_class(ingress) or classless_controller) == "istio" or \
                _truthy(annotations_of[ref].get(NGINX + "canary")):
            continue
        for rule in _as_list(_as_dict(ingress.get("spec")).get("rules")):
            host = _as_dict(rule).get("host") or "*"
            if not isinstance(host, str) or (host != "*" and not _valid_host(host)):
                continue  # refused with a finding where the rule is read
            server = servers.setdefault(host, [["/", "Prefix", None, True]])
            for path_spec in _as_list(_as_dict(_as_dict(rule).get("http")).get("paths")):
                path_spec = _as_dict(path_spec)
                path = path_spec.get("path")
                path = "/" if path in (None, "") else path
                path_type = "Exact" if path_spec.get("pathType") == "Exact" else "Prefix"
                if not isinstance(path, str):
                    continue
                first = next((entry for entry in server if entry[0] == path), None)
                if first is None or first[1] != path_type:
                    server.append([path, path_type, ref, False])
                elif first[3]:
                    first[2:] = [ref, False]
    return servers


def _regex_hosts(servers, annotations_of):
    """Hosts whose every path ingress-nginx renders as a case-insensitive regex (`location ~*`): a
    server with one location whose Ingress sets use-regex, or a rewrite-target other than the
    location's path (enforceRegexModifier in nginx.tmpl)."""
    return set(host for host, server in servers.items()
               if any(ref is not None and _own_regex(annotations_of[ref], path) for path, _type, ref, _root in server))


def _app_roots(servers, annotations_of):
    """host -> (app-root, Ingress): nginx.tmpl renders a location's app-root as a server-level
    `if ($uri = /) { return 302 ...; }` ahead of the location, so it redirects `/` whichever location
    would serve it; the first location in nginx's order (longest path first) decides."""
    found = {}
    for host, server in servers.items():
        for path, _type, ref, _root in sorted(server, key=lambda entry: (-len(entry[0]), _descending(entry[0]))):
            value = _valid_app_root(annotations_of[ref].get(NGINX + "app-root")) if ref is not None else None
            if value:
                found[host] = (value, ref)
                break
    return found


def _valid_app_root(value):
    """ingress-nginx takes only a path as app-root and ignores anything else (an absolute URL)."""
    return str(value) if value is not None and re.match(r"/\S*\Z", str(value)) else None


def _own_regex(annotations, path):
    """Whether ingress-nginx keeps a location's path as written (use-regex, or a rewrite-target
    other than the path: needsRewrite) rather than normalizing a Prefix to end in `/`."""
    target = annotations.get(NGINX + "rewrite-target")
    return _truthy(annotations.get(NGINX + "use-regex")) or bool(target and target != path)


def _host_owners(ingresses, annotations_of, refs, classless_controller):
    """host -> the Ingress ingress-nginx creates its server from: the oldest of its own (not a
    canary) with a rule for it. That Ingress's defaultBackend and annotations make the host's
    default `/`."""
    owners = {}
    for ingress in ingresses:
        ref = refs[id(ingress)]
        if (ingress_class(ingress) or classless_controller) == "istio" or _truthy(annotations_of[ref].get(NGINX + "canary")):
            continue
        for rule in _as_list(_as_dict(ingress.get("spec")).get("rules")):
            host = _as_dict(rule).get("host")
            if isinstance(host, str) and host and _valid_host(host):
                owners.setdefault(host, ref)
    return owners


def _path_routes(ingress_cls, annotations, path_spec, ref, field, findings, host_regex=False, exact_paths=()):
    """(category, kind, path, [uri matches]) for one Ingress path, or None with a finding.
    `exact_paths`: the paths of the host's Exact locations."""
    path = path_spec.get("path")
    path_type = path_spec.get("pathType")
    # A path is a regex exactly when its host is in regex mode (_regex_hosts), whatever its own Ingress says.
    use_regex = host_regex
    if path is None or path == "":
        path = "/" if ingress_cls != "istio" else ""
    if not isinstance(path, str):
        findings.append(Finding("ingress", ref, ERROR, "invalid-path", "{0}.path must be a string".format(field)))
        return None
    if path_type not in ("Exact", "Prefix", "ImplementationSpecific", None):
        findings.append(Finding("ingress", ref, ERROR, "invalid-path-type",
                                "{0}.pathType {1!r} is not Exact, Prefix or ImplementationSpecific".format(field, path_type)))
        return None
    if path_type is None:
        findings.append(Finding("ingress", ref, WARNING, "path-type-missing",
                                "{0}: no pathType; treated as ImplementationSpecific of class {1}".format(
                                    field, ingress_cls or "nginx")))
    if path_type == "Exact" and not use_regex:
        if not path.startswith("/"):
            findings.append(Finding("ingress", ref, ERROR, "invalid-path", "{0}.path {1!r} must start with /".format(
                field, path)))
            return None
        return LITERAL, EXACT, path, [PathMatch(EXACT_PATH, path)]
    if ingress_cls == "istio":
        return _istio_class_path(path, path_type)
    if use_regex and path_type == "Exact" and path == "/":
        # buildLocation renders it `~* "^/"`, and the host's default `/` (created with the server)
        # renders the same regex first: nginx never chose it.
        findings.append(Finding("ingress", ref, WARNING, "exact-root-never-matched",
                                "{0}: Exact / on a host whose paths ingress-nginx renders as regexes (use-regex or "
                                "rewrite-target on the host) is `location ~* \"^/\"` after the host's own `/` "
                                "location, so nginx never sent a request to it; the translation leaves it out and "
                                "those requests go where nginx sent them".format(field)))
        return None
    if use_regex:
        problem = re2_problem(path[1:] if path.startswith("^") else path)
        if problem:
            findings.append(Finding("ingress", ref, ERROR, "invalid-regex", "{0}.path {1!r} cannot be a route regex: "
                                    "{2}".format(field, path, problem)))
            return None
        # updateServerLocations runs after the locations are sorted: a Prefix turned `/a/` keeps the
        # place of its path as written. An Exact path keeps its kind: a location of its own.
        location = nginx_paths.Location(path, path_type, True, path in exact_paths, _own_regex(annotations, path))
        return REGEX, EXACT if path_type == "Exact" else PREFIX, path, _uri_matches(location)
    if not path.startswith("/"):
        findings.append(Finding("ingress", ref, ERROR, "invalid-path", "{0}.path {1!r} must start with /".format(
            field, path)))
        return None
    # ingress-nginx reads ImplementationSpecific (and a missing pathType) as Prefix; `/foo/` is
    # rendered `location /foo/` and `= /foo/` (see _slash_redirects), `/foo` per path segment.
    location = nginx_paths.Location(path, path_type)
    return CATCH_ALL if not path.rstrip("/") else LITERAL, PREFIX, location.path if path.rstrip("/") else "/", \
        _uri_matches(location)


def _uri_matches(location):
    """PathMatches for an nginx location: a route regex matches whole paths, nginx's only from the start."""
    kinds = {nginx_paths.EXACT: EXACT_PATH, nginx_paths.PREFIX: PREFIX_PATH}
    return [PathMatch(REGEX_PATH, "(?i)" + value + ".*") if modifier == nginx_paths.REGEX
            else PathMatch(kinds[modifier], value) for modifier, value in location.forms]


def _istio_class_annotations(annotations, ref, findings):
    """Istio's Ingress support reads no ingress-nginx annotation: they are dropped, with a finding."""
    ignored = sorted(k for k in annotations if k.startswith(NGINX))
    if ignored:
        findings.append(Finding("ingress", ref, INFO, "annotations-ignored-by-class",
                                "class istio: Istio's Ingress support ignores {0}, so the translation does too".format(
                                    ", ".join(ignored))))
    return dict((k, v) for k, v in annotations.items() if not k.startswith(NGINX))


def _istio_class_path(path, path_type):
    """A path as istiod's own Ingress support compiles it (pilot/pkg/config/kube/ingress).

    Exact stays exact. Prefix, and an ImplementationSpecific path ending in `/*` or `.*`, is a
    prefix that istiod matches per path segment (`/api/*` takes /api and /api/x, never /apix),
    except `/`, a plain prefix. `""`, `*`, `/*` and `.*` match everything; any other path is exact.
    Routes are ordered by the length of that match string, longest first, exact before prefix at
    equal length, then oldest first; the fifth element is that length.
    """
    if path_type == "Exact":
        return LITERAL, EXACT, path, [PathMatch(EXACT_PATH, path)], len(path)
    if path_type != "Prefix":
        if path in ("", "*", "/*", ".*"):
            return CATCH_ALL, PREFIX, "/", [EVERY_PATH], 0
        if not (path.endswith("/*") or path.endswith(".*")):
            return LITERAL, EXACT, path, [PathMatch(EXACT_PATH, path)], len(path)
        path = path[:-2]
    if path == "/":
        return LITERAL, PREFIX, "/", [PathMatch(PREFIX_PATH, "/")], 1
    trimmed = path[:-1] if path.endswith("/") else path
    return LITERAL, PREFIX, trimmed, [PathMatch(EXACT_PATH, trimmed), PathMatch(PREFIX_PATH, trimmed + "/")], len(path)


class Translator:
    def __init__(self, options=None):
        self.options = options or Options()
        _check_options(self.options)
        self._regex_hosts = set()
        self._app_roots = {}
        self._exact_paths = {}
        self._refs = {}
        self._www_hosts = []
        self.passthrough = {}  # host -> (Destination, source Ingress): TLS passed through on SNI

    # services --------------------------------------------------------------------------------
    def _index_services(self, services):
        index = {}
        for service in services or []:
            metadata = _as_dict(_as_dict(service).get("metadata"))
            namespace = metadata.get("namespace") or "default"
            if is_dns1123_label(metadata.get("name")) and is_dns1123_label(namespace):
                index[(namespace, metadata["name"])] = _as_dict(service.get("spec"))
        return index

    def _destination(self, backend, namespace, ref, where, services, findings):
        """The Destination of an Ingress backend, or None with a finding."""
        backend = _as_dict(backend)
        if backend.get("resource") is not None:
            findings.append(Finding("ingress", ref, ERROR, "resource-backend-unsupported",
                                    "{0}: resource backends cannot be routed by an Istio gateway".format(where)))
            return None
        service = _as_dict(backend.get("service"))
        name = service.get("name")
        port = _as_dict(service.get("port"))
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
            matches = [p for p in _as_list(spec.get("ports")) if _as_dict(p).get("name") == port_name]
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

    # annotations ------------------------------------------------------------------------------
    # the translation ----------------------------------------------------------------------------
    def translate(self, ingresses, services=None):
        # Thousands of Ingresses make many small objects and no reference cycles: the cyclic garbage
        # collector would rescan all of them again and again (translation time would grow faster
        # than the corpus). Off for this call only.
        collecting = gc.isenabled()
        gc.disable()
        try:
            return self._translate(ingresses, services)
        except RecursionError:
            raise too_deep("Ingress", "<input>")
        finally:
            if collecting:
                gc.enable()

    def _translate(self, ingresses, services):
        result = Translation()
        findings = result.findings
        services_index = self._index_services(services)
        selected = []
        refs = self._refs = {}  # id(Ingress) -> its `namespace/name`, worked out once
        for position, ingress in enumerate(ingresses or []):
            ref = refs[id(ingress)] = _ref(ingress)
            if not isinstance(ingress, dict) or not isinstance(ingress.get("metadata"), dict) \
                    or not _as_dict(ingress.get("metadata")).get("name"):
                result.not_translated.append({"ingress": ref, "index": position,
                                              "reason": "not an Ingress object with metadata.name"})
                findings.append(Finding("ingress", ref, ERROR, "invalid-ingress",
                                        "input #{0} is not an Ingress object with metadata.name".format(position)))
                continue
            metadata = ingress["metadata"]
            problem = _metadata_problem(metadata)
            if problem:
                result.not_translated.append({"ingress": ref, "reason": problem, "index": position})
                findings.append(Finding("ingress", ref, ERROR, "invalid-ingress", problem))
                continue
            cls = ingress_class(ingress)
            if cls is None and not self.options.include_classless:
                result.not_translated.append({"ingress": ref, "reason": "no ingress class (include_classless is false)"})
                continue
            if cls is None:
                findings.append(Finding("ingress", ref, INFO, "classless-semantics",
                                        "no ingress class: translated with the semantics of {0} (classless_controller)"
                                        .format(self.options.classless_controller)))
            if cls is not None and cls not in self.options.ingress_classes:
                result.not_translated.append({"ingress": ref, "reason": "class {0!r} is not in {1}".format(
                    cls, list(self.options.ingress_classes))})
                continue
            if not isinstance(ingress.get("spec"), dict):
                findings.append(Finding("ingress", ref, ERROR, "invalid-ingress", "spec is missing or not a mapping"))
                result.not_translated.append({"ingress": ref, "reason": "spec is missing"})
                continue
            selected.append(ingress)
        # Oldest first: conflicts are won by the oldest Ingress, as ingress-nginx does.
        selected.sort(key=self._age_order)
        ages = dict((refs[id(ingress)], age) for age, ingress in enumerate(selected))

        routes = {}  # host -> {key: Route}
        tls_servers = {}  # credentialName -> {"hosts": set, "sources": set, "host_sources": {host: set}}
        policies = {}
        default_route = None
        canaries = []
        annotations_of = {}
        for ingress in selected:
            ref = refs[id(ingress)]
            annotations = dict((k, v) for k, v in _as_dict(_as_dict(ingress["metadata"]).get("annotations")).items()
                               if isinstance(k, str))
            if (ingress_class(ingress) or self.options.classless_controller) == "istio":
                annotations = _istio_class_annotations(annotations, ref, findings)
            annotations_of[ref] = annotations
        self._host_owners = _host_owners(selected, annotations_of, refs, self.options.classless_controller)
        servers = _server_locations(selected, annotations_of, refs, self._host_owners, self.options.classless_controller)
        self._regex_hosts = _regex_hosts(servers, annotations_of)
        self._exact_paths = dict((host, set(entry[0] for entry in server if entry[1] == "Exact"))
                                 for host, server in servers.items())
        self._app_roots = _app_roots(servers, annotations_of)
        self._locations = {}  # host -> the paths in the order ingress-nginx adds their locations
        self._www_hosts = []
        self.passthrough = {}
        self._owner_https = {}  # (Ingress, host) -> whether ingress-nginx redirects the host to HTTPS
        self._certificate_hosts = _certificate_hosts(selected, annotations_of, refs, self.options)
        owned_defaults = {}
        for ingress in selected:
            ref = refs[id(ingress)]
            annotations = annotations_of[ref]
            if _truthy(annotations.get(NGINX + "canary")):
                canaries.append(ingress)
                continue
            produced = self._ingress_routes(ingress, ref, annotations, ages[ref], services_index, findings,
                                            tls_servers, policies, result)
            for route in produced:
                if route.host is None:
                    # ingress-nginx (createServers): the defaultBackend of an Ingress without rules
                    # is the catch-all server's (unknown hosts), the oldest such one wins; with
                    # rules it serves the unmatched paths of the hosts that Ingress is the oldest on.
                    owned_defaults[ref] = route
                    if route.has_rules:
                        continue
                    if default_route is None:
                        default_route = route
                    else:
                        findings.append(Finding("ingress", ref, WARNING, "default-backend-conflict",
                                                "defaultBackend ignored: {0} is older and its defaultBackend serves "
                                                "unknown hosts".format(default_route.source)))
                    continue
                if route.category != REGEX and not route.headers and route.redirect is None:
                    self._locations.setdefault(route.host, []).append(route)
                bucket = routes.setdefault(route.host, {})
                existing = bucket.get(route.key())
                if existing is not None:
                    findings.append(Finding("ingress", ref, WARNING, "route-conflict",
                                            "host {0} path {1!r} is already routed by the older {2}; this rule is "
                                            "ignored".format(route.host, route.path, existing.source),
                                            host=route.host, path=route.path))
                    continue
                bucket[route.key()] = route
        plans = {}
        for ingress in canaries:
            self._apply_canary(ingress, routes, services_index, findings, result, ages, plans)
        # The hosts' own `/` before the canaries' plans: a canary takes them too where they
        # proxy to its stable upstream (a defaultBackend).
        placements = [("*", default_route, default_route.https_redirect if default_route else False)]
        for host, owner in sorted(self._host_owners.items()):
            default = owned_defaults.get(owner)
            if default is not None:
                placements.append((host, default, default.owned_hosts.get(host, False)))
        for host, default, https_redirect in placements:
            if default is None:
                continue
            bucket = routes.setdefault(host, {})
            if (CATCH_ALL, PREFIX, "/", None, None) not in bucket:
                # The default location `/` of the host, which any Ingress's path `/` replaces.
                route = Route(host, CATCH_ALL, PREFIX, "/", [EVERY_PATH], default.destinations, default.source,
                              default.age + len(ages))
                route.https_redirect = https_redirect
                bucket[route.key()] = route
        for host, owner in sorted(self._host_owners.items()):
            if self._owner_https.get((owner, host)) and (CATCH_ALL, PREFIX, "/", None, None) not in routes.get(host, {}):
                # ingress-nginx's default location `/` takes the annotations of the host's oldest
                # Ingress: over HTTP its unmatched paths are redirected to HTTPS, then answered 404.
                route = Route(host, CATCH_ALL, PREFIX, "/", [EVERY_PATH], [], owner, len(ages) + 1)
                route.https_redirect = True
                routes.setdefault(host, {})[route.key()] = route
        self._apply_canary_plans(routes, plans, findings)
        self._app_root_redirects(routes, ages)
        self._www_redirects(routes, findings)
        self._slash_redirects(routes)
        self._duplicate_locations(routes, findings)
        self._hosts_without_certificate(tls_servers, findings, routes)
        self._emit(routes, tls_servers, policies, result)
        result.secrets_to_copy.sort(key=lambda c: (c["source_namespace"], c["source_name"], c["target_name"]))
        return result

    def _ingress_routes(self, ingress, ref, annotations, age, services, findings, tls_servers, policies, result):
        spec = ingress["spec"]
        namespace = _as_dict(ingress["metadata"]).get("namespace") or "default"
        cls = ingress_class(ingress) or self.options.classless_controller
        produced = []
        destinations = set()
        rule_hosts = []
        backends = []  # what ingress-nginx's access log names each backend, for the traffic replay
        for index, rule in enumerate(_as_list(spec.get("rules"))):
            rule = _as_dict(rule)
            field = "spec.rules[{0}]".format(index)
            host = rule.get("host") or "*"
            if not isinstance(host, str) or (host != "*" and not _valid_host(host)):
                findings.append(Finding("ingress", ref, ERROR, "invalid-host",
                                        "{0}.host {1!r} is not a valid host name".format(field, host)))
                continue
            rule_hosts.append(host)
            http = rule.get("http")
            if not isinstance(http, dict):
                findings.append(Finding("ingress", ref, INFO, "rule-without-http",
                                        "{0} for host {1} has no http paths; skipped".format(field, host), host=host))
                continue
            for path_index, path_spec in enumerate(_as_list(http.get("paths"))):
                path_field = "{0}.http.paths[{1}]".format(field, path_index)
                path_spec = _as_dict(path_spec)
                shape = _path_routes(cls, annotations, path_spec, ref, path_field, findings,
                                     host in self._regex_hosts, self._exact_paths.get(host, ()))
                if shape is None:
                    continue
                destination = self._destination(path_spec.get("backend"), namespace, ref, path_field + ".backend",
                                                services, findings)
                if destination is None:
                    continue
                destinations.add(destination)
                backends.append(_backend_entry(namespace, path_spec, destination, host,
                                               host in self._regex_hosts))
                category, kind, path, matches = shape[:4]
                route = Route(host, category, kind, path, matches, [destination], ref, age)
                if len(shape) > 4:
                    route.rank = shape[4]
                produced.append(route)
        default_backend = spec.get("defaultBackend")
        if default_backend is not None and cls == "istio":
            findings.append(Finding("ingress", ref, INFO, "default-backend-ignored",
                                    "spec.defaultBackend is ignored, as Istio's Ingress support ignores it (class istio)"))
        elif default_backend is not None:
            destination = self._destination(default_backend, namespace, ref, "spec.defaultBackend", services, findings)
            if destination is not None:
                destinations.add(destination)
                owned = sorted(h for h, owner in self._host_owners.items() if owner == ref)
                if _as_list(spec.get("rules")):
                    # For the replay: it serves the unmatched paths of the hosts this Ingress is the oldest on.
                    backends.extend(_backend_entry(namespace, {"backend": default_backend, "path": "/",
                                                               "pathType": "Prefix"}, destination, host, False)
                                    for host in owned)
                else:
                    backends.append(_backend_entry(namespace, {"backend": default_backend}, destination, None, False))
                default_route = Route(None, CATCH_ALL, PREFIX, "/", [EVERY_PATH], [destination], ref, age)
                # Per host whether ingress-nginx would redirect its unmatched paths to HTTPS.
                default_route.has_rules = bool(_as_list(spec.get("rules")))
                default_route.owned_hosts = dict((h, False) for h in rule_hosts if h != "*")
                produced.append(default_route)
        has_tls = self._tls(spec, ref, namespace, rule_hosts, findings, tls_servers, result)
        if cls != "istio" and self.options.certificates != "external" and _as_list(spec.get("tls")):
            # ingress-nginx gives every host of an Ingress with a tls section a certificate, its
            # self-signed default one when no entry names a Secret for it (createServers), and so
            # redirects all of them to HTTPS.
            uncovered = sorted(h for h in set(rule_hosts) - has_tls if h != "*")
            if uncovered:
                findings.append(Finding("ingress", ref, ERROR, "default-certificate-only",
                                        "ingress-nginx redirected {0} to HTTPS and served it with its self-signed "
                                        "default certificate (no tls entry names a Secret for it); the gateway has no "
                                        "certificate for it, so HTTPS there would fail: list it in a tls entry with a "
                                        "secretName".format(", ".join(uncovered)), hosts=uncovered))
            has_tls = has_tls | set(uncovered)
        # Lua redirects to HTTPS when it holds a certificate for the host, whichever Ingress gave it.
        has_tls = has_tls | set(h for h in rule_hosts if self._has_certificate(h))
        options = route_options(annotations, ref, findings, policies, sorted(destinations), sorted(set(rule_hosts)),
                                self.options.cluster_domain)
        if cls == "istio":
            options["ssl_redirect"] = False  # Istio's Ingress support serves plain HTTP beside HTTPS
        if self.options.certificates == "external" and (options["force_https"] or spec.get("tls")):
            # Behind a load balancer that ends TLS every request reaches the gateway as plain HTTP:
            # a redirect here would loop. The load balancer redirects instead.
            if options["force_https"] or options["ssl_redirect"]:
                findings.append(Finding("ingress", ref, INFO, "https-redirect-at-load-balancer",
                                        "TLS ends at the external load balancer: configure it to redirect HTTP to "
                                        "HTTPS for {0}, as ingress-nginx did".format(sorted(set(rule_hosts)))))
            options["force_https"] = options["ssl_redirect"] = False
        for host in set(rule_hosts):
            self._owner_https[(ref, host)] = bool(options["force_https"] or (options["ssl_redirect"] and host in has_tls))
        app_root = annotations.get(NGINX + "app-root")
        for route in produced:
            route.controller = cls
            # ingress-nginx redirects hosts it serves with TLS unless told not to, and every host
            # when forced.
            route.https_redirect = options["force_https"] or (options["ssl_redirect"] and route.host in has_tls)
            if route.host is None:
                route.owned_hosts = dict((h, bool(options["force_https"] or (options["ssl_redirect"] and h in has_tls)))
                                         for h in route.owned_hosts)
            route.timeout = options.get("timeout")
            route.cors = options.get("cors")
            route.request_headers = options.get("request_headers")
            route.redirect = options.get("redirect")
            rewrite = options.get("rewrite")
            if rewrite:
                route.rewrite = self._rewrite(rewrite, route)
        # The host's own `/` of a host this Ingress is the oldest on redirects too (placed later).
        redirects = any(r.https_redirect for r in produced) or any(
            self._host_owners.get(h) == ref and self._owner_https.get((ref, h)) for h in set(rule_hosts))
        if redirects and not _truthy(annotations.get(NGINX + "preserve-trailing-slash")):
            findings.append(Finding("ingress", ref, INFO, "https-redirect-keeps-trailing-slash",
                                    "ingress-nginx drops a trailing slash when it redirects to HTTPS (/a/ to /a; "
                                    "{0}preserve-trailing-slash is not \"true\"); the gateway's redirect keeps the path "
                                    "as it is, which Istio and the Gateway API cannot rewrite".format(NGINX)))
        for entry in backends:
            # What ingress-nginx answers itself on this path: the replay tells redirects apart by them.
            entry["https_redirect"] = bool(options["force_https"] or (options["ssl_redirect"] and entry["host"] in has_tls))
            entry["redirect_code"] = options["redirect"].code if options.get("redirect") else None
        if app_root is not None and not _valid_app_root(app_root):
            findings.append(Finding("ingress", ref, WARNING, "app-root-ignored",
                                    "{0}app-root={1!r} is not a path; ingress-nginx ignores it, and so does this "
                                    "translation".format(NGINX, app_root)))
            app_root = None
        if app_root:
            for entry in backends:
                entry["app_root"] = True
        if _truthy(annotations.get(NGINX + "ssl-passthrough")):
            self._passthrough_hosts(produced, rule_hosts, ref, findings)
        if _truthy(annotations.get(NGINX + "from-to-www-redirect")):
            self._www_hosts.extend((host, ref, age) for host in sorted(set(rule_hosts)) if not host.startswith("*"))
        result.by_ingress[ref] = {"class": cls, "hosts": sorted(set(rule_hosts)), "routes": len(produced),
                                  "backends": backends}
        if _truthy(annotations.get(NGINX + "canary")):
            result.by_ingress[ref]["canary"] = True
        return produced

    def _passthrough_hosts(self, produced, rule_hosts, ref, findings):
        """ssl-passthrough: TLS on 443 for the host goes, undecrypted, to the backend of its `/` path."""
        for host in sorted(set(rule_hosts)):
            routed = [r for r in produced if r.host == host and r.destinations]
            root = [r for r in routed if r.path == "/"]
            if not routed:
                continue
            if not root:
                findings.append(Finding("ingress", ref, WARNING, "ssl-passthrough-backend",
                                        "ssl-passthrough on {0}: no `/` path, so TLS goes to the backend of {1!r}, as "
                                        "the first path".format(host, routed[0].path), host=host))
            if host in self.passthrough:
                findings.append(Finding("ingress", ref, WARNING, "ssl-passthrough-conflict",
                                        "ssl-passthrough on {0} is already set by {1}, the older".format(
                                            host, self.passthrough[host][1]), host=host))
                continue
            self.passthrough[host] = ((root or routed)[0].destinations[0], ref)

    def _app_root_redirects(self, routes, ages):
        """app-root: `/` of a host is redirected ahead of any location (_app_roots)."""
        for host, (app_root, source) in sorted(self._app_roots.items()):
            bucket = routes.setdefault(host, {})
            # A canary's header route too: the redirect comes before any location.
            for key in [k for k, r in bucket.items() if r.kind == EXACT and r.path == "/"]:
                del bucket[key]
            route = Route(host, LITERAL, EXACT, "/", [PathMatch(EXACT_PATH, "/")], [], source, ages[source])
            route.redirect = redirect(302, path=app_root)
            bucket[route.key()] = route

    def _www_redirects(self, routes, findings):
        """from-to-www-redirect: the other name (www. added or removed) answers 308 to the Ingress's host.

        As ingress-nginx does, only when no Ingress serves the other name itself.
        """
        for host, ref, age in self._www_hosts:
            other = host[4:] if host.startswith("www.") else "www." + host
            if other in routes:
                findings.append(Finding("ingress", ref, INFO, "www-redirect-skipped",
                                        "from-to-www-redirect: {0} is served by an Ingress, so it does not redirect to "
                                        "{1}".format(other, host), host=other))
                continue
            route = Route(other, CATCH_ALL, PREFIX, "/", [EVERY_PATH], [], ref, age)
            route.redirect = redirect(308, authority=host)
            routes[other] = {route.key(): route}

    def _slash_redirects(self, routes):
        """What nginx answers itself: a request for a location's path less its final `/` gets a 301
        to the location (proxy_pass locations redirect so), unless a location of exactly that path
        exists. ingress-nginx renders Prefix /foo/ so (`location /foo/`, `location = /foo/`), and an
        Exact path ending in `/` as written. Hosts in regex mode have only regex locations, which
        never redirect so.
        """
        for host, bucket in routes.items():
            if host in self._regex_hosts:
                continue
            names = {}
            for route in sorted(bucket.values(), key=lambda r: r.age):
                if route.category != LITERAL or route.headers or route.redirect is not None or route.controller != "nginx":
                    continue
                paths = [route.path]
                if route.kind == PREFIX and not route.path.endswith("/"):
                    paths.append(route.path + "/")
                for path in paths:
                    names.setdefault(path, route)
            for name, route in sorted(names.items()):
                short = name[:-1]
                if not name.endswith("/") or not short or short in names:
                    continue
                slash = Route(host, LITERAL, EXACT, short, [PathMatch(EXACT_PATH, short)], [], route.source, route.age)
                slash.redirect = redirect(301, path=name)
                bucket.setdefault(slash.key(), slash)

    def _duplicate_locations(self, routes, findings):
        """Ingress sets nginx refuses: ingress-nginx renders a location twice (nginx.conf does not
        load, so ingress-nginx keeps its previous configuration and its admission webhook refuses
        the Ingress that would cause it).

        As getBackendServers (internal/ingress/controller/controller.go) adds locations: a path is
        added unless the first location of the same path has the same type (then the older one
        stays, or replaces the default `/`); then Prefix /a and /a/ both become `location /a/`
        (updateServerLocations). So Prefix /a beside Prefix /a/, or one path twice after the same
        path of another type (Exact / twice: the default `/` comes first), is refused.
        """
        for host in sorted(self._locations):
            if host in self._regex_hosts:
                continue
            added = [("/", PREFIX, None)]
            for route in self._locations[host]:
                if route.controller != "nginx":
                    continue
                first = next((entry for entry in added if entry[0] == route.path), None)
                if first is None or first[1] != route.kind:
                    added.append((route.path, route.kind, route))
            exact = set(path for path, kind, _route in added if kind == EXACT)
            rendered = {}
            for path, kind, route in added:
                if kind == EXACT:
                    names = [("=", path)]
                elif path == "/":
                    names = [("", "/")]
                else:
                    names = [("", path if path.endswith("/") else path + "/")]
                    if path not in exact:
                        names.append(("=", path))
                for name in names:
                    older = rendered.setdefault(name, route)
                    if older is route or route is None:
                        continue
                    findings.append(Finding(
                        "ingress", route.source, ERROR, "duplicate-nginx-location",
                        "host {0} path {1!r}: ingress-nginx renders `location {2}` twice ({3}), so nginx refuses "
                        "the configuration; this set of Ingresses never ran on ingress-nginx as written".format(
                            host, route.path, " ".join(n for n in name if n),
                            "also from {0}".format(older.source) if older is not None else "beside the default /"),
                        host=host, path=route.path))

    def _age_order(self, ingress):
        metadata = _as_dict(ingress["metadata"])
        created = str(metadata.get("creationTimestamp") or "")
        if (ingress_class(ingress) or self.options.classless_controller) == "istio":
            # istiod breaks ties of creation time by name, then namespace.
            return (created, str(metadata.get("name")), str(metadata.get("namespace") or "default"))
        # ingress-nginx (sortIngressSlice, internal/ingress/controller/store/store.go) breaks ties of
        # creation time by namespace/name in descending byte order.
        return (created, _descending(self._refs.get(id(ingress)) or _ref(ingress)))

    @staticmethod
    def _rewrite(rewrite, route):
        mode, target = rewrite
        if mode == "regex" and route.category == REGEX:
            pattern = route.matches[0].value
            flags = "(?i)" if pattern.startswith("(?i)") else ""
            anchored = flags + "^" + pattern[len(flags):] + "$"
            try:
                groups = re.compile(anchored).groups
            except re.error:
                groups = 9  # RE2 syntax Python lacks; the pattern was checked by re2_problem already

            def capture(match):
                # nginx substitutes an empty string for a group the regex does not have.
                number = int(match.group(1))
                return "\\" + str(number) if number <= groups else ""

            return RegexRewrite(anchored, re.sub(r"\$(\d)", capture, target))
        # nginx replaces the whole path when the location matches.
        return FullPathRewrite(target)

    def _has_certificate(self, host):
        """Lua's lookup: the host's name, else its name with the first label as `*`."""
        if host in self._certificate_hosts:
            return True
        return "." in host and "*." + host.split(".", 1)[1] in self._certificate_hosts

    def _hosts_without_certificate(self, tls_servers, findings, routes):
        """ingress-nginx answers HTTPS for every host, with its default certificate where no tls
        entry names one; the gateway serves such a host over plain HTTP only."""
        if self.options.certificates == "external":
            return  # the load balancer ends TLS for every host, as before
        covered = set()
        for server in tls_servers.values():
            covered.update(server["hosts"])
        missing = {}
        for host, owner in sorted(self._host_owners.items()):
            wildcard = "*." + host.split(".", 1)[1] if "." in host else None
            if host in covered or wildcard in covered or host in self.passthrough:
                continue
            missing.setdefault(owner, []).append(host)
        catch_all = [r for r in routes.get("*", {}).values() if r.controller == "nginx"]
        if catch_all and "*" not in covered:
            # The catch-all server `_` (host-less rules, a rule-less Ingress's defaultBackend).
            owner = min(catch_all, key=lambda r: r.age).source
            findings.append(Finding("ingress", owner, WARNING, "https-default-certificate",
                                    "ingress-nginx also answered HTTPS for hosts no rule names (its catch-all "
                                    "server, with its default certificate); the gateway serves them over plain HTTP "
                                    "only", host="*"))
        for owner, hosts in sorted(missing.items()):
            findings.append(Finding("ingress", owner, WARNING, "https-default-certificate",
                                    "ingress-nginx also answered HTTPS for {0} with its default certificate "
                                    "(self-signed unless the controller runs with --default-ssl-certificate, so only "
                                    "clients that skip verification were served); the gateway serves it over plain "
                                    "HTTP only: add a tls entry with a secretName to keep HTTPS".format(", ".join(hosts)),
                                    hosts=hosts))

    def _tls(self, spec, ref, namespace, rule_hosts, findings, tls_servers, result):
        """Register HTTPS servers for the Ingress's tls entries; returns the hosts with TLS."""
        covered = set()
        if self.options.certificates == "external":
            if _as_list(spec.get("tls")):
                findings.append(Finding("ingress", ref, INFO, "tls-at-load-balancer",
                                        "spec.tls is served by the external load balancer (certificates: external); "
                                        "the gateway gets HTTP servers only"))
            return covered
        for index, entry in enumerate(_as_list(spec.get("tls"))):
            entry = _as_dict(entry)
            field = "spec.tls[{0}]".format(index)
            hosts = [h for h in _as_list(entry.get("hosts")) if isinstance(h, str)]
            if not hosts:
                hosts = sorted(set(rule_hosts))
                findings.append(Finding("ingress", ref, WARNING, "tls-without-hosts",
                                        "{0} lists no hosts; its certificate is served for the rule hosts {1}".format(
                                            field, hosts)))
            secret = entry.get("secretName")
            if not isinstance(secret, str) or not secret:
                findings.append(Finding("ingress", ref, WARNING, "tls-without-secret",
                                        "{0} has no secretName; no HTTPS server for {1} (ingress-nginx would serve its "
                                        "default certificate)".format(field, hosts)))
                continue
            bad = [h for h in hosts if h != "*" and not _valid_host(h)]
            if bad:
                findings.append(Finding("ingress", ref, ERROR, "invalid-host",
                                        "{0}.hosts has invalid host names {1}".format(field, bad)))
                hosts = [h for h in hosts if h not in bad]
            issued = self.options.certificates == "issued"
            known = self.options.known_secrets
            if not issued and known is not None and (namespace, secret) not in known:
                findings.append(Finding("ingress", ref, ERROR, "secret-not-found",
                                        "{0}: Secret {1}/{2} does not exist; HTTPS for {3} would fail".format(
                                            field, namespace, secret, hosts)))
                continue
            if namespace == self.options.gateway_namespace:
                credential = secret
            else:
                credential = stable_name("{0}-{1}".format(namespace, secret), exact="{0}/{1}".format(namespace, secret),
                                         max_length=253)
            if namespace != self.options.gateway_namespace and not issued:
                copy = {"source_namespace": namespace, "source_name": secret,
                        "target_namespace": self.options.gateway_namespace, "target_name": credential}
                if copy not in result.secrets_to_copy:
                    result.secrets_to_copy.append(copy)
                    findings.append(Finding("ingress", ref, INFO, "secret-copy-needed",
                                            "Secret {0}/{1} must be copied to {2}/{3}: the gateway reads certificates "
                                            "from its own namespace".format(
                                                namespace, secret, self.options.gateway_namespace, credential)))
            result.credential_secrets[credential] = "{0}/{1}".format(namespace, secret)
            server = tls_servers.setdefault(credential, {"hosts": set(), "sources": set(), "host_sources": {}})
            server["hosts"].update(hosts)
            server["sources"].add(ref)
            for host in hosts:
                server["host_sources"].setdefault(host, set()).add(ref)
            covered.update(hosts)
        return covered

    def _apply_canary(self, ingress, routes, services, findings, result, ages, plans):
        ref = _ref(ingress)
        annotations = _as_dict(_as_dict(ingress["metadata"]).get("annotations"))
        for key in ("canary-by-cookie", "canary-by-header-pattern"):
            if annotations.get(NGINX + key):
                # The requests it steered would reach the stable backend instead: an error (the spec).
                findings.append(Finding("ingress", ref, ERROR, "canary-not-translated",
                                        "{0}{1}: {2}; requests it sent to the canary would reach the stable "
                                        "backend".format(NGINX, key, PARTIAL[key])))
        scratch = []
        canary_routes = self._ingress_routes(ingress, ref, annotations, len(ages) + 1, services, scratch, {}, {},
                                             result)
        # ingress-nginx merges a canary into the stable location: the canary's own TLS, redirects and
        # unsupported annotations do not apply, so their findings do not either.
        findings.extend(f for f in scratch if f.code not in ("unsupported-annotation", "annotation-not-translated",
                                                             "tls-without-hosts", "tls-without-secret",
                                                             "https-redirect-keeps-trailing-slash"))
        weight = self._canary_number(annotations, "canary-weight", ref, findings)
        # balancer.lua draws out of weightTotal only when it is above 100, else out of 100.
        total = max(100, self._canary_number(annotations, "canary-weight-total", ref, findings) or 100)
        if weight is not None and 100.0 * min(weight, total) / total != int(round(100.0 * min(weight, total) / total)):
            findings.append(Finding("ingress", ref, INFO, "canary-weight-rounded", "canary weight {0}/{1} rounded to "
                                    "{2}%".format(weight, total, int(round(100.0 * min(weight, total) / total)))))
        if weight is not None and weight > total:
            findings.append(Finding("ingress", ref, WARNING, "canary-weight-invalid",
                                    "canary-weight {0} is above canary-weight-total {1}: every request goes to the "
                                    "canary, as ingress-nginx does".format(weight, total)))
        header = annotations.get(NGINX + "canary-by-header")
        header_value = annotations.get(NGINX + "canary-by-header-value")
        if weight is None and not header:
            findings.append(Finding("ingress", ref, WARNING, "canary-without-rule",
                                    "canary Ingress without canary-weight or canary-by-header sends no traffic"))
            return
        for canary in canary_routes:
            stable = routes.get(canary.host or "*", {}).get(canary.key())
            if stable is None:
                findings.append(Finding("ingress", ref, ERROR, "canary-without-stable",
                                        "canary for host {0} path {1!r} has no stable Ingress with the same host and "
                                        "path".format(canary.host, canary.path), host=canary.host, path=canary.path))
                continue
            if not canary.destinations or not stable.destinations:
                # One side answers with a redirect (app-root, permanent-redirect...): there is no
                # backend traffic to split or steer, and the stable route stays as it is.
                findings.append(Finding("ingress", ref, WARNING, "canary-over-redirect",
                                        "the {0} route for host {1} path {2!r} is a redirect, so the canary receives no "
                                        "traffic there".format("canary" if not canary.destinations else "stable",
                                                               canary.host, canary.path),
                                        host=canary.host, path=canary.path))
                continue
            upstream = _single_backend(stable)
            if upstream is None:
                continue
            stable.extra_sources.append(ref)
            # ingress-nginx attaches a canary to the stable location's upstream (the Service port),
            # and balancer.lua consults only its first one: the first canary on an upstream decides.
            plan = plans.setdefault(upstream, (ref, header, header_value, weight, total, canary.destinations, set()))
            if plan[0] == ref:
                plan[6].add((stable.host, stable.key()))
            else:
                findings.append(Finding("ingress", ref, WARNING, "canary-shadowed",
                                        "host {0} path {1!r} proxies to {2}:{3}, which the older canary {4} already "
                                        "takes: ingress-nginx uses only the first canary of a Service port, so this "
                                        "one got no traffic there, nor does it after the translation".format(
                                            stable.host, stable.path, upstream[0], upstream[2], plan[0]),
                                        host=stable.host, path=stable.path))

    def _apply_canary_plans(self, routes, plans, findings):
        """Every location whose upstream carries a canary takes it, on any host (balancer.lua
        looks at the upstream, not the host or path the canary Ingress named)."""
        for host in sorted(routes, key=str):
            for stable in sorted(routes[host].values(), key=lambda r: r.sort_key()):
                upstream = _single_backend(stable)
                if upstream is None or stable.headers is not None or upstream not in plans:
                    continue
                ref, header, header_value, weight, total, destinations, own = plans[upstream]
                if (stable.host, stable.key()) not in own:
                    if ref not in stable.extra_sources:
                        stable.extra_sources.append(ref)
                    message = ("ingress-nginx gives a canary to every location of its stable Service port {0}:{1}, so it "
                               "also takes traffic of host {2} path {3!r} ({4}); the translation keeps that".format(
                                   upstream[0], upstream[2], stable.host, stable.path, stable.source))
                    findings.append(Finding("ingress", ref, INFO, "canary-shared-backend", message,
                                            host=stable.host, path=stable.path))
                self._canary_routes(routes, stable, ref, header, header_value, weight, total, destinations)

    @staticmethod
    def _canary_routes(routes, stable, ref, header, header_value, weight, total, destinations):
        if header:
            steered = [(str(header_value) if header_value else "always", destinations)]
            if not header_value and weight is not None:
                # ingress-nginx: `never` sends to the stable backend, whatever the weight says.
                steered.append(("never", list(stable.destinations)))
            for value, targets in steered:
                route = Route(stable.host, stable.category, stable.kind, stable.path, stable.matches,
                              targets, ref, stable.age)
                route.headers = (str(header), value)
                route.controller = stable.controller
                for attribute in ("rewrite", "timeout", "cors", "request_headers", "redirect", "https_redirect", "rank",
                                  "made"):
                    setattr(route, attribute, getattr(stable, attribute))
                routes[stable.host][route.key()] = route
        if weight is not None:
            canary_share = min(weight, total)
            base = [d for d in stable.destinations if d.weight is None or d.weight > 0]
            percent_canary = int(round(100.0 * canary_share / total))
            stable.destinations = ([base[0]._replace(weight=100 - percent_canary)] if base else []) + [
                destinations[0]._replace(weight=percent_canary)]

    @staticmethod
    def _canary_number(annotations, key, ref, findings):
        raw = annotations.get(NGINX + key)
        if raw is None:
            return None
        number = _number(raw)
        if number is None:
            findings.append(Finding("ingress", ref, ERROR, "invalid-annotation",
                                    "{0}{1}={2!r} is not a whole number from 0 to 999999999".format(
                                        NGINX, key, raw if len(str(raw)) < 40 else str(raw)[:40] + "...")))
        return number

    # output ------------------------------------------------------------------------------------
    def gateway_name(self):
        if self.options.gateway_name:
            return self.options.gateway_name
        selector = ",".join("{0}={1}".format(k, v) for k, v in sorted(self.options.gateway_selector.items()))
        return stable_name("ingress-" + selector, exact="{0}|{1}".format(self.options.gateway_namespace, selector))

    def owner(self):
        return self.options.owner or self.gateway_name()

    def _emit(self, routes, tls_servers, policies, result):
        emit(self.options, self.gateway_name(), routes, tls_servers, policies, self.passthrough, result)
        owner = self.owner()
        for resource in result.resources:
            resource["metadata"]["labels"][OWNER_LABEL] = owner
            stamp(resource)
            if resource["kind"] == "Gateway":
                resource["metadata"]["annotations"].update(self.options.gateway_annotations)
        result.findings = sorted_findings(result.findings)


def translate(ingresses, services=None, **options):
    """Translate Ingresses with Translator(Options(**options)); returns a Translation."""
    return Translator(Options(**options)).translate(ingresses, services)
