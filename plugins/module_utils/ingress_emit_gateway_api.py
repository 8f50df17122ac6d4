# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Kubernetes Gateway API emitter: a route model as Gateway, HTTPRoute, TLSRoute and ReferenceGrant.

`resources` writes the listeners (split over Gateways of at most 64), an HTTPRoute per host (two
where plain HTTP redirects to HTTPS), TLSRoutes for passthrough and the ReferenceGrants the
backends in other namespaces need. The rule order is kept through istiod's own sorting of
Gateway API rules (see _regex_padding). What the Gateway API cannot say is a finding on the
route. No Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from .findings import ERROR, INFO, WARNING, Finding
from .ingress_model import ANY_PATH, CATCH_ALL, EXACT, EXACT_PATH, PREFIX_PATH, REGEX, FullPathRewrite
from .ingress_objects import (GATEWAY_API, GATEWAY_API_BETA, GATEWAY_API_GROUP, HTTP_PORT, HTTPS_PORT, covers, envoy_literal,
                              metadata, note, sorted_routes, sources_of, wildcard_certificates)
from .names import host_name_part, short_hash, stable_name

API = "gateway-api"
# The Gateway API allows at most 64 listeners per Gateway.
MAX_LISTENERS = 64
# istiod's listener option for client certificates (pilot/pkg/config/kube/gatewaycommon).
TLS_TERMINATE_MODE = "gateway.istio.io/tls-terminate-mode"


def policy_target(options, gateways):
    """The AuthorizationPolicies apply to every Gateway by targetRefs: Istio deploys one set of
    pods per Gateway, and a split estate has several."""
    return {"targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": name} for name in gateways]}


def deployments(options, release, objects):
    """istiod deploys each Gateway itself, as `<Gateway>-<gatewayClassName>`."""
    return [{"name": "{0}-{1}".format(r["metadata"]["name"], r["spec"].get("gatewayClassName") or "istio"),
             "namespace": r["metadata"]["namespace"]}
            for r in objects if r["kind"] == "Gateway" and r["apiVersion"].startswith(GATEWAY_API_GROUP)]


def resources(gateway, namespace, options, hosts, routes, tls_servers, passthrough, result):
    _note_wildcard_depth(hosts, routes, result)
    listeners, per_host = _listeners(hosts, tls_servers, passthrough)
    objects, gateway_of, listeners_of = _gateways(gateway, namespace, hosts, routes, listeners, per_host, result)

    def parents(names):
        return [{"name": gateway_of[n], "sectionName": n} for n in names]

    backend_namespaces = {}  # namespace -> the Ingresses whose backends are there
    tls_backend_namespaces = {}
    objects += _tls_routes(namespace, passthrough, parents, listeners_of, tls_backend_namespaces)
    by_wildcard = wildcard_certificates(hosts, tls_servers)
    for host in hosts:
        plain_parents = parents(listeners_of[(host, "HTTP")]) if per_host else [{"name": gateway, "sectionName": "http"}]
        secure_listeners = listeners_of.get((host, "HTTPS"), [])
        if per_host and not secure_listeners and host in by_wildcard:
            # Served over HTTPS through the most specific wildcard certificate that covers it.
            secure_listeners = listeners_of[(by_wildcard[host][0], "HTTPS")]
        if per_host:
            whole = plain_parents + parents(secure_listeners)
        else:
            whole = [{"name": gateway}] + [r for r in parents(secure_listeners) if r["name"] != gateway]
        objects += _host_routes(host, namespace, routes, result, backend_namespaces,
                                (whole, plain_parents, parents(secure_listeners)))
    objects += _reference_grants(namespace, backend_namespaces, tls_backend_namespaces)
    return objects


def _note_wildcard_depth(hosts, routes, result):
    for host in hosts:
        if host.startswith("*."):
            for route in sorted((r for r in routes[host].values() if r.controller == "nginx"), key=lambda r: r.sort_key()):
                # A hostname `*.example.com` takes any depth, and HTTPRoute cannot match the Host
                # header (Istio ignores it); the Istio output keeps one label (see _deeper_names).
                note(result, route, ERROR, "wildcard-depth",
                     "ingress-nginx's {0} took one label (a.{1}); the Gateway API hostname also takes deeper "
                     "names (a.b.{1}), which ingress-nginx sent to its catch-all server: use output_api "
                     "istio to keep that".format(host, host[2:]))
                break


def _listeners(hosts, tls_servers, passthrough):
    """([(host, listener)] in Gateway order, whether every host has listeners of its own)."""
    https = []
    for credential in sorted(tls_servers):
        for host in sorted(tls_servers[credential]["hosts"]):
            listener = {"name": "https-" + short_hash(credential + "|" + host), "port": HTTPS_PORT, "protocol": "HTTPS",
                        "tls": {"mode": "Terminate", "certificateRefs": [{"kind": "Secret", "name": credential}]},
                        "allowedRoutes": {"namespaces": {"from": "Same"}}}
            mode = tls_servers[credential].get("mode")
            if mode:
                # Client certificates per listener are Istio's option (the standard's frontend
                # validation is per port); istiod reads the CA from the credential, as for its own API.
                listener["tls"]["options"] = {TLS_TERMINATE_MODE: mode}
            if host != "*":
                listener["hostname"] = host
            https.append((host, listener))
    # Routes of hosts that a wildcard covers are merged by hostname across a listener (Gateway API
    # semantics): `*.example.com`'s rules would answer what `a.example.com`'s do not. ingress-nginx
    # picks one server per host, so then every host gets listeners of its own.
    tls_hosts = set(h for entry in tls_servers.values() for h in entry["hosts"])
    named = set(hosts) | tls_hosts
    per_host = any(covers(w, h) for w in named if w.startswith("*") for h in named)
    http = [("*", {"name": "http", "port": HTTP_PORT, "protocol": "HTTP",
                   "allowedRoutes": {"namespaces": {"from": "Same"}}})]
    if per_host:
        http = [(host, dict({"name": "http" if host == "*" else "http-" + short_hash(host), "port": HTTP_PORT,
                             "protocol": "HTTP", "allowedRoutes": {"namespaces": {"from": "Same"}}},
                            **({} if host == "*" else {"hostname": host}))) for host in hosts]
    # Hostless listeners stay on the first Gateway, beside the HTTP listener, so a route attached
    # to that Gateway as a whole reaches them as before; the rest follow in a stable order.
    for host in sorted(passthrough):
        listener = {"name": "tls-" + short_hash(host), "port": HTTPS_PORT, "protocol": "TLS",
                    "tls": {"mode": "Passthrough"},
                    "allowedRoutes": {"namespaces": {"from": "Same"}, "kinds": [{"kind": "TLSRoute"}]}}
        if host != "*":
            listener["hostname"] = host
        https.append((host, listener))
    https.sort(key=lambda entry: (entry[0] != "*", entry[0], entry[1]["name"]))
    http.sort(key=lambda entry: (entry[0] != "*", entry[0]))
    return http + https, per_host


def _gateways(gateway, namespace, hosts, routes, listeners, per_host, result):
    """(the Gateways, listener name -> its Gateway, (host, protocol) -> listener names)."""
    groups = [[]]
    listeners_of, gateway_of = {}, {}
    for host, listener in listeners:
        if len(groups[-1]) == MAX_LISTENERS:
            groups.append([])
        groups[-1].append(listener)
        listeners_of.setdefault((host, listener["protocol"]), []).append(listener["name"])
    names = [gateway] + [stable_name("{0}-{1}".format(gateway, number), exact="{0}|{1}".format(gateway, number))
                         for number in range(2, len(groups) + 1)]
    for name, group in zip(names, groups):
        for listener in group:
            gateway_of[listener["name"]] = name
    # Each Gateway names the Ingresses it serves: all of them for the first (its HTTP listener
    # takes every host), only those of its listeners' hosts for the others, so the annotations and
    # the per-Ingress `produced` lists grow with the routes, not with routes times Gateways.
    group_hosts = [set(l.get("hostname", "*") for l in group) for group in groups]
    objects = []
    for number, (name, group) in enumerate(zip(names, groups)):
        served = hosts if number == 0 and not per_host else sorted(h for h in group_hosts[number] if h in routes)
        sources = sources_of(route for host in served for route in routes[host].values())
        objects.append({"apiVersion": GATEWAY_API, "kind": "Gateway", "metadata": metadata(name, namespace, sources),
                        "spec": {"gatewayClassName": "istio", "listeners": group}})
    if len(groups) > 1:
        result.findings.append(Finding("ingress", "*", INFO, "gateways-split",
                                       "{0} listeners are split over {1} Gateways ({2} at most each, the Gateway API's "
                                       "limit)".format(len(listeners), len(groups), MAX_LISTENERS)))
    return objects, gateway_of, listeners_of


def _tls_routes(namespace, passthrough, parents, listeners_of, tls_backend_namespaces):
    objects = []
    for host in sorted(passthrough):
        destination, source = passthrough[host]
        ref = {"name": destination.service, "port": destination.port}
        if destination.namespace != namespace:
            ref["namespace"] = destination.namespace
            tls_backend_namespaces.setdefault(destination.namespace, set()).add(source)
        spec = {"parentRefs": parents(listeners_of[(host, "TLS")]), "rules": [{"backendRefs": [ref]}]}
        if host != "*":
            spec["hostnames"] = [host]
        objects.append({"apiVersion": GATEWAY_API, "kind": "TLSRoute",
                        "metadata": metadata(stable_name(host_name_part(host) + "-tls", exact=host + "|tls"),
                                             namespace, [source]), "spec": spec})
    return objects


def _host_routes(host, namespace, routes, result, backend_namespaces, parents):
    """One HTTPRoute for the host, or two where the rules differ over HTTPS: there a route that only
    redirects plain HTTP is left out (the gateway answers 404)."""
    whole, plain_parents, secure_parents = parents
    ordered = _reachable(sorted_routes(routes[host]))
    regex_host = any(route.category == REGEX for route in ordered)
    pads = _regex_padding(ordered, regex_host)
    plain = [_gateway_rule(route, False, result, backend_namespaces, namespace, regex_host, pads.get(id(route), 0))
             for route in ordered]
    serving = [route for route in ordered if route.destinations or route.redirect]
    secure_pads = _regex_padding(serving, regex_host)
    secure = plain if not any(route.https_redirect or (route.client_headers and route.client_headers["tls"] is not None)
                              for route in ordered) else [
        _gateway_rule(route, True, result, backend_namespaces, namespace, regex_host, secure_pads.get(id(route), 0))
        for route in serving]
    sources = sources_of(routes[host].values())
    base = stable_name(host_name_part(host), exact=host)
    if plain == secure or not secure_parents:
        return [_http_route(base, namespace, whole, host, [r for r in plain if r], sources)]
    return [_http_route(base + "-http", namespace, plain_parents, host, [r for r in plain if r], sources),
            _http_route(base, namespace, secure_parents, host, [r for r in secure if r], sources)]


def _reference_grants(namespace, backend_namespaces, tls_backend_namespaces):
    """Routes in the gateway namespace may only reach Services elsewhere with their consent."""
    objects = []
    for backend_namespace in sorted(set(backend_namespaces) | set(tls_backend_namespaces)):
        kinds = [k for k, used in (("HTTPRoute", backend_namespaces), ("TLSRoute", tls_backend_namespaces))
                 if backend_namespace in used]
        sources = set(backend_namespaces.get(backend_namespace, ())) | tls_backend_namespaces.get(backend_namespace, set())
        objects.append({"apiVersion": GATEWAY_API_BETA, "kind": "ReferenceGrant",
                        "metadata": metadata(stable_name("from-" + namespace + "-httproutes",
                                                         exact=namespace + "|" + backend_namespace),
                                             backend_namespace, sources),
                        "spec": {"from": [{"group": "gateway.networking.k8s.io", "kind": kind, "namespace": namespace}
                                          for kind in kinds],
                                 "to": [{"group": "", "kind": "Service"}]}})
    return objects


def _http_route(name, namespace, parents, host, rules, sources):
    spec = {"parentRefs": parents, "rules": rules}
    if host != "*":
        spec["hostnames"] = [host]
    return {"apiVersion": GATEWAY_API, "kind": "HTTPRoute", "metadata": metadata(name, namespace, sources),
            "spec": spec}


def _literal_covers(route, path):
    """True when `route`, a literal or catch-all, takes every request for exactly `path`."""
    for match in route.matches:
        if match.kind == ANY_PATH or (match.kind == EXACT_PATH and match.value == path) or (
                match.kind == PREFIX_PATH and path.startswith(match.value)):
            return True
    return False


def _reachable(ordered):
    """The routes, less Exact ones that an earlier route already takes.

    Istio ranks Gateway API rules Exact > PathPrefix > RegularExpression whatever their order, so an
    Exact path the source controller shadows (istiod's own Ingress ranks Prefix `/ab/` above Exact
    `/ab`) would win there. Left out, the request goes where the source sends it.
    """
    kept = []
    for route in ordered:
        if route.kind == EXACT and route.category != REGEX and any(
                earlier.category != REGEX and earlier.headers in (None, route.headers)
                and _literal_covers(earlier, route.path) for earlier in kept):
            continue
        kept.append(route)
    return kept


def _gateway_regex(route, regex_host):
    """The RegularExpression value of a route's rule, or None when its rule matches otherwise."""
    if route.category == CATCH_ALL and regex_host:
        # A PathPrefix `/` would outrank every RegularExpression rule; as a regex it stays last.
        return "/.*"
    if route.category == REGEX:
        return route.matches[0].value
    return None


def _regex_padding(ordered, regex_host):
    """id(route) -> how many `^` to add to its regex so that istiod keeps the rules in our order.

    istiod sorts a Gateway API route's RegularExpression rules by the length of the regex, longest
    first, then by the number of header matches (sortHTTPRoutes in pilot/pkg/config/kube/gateway);
    ingress-nginx tries regex locations in an order of its own. Each regex rule is made longer
    than the next with zero-width `^`s, except a header route beside the rule it refines (the same
    regex, which istiod already puts after it).
    """
    pads, following = {}, None
    for route in reversed(ordered):
        regex = _gateway_regex(route, regex_host)
        if regex is None:
            continue
        length = len(regex)
        if following is not None:
            same_refined = route.headers is not None and regex == following[1]
            length = max(length, following[0] if same_refined else following[0] + 1)
        pads[id(route)] = length - len(regex)
        following = (length, regex)
    return pads


def _padded(regex, pad):
    flags = "(?i)" if regex.startswith("(?i)") else ""
    return flags + "^" * pad + regex[len(flags):]


def _gateway_match(route, regex_host, pad=0):
    regex = _gateway_regex(route, regex_host)
    if regex is not None:
        path = {"type": "RegularExpression", "value": _padded(regex, pad)}
    elif route.category == CATCH_ALL:
        path = {"type": "PathPrefix", "value": "/"}
    elif route.kind == EXACT:
        path = {"type": "Exact", "value": route.path}
    else:
        path = {"type": "PathPrefix", "value": route.path}  # already per path segment
    match = {"path": path}
    if route.headers:
        match["headers"] = [{"type": "Exact" if route.headers[1] == "exact" else "RegularExpression",
                             "name": route.headers[0], "value": route.headers[2]}]
    return match


def _gateway_rule(route, secure, result, backend_namespaces, namespace, regex_host, pad=0):
    rule = {"matches": [_gateway_match(route, regex_host, pad)]}
    filters = []
    if route.direct_response:
        note(result, route, ERROR, "serving-would-change",
             "{0}{1}: a configuration-snippet's return {2} has no Gateway API equivalent (HTTPRoute cannot answer "
             "by itself); use output_api istio".format(route.host, route.path, route.direct_response[0]))
    if route.https_redirect and not secure:
        # 308, as ingress-nginx answers; HTTPRoute v1 accepts 301, 302, 303, 307 and 308.
        filters.append({"type": "RequestRedirect", "requestRedirect": {"scheme": "https", "statusCode": 308}})
    elif route.redirect:
        code = route.redirect.code
        redirect = {"statusCode": code if code in (301, 302, 303, 307, 308) else 302}
        if route.redirect.scheme:
            redirect["scheme"] = route.redirect.scheme
        if route.redirect.authority:
            hostname, _colon, port = route.redirect.authority.partition(":")
            redirect["hostname"] = hostname
            if port:
                redirect["port"] = int(port)  # a non-default port stays in the Location
        if route.redirect.path is not None:
            redirect["path"] = {"type": "ReplaceFullPath", "replaceFullPath": route.redirect.path}
        filters.append({"type": "RequestRedirect", "requestRedirect": redirect})
    else:
        if route.rewrite:
            if isinstance(route.rewrite, FullPathRewrite):
                full_path = {"type": "ReplaceFullPath", "replaceFullPath": route.rewrite.path}
                filters.append({"type": "URLRewrite", "urlRewrite": {"path": full_path}})
            else:
                note(result, route, ERROR, "rewrite-not-expressible",
                     "rewrite with regex captures on {0}{1} has no Gateway API equivalent; use output_api istio".format(
                         route.host, route.path))
        if route.request_headers or route.client_headers:
            names = {"host": "Host", "x-forwarded-prefix": "X-Forwarded-Prefix"}
            values = [{"name": names.get(name, name), "value": envoy_literal(name, value)}
                      for name, value in sorted((route.request_headers or {}).items())]
            modifier = {"set": values}
            if route.client_headers:
                # Envoy's peer-certificate variables, as written (ingress_client_auth); a client's own
                # headers of those names are removed first (Envoy removes before it adds).
                chosen = route.client_headers["tls"] if secure and route.client_headers["tls"] is not None \
                    else route.client_headers["plain"]
                modifier["set"] = values + [{"name": name, "value": value} for name, value in sorted(chosen.items())]
                modifier["remove"] = list(route.client_headers["remove"])
            filters.append({"type": "RequestHeaderModifier", "requestHeaderModifier": modifier})
        if route.response_headers:
            modifier = {}
            if route.response_headers["set"]:
                modifier["set"] = [{"name": name, "value": envoy_literal(name, value)}
                                   for name, value in sorted(route.response_headers["set"].items())]
            if route.response_headers["remove"]:
                modifier["remove"] = list(route.response_headers["remove"])
            filters.append({"type": "ResponseHeaderModifier", "responseHeaderModifier": modifier})
        refs = []
        for destination in route.destinations:
            ref = {"name": destination.service, "port": destination.port}
            if destination.namespace != namespace:
                ref["namespace"] = destination.namespace
                users = backend_namespaces.setdefault(destination.namespace, set())
                users.add(route.source)
                users.update(route.extra_sources)
            if destination.weight is not None:
                ref["weight"] = destination.weight
            refs.append(ref)
        rule["backendRefs"] = refs
        if route.timeout is not None:
            rule["timeouts"] = {"request": "{0}s".format(route.timeout)}
        if route.retries is not None:
            note(result, route, WARNING, "retries-not-translated",
                 "retries (nginx.ingress.kubernetes.io/proxy-next-upstream*) on {0}{1} are not in Gateway API's "
                 "standard channel: the gateway's default retries apply; use output_api istio to keep them".format(
                     route.host, route.path))
    if route.cors:
        note(result, route, WARNING, "cors-not-translated",
             "CORS (nginx.ingress.kubernetes.io/enable-cors and cors-*) on {0}{1} is not in Gateway API's standard channel; "
             "use output_api istio to keep it".format(
                 route.host, route.path))
    if filters:
        rule["filters"] = filters
    return rule
