# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ingress (networking.k8s.io/v1) -> Istio Gateway + VirtualService (or the Gateway API), with
routing equivalence.

For every (host, path, headers) a client can send, the generated objects send it to the same
Service and port as the Ingress controller did (ingress-nginx for class nginx, Istio's own
Ingress support for class istio), or a finding says why that cannot be kept. The source
Ingresses are only read. Pure logic, no Ansible imports; the same input gives byte-identical
output.

The translation is source -> model -> emitter. This module orchestrates one run: it selects the
Ingresses, asks the source of their class for routes (ingress_nginx.py with ingress_canary.py and
the annotation handlers of ingress_annotations.py; ingress_istio_class.py), holds the run's
context (Run), and hands the route model (ingress_model.py) to the emitter of the output API
(ingress_output.py).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import gc

from . import ingress_canary, ingress_nginx, ingress_tls
from .errors import InputError, too_deep
from .findings import ERROR, INFO, WARNING, Finding, has_errors, sorted_findings
from .ingress_annotation_decisions import coverage
from .ingress_annotations import NGINX, truthy as _truthy
from .ingress_backends import index_services
from .ingress_input import CLASS_ANNOTATION, as_dict as _as_dict, ingress_class, re2_problem, ref_of as _ref
from .ingress_model import CATCH_ALL, EVERY_PATH, OWNER_LABEL, PREFIX, REGEX, Route
from .ingress_output import emit
from .ingress_routes import RouteReader, source_of, sources
from .names import is_dns1123_label, is_dns1123_subdomain, is_label_value, stable_name
from .owned import stamp

# What other modules and the tests read from here (CLASS_ANNOTATION, ingress_class and
# re2_problem have their home in ingress_input.py).
__all__ = ["CLASS_ANNOTATION", "CERTIFICATE_SOURCES", "Options", "Translation", "Translator", "ingress_class", "re2_problem",
           "translate"]
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
        self.annotations = {}  # ingress-nginx annotation -> how many Ingresses set it, what became of it
        self.noted = set()  # findings attached to routes once each (ingress_output._note)

    @property
    def has_errors(self):
        return has_errors(self.findings)

    def as_dict(self):
        return {"resources": self.resources, "findings": [f.as_dict() for f in sorted_findings(self.findings)],
                "not_translated": self.not_translated, "ingresses": self.by_ingress, "secrets_to_copy": self.secrets_to_copy,
                "extension_providers": self.extension_providers, "annotations": self.annotations}


# --- checks of the input and the options ---------------------------------------------------------

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


class Run:
    """The context of one translation: what the sources learn about the whole set of Ingresses
    before and while they make routes (hosts' owners and regex mode, app-roots, locations, TLS)."""

    def __init__(self, options):
        self.options = options
        self.refs = {}  # id(Ingress) -> its `namespace/name`, worked out once
        self.host_owners = {}
        self.regex_hosts = set()
        self.exact_paths = {}
        self.app_roots = {}
        self.locations = {}  # host -> the paths in the order ingress-nginx adds their locations
        self.www_hosts = []
        self.alias_hosts = set()  # server-alias names: the host's server answers them (ingress_nginx.with_server_aliases)
        self.passthrough = {}  # host -> (Destination, source Ingress): TLS passed through on SNI
        self.owner_https = {}  # (Ingress, host) -> whether ingress-nginx redirects the host to HTTPS
        self.certificate_hosts = set()
        self.ingress_routes = None  # the routes of one Ingress: (ingress, ref, annotations, age, ...)
        # For the server passes (SERVER_PASSES of each source), once every Ingress is read:
        self.ages = {}  # Ingress -> its place, oldest first
        self.findings = []
        self.tls_servers = {}
        self.selected = []  # the Ingresses translated, oldest first
        self.annotations_of = {}  # ref -> the annotations its source reads
        self.result = None  # the Translation being made

    def age_order(self, ingress):
        metadata = _as_dict(ingress["metadata"])
        created = str(metadata.get("creationTimestamp") or "")
        source = source_of(ingress_class(ingress) or self.options.classless_controller)
        return source.age_key(created, metadata, self.refs.get(id(ingress)) or _ref(ingress))


class Translator:
    def __init__(self, options=None):
        self.options = options or Options()
        _check_options(self.options)
        self.reader = RouteReader(self.options)
        self.passthrough = {}  # of the last run: host -> (Destination, source Ingress)

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
        run = Run(self.options)
        services_index = index_services(services)
        run.ingress_routes = lambda *args: self.reader.routes(run, *args)
        selected = self._select(run, ingresses, result)
        # Oldest first: conflicts are won by the oldest Ingress, as ingress-nginx does.
        selected.sort(key=run.age_order)
        selected = ingress_nginx.with_server_aliases(run, selected, result.findings)
        ages = dict((run.refs[id(ingress)], age) for age, ingress in enumerate(selected))
        annotations_of = self._annotations(run, selected, result.findings)
        self._learn(run, selected, annotations_of)
        tls_servers = {}  # credentialName -> {"hosts": set, "sources": set, "host_sources": {host: set}}
        policies = {}
        routes, defaults, canaries = self._collect(run, selected, annotations_of, ages, services_index, tls_servers,
                                                   policies, result)
        plans = {}
        for ingress in canaries:
            ingress_canary.apply_canary(run, ingress, routes, services_index, result.findings, result, ages, plans)
        # The hosts' own `/` before the canaries' plans: a canary takes them too where they
        # proxy to its stable upstream (a defaultBackend).
        self._place_defaults(run, routes, defaults, ages)
        ingress_canary.apply_canary_plans(run, routes, plans, result.findings)
        run.ages, run.findings, run.tls_servers = ages, result.findings, tls_servers
        run.selected, run.annotations_of, run.result = selected, annotations_of, result
        for source in sources():
            for server_pass in source.SERVER_PASSES:
                server_pass(run, routes)
        self.passthrough = run.passthrough
        self._emit(routes, tls_servers, policies, result)
        result.annotations = coverage([(run.refs[id(ingress)], _as_dict(_as_dict(ingress["metadata"]).get("annotations")))
                                       for ingress in selected], result.findings, self.options.output_api)
        result.secrets_to_copy.sort(key=lambda c: (c["source_namespace"], c["source_name"], c["target_name"]))
        return result

    def _select(self, run, ingresses, result):
        """The Ingresses to translate; every other one is in `not_translated` with the reason."""
        findings = result.findings
        selected = []
        for position, ingress in enumerate(ingresses or []):
            ref = run.refs[id(ingress)] = _ref(ingress)
            if not isinstance(ingress, dict) or not isinstance(ingress.get("metadata"), dict) \
                    or not _as_dict(ingress.get("metadata")).get("name"):
                result.not_translated.append({"ingress": ref, "index": position,
                                              "reason": "not an Ingress object with metadata.name"})
                findings.append(Finding("ingress", ref, ERROR, "invalid-ingress",
                                        "input #{0} is not an Ingress object with metadata.name".format(position)))
                continue
            problem = _metadata_problem(ingress["metadata"])
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
        return selected

    def _annotations(self, run, selected, findings):
        """ref -> the annotations each Ingress's source reads (class istio reads none of ingress-nginx's)."""
        annotations_of = {}
        for ingress in selected:
            ref = run.refs[id(ingress)]
            annotations = dict((k, v) for k, v in _as_dict(_as_dict(ingress["metadata"]).get("annotations")).items()
                               if isinstance(k, str))
            source = source_of(ingress_class(ingress) or self.options.classless_controller)
            annotations_of[ref] = source.annotations_read(annotations, ref, findings)
        return annotations_of

    def _learn(self, run, selected, annotations_of):
        """What ingress-nginx makes of the whole set before any route: hosts' owners, servers, regex mode."""
        classless = self.options.classless_controller
        run.host_owners = ingress_nginx.host_owners(selected, annotations_of, run.refs, classless)
        servers = ingress_nginx.server_locations(selected, annotations_of, run.refs, run.host_owners, classless)
        run.regex_hosts = ingress_nginx.regex_hosts(servers, annotations_of)
        run.exact_paths = dict((host, set(entry[0] for entry in server if entry[1] == "Exact"))
                               for host, server in servers.items())
        run.app_roots = ingress_nginx.app_roots(servers, annotations_of)
        # An alias has the host's certificate only when it covers the alias, which is not known
        # here (with_server_aliases): it is left without, as when it does not.
        run.certificate_hosts = ingress_tls.certificate_hosts(selected, annotations_of, run.refs,
                                                              self.options) - run.alias_hosts

    def _collect(self, run, selected, annotations_of, ages, services_index, tls_servers, policies, result):
        """({host: {key: Route}}, (the catch-all default, {Ingress: its default route}), canary Ingresses)."""
        findings = result.findings
        routes, owned_defaults, canaries = {}, {}, []
        default_route = None
        for ingress in selected:
            ref = run.refs[id(ingress)]
            annotations = annotations_of[ref]
            if _truthy(annotations.get(NGINX + "canary")):
                canaries.append(ingress)
                continue
            for route in self.reader.routes(run, ingress, ref, annotations, ages[ref], services_index, findings,
                                            tls_servers, policies, result):
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
                self._add_route(run, routes, route, findings)
        return routes, (default_route, owned_defaults), canaries

    @staticmethod
    def _add_route(run, routes, route, findings):
        if route.category != REGEX and not route.headers and route.redirect is None:
            run.locations.setdefault(route.host, []).append(route)
        bucket = routes.setdefault(route.host, {})
        existing = bucket.get(route.key())
        if existing is not None:
            findings.append(Finding("ingress", route.source, WARNING, "route-conflict",
                                    "host {0} path {1!r} is already routed by the older {2}; this rule is "
                                    "ignored".format(route.host, route.path, existing.source),
                                    host=route.host, path=route.path))
            return
        bucket[route.key()] = route

    @staticmethod
    def _place_defaults(run, routes, defaults, ages):
        """The default location `/` of each host, which any Ingress's path `/` replaces."""
        default_route, owned_defaults = defaults
        placements = [("*", default_route, default_route.https_redirect if default_route else False, None)]
        for host, owner in sorted(run.host_owners.items()):
            default = owned_defaults.get(owner)
            if default is not None:
                # The host's `/` location has the annotations of its oldest Ingress, its rewrite-target
                # too (the catch-all server's has none).
                placements.append((host, default, default.owned_hosts.get(host, False), default.rewrite))
        for host, default, https_redirect, rewrite in placements:
            if default is None:
                continue
            bucket = routes.setdefault(host, {})
            if (CATCH_ALL, PREFIX, "/", None, None) not in bucket:
                route = Route(host, CATCH_ALL, PREFIX, "/", [EVERY_PATH], default.destinations, default.source,
                              default.age + len(ages))
                route.https_redirect = https_redirect
                route.rewrite = rewrite
                bucket[route.key()] = route
        for host, owner in sorted(run.host_owners.items()):
            if run.owner_https.get((owner, host)) and (CATCH_ALL, PREFIX, "/", None, None) not in routes.get(host, {}):
                # ingress-nginx's default location `/` takes the annotations of the host's oldest
                # Ingress: over HTTP its unmatched paths are redirected to HTTPS, then answered 404.
                route = Route(host, CATCH_ALL, PREFIX, "/", [EVERY_PATH], [], owner, len(ages) + 1)
                route.https_redirect = True
                routes.setdefault(host, {})[route.key()] = route

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
