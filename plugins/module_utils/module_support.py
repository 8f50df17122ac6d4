# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Glue shared by the cluster-facing modules: argument spec with kubernetes.core's auth options,
one API client per run with a timeout on every request, and errors turned into clear failures.
The logic lives elsewhere."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from .cluster import Cluster, ClusterError, connect
from .errors import InputError
from .names import object_ref
from .redaction import redact
from .owned import OWNED_KINDS, owner_selector, plan
from .reporting import diff_entry

try:
    from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import AnsibleK8SModule
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.exceptions import CoreException
except ImportError:
    KUBERNETES_CORE_IMPORT_ERROR = traceback.format_exc()
    # The same option names, so that a play written for the collection still parses and the
    # offline modes (given objects, not a cluster) work without kubernetes.core.
    AUTH_ARG_SPEC = dict((name, {"type": "raw"}) for name in (
        "kubeconfig", "context", "host", "username", "validate_certs", "ca_cert", "client_cert", "client_key",
        "proxy", "no_proxy", "proxy_headers", "persist_config", "impersonate_user", "impersonate_groups"))
    AUTH_ARG_SPEC.update(api_key={"type": "raw", "no_log": True}, password={"type": "raw", "no_log": True})
    CoreException = ClusterError
    AnsibleK8SModule = None
else:
    KUBERNETES_CORE_IMPORT_ERROR = None

try:
    from kubernetes.client import rest as kubernetes_rest
except ImportError:
    KUBERNETES_IMPORT_ERROR = traceback.format_exc()
    kubernetes_rest = None
else:
    KUBERNETES_IMPORT_ERROR = None

# InputError: an API answer that does not fit the schema of what is read (shapes.py); fail closed.
FAILURES = (ClusterError, CoreException, InputError)
DEFAULT_REQUEST_TIMEOUT = 30.0
CONNECT_TIMEOUT_MAX = 10.0
# Keys of a kubeconfig whose values are credentials (kubeconfig's own field names).
CREDENTIAL_KEYS = ("token", "password", "client-key-data", "id-token", "refresh-token", "access-token",
                   "client-secret", "secret")


def cluster_spec(argument_spec):
    """The module's own options, kubernetes.core's auth options and request_timeout."""
    spec = dict(argument_spec)
    spec.update(AUTH_ARG_SPEC)
    # kubernetes.core hides the whole kubeconfig; given as a dict, Ansible then masks every value
    # in it ("v1", the cluster's name...) wherever it appears in the result. Only its credentials
    # are hidden here (_hide_kubeconfig_credentials).
    spec["kubeconfig"] = {"type": "raw", "no_log": False}
    spec["request_timeout"] = {"type": "float", "default": DEFAULT_REQUEST_TIMEOUT}
    return spec


def progress_spec(argument_spec):
    """The module's options and progress_file (see plugins/plugin_utils/progress.py)."""
    return dict(argument_spec, progress_file=dict(type="path"))


def progress_writer(path):
    """A function that appends a line to the progress file, or does nothing without one. A line
    that cannot be written is dropped: progress is for people watching, never a reason to fail."""
    def write(line):
        if not path:
            return
        try:
            with open(path, "a") as handle:
                handle.write(line.replace("\n", " ") + "\n")
        except OSError:
            pass
    return write


def elapsed_text(seconds):
    """12 s, 3 min 04 s."""
    seconds = int(round(seconds))
    return "{0} s".format(seconds) if seconds < 60 else "{0} min {1:02d} s".format(seconds // 60, seconds % 60)


def _credentials(value, key=None):
    if isinstance(value, dict):
        for child_key, child in value.items():
            yield from _credentials(child, child_key)
    elif isinstance(value, list):
        for child in value:
            yield from _credentials(child, key)
    elif isinstance(value, str) and value and isinstance(key, str) and (
            key.lower() in CREDENTIAL_KEYS or key.lower().endswith(("-token", "_token", "-key-data"))):
        yield value


class RedactingModule(AnsibleModule):
    """An AnsibleModule whose failure messages and warnings never carry key material: they quote
    what API servers and webhooks said, and a webhook may quote the Secret it denied."""

    def fail_json(self, msg, **kwargs):  # pylint: disable=arguments-differ
        super(RedactingModule, self).fail_json(msg=redact(msg), **kwargs)

    def warn(self, warning):
        super(RedactingModule, self).warn(redact(warning))


def cluster_module(argument_spec, **kwargs):
    """An AnsibleK8SModule with the auth options added. Without kubernetes.core it is a plain
    AnsibleModule: the offline modes work, and open_cluster says what is missing."""
    spec = cluster_spec(argument_spec)
    if AnsibleK8SModule is None:
        module = RedactingModule(argument_spec=spec, supports_check_mode=True, **kwargs)
    else:
        # The kubernetes package is checked when a cluster is opened: offline modes do not need it.
        module = AnsibleK8SModule(module_class=RedactingModule, argument_spec=spec, supports_check_mode=True,
                                  check_k8s=False, **kwargs)
    kubeconfig = module.params.get("kubeconfig")
    if isinstance(kubeconfig, dict):
        getattr(module, "_module", module).no_log_values.update(_credentials(kubeconfig))
    if module.params["request_timeout"] <= 0:
        module.fail_json(msg="request_timeout must be more than 0 seconds, got {0}".format(
            module.params["request_timeout"]))
    return module


def describe(params):
    """The cluster a module was pointed at, for error messages before a client exists: the API
    URL given, else the context, else the server of the kubeconfig's current context."""
    host, context = params.get("host"), params.get("context")
    if isinstance(host, str) and host:
        return host
    server = _kubeconfig_server(params.get("kubeconfig"), context)
    if isinstance(context, str) and context:
        return "{0} ({1})".format(context, server) if server else context
    return server or "of the default kubeconfig"


def kubeconfig_source(params, environ=None):
    """(path or None, where it came from) of the kubeconfig a module will read, for messages.
    None when a host is given or the kubeconfig is inline. Follows kubernetes.core and the
    kubernetes client: the option (or K8S_AUTH_KUBECONFIG), else KUBECONFIG's first file, else
    ~/.kube/config."""
    environ = os.environ if environ is None else environ
    kubeconfig = params.get("kubeconfig")
    if isinstance(kubeconfig, dict) or (params.get("host") and not kubeconfig):
        return None, None
    if isinstance(kubeconfig, str) and kubeconfig:
        if environ.get("K8S_AUTH_KUBECONFIG") == kubeconfig:
            return kubeconfig, "the K8S_AUTH_KUBECONFIG environment variable"
        return kubeconfig, "the kubeconfig option (adoptmesh_kubeconfig in the playbooks)"
    if environ.get("KUBECONFIG"):
        return environ["KUBECONFIG"].split(os.pathsep)[0], "the KUBECONFIG environment variable"
    return os.path.expanduser("~/.kube/config"), "the default, as no kubeconfig was given"


def _kubeconfig_server(kubeconfig, context=None):
    """The server URL a kubeconfig (a path or a dict) points at, or None."""
    try:
        if isinstance(kubeconfig, str) and kubeconfig:
            import yaml
            with open(kubeconfig) as handle:
                kubeconfig = yaml.safe_load(handle)
        if not isinstance(kubeconfig, dict):
            return None
        name = context or kubeconfig.get("current-context")
        entry = next(c["context"] for c in kubeconfig.get("contexts") or [] if c.get("name") == name)
        cluster = next(c["cluster"] for c in kubeconfig.get("clusters") or [] if c.get("name") == entry.get("cluster"))
        return cluster.get("server")
    except Exception:  # only a name for messages: a kubeconfig the client cannot read fails there, clearly
        return None


def request_timeouts(seconds):
    """(connect, read) timeouts for one request."""
    return (min(CONNECT_TIMEOUT_MAX, seconds), seconds)


def install_request_timeout(seconds):
    """Give every request of the kubernetes client in this process a connect and read timeout,
    unless the caller set one, and do not retry a request that timed out.

    The client sends requests before get_api_client returns (the server version, discovery), so
    the default must be in place before it is created; the module process is ours alone."""
    if kubernetes_rest is None:
        return
    cls = kubernetes_rest.RESTClientObject
    original = getattr(cls.request, "adoptmesh_original", cls.request)
    timeouts = request_timeouts(seconds)

    def request(self, method, url, headers=None, body=None, post_params=None, _request_timeout=None):
        # urllib3 would retry a read that timed out three times, quadrupling the wait.
        retries = getattr(self.pool_manager, "connection_pool_kw", {})
        if "retries" not in retries:
            import urllib3
            retries["retries"] = urllib3.Retry(total=3, connect=3, read=0, redirect=0, status=0)
        return original(self, method, url, headers=headers, body=body, post_params=post_params,
                        _request_timeout=_request_timeout or timeouts)

    request.adoptmesh_original = original
    cls.request = request


def open_cluster(module, field_manager="adoptmesh-istio"):
    """The module's one API client, or a failure that says what is missing."""
    if KUBERNETES_CORE_IMPORT_ERROR:
        module.fail_json(msg="the kubernetes.core collection is required to talk to a cluster (ansible-galaxy "
                         "collection install kubernetes.core, or the collection's requirements.yml)",
                         exception=KUBERNETES_CORE_IMPORT_ERROR)
    if KUBERNETES_IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib("kubernetes", reason="to talk to a cluster") +
                         " (pip install 'kubernetes>=24.2.0', or the collection's requirements.txt)",
                         exception=KUBERNETES_IMPORT_ERROR)
    install_request_timeout(module.params["request_timeout"])
    description = describe(module.params)
    path, source = kubeconfig_source(module.params)
    explicit = source is not None and not source.startswith("the default")
    if explicit and not os.path.isfile(os.path.expanduser(path)):
        module.fail_json(msg="the kubeconfig {0} (from {1}) does not exist or is not a file".format(path, source))
    try:
        client = connect(lambda: get_api_client(module).client, description)
    except ClusterError as error:
        if path is None:
            raise
        raise ClusterError("{0} (kubeconfig {1}, from {2}{3})".format(
            error, path, source, "" if os.path.isfile(os.path.expanduser(path)) else "; it does not exist"),
            error.status)
    return Cluster(client, field_manager=field_manager, dry_run=module.check_mode, name=description)


# Policies first, then what they guard: if a later write fails, no route is served without the
# AuthorizationPolicy or DestinationRule written for it, so no intermediate state is more open
# than before. Kinds not named here come last, in the order given.
WRITE_ORDER = ("AuthorizationPolicy", "PeerAuthentication", "RequestAuthentication", "DestinationRule",
               "ServiceEntry", "Sidecar", "Gateway", "VirtualService", "HTTPRoute", "GRPCRoute", "TLSRoute")


def in_write_order(resources):
    """The resources sorted by WRITE_ORDER (stable within a kind)."""
    rank = dict((kind, index) for index, kind in enumerate(WRITE_ORDER))
    return sorted(resources, key=lambda resource: rank.get(resource.get("kind"), len(WRITE_ORDER)))


def apply_in_order(cluster, resources):
    """Server-side apply of resources in WRITE_ORDER. Returns the diffs of those that changed.
    On a failed write raises PartialWrite, which knows what was and was not written."""
    return _apply_entries(cluster, [(resource, None, False) for resource in resources])


def _apply_entries(cluster, entries):
    diffs = []
    rank = dict((kind, index) for index, kind in enumerate(WRITE_ORDER))
    ordered = sorted(entries, key=lambda entry: rank.get(entry[0].get("kind"), len(WRITE_ORDER)))
    for index, (resource, live, live_known) in enumerate(ordered):
        try:
            was_changed, before, after = cluster.apply(resource, live, live_known)
        except ClusterError as error:
            raise PartialWrite(error, cluster.written, [entry[0] for entry in ordered[index:]])
        if was_changed:
            diffs.append(diff_entry(before, after))
    return diffs


def sync_owned(cluster, resources, owner, prune):
    """Bring gateway `owner`'s generated objects to `resources` (see sync_labelled)."""
    return sync_labelled(cluster, resources, OWNED_KINDS, owner_selector(owner), prune)


def sync_labelled(cluster, resources, kinds, selector, prune):
    """Bring the generated objects `selector` finds to `resources`: one labelled LIST per kind,
    writes for what is missing or differs only, and with `prune` deletes of what is no longer
    produced (routes before the Gateways and policies they rely on). Returns (diffs, pruned refs)."""
    owned = []
    for api_version, kind in kinds:
        owned.extend(cluster.list(api_version, kind, label_selectors=[selector], missing_ok=True))
    steps = plan(resources, owned, prune)
    diffs = _apply_entries(cluster, steps.write)
    pruned = []
    for obj in reversed(in_write_order(steps.prune)):
        if cluster.delete(obj):
            pruned.append("{0} {1}".format(obj["kind"], object_ref(obj)))
            diffs.append(diff_entry(obj, None))
    return diffs, pruned


class PartialWrite(ClusterError):
    """A write failed after others went through: says which did and which did not."""

    def __init__(self, error, written, pending):
        self.written = list(written)
        self.not_written = ["{0} {1}".format(r.get("kind"), object_ref(r)) for r in pending]
        message = "{0}; written before the failure: {1}; not written: {2}".format(
            error, ", ".join(self.written) or "nothing", ", ".join(self.not_written))
        super(PartialWrite, self).__init__(message, error.status)


def fail_on_cluster_error(module, cluster, error, **result):
    """fail_json for a ClusterError, with `changed` and `written` telling what was written."""
    written = list(cluster.written) if cluster is not None else []
    result.update(changed=bool(written), written=written)
    if isinstance(error, InputError) and cluster is not None:
        error = "cluster {0}: an object read does not fit its schema: {1}".format(cluster.name, error)
    if isinstance(error, PartialWrite):
        result["not_written"] = error.not_written
    elif written:
        error = "{0}; already written: {1}".format(error, ", ".join(written))
    module.fail_json(msg=str(error), **result)


def read_ingress_sources(cluster, namespaces, label_selectors, secrets=True):
    """(Ingresses, their namespaces' Services, {(namespace, name)} of the TLS Secrets they name that
    exist): what a translation reads. One LIST per kind and namespace."""
    ingresses = cluster.list("networking.k8s.io/v1", "Ingress", namespaces, label_selectors)
    ingress_namespaces = sorted(set(i["metadata"]["namespace"] for i in ingresses))
    services = cluster.list("v1", "Service", ingress_namespaces) if ingress_namespaces else []
    if not secrets:
        return ingresses, services, None
    referenced = set()
    for item in ingresses:
        for entry in item.get("spec", {}).get("tls") or []:
            if isinstance(entry, dict) and isinstance(entry.get("secretName"), str):
                referenced.add((item["metadata"]["namespace"], entry["secretName"]))
    # Existence only, asking for metadata: the Secrets' keys never leave the cluster. One LIST per
    # namespace with a referenced Secret, not one GET per Secret.
    secret_namespaces = sorted(set(namespace for namespace, _name in referenced))
    listed = cluster.list("v1", "Secret", secret_namespaces, metadata_only=True) if secret_namespaces else []
    known = set((s["metadata"]["namespace"], s["metadata"]["name"]) for s in listed) & referenced
    return ingresses, services, known


def read_owned(cluster, owner):
    """Every object gateway `owner`'s translation runs generated, as they are on the cluster now."""
    owned = []
    for api_version, kind in OWNED_KINDS:
        owned.extend(cluster.list(api_version, kind, label_selectors=[owner_selector(owner)], missing_ok=True))
    return owned
