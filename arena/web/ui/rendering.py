"""Untrusted text (prompts, answers) as the HTML the chat columns show.

Three steps, each enough on its own to keep markup out of the page:
1. A real CommonMark parser (markdown-it-py, "commonmark" preset plus GFM tables and
   strikethrough) with raw HTML *off*: every `<tag>`, comment or entity trick is text to it, so
   what the parser sees is exactly what is escaped; no regex guesses where code starts.
2. The parsed tokens are rewritten before rendering:
   - a link is kept only for an absolute `http:`, `https:` or `mailto:` URL (anything else,
     `javascript:`, `data:`, `vbscript:`, `file:`, relative paths, stays visible as text);
     every link gets `rel="noopener noreferrer nofollow"` and `target="_blank"`;
   - an image is never an `<img>`: the viewer's browser must not call another host because a
     prompt or an answer says so. It becomes a link `image: <alt text>` to its URL (clicking
     is the rater's choice), or plain text when it sits inside a link or its URL is not an
     allowed link.
3. nh3 (the ammonia allow-list sanitiser) cleans the HTML again with a short list of tags and
   attributes, forcing the same `rel` and `target`.

The page's Content-Security-Policy (`arena.web.security_headers`) is a further line behind
these. A reply still streaming re-renders in full on each update: an unclosed code fence is
code to the end of the text, as CommonMark reads it. Finished messages come from a cache.
"""

from __future__ import annotations

import html
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token

LINK_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "noopener noreferrer nofollow"
LINK_TARGET = "_blank"
# What CommonMark + tables + strikethrough can produce; nothing else survives nh3.
ALLOWED_TAGS = frozenset({
    "p", "br", "hr", "em", "strong", "s", "del", "code", "pre", "blockquote",
    "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "a",
    "table", "thead", "tbody", "tr", "th", "td",
})
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "ol": {"start"},
    "th": {"style"},  # column alignment only: style properties are filtered to text-align
    "td": {"style"},
}
# Memory bound of the cache of rendered texts (entries; each a few KB at most).
CACHE_ENTRIES = 4096


def is_allowed_link(url: str) -> bool:
    """True when `url` (as markdown-it normalised it) is absolute http, https or mailto."""
    scheme, colon, rest = url.partition(":")
    if not colon or not rest or not scheme.isascii() or not scheme.isalpha():
        return False
    return scheme.lower() in LINK_SCHEMES


def _link_tokens(href: str, label: str) -> list[Token]:
    opening = Token("link_open", "a", 1)
    opening.attrs = {"href": href, "rel": LINK_REL, "target": LINK_TARGET}
    closing = Token("link_close", "a", -1)
    return [opening, _text_token(label), closing]


def _text_token(text: str) -> Token:
    token = Token("text", "", 0)
    token.content = text
    return token


def _image_replacement(image: Token, inside_link: bool) -> list[Token]:
    """What an image token becomes: a link to its URL, or text inside another link."""
    src = str(image.attrGet("src") or "")
    alt = image.content.strip()
    label = f"image: {alt}" if alt else f"image: {src}"
    if inside_link or not is_allowed_link(src):
        return [_text_token(f"[{label}]")]
    return _link_tokens(src, label)


def _rewrite_inline(children: list[Token]) -> list[Token]:
    rewritten: list[Token] = []
    depth = 0  # how many links the current token sits in
    for token in children:
        if token.type == "image":
            rewritten.extend(_image_replacement(token, inside_link=depth > 0))
            continue
        if token.type == "link_open":
            depth += 1
            token.attrSet("rel", LINK_REL)
            token.attrSet("target", LINK_TARGET)
        elif token.type == "link_close":
            depth -= 1
        rewritten.append(token)
    return rewritten


def _links_and_images(state: StateCore) -> None:
    """Core rule after inline parsing: images to links or text, attributes on every link."""
    for block in state.tokens:
        if block.type == "inline" and block.children:
            block.children = _rewrite_inline(block.children)


def build_parser() -> MarkdownIt:
    """The arena's Markdown parser: CommonMark, raw HTML off, GFM tables and strikethrough,
    single newlines as line breaks (as chat text means them), links and images rewritten."""
    parser = MarkdownIt("commonmark", {"html": False, "breaks": True, "linkify": False})
    parser.enable(["table", "strikethrough"])
    parser.validateLink = is_allowed_link
    parser.core.ruler.push("arena_links_and_images", _links_and_images)
    return parser


_PARSER = build_parser()


def sanitize(fragment: str) -> str:
    """nh3's allow-list pass over HTML we produced: only `ALLOWED_TAGS`, links only to
    `LINK_SCHEMES`, each with `rel` and `target` forced, no comments."""
    return nh3.clean(
        fragment,
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(LINK_SCHEMES),
        url_relative="deny",
        link_rel=LINK_REL,
        set_tag_attribute_values={"a": {"target": LINK_TARGET}},
        filter_style_properties={"text-align"},
        strip_comments=True,
    )


@lru_cache(maxsize=CACHE_ENTRIES)
def render_markdown(text: str) -> str:
    """`text` (untrusted Markdown) as sanitised HTML: see the module docstring for the rules."""
    return sanitize(_PARSER.render(text))


def render_note(text: str) -> str:
    """A server note under a message (e.g. why an answer stopped) as an italic paragraph of
    plain text: no Markdown, every character shown as is."""
    return sanitize(f"<p><em>⚠️ {html.escape(text)}</em></p>")
