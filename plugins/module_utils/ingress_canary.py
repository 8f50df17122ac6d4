# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ingress-nginx canaries: an Ingress with canary annotations adds weighted or header-steered
routes to the locations of its stable Service port, on every host (balancer.lua looks at the
upstream, not at the host or path the canary Ingress named). No Ansible imports."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
from collections import namedtuple

from .findings import ERROR, INFO, WARNING, Finding
from .ingress_annotations import NGINX, number as _number
from .ingress_input import as_dict, re2_problem, ref_of
from .ingress_model import Route

# What balancer.lua's route_to_alternative_balancer reads of a canary (trafficShapingPolicy).
Steering = namedtuple("Steering", "header value pattern cookie weight total")

# The characters ingress-nginx's canary validators accept (parser.BasicCharsRegex for the header,
# its value and the cookie, spaces removed first; parser.IsValidRegex for the pattern). A value
# with any other character is ignored by ingress-nginx, as if unset.
_BASIC_CHARS = re.compile(r"[/\-._~a-zA-Z0-9:]*\Z")
_REGEX_CHARS = re.compile(r"[/\-._~a-zA-Z0-9:^$\[\](){}*+?|&=\\]*\Z")
# Istio refuses longer regexes (pkg/config/validation: validateStringRegexp).
ISTIO_REGEX_LIMIT = 1024
# The request header names nginx keeps (ignore_invalid_headers on, underscores_in_headers off, as
# ingress-nginx configures it): letters, digits and `-`.
_HEADER_NAME = re.compile(r"[A-Za-z0-9-]+\Z")


def cookie_regex(name, value):
    """An RE2 full match of a Cookie header in which nginx's $cookie_<name> is `value`.

    nginx (ngx_http_parse_multi_header_lines) scans the header's items, split at `;` or `,` and
    with leading spaces skipped, for the first that starts with the name (ASCII case-insensitive)
    followed by spaces and `=`; that item decides: its value is what follows `=` and spaces, up to
    the next `;`. So every item before the deciding one must not be such an item: for each prefix
    of the name, either the item ends there or goes on with another character.
    """
    def letter(char):
        return "[{0}{1}]".format(re.escape(char.lower()), re.escape(char.upper())) if char.isalpha() \
            else re.escape(char)

    def other_than(char, first):
        # An item never starts with a space: nginx skips the spaces after a separator.
        excluded = set([char.lower(), char.upper()]) | (set(" ") if first else set())
        return "[^;,{0}]".format("".join(re.escape(c) for c in sorted(excluded)))

    spelled = "".join(letter(char) for char in name)
    others = ["{0}(?:{1}[^;,]*)?".format("".join(letter(c) for c in name[:index]), other_than(name[index], index == 0))
              for index in range(len(name))]
    others.append("{0} *(?:[^ =;,][^;,]*)?".format(spelled))
    item = "(?:{0})".format("|".join(others))
    return "(?:{0}[;,] *)*{1} *= *{2}(?:;.*)?".format(item, spelled, re.escape(value))


def header_pattern_regex(pattern):
    """An RE2 full match of a header value that balancer.lua's unanchored ngx.re.match finds
    `pattern` in."""
    return ".*(?:{0}).*".format(pattern)


def _checked(annotations, key, allowed, ref, findings):
    """The annotation's value as ingress-nginx's canary parser reads it: None when unset, empty, or
    refused by its validator (then a warning, as ingress-nginx ignores it)."""
    raw = annotations.get(NGINX + key)
    if raw is None or raw == "":
        return None
    value = str(raw)
    if not allowed.match(value.replace(" ", "") if allowed is _BASIC_CHARS else value):
        findings.append(Finding("ingress", ref, WARNING, "invalid-annotation",
                                "{0}{1}={2!r} has characters ingress-nginx's validator refuses: it ignores the "
                                "annotation, and so does this translation".format(NGINX, key, value[:80])))
        return None
    return value


def steering_of(annotations, ref, findings):
    """The Steering of a canary Ingress, or None when one of its rules cannot be kept (an error)."""
    header = _checked(annotations, "canary-by-header", _BASIC_CHARS, ref, findings)
    value = _checked(annotations, "canary-by-header-value", _BASIC_CHARS, ref, findings)
    pattern = _checked(annotations, "canary-by-header-pattern", _REGEX_CHARS, ref, findings)
    cookie = _checked(annotations, "canary-by-cookie", _BASIC_CHARS, ref, findings)
    if value:
        pattern = None  # balancer.lua reads the pattern only without a value
    if header:
        # balancer.lua reads ngx.var["http_" .. name with `-` as `_`], which is the request header
        # whose name, lower-cased with `-` as `_`, is that: `X_Beta` is the header X-Beta. A name
        # with other characters is a header nginx drops before Lua looks.
        header = header.replace("_", "-")
        if not _HEADER_NAME.match(header):
            findings.append(Finding("ingress", ref, WARNING, "canary-header-never-seen",
                                    "{0}canary-by-header={1!r}: nginx drops request headers with such a name "
                                    "(ignore-invalid-headers), so ingress-nginx never steered by it; neither does "
                                    "the translation".format(NGINX, header[:80])))
            header = None
    problems = []
    if pattern and header:
        problem = re2_problem(header_pattern_regex(pattern))
        if problem is None and len(header_pattern_regex(pattern)) > ISTIO_REGEX_LIMIT:
            problem = "longer than the {0} characters Istio accepts in a regex".format(ISTIO_REGEX_LIMIT)
        if problem:
            problems.append(("canary-by-header-pattern", problem))
    if cookie and " " in cookie:
        problems.append(("canary-by-cookie", "nginx looks the cookie up under a name with a space, which no Cookie "
                                             "item can carry"))
    elif cookie and len(cookie_regex(cookie, "always")) > ISTIO_REGEX_LIMIT:
        problems.append(("canary-by-cookie", "the cookie match would be longer than the {0} characters Istio "
                                             "accepts in a regex".format(ISTIO_REGEX_LIMIT)))
    for key, problem in problems:
        findings.append(Finding("ingress", ref, ERROR, "canary-not-translated",
                                "{0}{1}: {2}; requests it sent to the canary would reach the stable backend".format(
                                    NGINX, key, problem)))
    if problems:
        return None
    weight = canary_number(annotations, "canary-weight", ref, findings)
    # balancer.lua draws out of weightTotal only when it is above 100, else out of 100.
    total = max(100, canary_number(annotations, "canary-weight-total", ref, findings) or 100)
    return Steering(header, value, pattern, cookie, weight, total)


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
    scratch = []
    made = run.ingress_routes(ingress, ref, annotations, len(ages) + 1, services, scratch, {}, {}, result)
    # ingress-nginx merges a canary into the stable location: the canary's own TLS, redirects and
    # unsupported annotations do not apply, so their findings do not either.
    findings.extend(f for f in scratch if f.code not in ("unsupported-annotation", "annotation-not-translated",
                                                         "tls-without-hosts", "tls-without-secret",
                                                         "https-redirect-keeps-trailing-slash"))
    steering = steering_of(annotations, ref, findings)
    if steering is None:
        return
    weight, total = steering.weight, steering.total
    if weight is not None and 100.0 * min(weight, total) / total != int(round(100.0 * min(weight, total) / total)):
        findings.append(Finding("ingress", ref, INFO, "canary-weight-rounded", "canary weight {0}/{1} rounded to "
                                "{2}%".format(weight, total, int(round(100.0 * min(weight, total) / total)))))
    if weight is not None and weight > total:
        findings.append(Finding("ingress", ref, WARNING, "canary-weight-invalid",
                                "canary-weight {0} is above canary-weight-total {1}: every request goes to the "
                                "canary, as ingress-nginx does".format(weight, total)))
    if weight is None and not steering.header and not steering.cookie:
        findings.append(Finding("ingress", ref, WARNING, "canary-without-rule",
                                "canary Ingress without canary-weight, canary-by-header or canary-by-cookie sends no "
                                "traffic"))
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
        plan = plans.setdefault(upstream, (ref, steering, canary.destinations, set()))
        if plan[0] == ref:
            plan[3].add((stable.host, stable.key()))
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
            ref, steering, destinations, own = plans[upstream]
            if (stable.host, stable.key()) not in own:
                if ref not in stable.extra_sources:
                    stable.extra_sources.append(ref)
                message = ("ingress-nginx gives a canary to every location of its stable Service port {0}:{1}, so it "
                           "also takes traffic of host {2} path {3!r} ({4}); the translation keeps that".format(
                               upstream[0], upstream[2], stable.host, stable.path, stable.source))
                findings.append(Finding("ingress", ref, INFO, "canary-shared-backend", message,
                                        host=stable.host, path=stable.path))
            canary_routes(routes, stable, ref, steering, destinations)


def canary_routes(routes, stable, ref, steering, destinations):
    # balancer.lua's order: the header (its value, else its pattern, else always/never), then the
    # cookie (always/never), then the weight. A `never` route is needed only where a later rule
    # could still send the request to the canary.
    steered = []
    if steering.header:
        if steering.value:
            steered.append(((steering.header, "exact", steering.value), destinations))
        elif steering.pattern:
            steered.append(((steering.header, "regex", header_pattern_regex(steering.pattern)), destinations))
        else:
            steered.append(((steering.header, "exact", "always"), destinations))
            if steering.cookie or steering.weight is not None:
                steered.append(((steering.header, "exact", "never"), list(stable.destinations)))
    if steering.cookie:
        steered.append((("cookie", "regex", cookie_regex(steering.cookie, "always")), destinations))
        if steering.weight is not None:
            steered.append((("cookie", "regex", cookie_regex(steering.cookie, "never")), list(stable.destinations)))
    for order, (match, targets) in enumerate(steered):
        route = Route(stable.host, stable.category, stable.kind, stable.path, stable.matches, targets, ref, stable.age)
        route.headers = match
        route.steer = order
        route.controller = stable.controller
        for attribute in ("rewrite", "timeout", "retries", "cors", "request_headers", "response_headers", "redirect", "https_redirect", "rank",
                          "made"):
            setattr(route, attribute, getattr(stable, attribute))
        routes[stable.host][route.key()] = route
    weight, total = steering.weight, steering.total
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
