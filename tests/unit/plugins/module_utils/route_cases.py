"""Records every request the translation tests route, for the oracle test to replay through istiod.

When ADOPTMESH_ROUTE_CASES names a file, each routing assertion of test_ingress.py appends one JSON
line: the test, the translator's inputs, the request and where the in-repo evaluator sent it.
tests/integration/test_route_oracle.py runs those tests with it set and checks every line against
the Envoy configuration istiod generates; unset, nothing is written.
"""

import json
import os

_INPUTS = "_route_case_inputs"


def remember_inputs(result, ingresses, services, options):
    setattr(result, _INPUTS, {"ingresses": ingresses, "services": services, "options": options})


def verdict_of(outcome):
    """Where the in-repo evaluator sent a request, as JSON: `svc.ns:port` and weight per destination."""
    if outcome.kind == "route":
        return {"kind": "route", "destinations": sorted(
            [".".join(fqdn.split(".")[:2]) + ":" + str(port), 100 if weight is None else weight]
            for fqdn, port, weight in outcome.destinations)}
    if outcome.kind == "redirect":
        return {"kind": "redirect", "location": outcome.location, "code": outcome.code}
    return {"kind": "none"}


def record(result, host, path, scheme, headers, outcome):
    target = os.environ.get("ADOPTMESH_ROUTE_CASES")
    if not target:
        return
    line = {"test": os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0], "resources": result.resources,
            "inputs": getattr(result, _INPUTS, None), "request": {"host": host, "path": path, "scheme": scheme,
                                                                  "headers": headers or {}},
            "verdict": verdict_of(outcome)}
    with open(target, "a") as handle:
        handle.write(json.dumps(line, sort_keys=True) + "\n")
