# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every wait of the collection: gateways, the sidecar injector, certificates and rollouts.

A wait polls until nothing is waiting, or its time is up. One clock measures it, the same
progress lines show it (one when it starts waiting, then one each half-minute, so a long wait is
visible and a short one is silent), and in check mode nothing was written, so there is nothing to
wait for: the check-mode waiter polls once and reports. What "ready" means for each kind is the
poll's business (gateways.readiness, certificates.ready_condition, rollout.rollout_state, the
injector's dry-run pod). No Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

PROGRESS_EVERY = 30.0


def elapsed_text(seconds):
    """12 s, 3 min 04 s."""
    seconds = int(round(seconds))
    return "{0} s".format(seconds) if seconds < 60 else "{0} min {1:02d} s".format(seconds // 60, seconds % 60)


def progress_writer(path):
    """A function that appends a line to the progress file, or does nothing without one. A line
    that cannot be written is dropped: progress is for people watching, never a reason to fail."""
    def write(line):
        if not path:
            return
        try:
            with open(path, "a") as handle:
                handle.write(line.replace("\n", " ") + "\n")
        except OSError:
            pass
    return write


class Waited:
    """How a wait ended: `waiting` is what was still not ready ({} when all was), after `elapsed`
    seconds and `polls` polls; `timed_out` when the time ran out first."""

    __slots__ = ("waiting", "elapsed", "polls", "timed_out")

    def __init__(self, waiting, elapsed, polls, timed_out):
        self.waiting = waiting
        self.elapsed = elapsed
        self.polls = polls
        self.timed_out = timed_out

    @property
    def done(self):
        return not self.waiting


class Waiter:
    """Polls `poll()` -> {what: why it is not ready} until it answers {} or `timeout` seconds pass.

    `interval` is the pause between polls; with `first_interval` the pauses start shorter and
    double up to `interval` (a small rollout is often done in well under a second). `what` names
    the things waited for in the progress lines ("gateways"). A poll may answer {} to stop early
    (a rollout that failed: the caller knows why).
    """

    def __init__(self, timeout, what, progress=None, interval=2.0, first_interval=None, clock=time.monotonic,
                 sleep=time.sleep, enabled=True):
        self.timeout = timeout
        self.what = what
        self.progress = progress or (lambda line: None)
        self.interval = interval
        self.first_interval = first_interval or interval
        self.clock = clock
        self.sleep = sleep
        self.enabled = enabled

    @classmethod
    def for_check_mode(cls, check_mode, timeout, what, **options):
        """A waiter that does not wait in check mode: one poll, what it says is the answer."""
        return cls(timeout, what, enabled=not check_mode, **options)

    def wait(self, poll, total=None):
        started = self.clock()
        deadline = started + self.timeout
        pause, shown, polls = self.first_interval, None, 0
        while True:
            waiting = poll()
            polls += 1
            now = self.clock()
            if not waiting or not self.enabled:
                return Waited(waiting, now - started, polls, False)
            if now >= deadline:
                return Waited(waiting, now - started, polls, True)
            if shown is None or now - shown >= PROGRESS_EVERY:
                shown = now
                self.progress("waiting for {0}{1} {2}, {3} so far: {4}".format(
                    len(waiting), " of {0}".format(total) if total is not None else "", self.what,
                    elapsed_text(now - started), "; ".join("{0} {1}".format(ref, reason)
                                                           for ref, reason in sorted(waiting.items()))))
            self.sleep(min(pause, max(0.0, deadline - now)))
            pause = min(self.interval, pause * 2)

    @staticmethod
    def describe(waiting, label):
        """`label ref: reason; ...` for a failure message."""
        return "; ".join("{0} {1}: {2}".format(label, ref, reason) for ref, reason in sorted(waiting.items()))
