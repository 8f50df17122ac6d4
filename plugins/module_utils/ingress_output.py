# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Objects written for a translated route model: Istio API or Kubernetes Gateway API.

Split from ingress.py so the routing semantics (what goes where) and the output shapes (how it
is spelled for each API) can be read separately. Pure logic.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import re

from .findings import ERROR, INFO, WARNING, Finding
from .ingress_model import (ANY_PATH, CATCH_ALL, EXACT, EXACT_PATH, MANAGED_BY, PREFIX_PATH, REGEX, SOURCE_ANNOTATION,
                            Destination, FullPathRewrite)
from .names import host_name_part, short_hash, stable_name

ISTIO_NETWORKING = "networking.istio.io/v1"
ISTIO_SECURITY = "security.istio.io/v1"
GATEWAY_API = "gateway.networking.k8s.io/v1"
GATEWAY_API_BETA = "gateway.networking.k8s.io/v1beta1"
GATEWAY_API_GROUP = "gateway.networking.k8s.io/"
HTTP_PORT, HTTPS_PORT = 80, 443


def _metadata(name, namespace, sources):
    return {"name": name, "namespace": namespace, "labels": dict(MANAGED_BY),
            "annotations": {SOURCE_ANNOTATION: ",".join(sorted(sources))}}


def _sorted_routes(bucket):
    return sorted(bucket.values(), key=lambda route: route.sort_key())


def _sources(routes):
    found = set()
    for route in routes:
        found.add(route.source)
        found.update(route.extra_sources)
    return found


def emit(options, gateway, routes, tls_servers, policies, passthrough, result):
    """Objects for the route model into `result`: hosts' routes, certificates, policies, passthrough."""
    namespace = options.gateway_namespace
    hosts = sorted(routes)
    all_routes = [route for host in hosts for route in routes[host].values()]
    if not all_routes:
        return
    tls_servers = _without_passthrough(_check_tls_overlap(tls_servers, result), passthrough, result)
    if options.output_api == "gateway-api":
        resources = _gateway_api(gateway, namespace, hosts, routes, tls_servers, passthrough, result)
    else:
        resources = _istio(gateway, namespace, options, hosts, routes, tls_servers, passthrough)
    resources += _destination_rules(namespace, policies, result, options.cluster_domain)
    gateways = [r["metadata"]["name"] for r in resources if r["kind"] == "Gateway"]
    policies_out, result.extension_providers = _authorization_policies(options, gateways, namespace, policies)
    resources += policies_out
    result.resources.extend(resources)
    for resource in resources:
        for source in resource["metadata"]["annotations"].get(SOURCE_ANNOTATION, "").split(","):
            if source in result.by_ingress:
                result.by_ingress[source].setdefault("produced", []).append(
                    "{0}/{1}/{2}".format(resource["kind"], resource["metadata"]["namespace"], resource["metadata"]["name"]))


def serving_deployments(options, release, resources):
    """The Deployments that serve the objects: for the Istio output, Istio's gateway chart release
    (its Deployment has the release's name); for the Gateway API, the one istiod deploys for each
    Gateway, named `<Gateway>-<gatewayClassName>`."""
    namespace = options.gateway_namespace
    if options.output_api != "gateway-api":
        return [{"name": release, "namespace": namespace}]
    return [{"name": "{0}-{1}".format(r["metadata"]["name"], r["spec"].get("gatewayClassName") or "istio"),
             "namespace": r["metadata"]["namespace"]}
            for r in resources if r["kind"] == "Gateway" and r["apiVersion"].startswith(GATEWAY_API_GROUP)]


def _without_passthrough(tls_servers, passthrough, result):
    """TLS servers less the hosts whose TLS is passed through: a gateway cannot do both on one name."""
    kept = {}
    for credential in sorted(tls_servers):
        entry = tls_servers[credential]
        dropped = sorted(h for h in entry["hosts"] if h in passthrough)
        for host in dropped:
            result.findings.append(Finding("ingress", passthrough[host][1], WARNING, "ssl-passthrough-over-tls",
                                           "{0}: TLS is passed through to the backend, so Secret {1} is not used for "
                                           "it, as with ingress-nginx".format(host, credential), host=host))
        if set(entry["hosts"]) - set(dropped):
            kept[credential] = dict(entry, hosts=set(entry["hosts"]) - set(dropped))
    return kept


def _passthrough_server(host):
    return {"port": {"number": HTTPS_PORT, "name": "tls-" + short_hash(host), "protocol": "TLS"}, "hosts": [host],
            "tls": {"mode": "PASSTHROUGH"}}


def _check_tls_overlap(tls_servers, result):
    """The TLS servers with each host kept by one Secret only, and a finding for each host dropped.

    Two gateway servers on 443 that name the same host conflict: istiod then drops the later server
    whole, with every other host it carries, and the Gateway API marks both listeners conflicted.
    """
    owners = {}
    kept = {}
    for credential in sorted(tls_servers):
        entry = tls_servers[credential]
        hosts = set()
        for host in sorted(entry["hosts"]):
            if host in owners and owners[host] != credential:
                # The Ingresses that asked for this host with this Secret, not every user of the Secret:
                # a Secret shared by hundreds of Ingresses would otherwise give each a finding per host.
                for source in sorted(entry["host_sources"][host]):
                    result.findings.append(Finding("ingress", source, WARNING, "tls-host-conflict",
                                                   "host {0} has certificates from two Secrets ({1}, {2}); the gateway "
                                                   "serves only {1}".format(host, owners[host], credential), host=host))
                continue
            owners[host] = credential
            hosts.add(host)
        if hosts:
            kept[credential] = dict(entry, hosts=hosts)
    return kept


# --- Istio API ------------------------------------------------------------------------------------------

def _covers(wildcard, host):
    """True when the wildcard host `*` or `*.example.com` also names `host`."""
    if wildcard == host or not wildcard.startswith("*"):
        return False
    return wildcard == "*" or host.endswith(wildcard[1:])


def _istio_gateway_groups(gateway, hosts):
    """Which Gateway each host's VirtualService binds to: [(gateway name, hosts)].

    istiod appends the routes of a VirtualService for `*.example.com` to the virtual host of every
    other host of the same Gateway it covers (`a.example.com`), in the VirtualServices' creation
    order, so a wildcard's catch-all could shadow the exact host's routes. A wildcard that covers,
    or is covered by, another host of the Gateway therefore gets a Gateway of its own.
    """
    groups = [(gateway, [h for h in hosts if not h.startswith("*")])]
    for wildcard in (h for h in hosts if h.startswith("*")):
        if any(_covers(wildcard, h) or _covers(h, wildcard) for h in groups[0][1]):
            groups.append((stable_name("{0}-{1}".format(gateway, host_name_part(wildcard)),
                                       exact="{0}|{1}".format(gateway, wildcard)), [wildcard]))
        else:
            groups[0][1].append(wildcard)
    return [(name, sorted(members)) for name, members in groups if members]


def _wildcard_certificates(hosts, tls_servers):
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
        best = next((w for w in wildcards if _covers(w, host)), None)
        if best is not None:
            covered[host] = (best, owner[best])
    return covered


def _istio(gateway, namespace, options, hosts, routes, tls_servers, passthrough):
    groups = _istio_gateway_groups(gateway, hosts)
    gateway_of = dict((host, name) for name, members in groups for host in members)
    by_wildcard = _wildcard_certificates(hosts, tls_servers)
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
                                "hosts": tls_hosts, "tls": {"mode": "SIMPLE", "credentialName": credential}})
        servers += [_passthrough_server(host) for host in sorted(passthrough) if gateway_of.get(host, gateway) == name]
        group_routes = [route for host in members for route in routes[host].values()]
        resources.append({"apiVersion": ISTIO_NETWORKING, "kind": "Gateway",
                          "metadata": _metadata(name, namespace, _sources(group_routes)),
                          "spec": {"selector": dict(sorted(options.gateway_selector.items())), "servers": servers}})
    for host in hosts:
        http = _deeper_names(host, routes, options.cluster_domain)
        for route in _sorted_routes(routes[host]):
            http.extend(_istio_http_routes(route, options.cluster_domain))
        name = stable_name(host_name_part(host), exact=host)
        spec = {"hosts": [host], "gateways": ["{0}/{1}".format(namespace, gateway_of[host])], "http": http}
        if host in passthrough:
            destination = passthrough[host][0]
            spec["tls"] = [{"match": [{"port": HTTPS_PORT, "sniHosts": [host]}],
                            "route": [{"destination": {"host": destination.fqdn(options.cluster_domain),
                                                       "port": {"number": destination.port}}}]}]
        resources.append({"apiVersion": ISTIO_NETWORKING, "kind": "VirtualService",
                          "metadata": _metadata(name, namespace, _sources(routes[host].values())), "spec": spec})
    return resources


def _deeper_names(host, routes, cluster_domain):
    """For an ingress-nginx wildcard host, the entries that keep it to one label: its server_name
    `*.example.com` matches `a.example.com` but not `a.b.example.com`, which reaches the catch-all
    server (the host-less rules and defaultBackend, else a 404). Istio's wildcard takes any depth."""
    if not host.startswith("*.") or not any(r.controller == "nginx" for r in routes[host].values()):
        return []
    deeper = {"regex": "(?i)([^.:]+[.]){{2,}}{0}(:[0-9]+)?".format(re.escape(host[2:]))}
    entries = []
    for route in _sorted_routes(routes.get("*", {})):
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


def _matches(route, port=None):
    matches = []
    for path_match in route.matches:
        match = {} if path_match.kind == ANY_PATH else {"uri": {path_match.kind: path_match.value}}
        if route.headers:
            match["headers"] = {route.headers[0]: {"exact": route.headers[1]}}
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
        if not route.destinations and not route.redirect:
            return entries  # nothing is served over HTTPS: the gateway answers 404 there
    entry = {}
    match = _matches(route)
    if match:
        entry["match"] = match
    if route.redirect:
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
        if route.request_headers:
            entry["headers"] = {"request": {"set": dict(route.request_headers)}}
    if route.cors:
        entry["corsPolicy"] = _istio_cors(route.cors)
    entries.append(entry)
    return entries


# --- policies shared by both outputs --------------------------------------------------------------------------

def _destination_rules(namespace, policies, result, cluster_domain):
    resources = []
    backends = [(Destination(k[1], k[2], None, None).fqdn(cluster_domain), k) for k in policies if k[0] == "dr"]
    for fqdn, key in sorted(backends):
        entries = policies[key]
        source, traffic = entries[0]
        for other, other_traffic in entries[1:]:
            if other_traffic != traffic:
                result.findings.append(Finding("ingress", other, WARNING, "destination-policy-conflict",
                                               "{0} already sets a different backend policy for {1}; the older one "
                                               "is kept".format(source, fqdn)))
        resources.append({"apiVersion": ISTIO_NETWORKING, "kind": "DestinationRule",
                          "metadata": _metadata(stable_name(fqdn), namespace, [e[0] for e in entries]),
                          # Only the gateway's own calls: other mesh clients keep their policies.
                          "spec": {"host": fqdn, "exportTo": ["."], "trafficPolicy": traffic}})
    return resources


def _with_ports(hosts):
    # A Host header may carry a port (`a.com:80`), which the gateway still routes to a.com: a
    # policy naming only `a.com` would not apply to it. "host:*" keeps those covered.
    return sorted(set(hosts) | set(h + ":*" for h in hosts))


def _authorization_policies(options, gateways, namespace, policies):
    """The AuthorizationPolicies, and the extension providers the CUSTOM ones name.

    They apply to the gateway pods: by the selector for the Istio output, and for the Gateway API
    output by targetRefs to every Gateway, since Istio deploys one set of pods per Gateway and a
    split estate has several.
    """
    resources = []
    if options.output_api == "gateway-api":
        applies_to = {"targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": name}
                                     for name in gateways]}
    else:
        applies_to = {"selector": {"matchLabels": dict(sorted(options.gateway_selector.items()))}}
    for key in sorted(k for k in policies if k[0] == "ap"):
        ref = key[1]
        rules = []
        for negate, ranges, hosts in policies[key]:
            rule = {"from": [{"source": {("notRemoteIpBlocks" if negate else "remoteIpBlocks"): ranges}}]}
            if hosts and "*" not in hosts:
                rule["to"] = [{"operation": {"hosts": _with_ports(hosts)}}]
            rules.append(rule)
        resources.append({"apiVersion": ISTIO_SECURITY, "kind": "AuthorizationPolicy",
                          "metadata": _metadata(stable_name("source-ranges-" + ref.replace("/", "-"), exact=ref),
                                                namespace, [ref]),
                          "spec": dict(applies_to, action="DENY", rules=rules)})
    providers = {}
    for key in sorted(k for k in policies if k[0] == "ext"):
        ref = key[1]
        for provider, hosts in policies[key]:
            providers[provider["name"]] = provider
            operation = {} if "*" in hosts else {"hosts": _with_ports(hosts)}
            resources.append({"apiVersion": ISTIO_SECURITY, "kind": "AuthorizationPolicy",
                              "metadata": _metadata(stable_name("ext-authz-" + ref.replace("/", "-"), exact=ref),
                                                    namespace, [ref]),
                              "spec": dict(applies_to, action="CUSTOM", provider={"name": provider["name"]},
                                           rules=[{"to": [{"operation": operation}]} if operation else {}])})
    return resources, [providers[name] for name in sorted(providers)]


# --- Kubernetes Gateway API -------------------------------------------------------------------------------------

# The Gateway API allows at most 64 listeners per Gateway.
MAX_LISTENERS = 64


def _gateway_api(gateway, namespace, hosts, routes, tls_servers, passthrough, result):
    for host in hosts:
        if host.startswith("*."):
            for route in sorted((r for r in routes[host].values() if r.controller == "nginx"), key=lambda r: r.sort_key()):
                # A hostname `*.example.com` takes any depth, and HTTPRoute cannot match the Host
                # header (Istio ignores it); the Istio output keeps one label (see _deeper_names).
                _note(result, route, ERROR, "wildcard-depth",
                      "ingress-nginx's {0} took one label (a.{1}); the Gateway API hostname also takes deeper "
                      "names (a.b.{1}), which ingress-nginx sent to its catch-all server: use output_api "
                      "istio to keep that".format(host, host[2:]))
                break
    https = []
    for credential in sorted(tls_servers):
        for host in sorted(tls_servers[credential]["hosts"]):
            listener = {"name": "https-" + short_hash(credential + "|" + host), "port": HTTPS_PORT, "protocol": "HTTPS",
                        "tls": {"mode": "Terminate", "certificateRefs": [{"kind": "Secret", "name": credential}]},
                        "allowedRoutes": {"namespaces": {"from": "Same"}}}
            if host != "*":
                listener["hostname"] = host
            https.append((host, listener))
    # Routes of hosts that a wildcard covers are merged by hostname across a listener (Gateway API
    # semantics): `*.example.com`'s rules would answer what `a.example.com`'s do not. ingress-nginx
    # picks one server per host, so then every host gets listeners of its own.
    tls_hosts = set(h for entry in tls_servers.values() for h in entry["hosts"])
    named = set(hosts) | tls_hosts
    per_host = any(_covers(w, h) for w in named if w.startswith("*") for h in named)
    by_wildcard = _wildcard_certificates(hosts, tls_servers)
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
    groups = [[]]
    listeners_of, gateway_of = {}, {}
    for host, listener in http + https:
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
    resources = []
    for number, (name, group) in enumerate(zip(names, groups)):
        served = hosts if number == 0 and not per_host else sorted(h for h in group_hosts[number] if h in routes)
        sources = _sources(route for host in served for route in routes[host].values())
        resources.append({"apiVersion": GATEWAY_API, "kind": "Gateway", "metadata": _metadata(name, namespace, sources),
                          "spec": {"gatewayClassName": "istio", "listeners": group}})
    if len(groups) > 1:
        result.findings.append(Finding("ingress", "*", INFO, "gateways-split",
                                       "{0} listeners are split over {1} Gateways ({2} at most each, the Gateway API's "
                                       "limit)".format(len(http) + len(https), len(groups), MAX_LISTENERS)))

    def refs(names_):
        return [{"name": gateway_of[n], "sectionName": n} for n in names_]

    backend_namespaces = {}  # namespace -> the Ingresses whose backends are there
    tls_backend_namespaces = {}
    for host in sorted(passthrough):
        destination, source = passthrough[host]
        backend_namespace = destination.namespace
        ref = {"name": destination.service, "port": destination.port}
        if backend_namespace != namespace:
            ref["namespace"] = backend_namespace
            tls_backend_namespaces.setdefault(backend_namespace, set()).add(source)
        spec = {"parentRefs": refs(listeners_of[(host, "TLS")]), "rules": [{"backendRefs": [ref]}]}
        if host != "*":
            spec["hostnames"] = [host]
        resources.append({"apiVersion": GATEWAY_API, "kind": "TLSRoute",
                          "metadata": _metadata(stable_name(host_name_part(host) + "-tls", exact=host + "|tls"),
                                                namespace, [source]), "spec": spec})
    for host in hosts:
        ordered = _reachable(_sorted_routes(routes[host]))
        regex_host = any(route.category == REGEX for route in ordered)
        pads = _regex_padding(ordered, regex_host)
        plain = [_gateway_rule(route, False, result, backend_namespaces, namespace, regex_host, pads.get(id(route), 0))
                 for route in ordered]
        # The rules differ over HTTPS only where plain HTTP redirects to it.
        # Over HTTPS a route that only redirects HTTP is left out: the gateway answers 404 there.
        serving = [route for route in ordered if route.destinations or route.redirect]
        secure_pads = _regex_padding(serving, regex_host)
        secure = plain if not any(route.https_redirect for route in ordered) else [
            _gateway_rule(route, True, result, backend_namespaces, namespace, regex_host, secure_pads.get(id(route), 0))
            for route in serving]
        sources = _sources(routes[host].values())
        base = stable_name(host_name_part(host), exact=host)
        secure_listeners = listeners_of.get((host, "HTTPS"), [])
        if per_host and not secure_listeners and host in by_wildcard:
            # Served over HTTPS through the most specific wildcard certificate that covers it.
            secure_listeners = listeners_of[(by_wildcard[host][0], "HTTPS")]
        if per_host:
            plain_parents = refs(listeners_of[(host, "HTTP")])
        else:
            plain_parents = [{"name": gateway, "sectionName": "http"}]
        if plain == secure or not secure_listeners:
            if per_host:
                parents = plain_parents + refs(secure_listeners)
            else:
                parents = [{"name": gateway}] + [r for r in refs(secure_listeners) if r["name"] != gateway]
            resources.append(_http_route(base, namespace, parents, host, [r for r in plain if r], sources))
        else:
            resources.append(_http_route(base + "-http", namespace, plain_parents, host, [r for r in plain if r],
                                         sources))
            resources.append(_http_route(base, namespace, refs(secure_listeners), host, [r for r in secure if r],
                                         sources))
    for backend_namespace in sorted(set(backend_namespaces) | set(tls_backend_namespaces)):
        # Routes in the gateway namespace may only reach Services elsewhere with their consent.
        kinds = [k for k, used in (("HTTPRoute", backend_namespaces), ("TLSRoute", tls_backend_namespaces))
                 if backend_namespace in used]
        sources = set(backend_namespaces.get(backend_namespace, ())) | tls_backend_namespaces.get(backend_namespace, set())
        resources.append({"apiVersion": GATEWAY_API_BETA, "kind": "ReferenceGrant",
                          "metadata": _metadata(stable_name("from-" + namespace + "-httproutes",
                                                            exact=namespace + "|" + backend_namespace),
                                                backend_namespace, sources),
                          "spec": {"from": [{"group": "gateway.networking.k8s.io", "kind": kind, "namespace": namespace}
                                            for kind in kinds],
                                   "to": [{"group": "", "kind": "Service"}]}})
    return resources


def _http_route(name, namespace, parents, host, rules, sources):
    spec = {"parentRefs": parents, "rules": rules}
    if host != "*":
        spec["hostnames"] = [host]
    return {"apiVersion": GATEWAY_API, "kind": "HTTPRoute", "metadata": _metadata(name, namespace, sources),
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
        match["headers"] = [{"type": "Exact", "name": route.headers[0], "value": route.headers[1]}]
    return match


def _gateway_rule(route, secure, result, backend_namespaces, namespace, regex_host, pad=0):
    rule = {"matches": [_gateway_match(route, regex_host, pad)]}
    filters = []
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
                _note(result, route, ERROR, "rewrite-not-expressible",
                      "rewrite with regex captures on {0}{1} has no Gateway API equivalent; use output_api istio".format(
                          route.host, route.path))
        if route.request_headers:
            names = {"host": "Host", "x-forwarded-prefix": "X-Forwarded-Prefix"}
            filters.append({"type": "RequestHeaderModifier", "requestHeaderModifier": {
                "set": [{"name": names.get(name, name), "value": value}
                        for name, value in sorted(route.request_headers.items())]}})
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
    if route.cors:
        _note(result, route, WARNING, "cors-not-translated",
              "CORS on {0}{1} is not in Gateway API's standard channel; use output_api istio to keep it".format(
                  route.host, route.path))
    if filters:
        rule["filters"] = filters
    return rule


def _note(result, route, severity, code, message):
    finding = Finding("ingress", route.source, severity, code, message, host=route.host, path=route.path)
    key = (route.source, code, message, route.host, route.path)
    if key not in result.noted:  # a set, not a scan of every finding: linear in the routes
        result.noted.add(key)
        result.findings.append(finding)
