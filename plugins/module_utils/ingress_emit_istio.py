# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Istio API emitter: a route model as Gateway and VirtualService objects.

`resources` writes a Gateway per group of hosts (a wildcard that covers another host gets its
own) and a VirtualService per host, its `http` entries in the model's route order; redirects,
rewrites, headers, CORS and timeouts are spelled as Istio spells them. `policy_target` says which
gateway pods the AuthorizationPolicies apply to. No Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import re

from .ingress_model import ANY_PATH, FullPathRewrite
from .ingress_objects import (HTTP_PORT, HTTPS_PORT, ISTIO_NETWORKING, covers, envoy_literal, metadata, sorted_routes,
                              sources_of, wildcard_certificates)
from .names import host_name_part, short_hash, stable_name

API = "istio"


def policy_target(options, gateways):
    """The AuthorizationPolicies apply to the gateway pods by their selector."""
    return {"selector": {"matchLabels": dict(sorted(options.gateway_selector.items()))}}


def deployments(options, release, objects):
    """Istio's gateway chart release serves the objects (its Deployment has the release's name)."""
    return [{"name": release, "namespace": options.gateway_namespace}]


def _istio_gateway_groups(gateway, hosts):
    """Which Gateway each host's VirtualService binds to: [(gateway name, hosts)].

    istiod appends the routes of a VirtualService for `*.example.com` to the virtual host of every
    other host of the same Gateway it covers (`a.example.com`), in the VirtualServices' creation
    order, so a wildcard's catch-all could shadow the exact host's routes. A wildcard that covers,
    or is covered by, another host of the Gateway therefore gets a Gateway of its own.
    """
    groups = [(gateway, [h for h in hosts if not h.startswith("*")])]
    for wildcard in (h for h in hosts if h.startswith("*")):
        if any(covers(wildcard, h) or covers(h, wildcard) for h in groups[0][1]):
            groups.append((stable_name("{0}-{1}".format(gateway, host_name_part(wildcard)),
                                       exact="{0}|{1}".format(gateway, wildcard)), [wildcard]))
        else:
            groups[0][1].append(wildcard)
    return [(name, sorted(members)) for name, members in groups if members]


def resources(gateway, namespace, options, hosts, routes, tls_servers, passthrough, result):
    groups = _istio_gateway_groups(gateway, hosts)
    gateway_of = dict((host, name) for name, members in groups for host in members)
    by_wildcard = wildcard_certificates(hosts, tls_servers)
    resources = []
    for name, members in groups:
        # No `tls.httpsRedirect` on this server, even when every route redirects: Istio answers that
        # with 301, and ingress-nginx's HTTPS redirect is a 308, kept by per-route redirects.
        servers = [{"port": {"number": HTTP_PORT, "name": "http", "protocol": "HTTP"}, "hosts": members}]
        for credential in sorted(tls_servers):
            # A TLS host without routes stays on the first Gateway.
            tls_hosts = [h for h in tls_servers[credential]["hosts"] if gateway_of.get(h, gateway) == name]
            # Once a wildcard has a Gateway of its own, istiod would send a host it covers to the
            # wildcard's routes: the host is listed, with that Secret, on its own Gateway's server.
            tls_hosts = sorted(tls_hosts + [h for h in members if h in by_wildcard and by_wildcard[h][1] == credential
                                            and gateway_of.get(by_wildcard[h][0]) not in (None, name)])
            if tls_hosts:
                servers.append({"port": {"number": HTTPS_PORT, "name": "https-" + short_hash(credential),
                                         "protocol": "HTTPS"},
                                "hosts": tls_hosts, "tls": {"mode": tls_servers[credential].get("mode", "SIMPLE"),
                                                            "credentialName": credential}})
        servers += [_passthrough_server(host) for host in sorted(passthrough) if gateway_of.get(host, gateway) == name]
        group_routes = [route for host in members for route in routes[host].values()]
        resources.append({"apiVersion": ISTIO_NETWORKING, "kind": "Gateway",
                          "metadata": metadata(name, namespace, sources_of(group_routes)),
                          "spec": {"selector": dict(sorted(options.gateway_selector.items())), "servers": servers}})
    for host in hosts:
        http = _deeper_names(host, routes, options.cluster_domain)
        for route in sorted_routes(routes[host]):
            http.extend(_istio_http_routes(route, options.cluster_domain))
        name = stable_name(host_name_part(host), exact=host)
        spec = {"hosts": [host], "gateways": ["{0}/{1}".format(namespace, gateway_of[host])], "http": http}
        if host in passthrough:
            destination = passthrough[host][0]
            spec["tls"] = [{"match": [{"port": HTTPS_PORT, "sniHosts": [host]}],
                            "route": [{"destination": {"host": destination.fqdn(options.cluster_domain),
                                                       "port": {"number": destination.port}}}]}]
        resources.append({"apiVersion": ISTIO_NETWORKING, "kind": "VirtualService",
                          "metadata": metadata(name, namespace, sources_of(routes[host].values())), "spec": spec})
    return resources


def _deeper_names(host, routes, cluster_domain):
    """For an ingress-nginx wildcard host, the entries that keep it to one label: its server_name
    `*.example.com` matches `a.example.com` but not `a.b.example.com`, which reaches the catch-all
    server (the host-less rules and defaultBackend, else a 404). Istio's wildcard takes any depth."""
    if not host.startswith("*.") or not any(r.controller == "nginx" for r in routes[host].values()):
        return []
    deeper = {"regex": "(?i)([^.:]+[.]){{2,}}{0}(:[0-9]+)?".format(re.escape(host[2:]))}
    entries = []
    for route in sorted_routes(routes.get("*", {})):
        for entry in _istio_http_routes(route, cluster_domain):
            entry = copy.deepcopy(entry)
            entry["match"] = [dict(m, authority=deeper) for m in entry.get("match") or [{}]]
            entries.append(entry)
    entries.append({"match": [{"authority": deeper}], "directResponse": {"status": 404}})
    return entries


def _istio_rewrite(rewrite):
    # `rewrite.uri` is never used: it swaps only the matched prefix, not nginx's whole path.
    if isinstance(rewrite, FullPathRewrite):
        return {"match": "^.*$", "rewrite": rewrite.path}
    return {"match": rewrite.pattern, "rewrite": rewrite.replacement}


def _istio_retries(retries):
    if not retries.attempts or not (retries.connection_failures or retries.statuses):
        return {"attempts": 0}  # no retry at all, not even Istio's default one
    conditions = (["connect-failure", "refused-stream"] if retries.connection_failures else []) + [
        str(status) for status in retries.statuses]
    return {"attempts": retries.attempts, "retryOn": ",".join(conditions)}


def _matches(route, port=None):
    matches = []
    for path_match in route.matches:
        match = {} if path_match.kind == ANY_PATH else {"uri": {path_match.kind: path_match.value}}
        if route.headers:
            match["headers"] = {route.headers[0]: {route.headers[1]: route.headers[2]}}
        if port:
            match["port"] = port
        matches.append(match)
    return [m for m in matches if m] or None


def _istio_redirect(redirect):
    entry = {"redirectCode": redirect.code}
    for key, value in (("scheme", redirect.scheme), ("authority", redirect.authority), ("uri", redirect.path)):
        if value is not None:
            entry[key] = value
    return entry


def _istio_cors(cors):
    policy = {"allowOrigins": [{"regex": ".*"} if origin == "*" else {"exact": origin} for origin in cors.origins],
              "allowMethods": list(cors.methods), "allowHeaders": list(cors.headers),
              "allowCredentials": cors.credentials}
    if cors.expose:
        policy["exposeHeaders"] = list(cors.expose)
    if cors.max_age is not None:
        policy["maxAge"] = "{0}s".format(cors.max_age)
    return policy


def _istio_http_routes(route, cluster_domain):
    entries = []
    if route.https_redirect:
        # Only plain HTTP is redirected; the same VirtualService also serves the HTTPS server.
        entries.append({"match": _matches(route, HTTP_PORT), "redirect": {"scheme": "https", "redirectCode": 308}})
        if not route.destinations and not route.redirect and not route.direct_response:
            return entries  # nothing is served over HTTPS: the gateway answers 404 there
    entry = {}
    match = _matches(route)
    if match:
        entry["match"] = match
    if route.direct_response:
        status, body = route.direct_response
        entry["directResponse"] = dict({"status": status}, **({"body": {"string": body}} if body else {}))
    elif route.redirect:
        entry["redirect"] = _istio_redirect(route.redirect)
    else:
        weighted = any(destination.weight is not None for destination in route.destinations)
        entry["route"] = [dict({"destination": {"host": d.fqdn(cluster_domain), "port": {"number": d.port}}},
                               **({"weight": d.weight} if weighted else {}))
                          for d in route.destinations]
        if route.rewrite:
            entry["rewrite"] = {"uriRegexRewrite": _istio_rewrite(route.rewrite)}
        if route.timeout is not None:
            entry["timeout"] = "{0}s".format(route.timeout)
        if route.retries is not None:
            entry["retries"] = _istio_retries(route.retries)
        if route.request_headers:
            entry["headers"] = {"request": {"set": dict((name, envoy_literal(name, value))
                                                        for name, value in route.request_headers.items())}}
        if route.response_headers:
            response = dict((k, v) for k, v in (("set", dict((name, envoy_literal(name, value))
                                                             for name, value in route.response_headers["set"].items())),
                                                ("remove", list(route.response_headers["remove"]))) if v)
            entry.setdefault("headers", {})["response"] = response
    if route.cors:
        entry["corsPolicy"] = _istio_cors(route.cors)
    if route.client_headers and "route" in entry:
        entries.extend(_with_client_headers(entry, route))
        return entries
    entries.append(entry)
    return entries


def _with_client_headers(entry, route):
    """The entry with the client-certificate headers: those of HTTPS on an entry of port 443 first,
    unless only HTTPS reaches the route (its plain HTTP is redirected), then those of plain HTTP.
    Envoy removes a route's headers before it adds its own, so a client's copy never passes; a value
    of Envoy's peer-certificate variables that is empty (no certificate) adds no header, as nginx's
    empty proxy_set_header adds none."""
    headers = route.client_headers

    def with_request_headers(base, values):
        result = copy.deepcopy(base)
        request = result.setdefault("headers", {}).setdefault("request", {})
        request["set"] = dict(request.get("set") or {}, **values)
        request["remove"] = list(headers["remove"])
        return result

    if headers["tls"] is None:
        return [with_request_headers(entry, headers["plain"])]
    if route.https_redirect:
        return [with_request_headers(entry, headers["tls"])]
    over_tls = with_request_headers(entry, headers["tls"])
    over_tls["match"] = [dict(match, port=HTTPS_PORT) for match in entry.get("match") or [{}]]
    return [over_tls, with_request_headers(entry, headers["plain"])]


def _passthrough_server(host):
    return {"port": {"number": HTTPS_PORT, "name": "tls-" + short_hash(host), "protocol": "TLS"}, "hosts": [host],
            "tls": {"mode": "PASSTHROUGH"}}
