"""Makes the checkout importable as `ansible_collections.adoptmesh.istio` for pytest.

`make setup` lays out `.build/collections/ansible_collections/adoptmesh/istio` as a link to the
checkout (and kubernetes.core beside it); this does the same when pytest is run on its own.
"""

import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(REPO, ".build", "collections")
_LINK = os.path.join(COLLECTIONS, "ansible_collections", "adoptmesh", "istio")

if not os.path.exists(_LINK):
    os.makedirs(os.path.dirname(_LINK), exist_ok=True)
    os.symlink(REPO, _LINK)
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)

# Hypothesis profiles: `ci` (the default, what `make test` runs) and `deep` for long local runs:
#   .venv/bin/pytest tests/unit --hypothesis-profile=deep
try:
    from hypothesis import HealthCheck, settings

    # max_examples here is what the fuzz tests (tests/unit/.../test_fuzz.py) run per entry point;
    # tests with their own @settings keep theirs.
    # `ci` is derandomized, so every CI run tries the same examples and a red build is never
    # chance; `deep` explores new ones each run.
    settings.register_profile("ci", max_examples=4000, deadline=None, derandomize=True,
                              suppress_health_check=[HealthCheck.too_slow])
    settings.register_profile("deep", max_examples=40000, deadline=None,
                              suppress_health_check=[HealthCheck.too_slow])
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
except ImportError:  # the integration tier runs without hypothesis too
    pass
