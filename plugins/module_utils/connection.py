# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The connection of the cluster-facing modules: their argument spec with kubernetes.core's auth
options, one API client per run with a timeout on every request, and errors turned into clear
failures. What is read and written through the client is in `cluster.py` (the service) and
`sync.py` (apply, sync, prune); waits are in `waiter.py`."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import os
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from .cluster import Cluster, ClusterError, connect
from .errors import InputError
from .redaction import redact
from .sync import PartialWrite

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


def _with_timeouts(send, timeouts):
    """`send` (a RESTClientObject's request) with `timeouts` where the caller set none, and without
    urllib3's retries of a read that timed out (three of them would quadruple the wait)."""
    def request(self, method, url, headers=None, body=None, post_params=None, _request_timeout=None):
        retries = getattr(self.pool_manager, "connection_pool_kw", {})
        if "retries" not in retries:
            import urllib3
            retries["retries"] = urllib3.Retry(total=3, connect=3, read=0, redirect=0, status=0)
        return send(self, method, url, headers=headers, body=body, post_params=post_params,
                    _request_timeout=_request_timeout or timeouts)
    return request


@contextlib.contextmanager
def _timeouts_while_connecting(timeouts):
    """kubernetes.core's get_api_client asks the server for its version and API groups before it
    returns, with no way to pass a timeout: for that call only, the client class defaults to ours."""
    if kubernetes_rest is None:
        yield
        return
    cls = kubernetes_rest.RESTClientObject
    original = cls.request
    cls.request = _with_timeouts(original, timeouts)
    try:
        yield
    finally:
        cls.request = original


def _timeouts_for(dynamic_client, timeouts):
    """The same default on this one client's later requests that take no timeout of their own
    (kubernetes.core's lazy discovery of a kind's API); Cluster passes its own on every request."""
    rest_client = getattr(getattr(dynamic_client, "client", None), "rest_client", None)
    if rest_client is None:
        return
    send = _with_timeouts(type(rest_client).request, timeouts)
    rest_client.request = lambda *args, **kwargs: send(rest_client, *args, **kwargs)


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
    timeouts = request_timeouts(module.params["request_timeout"])
    description = describe(module.params)
    path, source = kubeconfig_source(module.params)
    explicit = source is not None and not source.startswith("the default")
    if explicit and not os.path.isfile(os.path.expanduser(path)):
        module.fail_json(msg="the kubeconfig {0} (from {1}) does not exist or is not a file".format(path, source))
    try:
        with _timeouts_while_connecting(timeouts):
            client = connect(lambda: get_api_client(module).client, description)
    except ClusterError as error:
        if path is None:
            raise
        raise ClusterError("{0} (kubeconfig {1}, from {2}{3})".format(
            error, path, source, "" if os.path.isfile(os.path.expanduser(path)) else "; it does not exist"),
            error.status)
    _timeouts_for(client, timeouts)
    return Cluster(client, field_manager=field_manager, dry_run=module.check_mode, name=description,
                   request_timeout=timeouts)


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
