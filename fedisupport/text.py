"""Markdown to safe HTML, and sanitising of HTML that arrives from other servers."""
from __future__ import annotations

import functools
import re

import nh3
from markdown_it import MarkdownIt

# What we keep of anyone's HTML: enough for paragraphs, emphasis, links, lists, quotes and code.
# No images, no styles, no scripts, no iframes (see the security reference, row 9).
ALLOWED_TAGS = {
    "p", "br", "a", "span", "em", "strong", "b", "i", "u", "del", "s",
    "ul", "ol", "li", "blockquote", "code", "pre",
}
ALLOWED_ATTRIBUTES = {"a": {"href"}, "ol": {"start"}}
ALLOWED_CLASSES = {"span": {"mention", "hashtag", "h-card", "invisible", "ellipsis"}, "a": {"mention", "hashtag", "u-url"}}
URL_SCHEMES = {"http", "https"}
# Headings are written by people as emphasis; Mastodon turns them into <strong> too.
_HEADINGS = {f"h{n}" for n in range(1, 7)}


@functools.lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    # "js-default" is CommonMark with raw HTML disabled: what people type is text, not markup.
    return MarkdownIt("js-default", {"linkify": False, "breaks": True, "typographer": False}).disable("image")


# NUL and lone surrogates cannot be stored as UTF-8 text (PostgreSQL refuses NUL outright).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str) -> str:
    """Text with the characters no database column can hold removed."""
    return _UNSTORABLE.sub("", text)


def sanitize_html(html: str) -> str:
    """Reduce any HTML to the allow-list; links open safely and carry no referrer."""
    html = storable(html)
    for tag in _HEADINGS:
        html = html.replace(f"<{tag}>", "<p><strong>").replace(f"</{tag}>", "</strong></p>")
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        allowed_classes=ALLOWED_CLASSES,
        url_schemes=URL_SCHEMES,
        link_rel="nofollow noopener noreferrer ugc",
        strip_comments=True,
    )


def render_markdown(source: str) -> str:
    """Markdown written here, rendered and sanitised for storage and federation."""
    return sanitize_html(_markdown().render(source))


def plain_text(html: str) -> str:
    """Text of sanitised HTML, for titles, previews and matching."""
    return nh3.clean(html.replace("</p>", "</p>\n").replace("<br>", "\n"), tags=set()).strip()
