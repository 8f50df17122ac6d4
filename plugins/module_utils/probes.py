# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Health probes under STRICT mutual TLS: audit, and fixes by strategy.

Kubelet probes come from outside the mesh. Under STRICT mTLS a plain httpGet/tcpSocket/grpc
probe to the application port fails unless Istio's injector rewrites it to the sidecar agent's
status port (15020). This module finds the probes Istio cannot rewrite, and fixes them:

- `audit`: change nothing, report.
- `rewrite`: make Istio's own rewrite apply, and preview what the injector will produce (the
  probes kubelet will see and the ISTIO_KUBE_APP_PROBERS value), computed exactly as Istio's
  pkg/kube/inject/app_probe.go does.
- `exec`: replace network probes with exec probes run inside the application container.
- `health_port`: keep the probes and disable mTLS on the probed ports only, with a workload
  PeerAuthentication.

Pure logic, no Ansible imports. Inputs are Kubernetes objects as dicts; outputs are new dicts,
the inputs are never modified.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import gc
import ipaddress
import json
import re
import shlex
import string

from .errors import InputError, field_path, too_deep
from .shapes import PROBED_WORKLOAD, check
from .findings import ERROR, INFO, WARNING, Finding, sorted_findings
from .gocompat import parse_go_bool
from .names import is_dns1123_subdomain, object_ref, stable_name

STRATEGIES = ("audit", "rewrite", "exec", "health_port")
DEFAULT_STATUS_PORT = 15020

REWRITE_ANNOTATION = "sidecar.istio.io/rewriteAppHTTPProbers"
STATUS_PORT_ANNOTATION = "status.sidecar.istio.io/port"
INJECT_ANNOTATION = "sidecar.istio.io/inject"
SIDECAR_STATUS_ANNOTATION = "sidecar.istio.io/status"
EXCLUDE_INBOUND_ANNOTATION = "traffic.sidecar.istio.io/excludeInboundPorts"
INCLUDE_INBOUND_ANNOTATION = "traffic.sidecar.istio.io/includeInboundPorts"
PROXY_CONFIG_ANNOTATION = "proxy.istio.io/config"
TEMPLATES_ANNOTATION = "inject.istio.io/templates"
# Istio's own injection templates that set sidecar.istio.io/rewriteAppHTTPProbers: "false".
BUILTIN_TEMPLATES_WITHOUT_REWRITE = frozenset(("grpc-agent", "grpc-simple"))
PROXY_CONTAINER = "istio-proxy"
APP_PROBERS_ENV = "ISTIO_KUBE_APP_PROBERS"

# Probe fields of a container, and the status-agent URL suffix Istio gives each.
PROBES = (("readinessProbe", "/app-health/{0}/readyz"), ("livenessProbe", "/app-health/{0}/livez"),
          ("startupProbe", "/app-health/{0}/startupz"))
HOOKS = (("preStop", "/app-lifecycle/{0}/prestopz"), ("postStart", "/app-lifecycle/{0}/poststartz"))
# Handler types in the order kubelet checks them; sleep exists for lifecycle hooks only.
HANDLER_TYPES = ("exec", "httpGet", "tcpSocket", "grpc", "sleep")
# Where kubelet finds a handler: (field, its name in rows and findings, agent URL, is a hook).
PROBE_SLOTS = tuple((field, field, url, False) for field, url in PROBES)
HOOK_SLOTS = tuple((field, "lifecycle." + field, url, True) for field, url in HOOKS)

# Workload kind -> path to its pod template.
TEMPLATE_PATHS = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
    "Pod": (),
}

DEFAULT_EXEC_HTTP = "wget -q -T {timeout} -O /dev/null {url}"
DEFAULT_EXEC_TCP = "nc -z -w {timeout} {host} {port}"
DEFAULT_EXEC_GRPC = "grpc_health_probe -addr={host}:{port} {service_flag} -connect-timeout={timeout}s"
# The placeholders each exec command template may use.
EXEC_FIELDS = {
    "exec_http_command": ("url", "host", "port", "path", "timeout"),
    "exec_tcp_command": ("host", "port", "timeout"),
    "exec_grpc_command": ("host", "port", "timeout", "service_flag"),
}
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "[::1]")
# ASCII digits only, as Go's strconv.Atoi takes them ("\u00b2".isdigit() is true in Python).
_DECIMAL = re.compile(r"[0-9]{1,9}\Z")
_STATUS_PORT_IN_YAML = re.compile(r"(?m)^\s*statusPort\s*:\s*[\"']?([0-9]{1,9})[\"']?\s*$")


# --- reading objects ------------------------------------------------------------------------

def workload_ref(workload):
    """`namespace/Kind/name`: unique across the kinds this module takes."""
    metadata = workload.get("metadata") or {}
    return "{0}/{1}/{2}".format(metadata.get("namespace") or "default", workload.get("kind"), metadata.get("name"))


def _get(obj, path):
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def pod_template(workload):
    """The pod template (or the Pod itself) of a workload, and the field path to it.

    Raises InputError naming the workload and field when the object is not one this module
    takes or lacks what every such object has.
    """
    if not isinstance(workload, dict):
        raise InputError("", "<input>", "", "expected a Kubernetes object (a mapping), got {0}".format(
            type(workload).__name__))
    kind = workload.get("kind")
    path = TEMPLATE_PATHS.get(kind) if isinstance(kind, str) else None
    if path is None:
        raise InputError(kind or "object", object_ref(workload), "kind", "unsupported kind {0!r}; expected one of "
                         "{1}".format(kind, ", ".join(sorted(TEMPLATE_PATHS))))
    metadata = workload.get("metadata")
    if not isinstance(metadata, dict) or not metadata.get("name"):
        raise InputError(kind, object_ref(workload), "metadata.name", "is required")
    # The types of every field the audit reads, before it reads them: a mutated object is an
    # InputError naming the field, never a Python error in the walk below.
    check(kind, workload, PROBED_WORKLOAD)
    template = _get(workload, path) if path else workload
    spec = template.get("spec") if isinstance(template, dict) else None
    if not isinstance(spec, dict):
        raise InputError(kind, object_ref(workload), field_path(*(path + ("spec",))), "is missing or not a mapping")
    containers = spec.get("containers")
    if not isinstance(containers, list) or not containers:
        raise InputError(kind, object_ref(workload), field_path(*(path + ("spec", "containers"))),
                         "must be a non-empty list")
    init_containers = spec.get("initContainers")
    if init_containers is not None and not isinstance(init_containers, list):
        raise InputError(kind, object_ref(workload), field_path(*(path + ("spec", "initContainers"))),
                         "must be a list")
    return template, path


def _unnamed_container(workload, path, key, index):
    return InputError(workload.get("kind"), object_ref(workload), field_path(*(path + ("spec", key, index, "name"))),
                      "every container needs a name")


def _template_annotations(template):
    annotations = (template.get("metadata") or {}).get("annotations")
    return annotations if isinstance(annotations, dict) else {}


def _port_list(value):
    """Ports from an Istio port-list annotation ("8080,9090", "*" or "")."""
    if value is None:
        return None
    value = str(value).strip()
    if value == "*":
        return "*"
    ports = set()
    for part in value.split(","):
        part = part.strip()
        if _DECIMAL.match(part):
            ports.add(int(part))
    return ports


def _container_ports(container):
    ports = {}
    for port in container.get("ports") or []:
        if isinstance(port, dict) and port.get("name") and isinstance(port.get("containerPort"), int):
            ports[port["name"]] = port["containerPort"]
    return ports


def _handler_action(handler):
    """The first handler type set, as kubelet reads it, and its action: (type, action) or (None, None)."""
    for handler_type in HANDLER_TYPES:
        action = handler.get(handler_type)
        if action is not None:
            return handler_type, action
    return None, None


def _resolve_port(port, container):
    """The numeric port of a probe action, resolving a name through the container's ports (as kubelet does)."""
    if isinstance(port, int) and not isinstance(port, bool):
        return port
    if isinstance(port, str):
        # A string is always a port name to kubelet and Istio, even when it reads "8080".
        return _container_ports(container).get(port)
    return None


def _handlers(workload):
    """(container key, index, container, slot, handler) of every probe and lifecycle hook of a
    workload's pod template, the sidecar's own excepted."""
    template, path = pod_template(workload)
    spec = template["spec"]
    for key in ("initContainers", "containers"):
        for index, container in enumerate(spec.get(key) or ()):
            if not isinstance(container, dict) or not isinstance(container.get("name"), str):
                raise _unnamed_container(workload, path, key, index)
            if container["name"] == PROXY_CONTAINER:
                continue
            for slot in PROBE_SLOTS:
                handler = container.get(slot[0])
                if isinstance(handler, dict):
                    yield key, index, container, slot, handler
            lifecycle = container.get("lifecycle")
            if isinstance(lifecycle, dict):
                for slot in HOOK_SLOTS:
                    handler = lifecycle.get(slot[0])
                    if isinstance(handler, dict):
                        yield key, index, container, slot, handler


class ProbeSite:
    """One probe or lifecycle hook of one container, with what Istio and kubelet make of it."""

    __slots__ = ("container_key", "index", "container", "container_name", "field", "kind", "url_template",
                 "is_hook", "handler", "handler_type", "action", "port")

    def __init__(self, container_key, index, container, slot, handler):
        self.container_key = container_key  # containers | initContainers
        self.index = index
        self.container = container
        self.container_name = container["name"]
        # field: readinessProbe ... | preStop | postStart; kind: its name in rows and findings.
        self.field, self.kind, self.url_template, self.is_hook = slot
        self.handler = handler
        self.handler_type, self.action = _handler_action(handler)
        self.port = self.action.get("port") if isinstance(self.action, dict) else None

    @property
    def url(self):
        return self.url_template.format(self.container_name)

    @property
    def named_ports(self):
        return _container_ports(self.container)

    def resolved_port(self):
        return _resolve_port(self.port, self.container)


def probe_sites(workload):
    """Every probe and lifecycle hook of a workload's pod template, as ProbeSites."""
    return [ProbeSite(*found) for found in _handlers(workload)]


# --- Istio's rewrite, as the injector computes it ---------------------------------------------

def _go_json(value):
    """JSON as Go's encoding/json writes it: compact, with <, > and & escaped."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace(u"\u2028", "\\u2028").replace(u"\u2029", "\\u2029"))


def _http_get_for_agent(action):
    # Field order of corev1.HTTPGetAction; empty optional fields are omitted, port never is.
    result = {}
    if action.get("path"):
        result["path"] = action["path"]
    result["port"] = action.get("port")
    for key in ("host", "scheme"):
        if action.get(key):
            result[key] = action[key]
    if action.get("httpHeaders"):
        result["httpHeaders"] = [_header(h) for h in action["httpHeaders"]]
    return result


def _header(header):
    return {"name": header.get("name", ""), "value": header.get("value", "")}


def _tcp_for_agent(action):
    result = {"port": action.get("port")}
    if action.get("host"):
        result["host"] = action["host"]
    return result


def _grpc_for_agent(action):
    # corev1.GRPCAction.Service has no omitempty: an unset service is written as null (the
    # apiserver defaults it to "", so objects read from a cluster carry "").
    return {"port": action.get("port"), "service": action.get("service")}


def _agent_prober(site, status_port):
    """The entry Istio writes to ISTIO_KUBE_APP_PROBERS for a site, or None (DumpAppProbers)."""
    action = site.action
    if site.handler_type == "grpc" and not site.is_hook:
        prober = {"grpc": _grpc_for_agent(action)}
    elif site.handler_type in ("httpGet", "tcpSocket"):
        port = action.get("port")
        if isinstance(port, str):
            resolved = site.named_ports.get(port)
            if resolved is None:
                return None  # Istio drops a probe whose named port does not resolve.
            action = dict(action, port=resolved)
        elif port == status_port:
            return None  # Already rewritten.
        prober = ({"httpGet": _http_get_for_agent(action)} if site.handler_type == "httpGet"
                  else {"tcpSocket": _tcp_for_agent(action)})
    else:
        return None
    timeout = site.handler.get("timeoutSeconds")
    if not site.is_hook and isinstance(timeout, int) and timeout:
        prober["timeoutSeconds"] = timeout
    return prober


def _rewritten_handler(site, status_port):
    """The handler kubelet sees after injection (convertAppProber / convertAppLifecycleHandler)."""
    handler = copy.deepcopy(site.handler)
    handler_type = site.handler_type
    if handler_type == "grpc" and site.is_hook:
        return handler
    if handler_type == "httpGet":
        action = handler["httpGet"]
    elif handler_type in ("tcpSocket", "grpc"):
        action = {}
        handler.pop(handler_type)
        handler["httpGet"] = action
    else:
        return handler
    action["port"] = status_port
    action["path"] = site.url
    if action.get("scheme") == "HTTPS":
        action["scheme"] = "HTTP"
    return handler


def _proxy_config_status_port(annotations):
    """statusPort from the pod's proxy.istio.io/config (JSON or YAML), or None."""
    text = annotations.get(PROXY_CONFIG_ANNOTATION)
    if not isinstance(text, str):
        return None
    try:
        value = json.loads(text).get("statusPort")
    except (ValueError, AttributeError):
        found = _STATUS_PORT_IN_YAML.search(text)
        value = found.group(1) if found else None
    return int(value) if value is not None and _DECIMAL.match(str(value)) else None


def _status_port(annotations, mesh_status_port, ref, kind, findings):
    """The port the injector rewrites probes to: status.sidecar.istio.io/port, else the given
    one (the mesh's, or the pod's proxy.istio.io/config statusPort)."""
    value = annotations.get(STATUS_PORT_ANNOTATION)
    if value is None:
        return mesh_status_port
    try:
        if not _DECIMAL.match(str(value)):
            raise ValueError(value)
        return int(value)
    except (TypeError, ValueError):
        findings.append(Finding("workload", ref, ERROR, "status-port-annotation-invalid",
                                "{0}={1!r} is not a port number; Istio then rewrites probes to port 0".format(
                                    STATUS_PORT_ANNOTATION, value)))
        return 0


def preview_rewrite(workload, status_port=DEFAULT_STATUS_PORT, rewrite_default=True,
                    templates_without_rewrite=None):
    """What the injector will do to the probes of a workload's pods.

    Returns {"rewrite": bool, "injected": bool, "containers": {name: {field: handler}},
    "app_probers": str or None} where app_probers is the ISTIO_KUBE_APP_PROBERS value (None when
    Istio adds no such env). status_port is the mesh's (meshConfig.defaultConfig.statusPort); a
    pod's own annotations may move it. templates_without_rewrite names the injection templates
    that turn the rewrite off (default: Istio's built-in grpc-agent and grpc-simple).
    """
    if templates_without_rewrite is None:
        templates_without_rewrite = BUILTIN_TEMPLATES_WITHOUT_REWRITE
    try:
        return _preview_rewrite(workload, status_port, rewrite_default, templates_without_rewrite)
    except RecursionError:
        raise too_deep(workload.get("kind") if isinstance(workload, dict) else "", object_ref(workload))


def _preview_rewrite(workload, status_port, rewrite_default, templates_without_rewrite):
    template = pod_template(workload)[0]
    annotations = _template_annotations(template)
    if not _injected(template):
        return {"rewrite": False, "injected": False, "containers": {}, "app_probers": None}
    rewrite = _rewrite_enabled(annotations, rewrite_default, templates_without_rewrite)
    containers = {}
    probers = {}
    if rewrite:
        ignored = []
        # The injector works with the pod's proxy config merged over the mesh's: its statusPort
        # decides which probes count as already rewritten; status.sidecar.istio.io/port, when
        # set, is where the rest are rewritten to.
        configured = _proxy_config_status_port(annotations)
        pod_status_port = status_port if configured is None else configured
        target = _status_port(annotations, pod_status_port, workload_ref(workload), workload.get("kind"), ignored)
        for site in probe_sites(workload):
            prober = _agent_prober(site, pod_status_port)
            if prober is not None:
                probers[site.url] = prober
            if site.handler_type in ("httpGet", "tcpSocket", "grpc"):
                containers.setdefault(site.container["name"], {})[site.kind] = _rewritten_handler(site, target)
    app_probers = _go_json(dict(sorted(probers.items()))) if probers else None
    existing = _existing_probers(template, annotations)
    if existing is not None:
        app_probers = _merge_existing_probers(existing, probers) if probers else existing
    return {"rewrite": rewrite, "injected": True, "containers": containers, "app_probers": app_probers}


def _existing_probers(template, annotations):
    """The ISTIO_KUBE_APP_PROBERS value of a pod injected before (its sidecar stays), or None."""
    if SIDECAR_STATUS_ANNOTATION not in annotations:
        return None
    found = None
    for container in ((template.get("spec") or {}).get("containers") or []) + \
            ((template.get("spec") or {}).get("initContainers") or []):
        if isinstance(container, dict) and container.get("name") == PROXY_CONTAINER:
            for env in container.get("env") or []:
                if isinstance(env, dict) and env.get("name") == APP_PROBERS_ENV and isinstance(env.get("value"), str):
                    found = env["value"]
    return found


def _merge_existing_probers(existing, probers):
    """New probers merged with a pod's existing ones, which win (the injector's
    mergeOrAppendProbers); an unreadable existing value is left as it was."""
    try:
        parsed = json.loads(existing)
        if not isinstance(parsed, dict):
            raise ValueError(existing)
    except (TypeError, ValueError):
        return existing
    merged = dict(probers)
    for url, prober in parsed.items():
        merged[url] = _normalised_prober(prober)
    return _go_json(dict(sorted(merged.items())))


def _normalised_prober(prober):
    """An ISTIO_KUBE_APP_PROBERS entry as Go re-encodes it (field order of Istio's Prober)."""
    if not isinstance(prober, dict):
        return prober
    result = {}
    if isinstance(prober.get("httpGet"), dict):
        result["httpGet"] = _http_get_for_agent(prober["httpGet"])
    if isinstance(prober.get("tcpSocket"), dict):
        result["tcpSocket"] = _tcp_for_agent(prober["tcpSocket"])
    if isinstance(prober.get("grpc"), dict):
        result["grpc"] = _grpc_for_agent(prober["grpc"])
    if isinstance(prober.get("timeoutSeconds"), int) and prober["timeoutSeconds"]:
        result["timeoutSeconds"] = prober["timeoutSeconds"]
    return result


def _injected(template):
    """False when the pod template opts out of injection. Istio reads only "true" and "false"
    (the label wins over the legacy annotation); any other value means the namespace decides."""
    metadata = template.get("metadata") or {}
    labels, annotations = metadata.get("labels") or {}, metadata.get("annotations") or {}
    value = labels.get(INJECT_ANNOTATION) if INJECT_ANNOTATION in labels else annotations.get(INJECT_ANNOTATION)
    return value != "false"


def _rewrite_enabled(annotations, rewrite_default, templates_without_rewrite=BUILTIN_TEMPLATES_WITHOUT_REWRITE):
    """Whether the injector rewrites this pod's probes: its annotation, else the global setting;
    an injection template that turns the rewrite off (Istio's grpc-agent and grpc-simple set
    the annotation to "false" themselves) wins over both."""
    chosen = str(annotations.get(TEMPLATES_ANNOTATION) or "")
    if templates_without_rewrite and any(name.strip() in templates_without_rewrite for name in chosen.split(",")):
        return False
    value = parse_go_bool(annotations.get(REWRITE_ANNOTATION))
    return rewrite_default if value is None else value


# --- audit --------------------------------------------------------------------------------------

class WorkloadResult:
    """What one workload needs: findings, and under a fixing strategy the changed objects."""

    __slots__ = ("workload", "ref", "strategy", "findings", "changed_workload", "resources", "preview", "probes")

    def __init__(self, workload, strategy):
        self.workload = workload
        self.ref = workload_ref(workload)
        self.strategy = strategy
        self.findings = []
        self.changed_workload = None
        self.resources = []  # new objects (PeerAuthentications)
        self.preview = None
        self.probes = []  # one summary row per probe site

    def add(self, severity, code, message, row=None, **details):
        """A finding on this workload; given a probe's row, on that container and probe."""
        if row is not None:
            self.findings.append(Finding("workload", self.ref, severity, code, message, container=row["container"],
                                         probe=row["probe"], **details))
        else:
            self.findings.append(Finding("workload", self.ref, severity, code, message, **details))

    @property
    def blocking(self):
        """Probes that would fail under STRICT after this strategy is applied."""
        return [row for row in self.probes if row["breaks_under_strict"]]

    def as_dict(self):
        return {
            "workload": self.ref, "strategy": self.strategy,
            "changed": self.changed_workload is not None or bool(self.resources),
            "probes": self.probes,
            "findings": [f.as_dict() for f in sorted_findings(self.findings)],
        }


class InboundCapture:
    """Which inbound ports the sidecar captures (so mTLS applies to them), from the pod's
    traffic.sidecar.istio.io annotations, parsed once per workload."""

    __slots__ = ("excluded", "included", "limited")

    def __init__(self, annotations):
        excluded = _port_list(annotations.get(EXCLUDE_INBOUND_ANNOTATION))
        self.excluded = excluded if isinstance(excluded, set) else set()
        self.included = _port_list(annotations.get(INCLUDE_INBOUND_ANNOTATION))
        # False for the usual pod, whose every inbound port is captured: then no port needs a check.
        self.limited = bool(self.excluded) or self.included not in (None, "*")

    def captures(self, port):
        if port is None:
            return True
        if port in self.excluded:
            return False
        return self.included is None or self.included == "*" or port in self.included


CAPTURE_ALL = InboundCapture({})  # a pod without traffic annotations: every inbound port


def parse_command_template(option, template):
    """An exec command template as its words, checked once: a template that is empty, cannot be
    split like a shell line, or names a placeholder that does not exist is an InputError."""
    if not isinstance(template, str) or not template.strip():
        raise InputError("", option, "", "must be a command, such as {0!r}".format(DEFAULT_EXEC_HTTP))
    try:
        words = shlex.split(template)
    except ValueError as error:
        raise InputError("", option, "", "{0!r} cannot be split into words: {1}".format(template, error))
    allowed = EXEC_FIELDS[option]
    for word in words:
        try:
            fields = [name for dummy, name, spec, conversion in string.Formatter().parse(word) if name is not None]
        except ValueError as error:
            raise InputError("", option, "", "{0!r}: {1}".format(template, error))
        for name in fields:
            if name not in allowed:
                raise InputError("", option, "", "{0!r} names {{{1}}}; the placeholders are {2}".format(
                    template, name, ", ".join("{" + f + "}" for f in allowed)))
        if "service_flag" in fields and word != "{service_flag}":
            raise InputError("", option, "", "{{service_flag}} must be a word of its own in {0!r}".format(template))
    if "{" in words[0]:
        raise InputError("", option, "", "the command itself ({0!r}) cannot be a placeholder".format(words[0]))
    return words


def _render(words, **values):
    """The argument list of a parsed template; a word that formats to nothing is left out."""
    command = [word.format(**values) for word in words]
    return [word for word in command if word]


def _valid_probe_host(host):
    if not isinstance(host, str) or not host or host != host.strip():
        return False
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return is_dns1123_subdomain(host.lower())


class ProbeAnalysis:
    """How each probe and hook of a workload fares under STRICT mTLS and Istio's probe rewrite: the
    verdicts and findings that ProbeAuditor reports and acts on."""

    def __init__(self, status_port=DEFAULT_STATUS_PORT, rewrite_default=True, exec_http_command=DEFAULT_EXEC_HTTP,
                 exec_tcp_command=DEFAULT_EXEC_TCP, exec_grpc_command=DEFAULT_EXEC_GRPC, templates_without_rewrite=None):
        self.status_port = status_port
        self.rewrite_default = rewrite_default
        self.templates_without_rewrite = (BUILTIN_TEMPLATES_WITHOUT_REWRITE if templates_without_rewrite is None
                                          else frozenset(templates_without_rewrite))
        self.exec_http_command = parse_command_template("exec_http_command", exec_http_command)
        self.exec_tcp_command = parse_command_template("exec_tcp_command", exec_tcp_command)
        self.exec_grpc_command = parse_command_template("exec_grpc_command", exec_grpc_command)

    def _classify(self, handler_type, action, port, is_hook, container, capture, rewrite, injected):
        """(breaks under STRICT, reason, finding code) of one probe or hook, from its parts (this runs
        for every probe of a cluster-sized audit, before any ProbeSite exists)."""
        if handler_type == "exec":
            return False, "exec handlers run inside the container and are never affected", None
        if handler_type is None or handler_type == "sleep":
            return False, "makes no network call: nothing for the mesh to affect", None
        if not injected:
            return False, "the pod opts out of injection: no sidecar, no mTLS on its ports", None
        if is_hook and handler_type == "grpc":
            return False, "ok", None
        if isinstance(port, int) and not isinstance(port, bool):
            resolved = port
        else:
            resolved = _resolve_port(port, container)
            if resolved is None and isinstance(port, str):
                return True, "named port does not resolve", "named-port-unresolved"
        if capture.limited and not capture.captures(resolved):
            return False, "port {0} is not captured by the sidecar (traffic.sidecar.istio.io annotations)".format(
                resolved), None
        if not rewrite:
            if handler_type == "tcpSocket":
                return (False, "the sidecar accepts every TCP connection: the probe passes whatever the app does",
                        "tcp-probe-meaningless")
            return True, "Istio's probe rewrite is disabled for this pod", "rewrite-disabled"
        if handler_type == "httpGet" and action.get("host"):
            return True, "httpGet.host is set: kubelet would call {0}:{1}".format(
                action["host"], self.status_port), "probe-host-set"
        return False, "rewritten by Istio to the sidecar agent", "rewritten"

    def _classify_site(self, site, capture, rewrite, injected):
        return self._classify(site.handler_type, site.action, site.port, site.is_hook, site.container, capture,
                              rewrite, injected)

    def _report_site(self, result, row, action, code, annotations):
        """The finding for a probe's verdict code, on the probe's row."""
        if code == "named-port-unresolved":
            result.add(ERROR, code, "port {0!r} is not a named port of container {1!r}: kubelet cannot run this "
                       "probe even without the mesh, and Istio drops it from the agent's probers".format(
                           row["port"], row["container"]), row)
        elif code == "rewrite-disabled":
            result.add(ERROR, code, "{0} probe to port {1} fails under STRICT mTLS: {2}={3!r} turns Istio's probe "
                       "rewrite off".format(row["handler"], row["port"], REWRITE_ANNOTATION,
                                            annotations.get(REWRITE_ANNOTATION, "<global default false>")), row)
        elif code == "tcp-probe-meaningless":
            result.add(WARNING, code, "tcpSocket probe to port {0} always succeeds once the sidecar runs, because the "
                       "sidecar accepts the connection; enable the rewrite so the agent checks the app".format(
                           row["port"]), row)
        elif code == "probe-host-set":
            result.add(ERROR, code, "httpGet.host is {0!r}: after the rewrite kubelet calls {0}:{1}, not the pod's "
                       "sidecar agent".format(action.get("host"), self.status_port), row)
        if row["handler"] == "httpGet" and action.get("scheme") == "HTTPS" and code == "rewritten":
            result.add(INFO, "https-probe", "kubelet will call the agent over HTTP on port {0}; the agent calls the "
                       "app over HTTPS without verifying its certificate".format(self.status_port), row)

    def _annotation_findings(self, result, workload, template, annotations):
        value = annotations.get(REWRITE_ANNOTATION)
        if value is not None and parse_go_bool(value) is None:
            result.add(WARNING, "rewrite-annotation-invalid", "{0}={1!r} is not a boolean Go accepts; Istio uses its "
                       "global default ({2})".format(REWRITE_ANNOTATION, value, str(self.rewrite_default).lower()))
        if workload.get("kind") != "Pod":
            outer = (workload.get("metadata") or {}).get("annotations") or {}
            if REWRITE_ANNOTATION in outer and REWRITE_ANNOTATION not in annotations:
                result.add(WARNING, "rewrite-annotation-on-workload", "{0} is set on the {1}'s own metadata, where "
                           "Istio never reads it; it must be on the pod template".format(
                               REWRITE_ANNOTATION, workload.get("kind")))

    def _stale_injection(self, result, workload, template, rewrite):
        """A Pod injected while the rewrite was off keeps plain probes until it is recreated."""
        if workload.get("kind") != "Pod" or not rewrite:
            return
        if SIDECAR_STATUS_ANNOTATION not in _template_annotations(template):
            return
        stale = [site for site in probe_sites(workload)
                 if site.handler_type in ("httpGet", "tcpSocket", "grpc") and not site.is_hook
                 and site.resolved_port() != self.status_port]
        if stale:
            result.add(ERROR, "pod-needs-restart", "the pod was injected without the probe rewrite ({0} probe(s) "
                       "still target the app port); recreate it (rollout restart of its owner)".format(len(stale)))
            for row in result.probes:
                if row["handler"] in ("httpGet", "tcpSocket", "grpc") and not row["probe"].startswith("lifecycle."):
                    row.update(breaks_under_strict=True, reason="pod injected before the rewrite applied")

    def _scan(self, result, template, path, annotations, capture, rewrite, injected, verdicts):
        """One row per probe and hook into result.probes. Auditing (verdicts is None), findings are
        added at once; otherwise (site, row, code) go to verdicts for the strategy to act on.

        This is the inner loop of a cluster-wide audit (tens of thousands of probes), so the walk of
        _handlers and the detection of _handler_action are written out here, and an audit makes no
        ProbeSite at all: its findings are told from the row. Only a fixing strategy gets a
        ProbeSite per probe, to know where to write.
        """
        rows = result.probes
        classify = self._classify
        spec = template["spec"]
        for key in ("initContainers", "containers"):
            for index, container in enumerate(spec.get(key) or ()):
                name = container.get("name") if isinstance(container, dict) else None
                if not isinstance(name, str):
                    raise _unnamed_container(result.workload, path, key, index)
                if name == PROXY_CONTAINER:
                    continue
                lifecycle = container.get("lifecycle")
                for holder, slots in ((container, PROBE_SLOTS), (lifecycle, HOOK_SLOTS)):
                    if not isinstance(holder, dict):
                        if holder is not None:
                            raise self._not_a_mapping(result, path, key, index, "lifecycle")
                        continue
                    for slot in slots:
                        handler = holder.get(slot[0])
                        if not isinstance(handler, dict):
                            if handler is not None:
                                raise self._not_a_mapping(result, path, key, index, slot)
                            continue
                        handler_type = action = port = None
                        for handler_type in HANDLER_TYPES:
                            action = handler.get(handler_type)
                            if action is not None:
                                break
                        else:
                            handler_type = None
                        if isinstance(action, dict):
                            port = action.get("port")
                        elif action is not None:
                            raise self._not_a_mapping(result, path, key, index, slot, handler_type)
                        breaks, reason, code = classify(handler_type, action, port, slot[3], container, capture,
                                                        rewrite, injected)
                        row = {"container": name, "probe": slot[1], "handler": handler_type, "port": port,
                               "breaks_under_strict": breaks, "reason": reason}
                        rows.append(row)
                        if verdicts is not None:
                            verdicts.append((ProbeSite(key, index, container, slot, handler), row, code))
                        elif code is not None and (code != "rewritten" or handler_type == "httpGet"
                                                   and action.get("scheme") == "HTTPS"):
                            self._report_site(result, row, action, code, annotations)

    @staticmethod
    def _not_a_mapping(result, path, key, index, slot, handler_type=None):
        """The error for a probe, hook or handler action that is not a mapping (the API server
        refuses those too)."""
        kind = result.workload.get("kind")
        if slot == "lifecycle":
            fields = ("lifecycle",)
        else:
            fields = (("lifecycle",) if slot[3] else ()) + (slot[0],) + ((handler_type,) if handler_type else ())
        return InputError(kind, object_ref(result.workload), field_path(*(path + ("spec", key, index) + fields)),
                          "must be a mapping")


class ProbeAuditor(ProbeAnalysis):
    """Audits and converts workloads. One instance serves a whole cluster's worth of objects."""

    def audit(self, workload):
        return self.process(workload, "audit")

    # conversion ------------------------------------------------------------------------------
    def process(self, workload, strategy):
        try:
            return self._process(workload, strategy)
        except RecursionError:
            raise too_deep(workload.get("kind") if isinstance(workload, dict) else "", object_ref(workload))

    def _process(self, workload, strategy):
        if strategy not in STRATEGIES:
            raise InputError(workload.get("kind", "object"), workload_ref(workload), "strategy",
                             "unknown strategy {0!r}; use one of {1}".format(strategy, ", ".join(STRATEGIES)))
        template, path = pod_template(workload)
        result = WorkloadResult(workload, strategy)
        annotations = _template_annotations(template)
        if annotations:
            rewrite = _rewrite_enabled(annotations, self.rewrite_default, self.templates_without_rewrite)
            capture = InboundCapture(annotations)
            _status_port(annotations, self.status_port, result.ref, workload.get("kind"), result.findings)
        else:
            rewrite, capture = self.rewrite_default, CAPTURE_ALL
        injected = _injected(template)
        self._annotation_findings(result, workload, template, annotations)
        verdicts = None if strategy == "audit" else []
        self._scan(result, template, path, annotations, capture, rewrite, injected, verdicts)
        self._stale_injection(result, workload, template, rewrite)
        if strategy == "rewrite":
            self._apply_rewrite(result, workload, path, verdicts, annotations, capture, rewrite, injected)
        elif strategy == "exec":
            self._apply_exec(result, workload, path, verdicts, annotations)
        elif strategy == "health_port":
            self._apply_health_port(result, workload, verdicts, annotations)
        if len(result.findings) > 1:
            result.findings = sorted_findings(result.findings)
        return result

    def _copy_template(self, result, workload, path):
        if result.changed_workload is None:
            result.changed_workload = copy.deepcopy(workload)
        new = result.changed_workload
        return _get(new, path) if path else new

    def _apply_rewrite(self, result, workload, path, verdicts, annotations, capture, rewrite, injected):
        if not rewrite and any(verdict[2] in ("rewrite-disabled", "tcp-probe-meaningless") for verdict in verdicts):
            template = self._copy_template(result, workload, path)
            template.setdefault("metadata", {}).setdefault("annotations", {})[REWRITE_ANNOTATION] = "true"
            result.add(INFO, "rewrite-enabled", "set {0}: \"true\" on the pod template so Istio rewrites the "
                       "probes; pods pick it up when they are recreated".format(REWRITE_ANNOTATION))
            # From here on the probes are judged as Istio will see them, with the rewrite on.
            rewritten = []
            for site, row, code in verdicts:
                breaks, reason, code = self._classify_site(site, capture, True, injected)
                if code == "rewritten":
                    reason = "rewritten by Istio once pods are recreated"
                row.update(breaks_under_strict=breaks, reason=reason)
                rewritten.append((site, row, code))
            verdicts = rewritten
        for site, row, code in verdicts:
            if code == "probe-host-set":
                host = site.action.get("host")
                if host in LOCAL_HOSTS:
                    template = self._copy_template(result, workload, path)
                    container = template["spec"][site.container_key][site.index]
                    handler = container["lifecycle"][site.field] if site.is_hook else container[site.field]
                    handler["httpGet"].pop("host", None)
                    row.update(breaks_under_strict=False, reason="host removed; rewritten by Istio")
                    result.add(INFO, "probe-host-removed", "removed httpGet.host {0!r}: it named the pod itself, "
                               "which the sidecar agent calls anyway".format(host), row)
                else:
                    result.add(ERROR, "probe-host-unfixable", "httpGet.host {0!r} points away from the pod; the "
                               "rewrite cannot keep this probe: use the exec strategy or drop the host".format(host),
                               row)
            elif code == "named-port-unresolved":
                self._report_site(result, row, site.action, code, annotations)
            elif code == "rewritten" and site.action.get("scheme") == "HTTPS":
                self._report_site(result, row, site.action, code, annotations)
        preview_source = result.changed_workload or workload
        result.preview = preview_rewrite(preview_source, self.status_port, self.rewrite_default,
                                         self.templates_without_rewrite)

    def _exec_command(self, result, site, port):
        """The exec probe's argument list: each word of the template formatted on its own, so a
        value (a host, a path) is always one argument, never split into options."""
        action = site.action
        timeout = site.handler.get("timeoutSeconds") or 1
        if not isinstance(timeout, int) or isinstance(timeout, bool) or timeout < 1:
            raise InputError(result.workload.get("kind"), result.ref, self._field(result, site, "timeoutSeconds"),
                             "{0!r} is not a number of seconds".format(timeout))
        host = action.get("host") or "127.0.0.1"
        if not _valid_probe_host(host):
            raise InputError(result.workload.get("kind"), result.ref,
                             self._field(result, site, site.handler_type + ".host"),
                             "{0!r} is not a host name or IP address".format(host))
        if site.handler_type == "httpGet":
            scheme = (action.get("scheme") or "HTTP").lower()
            path = action.get("path") or "/"
            if not isinstance(path, str):
                raise InputError(result.workload.get("kind"), result.ref,
                                 self._field(result, site, "httpGet.path"), "must be a string")
            url = "{0}://{1}:{2}{3}".format(scheme, host if ":" not in host else "[" + host + "]", port,
                                            path if path.startswith("/") else "/" + path)
            command = _render(self.exec_http_command, url=url, host=host, port=port, path=path, timeout=timeout)
            if scheme == "https" and command[0] == "wget":
                command.insert(1, "--no-check-certificate")
            for header in action.get("httpHeaders") or []:
                if command[0] == "wget" and isinstance(header, dict):
                    command[1:1] = ["--header", "{0}: {1}".format(header.get("name"), header.get("value"))]
            return command
        if site.handler_type == "tcpSocket":
            return _render(self.exec_tcp_command, host=host, port=port, timeout=timeout)
        service = action.get("service")
        return _render(self.exec_grpc_command, host=host, port=port, timeout=timeout,
                       service_flag="-service={0}".format(service) if service else "")

    @staticmethod
    def _field(result, site, name):
        path = TEMPLATE_PATHS.get(result.workload.get("kind"), ())
        holder = (site.container_key, site.index) + (("lifecycle",) if site.is_hook else ())
        return field_path(*(path + ("spec",) + holder + (site.field,) + tuple(name.split("."))))

    def _apply_exec(self, result, workload, path, verdicts, annotations):
        binaries = set()
        for site, row, code in verdicts:
            if site.handler_type not in ("httpGet", "tcpSocket", "grpc") or (site.is_hook and site.handler_type == "grpc"):
                continue
            port = site.resolved_port()
            if port is None:
                self._report_site(result, row, site.action, "named-port-unresolved", annotations)
                continue
            command = self._exec_command(result, site, port)
            template = self._copy_template(result, workload, path)
            container = template["spec"][site.container_key][site.index]
            holder = container["lifecycle"] if site.is_hook else container
            handler = holder[site.field]
            handler.pop(site.handler_type, None)
            handler["exec"] = {"command": command}
            binaries.add((site.container["name"], command[0]))
            row.update(breaks_under_strict=False, reason="exec probe: runs inside the container")
            result.add(INFO, "converted-to-exec", "{0} replaced by exec {1}".format(site.handler_type, command), row)
        for container, binary in sorted(binaries):
            result.add(WARNING, "exec-binary-required", "the image of container {0!r} must provide {1!r} for the "
                       "exec probes; check before rolling out".format(container, binary), container=container)

    def _apply_health_port(self, result, workload, verdicts, annotations):
        ports = set()
        for site, row, code in verdicts:
            if code == "rewrite-disabled":
                ports.add(site.resolved_port())
                row.update(breaks_under_strict=False, reason="mTLS disabled on port {0} for this workload".format(
                    site.resolved_port()))
            elif code in ("named-port-unresolved", "probe-host-set", "tcp-probe-meaningless"):
                # A plaintext port does not help here: report what still needs another strategy.
                self._report_site(result, row, site.action, code, annotations)
        ports.discard(None)
        if not ports:
            return
        selector = workload_selector(workload)
        if not selector:
            result.add(ERROR, "health-port-no-selector", "no pod labels to select this workload with; a "
                       "PeerAuthentication without a selector would disable mTLS for the whole namespace")
            for row in result.probes:
                if row["reason"].startswith("mTLS disabled"):
                    row.update(breaks_under_strict=True, reason="no selector for a workload PeerAuthentication")
            return
        metadata = workload["metadata"]
        name = stable_name("{0}-{1}-probes".format(metadata["name"], workload["kind"].lower()),
                           exact=result.ref)
        result.resources.append({
            "apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
            "metadata": {"name": name, "namespace": metadata.get("namespace") or "default",
                         "labels": {"app.kubernetes.io/managed-by": "adoptmesh.istio"},
                         "annotations": {"adoptmesh.istio/probe-ports-of": result.ref}},
            "spec": {"selector": {"matchLabels": dict(sorted(selector.items()))},
                     "portLevelMtls": dict((str(port), {"mode": "DISABLE"}) for port in sorted(ports))},
        })
        result.add(WARNING, "health-port-plaintext", "port(s) {0} of this workload will accept plaintext from any "
                   "client, not only kubelet; prefer a port that serves health checks only".format(
                       ", ".join(str(p) for p in sorted(ports))))


def workload_selector(workload):
    """Labels that select a workload's pods, for a workload PeerAuthentication."""
    kind = workload.get("kind")
    if kind == "Pod":
        labels = (workload.get("metadata") or {}).get("labels") or {}
    elif kind in ("Job", "CronJob"):
        template = pod_template(workload)[0]
        labels = dict((k, v) for k, v in ((template.get("metadata") or {}).get("labels") or {}).items()
                      if k not in ("controller-uid", "batch.kubernetes.io/controller-uid", "job-name",
                                   "batch.kubernetes.io/job-name"))
    else:
        labels = _get(workload, ("spec", "selector", "matchLabels")) or {}
        if not labels and not _get(workload, ("spec", "selector", "matchExpressions")):
            template = pod_template(workload)[0]
            labels = (template.get("metadata") or {}).get("labels") or {}
    return dict((str(k), str(v)) for k, v in labels.items())


def process_workloads(workloads, strategy="audit", overrides=None, auditor=None):
    """Run one strategy (with per-workload overrides) over many workloads.

    overrides: {"namespace/Kind/name" or "namespace/name": strategy}. Bad objects raise
    InputError naming the object and field.
    """
    auditor = auditor or ProbeAuditor()
    overrides = overrides or {}
    results = []
    # Thousands of workloads make many small objects and no reference cycles: the cyclic garbage
    # collector would only rescan the (large) inputs over and over. Off for this loop only.
    collecting = gc.isenabled()
    gc.disable()
    try:
        for workload in workloads:
            chosen = strategy
            if overrides and isinstance(workload, dict):
                chosen = overrides.get(workload_ref(workload), overrides.get(object_ref(workload), strategy))
            try:
                results.append(auditor.process(workload, chosen))
            except RecursionError:
                raise too_deep(workload.get("kind") if isinstance(workload, dict) else "", object_ref(workload))
    finally:
        if collecting:
            gc.enable()
    return results
