"""waiter.py: one clock, progress lines, back-off, and no waiting in check mode."""

from ansible_collections.adoptmesh.istio.plugins.module_utils.waiter import Waiter, elapsed_text


class Clock:
    def __init__(self):
        self.now = 100.0
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def answers(*states):
    """A poll answering each state in turn, then the last one for ever."""
    states = list(states)

    def poll():
        return states.pop(0) if len(states) > 1 else states[0]
    return poll


def test_the_wait_ends_when_nothing_is_waiting():
    clock = Clock()
    waited = Waiter(60, "gateways", clock=clock, sleep=clock.sleep).wait(answers({"a": "0/1"}, {"a": "0/1"}, {}))
    assert waited.done and not waited.timed_out and waited.polls == 3 and clock.slept == [2.0, 2.0]


def test_the_wait_times_out_with_what_is_still_waiting_and_never_sleeps_past_its_deadline():
    clock = Clock()
    waited = Waiter(5, "gateways", clock=clock, sleep=clock.sleep).wait(answers({"a": "no pods"}))
    assert waited.timed_out and waited.waiting == {"a": "no pods"} and waited.elapsed == 5.0
    assert clock.slept == [2.0, 2.0, 1.0]


def test_in_check_mode_it_polls_once_and_reports():
    clock = Clock()
    waiter = Waiter.for_check_mode(True, 300, "gateways", clock=clock, sleep=clock.sleep)
    waited = waiter.wait(answers({"a": "not installed"}))
    assert waited.polls == 1 and not waited.timed_out and waited.waiting == {"a": "not installed"} and clock.slept == []


def test_a_line_when_the_wait_starts_then_one_each_half_minute():
    clock, lines = Clock(), []
    Waiter(65, "gateways", progress=lines.append, clock=clock, sleep=clock.sleep, interval=5).wait(
        answers({"ns/a": "0/2 ready", "ns/b": "pulling"}), total=3)
    assert lines == ["waiting for 2 of 3 gateways, 0 s so far: ns/a 0/2 ready; ns/b pulling",
                     "waiting for 2 of 3 gateways, 30 s so far: ns/a 0/2 ready; ns/b pulling",
                     "waiting for 2 of 3 gateways, 1 min 00 s so far: ns/a 0/2 ready; ns/b pulling"]


def test_pauses_start_short_and_double_up_to_the_interval():
    clock = Clock()
    Waiter(3, "workloads", clock=clock, sleep=clock.sleep, interval=0.5, first_interval=0.125).wait(
        answers({"w": "rolling out"}, {"w": "rolling out"}, {"w": "rolling out"}, {"w": "rolling out"}, {}))
    assert clock.slept == [0.125, 0.25, 0.5, 0.5]


def test_failure_texts_name_each_waiting_object():
    assert Waiter.describe({"b": "two", "a": "one"}, "gateway") == "gateway a: one; gateway b: two"
    assert elapsed_text(3) == "3 s" and elapsed_text(184) == "3 min 04 s"
