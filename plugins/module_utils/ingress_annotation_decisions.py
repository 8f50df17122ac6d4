# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The decision on every ingress-nginx annotation, per output API: the one home of that table.

Every annotation ingress-nginx's annotation parsers read (`internal/ingress/annotations/`, the
pinned controller's own list; tests/integration/test_annotation_decisions.py compares the two) has
one `Decision` per output API:

- `translated`: kept (how, and which test proves it, are in `how` and `proof`);
- `error`: not kept, and access or serving would change (a request the Ingress refused would get
  through, or one it served would not be served as before): `apply` refuses unless the loss is
  accepted;
- `warning`: not kept, a tuning knob without a routing or access effect; `why` says what is lost.

`needs` names the annotation without which ingress-nginx ignores this one (its parser returns
"missing annotation" for the group): then the decision does not apply and the annotation gets a
warning saying it had no effect. docs/ingress-translation.md's annotation table is rendered from
this module (`decision_table`, checked by a unit test). Pure data and logic, no Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
from collections import namedtuple

TRANSLATED, ERROR, WARNING = "translated", "error", "warning"

# code: the finding's code when not translated (access-control-lost, serving-would-change,
# unsupported-annotation); needs: see the module docstring.
Decision = namedtuple("Decision", "istio gateway_api code why how proof needs")

ISTIOD = "istiod output"
NGINX_DIFFERENTIAL = "routing: nginx differential"
ACCESS = "access-control-lost"
SERVING = "serving-would-change"
TUNING = "unsupported-annotation"

# Annotations later ingress-nginx releases read that the pinned controller (1.11) does not, with
# the release that added them: decided here all the same, as clusters run those releases.
LATER_RELEASES = {"temporal-redirect-code": "1.12", "proxy-busy-buffers-size": "1.13", "relative-redirects": "1.14"}
# Names ingress-nginx reads as another annotation of the same meaning (AnnotationAliases).
ALIASES = {"whitelist-source-range": "allowlist-source-range", "limit-whitelist": "limit-allowlist"}


def _translated(how, proof, gateway_api=TRANSLATED, why="", needs=None):
    return Decision(TRANSLATED, gateway_api, TUNING if gateway_api == WARNING else ACCESS, why, how, proof, needs)


def _refused(code, why, needs=None):
    severity = WARNING if code == TUNING else ERROR
    return Decision(severity, severity, code, why, "", "", needs)


def _tuning(why, needs=None):
    return _refused(TUNING, why, needs)


_ROUTING = NGINX_DIFFERENTIAL
_AUTH = "authentication would be lost: requests it refused would reach the backend"
_BASIC = "basic or digest authentication would be lost: requests it refused would reach the backend"
# Why the per-client limits are not translated: their meaning is not one Istio can keep.
_PER_CLIENT = ("ingress-nginx counts {0} per client address ($binary_remote_addr) in each controller replica; Istio has "
               "no rate-limit API (only EnvoyFilter patches, which this collection does not write), and a "
               "connectionPool limit in a DestinationRule counts all clients together, so it would refuse clients "
               "nginx served: requests it refused would reach the backend")
_GLOBAL = ("ingress-nginx counts requests in a shared memcached per key and window; Istio's global rate limiting "
           "needs a rate-limit service and EnvoyFilter patches, which this collection does not write: requests it "
           "refused would reach the backend")
_WAF = "the web application firewall would be lost: requests it blocked would reach the backend"
_BUFFERING = "buffering between nginx and the backend; Envoy streams and buffers by its own limits"
_AUTH_TUNING = "a detail of the request to the auth service (Istio's extension provider sends its own)"

DECISIONS = {
    # --- routing: kept, and proven against real nginx running ingress-nginx's own configuration
    "ssl-redirect": _translated("per-route 308 redirect to https on port 80 (default on with TLS)", _ROUTING),
    "force-ssl-redirect": _translated("per-route 308 redirect to https on port 80", _ROUTING),
    "preserve-trailing-slash": _translated("the https redirect keeps a trailing slash", _ROUTING),
    "rewrite-target": _translated("rewrite.uriRegexRewrite replacing the whole path (Gateway API: URLRewrite; a "
                                  "target with capture groups is an error there)", _ROUTING),
    "use-regex": _translated("every path of the host becomes a regex, as nginx orders them", _ROUTING),
    "app-root": _translated("302 redirect of exact /", _ROUTING),
    "canary": _translated("marks the Ingress as a canary of the stable one", _ROUTING),
    "canary-weight": _translated("weighted destinations", _ROUTING),
    "canary-weight-total": _translated("the weights' total, as balancer.lua draws", _ROUTING),
    "canary-by-header": _translated("header-match routes before the stable one", _ROUTING),
    "canary-by-header-value": _translated("the exact value of the canary header", _ROUTING),
    "canary-by-header-pattern": _translated("a regex match of the canary header's value", _ROUTING),
    "canary-by-cookie": _translated("a match of the cookie's value always/never in the Cookie header", _ROUTING),
    "permanent-redirect": _translated("redirect (301 or the given code)", _ROUTING),
    "permanent-redirect-code": _translated("the redirect's code", _ROUTING),
    "temporal-redirect": _translated("redirect (302 or the given code)", _ROUTING),
    "temporal-redirect-code": _translated("the redirect's code (ingress-nginx 1.12 and later)", _ROUTING),
    "from-to-www-redirect": _translated("308 from the other name (www. added or removed)", _ROUTING),
    "ssl-passthrough": _translated("a TLS server in PASSTHROUGH mode routed on SNI", ISTIOD),
    "default-backend": _tuning("the Service that answers when the backend has no endpoints, or for "
                               "custom-http-errors: the gateway answers 503 itself instead"),
    "server-alias": _translated("the alias names get every route of the host (of every Ingress on it), as the "
                                "host's nginx server answers them; a name an Ingress serves is dropped, as "
                                "ingress-nginx drops it; a server_name pattern is an error", _ROUTING),
    # --- backend and request
    "upstream-vhost": _translated("the Host header set for the backend", ISTIOD),
    "x-forwarded-prefix": _translated("the X-Forwarded-Prefix header set for the backend", ISTIOD),
    "proxy-read-timeout": _translated("route timeout (the larger of read and send)", ISTIOD),
    "proxy-send-timeout": _translated("route timeout (the larger of read and send)", ISTIOD),
    "proxy-connect-timeout": _translated("DestinationRule connectionPool.tcp.connectTimeout", ISTIOD),
    "backend-protocol": _translated("DestinationRule tls SIMPLE for HTTPS/GRPCS; FCGI is an error", ISTIOD),
    "service-upstream": _translated("nothing to write: Envoy balances over the Service's endpoints either way",
                                    ISTIOD),
    "enable-cors": _translated("corsPolicy with ingress-nginx's defaults", ISTIOD, WARNING,
                               "the Gateway API standard channel has no CORS filter"),
    "cors-allow-origin": _translated("corsPolicy.allowOrigins", ISTIOD, WARNING, "see enable-cors"),
    "cors-allow-methods": _translated("corsPolicy.allowMethods", ISTIOD, WARNING, "see enable-cors"),
    "cors-allow-headers": _translated("corsPolicy.allowHeaders", ISTIOD, WARNING, "see enable-cors"),
    "cors-expose-headers": _translated("corsPolicy.exposeHeaders", ISTIOD, WARNING, "see enable-cors"),
    "cors-allow-credentials": _translated("corsPolicy.allowCredentials", ISTIOD, WARNING, "see enable-cors"),
    "cors-max-age": _translated("corsPolicy.maxAge", ISTIOD, WARNING, "see enable-cors"),
    "affinity": _translated("DestinationRule consistentHash.httpCookie", ISTIOD),
    "session-cookie-name": _translated("the hash cookie's name", ISTIOD),
    "session-cookie-path": _translated("the hash cookie's path", ISTIOD),
    "session-cookie-max-age": _translated("the hash cookie's TTL", ISTIOD),
    "session-cookie-expires": _translated("the hash cookie's TTL when session-cookie-max-age is unset", ISTIOD),
    "session-cookie-domain": _translated("the hash cookie's Domain attribute", ISTIOD),
    "session-cookie-secure": _translated("the hash cookie's Secure attribute", ISTIOD),
    "session-cookie-samesite": _translated("the hash cookie's SameSite attribute", ISTIOD),
    "session-cookie-conditional-samesite-none": _tuning("SameSite=None only for browsers that take it (nginx reads "
                                                        "the User-Agent); Envoy sets the same attributes for every "
                                                        "client", needs="affinity"),
    "session-cookie-change-on-failure": _tuning("a new cookie when the sticky backend fails; Envoy rehashes",
                                                needs="affinity"),
    "affinity-mode": _tuning("balanced or persistent stickiness when backends scale; Envoy's ring hash moves some "
                             "sessions when they do"),
    "affinity-canary-behavior": _tuning("whether a sticky session stays on the canary"),
    "upstream-hash-by": _translated("DestinationRule consistentHash on the client address ($remote_addr), a header "
                                    "($http_*), a cookie ($cookie_*) or a query argument ($arg_*); any other "
                                    "expression is a warning (hash-key-not-translated)", ISTIOD),
    "upstream-hash-by-subset": _tuning("hash subsets"),
    "upstream-hash-by-subset-size": _tuning("hash subsets"),
    "load-balance": _translated("DestinationRule simple ROUND_ROBIN, or LEAST_REQUEST for ewma (info); the chash "
                                "and sticky values are a warning", ISTIOD),
    "proxy-next-upstream": _translated("route retries on connection failures (error), and on the statuses "
                                       "(http_5xx...) with non_idempotent; off: no retries", ISTIOD, WARNING,
                                       "HTTPRoute retries are not in Gateway API's standard channel"),
    "proxy-next-upstream-timeout": _tuning("the time budget of nginx's retries"),
    "proxy-next-upstream-tries": _translated("the retries' attempts (tries less the first)", ISTIOD, WARNING,
                                             "see proxy-next-upstream"),
    "proxy-body-size": _tuning("the request body limit: bodies above it that nginx answered 413 reach the "
                               "backend"),
    "client-body-buffer-size": _tuning(_BUFFERING),
    "proxy-buffer-size": _tuning(_BUFFERING),
    "proxy-buffering": _tuning(_BUFFERING),
    "proxy-buffers-number": _tuning(_BUFFERING),
    "proxy-busy-buffers-size": _tuning(_BUFFERING),
    "proxy-max-temp-file-size": _tuning(_BUFFERING),
    "proxy-request-buffering": _tuning(_BUFFERING),
    "proxy-http-version": _tuning("the HTTP version nginx speaks to the backend; Envoy picks it from the port's "
                                  "protocol"),
    "connection-proxy-header": _tuning("the Connection header sent to the backend"),
    "proxy-cookie-domain": _refused(SERVING, "Set-Cookie domains the backend sends would reach clients unrewritten"),
    "proxy-cookie-path": _refused(SERVING, "Set-Cookie paths the backend sends would reach clients unrewritten"),
    "proxy-redirect-from": _refused(SERVING, "Location headers the backend sends would reach clients unrewritten"),
    "proxy-redirect-to": _refused(SERVING, "Location headers the backend sends would reach clients unrewritten"),
    "relative-redirects": _tuning("whether nginx's own redirects are relative (ingress-nginx 1.14 and later)"),
    "use-port-in-redirects": _tuning("the port in the Location of nginx's own redirects"),
    "custom-headers": _tuning("response headers from a ConfigMap are not added"),
    "custom-http-errors": _tuning("the backend's error responses reach clients instead of the default backend's "
                                  "pages"),
    "disable-proxy-intercept-errors": _tuning("see custom-http-errors"),
    "fastcgi-index": _refused(SERVING, "FastCGI backends cannot be spoken to by Envoy"),
    "fastcgi-params-configmap": _refused(SERVING, "FastCGI backends cannot be spoken to by Envoy"),
    "mirror-target": _tuning("the mirror stops receiving copies of requests; clients' answers do not change"),
    "mirror-host": _tuning("see mirror-target"),
    "mirror-request-body": _tuning("see mirror-target"),
    # --- backend TLS
    "proxy-ssl-secret": _refused(SERVING, "the client certificate nginx presents to the backend would not be sent; "
                                          "a backend that requires it refuses the connection"),
    "proxy-ssl-verify": _refused(ACCESS, "the backend's certificate would no longer be verified"),
    "proxy-ssl-name": _refused(SERVING, "the name verified and sent as SNI to the backend would change"),
    "proxy-ssl-server-name": _refused(SERVING, "whether SNI is sent to the backend would change"),
    "proxy-ssl-verify-depth": _tuning("the verification depth of the backend's certificate", needs="proxy-ssl-secret"),
    "proxy-ssl-ciphers": _tuning("the ciphers offered to the backend", needs="proxy-ssl-secret"),
    "proxy-ssl-protocols": _tuning("the TLS versions offered to the backend", needs="proxy-ssl-secret"),
    "ssl-ciphers": _tuning("the ciphers the gateway offers clients are Istio's defaults"),
    "ssl-prefer-server-ciphers": _tuning("the cipher preference of the gateway is Istio's default"),
    # --- access: sources, authentication, limits, firewall
    "allowlist-source-range": _translated("AuthorizationPolicy DENY with notRemoteIpBlocks", ISTIOD),
    "denylist-source-range": _translated("AuthorizationPolicy DENY with remoteIpBlocks", ISTIOD),
    "auth-url": _translated("AuthorizationPolicy CUSTOM with an ext_authz extension provider (an in-cluster "
                            "Service; any other URL is an error)", ISTIOD),
    "auth-response-headers": _translated("the provider's headersToUpstreamOnAllow", ISTIOD),
    "auth-signin": _tuning("the redirect to the sign-in page: a refused request gets the auth service's answer "
                           "(401) instead", needs="auth-url"),
    "auth-signin-redirect-param": _tuning("goes with auth-signin", needs="auth-url"),
    "auth-method": _tuning("Envoy's ext_authz sends the request's own method to the auth service", needs="auth-url"),
    "auth-cache-key": _tuning("ext_authz answers are not cached", needs="auth-url"),
    "auth-cache-duration": _tuning("ext_authz answers are not cached", needs="auth-url"),
    "auth-always-set-cookie": _tuning("cookies from the auth service reach the client only on a refusal",
                                      needs="auth-url"),
    "auth-request-redirect": _tuning("X-Auth-Request-Redirect is not sent to the auth service", needs="auth-url"),
    "auth-proxy-set-headers": _tuning("headers sent to the auth service are Authorization and Cookie (extension "
                                      "provider)", needs="auth-url"),
    "auth-keepalive": _tuning(_AUTH_TUNING, needs="auth-url"),
    "auth-keepalive-requests": _tuning(_AUTH_TUNING, needs="auth-url"),
    "auth-keepalive-timeout": _tuning(_AUTH_TUNING, needs="auth-url"),
    "auth-keepalive-share-vars": _tuning(_AUTH_TUNING, needs="auth-url"),
    "auth-snippet": _refused(ACCESS, "nginx directives in the auth request would be lost", needs="auth-url"),
    "enable-global-auth": _tuning("opts the Ingress out of the ConfigMap's global-auth-url, which is not carried over"),
    "auth-type": _refused(ACCESS, _BASIC),
    "auth-secret": _refused(ACCESS, _BASIC, needs="auth-type"),
    "auth-secret-type": _refused(ACCESS, _BASIC, needs="auth-type"),
    "auth-realm": _refused(ACCESS, _BASIC, needs="auth-type"),
    "auth-tls-secret": _translated("an HTTPS server per certificate, CA and mode (tls.mode MUTUAL; Gateway API: a "
                                   "listener with istiod's gateway.istio.io/tls-terminate-mode option), its "
                                   "credential a copy of the certificate with the CA's ca.crt; the ssl-client-* "
                                   "request headers from Envoy's view of the peer certificate", ISTIOD),
    "auth-tls-verify-client": _translated("on: MUTUAL; optional: OPTIONAL_MUTUAL (without ssl-client-verify, a "
                                          "warning); off: no certificate asked; optional_no_ca: an error (Istio "
                                          "verifies every certificate it asks for)", ISTIOD, needs="auth-tls-secret"),
    "auth-tls-verify-depth": _tuning("Istio's gateway sets no verification depth: certificates of intermediate CAs "
                                     "under the CA are accepted too (a certificate must still chain to that CA)",
                                     needs="auth-tls-secret"),
    "auth-tls-error-page": _tuning("clients without a valid certificate get a TLS alert from the gateway, not a "
                                   "redirect to the page; they are refused either way", needs="auth-tls-secret"),
    "auth-tls-pass-certificate-to-upstream": _translated("ssl-client-cert from Envoy's %DOWNSTREAM_PEER_CERT% (the "
                                                         "URL-encoded PEM, as $ssl_client_escaped_cert)", ISTIOD,
                                                         needs="auth-tls-secret"),
    "auth-tls-match-cn": _refused(ACCESS, "the check of the certificate's subject would be lost: any certificate of "
                                  "the CA would get through", needs="auth-tls-secret"),
    "satisfy": _refused(ACCESS, "whether authentication or the source allow-list suffices would be lost"),
    "limit-connections": _refused(ACCESS, _PER_CLIENT.format("connections")),
    "limit-rps": _refused(ACCESS, _PER_CLIENT.format("requests a second")),
    "limit-rpm": _refused(ACCESS, _PER_CLIENT.format("requests a minute")),
    "limit-burst-multiplier": _tuning("the burst of limit-rps/-rpm"),
    "limit-allowlist": _tuning("addresses exempt from the limits"),
    "limit-rate": _tuning("the response bandwidth per connection"),
    "limit-rate-after": _tuning("the unthrottled start of a response"),
    "global-rate-limit": _refused(ACCESS, _GLOBAL),
    "global-rate-limit-window": _refused(ACCESS, _GLOBAL, needs="global-rate-limit"),
    "global-rate-limit-key": _refused(ACCESS, _GLOBAL, needs="global-rate-limit"),
    "global-rate-limit-ignored-cidrs": _refused(ACCESS, _GLOBAL, needs="global-rate-limit"),
    "enable-modsecurity": _refused(ACCESS, _WAF),
    "enable-owasp-core-rules": _refused(ACCESS, _WAF),
    "modsecurity-snippet": _refused(ACCESS, _WAF),
    "modsecurity-transaction-id": _tuning("the firewall's transaction id"),
    # --- raw nginx configuration
    "configuration-snippet": _translated("its header directives with literal values (more_set_headers, "
                                         "more_clear_headers, add_header, proxy_set_header, more_set_input_headers) "
                                         "become route headers; `return` becomes a direct response or a redirect, "
                                         "`rewrite ... break` a whole-path regex rewrite, `rewrite` to a redirect "
                                         "a redirect when its regex takes every URI; another directive that can "
                                         "refuse, allow, redirect or answer requests (deny, if, set, a rewrite's "
                                         "last, auth_*...) is an error, any other a warning naming it",
                                         _ROUTING),
    "server-snippet": _refused(ACCESS, "read as nginx reads it, and not kept: a directive that can refuse, allow, "
                                       "redirect or answer requests (return, rewrite, if, location, deny, auth_*...) "
                                       "is an error naming it, any other a warning naming it"),
    "stream-snippet": _refused(SERVING, "the TCP/UDP servers it configures would not be served"),
    # --- observability
    "enable-access-log": _tuning("access logs are Envoy's (meshConfig.accessLogFile)"),
    "enable-rewrite-log": _tuning("nginx's rewrite log"),
    "enable-opentelemetry": _tuning("tracing is Istio's (meshConfig extension providers)"),
    "opentelemetry-operation-name": _tuning("tracing is Istio's"),
    "opentelemetry-trust-incoming-span": _tuning("tracing is Istio's"),
    "http2-push-preload": _tuning("HTTP/2 server push; browsers no longer use it"),
}
DECISIONS.update((alias, DECISIONS[name]) for alias, name in ALIASES.items())


def decision_of(short):
    """The Decision on annotation `short` (without the prefix), or None when ingress-nginx reads no
    such annotation."""
    return DECISIONS.get(short)


def outcome(short, output_api):
    decision = DECISIONS.get(short)
    if decision is None:
        return None
    return decision.gateway_api if output_api == "gateway-api" else decision.istio


def _cell(text):
    return text.replace("|", "\\|")


def decision_table():
    """The Markdown table of every decision, as docs/ingress-translation.md shows it."""
    lines = ["| Annotation | Istio output | Gateway API output | What happens | Proven by |", "|---|---|---|---|---|"]
    for short in sorted(DECISIONS):
        decision = DECISIONS[short]
        name = "`{0}`".format(short)
        if short in ALIASES:
            name += " (alias of `{0}`)".format(ALIASES[short])
        elif short in LATER_RELEASES:
            name += " ({0}+)".format(LATER_RELEASES[short])
        outcomes = []
        for api_outcome in (decision.istio, decision.gateway_api):
            outcomes.append(api_outcome if api_outcome == TRANSLATED else "{0} `{1}`".format(api_outcome, decision.code))
        what = decision.how if decision.istio == TRANSLATED else decision.why
        if decision.istio == TRANSLATED and decision.gateway_api != TRANSLATED:
            what += "; Gateway API: " + decision.why
        if decision.needs:
            what += " (only with `{0}`; without it ingress-nginx ignores it too: warning)".format(decision.needs)
        cells = (name, outcomes[0], outcomes[1], _cell(what), decision.proof or "-")
        lines.append("| {0} | {1} | {2} | {3} | {4} |".format(*cells))
    return "\n".join(lines) + "\n"


PREFIX = "nginx.ingress.kubernetes.io/"
# A finding about an annotation names it with its prefix; `name*` names a family (cors-*).
_NAMED = re.compile(re.escape(PREFIX) + r"([a-z0-9-]+)(\*)?")
_SEVERITY = {"warning": 1, "error": 2}


def coverage(annotated, findings, output_api):
    """{annotation: {"ingresses", "translated", "warning", "error", "decision"}}: how many Ingresses
    set each ingress-nginx annotation, and what became of it on each: the worst finding naming it
    on that Ingress, else its decision (`unknown` for a name ingress-nginx does not read).

    `annotated` is [(Ingress ref, {annotation: value})], `findings` the translation's findings.
    """
    named, families = {}, {}  # (ref, annotation) -> worst severity; ref -> [(family prefix, severity)]
    for finding in findings:
        rank = _SEVERITY.get(finding.severity)
        if rank is None:
            continue
        for found in _NAMED.finditer(finding.message):
            if found.group(2):
                families.setdefault(finding.ref, []).append((found.group(1), rank))
            else:
                key = (finding.ref, found.group(1))
                named[key] = max(named.get(key, 0), rank)
    table = {}
    for ref, annotations in annotated:
        for key in annotations:
            if not isinstance(key, str) or not key.startswith(PREFIX):
                continue
            short = key[len(PREFIX):]
            by_family = [level for family, level in families.get(ref, ()) if short.startswith(family)]
            rank = max([named.get((ref, short), 0)] + by_family)
            decided = outcome(short, output_api) or "unknown"
            entry = table.setdefault(short, {"ingresses": 0, TRANSLATED: 0, WARNING: 0, ERROR: 0, "decision": decided})
            entry["ingresses"] += 1
            if rank == 2:
                entry[ERROR] += 1
            elif rank == 1 or decided == "unknown":
                entry[WARNING] += 1
            elif decided == TRANSLATED:
                entry[TRANSLATED] += 1
            else:
                entry[decided] += 1
    return dict(sorted(table.items()))
