"""The generated corpus routed by ingress-nginx's own code and a real nginx, and by istiod.

The class-nginx sets of test_route_corpus.py's corpus (Hypothesis, derandomized: every run judges
the same sets; host-less rules, wildcards, regex hosts, rewrites, Exact and Prefix side by side,
app-root, TLS redirects, default backends and canaries), each with its 40 drawn requests and up to
48 of nginx_oracle.requests_for's, are answered by ingress-nginx's controller and Debian's nginx
(nginx_oracle) and by the Envoy configuration istiod generates for the translation (route_oracle),
for the Istio output and the Gateway API output. They must agree on every request except where a
finding documents the difference (test_nginx_oracle.known_difference, the list in
docs/ingress-translation.md); a set nginx refuses must be flagged `duplicate-nginx-location`.
"""

from test_nginx_oracle import check, differences, with_generated_requests
from test_route_corpus import draw_corpus


def test_the_generated_corpus_routes_as_ingress_nginx_does():
    groups = [({"ingresses": ingresses, "services": None, "options": {}}, requests)
              for cls, ingresses, requests in draw_corpus() if cls == "nginx"]
    assert len(groups) > 500
    known = {}
    found = differences(with_generated_requests(groups), ["istio", "gateway-api"], known)
    print("known differences, with their findings:", sorted(known.items()))
    assert known, "the corpus reached none of the documented differences: its requests no longer probe them"
    for output_api, listed in found.items():
        check(listed, "corpus-" + output_api)
