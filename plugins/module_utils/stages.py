# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The adoption stages, in one list.

The playbooks (which roles a run to a stage runs), the state record on each cluster
(adoption_state), the reports, preflight and the AWX workflow all read this list, through the
`adoptmesh.istio.adoption_stages` lookup on the Ansible side. Adding a stage is one entry here plus
its role.

Pure logic, no Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class Stage:
    """One stage: its name (`adoption_stage=<name>`), the role that does it, a label for reports,
    whether it writes to the cluster, and for a side stage the main stage it follows."""

    __slots__ = ("name", "role", "label", "writes", "after")

    def __init__(self, name, role, label, writes=True, after=None):
        self.name = name
        self.role = role
        self.label = label
        self.writes = writes
        self.after = after

    @property
    def side(self):
        return self.after is not None


# Main stages in the order a run passes them; a side stage runs the main stages through `after`,
# then itself, and never a later main stage (cutover and egress never switch on STRICT).
STAGES = (
    Stage("preflight", "preflight", "Preflight checks", writes=False),
    Stage("install", "istio_install", "Istio installed"),
    Stage("inject", "sidecar_injection", "Workloads injected"),
    Stage("ingress", "ingress_gateway", "Ingress gateways serving"),
    Stage("strict", "mesh_policy", "STRICT mutual TLS"),
    Stage("cutover", "ingress_gateway", "Ingresses retired", after="ingress"),
    Stage("egress", "egress", "Egress policy set", after="ingress"),
)
NAMES = tuple(stage.name for stage in STAGES)
MAIN_STAGES = tuple(stage.name for stage in STAGES if not stage.side)
SIDE_STAGES = tuple(stage.name for stage in STAGES if stage.side)
WRITING_STAGES = tuple(stage.name for stage in STAGES if stage.writes)


def named(name):
    """The Stage called `name`; ValueError naming the stages when there is none."""
    for stage in STAGES:
        if stage.name == name:
            return stage
    raise ValueError("stage {0!r} is not one of {1}".format(name, ", ".join(NAMES)))


def covered_stages(name):
    """The stages a successful run to stage `name` completes, in the order it runs them."""
    stage = named(name)
    last = stage.after or stage.name
    main = list(MAIN_STAGES[:MAIN_STAGES.index(last) + 1])
    return main + [stage.name] if stage.side else main


def as_dicts():
    """Every stage as plain data, with `runs`: the stages a run to it completes."""
    return [{"name": stage.name, "role": stage.role, "label": stage.label, "writes": stage.writes,
             "side": stage.side, "after": stage.after, "runs": covered_stages(stage.name)} for stage in STAGES]


def awx_workflow_nodes(names, prefix, organization, approve=(), approval_timeout=86400):
    """The nodes of an AWX workflow that runs the job templates `<prefix>: <stage>` of the stages
    `names` one after the other, each on the success of the one before, with an approval node
    before each stage in `approve` (awx.awx.workflow_job_template's `workflow_nodes`)."""
    if not isinstance(approve, (list, tuple)) or not all(isinstance(name, str) for name in approve):
        raise ValueError("approve must be a list of stage names, not {0!r}".format(approve))
    ordered = [stage.name for stage in STAGES if stage.name in names]
    unknown = sorted(set(names) - set(ordered)) or sorted(set(approve) - set(ordered))
    if unknown:
        raise ValueError("stage {0!r} is not one of {1}".format(unknown[0], ", ".join(NAMES)))
    nodes = []
    for index, name in enumerate(ordered):
        if name in approve:
            before = ordered[index - 1] if index else None
            nodes.append({"identifier": "approve-" + name, "unified_job_template": {
                "name": "{0}: approve {1}".format(prefix, named(name).label),
                "description": "Read the adoption reports of the {0} run before approving {1}.".format(
                    before, named(name).label) if before else "Approve {0}.".format(named(name).label),
                "type": "workflow_approval", "timeout": approval_timeout},
                "related": {"success_nodes": [{"identifier": name}]}})
        node = {"identifier": name, "unified_job_template": {
            "name": "{0}: {1}".format(prefix, name), "type": "job_template", "organization": {"name": organization}}}
        if index + 1 < len(ordered):
            following = ordered[index + 1]
            node["related"] = {"success_nodes": [{"identifier": ("approve-" if following in approve else "") + following}]}
        nodes.append(node)
    return nodes
