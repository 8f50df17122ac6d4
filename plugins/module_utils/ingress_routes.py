# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The routes of one Ingress: its rules and paths (each path through its class's source,
ingress_nginx.path_route or ingress_istio_class.path_route), its defaultBackend, the hosts it
serves over HTTPS, and the intents its annotations give every route (ingress_annotations.py).
No Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from . import ingress_istio_class, ingress_nginx, ingress_tls
from .findings import ERROR, INFO, WARNING, Finding
from .ingress_annotations import NGINX, route_options, truthy as _truthy
from .ingress_backends import backend_entry, destination as _destination
from .ingress_input import as_dict as _as_dict, as_list as _as_list, ingress_class, valid_host as _valid_host
from .ingress_model import CATCH_ALL, EVERY_PATH, EXACT, EXACT_PATH, LITERAL, PREFIX, PathMatch, Route


def sources():
    """Every source, in the order their server passes run."""
    return (ingress_nginx, ingress_istio_class)


def source_of(cls):
    """The source whose semantics an Ingress of class `cls` has: Istio's for istio, else ingress-nginx's."""
    return ingress_istio_class if cls == ingress_istio_class.NAME else ingress_nginx


def _path_routes(made, annotations, path_spec, field, findings, host_regex=False, exact_paths=()):
    """(category, kind, path, [PathMatch], rank or None) for one Ingress path, or None with a
    finding. `exact_paths`: the paths of the host's Exact locations."""
    source, ref = made.source, made.ref
    path = path_spec.get("path")
    path_type = path_spec.get("pathType")
    # A path is a regex exactly when its host is in regex mode (regex_hosts), whatever its own Ingress says.
    use_regex = host_regex
    if path is None or path == "":
        path = source.EMPTY_PATH
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
                                    field, made.cls)))
    if path_type == "Exact" and not use_regex:
        if not path.startswith("/"):
            findings.append(Finding("ingress", ref, ERROR, "invalid-path", "{0}.path {1!r} must start with /".format(
                field, path)))
            return None
        return LITERAL, EXACT, path, [PathMatch(EXACT_PATH, path)], None
    return source.path_route(annotations, path, path_type, ref, field, findings, use_regex, exact_paths)


class IngressRoutes:
    """What one Ingress gave: its routes, the Destinations they use, its rule hosts, and what
    ingress-nginx's access log names each backend (for the traffic replay)."""

    def __init__(self, ingress, ref, cls, age):
        self.ingress = ingress
        self.ref = ref
        self.cls = cls
        self.source = source_of(cls)
        self.age = age
        self.namespace = _as_dict(ingress["metadata"]).get("namespace") or "default"
        self.spec = ingress["spec"]
        self.routes = []
        self.destinations = set()
        self.rule_hosts = []
        self.backends = []


class RouteReader:
    """Reads one Ingress at a time into routes, with the run's context (ingress.Run)."""

    def __init__(self, options):
        self.options = options

    def routes(self, run, ingress, ref, annotations, age, services, findings, tls_servers, policies, result):
        """The routes of one Ingress (its defaultBackend's with host None), in the model."""
        made = IngressRoutes(ingress, ref, ingress_class(ingress) or self.options.classless_controller, age)
        self._rule_routes(run, made, annotations, services, findings)
        self._default_backend_route(run, made, services, findings)
        has_tls = self._https_hosts(run, made, findings, tls_servers, result)
        options = route_options(annotations, ref, findings, policies, sorted(made.destinations),
                                sorted(set(made.rule_hosts)), self.options.cluster_domain)
        self._redirect_options(run, made, options, has_tls, findings)
        self._apply_options(made, options, has_tls)
        self._nginx_side_effects(run, made, annotations, options, findings)
        result.by_ingress[ref] = {"class": made.cls, "hosts": sorted(set(made.rule_hosts)), "routes": len(made.routes),
                                  "backends": made.backends}
        if _truthy(annotations.get(NGINX + "canary")):
            result.by_ingress[ref]["canary"] = True
        return made.routes

    @staticmethod
    def _rule_routes(run, made, annotations, services, findings):
        ref = made.ref
        for index, rule in enumerate(_as_list(made.spec.get("rules"))):
            rule = _as_dict(rule)
            field = "spec.rules[{0}]".format(index)
            host = rule.get("host") or "*"
            if not isinstance(host, str) or (host != "*" and not _valid_host(host)):
                findings.append(Finding("ingress", ref, ERROR, "invalid-host",
                                        "{0}.host {1!r} is not a valid host name".format(field, host)))
                continue
            made.rule_hosts.append(host)
            http = rule.get("http")
            if not isinstance(http, dict):
                findings.append(Finding("ingress", ref, INFO, "rule-without-http",
                                        "{0} for host {1} has no http paths; skipped".format(field, host), host=host))
                continue
            for path_index, path_spec in enumerate(_as_list(http.get("paths"))):
                path_field = "{0}.http.paths[{1}]".format(field, path_index)
                path_spec = _as_dict(path_spec)
                shape = _path_routes(made, annotations, path_spec, path_field, findings,
                                     host in run.regex_hosts, run.exact_paths.get(host, ()))
                if shape is None:
                    continue
                destination = _destination(path_spec.get("backend"), made.namespace, ref, path_field + ".backend",
                                           services, findings)
                if destination is None:
                    continue
                made.destinations.add(destination)
                made.backends.append(backend_entry(made.namespace, path_spec, destination, host, host in run.regex_hosts))
                category, kind, path, matches, rank = shape
                route = Route(host, category, kind, path, matches, [destination], ref, made.age)
                route.rank = rank
                made.routes.append(route)

    @staticmethod
    def _default_backend_route(run, made, services, findings):
        default_backend = made.spec.get("defaultBackend")
        if default_backend is None:
            return
        ref = made.ref
        if not made.source.READS_DEFAULT_BACKEND:
            made.source.ignore_default_backend(ref, findings)
            return
        destination = _destination(default_backend, made.namespace, ref, "spec.defaultBackend", services, findings)
        if destination is None:
            return
        made.destinations.add(destination)
        owned = sorted(h for h, owner in run.host_owners.items() if owner == ref)
        if _as_list(made.spec.get("rules")):
            # For the replay: it serves the unmatched paths of the hosts this Ingress is the oldest on.
            made.backends.extend(backend_entry(made.namespace, {"backend": default_backend, "path": "/",
                                                                "pathType": "Prefix"}, destination, host, False)
                                 for host in owned)
        else:
            made.backends.append(backend_entry(made.namespace, {"backend": default_backend}, destination, None, False))
        default_route = Route(None, CATCH_ALL, PREFIX, "/", [EVERY_PATH], [destination], ref, made.age)
        # Per host whether ingress-nginx would redirect its unmatched paths to HTTPS.
        default_route.has_rules = bool(_as_list(made.spec.get("rules")))
        default_route.owned_hosts = dict((h, False) for h in made.rule_hosts if h != "*")
        made.routes.append(default_route)

    def _https_hosts(self, run, made, findings, tls_servers, result):
        """The Ingress's hosts served over HTTPS (its HTTPS servers registered on the way)."""
        has_tls = ingress_tls.tls_servers_of(run, made.spec, made.ref, made.namespace, made.rule_hosts, findings,
                                             tls_servers, result)
        if made.source.DEFAULT_CERTIFICATE and self.options.certificates != "external" \
                and _as_list(made.spec.get("tls")):
            # ingress-nginx gives every host of an Ingress with a tls section a certificate, its
            # self-signed default one when no entry names a Secret for it (createServers), and so
            # redirects all of them to HTTPS. Not a server-alias name: Lua has no certificate for it
            # unless the host's covers it (configureCertificates).
            uncovered = sorted(h for h in set(made.rule_hosts) - has_tls - run.alias_hosts if h != "*")
            if uncovered:
                findings.append(Finding("ingress", made.ref, ERROR, "default-certificate-only",
                                        "ingress-nginx redirected {0} to HTTPS and served it with its self-signed "
                                        "default certificate (no tls entry names a Secret for it); the gateway has no "
                                        "certificate for it, so HTTPS there would fail: list it in a tls entry with a "
                                        "secretName".format(", ".join(uncovered)), hosts=uncovered))
            has_tls = has_tls | set(uncovered)
        # Lua redirects to HTTPS when it holds a certificate for the host, whichever Ingress gave it.
        return has_tls | set(h for h in made.rule_hosts if ingress_nginx.has_certificate(run, h))

    def _redirect_options(self, run, made, options, has_tls, findings):
        if not made.source.REDIRECTS_TO_HTTPS:
            options["ssl_redirect"] = False
        if self.options.certificates == "external" and (options["force_https"] or made.spec.get("tls")):
            # Behind a load balancer that ends TLS every request reaches the gateway as plain HTTP:
            # a redirect here would loop. The load balancer redirects instead.
            if options["force_https"] or options["ssl_redirect"]:
                findings.append(Finding("ingress", made.ref, INFO, "https-redirect-at-load-balancer",
                                        "TLS ends at the external load balancer: configure it to redirect HTTP to "
                                        "HTTPS for {0}, as ingress-nginx did".format(sorted(set(made.rule_hosts)))))
            options["force_https"] = options["ssl_redirect"] = False
        for host in set(made.rule_hosts):
            run.owner_https[(made.ref, host)] = bool(options["force_https"] or (options["ssl_redirect"] and host in has_tls))

    @staticmethod
    def _apply_options(made, options, has_tls):
        """The annotations' intents on every route of the Ingress, and what the replay needs to know."""
        for route in made.routes:
            route.controller = made.cls
            # ingress-nginx redirects hosts it serves with TLS unless told not to, and every host
            # when forced.
            route.https_redirect = options["force_https"] or (options["ssl_redirect"] and route.host in has_tls)
            if route.host is None:
                route.owned_hosts = dict((h, bool(options["force_https"] or (options["ssl_redirect"] and h in has_tls)))
                                         for h in route.owned_hosts)
            route.timeout = options.get("timeout")
            route.retries = options.get("retries")
            route.cors = options.get("cors")
            route.request_headers = options.get("request_headers")
            route.response_headers = options.get("response_headers")
            route.redirect = options.get("redirect")
            rewrite = options.get("rewrite")
            if rewrite:
                route.rewrite = ingress_nginx.rewrite(rewrite, route)
            _snippet_answer(route, options.get("snippet_answer"))
        for entry in made.backends:
            # What ingress-nginx answers itself on this path: the replay tells redirects apart by them.
            entry["https_redirect"] = bool(options["force_https"] or (options["ssl_redirect"] and entry["host"] in has_tls))
            entry["redirect_code"] = options["redirect"].code if options.get("redirect") else None

    @staticmethod
    def _nginx_side_effects(run, made, annotations, options, findings):
        """What an Ingress's annotations do beyond its own routes: notes on HTTPS redirects, app-root,
        ssl-passthrough and from-to-www (their routes are placed after every Ingress is read)."""
        ref, rule_hosts = made.ref, set(made.rule_hosts)
        # The host's own `/` of a host this Ingress is the oldest on redirects too (placed later).
        redirects = any(r.https_redirect for r in made.routes) or any(
            run.host_owners.get(h) == ref and run.owner_https.get((ref, h)) for h in rule_hosts)
        if redirects and not _truthy(annotations.get(NGINX + "preserve-trailing-slash")):
            findings.append(Finding("ingress", ref, INFO, "https-redirect-keeps-trailing-slash",
                                    "ingress-nginx drops a trailing slash when it redirects to HTTPS (/a/ to /a; "
                                    "{0}preserve-trailing-slash is not \"true\"); the gateway's redirect keeps the path "
                                    "as it is, which Istio and the Gateway API cannot rewrite".format(NGINX)))
        app_root = annotations.get(NGINX + "app-root")
        if app_root is not None and not ingress_nginx.valid_app_root(app_root):
            findings.append(Finding("ingress", ref, WARNING, "app-root-ignored",
                                    "{0}app-root={1!r} is not a path; ingress-nginx ignores it, and so does this "
                                    "translation".format(NGINX, app_root)))
            app_root = None
        if app_root:
            for entry in made.backends:
                entry["app_root"] = True
        # A server-alias name shares its host's locations, not the host's passthrough or www redirect.
        own_hosts = [host for host in made.rule_hosts if host not in run.alias_hosts]
        if _truthy(annotations.get(NGINX + "ssl-passthrough")):
            ingress_nginx.passthrough_hosts(run, made.routes, own_hosts, ref, findings)
        if _truthy(annotations.get(NGINX + "from-to-www-redirect")):
            run.www_hosts.extend((host, ref, made.age) for host in sorted(set(own_hosts)) if not host.startswith("*"))


def _snippet_answer(route, answer):
    """A configuration-snippet's `return` or `rewrite`, in the order nginx.tmpl renders them: the
    snippet comes first among the location's rewrite directives, so its `return` (or a rewrite's
    redirect) answers before the HTTPS redirect of ngx_rewrite.lua, and its `rewrite ... break`
    ends them before the template's own rewrite-target and permanent-redirect `return`."""
    if answer is None:
        return
    if answer[0] == "direct":
        route.direct_response = (answer[1], answer[2])
        route.redirect, route.rewrite, route.https_redirect = None, None, False
    elif answer[0] == "redirect":
        route.redirect, route.rewrite, route.https_redirect = answer[1], None, False
    else:
        route.rewrite, route.redirect = answer[1], None
