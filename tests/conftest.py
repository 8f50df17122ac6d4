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
