"""Type mutations of schema-valid objects, for the fuzzers: the same object with values at any
depth replaced by a value of another type (a string where an object belongs, a list, None, NaN,
infinities, huge numbers, deep nesting, an empty container)."""

from hypothesis import strategies as st


class Deep(dict):
    """Nesting past Python's recursion limit, printed short: Hypothesis's own printer recurses
    and would fail on it when it reports an example."""

    def __repr__(self):
        return "Deep(...)"

    def _repr_pretty_(self, printer, cycle):
        printer.text(repr(self))


class DeepList(list):
    def __repr__(self):
        return "DeepList(...)"

    def _repr_pretty_(self, printer, cycle):
        printer.text(repr(self))


def deep(depth):
    value = {"x": "end"}
    for dummy in range(depth):
        value = {"x": value}
    return Deep(value)


def deep_list(depth):
    value = ["end"]
    for dummy in range(depth):
        value = [value]
    return DeepList(value)


MUTANTS = st.one_of(
    st.sampled_from([None, "", "x", "<b>", "0", "-1", "80", "true", [], {}, [None], {"": None}, True, False, 0, -1,
                     2 ** 31, 2 ** 63, 10 ** 400, -(10 ** 400), 0.5, float("nan"), float("inf"), float("-inf"),
                     ["a", "b"], [{}], [[]], {"a": []}, {"name": {}}, "\x00", "\ud800x", "a" * 10000]),
    st.integers(min_value=1, max_value=3).map(lambda n: deep(400 * n)),  # Python's recursion limit is 1000
    st.integers(min_value=1, max_value=3).map(lambda n: deep_list(400 * n)),
    st.text(max_size=8), st.integers(), st.floats(),
)


# Places deeper than this are not mutated again (a deep mutant is already as deep as it gets).
MAX_DEPTH = 40


def paths(value):
    """Every place in a JSON-like value: the root and each dict key and list index below it. A
    tuple stands for a function's arguments: only what is inside each argument is a place."""
    found = []
    pending = [(value, ())]
    while pending:
        item, prefix = pending.pop()
        if not (isinstance(value, tuple) and len(prefix) < 2):
            found.append(prefix)
        if len(prefix) >= MAX_DEPTH:
            continue
        if isinstance(item, (Deep, DeepList)):
            continue  # already as deep as it gets; its inside is not mutated again
        if isinstance(item, dict):
            pending.extend((child, prefix + (key,)) for key, child in item.items())
        elif isinstance(item, (list, tuple)):
            pending.extend((child, prefix + (index,)) for index, child in enumerate(item))
    return sorted(found, key=repr)


def replaced(value, path, new):
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        copy = dict(value)
        copy[head] = replaced(value[head], rest, new)
        return copy
    copy = list(value)
    copy[head] = replaced(value[head], rest, new)
    return tuple(copy) if isinstance(value, tuple) else copy


@st.composite
def mutated(draw, base):
    """`base` (a strategy of valid objects) with one to three of its values, anywhere, replaced."""
    value = draw(base)
    for dummy in range(draw(st.integers(min_value=1, max_value=3))):
        places = paths(value)
        if not places:
            break
        where = places[draw(st.integers(min_value=0, max_value=len(places) - 1))]
        value = replaced(value, where, draw(MUTANTS))
    return value
