"""Comment Markdown → safe HTML: a small subset, rendered by markdown-it-py, cleaned by nh3.

Two independent walls, so that one library's bug is not an XSS:
1. markdown-it-py (CommonMark) with raw HTML off and only the subset we show
   enabled: paragraphs, emphasis, inline code and code blocks, links
   (markdown-it refuses javascript:/vbscript:/data: targets), lists, block
   quotes, line breaks. Images, headings, tables and raw HTML are not parsed:
   they stay as text. "Inline math" ($x^2$) is plain text too.
2. nh3 (the Rust ammonia sanitiser) keeps only the tags above, `href` on
   links with an http(s) or mailto scheme, and adds rel="nofollow noopener ugc".
The page's CSP (no inline script) is a third wall.

The HTML is made once, when a comment is written or edited, and stored with
the comment (`comments.body_html`, with `comments.html_version` = VERSION):
rendering costs ~0.3 CPU-ms a comment, 60 ms for a 200-comment discussion,
paid on every view the process cache missed (each worker, after each restart,
every discussion past the cache's 4,096 bodies). Only `render` below makes
that column's values, so stored HTML has passed nh3 like HTML made on read.
Changing the subset or the sanitiser's rules means bumping VERSION: rows of an
older version are rendered on read (cached by source) until
`comments.render_stale` rewrites them.
"""

from __future__ import annotations

import functools
import html

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

# Bump when the Markdown subset or the sanitiser's rules change (see the docstring).
VERSION = 1
TAGS = {"p", "br", "em", "strong", "code", "pre", "a", "ul", "ol", "li", "blockquote", "del"}
_md = (
    MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    .disable(["image", "heading", "lheading", "html_block", "html_inline", "hr", "reference"])
    .enable(["strikethrough"])
)


def _only_href(tag: str, attribute: str, value: str) -> str | None:
    return value if tag == "a" and attribute in ("href", "rel") else None


@functools.lru_cache(maxsize=4_096)
def render(source: str) -> Markup:
    """The safe HTML of one comment's Markdown."""
    html = _md.render(source or "")
    clean = nh3.clean(
        html,
        tags=TAGS,
        attributes={"a": {"href"}},
        # ammonia also keeps lang/title everywhere: only href survives here.
        attribute_filter=_only_href,
        url_schemes={"http", "https", "mailto"},
        link_rel="nofollow noopener ugc",
        strip_comments=True,
    )
    return Markup(clean)  # noqa: S704 - sanitised by nh3 just above


def excerpt(source: str, limit: int = 280) -> str:
    """Plain text of a comment, cut at `limit` characters (emails, feed titles)."""
    text = html.unescape(" ".join(nh3.clean(_md.render(source or ""), tags=set()).split()))
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"
