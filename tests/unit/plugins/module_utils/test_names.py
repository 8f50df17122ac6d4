import pytest
from hypothesis import given, strategies as st

from ansible_collections.adoptmesh.istio.plugins.module_utils import names


@pytest.mark.parametrize("value,valid", [
    ("web", True), ("a", True), ("web-1", True), ("1web", True), ("a" * 63, True),
    ("", False), ("-web", False), ("web-", False), ("Web", False), ("web.shop", False),
    ("a" * 64, False), ("web_1", False), (None, False), (7, False),
])
def test_dns1123_label(value, valid):
    assert names.is_dns1123_label(value) is valid


@pytest.mark.parametrize("value,valid", [
    ("web.shop", True), ("a.b.c", True), ("web", True),
    ("web..shop", False), (".web", False), ("web.", False), ("WEB.shop", False),
    ("a" * 254, False),
])
def test_dns1123_subdomain(value, valid):
    assert names.is_dns1123_subdomain(value) is valid


def test_stable_name_keeps_lossy_sanitising_apart():
    # `a-b.com` and `a.b.com` sanitise alike; the hash of the exact host must tell them apart.
    first = names.stable_name("a-b.com")
    second = names.stable_name("a.b.com")
    assert first.startswith("a-b-com-") and second.startswith("a-b-com-")
    assert first != second


def test_wildcard_and_apex_hosts_get_different_names():
    wildcard = names.stable_name(names.host_name_part("*.example.com"), exact="*.example.com")
    apex = names.stable_name(names.host_name_part("example.com"), exact="example.com")
    assert wildcard.startswith("wildcard-example-com-")
    assert apex.startswith("example-com-")
    assert wildcard != apex


def test_stable_name_is_deterministic_and_bounded():
    long_host = "very-" * 30 + "long.example.com"
    name = names.stable_name(long_host, max_length=40)
    assert name == names.stable_name(long_host, max_length=40)
    assert len(name) <= 40 and names.is_dns1123_label(name)


def test_stable_name_with_nothing_readable_is_the_hash():
    assert names.stable_name("***") == names.short_hash("***")


@given(st.text(min_size=1, max_size=300), st.text(max_size=20), st.integers(min_value=12, max_value=63))
def test_stable_name_is_always_a_valid_label(text, prefix, max_length):
    name = names.stable_name(text, prefix=prefix, max_length=max_length)
    assert names.is_dns1123_label(name)
    assert len(name) <= max_length


@given(st.lists(st.text(min_size=1, max_size=40), min_size=2, max_size=40, unique=True))
def test_stable_names_of_distinct_inputs_do_not_collide(texts):
    generated = [names.stable_name(text) for text in texts]
    assert len(set(generated)) == len(generated)


@pytest.mark.parametrize("obj,ref", [
    ({"metadata": {"namespace": "shop", "name": "web"}}, "shop/web"),
    ({"metadata": {"name": "istio-system"}}, "istio-system"),
    ({"metadata": {"namespace": "shop"}}, "shop/<unnamed>"),
    ({}, "<object without metadata>"),
    ("not an object", "<object without metadata>"),
])
def test_object_ref(obj, ref):
    assert names.object_ref(obj) == ref


@pytest.mark.parametrize("name", ["prod-eu-1", "cluster_a", "k8s.example.com", "admin@prod", "10.0.0.1:6443", "A1"])
def test_inventory_host_names_are_file_names(name):
    assert names.file_name_problem(name) is None


@pytest.mark.parametrize("name,problem", [
    ("../x", "cannot be a file name"), ("a/b", "cannot be a file name"), ("..", "cannot be a file name"),
    (".hidden", "cannot be a file name"), ("-rf", "cannot be a file name"), ("a\\b", "cannot be a file name"),
    ("a\nb", "cannot be a file name"), ("a..b", "cannot be a file name"), ("", "is empty"),
    ("x" * 201, "201 characters long"), (None, "is a NoneType"), (["a"], "is a list"),
])
def test_names_that_would_leave_their_folder_are_refused(name, problem):
    assert problem in names.file_name_problem(name)
