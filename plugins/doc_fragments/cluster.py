# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """Options shared by every module that talks to a cluster."""

    DOCUMENTATION = r"""
options:
  request_timeout:
    description:
      - Seconds each request to the Kubernetes API may take to connect and, separately, to answer.
      - A cluster that does not answer in time fails the task with a message naming the cluster
        and the timeout; a read that times out is never taken as an empty answer.
      - A request that timed out is not retried, so a silent API server costs about this long
        per module, not a multiple of it.
    type: float
    default: 30
notes:
  - Fails closed - a read that fails for any reason other than NotFound (403, timeout, a broken
    connection) fails the task, naming the cluster, the resource and the API server's reason.
  - A task that fails after some of its writes went through still returns C(changed=true),
    C(written) (each C(Kind namespace/name) the API server accepted) and, where known,
    C(not_written). Policies are written before the routes they guard.
  - A O(kubeconfig) given as a dictionary is used as is; only its credentials (tokens, keys,
    passwords) are hidden from the output, not every value in it.
"""
