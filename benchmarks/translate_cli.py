"""A command-line Ingress converter over the collection's translation, for the benchmark.

Reads a List of Ingresses (and Services, for named ports) as JSON, writes the generated objects as
a JSON List, as a converter run from the shell does; the figure is the whole process's time.

    .venv/bin/python benchmarks/translate_cli.py --input ingresses.json --output objects.json [--output-api gateway-api]
"""

import argparse
import gc
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".build", "collections"))

from ansible_collections.adoptmesh.istio.plugins.module_utils.ingress import translate  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--output-api", default="istio", choices=["istio", "gateway-api"])
    args = parser.parse_args()
    # A short-lived process that builds a large tree once: the cyclic collector has nothing to free.
    gc.disable()
    with open(args.input) as handle:
        document = json.load(handle)
    items = document.get("items", []) if isinstance(document, dict) else document
    ingresses = [i for i in items if i.get("kind") == "Ingress"]
    services = [i for i in items if i.get("kind") == "Service"] or None
    result = translate(ingresses, services, output_api=args.output_api)
    # json.dumps encodes in C at once; json.dump would feed the file chunk by chunk from Python.
    text = json.dumps({"apiVersion": "v1", "kind": "List", "items": result.resources}, separators=(",", ":"),
                      check_circular=False, ensure_ascii=False)
    with open(args.output, "w", encoding="utf-8") as handle:
        handle.write(text)
    errors = sum(1 for f in result.findings if f.severity == "error")
    sys.stderr.write("{0} Ingresses, {1} objects, {2} error findings\n".format(
        len(ingresses), len(result.resources), errors))
    sys.stderr.flush()
    # Everything is written: skip tearing down a million objects one by one at interpreter exit.
    os._exit(0)


if __name__ == "__main__":
    main()
