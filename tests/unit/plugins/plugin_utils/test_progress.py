"""Progress lines are shown whole, once each, however the module's writes are split."""

from ansible_collections.adoptmesh.istio.plugins.module_utils.waiter import elapsed_text, progress_writer
from ansible_collections.adoptmesh.istio.plugins.plugin_utils.progress import read_new_lines


def test_only_complete_lines_are_read_and_each_once(tmp_path):
    path = str(tmp_path / "progress")
    with open(path, "w") as handle:
        handle.write("batch 1/3: 5 workloads\nbatch 2/3: 5 wor")
    lines, position = read_new_lines(path, 0)
    assert lines == ["batch 1/3: 5 workloads"]
    assert read_new_lines(path, position) == ([], position)
    with open(path, "a") as handle:
        handle.write("kloads\n")
    lines, position = read_new_lines(path, position)
    assert lines == ["batch 2/3: 5 workloads"]


def test_the_writer_keeps_one_line_per_call_and_never_fails(tmp_path):
    path = str(tmp_path / "progress")
    write = progress_writer(path)
    write("waiting for 1 of 2 gateways:\nistio-ingress/a not ready")
    assert open(path).read() == "waiting for 1 of 2 gateways: istio-ingress/a not ready\n"
    progress_writer(None)("nothing happens")
    progress_writer(str(tmp_path / "missing" / "folder"))("dropped, not raised")
    assert read_new_lines(str(tmp_path / "absent"), 0) == ([], 0)


def test_elapsed_time_reads_as_people_say_it():
    assert elapsed_text(4.4) == "4 s" and elapsed_text(75) == "1 min 15 s" and elapsed_text(3600) == "60 min 00 s"
