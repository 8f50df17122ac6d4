# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ingress-nginx annotations: what each family means for the routes and policies of one Ingress.

One small handler per annotation family, each reading the Ingress's annotations through an
`Annotations` context and writing route options (`context.options`), gateway policies
(`context.policies`) and findings. `route_options` runs them all; ingress.py applies the options
to the Ingress's routes. Pure logic, no Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

from .findings import ERROR, INFO, WARNING, Finding
from .names import is_dns1123_label, short_hash
from .ingress_input import re2_problem
from .ingress_model import Cors, Redirect, RegexRewrite, Retries
from .ingress_annotation_decisions import ERROR as REFUSED, TRANSLATED, decision_of
from .nginx_paths import nginx_substitution
from .nginx_snippet import SnippetError, every_uri, read as read_snippet, server_directives

NGINX = "nginx.ingress.kubernetes.io/"

# Annotation prefixes of other Ingress controllers (NGINX Inc., Traefik, HAProxy, Kong, AWS, GKE,
# Contour): never silently ignored.
OTHER_CONTROLLER_DOMAINS = ("nginx.org", "traefik.ingress.kubernetes.io", "haproxy.org", "haproxy.router.openshift.io",
                            "konghq.com", "alb.ingress.kubernetes.io", "ingress.kubernetes.io",
                            "projectcontour.io", "ingress.gcp.kubernetes.io", "networking.gke.io")

CORS_DEFAULTS = {
    "cors-allow-methods": "GET, PUT, POST, DELETE, PATCH, OPTIONS",
    "cors-allow-headers": "DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,"
                          "Content-Type,Range,Authorization",
    "cors-allow-origin": "*",
    "cors-max-age": "1728000",
}


# ASCII digits only: Python's int() and str.isdigit() also take "\u00b2" and other Unicode digits,
# which ingress-nginx (Go) never reads as numbers. Nine digits keep every value a sane int.
_DECIMAL = re.compile(r"[0-9]{1,9}\Z")
# The redirect codes Envoy (and so a VirtualService) can send.
REDIRECT_CODES = (301, 302, 303, 307, 308)


def number(value):
    """A non-negative decimal written in ASCII digits, or None."""
    text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    return int(text) if _DECIMAL.match(text) else None


def truthy(value):
    # Unset is by far the most common value: answered without building strings.
    return value is not None and str(value).strip().lower() == "true"


def source_ranges(value):
    """(CIDRs as ipaddress normalises them, the parts that are not CIDRs)."""
    valid, invalid = [], []
    for part in str(value).split(","):
        part = part.strip()
        if not part:
            continue
        try:
            valid.append(str(ipaddress.ip_network(part, strict=False)))
        except ValueError:
            invalid.append(part)
    return valid, invalid


def parse_redirect(url, code, default_code):
    """The Redirect a redirect annotation's URL or path asks for, or None."""
    match = re.match(r"(?:(https?)://([^/\s]+))?(/\S*)?\Z", url)
    if not match or not (match.group(2) or match.group(3)):
        return None
    found = number(code)
    return Redirect(found if found in REDIRECT_CODES else default_code, match.group(1) or None, match.group(2) or None,
                    match.group(3) or "/")


def in_cluster_url(url, cluster_domain):
    """(service FQDN, port, path) of an http(s) URL that names a Service in the cluster, or None."""
    match = re.match(r"(https?)://([a-z0-9.-]+)(?::(\d{1,5}))?(/[^\s$?#]*)?\Z", url)
    if not match:
        return None
    scheme, host, port, path = match.groups()
    parts = host.split(".")
    suffix = ["svc"] + cluster_domain.split(".")
    if len(parts) == 2 or parts[2:] == ["svc"] or parts[2:] == suffix:
        if not all(is_dns1123_label(p) for p in parts[:2]):
            return None
        number = int(port) if port else (443 if scheme == "https" else 80)
        if not 0 < number < 65536:
            return None
        return "{0}.{1}.svc.{2}".format(parts[0], parts[1], cluster_domain), number, path or ""
    return None


class Annotations:
    """One Ingress's annotations, and what its handlers produce."""

    def __init__(self, annotations, ref, findings, policies, destinations, hosts, cluster_domain):
        self.annotations = annotations
        self.ref = ref
        self.findings = findings
        # ("dr", service, namespace) / ("ap", ref) / ("ext", ref) -> entries, for the output
        self.policies = policies
        self.destinations = destinations  # the Destinations of the Ingress's backends
        self.hosts = hosts
        self.cluster_domain = cluster_domain
        self.options = {}  # per-route behaviour, applied by ingress.py
        self.auth = None  # the extension provider of a translated auth-url; False if it was refused

    def get(self, short):
        return self.annotations.get(NGINX + short)

    def finding(self, severity, code, message):
        self.findings.append(Finding("ingress", self.ref, severity, code, message))


# --- handlers, one per family ----------------------------------------------------------------

def external_auth(context):
    """auth-url of an in-cluster Service: an Envoy ext_authz provider and a CUSTOM policy.

    Sets `context.auth` to the provider; False when auth-url cannot be kept (reported here as an
    `access-control-lost` error, as the other auth-* annotations then are).
    """
    url = context.get("auth-url")
    if not url:
        return
    target = in_cluster_url(str(url), context.cluster_domain)
    if target is None:
        context.auth = False
        context.finding(ERROR, "access-control-lost",
                        "{0}auth-url={1!r} is not translated: only http(s) URLs of a Service in the cluster, "
                        "without nginx variables, become an Istio extension provider; authentication would be "
                        "lost".format(NGINX, str(url)[:120]))
        return
    service, port, path = target
    provider = {"name": "ingress-auth-" + short_hash("{0}:{1}{2}".format(service, port, path)),
                "envoyExtAuthzHttp": {"service": service, "port": port,
                                      "includeRequestHeadersInCheck": ["authorization", "cookie"],
                                      "headersToDownstreamOnDeny": ["content-type", "set-cookie", "location",
                                                                    "www-authenticate"]}}
    if path not in ("", "/"):
        provider["envoyExtAuthzHttp"]["pathPrefix"] = path
    upstream = [h.strip() for h in str(context.get("auth-response-headers") or "").split(",") if h.strip()]
    if upstream:
        provider["envoyExtAuthzHttp"]["headersToUpstreamOnAllow"] = upstream
    context.policies.setdefault(("ext", context.ref), []).append((provider, sorted(context.hosts)))
    context.finding(WARNING, "extension-provider-required",
                    NGINX + "auth-url becomes a CUSTOM AuthorizationPolicy with extension provider {0}: register it "
                    "(adoptmesh_extension_providers, from this module's extension_providers) before applying; until "
                    "then istiod denies every request the policy covers".format(provider["name"]))
    context.auth = provider


def unhandled(context):
    """A finding for every annotation no handler keeps, from its decision
    (ingress_annotation_decisions): nothing is dropped silently."""
    for key in sorted(context.annotations):
        if key.startswith(NGINX):
            short = key[len(NGINX):]
            decision = decision_of(short)
            if decision is None:
                context.finding(WARNING, "unknown-annotation",
                                "{0}: ingress-nginx reads no annotation of this name, so it had no effect there "
                                "either (a typo?)".format(key))
            elif decision.needs and context.get(decision.needs) is None:
                context.finding(WARNING, "annotation-without-effect",
                                "{0} is not translated: ingress-nginx ignores it without {1}{2}, and so does this "
                                "translation".format(key, NGINX, decision.needs))
            elif decision.istio == TRANSLATED or (short == "auth-url" and context.auth is False) \
                    or short == "server-snippet":
                continue  # its handler keeps it, or reports why not (auth-url, server-snippet)
            elif decision.istio == REFUSED:
                context.finding(ERROR, decision.code, "{0} is not translated: {1}".format(key, decision.why))
            else:
                context.finding(WARNING, decision.code, "{0} is not translated: {1}".format(key, decision.why))
        elif "/" in key and key.split("/", 1)[0].endswith(OTHER_CONTROLLER_DOMAINS):
            context.finding(WARNING, "other-controller-annotation",
                            "{0} belongs to another Ingress controller; it is not translated".format(key))


def https_redirect(context):
    """ssl-redirect (on by default where the Ingress has TLS) and force-ssl-redirect."""
    ssl_redirect = context.get("ssl-redirect")
    context.options["force_https"] = truthy(context.get("force-ssl-redirect"))
    context.options["ssl_redirect"] = ssl_redirect is None or truthy(ssl_redirect)


def rewrite(context):
    target = context.get("rewrite-target")
    if target is not None:
        # A rewrite-target makes every path of the host a regex (ingress._regex_hosts), so $N captures work.
        context.options["rewrite"] = ("regex", str(target))


def timeouts(context):
    """proxy-read-timeout and proxy-send-timeout: one route timeout, the larger."""
    for key in ("proxy-read-timeout", "proxy-send-timeout"):
        raw = context.get(key)
        if raw is None:
            continue
        seconds = number(raw)
        if seconds is None:
            # ingress-nginx reads these as whole seconds and ignores anything else ("30s"): its
            # default applies, as it does here without the annotation.
            context.finding(WARNING, "invalid-annotation",
                            "{0}{1}={2!r} is not a whole number of seconds; ingress-nginx ignores it and keeps its "
                            "default, and so does this translation".format(NGINX, key, raw))
        else:
            context.options["timeout"] = max(context.options.get("timeout", 0), seconds)
    if "timeout" in context.options:
        context.finding(INFO, "timeout-approximated",
                        "nginx read/send timeouts are between two reads; the route timeout {0}s bounds the whole "
                        "request".format(context.options["timeout"]))


# ingress-nginx's defaults (the ConfigMap's proxy-next-upstream and proxy-next-upstream-tries).
NEXT_UPSTREAM_DEFAULT, NEXT_UPSTREAM_TRIES_DEFAULT = "error timeout", 3
_NEXT_UPSTREAM_STATUS = re.compile(r"http_([0-9]{3})\Z")


def retries(context):
    """proxy-next-upstream and -tries: when nginx tries the next backend, as route retries.

    `error` (no connection, or it broke before the answer) keeps the retries that cannot repeat a
    request the backend received: connection failures. Status codes (`http_502`...) and broken
    connections are retried by nginx only for idempotent methods unless `non_idempotent` is set;
    Envoy's retry policy cannot tell methods apart, so they are kept only with `non_idempotent`.
    """
    value, tries = context.get("proxy-next-upstream"), context.get("proxy-next-upstream-tries")
    if value is None and tries is None:
        return
    tokens = str(value if value is not None else NEXT_UPSTREAM_DEFAULT).split()
    count = number(tries) if tries is not None else NEXT_UPSTREAM_TRIES_DEFAULT
    if count is None:
        context.finding(WARNING, "invalid-annotation",
                        "{0}proxy-next-upstream-tries={1!r} is not a whole number; ingress-nginx ignores it and "
                        "keeps its default ({2}), and so does this translation".format(
                            NGINX, str(tries)[:40], NEXT_UPSTREAM_TRIES_DEFAULT))
        count = NEXT_UPSTREAM_TRIES_DEFAULT
    if "off" in tokens:
        context.options["retries"] = Retries(0, False, ())
        return
    non_idempotent = "non_idempotent" in tokens
    statuses = sorted(int(found.group(1)) for found in (_NEXT_UPSTREAM_STATUS.match(t) for t in tokens) if found)
    lost = [t for t in tokens if t in ("timeout", "invalid_header")]
    if statuses and not non_idempotent:
        lost.extend("http_{0}".format(status) for status in statuses)
        statuses = []
    unknown = [t for t in tokens if t not in ("error", "timeout", "invalid_header", "non_idempotent")
               and not _NEXT_UPSTREAM_STATUS.match(t)]
    if unknown:
        context.finding(WARNING, "invalid-annotation", "{0}proxy-next-upstream: {1} not a condition nginx knows; "
                        "left out".format(NGINX, ", ".join(repr(t[:20]) for t in unknown[:5])))
    if lost:
        context.finding(INFO, "retries-approximated",
                        "{0}proxy-next-upstream: {1} not kept: Envoy cannot retry on a timed-out read or an invalid "
                        "header, and would retry non-idempotent requests (POST...) on a status, which nginx does not "
                        "without non_idempotent; the route retries connection failures{2}".format(
                            NGINX, ", ".join(lost), " and " + ", ".join(str(s) for s in statuses) if statuses else ""))
    # nginx counts the first try among the tries; 0 means as many as there are backends.
    attempts = count - 1 if count else NEXT_UPSTREAM_TRIES_DEFAULT - 1
    context.options["retries"] = Retries(attempts, "error" in tokens, tuple(statuses))


def cors(context):
    if not truthy(context.get("enable-cors")):
        return

    def value(key):
        found = context.get(key)
        return str(found if found is not None else CORS_DEFAULTS.get(key, ""))

    def items(key):
        return [item.strip() for item in value(key).split(",") if item.strip()]

    context.options["cors"] = Cors(items("cors-allow-origin"), items("cors-allow-methods"), items("cors-allow-headers"),
                                   items("cors-expose-headers"),
                                   context.annotations.get(NGINX + "cors-allow-credentials", "true") != "false",
                                   number(value("cors-max-age")))


def request_headers(context):
    """upstream-vhost (the Host the backend sees) and x-forwarded-prefix."""
    headers = {}
    vhost = context.get("upstream-vhost")
    if vhost:
        headers["host"] = str(vhost)
    prefix = context.get("x-forwarded-prefix")
    if prefix:
        # ingress-nginx sends the annotation's value as X-Forwarded-Prefix to the backend.
        headers["x-forwarded-prefix"] = str(prefix)
    if headers:
        context.options["request_headers"] = headers


def configuration_snippet(context):
    """configuration-snippet: its header directives with literal values; the rest is reported, as an
    error where it could refuse, allow, redirect or answer requests (nginx_snippet)."""
    text = context.get("configuration-snippet")
    if text is None or not str(text).strip():
        return
    key = NGINX + "configuration-snippet"
    try:
        snippet = read_snippet(str(text))
    except SnippetError as error:
        context.finding(ERROR, "access-control-lost",
                        "{0} cannot be read as nginx configuration ({1}); ingress-nginx would not load it either, "
                        "and nothing of it is translated".format(key, error))
        return
    for severity, directive, why in snippet.lost:
        if severity == "error":
            context.finding(ERROR, "access-control-lost", "{0}: directive {1} is not translated: {2}".format(
                key, directive, why))
        elif severity == "warning":
            context.finding(WARNING, "snippet-directive-not-translated",
                            "{0}: directive {1} is not translated: {2}".format(key, directive, why))
        else:
            context.finding(INFO, "snippet-approximated", "{0}: directive {1}: {2}".format(key, directive, why))
    if snippet.request_set:
        headers = dict(snippet.request_set)
        for name, value in sorted((context.options.get("request_headers") or {}).items()):
            if name in headers and headers[name] != value:
                context.finding(WARNING, "snippet-directive-not-translated",
                                "{0}: request header {1} is also set by another annotation, whose value is kept".format(
                                    key, name))
            headers[name] = value
        context.options["request_headers"] = headers
    if snippet.response_set or snippet.response_remove:
        context.options["response_headers"] = {"set": dict(snippet.response_set), "remove": list(snippet.response_remove)}
    if snippet.answer is not None:
        _snippet_answer(context, key, snippet.answer)
    context.finding(INFO, "snippet-translated",
                    "{0}: its headers, returns and rewrites are kept as if the controller allowed snippet annotations "
                    "(allow-snippet-annotations: true); where it did not, nginx never applied them".format(key))


# Annotations whose checks run in nginx's access phase, after a location's `return`.
_ACCESS_PHASE = ("whitelist-source-range", "allowlist-source-range", "denylist-source-range", "auth-url", "auth-type")
# Annotations the template renders as rewrite directives after the snippet: they still run for the
# URIs a snippet's rewrite does not find.
_TEMPLATE_REWRITES = ("rewrite-target", "permanent-redirect", "temporal-redirect")


def _snippet_answer(context, key, answer):
    """What a configuration-snippet's `return` or `rewrite` makes of the location's requests
    (options["snippet_answer"]), or an error naming why it is not kept."""
    directive = "rewrite" if answer.pattern is not None else "return"
    if answer.kind != "rewrite":
        refused = [NGINX + name for name in _ACCESS_PHASE if context.get(name) is not None]
        if refused:
            context.finding(ERROR, "serving-would-change",
                            "{0}: its {1} answers before nginx's access checks ({2}), which the gateway applies "
                            "first: requests nginx answered would be refused".format(key, directive, ", ".join(refused)))
            return
    if answer.kind == "direct":
        context.options["snippet_answer"] = ("direct", answer.status, answer.body)
        if answer.body is None and answer.status >= 400:
            context.finding(INFO, "snippet-approximated",
                            "{0}: return {1}: the gateway answers {1} without nginx's error page".format(key, answer.status))
    elif answer.kind == "redirect":
        redirect = parse_redirect(answer.target, answer.status, answer.status)
        if redirect is None:
            context.finding(ERROR, "access-control-lost", "{0}: {1} to {2!r}: not an absolute URL or path".format(
                key, directive, answer.target[:60]))
        elif answer.pattern is not None and not every_uri(answer.pattern):
            context.finding(ERROR, "serving-would-change",
                            "{0}: rewrite {1!r} redirects only the URIs its regex finds, which a route of the "
                            "location cannot tell apart".format(key, answer.pattern[:60]))
        else:
            context.options["snippet_answer"] = ("redirect", redirect)
    else:
        problem = re2_problem(answer.pattern)
        later = [NGINX + name for name in _TEMPLATE_REWRITES if context.get(name) is not None]
        if later and not every_uri(answer.pattern):
            context.finding(ERROR, "serving-would-change",
                            "{0}: rewrite {1!r} ends nginx's rewrite directives only for the URIs it finds; for the "
                            "others {2} still applies, which a route cannot tell apart".format(
                                key, answer.pattern[:60], ", ".join(later)))
        elif problem:
            context.finding(ERROR, "serving-would-change", "{0}: rewrite {1!r}: {2}".format(
                key, answer.pattern[:60], problem))
        else:
            context.options["snippet_answer"] = ("rewrite", searched_rewrite(answer.pattern, answer.replacement))


def searched_rewrite(pattern, replacement):
    """nginx's `rewrite regex replacement break` as a whole-path RegexRewrite: nginx replaces the
    whole URI when the regex is found anywhere in it, Envoy substitutes what its regex matches, so
    the regex is widened to the whole path with non-capturing groups (the captures keep their
    numbers); a capture the regex lacks is empty, as in nginx."""
    flags = "(?i)" if pattern.startswith("(?i)") else ""
    body = pattern[len(flags):]
    widened = flags + "^(?:.*?)(?:" + body + ")(?:.*)$"
    return RegexRewrite(widened, nginx_substitution(widened, replacement))


def server_snippet(context):
    """server-snippet: each directive named, an error where it can refuse, allow, redirect or
    answer requests (nginx_snippet.server_directives); nothing of it is kept."""
    text = context.get("server-snippet")
    if text is None:
        return
    key = NGINX + "server-snippet"
    try:
        found = server_directives(str(text))
    except SnippetError as error:
        context.finding(ERROR, "access-control-lost", "{0} cannot be read as nginx configuration ({1}); ingress-nginx "
                        "would not load it either".format(key, error))
        return
    for severity, directive, why in found:
        if severity == ERROR:
            context.finding(ERROR, "access-control-lost", "{0}: directive {1} is not translated: {2}".format(
                key, directive, why))
        else:
            context.finding(WARNING, "snippet-directive-not-translated", "{0}: directive {1} is {2}".format(
                key, directive, why))


def redirects(context):
    """permanent-redirect and temporal-redirect, with their -code."""
    for key, code_key, default_code in (("permanent-redirect", "permanent-redirect-code", 301),
                                        ("temporal-redirect", "temporal-redirect-code", 302)):
        url = context.get(key)
        if not url:
            continue
        code = context.get(code_key)
        redirect = parse_redirect(str(url), code, default_code)
        if redirect is None:
            context.finding(ERROR, "invalid-annotation",
                            "{0}{1}={2!r} is not an absolute URL or path".format(NGINX, key, url))
            continue
        if code is not None and number(code) not in REDIRECT_CODES:
            context.finding(WARNING, "invalid-annotation",
                            "{0}{1}-code={2!r} is not a redirect code Envoy can send ({3}); {4} is used".format(
                                NGINX, key, code, ", ".join(str(c) for c in REDIRECT_CODES), default_code))
        elif key == "temporal-redirect" and code is not None and redirect.code != default_code:
            context.finding(INFO, "temporal-redirect-code-since-1-12",
                            "ingress-nginx reads {0}temporal-redirect-code from 1.12 on (1.11 and older answer 302): "
                            "the translation answers {1}, as 1.12 and later do".format(NGINX, redirect.code))
        context.options["redirect"] = redirect


def backend_policy(context):
    """DestinationRule traffic policy for the Ingress's backends: connect timeout, TLS, affinity."""
    traffic = {}
    connect = context.get("proxy-connect-timeout")
    if connect is not None:
        seconds = number(connect)
        if seconds is None:
            context.finding(WARNING, "invalid-annotation",
                            "{0}proxy-connect-timeout={1!r} is not a whole number of seconds; ingress-nginx ignores "
                            "it and keeps its default, and so does this translation".format(NGINX, connect))
        else:
            traffic["connectionPool"] = {"tcp": {"connectTimeout": "{0}s".format(seconds)}}
    protocol = str(context.get("backend-protocol") or "").upper()
    if protocol in ("HTTPS", "GRPCS"):
        traffic["tls"] = {"mode": "SIMPLE"}
    elif protocol == "GRPC":
        context.finding(INFO, "grpc-backend",
                        "backend-protocol GRPC: name the Service port grpc-* or set appProtocol: grpc so Istio speaks "
                        "HTTP/2 to it (Services are not modified here)")
    elif protocol == "FCGI":
        context.finding(ERROR, "fcgi-unsupported",
                        "backend-protocol FCGI cannot be spoken by Envoy; this Ingress's traffic is not routed as "
                        "before")
    balancer = load_balancer(context)
    if balancer:
        traffic["loadBalancer"] = balancer
    if traffic:
        for destination in context.destinations:
            context.policies.setdefault(("dr", destination.service, destination.namespace), []).append(
                (context.ref, traffic))


# upstream-hash-by values with an Envoy hash key: the client address, a header, a cookie, a query
# argument. nginx hashes any other expression ($request_uri, $host$uri...), which Envoy cannot.
_HASH_KEYS = (
    (re.compile(r"\$(?:binary_)?remote_addr\Z"), lambda found: {"useSourceIp": True}),
    (re.compile(r"\$http_([A-Za-z0-9_]+)\Z"), lambda found: {"httpHeaderName": found.group(1).lower().replace("_", "-")}),
    (re.compile(r"\$cookie_([A-Za-z0-9_]+)\Z"), lambda found: {"httpCookie": {"name": found.group(1)}}),
    (re.compile(r"\$arg_([A-Za-z0-9_]+)\Z"), lambda found: {"httpQueryParameterName": found.group(1)}),
)
# The SameSite values ingress-nginx accepts (session-cookie-samesite).
_SAMESITE = ("None", "Lax", "Strict")


def _affinity_cookie(context):
    """The cookie of affinity: cookie, as balancer/sticky.lua sets it: its name, path, lifetime
    (max-age, else expires, else a session cookie) and the attributes Envoy can add."""
    cookie = {"name": str(context.get("session-cookie-name") or "INGRESSCOOKIE")}
    if context.get("session-cookie-path"):
        cookie["path"] = str(context.get("session-cookie-path"))
    lifetime = number(context.get("session-cookie-max-age"))
    if lifetime is None:
        lifetime = number(context.get("session-cookie-expires"))
    cookie["ttl"] = "{0}s".format(lifetime or 0)
    attributes = []
    if truthy(context.get("session-cookie-secure")):
        attributes.append({"name": "Secure"})
    samesite = str(context.get("session-cookie-samesite") or "")
    if samesite in _SAMESITE:
        attributes.append({"name": "SameSite", "value": samesite})
    elif samesite:
        context.finding(WARNING, "invalid-annotation",
                        "{0}session-cookie-samesite={1!r} is not None, Lax or Strict; ingress-nginx ignores it, and "
                        "so does this translation".format(NGINX, samesite[:40]))
    if context.get("session-cookie-domain"):
        attributes.append({"name": "Domain", "value": str(context.get("session-cookie-domain"))})
    if attributes:
        cookie["attributes"] = attributes
    return cookie


def load_balancer(context):
    """DestinationRule loadBalancer in balancer.lua's order: affinity: cookie, else
    upstream-hash-by, else load-balance. None when Istio's default stays."""
    if str(context.get("affinity") or "").lower() == "cookie":
        return {"consistentHash": {"httpCookie": _affinity_cookie(context)}}
    hash_by = context.get("upstream-hash-by")
    if hash_by:
        text = str(hash_by).strip()
        key = next((make(found) for pattern, make in _HASH_KEYS for found in [pattern.match(text)] if found), None)
        if key is not None:
            return {"consistentHash": key}
        context.finding(WARNING, "hash-key-not-translated",
                        "{0}upstream-hash-by={1!r}: Envoy hashes on the client address, one header, one cookie or "
                        "one query argument only; requests are balanced without it, so a client is not pinned to "
                        "one backend".format(NGINX, text[:80]))
    balance = str(context.get("load-balance") or "").strip()
    if balance == "round_robin":
        return {"simple": "ROUND_ROBIN"}
    if balance == "ewma":
        context.finding(INFO, "load-balance-approximated",
                        "{0}load-balance=ewma (latency-weighted) becomes LEAST_REQUEST, the nearest Envoy "
                        "algorithm".format(NGINX))
        return {"simple": "LEAST_REQUEST"}
    if balance:
        known = balance in ("chash", "chashsubset", "sticky_balanced", "sticky_persistent")
        context.finding(WARNING, "unsupported-annotation" if known else "invalid-annotation",
                        "{0}load-balance={1!r} is not translated: Istio's default balancing applies".format(
                            NGINX, balance[:40]))
    return None


def source_range_policy(context):
    """whitelist-/allowlist-/denylist-source-range: an AuthorizationPolicy DENY on the gateway."""
    for key, negate in (("whitelist-source-range", True), ("allowlist-source-range", True),
                        ("denylist-source-range", False)):
        value = context.get(key)
        if not value:
            continue
        ranges, invalid = source_ranges(value)
        if invalid:
            # ingress-nginx refuses the whole annotation; a partial list would let through (or keep
            # out) traffic the Ingress did not.
            context.finding(ERROR, "invalid-annotation",
                            "{0}{1}: {2} not an IP range (CIDR); no source restriction could be translated".format(
                                NGINX, key, ", ".join(repr(p) for p in invalid)))
            continue
        if ranges:
            context.policies.setdefault(("ap", context.ref), []).append((negate, ranges, context.hosts))


# external_auth first: unhandled reads what it decided about auth-url.
HANDLERS = (external_auth, unhandled, https_redirect, rewrite, timeouts, retries, cors, request_headers,
            configuration_snippet, server_snippet, redirects,
            backend_policy, source_range_policy)


_NO_NGINX_ANNOTATIONS = []  # the options of an Ingress without ingress-nginx annotations, once known


def _without_nginx_annotations():
    """The options every handler gives when no ingress-nginx annotation is set, or None when they
    would depend on the Ingress (a finding or a policy from nothing): then no shortcut is taken."""
    if not _NO_NGINX_ANNOTATIONS:
        context = Annotations({}, "", [], {}, [], [], "cluster.local")
        for handler in HANDLERS:
            handler(context)
        _NO_NGINX_ANNOTATIONS.append(None if context.findings or context.policies else context.options)
    return _NO_NGINX_ANNOTATIONS[0]


def route_options(annotations, ref, findings, policies, destinations, hosts, cluster_domain):
    """Per-route options of one Ingress; DestinationRule and AuthorizationPolicy needs go to `policies`."""
    context = Annotations(annotations, ref, findings, policies, destinations, hosts, cluster_domain)
    defaults = _without_nginx_annotations()
    if defaults is not None and not any(key.startswith(NGINX) for key in annotations):
        # Most Ingresses set none: the handlers would each look up their keys in vain.
        unhandled(context)
        return dict(defaults)
    for handler in HANDLERS:
        handler(context)
    return context.options
