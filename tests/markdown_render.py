"""Markdown rendered the way a reader meets it (python-markdown as mkdocs runs it, markdown-it-py's
CommonMark with GFM tables where it is installed) and read back as a tree of HTML elements, for
the report tests."""

from __future__ import annotations

from html.parser import HTMLParser

import markdown

VOID_TAGS = {"img", "br", "hr", "input", "meta", "link", "source", "wbr", "area", "embed"}

# python-markdown's extensions in mkdocs.yml (the pymdownx ones come with the docs extra)
MKDOCS_EXTENSIONS = ["admonition", "attr_list", "md_in_html", "tables", "toc",
                     "pymdownx.details", "pymdownx.highlight", "pymdownx.inlinehilite",
                     "pymdownx.superfences"]


def _renderers():
    """python-markdown as the mkdocs site runs it, and markdown-it-py's CommonMark with GFM
    tables and strikethrough (what GitHub shows) where it is installed."""
    try:
        import pymdownx  # noqa: F401
        extensions = MKDOCS_EXTENSIONS
    except ImportError:
        extensions = [name for name in MKDOCS_EXTENSIONS if "." not in name]
    renderers = {"python-markdown": lambda text: markdown.markdown(text, extensions=extensions)}
    try:
        from markdown_it import MarkdownIt
    except ImportError:
        return renderers
    commonmark = MarkdownIt("commonmark").enable("table").enable("strikethrough")
    renderers["commonmark-gfm"] = commonmark.render
    return renderers


RENDERERS = _renderers()


class Element:
    """An HTML element: tag, attributes, children (elements and text, in order)."""

    def __init__(self, tag: str, attrs: dict[str, str | None]):
        self.tag, self.attrs, self.children = tag, attrs, []

    def iter(self, *tags: str):
        for child in self.children:
            if isinstance(child, Element):
                if not tags or child.tag in tags:
                    yield child
                yield from child.iter(*tags)

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def words(self) -> str:
        return " ".join(self.text().split())

    def shape(self) -> list[str]:
        """The tags of the elements below, in document order."""
        return [element.tag for element in self.iter()]


class _TreeBuilder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)  # "&lt;" reads as "<", as a reader sees it
        self.root = Element("root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        element = Element(tag, dict(attrs))
        self.stack[-1].children.append(element)
        if tag not in VOID_TAGS:
            self.stack.append(element)

    def handle_startendtag(self, tag, attrs):
        self.stack[-1].children.append(Element(tag, dict(attrs)))

    def handle_endtag(self, tag):
        if tag in VOID_TAGS:
            return
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data):
        self.stack[-1].children.append(data)

    def handle_comment(self, data):
        raise AssertionError(f"an HTML comment in the output: {data!r}")


def parse(html: str) -> Element:
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root
