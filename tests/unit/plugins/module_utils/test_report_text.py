"""report_text.py, judged by a CommonMark renderer (markdown-it-py, with raw HTML on as CommonMark
has it): whatever the data, it renders as exactly its own text, in the place it was put."""

import html

from hypothesis import given, settings, strategies as st
from markdown_it import MarkdownIt

from ansible_collections.adoptmesh.istio.plugins.module_utils.report_text import MAX_FIELD, md_block, md_code, md_text

RENDERER = MarkdownIt("commonmark", {"html": True}).enable("table")
HOSTILE = ["<img src=x onerror=alert(1)>", "```\n# heading\n```", "</code><script>alert(1)</script>",
           "[click](javascript:alert(1))", "| a | b |\n|---|---|", "*bold* _it_ ~~x~~", "&lt;b&gt; &amp;",
           "- item\n1. item", "`a``b`", "\\`", "line\r\nbreak\u2028x", "<!-- c -->", "![i](x.png)", "# h",
           "---", "> quote", "    indented", "a\\", "<https://example.com>", "=====", "\x00\x07", ""]
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60) | st.sampled_from(HOSTILE)


def one_line(value):
    """The value as md_text shows it: control characters replaced, line breaks as spaces."""
    import re
    value = re.sub(r"[\x00-\x08\x0e-\x1f\x7f]", "\ufffd", value)
    return re.sub(r"[\r\n\u2028\u2029\x0b\x0c\x85]+", " ", value)


def visible(value):
    """What CommonMark shows for plain text: leading and trailing spaces dropped, NUL replaced."""
    return one_line(value).strip(" ").replace("\x00", "\ufffd")


@settings(max_examples=600, deadline=None)
@given(TEXT)
def test_text_renders_as_exactly_itself_in_a_paragraph(value):
    rendered = RENDERER.render("Value: " + md_text(value) + " end.")
    expected = "<p>Value: " + html.escape(one_line(value), quote=False).replace('"', "&quot;") + " end.</p>\n"
    assert rendered == expected


@settings(max_examples=600, deadline=None)
@given(TEXT, TEXT)
def test_a_table_cell_holds_exactly_its_value(first, second):
    rendered = RENDERER.render("| A | B |\n|---|---|\n| " + md_text(first) + " | " + md_code(second, cell=True) + " |\n")
    cells = rendered.split("<tbody>")[1]
    assert cells.count("<td>") == 2 and "<script" not in cells and "<img" not in cells
    assert "<td>" + html.escape(one_line(first).strip(), quote=False).replace('"', "&quot;") + "</td>" in cells


@settings(max_examples=600, deadline=None)
@given(TEXT)
def test_inline_code_holds_the_value_verbatim(value):
    rendered = RENDERER.render("See " + md_code(value) + " here.")
    assert rendered.startswith("<p>See ") and rendered.endswith(" here.</p>\n")
    assert rendered.count("<code>") == 1 and "<script" not in rendered and "<img" not in rendered


@settings(max_examples=600, deadline=None)
@given(st.text(max_size=200) | st.sampled_from(HOSTILE))
def test_a_code_block_cannot_be_closed_by_its_value(value):
    rendered = RENDERER.render("Before\n\n" + md_block(value) + "\n\nAfter\n")
    assert rendered.startswith("<p>Before</p>\n<pre><code class=\"language-text\">")
    assert rendered.endswith("</code></pre>\n<p>After</p>\n")
    assert rendered.count("<pre>") == 1


def test_long_values_are_cut_and_anything_becomes_text():
    assert len(md_text("x" * (MAX_FIELD * 3))) == MAX_FIELD + 1
    assert md_text(None) == "" and md_text(12) == "12" and md_text(["<a>"]) == "\\['&lt;a\\>'\\]"
