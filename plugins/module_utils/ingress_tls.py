# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The TLS side of a translation: the HTTPS servers an Ingress's tls entries ask for (with the
Secret copies or issued credentials they need) and the hosts ingress-nginx holds a certificate
for. No Ansible imports."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from .findings import ERROR, INFO, WARNING, Finding
from .ingress_annotations import NGINX, truthy as _truthy
from .ingress_input import as_dict, as_list, ingress_class, valid_host
from .names import stable_name


def certificate_hosts(ingresses, annotations_of, refs, options):
    """The hosts ingress-nginx's Lua holds a certificate for: every rule host of an Ingress with a
    tls section (its Secret's, or the default certificate when no entry names the host), canaries
    and class istio aside (createServers)."""
    hosts = set()
    if options.certificates == "external":
        return hosts
    for ingress in ingresses:
        ref = refs[id(ingress)]
        spec = as_dict(ingress.get("spec"))
        if (ingress_class(ingress) or options.classless_controller) == "istio" or not as_list(spec.get("tls")) \
                or _truthy(annotations_of[ref].get(NGINX + "canary")):
            continue
        for rule in as_list(spec.get("rules")):
            host = as_dict(rule).get("host")
            if isinstance(host, str) and host and valid_host(host):
                hosts.add(host)
    return hosts


def tls_servers_of(run, spec, ref, namespace, rule_hosts, findings, tls_servers, result):
    """Register HTTPS servers for the Ingress's tls entries; returns the hosts with TLS."""
    covered = set()
    if run.options.certificates == "external":
        if as_list(spec.get("tls")):
            findings.append(Finding("ingress", ref, INFO, "tls-at-load-balancer",
                                    "spec.tls is served by the external load balancer (certificates: external); "
                                    "the gateway gets HTTP servers only"))
        return covered
    for index, entry in enumerate(as_list(spec.get("tls"))):
        entry = as_dict(entry)
        field = "spec.tls[{0}]".format(index)
        hosts = [h for h in as_list(entry.get("hosts")) if isinstance(h, str)]
        if not hosts:
            hosts = sorted(set(rule_hosts))
            findings.append(Finding("ingress", ref, WARNING, "tls-without-hosts",
                                    "{0} lists no hosts; its certificate is served for the rule hosts {1}".format(
                                        field, hosts)))
        secret = entry.get("secretName")
        if not isinstance(secret, str) or not secret:
            findings.append(Finding("ingress", ref, WARNING, "tls-without-secret",
                                    "{0} has no secretName; no HTTPS server for {1} (ingress-nginx would serve its "
                                    "default certificate)".format(field, hosts)))
            continue
        bad = [h for h in hosts if h != "*" and not valid_host(h)]
        if bad:
            findings.append(Finding("ingress", ref, ERROR, "invalid-host",
                                    "{0}.hosts has invalid host names {1}".format(field, bad)))
            hosts = [h for h in hosts if h not in bad]
        issued = run.options.certificates == "issued"
        known = run.options.known_secrets
        if not issued and known is not None and (namespace, secret) not in known:
            findings.append(Finding("ingress", ref, ERROR, "secret-not-found",
                                    "{0}: Secret {1}/{2} does not exist; HTTPS for {3} would fail".format(
                                        field, namespace, secret, hosts)))
            continue
        if namespace == run.options.gateway_namespace:
            credential = secret
        else:
            credential = stable_name("{0}-{1}".format(namespace, secret), exact="{0}/{1}".format(namespace, secret),
                                     max_length=253)
        if namespace != run.options.gateway_namespace and not issued:
            copy = {"source_namespace": namespace, "source_name": secret,
                    "target_namespace": run.options.gateway_namespace, "target_name": credential}
            if copy not in result.secrets_to_copy:
                result.secrets_to_copy.append(copy)
                findings.append(Finding("ingress", ref, INFO, "secret-copy-needed",
                                        "Secret {0}/{1} must be copied to {2}/{3}: the gateway reads certificates "
                                        "from its own namespace".format(
                                            namespace, secret, run.options.gateway_namespace, credential)))
        result.credential_secrets[credential] = "{0}/{1}".format(namespace, secret)
        server = tls_servers.setdefault(credential, {"hosts": set(), "sources": set(), "host_sources": {}})
        server["hosts"].update(hosts)
        server["sources"].add(ref)
        for host in hosts:
            server["host_sources"].setdefault(host, set()).add(ref)
        covered.update(hosts)
    return covered
