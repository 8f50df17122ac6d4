"""Render the decision on every ingress-nginx annotation into docs/ingress-translation.md.

The table's one home is plugins/module_utils/ingress_annotation_decisions.py; the docs show it
between two markers, and a unit test fails when they differ. `--write` renders it again;
without it the table is printed.
"""

import argparse
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(REPO, "docs", "ingress-translation.md")
BEGIN, END = "<!-- decision table: begin -->\n", "<!-- decision table: end -->"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="replace the table in " + os.path.relpath(DOC, REPO))
    arguments = parser.parse_args()
    sys.path.insert(0, os.path.join(REPO, "plugins", "module_utils"))
    import ingress_annotation_decisions as decisions  # pylint: disable=import-outside-toplevel
    table = decisions.decision_table()
    if not arguments.write:
        sys.stdout.write(table)
        return 0
    with open(DOC) as handle:
        text = handle.read()
    if BEGIN not in text or END not in text:
        sys.stderr.write("{0}: the markers {1!r} and {2!r} are missing\n".format(DOC, BEGIN.strip(), END))
        return 1
    head, rest = text.split(BEGIN, 1)
    with open(DOC, "w") as handle:
        handle.write(head + BEGIN + table + END + rest.split(END, 1)[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
