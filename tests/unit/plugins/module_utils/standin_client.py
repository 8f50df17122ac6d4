"""A stand-in for the kubernetes dynamic client with its call shapes, for unit tests of the code
above it (cluster.py, the gate). The real API server's answers are covered by the integration tier."""

import json


class ApiError(Exception):
    def __init__(self, status, message):
        super(ApiError, self).__init__(message)
        self.status = status
        self.body = json.dumps({"message": message})


class ResourceNotFoundError(Exception):
    """Named as the dynamic client's discovery error is: Cluster matches it by name."""


class Answer:
    def __init__(self, obj):
        self.data = json.dumps(obj).encode()
        self.obj = obj

    def to_dict(self):
        return self.obj


class Resource:
    namespaced = True

    def __init__(self, store, timeouts):
        self.store = store
        self.timeouts = timeouts

    def get(self, name=None, namespace=None, label_selector=None, serialize=True, header_params=None,
            _request_timeout=None):
        if _request_timeout is not None:
            self.timeouts.append(_request_timeout)
        if isinstance(self.store, Exception):
            raise self.store
        if name is None:
            return Answer({"items": [dict(o) for o in self.store.values()]})
        if (namespace, name) not in self.store:
            raise ApiError(404, "not found")
        return Answer(self.store[(namespace, name)])


class Client:
    def __init__(self, kinds):
        self.kinds = kinds
        self.applied = []
        self.timeouts = []  # the `_request_timeout` of each request that carried one
        self.configuration = type("Configuration", (), {"host": "https://127.0.0.1:6443"})()
        self.resources = self

    def get(self, api_version, kind):
        if kind not in self.kinds:
            raise ResourceNotFoundError("no " + kind)
        return Resource(self.kinds[kind], self.timeouts)

    def server_side_apply(self, resource, body, name, namespace, **params):
        self.applied.append((body, params))
        if "_request_timeout" in params:
            self.timeouts.append(params.pop("_request_timeout"))
        if isinstance(resource.store, Exception):
            raise resource.store
        live = dict(resource.store.get((namespace, name)) or {})
        # The API server's answer: the desired fields replace ours, server fields kept.
        answer = dict(body, metadata=dict(body["metadata"], resourceVersion="2", uid="u1"))
        if live and {k: v for k, v in live.items() if k != "metadata"} == \
                {k: v for k, v in body.items() if k not in ("metadata", "apiVersion", "kind")}:
            answer["metadata"]["resourceVersion"] = live["metadata"].get("resourceVersion")
        return Answer(answer)


def store(*objects):
    """{(namespace, name): object} for a Resource; each object gets a uid, as the API server gives."""
    for obj in objects:
        obj["metadata"].setdefault("uid", "{0}/{1}".format(obj["metadata"].get("namespace"), obj["metadata"]["name"]))
    return dict(((o["metadata"].get("namespace"), o["metadata"]["name"]), o) for o in objects)
