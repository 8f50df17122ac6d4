# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Objects written for a translated route model, in the output API asked for.

The emitter of that API (ingress_emit_istio.py, ingress_emit_gateway_api.py) writes the routes,
listeners and certificates; what both outputs share is here: the TLS servers checked for hosts
two Secrets claim and hosts passed through, DestinationRules for backend policies and
AuthorizationPolicies for source ranges and external authorization. No Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from . import ingress_emit_gateway_api, ingress_emit_istio
from .findings import ERROR, WARNING, Finding
from .ingress_model import SOURCE_ANNOTATION, Destination
from .ingress_objects import ISTIO_NETWORKING, ISTIO_SECURITY, metadata
from .names import stable_name


# One emitter per output API: `resources`, `policy_target` and `deployments` (see docs/development.md).
EMITTERS = dict((emitter.API, emitter) for emitter in (ingress_emit_istio, ingress_emit_gateway_api))


def emit(options, gateway, routes, tls_servers, policies, passthrough, result):
    """Objects for the route model into `result`: hosts' routes, certificates, policies, passthrough."""
    namespace = options.gateway_namespace
    hosts = sorted(routes)
    all_routes = [route for host in hosts for route in routes[host].values()]
    if not all_routes:
        return
    tls_servers = _without_passthrough(_check_tls_overlap(tls_servers, result), passthrough, result)
    emitter = EMITTERS[options.output_api]
    resources = emitter.resources(gateway, namespace, options, hosts, routes, tls_servers, passthrough, result)
    resources += _destination_rules(namespace, policies, result, options.cluster_domain)
    gateways = [r["metadata"]["name"] for r in resources if r["kind"] == "Gateway"]
    policies_out, result.extension_providers = _authorization_policies(
        emitter.policy_target(options, gateways), namespace, policies)
    result.findings.extend(one_provider_per_gateway(policies))
    resources += policies_out
    result.resources.extend(resources)
    for resource in resources:
        for source in resource["metadata"]["annotations"].get(SOURCE_ANNOTATION, "").split(","):
            if source in result.by_ingress:
                result.by_ingress[source].setdefault("produced", []).append(
                    "{0}/{1}/{2}".format(resource["kind"], resource["metadata"]["namespace"], resource["metadata"]["name"]))


def serving_deployments(options, release, resources):
    """The Deployments that serve the objects (the output API's emitter knows them)."""
    return EMITTERS[options.output_api].deployments(options, release, resources)


def _without_passthrough(tls_servers, passthrough, result):
    """TLS servers less the hosts whose TLS is passed through: a gateway cannot do both on one name."""
    kept = {}
    for credential in sorted(tls_servers):
        entry = tls_servers[credential]
        dropped = sorted(h for h in entry["hosts"] if h in passthrough)
        for host in dropped:
            result.findings.append(Finding("ingress", passthrough[host][1], WARNING, "ssl-passthrough-over-tls",
                                           "{0}: TLS is passed through to the backend, so Secret {1} is not used for "
                                           "it, as with ingress-nginx".format(host, credential), host=host))
        if set(entry["hosts"]) - set(dropped):
            kept[credential] = dict(entry, hosts=set(entry["hosts"]) - set(dropped))
    return kept


def _check_tls_overlap(tls_servers, result):
    """The TLS servers with each host kept by one Secret only, and a finding for each host dropped.

    Two gateway servers on 443 that name the same host conflict: istiod then drops the later server
    whole, with every other host it carries, and the Gateway API marks both listeners conflicted.
    """
    owners = {}
    kept = {}
    for credential in sorted(tls_servers):
        entry = tls_servers[credential]
        hosts = set()
        for host in sorted(entry["hosts"]):
            if host in owners and owners[host] != credential:
                # The Ingresses that asked for this host with this Secret, not every user of the Secret:
                # a Secret shared by hundreds of Ingresses would otherwise give each a finding per host.
                for source in sorted(entry["host_sources"][host]):
                    result.findings.append(Finding("ingress", source, WARNING, "tls-host-conflict",
                                                   "host {0} has certificates from two Secrets ({1}, {2}); the gateway "
                                                   "serves only {1}".format(host, owners[host], credential), host=host))
                continue
            owners[host] = credential
            hosts.add(host)
        if hosts:
            kept[credential] = dict(entry, hosts=hosts)
    return kept


def _destination_rules(namespace, policies, result, cluster_domain):
    resources = []
    backends = [(Destination(k[1], k[2], None, None).fqdn(cluster_domain), k) for k in policies if k[0] == "dr"]
    for fqdn, key in sorted(backends):
        entries = policies[key]
        source, traffic = entries[0]
        for other, other_traffic in entries[1:]:
            if other_traffic != traffic:
                result.findings.append(Finding("ingress", other, WARNING, "destination-policy-conflict",
                                               "{0} already sets a different backend policy for {1}; the older one "
                                               "is kept".format(source, fqdn)))
        resources.append({"apiVersion": ISTIO_NETWORKING, "kind": "DestinationRule",
                          "metadata": metadata(stable_name(fqdn), namespace, [e[0] for e in entries]),
                          # Only the gateway's own calls: other mesh clients keep their policies.
                          "spec": {"host": fqdn, "exportTo": ["."], "trafficPolicy": traffic}})
    return resources


def _with_ports(hosts):
    # A Host header may carry a port (`a.com:80`), which the gateway still routes to a.com: a
    # policy naming only `a.com` would not apply to it. "host:*" keeps those covered.
    return sorted(set(hosts) | set(h + ":*" for h in hosts))


def one_provider_per_gateway(policies):
    """Errors when the CUSTOM policies name more than one extension provider.

    Istio applies one CUSTOM provider per workload: with two, istiod generates no ext_authz filter
    for either and denies every request both policies cover (tests/integration/test_route_oracle.py
    shows it in the configuration istiod generates). Every translated Ingress is served by the same
    gateway workloads (the Istio output's selector, the Gateway API output's targetRefs), so one
    translation can keep the auth-url of one auth service only.
    """
    users = {}
    for key in sorted(k for k in policies if k[0] == "ext"):
        for provider, _hosts in policies[key]:
            users.setdefault(provider["name"], (provider, []))[1].append(key[1])
    if len(users) < 2:
        return []
    described = "; ".join("{0} ({1}:{2}{3}) for {4}".format(
        name, provider["envoyExtAuthzHttp"]["service"], provider["envoyExtAuthzHttp"]["port"],
        provider["envoyExtAuthzHttp"].get("pathPrefix", ""), ", ".join(refs))
        for name, (provider, refs) in sorted(users.items()))
    message = ("nginx.ingress.kubernetes.io/auth-url names {0} different auth services on one gateway: {1}. Istio runs one external "
               "authorization provider per gateway workload; with more, istiod configures none and denies every "
               "request to these hosts. Point these Ingresses at one auth service, or translate them onto separate "
               "gateways: one translation per auth service, its Ingresses chosen by label_selectors or namespaces, "
               "each with its own gateway_selector (Istio output) or gateway_name (Gateway API output)"
               .format(len(users), described))
    return [Finding("ingress", ref, ERROR, "auth-providers-conflict", message)
            for _name, (_provider, refs) in sorted(users.items()) for ref in refs]


def _authorization_policies(applies_to, namespace, policies):
    """The AuthorizationPolicies, and the extension providers the CUSTOM ones name. `applies_to`
    is the emitter's policy_target: the gateway pods by selector, or the Gateways by targetRefs."""
    resources = []
    for key in sorted(k for k in policies if k[0] == "ap"):
        ref = key[1]
        rules = []
        for negate, ranges, hosts in policies[key]:
            rule = {"from": [{"source": {("notRemoteIpBlocks" if negate else "remoteIpBlocks"): ranges}}]}
            if hosts and "*" not in hosts:
                rule["to"] = [{"operation": {"hosts": _with_ports(hosts)}}]
            rules.append(rule)
        resources.append({"apiVersion": ISTIO_SECURITY, "kind": "AuthorizationPolicy",
                          "metadata": metadata(stable_name("source-ranges-" + ref.replace("/", "-"), exact=ref),
                                               namespace, [ref]),
                          "spec": dict(applies_to, action="DENY", rules=rules)})
    providers = {}
    for key in sorted(k for k in policies if k[0] == "ext"):
        ref = key[1]
        for provider, hosts in policies[key]:
            providers[provider["name"]] = provider
            operation = {} if "*" in hosts else {"hosts": _with_ports(hosts)}
            resources.append({"apiVersion": ISTIO_SECURITY, "kind": "AuthorizationPolicy",
                              "metadata": metadata(stable_name("ext-authz-" + ref.replace("/", "-"), exact=ref),
                                                   namespace, [ref]),
                              "spec": dict(applies_to, action="CUSTOM", provider={"name": provider["name"]},
                                           rules=[{"to": [{"operation": operation}]} if operation else {}])})
    return resources, [providers[name] for name in sorted(providers)]
