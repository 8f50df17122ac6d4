"""Runs translated objects through Istio's own config generation (the route-oracle binary).

`.build/bin/route-oracle` is Istio's in-process discovery server (pilot/test/xds) and traffic
simulator (pilot/pkg/simulation) from the pinned Istio module (tools/cluster/go/istio/routeoracle).
Given the objects a translation produced, it returns the RouteConfigurations istiod serves to the
gateway proxy those objects select, and the simulator's answer for each request. `envoy_routes`
then says where Envoy sends each request on those RouteConfigurations.
"""

import base64
import concurrent.futures
import json
import os
import subprocess
import tempfile

import yaml

import envoy_routes
import self_signed

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ORACLE = os.path.join(REPO, ".build", "bin", "route-oracle")
GATEWAY_IP = "10.250.0.10"
# Gateway API gateways of class istio are served by the proxies behind the `<name>-istio` Service,
# whose pods carry this label (pilot/pkg/config/kube/gateway deploys them so).
GATEWAY_NAME_LABEL = "gateway.networking.k8s.io/gateway-name"
GATEWAY_API_BUNDLE = "v1.6.3"
GATEWAY_CLASS = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass", "metadata": {"name": "istio"},
                 "spec": {"controllerName": "istio.io/gateway-controller"}}


class Request:
    def __init__(self, host, path, scheme="http", headers=None):
        self.host = host
        self.path = path
        self.scheme = scheme
        self.headers = dict(headers or {})

    @property
    def port(self):
        return 443 if self.scheme == "https" else 80

    def __repr__(self):
        return "{0}://{1}{2} {3}".format(self.scheme, self.host, self.path, self.headers or "")


class Verdict:
    """Where one request goes, in terms both evaluators and the source controller share."""

    def __init__(self, kind, target=None, code=None, path=None):
        self.kind = kind  # route | redirect | none
        self.target = target  # "svc.ns:port" for a route, the Location for a redirect
        self.code = code
        # A route's path and query as the backend gets them; compared when both sides know it.
        self.path = path

    def __eq__(self, other):
        if self.path is not None and other.path is not None and self.path != other.path:
            return False
        return (self.kind, self.target, self.code) == (other.kind, other.target, other.code)

    def __hash__(self):
        return hash((self.kind, self.target, self.code))

    def __repr__(self):
        return "{0} {1}{2}{3}".format(self.kind, self.target or "", " " + str(self.code) if self.code else "",
                                      " as " + self.path if self.path is not None else "")


def cluster_target(cluster):
    """`outbound|8080||api.shop.svc.cluster.local` -> `api.shop:8080`."""
    direction, port, _subset, fqdn = cluster.split("|")
    assert direction == "outbound", cluster
    return "{0}:{1}".format(".".join(fqdn.split(".")[:2]), port)


def _destinations(resources):
    """(fqdn, port) of every backend the objects route to, for the Services istiod must know."""
    found = set()
    for resource in resources:
        spec = resource.get("spec", {})
        if resource["kind"] == "VirtualService":
            for section in ("http", "tls", "tcp"):
                for entry in spec.get(section, []):
                    for route in entry.get("route", []):
                        found.add((route["destination"]["host"], route["destination"]["port"]["number"]))
            for entry in spec.get("http", []):
                mirror = entry.get("mirror")
                if mirror:
                    found.add((mirror["host"], mirror["port"]["number"]))
        elif resource["kind"] in ("HTTPRoute", "TLSRoute"):
            namespace = resource["metadata"]["namespace"]
            for rule in spec.get("rules", []):
                refs = list(rule.get("backendRefs", []))
                for rule_filter in rule.get("filters", []):
                    mirror = rule_filter.get("requestMirror")
                    if mirror:
                        refs.append(mirror["backendRef"])
                for ref in refs:
                    found.add(("{0}.{1}.svc.cluster.local".format(ref["name"], ref.get("namespace", namespace)),
                               ref["port"]))
    return found


def _services(resources):
    ports = {}
    for fqdn, port in _destinations(resources):
        ports.setdefault(fqdn, set()).add(port)
    objects = []
    for fqdn, numbers in sorted(ports.items()):
        name, namespace = fqdn.split(".")[:2]
        objects.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace},
                        "spec": {"ports": [{"name": "http-{0}".format(n), "port": n, "protocol": "TCP"}
                                           for n in sorted(numbers)]}})
    return objects


def _tls_secrets(gateways):
    """The Secrets the listeners name, as the certificates stage would have put them beside the Gateway."""
    certificate, key = self_signed.certificate(common_name="route-oracle")
    data = {"tls.crt": base64.b64encode(certificate).decode(), "tls.key": base64.b64encode(key).decode()}
    names = set()
    for gateway in gateways:
        for listener in gateway["spec"]["listeners"]:
            for ref in (listener.get("tls") or {}).get("certificateRefs", []):
                names.add((ref.get("namespace", gateway["metadata"]["namespace"]), ref["name"]))
    return [{"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
             "metadata": {"name": name, "namespace": namespace}, "data": data} for namespace, name in sorted(names)]


def _gateway_api_proxy(gateway):
    """What Istio's deployment controller would add for a Gateway API Gateway, and its proxy.

    The Service `<name>-istio` (istiod binds a Gateway to the proxies behind that Service) and one
    gateway instance, given as a WorkloadEntry, as Istio's own tests do (pilot/pkg/xds/waypoint_test.go).
    """
    name, namespace = gateway["metadata"]["name"], gateway["metadata"]["namespace"]
    labels = {GATEWAY_NAME_LABEL: name}
    ports = sorted({listener["port"] for listener in gateway["spec"]["listeners"]})
    service = {"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": name + "-istio", "namespace": namespace, "labels": dict(labels)},
               "spec": {"selector": dict(labels), "clusterIP": "10.96.250.10",
                        "ports": [{"name": "p-{0}".format(p), "port": p, "protocol": "TCP"} for p in ports]}}
    instance = {"apiVersion": "networking.istio.io/v1", "kind": "WorkloadEntry",
                "metadata": {"name": name + "-gateway", "namespace": namespace},
                "spec": {"address": GATEWAY_IP, "labels": dict(labels)}}
    return service, instance, {"namespace": namespace, "labels": labels, "ip": GATEWAY_IP}


def _calls(requests):
    """The requests as the oracle's calls: TLS with the host as SNI for https."""
    return [{"host": r.host, "port": r.port, "path": r.path, "tls": r.scheme == "https",
             "sni": r.host.split(":")[0] if r.scheme == "https" else "", "headers": r.headers} for r in requests]


def case(case_id, resources, requests, gateway=None):
    """An oracle case: the translated objects, the Services they name, and the gateway proxy.

    For Gateway API objects the proxy is the one of Gateway `gateway` (by name; the first if None).
    """
    config = [r for r in resources if r["kind"] not in ("Secret", "Service")]
    kube = _services(resources) + [r for r in resources if r["kind"] == "Service"]
    istio_gateways = [r for r in resources if r["kind"] == "Gateway" and r["apiVersion"].startswith("networking.istio")]
    api_gateways = [r for r in resources if r["kind"] == "Gateway" and r["apiVersion"].startswith("gateway.networking")]
    if api_gateways:
        # istiod reads the Gateway API from Kubernetes, not from its config store.
        chosen = [g for g in api_gateways if g["metadata"]["name"] == gateway] if gateway else api_gateways
        service, instance, proxy = _gateway_api_proxy(chosen[0])
        kube += [GATEWAY_CLASS, service] + _tls_secrets(api_gateways)
        kube += [r for r in config if r["apiVersion"].startswith("gateway.networking")]
        config = [r for r in config if not r["apiVersion"].startswith("gateway.networking")] + [instance]
    else:
        gateway = istio_gateways[0]
        proxy = {"namespace": gateway["metadata"]["namespace"], "labels": gateway["spec"]["selector"]}
    namespaces = sorted({o["metadata"]["namespace"] for o in kube + config if o["metadata"].get("namespace")})
    kube = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in namespaces] + kube
    # The bundle the pinned CRDs (.build/content/crds) announce; istiod reads TLSRoutes only then.
    bundle = GATEWAY_API_BUNDLE if any(r["kind"] == "TLSRoute" for r in resources) else ""
    return {"id": case_id, "config": _yaml(config), "kube": _yaml(kube), "proxy": proxy, "gateway_api_bundle": bundle,
            "calls": _calls(requests), "requests": requests}


ISTIO_INGRESS_CLASS = {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": "istio"},
                       "spec": {"controller": "istio.io/ingress-controller"}}


def _ingress_services(ingresses, services):
    """The Services the Ingresses name: those given, and the rest from their backends' port numbers."""
    given = dict(((s["metadata"]["namespace"], s["metadata"]["name"]), s) for s in services or [])
    ports = {}
    for ingress in ingresses:
        namespace = ingress["metadata"]["namespace"]
        spec = ingress.get("spec", {})
        backends = [spec["defaultBackend"]] if spec.get("defaultBackend") else []
        for rule in spec.get("rules", []):
            backends += [p["backend"] for p in (rule.get("http") or {}).get("paths", [])]
        for backend in backends:
            service = backend.get("service")
            if service and "number" in service.get("port", {}):
                ports.setdefault((namespace, service["name"]), set()).add(service["port"]["number"])
    objects = list(given.values())
    for (namespace, name), numbers in sorted(ports.items()):
        if (namespace, name) not in given:
            objects.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace},
                            "spec": {"ports": [{"name": "http-{0}".format(n), "port": n} for n in sorted(numbers)]}})
    return objects


def istio_ingress_case(case_id, ingresses, services, requests):
    """A case where istiod's own Ingress support (pilot/pkg/config/kube/ingress) is the source controller.

    Istio serves Ingresses of the class whose IngressClass names `istio.io/ingress-controller`, on
    the gateway labelled `istio: ingressgateway` in istio-system (the mesh config's defaults).
    """
    kube = [ISTIO_INGRESS_CLASS] + _ingress_services(ingresses, services) + list(ingresses)
    namespaces = sorted({o["metadata"]["namespace"] for o in kube if o["metadata"].get("namespace")} | {"istio-system"})
    kube = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in namespaces] + kube
    return {"id": case_id, "config": "", "kube": _yaml(kube), "calls": _calls(requests), "requests": requests,
            "proxy": {"namespace": "istio-system", "labels": {"istio": "ingressgateway"}}}


class _NoAliases(yaml.SafeDumper):
    def ignore_aliases(self, data):
        return True


def _yaml(objects):
    return yaml.dump_all(objects, Dumper=_NoAliases)


class Answer:
    def __init__(self, raw, requests):
        self.error = raw.get("error")
        self.route_configurations = dict((rc["name"], rc) for rc in raw["routes"])
        self.simulated = raw["calls"]
        self.requests = requests
        self.http_filters = raw.get("http_filters") or {}
        self.typed_filters = dict((k, [json.loads(v) if isinstance(v, str) else v for v in values])
                                  for k, values in (raw.get("typed_filters") or {}).items())
        # {"<listener>/<index>:<filter chain>": {"server_names": [...], "context": DownstreamTlsContext}}
        self.tls = raw.get("tls") or {}

    def envoy(self, index):
        """Envoy's outcome for request `index` on the RouteConfiguration the simulator picked."""
        request, simulated = self.requests[index], self.simulated[index]
        name = simulated["route_config"]
        if not name:
            return envoy_routes.EnvoyOutcome("none")
        return envoy_routes.evaluate(self.route_configurations[name], request.host, request.path,
                                     headers=request.headers, scheme=request.scheme, tls=request.scheme == "https")

    def passed_through(self, index):
        """`svc.ns:port` that a TLS connection (a request with no path) is passed through to, or None."""
        cluster = self.simulated[index]["cluster"]
        return cluster_target(cluster) if cluster else None

    def virtual_host_sources(self, index):
        """(domains of the virtual host that answered request `index`, names of the objects its routes came from)."""
        request, simulated = self.requests[index], self.simulated[index]
        name = simulated["route_config"]
        if not name:
            return [], set()
        vh = envoy_routes.virtual_host_for(self.route_configurations[name], request.host)
        if vh is None:
            return [], set()
        sources = set()
        for route in vh.get("routes", []):
            config = route.get("metadata", {}).get("filterMetadata", {}).get("istio", {}).get("config", "")
            sources.add(config.rsplit("/", 1)[-1])
        return vh.get("domains", []), sources

    def simulation_agrees(self, index):
        """Whether Istio's simulator and the Envoy evaluator agree; None where the simulator cannot judge."""
        request, simulated = self.requests[index], self.simulated[index]
        name = simulated["route_config"]
        if not name:
            return simulated["error"] in ("no listener matched", "no filter chains matched") \
                and self.envoy(index).kind == "none"
        configuration = self.route_configurations[name]
        if not envoy_routes.simulation_can_judge(configuration, request.host):
            return None
        outcome = self.envoy(index)
        if outcome.kind == "route" and len(outcome.clusters) > 1:
            return None  # the simulator names no cluster of a weighted split (it answers "")
        if outcome.kind == "route":
            return simulated["cluster"] == outcome.cluster
        if outcome.kind == "none":
            return simulated["cluster"] == "" and simulated["error"] in ("no route matched", "no virtual host matched")
        if outcome.kind == "redirect" and simulated["error"] == "tls required, sending 301":
            return outcome.code == 301
        return simulated["cluster"] == "" and not simulated["error"]


def run(cases, timeout=1800, batch=250, workers=2):
    """Answers for the cases, in order: batches of `batch` cases, `workers` oracle processes at a time.

    Each case starts an in-process istiod (about 35 ms); batches bound the memory a process holds.
    """
    if not os.access(ORACLE, os.X_OK):
        raise RuntimeError("{0} is missing: run `make build`".format(ORACLE))
    batches = [cases[start:start + batch] for start in range(0, len(cases), batch)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        answered = list(pool.map(lambda chunk: _run_batch(chunk, timeout), batches))
    return [answer for chunk in answered for answer in chunk]


def _run_batch(cases, timeout):
    return [Answer(r, c["requests"]) for r, c in zip(run_raw(cases, timeout), cases)]


def run_raw(cases, timeout=600):
    """The oracle's answers as it writes them, for cases built by hand (sidecars, outbound calls)."""
    with tempfile.TemporaryDirectory() as scratch:
        source, target = os.path.join(scratch, "in.json"), os.path.join(scratch, "out.json")
        with open(source, "w") as handle:
            json.dump([dict((k, v) for k, v in c.items() if k != "requests") for c in cases], handle)
        env = dict(os.environ, ROUTE_ORACLE_INPUT=source, ROUTE_ORACLE_OUTPUT=target)
        completed = subprocess.run([ORACLE, "-test.run", "^TestOracle$"], env=env, capture_output=True, text=True,
                                   timeout=timeout, check=False)
        if not os.path.exists(target):
            raise RuntimeError("route-oracle failed ({0}):\n{1}\n{2}".format(
                completed.returncode, completed.stdout[-4000:], completed.stderr[-4000:]))
        with open(target) as handle:
            raw = json.load(handle)
    failed = [r["id"] for r in raw if r.get("error")]
    if failed:
        raise AssertionError("istiod did not accept cases {0}:\n{1}".format(failed, completed.stdout[-6000:]))
    return raw
