#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: traffic_replay
short_description: Replay ingress-nginx access logs against an Ingress translation before the cutover
version_added: 0.1.0
author:
  - adoptmesh.istio maintainers (@adoptmesh)
description:
  - Reads ingress-nginx access logs (plain or gzip, as a stream) and, for every request, compares
    where ingress-nginx sent it with where the translated Istio objects send it. ingress-nginx
    logged the upstream that served each request (C($proxy_upstream_name), C(<namespace>-<service>-<port>),
    and C($proxy_alternative_upstream_name) when a canary took it), its default backend (a 404)
    or the redirect it answered itself.
  - The translation is the registered result of M(adoptmesh.istio.ingress_to_gateway) (O(translation)),
    or, without it, the objects the translation of gateway O(owner) applied on the cluster, as they
    are now, beside the Ingresses they came from. Both output APIs (Istio, Gateway API) are evaluated.
  - The default log format logs no host. Each request is then checked on every host whose Ingresses
    route that upstream on a path that could match it; the result says C(same for every candidate host),
    or C(ambiguous) with the hosts where the routing differs. Log C($host) to decide those. Without
    C($scheme) a request agrees when it agrees over HTTP or over HTTPS.
  - Sums it up per request shape (host, method, path with identifiers as C({id})) with counts and
    three example lines each, per Ingress (a verdict), and as findings in the translator's shape;
    a mismatched shape with more than O(max_mismatch_requests) requests is an C(error) finding,
    which the cutover gate refuses.
  - Lines that are not in the log format are counted and sampled, never fatal. A log file without
    a single line in the format is an error naming the file and its first line.
  - Reads only; never changes anything, in check mode or not.
options:
  logs:
    description: Access log files on the controller, plain or gzip (told apart by their content).
    type: list
    elements: path
    required: true
  log_format:
    description:
      - The nginx C(log_format) the logs were written in (ingress-nginx's C(log-format-upstream)),
        as in its ConfigMap. Default, ingress-nginx's C(upstreaminfo) format.
      - It must log the request (C($request), C($request_uri) or C($uri)) and C($proxy_upstream_name).
        C($host), C($scheme), C($server_port), C($upstream_addr) and C($http_<header>) are used when logged.
      - The path is read from C($request_uri), else the request line C($request); C($uri) only when
        neither is logged, as nginx logs it after rewrites. A request line in absolute form
        (C(GET http://host/path)) gives the host, never the scheme, which is the connection's.
    type: str
  log_escape:
    description:
      - How nginx escaped the logged values, the format's C(escape=) parameter. C(json) when
        ingress-nginx's ConfigMap sets C(log-format-escape-json) to C("true"), C(none) with
        C(log-format-escape-none). Values are read back unescaped.
    type: str
    choices: [default, json, none]
    default: default
  translation:
    description:
      - The registered result of M(adoptmesh.istio.ingress_to_gateway) (its C(resources) and C(ingresses)).
        Without it, the objects are read from the cluster (O(owner)).
    type: dict
  owner:
    description:
      - Without O(translation), the gateway whose applied objects are replayed against (the
        C(adoptmesh.istio/gateway) label, the C(owner) given to M(adoptmesh.istio.ingress_to_gateway)).
    type: str
  namespaces:
    description: Without O(translation), the namespaces of the Ingresses the gateway took. Empty means all.
    type: list
    elements: str
    default: []
  label_selectors:
    description: Without O(translation), label selectors of the Ingresses the gateway took.
    type: list
    elements: str
    default: []
  ingress_classes:
    description: Without O(translation), the Ingress classes the gateway took.
    type: list
    elements: str
    default: [nginx, istio]
  include_classless:
    description: Without O(translation), whether the gateway took Ingresses without a class.
    type: bool
    default: false
  cluster_domain:
    description: The cluster's DNS domain.
    type: str
    default: cluster.local
  max_mismatch_requests:
    description:
      - A request shape that would go elsewhere with more than this many logged requests is an
        C(error) finding (the cutover refuses); one with fewer, a C(warning).
    type: int
    default: 0
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - adoptmesh.istio.cluster
requirements:
  - kubernetes >= 24.2.0 (only to read the objects from a cluster)
notes:
  - Only requests ingress-nginx routed are compared. Those it answered itself (authentication,
    allow-lists, rate limits, no endpoints) and those for upstreams that no translated Ingress
    names are counted in C(totals.not_compared_reasons), not compared.
  - Paths are compared as logged, without the query string. One core replays about 2 million
    lines a minute, and the memory does not grow with the log's length (docs/benchmarks.md).
seealso:
  - module: adoptmesh.istio.ingress_to_gateway
  - module: adoptmesh.istio.ingress_cutover
  - name: ingress-nginx log format
    description: The variables ingress-nginx logs by default (log-format-upstream).
    link: https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/log-format/
"""

EXAMPLES = r"""
- name: Translate the shop Ingresses without applying anything
  adoptmesh.istio.ingress_to_gateway:
    namespaces: [shop]
  register: translation

- name: Replay last week's ingress-nginx logs against the translation
  adoptmesh.istio.traffic_replay:
    logs:
      - /var/log/ingress-nginx/access.log
      - /var/log/ingress-nginx/access.log.1.gz
    translation: "{{ translation }}"
  register: replay

- name: Show the request shapes that would go elsewhere
  ansible.builtin.debug:
    msg: "{{ replay.mismatches | map(attribute='path_pattern') | list }}"

- name: Replay a log that names the host against what gateway istio-ingressgateway serves now
  adoptmesh.istio.traffic_replay:
    logs: [/srv/logs/nginx-with-host.log.gz]
    log_format: >-
      $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer"
      "$http_user_agent" $host $scheme [$proxy_upstream_name] [$proxy_alternative_upstream_name]
      $upstream_addr $upstream_status $req_id
    owner: istio-ingressgateway
    namespaces: [shop]
    max_mismatch_requests: 5

- name: Replay JSON logs (log-format-escape-json "true" in ingress-nginx's ConfigMap)
  adoptmesh.istio.traffic_replay:
    logs: [/srv/logs/nginx-json.log]
    log_format: >-
      {"time": "$time_iso8601", "host": "$host", "scheme": "$scheme", "request": "$request",
      "status": $status, "upstream": "$proxy_upstream_name",
      "alternative": "$proxy_alternative_upstream_name", "upstream_addr": "$upstream_addr"}
    log_escape: json
    owner: istio-ingressgateway
"""

RETURN = r"""
changed:
  description: Always false; the replay only reads.
  returned: always
  type: bool
output_api:
  description: The output API of the objects replayed against, C(istio) or C(gateway-api).
  returned: always
  type: str
totals:
  description:
    - Lines read, parsed and skipped (with reasons in C(skipped_reasons)); requests compared,
      C(same), C(mismatched) and C(ambiguous); C(same_for_every_candidate_host), the requests
      without a logged host that routed the same on every candidate host; requests C(not_compared)
      with reasons in C(not_compared_reasons); C(shapes_not_listed), mismatched requests beyond
      the 5,000 shapes listed.
  returned: always
  type: dict
  sample: {lines: 1000000, parsed: 999000, skipped: 1000, compared: 990000, same: 989700, mismatched: 300,
           ambiguous: 0, same_for_every_candidate_host: 1200, not_compared: 9000, shapes_not_listed: 0,
           skipped_reasons: {not in the log format: 1000}, not_compared_reasons: {}}
files:
  description: Per log file, its path and the lines read and parsed.
  returned: always
  type: list
  elements: dict
mismatches:
  description:
    - The request shapes that would go elsewhere, most requests first. Each has C(ingress),
      C(host) (or C(candidate_hosts) when the log has no host), C(method), C(path_pattern),
      C(requests), C(source) (where ingress-nginx sent them), C(translation) (where the objects
      send them), three C(examples) (each C(file:line) and the line's text) and C(error) (above O(max_mismatch_requests)).
  returned: always
  type: list
  elements: dict
  sample:
    - ingress: shop/api
      host: shop.example.com
      method: GET
      path_pattern: /api/v1/orders/{id}
      requests: 14
      source: api.shop:8080
      translation: web.shop:80
      error: true
      examples: ["access.log:1812: 10.0.0.7 - - [20/Nov/2026:10:00:01 +0000] \"GET /api/v1/orders/77 HTTP/1.1\" 200 ..."]
ambiguous:
  description:
    - Request shapes without a logged host that route the same on some candidate hosts only.
      C(same_on) lists those hosts, C(differs_on) the others with where the objects send them there.
  returned: always
  type: list
  elements: dict
ingresses:
  description:
    - Per Ingress (C(namespace/name)), its C(requests), C(same), C(mismatched), C(ambiguous) and a
      C(verdict), one of C(same), C(differs), C(ambiguous), C(no traffic). Requests ingress-nginx
      sent to its default backend are under C((no Ingress)).
  returned: always
  type: dict
skipped_samples:
  description: Up to ten skipped lines with C(file), C(line), C(reason) and C(text).
  returned: always
  type: list
  elements: dict
unknown_upstreams:
  description: Upstreams in the log that no translated Ingress names, with their request counts (50 at most).
  returned: always
  type: dict
findings:
  description:
    - Per Ingress, C(replay-mismatch) (C(error) when a shape is above O(max_mismatch_requests),
      else C(warning)) and C(replay-ambiguous) (C(warning)), in the translator's finding shape.
  returned: always
  type: list
  elements: dict
summary:
  description: The counts the adoption report shows, and the findings by severity.
  returned: always
  type: dict
"""

from ansible_collections.adoptmesh.istio.plugins.module_utils.errors import InputError
from ansible_collections.adoptmesh.istio.plugins.module_utils.findings import count_by_severity
from ansible_collections.adoptmesh.istio.plugins.module_utils.ingress import Options, Translator
from ansible_collections.adoptmesh.istio.plugins.module_utils.connection import (
    FAILURES, cluster_module, fail_on_cluster_error, open_cluster)
from ansible_collections.adoptmesh.istio.plugins.module_utils.ingress_reads import read_ingress_sources
from ansible_collections.adoptmesh.istio.plugins.module_utils.sync import read_owned
from ansible_collections.adoptmesh.istio.plugins.module_utils.replay import Replay, from_translation


def argument_spec():
    return dict(
        logs=dict(type="list", elements="path", required=True),
        log_format=dict(type="str"),
        log_escape=dict(type="str", choices=["default", "json", "none"], default="default"),
        translation=dict(type="dict"),
        owner=dict(type="str"),
        namespaces=dict(type="list", elements="str", default=[]),
        label_selectors=dict(type="list", elements="str", default=[]),
        ingress_classes=dict(type="list", elements="str", default=["nginx", "istio"]),
        include_classless=dict(type="bool", default=False),
        cluster_domain=dict(type="str", default="cluster.local"),
        max_mismatch_requests=dict(type="int", default=0),
    )


def from_cluster(module, params):
    """(resources, per-Ingress map): gateway `owner`'s objects as applied, and its Ingresses' backends."""
    cluster = open_cluster(module)
    resources = read_owned(cluster, params["owner"])
    ingresses, services, _known = read_ingress_sources(cluster, params["namespaces"], params["label_selectors"],
                                                       secrets=False)
    options = Options(ingress_classes=params["ingress_classes"], include_classless=params["include_classless"],
                      cluster_domain=params["cluster_domain"], certificates="issued")
    return cluster, resources, Translator(options).translate(ingresses, services).by_ingress


def main():
    module = cluster_module(argument_spec())
    params = module.params
    if params["translation"] is None and not params["owner"]:
        module.fail_json(msg="give translation (a registered ingress_to_gateway result) or owner (to read the "
                         "gateway's applied objects from the cluster)")
    if params["max_mismatch_requests"] < 0:
        module.fail_json(msg="max_mismatch_requests must be 0 or more, got {0}".format(params["max_mismatch_requests"]))
    cluster = None
    try:
        if params["translation"] is not None:
            runner = from_translation(params["translation"], params["log_format"], params["max_mismatch_requests"],
                                      params["log_escape"])
        else:
            cluster, resources, by_ingress = from_cluster(module, params)
            runner = Replay(resources, by_ingress, params["log_format"], params["max_mismatch_requests"],
                            params["log_escape"])
        for path in params["logs"]:
            runner.read_file(path)
        outcome = runner.result()
    except InputError as error:
        module.fail_json(msg=str(error))
    except FAILURES as error:
        fail_on_cluster_error(module, cluster, error)
    totals = outcome["totals"]
    summary = dict((key, totals[key]) for key in ("lines", "compared", "same", "mismatched", "ambiguous"))
    summary["mismatched_shapes"] = len(outcome["mismatches"])
    summary["ingresses_differing"] = sorted(ref for ref, entry in outcome["ingresses"].items()
                                            if entry["verdict"] == "differs")
    summary.update(count_by_severity(runner.found))
    module.exit_json(changed=False, output_api=runner.router.api, summary=summary, **outcome)


if __name__ == "__main__":
    main()
