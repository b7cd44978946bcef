"""Escape data text (questions, contexts, answers, ids, overrides, error messages: anything read
from a data or run file) for the Markdown and CSV files the reports write.

The Markdown must show the text as written, and build nothing from it, on GitHub (CommonMark
with GFM tables and strikethrough) and in python-markdown as the mkdocs site runs it (tables,
attr_list, admonition, pymdownx.details): so only escapes both understand are used, a backslash
before punctuation python-markdown can escape (`Markdown.ESCAPED_CHARS`), an HTML entity for
the rest.

It lives in `analysis`, where the reports are written; `search` (the Optuna trials table) is a
layer above `analysis` and imports it from here.
"""

from __future__ import annotations

import html
import re
import unicodedata

# Inline Markdown anywhere in a line: code spans, emphasis, links and images ([...](...),
# ![...](...), [...][...], [^footnote]), attribute lists {: ...}. An `_` between letters or
# digits starts no emphasis, so it is left as it is (snake_case stays readable).
_BACKSLASHED = re.compile(r"[\\`*\[\]{}]|(?<![^\W_])_|_(?![^\W_])")
# Not backslash-escapable in python-markdown: `|` (a table cell) and `~` (GFM strikethrough);
# & < > go through html.escape.
_ENTITIES = {"|": "&#124;", "~": "&#126;"}
# Blocks that text starting a line would open (in a paragraph or a list item): a heading
# (python-markdown needs no space after `#`), an admonition (!!!), a list item or thematic
# break (- +), an ordered list item ("1986. It was", "1)"), a setext underline (=), details (???).
_LINE_START = re.compile(r"^(?:[#!]|[-+](?=[\s-]|$))")
_LIST_NUMBER = re.compile(r"^(\d{1,9})(?=[.)](?:\s|$))")
_LINE_START_ENTITIES = {"=": "&#61;", "?": "&#63;"}


def _spaces_for_controls(text: str) -> str:
    """Control characters (newlines, tabs, NUL, ESC, ...) and line/paragraph separators as
    spaces: a line break in data text would start a block (a heading, a table row)."""
    return "".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in text)


def markdown_text(text: object) -> str:
    """`text` as Markdown that shows it as written, on one line: for a table cell, a paragraph
    or a list item. Runs of whitespace become one space; emoji and right-to-left text are kept."""
    text = " ".join(_spaces_for_controls(str(text)).split())
    text = _BACKSLASHED.sub(r"\\\g<0>", text)
    text = _LIST_NUMBER.sub(r"\g<1>\\", _LINE_START.sub(r"\\\g<0>", text))
    text = html.escape(text, quote=False)  # no raw HTML; "&lt;" in the data stays "&lt;"
    text = "".join(_ENTITIES.get(c, c) for c in text)
    return _LINE_START_ENTITIES.get(text[:1], text[:1]) + text[1:]


def markdown_code(text: object, *, in_table: bool = False) -> str:
    """`text` as a code span (CommonMark): a fence of backticks longer than any run in it, and
    a space inside each end when the text is empty or starts or ends with a backtick, a space
    or a backslash. `in_table`: a `|` is escaped as GFM tables need (python-markdown then shows
    the backslash)."""
    text = _spaces_for_controls(str(text))
    if in_table:
        text = text.replace("|", "\\|")
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if not text or text[0] in "` " or text[-1] in "` \\" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def csv_cell(value: object) -> object:
    """A text `value` that a spreadsheet would run as a formula (it starts with = + - @, a tab
    or a carriage return) with a leading apostrophe; anything else unchanged."""
    if isinstance(value, str) and value.startswith(("=", "+", "-", "@", "\t", "\r")):
        return "'" + value
    return value
