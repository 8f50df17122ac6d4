# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The source for Ingresses of class nginx: what ingress-nginx makes of them.

Its servers and locations (which Ingress owns a host's `/`, which hosts are in regex mode, the
Exact twins of Prefix paths), the routes of one path, and what nginx answers itself: app-root,
from-to-www and trailing-slash redirects, ssl-passthrough, the default certificate, and sets of
Ingresses nginx refuses (a location rendered twice). Canaries are in ingress_canary.py; the
annotations of a route in ingress_annotations.py; path matching in nginx_paths.py. No Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from . import nginx_paths
from .findings import ERROR, WARNING, INFO, Finding
from .ingress_annotations import NGINX, truthy as _truthy
from .ingress_client_auth import client_certificates
from .ingress_input import as_dict, as_list, descending, ingress_class, re2_problem, valid_host
from .ingress_model import (CATCH_ALL, EVERY_PATH, EXACT, EXACT_PATH, LITERAL, PREFIX, PREFIX_PATH, REGEX, REGEX_PATH,
                            FullPathRewrite, PathMatch, RegexRewrite, Route, redirect)

NAME = "nginx"
EMPTY_PATH = "/"  # ingress-nginx reads an empty path as /
READS_DEFAULT_BACKEND = True
REDIRECTS_TO_HTTPS = True  # ssl-redirect: hosts it serves with TLS are redirected unless told not to
DEFAULT_CERTIFICATE = True  # every host of an Ingress with a tls section gets a certificate (createServers)


def annotations_read(annotations, ref, findings):  # pylint: disable=unused-argument
    return annotations


def age_key(created, metadata, ref):
    """ingress-nginx (sortIngressSlice, internal/ingress/controller/store/store.go) breaks ties of
    creation time by namespace/name in descending byte order."""
    return (created, descending(ref))


def server_locations(ingresses, annotations_of, refs, owners, classless_controller):
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
        for rule in as_list(as_dict(ingress.get("spec")).get("rules")):
            host = as_dict(rule).get("host") or "*"
            if not isinstance(host, str) or (host != "*" and not valid_host(host)):
                continue  # refused with a finding where the rule is read
            server = servers.setdefault(host, [["/", "Prefix", None, True]])
            for path_spec in as_list(as_dict(as_dict(rule).get("http")).get("paths")):
                path_spec = as_dict(path_spec)
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


def regex_hosts(servers, annotations_of):
    """Hosts whose every path ingress-nginx renders as a case-insensitive regex (`location ~*`): a
    server with one location whose Ingress sets use-regex, or a rewrite-target other than the
    location's path (enforceRegexModifier in nginx.tmpl)."""
    return set(host for host, server in servers.items()
               if any(ref is not None and own_regex(annotations_of[ref], path) for path, _type, ref, _root in server))


def app_roots(servers, annotations_of):
    """host -> (app-root, Ingress): nginx.tmpl renders a location's app-root as a server-level
    `if ($uri = /) { return 302 ...; }` ahead of the location, so it redirects `/` whichever location
    would serve it; the first location in nginx's order (longest path first) decides."""
    found = {}
    for host, server in servers.items():
        for path, _type, ref, _root in sorted(server, key=lambda entry: (-len(entry[0]), descending(entry[0]))):
            value = valid_app_root(annotations_of[ref].get(NGINX + "app-root")) if ref is not None else None
            if value:
                found[host] = (value, ref)
                break
    return found


def valid_app_root(value):
    """ingress-nginx takes only a path as app-root and ignores anything else (an absolute URL)."""
    return str(value) if value is not None and re.match(r"/\S*\Z", str(value)) else None


def own_regex(annotations, path):
    """Whether ingress-nginx keeps a location's path as written (use-regex, or a rewrite-target
    other than the path: needsRewrite) rather than normalizing a Prefix to end in `/`."""
    target = annotations.get(NGINX + "rewrite-target")
    return _truthy(annotations.get(NGINX + "use-regex")) or bool(target and target != path)


def host_owners(ingresses, annotations_of, refs, classless_controller):
    """host -> the Ingress ingress-nginx creates its server from: the oldest of its own (not a
    canary) with a rule for it. That Ingress's defaultBackend and annotations make the host's
    default `/`."""
    owners = {}
    for ingress in ingresses:
        ref = refs[id(ingress)]
        if (ingress_class(ingress) or classless_controller) == "istio" or _truthy(annotations_of[ref].get(NGINX + "canary")):
            continue
        for rule in as_list(as_dict(ingress.get("spec")).get("rules")):
            host = as_dict(rule).get("host")
            if isinstance(host, str) and host and valid_host(host):
                owners.setdefault(host, ref)
    return owners


def path_route(annotations, path, path_type, ref, field, findings, use_regex, exact_paths):
    """(category, kind, path, [PathMatch], None) for a path of class nginx that is not a plain
    Exact, or None with a finding: a regex on a host in regex mode, else ingress-nginx's Prefix."""
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
        location = nginx_paths.Location(path, path_type, True, path in exact_paths, own_regex(annotations, path))
        return REGEX, EXACT if path_type == "Exact" else PREFIX, path, uri_matches(location), None
    if not path.startswith("/"):
        findings.append(Finding("ingress", ref, ERROR, "invalid-path", "{0}.path {1!r} must start with /".format(
            field, path)))
        return None
    # ingress-nginx reads ImplementationSpecific (and a missing pathType) as Prefix; `/foo/` is
    # rendered `location /foo/` and `= /foo/` (see _slash_redirects), `/foo` per path segment.
    location = nginx_paths.Location(path, path_type)
    return CATCH_ALL if not path.rstrip("/") else LITERAL, PREFIX, location.path if path.rstrip("/") else "/", \
        uri_matches(location), None


def uri_matches(location):
    """PathMatches for an nginx location: a route regex matches whole paths, nginx's only from the start."""
    kinds = {nginx_paths.EXACT: EXACT_PATH, nginx_paths.PREFIX: PREFIX_PATH}
    return [PathMatch(REGEX_PATH, "(?i)" + value + ".*") if modifier == nginx_paths.REGEX
            else PathMatch(kinds[modifier], value) for modifier, value in location.forms]


def passthrough_hosts(run, produced, rule_hosts, ref, findings):
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
        if host in run.passthrough:
            findings.append(Finding("ingress", ref, WARNING, "ssl-passthrough-conflict",
                                    "ssl-passthrough on {0} is already set by {1}, the older".format(
                                        host, run.passthrough[host][1]), host=host))
            continue
        run.passthrough[host] = ((root or routed)[0].destinations[0], ref)


def app_root_redirects(run, routes):
    """app-root: `/` of a host is redirected ahead of any location (_app_roots)."""
    ages = run.ages
    for host, (app_root, source) in sorted(run.app_roots.items()):
        bucket = routes.setdefault(host, {})
        # A canary's header route too: the redirect comes before any location.
        for key in [k for k, r in bucket.items() if r.kind == EXACT and r.path == "/"]:
            del bucket[key]
        route = Route(host, LITERAL, EXACT, "/", [PathMatch(EXACT_PATH, "/")], [], source, ages[source])
        route.redirect = redirect(302, path=app_root)
        bucket[route.key()] = route


def www_redirects(run, routes):
    """from-to-www-redirect: the other name (www. added or removed) answers 308 to the Ingress's host.

    As ingress-nginx does, only when no Ingress serves the other name itself.
    """
    findings = run.findings
    for host, ref, age in run.www_hosts:
        other = host[4:] if host.startswith("www.") else "www." + host
        if other in routes:
            findings.append(Finding("ingress", ref, INFO, "www-redirect-skipped",
                                    "from-to-www-redirect: {0} is served by an Ingress, so it does not redirect to "
                                    "{1}".format(other, host), host=other))
            continue
        route = Route(other, CATCH_ALL, PREFIX, "/", [EVERY_PATH], [], ref, age)
        route.redirect = redirect(308, authority=host)
        routes[other] = {route.key(): route}


def slash_redirects(run, routes):
    """What nginx answers itself: a request for a location's path less its final `/` gets a 301
    to the location (proxy_pass locations redirect so), unless a location of exactly that path
    exists. ingress-nginx renders Prefix /foo/ so (`location /foo/`, `location = /foo/`), and an
    Exact path ending in `/` as written. Hosts in regex mode have only regex locations, which
    never redirect so.
    """
    for host, bucket in routes.items():
        if host in run.regex_hosts:
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


def duplicate_locations(run, routes):
    """Ingress sets nginx refuses: ingress-nginx renders a location twice (nginx.conf does not
    load, so ingress-nginx keeps its previous configuration and its admission webhook refuses
    the Ingress that would cause it).

    As getBackendServers (internal/ingress/controller/controller.go) adds locations: a path is
    added unless the first location of the same path has the same type (then the older one
    stays, or replaces the default `/`); then Prefix /a and /a/ both become `location /a/`
    (updateServerLocations). So Prefix /a beside Prefix /a/, or one path twice after the same
    path of another type (Exact / twice: the default `/` comes first), is refused.
    """
    findings = run.findings
    for host in sorted(run.locations):
        if host in run.regex_hosts:
            continue
        added = [("/", PREFIX, None)]
        for route in run.locations[host]:
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


def rewrite(rewrite, route):
    mode, target = rewrite
    if target == route.path:
        return None  # buildProxyPass: a target equal to the location's path renders no rewrite
    if mode == "regex" and route.category == REGEX:
        pattern = route.matches[0].value
        flags = "(?i)" if pattern.startswith("(?i)") else ""
        anchored = flags + "^" + pattern[len(flags):] + "$"
        return RegexRewrite(anchored, nginx_paths.nginx_substitution(anchored, target))
    # nginx replaces the whole path when the location matches; its regex `(?i)<path>` has no
    # groups here, so $1..$9 are empty.
    return FullPathRewrite(re.sub(r"\$\d", "", target))


def has_certificate(run, host):
    """Lua's lookup: the host's name, else its name with the first label as `*`."""
    if host in run.certificate_hosts:
        return True
    return "." in host and "*." + host.split(".", 1)[1] in run.certificate_hosts


def hosts_without_certificate(run, routes):
    """ingress-nginx answers HTTPS for every host, with its default certificate where no tls
    entry names one; the gateway serves such a host over plain HTTP only."""
    tls_servers, findings = run.tls_servers, run.findings
    if run.options.certificates == "external":
        return  # the load balancer ends TLS for every host, as before
    covered = set()
    for server in tls_servers.values():
        covered.update(server["hosts"])
    missing = {}
    for host, owner in sorted(run.host_owners.items()):
        wildcard = "*." + host.split(".", 1)[1] if "." in host else None
        if host in covered or wildcard in covered or host in run.passthrough:
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


# What ingress-nginx adds to its servers once every Ingress is read, in the order it applies:
# each step takes the run's context and the routes by host, and adds, replaces or refuses routes.
# A feature of this kind is one function here and its place in this list.
SERVER_PASSES = (app_root_redirects, www_redirects, slash_redirects, duplicate_locations, hosts_without_certificate,
                 client_certificates)


def _aliases(value):
    """The names of a server-alias value, as ingress-nginx's alias parser reads them."""
    return sorted(set(part.strip() for part in str(value).split(",") if part.strip()))


def with_server_aliases(run, selected, findings):
    """server-alias: the host's nginx server also answers the alias names, with every location of
    that server (of every Ingress on the host). Returned as copies of those Ingresses with a rule
    for each alias beside the host's (the objects given are not changed); run.alias_hosts names them.

    As createServers does: the oldest non-canary Ingress with aliases on a host sets them; a name an
    Ingress rule serves, or the host itself, is dropped. The alias gets no certificate here (a tls
    entry names the hosts a Secret is for): HTTPS for it is reported as served by ingress-nginx's
    default certificate, as it is when the host's certificate does not cover the alias.
    """
    classless = run.options.classless_controller
    nginx_ingresses = [i for i in selected if (ingress_class(i) or classless) != "istio"]
    rule_hosts, chosen = set(), {}
    for ingress in nginx_ingresses:
        annotations = as_dict(as_dict(ingress["metadata"]).get("annotations"))
        rules = [as_dict(rule) for rule in as_list(as_dict(ingress.get("spec")).get("rules"))]
        if _truthy(annotations.get(NGINX + "canary")):
            continue
        hosts = [rule.get("host") for rule in rules if isinstance(rule.get("host"), str) and rule.get("host")]
        rule_hosts.update(hosts)
        value = annotations.get(NGINX + "server-alias")
        if value is None or not _aliases(value):
            continue
        ref = run.refs[id(ingress)]
        for host in hosts:
            if host in chosen:
                if chosen[host][1] != _aliases(value):
                    findings.append(Finding("ingress", ref, INFO, "server-alias-skipped",
                                            "{0}server-alias on {1} is not used: the older {2} already sets the "
                                            "host's aliases, as ingress-nginx does".format(NGINX, host,
                                                                                           chosen[host][0])))
                continue
            chosen[host] = (ref, _aliases(value))
    aliases_of, taken = {}, {}
    for host in sorted(chosen):
        ref, names = chosen[host]
        for alias in names:
            if alias == host:
                continue
            if alias in rule_hosts:
                findings.append(Finding("ingress", ref, INFO, "server-alias-ignored",
                                        "{0}server-alias {1} of {2} is dropped: an Ingress serves {1} itself, as "
                                        "ingress-nginx drops it".format(NGINX, alias, host), host=alias))
            elif "*" in alias or not valid_host(alias):
                findings.append(Finding("ingress", ref, ERROR, "serving-would-change",
                                        "{0}server-alias {1!r} of {2} is not a host name (nginx reads it as a "
                                        "server_name pattern); the gateway cannot serve it, so requests for it "
                                        "would not be served".format(NGINX, alias[:80], host), host=alias[:253]))
            elif alias in taken:
                findings.append(Finding("ingress", ref, WARNING, "server-alias-conflict",
                                        "{0}server-alias {1} of {2} is also an alias of {3}; nginx serves it from "
                                        "the first server, {3}, and so does the translation".format(
                                            NGINX, alias, host, taken[alias]), host=alias))
            else:
                taken[alias] = host
                aliases_of.setdefault(host, []).append(alias)
    if not aliases_of:
        return selected
    run.alias_hosts = set(taken)
    expanded = []
    for ingress in selected:
        spec = as_dict(ingress.get("spec"))
        rules = as_list(spec.get("rules"))
        extra = [dict(as_dict(rule), host=alias) for rule in rules if isinstance(rule, dict)
                 for alias in aliases_of.get(rule.get("host"), ())]
        if not extra or ingress not in nginx_ingresses or _truthy(
                as_dict(as_dict(ingress["metadata"]).get("annotations")).get(NGINX + "canary")):
            expanded.append(ingress)
            continue
        copy = dict(ingress, spec=dict(spec, rules=list(rules) + extra))
        run.refs[id(copy)] = run.refs[id(ingress)]
        expanded.append(copy)
    return expanded
