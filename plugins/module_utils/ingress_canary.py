# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ingress-nginx canaries: an Ingress with canary annotations adds weighted or header-steered
routes to the locations of its stable Service port, on every host (balancer.lua looks at the
upstream, not at the host or path the canary Ingress named). No Ansible imports."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from .findings import ERROR, INFO, WARNING, Finding
from .ingress_annotations import NGINX, PARTIAL, number as _number
from .ingress_input import as_dict, ref_of
from .ingress_model import Route


def single_backend(route):
    """The Service port of a route that proxies to one backend, as an ingress-nginx location's
    upstream; None for a redirect or a split."""
    if len(route.destinations) != 1 or route.controller != "nginx":
        return None
    destination = route.destinations[0]
    return None if destination.weight not in (None, 100) else destination.upstream


def apply_canary(run, ingress, routes, services, findings, result, ages, plans):
    ref = ref_of(ingress)
    annotations = as_dict(as_dict(ingress["metadata"]).get("annotations"))
    for key in ("canary-by-cookie", "canary-by-header-pattern"):
        if annotations.get(NGINX + key):
            # The requests it steered would reach the stable backend instead: an error (the spec).
            findings.append(Finding("ingress", ref, ERROR, "canary-not-translated",
                                    "{0}{1}: {2}; requests it sent to the canary would reach the stable "
                                    "backend".format(NGINX, key, PARTIAL[key])))
    scratch = []
    made = run.ingress_routes(ingress, ref, annotations, len(ages) + 1, services, scratch, {}, {}, result)
    # ingress-nginx merges a canary into the stable location: the canary's own TLS, redirects and
    # unsupported annotations do not apply, so their findings do not either.
    findings.extend(f for f in scratch if f.code not in ("unsupported-annotation", "annotation-not-translated",
                                                         "tls-without-hosts", "tls-without-secret",
                                                         "https-redirect-keeps-trailing-slash"))
    weight = canary_number(annotations, "canary-weight", ref, findings)
    # balancer.lua draws out of weightTotal only when it is above 100, else out of 100.
    total = max(100, canary_number(annotations, "canary-weight-total", ref, findings) or 100)
    if weight is not None and 100.0 * min(weight, total) / total != int(round(100.0 * min(weight, total) / total)):
        findings.append(Finding("ingress", ref, INFO, "canary-weight-rounded", "canary weight {0}/{1} rounded to "
                                "{2}%".format(weight, total, int(round(100.0 * min(weight, total) / total)))))
    if weight is not None and weight > total:
        findings.append(Finding("ingress", ref, WARNING, "canary-weight-invalid",
                                "canary-weight {0} is above canary-weight-total {1}: every request goes to the "
                                "canary, as ingress-nginx does".format(weight, total)))
    header = annotations.get(NGINX + "canary-by-header")
    header_value = annotations.get(NGINX + "canary-by-header-value")
    if weight is None and not header:
        findings.append(Finding("ingress", ref, WARNING, "canary-without-rule",
                                "canary Ingress without canary-weight or canary-by-header sends no traffic"))
        return
    for canary in made:
        stable = routes.get(canary.host or "*", {}).get(canary.key())
        if stable is None:
            findings.append(Finding("ingress", ref, ERROR, "canary-without-stable",
                                    "canary for host {0} path {1!r} has no stable Ingress with the same host and "
                                    "path".format(canary.host, canary.path), host=canary.host, path=canary.path))
            continue
        if not canary.destinations or not stable.destinations:
            # One side answers with a redirect (app-root, permanent-redirect...): there is no
            # backend traffic to split or steer, and the stable route stays as it is.
            findings.append(Finding("ingress", ref, WARNING, "canary-over-redirect",
                                    "the {0} route for host {1} path {2!r} is a redirect, so the canary receives no "
                                    "traffic there".format("canary" if not canary.destinations else "stable",
                                                           canary.host, canary.path),
                                    host=canary.host, path=canary.path))
            continue
        upstream = single_backend(stable)
        if upstream is None:
            continue
        stable.extra_sources.append(ref)
        # ingress-nginx attaches a canary to the stable location's upstream (the Service port),
        # and balancer.lua consults only its first one: the first canary on an upstream decides.
        plan = plans.setdefault(upstream, (ref, header, header_value, weight, total, canary.destinations, set()))
        if plan[0] == ref:
            plan[6].add((stable.host, stable.key()))
        else:
            findings.append(Finding("ingress", ref, WARNING, "canary-shadowed",
                                    "host {0} path {1!r} proxies to {2}:{3}, which the older canary {4} already "
                                    "takes: ingress-nginx uses only the first canary of a Service port, so this "
                                    "one got no traffic there, nor does it after the translation".format(
                                        stable.host, stable.path, upstream[0], upstream[2], plan[0]),
                                    host=stable.host, path=stable.path))


def apply_canary_plans(run, routes, plans, findings):
    """Every location whose upstream carries a canary takes it, on any host (balancer.lua
    looks at the upstream, not the host or path the canary Ingress named)."""
    for host in sorted(routes, key=str):
        for stable in sorted(routes[host].values(), key=lambda r: r.sort_key()):
            upstream = single_backend(stable)
            if upstream is None or stable.headers is not None or upstream not in plans:
                continue
            ref, header, header_value, weight, total, destinations, own = plans[upstream]
            if (stable.host, stable.key()) not in own:
                if ref not in stable.extra_sources:
                    stable.extra_sources.append(ref)
                message = ("ingress-nginx gives a canary to every location of its stable Service port {0}:{1}, so it "
                           "also takes traffic of host {2} path {3!r} ({4}); the translation keeps that".format(
                               upstream[0], upstream[2], stable.host, stable.path, stable.source))
                findings.append(Finding("ingress", ref, INFO, "canary-shared-backend", message,
                                        host=stable.host, path=stable.path))
            canary_routes(routes, stable, ref, header, header_value, weight, total, destinations)


def canary_routes(routes, stable, ref, header, header_value, weight, total, destinations):
    if header:
        steered = [(str(header_value) if header_value else "always", destinations)]
        if not header_value and weight is not None:
            # ingress-nginx: `never` sends to the stable backend, whatever the weight says.
            steered.append(("never", list(stable.destinations)))
        for value, targets in steered:
            route = Route(stable.host, stable.category, stable.kind, stable.path, stable.matches,
                          targets, ref, stable.age)
            route.headers = (str(header), value)
            route.controller = stable.controller
            for attribute in ("rewrite", "timeout", "cors", "request_headers", "redirect", "https_redirect", "rank",
                              "made"):
                setattr(route, attribute, getattr(stable, attribute))
            routes[stable.host][route.key()] = route
    if weight is not None:
        canary_share = min(weight, total)
        base = [d for d in stable.destinations if d.weight is None or d.weight > 0]
        percent_canary = int(round(100.0 * canary_share / total))
        stable.destinations = ([base[0]._replace(weight=100 - percent_canary)] if base else []) + [
            destinations[0]._replace(weight=percent_canary)]


def canary_number(annotations, key, ref, findings):
    raw = annotations.get(NGINX + key)
    if raw is None:
        return None
    number = _number(raw)
    if number is None:
        findings.append(Finding("ingress", ref, ERROR, "invalid-annotation",
                                "{0}{1}={2!r} is not a whole number from 0 to 999999999".format(
                                    NGINX, key, raw if len(str(raw)) < 40 else str(raw)[:40] + "...")))
    return number
