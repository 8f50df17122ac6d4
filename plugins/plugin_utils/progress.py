# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Progress lines from long-running modules, shown while they run.

A module cannot print while it runs: Ansible shows its result when it returns. The modules that
wait (batched restarts, gateway readiness) append one line per step to the file named by their
`progress_file` option; this action plugin base creates that file, runs the module, and shows
each new line on the controller as it appears, prefixed with the cluster. The lines are few (one
per batch, or one per half-minute of waiting), so the output is not flooded.

Only when the module runs on the controller (ansible_connection local, as the adoption's cluster
modules do): elsewhere the file would be on another machine, and the module runs without it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import tempfile
import threading

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

display = Display()


def read_new_lines(path, position):
    """(complete lines written after `position`, the new position)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(position)
            data = handle.read()
    except OSError:
        return [], position
    end = data.rfind(b"\n")
    if end < 0:
        return [], position
    return data[:end].decode("utf-8", "replace").splitlines(), position + end + 1


class ProgressAction(ActionBase):
    """Runs the module of the same name, showing the lines it writes to `progress_file`."""

    POLL_SECONDS = 1.0
    _supports_async = True
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super(ProgressAction, self).run(tmp, task_vars)
        args = dict(self._task.args)
        local = getattr(self._connection, "transport", None) == "local" or \
            getattr(self._play_context, "connection", None) == "local"
        if not local or args.get("progress_file") or self._task.async_val:
            # Elsewhere, or as an async job that returns at once: the module runs as it is.
            result.update(self._execute_module(module_name=self._task.resolved_action, module_args=args,
                                               task_vars=task_vars, wrap_async=self._task.async_val))
            return result
        handle, path = tempfile.mkstemp(prefix="adoptmesh-progress-")
        os.close(handle)
        args["progress_file"] = path
        host = (task_vars or {}).get("inventory_hostname", "")
        stop = threading.Event()
        tail = threading.Thread(target=self._show, args=(path, host, stop))
        tail.daemon = True
        tail.start()
        try:
            result.update(self._execute_module(module_name=self._task.resolved_action, module_args=args,
                                               task_vars=task_vars))
        finally:
            stop.set()
            tail.join(10)
            os.unlink(path)
        result.get("invocation", {}).get("module_args", {}).pop("progress_file", None)
        return result

    def _show(self, path, host, stop):
        position = 0
        while True:
            finished = stop.wait(self.POLL_SECONDS)
            lines, position = read_new_lines(path, position)
            for line in lines:
                display.display("[{0}] {1}".format(host, line))
            if finished:
                return
