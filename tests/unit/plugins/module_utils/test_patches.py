from ansible_collections.adoptmesh.istio.plugins.module_utils.patches import strategic_merge_patch


def test_equal_objects_need_no_patch():
    assert strategic_merge_patch({"a": 1}, {"a": 1}) is None


def test_swapping_a_probe_handler_nulls_the_old_one_and_names_the_container():
    before = {"spec": {"template": {"spec": {"containers": [
        {"name": "web", "image": "x", "readinessProbe": {"httpGet": {"port": 80}, "periodSeconds": 5}},
        {"name": "sidecar", "image": "y"}]}}}}
    after = {"spec": {"template": {"spec": {"containers": [
        {"name": "web", "image": "x", "readinessProbe": {"exec": {"command": ["true"]}, "periodSeconds": 5}},
        {"name": "sidecar", "image": "y"}]}}}}
    assert strategic_merge_patch(before, after) == {"spec": {"template": {"spec": {"containers": [
        {"name": "web", "readinessProbe": {"exec": {"command": ["true"]}, "httpGet": None}}]}}}}


def test_lists_without_a_merge_key_are_replaced_whole():
    assert strategic_merge_patch({"args": ["a", "b"]}, {"args": ["a"]}) == {"args": ["a"]}
    assert strategic_merge_patch({"containers": [{"name": "a"}]}, {"containers": [{"name": "b"}]}) == {
        "containers": [{"name": "b"}]}


def test_annotations_added_and_removed():
    assert strategic_merge_patch({"metadata": {"annotations": {"x": "1", "y": "2"}}},
                                 {"metadata": {"annotations": {"x": "1", "z": "3"}}}) == {
        "metadata": {"annotations": {"y": None, "z": "3"}}}
