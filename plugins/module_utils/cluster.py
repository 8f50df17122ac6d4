# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bulk reads and careful writes through one Kubernetes dynamic client.

The modules read whole namespaces (or the whole cluster) with one LIST per kind, never one GET
per object, and write only what changed:
- objects we own entirely (PeerAuthentication, Gateway...) by server-side apply with our field
  manager, skipped when the live object already says the same;
- fixes to objects users own (a probe handler swapped) by a minimal strategic merge patch that
  carries the resourceVersion read, so a concurrent change fails instead of being overwritten.
In check mode every write is sent as a server-side dry run: the API server validates it
(schemas, admission webhooks) and nothing is stored.

No Ansible imports: the client is a kubernetes.dynamic.DynamicClient (kubernetes.core's
get_api_client(module).client in the modules).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json

from .names import object_ref
from .patches import strategic_merge_patch

FIELD_MANAGER = "adoptmesh-istio"


class ClusterError(Exception):
    """A request failed; the message names the object and the API server's reason."""


def _reason(error):
    body = getattr(error, "body", None)
    if body:
        try:
            return json.loads(body).get("message") or body
        except (TypeError, ValueError):
            return body
    return str(error)


def strip_server_fields(obj):
    """A copy without managedFields, the noisiest part of a live object."""
    result = copy.deepcopy(obj)
    (result.get("metadata") or {}).pop("managedFields", None)
    return result


def is_subset(desired, existing):
    """True when every value in `desired` is present and equal in `existing` (dicts recursively)."""
    if isinstance(desired, dict):
        return isinstance(existing, dict) and all(
            key in existing and is_subset(value, existing[key]) for key, value in desired.items())
    return desired == existing


def connect(create_client, description):
    """Call create_client() and turn any failure into a ClusterError naming the cluster."""
    try:
        return create_client()
    except Exception as error:  # connection refused, TLS, auth, bad kubeconfig: all the same to users
        raise ClusterError("cannot reach the Kubernetes API ({0}): {1}".format(description, _reason(error)))


class Cluster:
    """One API client, used for every object of a module run."""

    def __init__(self, client, field_manager=FIELD_MANAGER, dry_run=False):
        self.client = client
        self.field_manager = field_manager
        self.dry_run = dry_run
        self._resources = {}
        self.requests = 0

    def _params(self):
        params = {"field_manager": self.field_manager}
        if self.dry_run:
            params["dry_run"] = "All"
        return params

    def resource(self, api_version, kind):
        key = (api_version, kind)
        if key not in self._resources:
            try:
                self._resources[key] = self.client.resources.get(api_version=api_version, kind=kind)
            except Exception as error:  # ResourceNotFoundError and discovery failures alike
                raise ClusterError("the API server does not serve {0} {1}: {2}".format(api_version, kind, error))
        return self._resources[key]

    def list(self, api_version, kind, namespaces=None, label_selectors=None):
        """Objects of one kind in the given namespaces (all when empty), matching any selector."""
        resource = self.resource(api_version, kind)
        scopes = list(namespaces or [None]) if resource.namespaced else [None]
        selectors = list(label_selectors or [None])
        seen, items = set(), []
        for namespace in scopes:
            for selector in selectors:
                self.requests += 1
                try:
                    # The raw JSON: the client's object wrappers cost more than the request itself.
                    answer = resource.get(namespace=namespace, label_selector=selector, serialize=False)
                    listed = json.loads(answer.data)
                except Exception as error:
                    raise ClusterError("cannot list {0} in {1}: {2}".format(
                        kind, "namespace " + namespace if namespace else "the cluster", _reason(error)))
                for item in listed.get("items") or []:
                    uid = item["metadata"].get("uid")
                    if uid in seen:
                        continue
                    seen.add(uid)
                    item.setdefault("apiVersion", api_version)
                    item.setdefault("kind", kind)
                    item["metadata"].pop("managedFields", None)
                    items.append(item)
        return items

    def get(self, api_version, kind, name, namespace=None):
        resource = self.resource(api_version, kind)
        self.requests += 1
        try:
            return strip_server_fields(resource.get(name=name, namespace=namespace).to_dict())
        except Exception as error:
            if getattr(error, "status", None) == 404:
                return None
            raise ClusterError("cannot read {0} {1}: {2}".format(kind, "{0}/{1}".format(namespace, name)
                                                                 if namespace else name, _reason(error)))

    def create(self, obj):
        """Create an object (used for review requests, which are answered, not stored)."""
        resource = self.resource(obj["apiVersion"], obj["kind"])
        self.requests += 1
        params = {}
        if self.dry_run:
            params["dry_run"] = "All"
        try:
            return resource.create(body=obj, namespace=(obj.get("metadata") or {}).get("namespace"), **params).to_dict()
        except Exception as error:
            raise ClusterError("cannot create {0}: {1}".format(obj["kind"], _reason(error)))

    def exists(self, api_version, kind, name, namespace=None):
        """Whether an object exists; its content is not kept (used for Secrets)."""
        resource = self.resource(api_version, kind)
        self.requests += 1
        try:
            resource.get(name=name, namespace=namespace, serialize=False)
        except Exception as error:
            if getattr(error, "status", None) == 404:
                return False
            raise ClusterError("cannot read {0} {1}/{2}: {3}".format(kind, namespace, name, _reason(error)))
        return True

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
        try:
            result = self.client.patch(resource, body=patch, name=name, namespace=namespace,
                                       content_type="application/strategic-merge-patch+json", **self._params())
        except Exception as error:
            if missing_ok and getattr(error, "status", None) == 404:
                return None
            raise ClusterError("cannot patch {0} {1}: {2}".format(
                kind, "{0}/{1}".format(namespace, name) if namespace else name, _reason(error)))
        return strip_server_fields(result.to_dict())

    def apply(self, desired):
        """Server-side apply of an object we own. Returns (changed, before, after)."""
        metadata = desired["metadata"]
        before = self.get(desired["apiVersion"], desired["kind"], metadata["name"], metadata.get("namespace"))
        comparable = dict((k, v) for k, v in desired.items() if k not in ("apiVersion", "kind"))
        if before is not None and is_subset(comparable, before):
            return False, before, before
        resource = self.resource(desired["apiVersion"], desired["kind"])
        self.requests += 1
        try:
            result = self.client.server_side_apply(resource, body=desired, name=metadata["name"],
                                                   namespace=metadata.get("namespace"), force_conflicts=False,
                                                   **self._params())
        except Exception as error:
            raise ClusterError("cannot apply {0} {1}: {2}".format(desired["kind"], object_ref(desired),
                                                                  _reason(error)))
        return True, before, strip_server_fields(result.to_dict())
