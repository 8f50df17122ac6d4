"""ingress-nginx's side of every routing proof: its own controller code and a real nginx.

Two parts, neither written here:

- `.build/bin/ingress-nginx-oracle` is ingress-nginx's controller (the pinned k8s.io/ingress-nginx
  module, tools/cluster/go/ingressnginx): given Ingresses, Services, EndpointSlices and Secrets it
  returns the configuration it would run and the nginx.conf its own template renders.
- Debian's nginx (tools/nginx.sh installs it when missing) runs a configuration derived from that
  nginx.conf, and answers requests sent to it over loopback.

The derivation (`derive`) keeps the rendered `server` and `location` blocks with their
`server_name`s, location matchers, redirects, rewrites, `if`s, allow/deny and basic auth as
rendered. What the controller leaves to its Lua code is replaced by plain nginx directives written
from the controller's own output, in the order the Lua applies it:

- `lua_ingress.rewrite` (the HTTPS redirect): from the location's Lua table (force_ssl_redirect,
  ssl_redirect, force_no_ssl_redirect, preserve_trailing_slash, use_port_in_redirects), the global
  one (http_redirect_code, use_forwarded_headers, the HTTPS port) and the hosts Lua holds a
  certificate for (exact name, or the name with its first label replaced by `*`);
- `balancer.rewrite` and `balancer.balance`: a backend with no endpoints answers 503; otherwise
  the request goes to an echo server that names the chosen upstream. The canary decision follows
  `route_to_alternative_balancer` in balancer.lua: the first alternative backend only; its header
  (exact value, else pattern as an unanchored PCRE match, else `always`/`never`), then its cookie
  (`always`/`never`), then its weight out of max(100, weightTotal). Session affinity is not
  modelled (requests carry no affinity cookie).

The echo server is a second `server` of the same nginx that answers with the upstream, the
canary decision and the URI the upstream would receive (after the rendered rewrites).
"""

import base64
import hashlib
import http.client
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import uuid

import nginx_conf
from nginx_conf import Directive
from self_signed import certificate

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ORACLE = os.path.join(REPO, ".build", "bin", "ingress-nginx-oracle")
SOURCE = os.path.join(REPO, ".build", "ingress-nginx")
TEMPLATE = os.path.join(SOURCE, "rootfs", "etc", "nginx", "template", "nginx.tmpl")
CONTROLLER_DIRECTORY = "/etc/ingress-controller"
NGINX_CLASS = {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": "nginx"},
               "spec": {"controller": "k8s.io/ingress-nginx"}}
DEFAULT_BACKEND = "upstream-default-backend"
N = "nginx.ingress.kubernetes.io/"
ECHO_HEADER = "X-Adoptmesh-Echo"

# The rendered directives kept in the http block; everything else there configures Lua, modules
# Debian's nginx does not have, or the controller's own status endpoints.
HTTP_KEPT = {"map", "geo", "log_format", "server_names_hash_max_size", "server_names_hash_bucket_size",
             "variables_hash_bucket_size", "variables_hash_max_size", "map_hash_bucket_size", "map_hash_max_size",
             "underscores_in_headers", "ignore_invalid_headers", "server_name_in_redirect", "port_in_redirect",
             "absolute_redirect", "merge_slashes", "large_client_header_buffers", "client_header_buffer_size",
             # use-forwarded-headers: the client address allow-lists see comes from X-Forwarded-For.
             "real_ip_header", "real_ip_recursive", "set_real_ip_from"}
# The rendered directives kept in server and location blocks: routing, rewrites, access.
ROUTING_KEPT = {"server_name", "location", "if", "set", "return", "rewrite", "break", "allow", "deny", "satisfy",
                "auth_basic", "auth_basic_user_file", "internal", "port_in_redirect", "server_name_in_redirect",
                "absolute_redirect", "merge_slashes", "proxy_pass", "ssl_certificate", "ssl_certificate_key",
                "listen", "rewrite_by_lua_block", "access_log", "error_page"}


class OracleError(RuntimeError):
    pass


class NginxRefused(OracleError):
    """nginx -t refuses the configuration the controller rendered: ingress-nginx would keep its
    previous configuration, and its admission webhook refuses the Ingress that caused it."""


def refusal(error):
    """The reason nginx gave for refusing a configuration, without times, process ids and paths."""
    match = re.search(r"\[emerg\] [0-9#]+: (.*?)(?: in /\S+)?$", str(error), re.M)
    return match.group(1) if match else str(error)


# --- the controller -----------------------------------------------------------------------

def _private_tmpfs_command(command):
    """`command` in a mount namespace with a private tmpfs on /etc/ingress-controller, where the
    controller writes certificates and auth files: nothing is left behind, runs do not collide."""
    if os.geteuid() == 0:
        os.makedirs(CONTROLLER_DIRECTORY, exist_ok=True)
        prefix = ["unshare", "--mount", "--propagation", "private"]
    elif os.path.isdir(CONTROLLER_DIRECTORY):
        prefix = ["unshare", "--user", "--map-root-user", "--mount", "--propagation", "private"]
    else:
        raise OracleError("{0} is missing; the ingress-nginx oracle needs it as a mount point (create it once as root)"
                          .format(CONTROLLER_DIRECTORY))
    script = 'mount -t tmpfs tmpfs "$0" && exec "$@"'
    return prefix + ["sh", "-c", script, CONTROLLER_DIRECTORY] + command


def controller(cases, timeout=900):
    """ingress-nginx's answers for cases [{"id", "objects", "configmap"}], in order."""
    for path in (ORACLE, TEMPLATE):
        if not os.path.exists(path):
            raise OracleError("{0} is missing: run `make build`".format(path))
    with tempfile.TemporaryDirectory() as scratch:
        source, target = os.path.join(scratch, "in.json"), os.path.join(scratch, "out.json")
        with open(source, "w") as handle:
            json.dump(cases, handle)
        env = dict(os.environ, INGRESS_NGINX_ORACLE_INPUT=source, INGRESS_NGINX_ORACLE_OUTPUT=target,
                   INGRESS_NGINX_ORACLE_TEMPLATE=TEMPLATE)
        command = _private_tmpfs_command([ORACLE, "-test.run", "^TestIngressNginxOracle$"])
        completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout, check=False)
        if not os.path.exists(target):
            raise OracleError("ingress-nginx-oracle failed ({0}):\n{1}\n{2}".format(
                completed.returncode, completed.stdout[-4000:], completed.stderr[-4000:]))
        with open(target) as handle:
            answers = json.load(handle)
    failed = ["{0}: {1}".format(a["id"], a["error"]) for a in answers if a.get("error")]
    if failed:
        raise OracleError("ingress-nginx did not answer:\n" + "\n".join(failed[:10]))
    return [Configuration(answer) for answer in answers]


def _service_for(namespace, name, ports):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace},
            "spec": {"ports": [{"name": "http-{0}".format(p), "port": p, "targetPort": p} for p in sorted(ports)]}}


def _endpoint_slice(service, index):
    """One ready endpoint per Service port, as the EndpointSlice controller would publish it."""
    namespace, name = service["metadata"]["namespace"], service["metadata"]["name"]
    ports = []
    for port in service.get("spec", {}).get("ports", []):
        target = port.get("targetPort", port["port"])
        entry = {"protocol": port.get("protocol", "TCP"), "port": target if isinstance(target, int) else port["port"]}
        if port.get("name"):
            entry["name"] = port["name"]
        ports.append(entry)
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": {"name": name + "-oracle", "namespace": namespace,
                         "labels": {"kubernetes.io/service-name": name}},
            "endpoints": [{"addresses": ["10.64.{0}.{1}".format(index // 250, index % 250 + 2)],
                           "conditions": {"ready": True, "serving": True, "terminating": False}}],
            "ports": ports}


def _tls_secrets(ingresses):
    secrets = {}
    for ingress in ingresses:
        namespace = ingress["metadata"].get("namespace", "default")
        for entry in (ingress.get("spec") or {}).get("tls") or []:
            name = entry.get("secretName")
            if name:
                hosts = secrets.setdefault((namespace, name), set())
                hosts.update(h for h in entry.get("hosts") or [] if isinstance(h, str))
    objects = []
    for (namespace, name), hosts in sorted(secrets.items()):
        crt, key = certificate(tuple(sorted(hosts)))
        objects.append({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                        "metadata": {"name": name, "namespace": namespace},
                        "data": {"tls.crt": base64.b64encode(crt).decode(), "tls.key": base64.b64encode(key).decode()}})
    return objects


def case(case_id, ingresses, services=(), configmap=None, extra=()):
    """An oracle case for Ingresses as a cluster running ingress-nginx would hold them: the class
    `nginx`, the Services (given, or made from the backends' port numbers), a ready endpoint per
    Service, and a TLS Secret per secretName with a certificate for the hosts listed with it."""
    given = dict(((s["metadata"]["namespace"], s["metadata"]["name"]), s) for s in services)
    wanted = {}
    for ingress in ingresses:
        namespace = ingress["metadata"].get("namespace", "default")
        spec = ingress.get("spec") or {}
        backends = [spec["defaultBackend"]] if spec.get("defaultBackend") else []
        for rule in spec.get("rules") or []:
            backends += [p.get("backend") or {} for p in (rule.get("http") or {}).get("paths") or []]
        for backend in backends:
            service = backend.get("service") or {}
            number = (service.get("port") or {}).get("number")
            if service.get("name") and isinstance(number, int):
                wanted.setdefault((namespace, service["name"]), set()).add(number)
    all_services = list(given.values()) + [_service_for(ns, name, ports) for (ns, name), ports in sorted(wanted.items())
                                           if (ns, name) not in given]
    slices = [_endpoint_slice(s, i) for i, s in enumerate(all_services)]
    # The controller names basic-auth files after the Ingress's UID, as the API server sets it.
    with_uids = [dict(i, metadata=dict(i["metadata"], uid=i["metadata"].get("uid") or str(uuid.uuid4())))
                 for i in ingresses]
    objects = [NGINX_CLASS] + all_services + slices + _tls_secrets(ingresses) + list(extra) + with_uids
    return {"id": case_id, "objects": objects, "configmap": dict(configmap or {})}


UNKNOWN_HOST = "unknown.example.org"


def requests_for(ingresses):
    """[(host, path, scheme, headers)] probing every rule of `ingresses` as ingress-nginx reads it:
    each path as is, below it, beside it and upper-cased, on each host (a wildcard with one label
    and with two), on a host no Ingress names, over HTTP and HTTPS, without and with the canary
    headers and cookies the Ingresses test (`always`, `never`, the header's value)."""
    hosts, paths, variants, passthrough = set(), set(["/"]), [{}], set()
    for ingress in ingresses:
        metadata = ingress.get("metadata") or {}
        annotations = metadata.get("annotations") or {}
        if annotations.get(N + "ssl-passthrough") == "true":
            # With --enable-ssl-passthrough (the oracle runs without it) nginx never sees these
            # connections: they are proxied as TCP by the controller, and logged nowhere.
            passthrough.update(r.get("host") for r in (ingress.get("spec") or {}).get("rules") or [])
        header = annotations.get(N + "canary-by-header")
        if header:
            values = ["always", "never", annotations.get(N + "canary-by-header-value") or "other"]
            # A pattern's words, as they are and inside other text (ngx.re.match is unanchored).
            words = re.findall(r"[A-Za-z0-9]+", annotations.get(N + "canary-by-header-pattern") or "")
            values += words + ["x{0}x".format(w) for w in words] + [w.upper() for w in words]
            variants += [{header: v} for v in values]
            if "_" in header:  # balancer.lua reads X_Beta as the header X-Beta
                variants += [{header.replace("_", "-"): v} for v in values]
        # The names a server-alias asks for, whether ingress-nginx keeps them or not (a wildcard:
        # a name it covers; a regex server_name: not probed).
        for alias in (part.strip() for part in str(annotations.get(N + "server-alias") or "").split(",")):
            if alias.startswith("*."):
                hosts.add("one." + alias[2:])
            elif re.match(r"[a-z0-9.-]+\Z", alias):
                hosts.add(alias)
        cookie = annotations.get(N + "canary-by-cookie")
        if cookie:
            # How nginx finds $cookie_<name>: the first item of that name (ASCII case-insensitive,
            # spaces around `=`) decides, and its value runs to the next `;`.
            variants += [{"Cookie": value.format(cookie)} for value in (
                "{0}=always", "{0}=never", "a=1; {0}=always", "{0}=never; {0}=always", "{0}=always; {0}=never",
                "x{0}=always", "{0}x=always", "{0}=alwaysx", "{0} = always", "{0}=always, a=1", "a=1, {0}=always",
                "{0}=always;a=1")]
            variants.append({"Cookie": "{0}=always".format(cookie.upper())})
            if header:
                variants += [{header: "never", "Cookie": "{0}=always".format(cookie)},
                             {header: "always", "Cookie": "{0}=never".format(cookie)}]
        for rule in (ingress.get("spec") or {}).get("rules") or []:
            host = rule.get("host") or ""
            if host.startswith("*."):
                hosts.update(["one." + host[2:], "two.one." + host[2:]])
            elif host:
                hosts.add(host)
            for entry in (rule.get("http") or {}).get("paths") or []:
                path = entry.get("path") or "/"
                if not path.startswith("/"):
                    continue
                literal = re.match(r"[^()\[\]|$^*+?{}\\.]*", path).group(0)
                if literal != path:  # a regex: probe its literal start, and below it
                    paths.update([literal, literal.rstrip("/") + "/x/1"])
                    continue
                trimmed = path.rstrip("/")
                paths.update([path, trimmed + "/x/1", path.upper()] + ([trimmed + "x"] if trimmed else []))
    hosts.add(UNKNOWN_HOST)
    unique = []
    for headers in variants:
        if headers not in unique:
            unique.append(headers)
    return [(host, path, scheme, headers) for host in sorted(hosts) for path in sorted(paths)
            for scheme in ("http", "https") for headers in unique if not (scheme == "https" and host in passthrough)]


class Configuration:
    """What ingress-nginx would run for one case."""

    def __init__(self, raw):
        self.raw = raw
        self.id = raw["id"]
        self.ingresses = raw.get("ingresses") or []
        self.configuration = raw.get("configuration") or {}
        self.nginx_conf = raw.get("nginx_conf") or ""
        self.certificate_hosts = raw.get("certificate_hosts") or []
        self.warnings = raw.get("warnings") or {}
        self.backends = dict((b["name"], b) for b in self.configuration.get("backends") or [])

    def target(self, upstream):
        """`svc.ns:port` of a backend, the port as the Service's number."""
        backend = self.backends.get(upstream)
        if backend is None or not backend.get("service"):
            return upstream
        service = backend["service"]
        port = backend.get("port")
        prefix = "{0}-{1}-".format(service["metadata"]["namespace"], service["metadata"]["name"])
        if port in (None, 0, "0", "") and upstream.startswith(prefix):
            port = upstream[len(prefix):]  # a defaultBackend's upstream names its port only here
        for entry in (service.get("spec") or {}).get("ports") or []:
            if port in (entry.get("name"), entry.get("port"), str(entry.get("port"))):
                port = entry["port"]
                break
        return "{0}.{1}:{2}".format(service["metadata"]["name"], service["metadata"]["namespace"], port)


# --- the derived nginx.conf -----------------------------------------------------------------

def _lua_flags(text):
    """`name = true|false|number` pairs of a Lua table the template renders."""
    return dict((m.group(1), {"true": True, "false": False}.get(m.group(2), m.group(2)))
                for m in re.finditer(r"\b([a-z_]+)\s*=\s*(true|false|\d+|\"[^\"]*\")", text))


def _global_lua(http_block):
    for directive in http_block:
        if directive.lua and "lua_ingress.set_config" in directive.lua:
            return _lua_flags(directive.lua.split("lua_ingress.set_config", 1)[1])
    raise OracleError("the rendered nginx.conf has no lua_ingress.set_config")


def _identifier(text):
    return "am_" + hashlib.sha1(text.encode()).hexdigest()[:12]


def _canary_maps(alternative, policy, variable):
    """http-level maps that decide, as route_to_alternative_balancer does, whether a request goes
    to `alternative`; `variable` ends up `canary`, `primary`, or `weight`."""
    directives = []
    header = (policy.get("header") or "").lower().replace("-", "_")
    header_var = "${0}_h".format(variable[1:])
    cookie_var = "${0}_c".format(variable[1:])
    if header:
        entries = [Directive("default", ['""'])]
        if policy.get("headerValue"):
            entries.append(Directive(nginx_conf.quote(policy["headerValue"]), ["canary"]))
        elif policy.get("headerPattern"):
            entries.append(Directive(nginx_conf.quote("~" + policy["headerPattern"]), ["canary"]))
        else:
            entries += [Directive("always", ["canary"]), Directive("never", ["primary"])]
        directives.append(Directive("map", ["$http_" + header, header_var], block=entries))
    else:
        directives.append(Directive("map", ['""', header_var], block=[Directive("default", ['""'])]))
    cookie = policy.get("cookie") or ""
    if cookie:
        # Lua reads ngx.var["cookie_" .. name] whatever the name holds; nginx.conf can name only
        # [A-Za-z0-9_] after $cookie_, so other cookie names cannot be run here.
        if not re.match(r"[A-Za-z0-9_]+\Z", cookie):
            raise OracleError("canary-by-cookie {0!r}: nginx.conf cannot name this cookie (Lua can)".format(cookie))
        directives.append(Directive("map", ["$cookie_" + cookie, cookie_var], block=[
            Directive("default", ['""']), Directive("always", ["canary"]), Directive("never", ["primary"])]))
    else:
        directives.append(Directive("map", ['""', cookie_var], block=[Directive("default", ['""'])]))
    directives.append(Directive("map", ['"{0}:{1}"'.format(header_var, cookie_var), variable], block=[
        Directive("default", ["weight"]), Directive('"~^canary:"', ["canary"]), Directive('"~^primary:"', ["primary"]),
        Directive('"~^:canary$"', ["canary"]), Directive('"~^:primary$"', ["primary"])]))
    total = max(100, int(policy.get("weightTotal") or 0))
    weight = int(policy.get("weight") or 0)
    percent = "{0:.2f}%".format(100.0 * min(weight, total) / total)
    split = [Directive(percent, ["canary"])] if weight > 0 else []
    directives.append(Directive("split_clients", ['"${request_id}"', variable + "_w"],
                                block=split + [Directive("*", ["primary"])]))
    return directives


class Derived:
    """A runnable nginx.conf and the files it names."""

    def __init__(self, text, files):
        self.text = text
        self.files = files


def derive(config, ports, directory):
    """The configuration Debian's nginx runs for `config` (a Configuration), listening on
    ports["http"], ports["https"] and ports["echo"], with every file under `directory`."""
    root = nginx_conf.parse(config.nginx_conf)
    http = [d for d in root if d.name == "http"]
    if len(http) != 1:
        raise OracleError("{0}: the rendered nginx.conf has {1} http blocks".format(config.id, len(http)))
    http_block = http[0].block
    global_lua = _global_lua(http_block)
    crt, key = certificate(("nginx-oracle",))
    files = {"server.crt": crt.decode(), "server.key": key.decode()}
    kept = [d for d in http_block if d.name in HTTP_KEPT]
    # The controller's own access logs, written where the test reads them, with their formats and
    # conditions as rendered (log-format-upstream, log-format-escape-json, skip-access-log-urls).
    for index, directive in enumerate(d for d in http_block if d.name == "access_log" and d.args != ["off"]):
        name = "access.log" if index == 0 else "access-{0}.log".format(index)
        kept.append(Directive("access_log", [os.path.join(directory, name)] + directive.args[1:]))
    kept += [Directive("default_type", ["text/plain"]), Directive("error_log", [os.path.join(directory, "error.log"), "info"])]
    kept += [Directive("upstream", ["upstream_balancer"], block=[Directive("server", ["127.0.0.1:{0}".format(ports["echo"])])])]
    kept += _scheme_and_host_maps(global_lua, config.certificate_hosts)
    maps = {}
    for server in [d for d in http_block if d.name == "server"]:
        derived = _server(server, config, ports, directory, global_lua, maps, files)
        if derived is not None:
            kept.append(derived)
    for directives in maps.values():
        kept += directives
    kept.append(_echo_server(ports))
    main = [Directive("worker_processes", ["1"]), Directive("daemon", ["off"]), Directive("master_process", ["off"]),
            Directive("pid", [os.path.join(directory, "nginx.pid")]),
            Directive("error_log", [os.path.join(directory, "error.log"), "info"]),
            Directive("events", [], block=[Directive("worker_connections", ["1024"])]),
            Directive("http", [], block=kept)]
    for path_name in ("client_body_temp_path", "proxy_temp_path", "fastcgi_temp_path", "uwsgi_temp_path", "scgi_temp_path"):
        kept.insert(0, Directive(path_name, [os.path.join(directory, path_name)]))
    return Derived(nginx_conf.dump(main) + "\n", files)


def _scheme_and_host_maps(global_lua, certificate_hosts):
    """$am_scheme: the scheme Lua checks (X-Forwarded-Proto when use_forwarded_headers);
    $am_redirect_host: best_http_host up to its first `:`; $am_certificate: 1 when Lua holds a
    certificate for $host (exact, or with its first label replaced by `*`)."""
    directives = []
    if global_lua.get("use_forwarded_headers"):
        directives.append(Directive("map", ["$http_x_forwarded_proto", "$am_scheme"], block=[
            Directive("default", ["$http_x_forwarded_proto"]), Directive('""', ["$scheme"])]))
        directives.append(Directive("map", ["$http_x_forwarded_host", "$am_best_host"], block=[
            Directive("default", ["$http_x_forwarded_host"]), Directive('""', ["$http_host"])]))
        directives.append(Directive("map", ["$am_best_host", "$am_redirect_host"], block=[
            Directive('"~^(?<am_first>[^,]*)"', ["$am_first"]), Directive("default", ["$host"])]))
    else:
        directives.append(Directive("map", ['""', "$am_scheme"], block=[Directive("default", ["$scheme"])]))
        directives.append(Directive("map", ["$http_host", "$am_redirect_host"], block=[
            Directive('"~^(?<am_name>[^:]+)"', ["$am_name"]), Directive("default", ["$host"])]))
    entries = [Directive("default", ["0"])]
    for host in certificate_hosts:
        if host.startswith("*."):
            entries.append(Directive(nginx_conf.quote("~^[^.]+\\." + re.escape(host[2:].lower()) + "$"), ["1"]))
        else:
            entries.append(Directive(nginx_conf.quote(host.lower()), ["1"]))
    directives.append(Directive("map", ["$host", "$am_certificate"], block=entries))
    directives.append(Directive("map", ["$request_uri", "$am_uri_without_slash"], block=[
        Directive('"~^(?<am_stripped>.*)/$"', ["$am_stripped"]), Directive("default", ["$request_uri"])]))
    return directives


def _listen(directive, ports):
    """`listen 80 ...` / `listen 443 ... ssl` on loopback ports; other ports are not served."""
    if not directive.args:
        return None
    address = nginx_conf.unquote(directive.args[0])
    if address.startswith("["):
        return None  # IPv6
    port = address.rsplit(":", 1)[-1]
    flags = [a for a in directive.args[1:] if a in ("default_server", "ssl", "http2")]
    if port == "80":
        return Directive("listen", ["127.0.0.1:{0}".format(ports["http"])] + flags)
    if port == "443":
        return Directive("listen", ["127.0.0.1:{0}".format(ports["https"])] + flags)
    return None


def _server(server, config, ports, directory, global_lua, maps, files):
    listens = [_listen(d, ports) for d in server.find("listen")]
    listens = [d for d in listens if d is not None]
    if not listens:
        return None  # the controller's own default backend, status and stream servers
    block = list(listens)
    if any("ssl" in d.args for d in listens):
        block += [Directive("ssl_certificate", [os.path.join(directory, "server.crt")]),
                  Directive("ssl_certificate_key", [os.path.join(directory, "server.key")])]
    block += _routing(server.block, config, global_lua, maps, files, directory, top=True)
    return Directive("server", [], block=block)


def _routing(directives, config, global_lua, maps, files, directory, top=False):
    out = []
    for directive in directives:
        if directive.name == "set_by_lua_block" and directive.args == ["$redirect_to"]:
            out.append(_www_redirect_target(directive.lua))
            continue
        if directive.name not in ROUTING_KEPT or directive.name in ("listen", "ssl_certificate", "ssl_certificate_key"):
            continue
        if directive.name == "access_log":
            if directive.args == ["off"]:
                out.append(directive)
            continue
        if directive.name == "error_page":
            continue  # custom error pages are served by upstreams this derivation does not have
        if directive.name == "auth_basic_user_file":
            out.append(Directive(directive.name, [_auth_file(directive.args[0], config, files, directory)]))
            continue
        if directive.name == "rewrite_by_lua_block":
            continue  # replaced where the location hands over to Lua (below)
        if directive.name == "location":
            out.append(_location(directive, config, global_lua, maps, files, directory))
            continue
        if directive.name == "if":
            out.append(Directive("if", directive.args, block=_routing(directive.block, config, global_lua, maps, files,
                                                                      directory)))
            continue
        out.append(directive)
    return out


def _www_redirect_target(lua):
    """The from-to-www redirect server's `set_by_lua_block $redirect_to`: the request URI less one
    trailing `/`, on the scheme Lua picks (X-Forwarded-Proto with use-forwarded-headers), to the
    other name and, when HTTPS is not on 443, its port."""
    match = re.search(r'string\.format\("[%s:/]+", redirectScheme, "([^"]*)"(?:, "([^"]*)")?, request_uri\)', lua)
    if match is None:
        raise OracleError("unexpected $redirect_to Lua block:\n" + lua)
    return Directive("set", ["$redirect_to", nginx_conf.quote("$am_scheme://{0}{1}$am_uri_without_slash".format(
        match.group(1), match.group(2) or ""))])


def _auth_file(arg, config, files, directory):
    path = nginx_conf.unquote(arg)
    content = (config.raw.get("files") or {}).get(path)
    if content is None:
        raise OracleError("{0}: the controller did not hand over {1}".format(config.id, path))
    name = "auth-" + hashlib.sha1(path.encode()).hexdigest()[:12]
    files[name] = content
    return os.path.join(directory, name)


def _location(location, config, global_lua, maps, files, directory):
    block = location.block or []
    lua = [d for d in block if d.name == "rewrite_by_lua_block"]
    body = _routing(block, config, global_lua, maps, files, directory)
    if not lua:
        return Directive("location", location.args, block=body)
    flags = _lua_flags(lua[0].lua.split("lua_ingress.rewrite", 1)[1]) if "lua_ingress.rewrite" in lua[0].lua else {}
    upstream = None
    for directive in block:
        if directive.name == "set" and directive.args and directive.args[0] == "$proxy_upstream_name":
            upstream = nginx_conf.unquote(directive.args[1])
    handover = _lua_equivalent(flags, global_lua, upstream, config, maps)
    # Lua's rewrite phase runs after the location's own rewrite directives; the rendered ones that
    # could stop it (return) come before the proxy hand-over, which starts with its rewrites.
    position = len(body)
    for index, directive in enumerate(body):
        if directive.name == "proxy_pass" or (directive.name == "rewrite" and len(directive.args) > 2):
            position = index
            break
    return Directive("location", location.args, block=body[:position] + handover + body[position:])


def _lua_equivalent(flags, global_lua, upstream, config, maps):
    out = []
    code = str(global_lua.get("http_redirect_code", 308))
    https_port = str(global_lua.get("https", "443")).strip('"')
    target_uri = "$request_uri" if flags.get("preserve_trailing_slash", True) else "$am_uri_without_slash"
    if flags.get("use_port_in_redirects"):
        location = "https://$am_redirect_host:{0}{1}".format(https_port, target_uri)
    else:
        location = "https://$am_redirect_host" + target_uri
    if not flags.get("force_no_ssl_redirect"):
        if flags.get("force_ssl_redirect"):
            out.append(Directive("if", ["($am_scheme", "=", "http)"], block=[Directive("return", [code, nginx_conf.quote(location)])]))
        elif flags.get("ssl_redirect"):
            out.append(Directive("set", ["$am_redirect", '"$am_scheme:$am_certificate"']))
            out.append(Directive("if", ["($am_redirect", "=", "http:1)"], block=[Directive("return", [code, nginx_conf.quote(location)])]))
    if upstream is None:
        return out
    backend = config.backends.get(upstream)
    if backend is None or not backend.get("endpoints"):
        out.append(Directive("return", ["503"]))
        return out
    out.append(Directive("proxy_set_header", [ECHO_HEADER + "-Upstream", nginx_conf.quote(upstream)]))
    alternatives = backend.get("alternativeBackends") or []
    alternative = config.backends.get(alternatives[0]) if alternatives else None
    if alternative is None or not alternative.get("endpoints"):
        out.append(Directive("proxy_set_header", [ECHO_HEADER + "-Decision", "primary"]))
        return out
    variable = "$" + _identifier(alternative["name"])
    maps.setdefault(variable, _canary_maps(alternative["name"], alternative.get("trafficShapingPolicy") or {}, variable))
    policy = alternative.get("trafficShapingPolicy") or {}
    total = max(100, int(policy.get("weightTotal") or 0))
    out.append(Directive("set", ["$am_decision", variable]))
    out.append(Directive("set", ["$am_chosen", variable]))
    out.append(Directive("if", ["($am_decision", "=", "weight)"], block=[Directive("set", ["$am_chosen", variable + "_w"])]))
    out.append(Directive("if", ["($am_chosen", "=", "canary)"], block=[
        Directive("set", ["$proxy_alternative_upstream_name", nginx_conf.quote(alternative["name"])])]))
    out.append(Directive("proxy_set_header", [ECHO_HEADER + "-Alternative", nginx_conf.quote(alternative["name"])]))
    out.append(Directive("proxy_set_header", [ECHO_HEADER + "-Decision", '"$am_decision"']))
    out.append(Directive("proxy_set_header", [ECHO_HEADER + "-Chosen", '"$am_chosen"']))
    out.append(Directive("proxy_set_header", [ECHO_HEADER + "-Weight", '"{0}/{1}"'.format(int(policy.get("weight") or 0), total)]))
    return out


def _echo_server(ports):
    body = "\\n".join([
        "upstream=$http_x_adoptmesh_echo_upstream", "alternative=$http_x_adoptmesh_echo_alternative",
        "decision=$http_x_adoptmesh_echo_decision", "chosen=$http_x_adoptmesh_echo_chosen",
        "weight=$http_x_adoptmesh_echo_weight", "uri=$request_uri"]) + "\\n"
    return Directive("server", [], block=[
        Directive("listen", ["127.0.0.1:{0}".format(ports["echo"])]), Directive("access_log", ["off"]),
        Directive("location", ["/"], block=[Directive("return", ["200", "\"" + body + "\""])])])


# --- running it -------------------------------------------------------------------------------

def nginx_binary():
    path = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.access(path, os.X_OK):
        raise OracleError("nginx is missing: run tools/nginx.sh (Debian's nginx package)")
    return path


def _free_ports(count):
    sockets = []
    try:
        for _index in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


class Reply:
    """What nginx answered one request."""

    def __init__(self, status, location, fields):
        self.status = status
        self.location = location
        self.fields = fields

    @property
    def upstream(self):
        return self.fields.get("upstream") if self.status == 200 else None

    def __repr__(self):
        return "Reply({0}, {1!r}, {2!r})".format(self.status, self.location, self.fields)


class Nginx:
    """Debian's nginx running the derived configuration of one case."""

    def __init__(self, config):
        self.config = config
        self.directory = tempfile.mkdtemp(prefix="nginx-oracle-")
        http_port, https_port, echo_port = _free_ports(3)
        self.ports = {"http": http_port, "https": https_port, "echo": echo_port}
        derived = derive(config, self.ports, self.directory)
        for name, content in derived.files.items():
            with open(os.path.join(self.directory, name), "w") as handle:
                handle.write(content)
        self.conf_path = os.path.join(self.directory, "nginx.conf")
        with open(self.conf_path, "w") as handle:
            handle.write(derived.text)
        self.process = None
        self._connections = {}

    def __enter__(self):
        binary = nginx_binary()
        checked = subprocess.run([binary, "-t", "-q", "-p", self.directory, "-c", self.conf_path],
                                 capture_output=True, text=True, check=False, timeout=60)
        if checked.returncode != 0:
            raise NginxRefused("{0}: nginx refuses the derived configuration:\n{1}\n{2}".format(
                self.config.id, checked.stderr[-3000:], self.conf_path))
        self.process = subprocess.Popen([binary, "-p", self.directory, "-c", self.conf_path],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise OracleError("nginx stopped: " + self.process.stderr.read().decode(errors="replace")[-2000:])
            try:
                socket.create_connection(("127.0.0.1", self.ports["echo"]), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.02)
        raise OracleError("nginx did not listen within 20 s")

    def __exit__(self, *exc):
        for connection in self._connections.values():
            connection.close()
        self._connections = {}
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None:
            self.process.stderr.close()
        if not os.environ.get("KEEP_NGINX"):
            shutil.rmtree(self.directory, ignore_errors=True)

    def log(self, name="access.log"):
        with open(os.path.join(self.directory, name), encoding="utf-8", errors="surrogateescape") as handle:
            return handle.read()

    def _connection(self, scheme, sni):
        """A kept-alive connection per scheme and SNI name: a TLS handshake per request would
        cost more than everything else the differential does."""
        key = (scheme, sni)
        connection = self._connections.get(key)
        if connection is None:
            port = self.ports["https" if scheme == "https" else "http"]
            if scheme == "https":
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
                connection = _SNIConnection("127.0.0.1", port, timeout=10, context=context, sni=sni)
            else:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            self._connections[key] = connection
        return key, connection

    def request(self, host, path, scheme="http", headers=None, method="GET"):
        """Send one request as a client would: the Host header (and SNI over TLS) is `host`."""
        for attempt in (1, 2):
            key, connection = self._connection(scheme, host.split(":")[0] or None if scheme == "https" else None)
            try:
                connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
                connection.putheader("Host", host)
                for name, value in (headers or {}).items():
                    connection.putheader(name, value)
                connection.endheaders()
                response = connection.getresponse()
                body = response.read().decode(errors="replace")
            except (http.client.HTTPException, ConnectionError, ssl.SSLError, socket.timeout):
                connection.close()
                del self._connections[key]
                if attempt == 2:
                    raise
                continue  # nginx closed a kept-alive connection: once more on a new one
            if response.will_close:
                connection.close()
                del self._connections[key]
            fields = {}
            if response.status == 200 and body.startswith("upstream="):
                fields = dict(line.split("=", 1) for line in body.splitlines() if "=" in line)
            return Reply(response.status, response.getheader("Location"), fields)
        raise AssertionError("unreachable")


class _SNIConnection(http.client.HTTPSConnection):
    def __init__(self, host, port, timeout, context, sni):
        super().__init__(host, port, timeout=timeout, context=context)
        self._sni = sni

    def connect(self):
        http.client.HTTPConnection.connect(self)
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self._sni)
