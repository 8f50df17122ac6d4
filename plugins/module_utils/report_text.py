# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Data written into the Markdown reports, escaped for where it goes.

Everything a report shows comes from a cluster or a user: an annotation value, a logged path, a
stage name from a ConfigMap, an error text. In Markdown each lands as inline text, a table cell,
inline code or a code block, and none of it may open HTML, close a fence or a cell, start a
heading or a list, or make a link. No Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

# Characters that can open inline markup anywhere (emphasis, code, links, tables, strikethrough),
# escaped with a backslash as CommonMark allows for any ASCII punctuation; `<` and `&` become
# entities. Characters that open a block only at the start of a line are escaped there.
_MARKUP = re.compile(r"([\\`*_\[\]|~>])")
_LINE_START = re.compile(r"^(\s*\d*)([#+\-=.)])")
_NEWLINES = re.compile(r"[\r\n\u2028\u2029\x0b\x0c\x85]+")
_BACKTICKS = re.compile(r"`+")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
# Long enough for any real message, short enough that one field cannot swamp a report.
MAX_FIELD = 4000


def _plain(value):
    if value is None:
        return ""
    try:
        text = value if isinstance(value, str) else str(value)
    except RecursionError:
        text = "<nested too deeply to show>"
    text = _CONTROL.sub("\ufffd", text)
    return text if len(text) <= MAX_FIELD else text[:MAX_FIELD] + "\u2026"


def md_text(value):
    """Inline Markdown text that reads as the value and nothing else: one line, markup escaped,
    `<` and `&` as entities (no raw HTML, no entity from data). `|` is escaped too, so it is also
    what a table cell takes."""
    text = _NEWLINES.sub(" ", _plain(value))
    text = text.replace("&", "&amp;").replace("<", "&lt;")
    text = _MARKUP.sub(r"\\\1", text)
    return _LINE_START.sub(lambda match: match.group(1) + "\\" + match.group(2), text)


def md_code(value, cell=False):
    """Inline code: the value verbatim on one line, in a backtick run longer than any inside it.
    In a table cell (`cell`), `|` is escaped too: GFM splits the row before it reads code."""
    text = _NEWLINES.sub(" ", _plain(value))
    longest = max([len(run) for run in _BACKTICKS.findall(text)] or [0])
    fence = "`" * (longest + 1)
    padding = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    # A table cell would still end at `|` inside code (GFM splits the row first).
    return "{0}{1}{2}{1}{0}".format(fence, padding, text.replace("|", "\\|") if cell else text)


def md_block(value):
    """A fenced code block holding the value verbatim: its fence is longer than any backtick run
    in the value, so no line of it can close the block."""
    text = _plain(value).replace("\r\n", "\n").replace("\r", "\n")
    longest = max([len(run) for run in _BACKTICKS.findall(text)] or [0])
    fence = "`" * max(3, longest + 1)
    return "{0}text\n{1}\n{0}".format(fence, text)
