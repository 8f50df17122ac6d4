"""The tests' view of where the translated objects send a request, read from gateway_routing.

There is one evaluator for both output APIs, `plugins/module_utils/gateway_routing.py` (the one the
replay uses); this file only shapes its answer the way the translation tests state routing:
`service` is `svc.ns:port` of the heaviest destination, `destinations` are `(fqdn, port, weight)`,
`path` is what the backend receives and `entry` the VirtualService `http` entry that decided. A
404 directResponse (the wildcard depth rule) counts as no route, as it does for a client.
"""

from ansible_collections.adoptmesh.istio.plugins.module_utils.gateway_routing import Request, Router


class Outcome:
    def __init__(self, routed, path):
        self.routed = routed
        self.kind = "none" if routed.kind == "direct" and routed.code == 404 else routed.kind
        self.destinations = [("{0}.{1}.svc.cluster.local".format(s, n), p, w) for s, n, p, w in routed.destinations]
        self.location = routed.location
        self.code = routed.code
        self.path = routed.path if routed.path is not None else path
        self.entry = routed.rule

    @property
    def service(self):
        """`service.namespace:port` of the single (or heaviest) destination."""
        if not self.destinations:
            return None
        fqdn, port = max(self.destinations, key=lambda d: d[2])[:2]
        return "{0}:{1}".format(".".join(fqdn.split(".")[:2]), port)

    def __repr__(self):
        return "Outcome({0}, {1}, {2}, {3})".format(self.kind, self.destinations, self.location, self.path)


def evaluate(resources, host, path, headers=None, scheme="http"):
    return Outcome(Router(resources).route(Request(host, path, scheme, headers=dict(headers or {}))), path)
