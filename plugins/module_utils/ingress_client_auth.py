# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Client-certificate authentication (`auth-tls-*`), as ingress-nginx applies it to a server.

ingress-nginx reads the annotations per Ingress (annotations/authtls) and applies them per server
(getBackendServers): the oldest Ingress of a host whose `auth-tls-secret` resolves sets
`ssl_verify_client` for the whole host, and one whose secret is refused makes the server answer
every request with 403. Every location of the host then sends the backend `ssl-client-verify`,
`ssl-client-subject-dn`, `ssl-client-issuer-dn` (and `ssl-client-cert` when asked), replacing
what the client sent.

The gateway keeps it with an HTTPS server of its own per certificate, CA and mode (`MUTUAL` for
`on`, `OPTIONAL_MUTUAL` for `optional`; on the Gateway API, a listener with istiod's
`gateway.istio.io/tls-terminate-mode` option) whose credential holds the CA, and route headers
from Envoy's own view of the peer certificate. What cannot be kept is an error or a warning naming
the annotation. No Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import re

from .findings import ERROR, INFO, WARNING, Finding
from .ingress_annotations import NGINX
from .ingress_input import as_dict, as_list, ingress_class, re2_problem, valid_host
from .names import stable_name

SECRET = NGINX + "auth-tls-secret"
VERIFY = NGINX + "auth-tls-verify-client"
DEPTH = NGINX + "auth-tls-verify-depth"
ERROR_PAGE = NGINX + "auth-tls-error-page"
PASS_CERTIFICATE = NGINX + "auth-tls-pass-certificate-to-upstream"
MATCH_CN = NGINX + "auth-tls-match-cn"

# The validators of annotations/authtls and annotations/parser, as ingress-nginx 1.15 has them.
_BASIC_CHARS = re.compile(r"[/\-._~a-zA-Z0-9:]*\Z")
_VERIFY_MODES = re.compile(r"(on|off|optional|optional_no_ca)\Z")
_ERROR_PAGE = re.compile(r"(@[A-Za-z0-9_-]+|((https?://)?[A-Za-z0-9\-.]+(:\d+)?)?(/[A-Za-z0-9\-_.]+)*/?)\Z")
_GO_BOOLS = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True,
             "0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False}
_GO_INT = re.compile(r"[+-]?[0-9]+\Z")

# The headers nginx sets for every location of a server with a CA (nginx.tmpl), and Envoy's
# spelling of the same values: the peer certificate's subject and issuer in RFC 2253 (nginx's
# $ssl_client_s_dn / $ssl_client_i_dn) and the URL-encoded PEM ($ssl_client_escaped_cert).
CLIENT_CERT = "ssl-client-cert"
CLIENT_VERIFY = "ssl-client-verify"
CLIENT_SUBJECT = "ssl-client-subject-dn"
CLIENT_ISSUER = "ssl-client-issuer-dn"
CLIENT_HEADERS = (CLIENT_CERT, CLIENT_VERIFY, CLIENT_SUBJECT, CLIENT_ISSUER)
MODES = {"on": "MUTUAL", "optional": "OPTIONAL_MUTUAL"}


class ClientAuth(collections.namedtuple("ClientAuth", "ca_namespace ca_name verify depth depth_set error_page "
                                                      "pass_certificate match_cn")):
    """What one Ingress's auth-tls annotations ask for, once parsed as ingress-nginx parses them."""

    @property
    def ca(self):
        return "{0}/{1}".format(self.ca_namespace, self.ca_name)


class Refused(collections.namedtuple("Refused", "reason")):
    """An auth-tls-secret ingress-nginx refuses (a LocationDenied): the host answers 403."""


class Dropped(collections.namedtuple("Dropped", "annotation reason")):
    """A value ingress-nginx's validator refuses: it skips the whole Ingress."""


def read(annotations, namespace, known_secrets=None):
    """The auth-tls annotations of one Ingress: None (no auth-tls-secret), ClientAuth, Refused or
    Dropped (authtls.Parse and the annotation extractor)."""
    secret = annotations.get(SECRET)
    if secret is None:
        return None
    secret = str(secret)
    if not _BASIC_CHARS.match(secret):
        return Dropped(SECRET, "{0!r} has characters ingress-nginx's validator refuses".format(secret))
    parts = secret.split("/")
    if len(parts) != 2:
        return Refused("{0!r} is not namespace/name".format(secret))
    ca_namespace, ca_name = parts[0] or namespace, parts[1]
    if ca_namespace != namespace:
        return Refused("{0!r} is in another namespace, which ingress-nginx refuses unless the controller runs with "
                       "allow-cross-namespace-resources".format(secret))
    if not ca_name:
        return Refused("{0!r} names no Secret".format(secret))
    if known_secrets is not None and (ca_namespace, ca_name) not in known_secrets:
        return Refused("Secret {0}/{1} does not exist".format(ca_namespace, ca_name))
    verify = str(annotations.get(VERIFY, "on"))
    if not _VERIFY_MODES.match(verify):
        verify = "on"  # Parse falls back to the default on any other value
    depth_value = annotations.get(DEPTH)
    depth = int(str(depth_value)) if depth_value is not None and _GO_INT.match(str(depth_value)) else 0
    if depth == 0 or abs(depth) > 2 ** 31:
        depth = 1
    error_page = annotations.get(ERROR_PAGE)
    if error_page is not None and not _ERROR_PAGE.match(str(error_page)):
        return Dropped(ERROR_PAGE, "{0!r} is not a URL or named location ingress-nginx accepts".format(error_page))
    pass_value = annotations.get(PASS_CERTIFICATE)
    if pass_value is not None and str(pass_value) not in _GO_BOOLS:
        return Dropped(PASS_CERTIFICATE, "{0!r} is not a boolean".format(pass_value))
    match_cn = annotations.get(MATCH_CN)
    if match_cn is not None:
        match_cn = str(match_cn)
        problem = "does not start with CN=" if not match_cn.startswith("CN=") else re2_problem(match_cn[3:])
        if problem:
            return Dropped(MATCH_CN, "{0!r} {1}".format(match_cn, problem))
    return ClientAuth(ca_namespace, ca_name, verify, depth, depth_value is not None,
                      None if error_page is None else str(error_page),
                      _GO_BOOLS.get(str(pass_value), False), match_cn)


def server_client_auth(run):
    """{host: (ClientAuth, ref of the Ingress that set it)} and {host: [(ref, Refused)]}, per
    getBackendServers: Ingresses oldest first, canaries included, rules without `http` skipped."""
    chosen, refused = {}, {}
    classless = run.options.classless_controller
    for ingress in run.selected:
        if (ingress_class(ingress) or classless) == "istio":
            continue
        ref = run.refs[id(ingress)]
        namespace = as_dict(ingress.get("metadata")).get("namespace") or "default"
        parsed = read(run.annotations_of[ref], namespace, run.options.known_secrets)
        if isinstance(parsed, Dropped):
            run.findings.append(Finding("ingress", ref, ERROR, "invalid-annotation",
                                        "{0}: {1}: ingress-nginx skips this whole Ingress, and the translation would "
                                        "serve it".format(parsed.annotation, parsed.reason)))
        if parsed is None or isinstance(parsed, Dropped):
            continue
        for rule in as_list(as_dict(ingress.get("spec")).get("rules")):
            rule = as_dict(rule)
            host = rule.get("host")
            if not isinstance(host, str) or not host or not valid_host(host) or not isinstance(rule.get("http"), dict):
                continue
            if isinstance(parsed, Refused):
                refused.setdefault(host, []).append((ref, parsed))
            elif host not in chosen:
                chosen[host] = (parsed, ref)
    return chosen, refused


def credential_name(namespace, secret, auth):
    """The gateway credential of a certificate with a client CA: its own copy, per CA and mode
    (Istio reads the CA from the credential, so hosts that share a certificate but not a CA or
    mode need credentials of their own)."""
    exact = "{0}/{1}|{2}|{3}".format(namespace, secret, auth.ca, MODES[auth.verify])
    return stable_name("{0}-{1}-client-ca".format(namespace, secret), exact=exact, max_length=253)


def client_certificates(run, routes):
    """Server pass: the hosts' client-certificate settings on their HTTPS servers and routes."""
    chosen, refused = server_client_auth(run)
    findings = run.findings
    for host, entries in sorted(refused.items()):
        for ref, reason in entries:
            findings.append(Finding("ingress", ref, ERROR, "access-control-lost",
                                    "{0}: {1}: ingress-nginx answers every request to {2} with 403 (the whole "
                                    "server, whichever Ingress the path is on); the translation would serve "
                                    "them".format(SECRET, reason.reason, host), host=host))
    for host, (auth, ref) in sorted(chosen.items()):
        if host in refused:
            continue
        _one_host(run, host, auth, ref, routes.get(host) or {}, findings)


def _one_host(run, host, auth, ref, host_routes, findings):
    if auth.verify == "optional_no_ca":
        findings.append(Finding("ingress", ref, ERROR, "access-control-lost",
                                "{0}: optional_no_ca asks for a certificate and passes it on unverified; Istio's "
                                "gateway verifies every certificate it asks for, so {1} would refuse clients nginx "
                                "served".format(VERIFY, host), host=host))
        return
    server = _tls_server_of(run, host)
    if auth.verify == "off":
        _set_headers(host_routes, {CLIENT_VERIFY: "NONE"}, None)
        findings.append(Finding("ingress", ref, INFO, "client-certificate-off",
                                "{0} is off: {1} asks for no client certificate, and its backends get "
                                "ssl-client-verify: NONE, as from ingress-nginx".format(VERIFY, host), host=host))
        return
    if run.options.certificates != "ingress-secrets":
        findings.append(Finding("ingress", ref, ERROR, "access-control-lost",
                                "{0}: client certificates for {1} are translated with certificates: ingress-secrets "
                                "only (the gateway credential must hold the CA beside the copied certificate); with "
                                "certificates: {2}, clients without a valid certificate would get through".format(
                                    SECRET, host, run.options.certificates), host=host))
        return
    if server is None:
        # No HTTPS server for the host here (no tls entry: ingress-nginx's default certificate,
        # already reported); plain HTTP carries no certificate on either side.
        _set_headers(host_routes, {CLIENT_VERIFY: "NONE"}, None)
        return
    _move_to_client_auth_server(run, host, auth, server, ref)
    tls = {CLIENT_SUBJECT: "%DOWNSTREAM_PEER_SUBJECT%", CLIENT_ISSUER: "%DOWNSTREAM_PEER_ISSUER%"}
    if auth.pass_certificate:
        tls[CLIENT_CERT] = "%DOWNSTREAM_PEER_CERT%"
    if auth.verify == "on":
        tls[CLIENT_VERIFY] = "SUCCESS"  # MUTUAL: only verified clients reach a route
    else:
        findings.append(Finding("ingress", ref, WARNING, "client-certificate-verify-header",
                                "{0}: optional: backends of {1} no longer get ssl-client-verify (SUCCESS or NONE, "
                                "which Envoy cannot tell in a header); a client's own header of that name is "
                                "removed".format(VERIFY, host), host=host))
    _set_headers(host_routes, {CLIENT_VERIFY: "NONE"}, tls)
    if not auth.depth_set:
        findings.append(Finding("ingress", ref, WARNING, "client-certificate-depth",
                                "{0} (default 1): nginx accepts only certificates the CA signed itself; Istio's "
                                "gateway sets no depth, so {1} also accepts certificates of intermediate CAs under "
                                "that CA".format(DEPTH, host), host=host))
    findings.append(Finding("ingress", ref, INFO, "client-certificate",
                            "{0}: {1} asks for client certificates of {2} ({3}); the CA is copied into the gateway "
                            "credential".format(SECRET, host, auth.ca, MODES[auth.verify]), host=host))


def _tls_server_of(run, host):
    """The credential whose HTTPS server serves the host, or None. A host two Secrets name is kept
    by the first (ingress_output's overlap check), with the same finding: it leaves the others here,
    so that its server with the CA is the only one."""
    named = [c for c in sorted(run.tls_servers) if host in run.tls_servers[c]["hosts"]]
    for other in named[1:]:
        entry = run.tls_servers[other]
        for source in sorted(entry["host_sources"].get(host, ())):
            run.findings.append(Finding("ingress", source, WARNING, "tls-host-conflict",
                                        "host {0} has certificates from two Secrets ({1}, {2}); the gateway serves "
                                        "only {1}".format(host, named[0], other), host=host))
        entry["hosts"].discard(host)
        entry["host_sources"].pop(host, None)
    return named[0] if named else None


def _move_to_client_auth_server(run, host, auth, credential, ref):
    """The host leaves its certificate's server for a server with the CA, and the credential
    copy that holds it."""
    old = run.tls_servers[credential]
    source = run.result.credential_secrets[credential]
    namespace, secret = source.split("/", 1)
    name = credential_name(namespace, secret, auth)
    server = run.tls_servers.setdefault(name, {"hosts": set(), "sources": set(), "host_sources": {}})
    server["mode"] = MODES[auth.verify]
    server["hosts"].add(host)
    server["host_sources"].setdefault(host, set()).update(old["host_sources"].get(host, {ref}))
    server["sources"].update(server["host_sources"][host])
    old["hosts"].discard(host)
    old["host_sources"].pop(host, None)
    if not old["hosts"]:
        del run.tls_servers[credential]
    run.result.credential_secrets[name] = source
    copy = {"source_namespace": namespace, "source_name": secret, "target_namespace": run.options.gateway_namespace,
            "target_name": name, "ca_source_namespace": auth.ca_namespace, "ca_source_name": auth.ca_name}
    if copy not in run.result.secrets_to_copy:
        run.result.secrets_to_copy.append(copy)
    if not old["hosts"]:
        # Nothing else serves with the plain copy: it is no longer needed.
        run.result.secrets_to_copy[:] = [c for c in run.result.secrets_to_copy
                                         if c["target_name"] != credential or c.get("ca_source_name")]
        run.result.credential_secrets.pop(credential, None)


def _set_headers(host_routes, plain, tls):
    """Every proxied route of the host sends the client-certificate headers, nginx's way: `plain`
    on plain HTTP, `tls` over HTTPS; a client's own headers of those names never pass."""
    for route in host_routes.values():
        if route.redirect is not None or not route.destinations:
            continue
        route.client_headers = {"plain": dict(plain), "tls": None if tls is None else dict(tls),
                                "remove": list(CLIENT_HEADERS)}
