# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one path to a cluster: bulk reads that fail closed, and writes that say what they did.

The modules read whole namespaces (or the whole cluster) with one LIST per kind, never one GET
per object. They write in these ways:
- objects we own entirely (PeerAuthentication, Gateway...) by server-side apply with our field
  manager, always sent, so a field dropped from the desired object is removed from the live one;
  `changed` compares the API server's answer with the live object (`apply`);
- fixes to objects users own (a probe handler swapped, a restart stamp) by a minimal strategic
  merge patch that carries the resourceVersion read, so a concurrent change fails instead of
  being overwritten (`patch`, `send_patch`);
- a whole object put back as it was, guarded by its resourceVersion (`replace`: restores);
- deletes guarded by the uid (and the resourceVersion, when asked) read (`delete`: prunes,
  retired Ingresses);
- creates of review requests and server-side dry runs, which store nothing (`create`).
In check mode every write is a server-side dry run: the API server validates it (schemas,
admission webhooks) and stores nothing.

Fail closed: a request that fails for any reason but NotFound raises a ClusterError naming the
cluster, the resource and the API server's reason; it never turns into an empty answer. Every
request carries the client's per-request timeout (`request_timeout`). Every write that went
through is kept in `written`, so a module that fails half way can say what it changed. A LIST
that answers 404 asks discovery again once (`rediscover`): the client's discovery cache may name a
kind the API server no longer serves.

No Ansible imports: the client is a kubernetes.dynamic.DynamicClient (kubernetes.core's
get_api_client(module).client, opened by connection.open_cluster).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json

from .names import object_ref
from .patches import strategic_merge_patch
from .redaction import redact

FIELD_MANAGER = "adoptmesh-istio"
# Asks for metadata only: a Secret's existence is checked without its keys leaving the cluster.
METADATA_ONLY = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"
METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
# Fields the API server sets on every write; they say nothing about what an object means.
VOLATILE_METADATA = ("resourceVersion", "managedFields")


class ClusterError(Exception):
    """A request failed; the message names the cluster, the object and the API server's reason.

    `status` is the HTTP status when the API server answered (None for timeouts, refused
    connections, TLS errors); `not_found` tells a resource or kind that does not exist from
    every other failure, which callers must never read as "nothing there".
    """

    def __init__(self, message, status=None):
        super(ClusterError, self).__init__(message)
        self.status = status

    @property
    def not_found(self):
        return self.status == 404


def _reason(error):
    """The API server's reason, redacted: a webhook's denial may quote the Secret it refused."""
    return redact(_raw_reason(error))


def _raw_reason(error):
    body = getattr(error, "body", None)
    if body:
        if isinstance(body, bytes):
            body = body.decode("utf-8", "replace")
        try:
            return json.loads(body).get("message") or body
        except (TypeError, ValueError, AttributeError):
            return body if isinstance(body, str) else str(error)
    text = str(error)
    if "timed out" in text.lower() or "timeout" in type(error).__name__.lower():
        return "no answer within the request timeout ({0})".format(text)
    return text


def _status(error):
    status = getattr(error, "status", None)
    return status if isinstance(status, int) else None


def strip_server_fields(obj):
    """A copy without managedFields, the noisiest part of a live object."""
    result = copy.deepcopy(obj)
    (result.get("metadata") or {}).pop("managedFields", None)
    return result


def _comparable(obj):
    result = dict(obj)
    result["metadata"] = dict((k, v) for k, v in (obj.get("metadata") or {}).items() if k not in VOLATILE_METADATA)
    return result


def differs(before, after):
    """Whether a write changed what an object says (resourceVersion and managedFields aside)."""
    if before is None or after is None:
        return before is not after
    return _comparable(before) != _comparable(after)


def connect(create_client, description):
    """Call create_client() and turn any failure into a ClusterError naming the cluster."""
    try:
        return create_client()
    except Exception as error:  # connection refused, timeout, TLS, auth, bad kubeconfig: all the same to users
        raise ClusterError("cluster {0}: cannot reach the Kubernetes API: {1}".format(description, _reason(error)),
                           _status(error))


def _where(namespace):
    return "namespace " + namespace if namespace else "the cluster"


class Cluster:
    """One API client, used for every object of a module run."""

    def __init__(self, client, field_manager=FIELD_MANAGER, dry_run=False, name=None, request_timeout=None):
        self.client = client
        # (connect, read) seconds on every request, the client's own `_request_timeout`.
        self.timeout = {"_request_timeout": request_timeout} if request_timeout else {}
        self.field_manager = field_manager
        self.dry_run = dry_run
        self.name = name or getattr(getattr(client, "configuration", None), "host", None) or "(unnamed)"
        self._resources = {}
        self.requests = 0
        self.written = []  # `Kind namespace/name` of every write the API server accepted

    def error(self, action, what, error):
        return ClusterError("cluster {0}: cannot {1} {2}: {3}".format(self.name, action, what, _reason(error)),
                            _status(error))

    def _params(self):
        params = dict(self.timeout, field_manager=self.field_manager)
        if self.dry_run:
            params["dry_run"] = "All"
        return params

    def resource(self, api_version, kind):
        key = (api_version, kind)
        if key not in self._resources:
            try:
                self._resources[key] = self.client.resources.get(api_version=api_version, kind=kind)
            except Exception as error:
                if type(error).__name__ == "ResourceNotFoundError":
                    raise ClusterError("cluster {0}: the API server does not serve {1} {2}".format(
                        self.name, api_version, kind), 404)
                raise self.error("discover", "{0} {1}".format(api_version, kind), error)
        return self._resources[key]

    def rediscover(self, api_version, kind):
        """Forget what discovery said of a kind, here and in the client's cache, and ask again.

        kubernetes.core keeps the discovery of each server and user in a file that never expires:
        a kind removed since (Istio's CRDs after an uninstall, or another server on the same
        address) still reads as served, and its requests answer 404."""
        self._resources.pop((api_version, kind), None)
        invalidate = getattr(getattr(self.client, "resources", None), "invalidate_cache", None)
        if invalidate is not None:
            self.requests += 1
            try:
                invalidate()
            except Exception as error:
                raise self.error("discover", "the kinds the API server serves", error)
        return self.resource(api_version, kind)

    def list(self, api_version, kind, namespaces=None, label_selectors=None, missing_ok=False, metadata_only=False,
             managed_fields=False):
        """Objects of one kind in the given namespaces (all when empty), matching any selector.

        With missing_ok, a kind the API server does not serve reads as no objects; every other
        failure (403, timeout...) raises. With metadata_only, only each object's metadata is
        sent (CRDs without their schemas, Secrets without their keys). managedFields are dropped
        unless asked for (who wrote an object is what a rollback needs to know)."""
        try:
            resource = self.resource(api_version, kind)
            try:
                return self._list(resource, api_version, kind, namespaces, label_selectors, metadata_only,
                                  managed_fields)
            except ClusterError as error:
                # A LIST answers 404 only when the kind is not served (a namespace that does not
                # exist lists as empty): the discovery that named it is stale. Ask again, once.
                if not error.not_found:
                    raise
                resource = self.rediscover(api_version, kind)
            return self._list(resource, api_version, kind, namespaces, label_selectors, metadata_only, managed_fields)
        except ClusterError as error:
            if missing_ok and error.not_found:
                return []
            raise

    def _list(self, resource, api_version, kind, namespaces, label_selectors, metadata_only, managed_fields):
        scopes = list(namespaces or [None]) if resource.namespaced else [None]
        selectors = list(label_selectors or [None])
        seen, items = set(), []
        for namespace in scopes:
            for selector in selectors:
                self.requests += 1
                try:
                    # The raw JSON: the client's object wrappers cost more than the request itself.
                    extra = {"header_params": {"Accept": METADATA_LIST}} if metadata_only else {}
                    answer = resource.get(namespace=namespace, label_selector=selector, serialize=False, **dict(extra, **self.timeout))
                    listed = json.loads(answer.data)
                except Exception as error:
                    raise self.error("list", "{0} {1} in {2}".format(api_version, kind, _where(namespace)), error)
                for item in listed.get("items") or []:
                    uid = item["metadata"].get("uid")
                    if uid in seen:
                        continue
                    seen.add(uid)
                    item.setdefault("apiVersion", api_version)
                    item.setdefault("kind", kind)
                    if not managed_fields:
                        item["metadata"].pop("managedFields", None)
                    items.append(item)
        return items

    def get_version(self):
        """The API server's gitVersion (GET /version)."""
        self.requests += 1
        try:
            answer = self.client.request("get", "/version", serialize=False, **self.timeout)
            return json.loads(answer.data).get("gitVersion")
        except Exception as error:
            raise self.error("read", "the server version", error)

    def get(self, api_version, kind, name, namespace=None):
        """One object, or None when it does not exist."""
        resource = self.resource(api_version, kind)
        self.requests += 1
        try:
            return strip_server_fields(json.loads(resource.get(name=name, namespace=namespace, serialize=False,
                                                               **self.timeout).data))
        except Exception as error:
            if _status(error) == 404:
                return None
            raise self.error("read", "{0} {1}".format(kind, "{0}/{1}".format(namespace, name) if namespace else name),
                             error)

    def exists(self, api_version, kind, name, namespace=None):
        """Whether an object exists, asking for its metadata only (used for Secrets: their keys
        never travel)."""
        resource = self.resource(api_version, kind)
        self.requests += 1
        try:
            resource.get(name=name, namespace=namespace, serialize=False, header_params={"Accept": METADATA_ONLY},
                         **self.timeout)
        except Exception as error:
            if _status(error) == 404:
                return False
            raise self.error("read", "{0} {1}".format(kind, "{0}/{1}".format(namespace, name) if namespace else name),
                             error)
        return True

    def create(self, obj, dry_run=None):
        """Create an object: review requests (answered, not stored) and server-side dry runs
        (dry_run=True whatever the mode, to ask admission what it would do)."""
        resource = self.resource(obj["apiVersion"], obj["kind"])
        self.requests += 1
        params = dict(self.timeout)
        if self.dry_run if dry_run is None else dry_run:
            params["dry_run"] = "All"
        try:
            return resource.create(body=obj, namespace=(obj.get("metadata") or {}).get("namespace"), **params).to_dict()
        except Exception as error:
            raise self.error("create", obj["kind"], error)

    def patch(self, before, after):
        """Send the strategic merge patch from `before` (as read) to `after`. Returns the result,
        or None when nothing differs."""
        patch = strategic_merge_patch(before, after)
        if patch is None:
            return None
        metadata = patch.setdefault("metadata", {})
        metadata["resourceVersion"] = before["metadata"].get("resourceVersion")
        return self.send_patch(after["apiVersion"], after["kind"], after["metadata"]["name"],
                               after["metadata"].get("namespace"), patch)

    def send_patch(self, api_version, kind, name, namespace, patch, missing_ok=False):
        """Send a strategic merge patch as given. Returns the result, or None when the object is
        gone and missing_ok."""
        resource = self.resource(api_version, kind)
        self.requests += 1
        ref = "{0}/{1}".format(namespace, name) if namespace else name
        try:
            result = self.client.patch(resource, body=patch, name=name, namespace=namespace,
                                       content_type="application/strategic-merge-patch+json", **self._params())
        except Exception as error:
            if missing_ok and _status(error) == 404:
                return None
            raise self.error("patch", "{0} {1}".format(kind, ref), error)
        self.written.append("{0} {1}".format(kind, ref))
        return strip_server_fields(result.to_dict())

    def replace(self, obj):
        """PUT an object (its metadata.resourceVersion, when given, guards against a concurrent change)."""
        metadata = obj["metadata"]
        resource = self.resource(obj["apiVersion"], obj["kind"])
        self.requests += 1
        params = dict(self.timeout, dry_run="All") if self.dry_run else dict(self.timeout)
        try:
            result = resource.replace(body=obj, name=metadata["name"], namespace=metadata.get("namespace"),
                                      field_manager=self.field_manager, **params)
        except Exception as error:
            raise self.error("replace", "{0} {1}".format(obj["kind"], object_ref(obj)), error)
        self.written.append("{0} {1}".format(obj["kind"], object_ref(obj)))
        return strip_server_fields(result.to_dict())

    def delete(self, obj, unchanged=False):
        """Delete an object as listed: the uid precondition makes sure it is that object, not one
        recreated under the same name since; with `unchanged`, also that nobody changed it since it
        was read (its resourceVersion). Returns False when it was already gone."""
        metadata = obj["metadata"]
        resource = self.resource(obj["apiVersion"], obj["kind"])
        self.requests += 1
        preconditions = {"uid": metadata.get("uid")}
        if unchanged:
            preconditions["resourceVersion"] = metadata.get("resourceVersion")
        body = {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": preconditions,
                "propagationPolicy": "Background"}
        if self.dry_run:
            body["dryRun"] = ["All"]
        try:
            resource.delete(name=metadata["name"], namespace=metadata.get("namespace"), body=body, **self.timeout)
        except Exception as error:
            if _status(error) == 404:
                return False
            raise self.error("delete", "{0} {1}".format(obj["kind"], object_ref(obj)), error)
        self.written.append("deleted {0} {1}".format(obj["kind"], object_ref(obj)))
        return True

    def apply(self, desired, live=None, live_known=False):
        """Server-side apply of an object we own. Returns (changed, before, after).

        The apply is always sent (a dry run in check mode), so fields dropped from `desired` are
        removed. `changed` compares the answer with the live object: pass it as `live` (with
        live_known=True, None meaning absent) when a LIST already read it; otherwise it is read
        first, the one GET needed to tell a change and show a diff."""
        metadata = desired["metadata"]
        before = live if live_known else self.get(desired["apiVersion"], desired["kind"], metadata["name"],
                                                  metadata.get("namespace"))
        resource = self.resource(desired["apiVersion"], desired["kind"])
        self.requests += 1
        try:
            result = self.client.server_side_apply(resource, body=desired, name=metadata["name"],
                                                   namespace=metadata.get("namespace"), force_conflicts=False,
                                                   **self._params())
        except Exception as error:
            raise self.error("apply", "{0} {1}".format(desired["kind"], object_ref(desired)), error)
        after = strip_server_fields(result.to_dict())
        changed = differs(before, after)
        if changed:
            self.written.append("{0} {1}".format(desired["kind"], object_ref(desired)))
        return changed, before, after
