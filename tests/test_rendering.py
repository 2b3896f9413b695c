"""The renderer of untrusted text, in-process (fast): every case of the injection corpus
(tests/data/injection/payloads.toml) comes out as HTML with only allowed tags, no script or
loading attribute, only http/https/mailto links each with the forced rel and target, and the
payload's words still readable. Then the rules one by one: images, links, code, tables,
streaming, and the Markdown-escaping of status lines. (tests/test_rendering_browser.py runs
the same corpus in Chromium against a real arena.)"""

from __future__ import annotations

import html.parser

import gradio as gr
import pytest
from fixtures.browser import InjectionCase, load_injection_cases

from arena.web.ui.panel import Message, chat_value
from arena.web.ui.rendering import ALLOWED_TAGS, LINK_REL, render_markdown
from arena.web.ui.text import markdown_text

CASES = load_injection_cases()


class Walked(html.parser.HTMLParser):
    """The tags, attributes and text of an HTML fragment, as a browser's parser sees them."""

    def __init__(self, fragment: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(fragment)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def handle_comment(self, data: str) -> None:
        self.tags.append(("<!--", {"data": data}))

    def links(self) -> list[dict[str, str | None]]:
        return [attrs for tag, attrs in self.tags if tag == "a"]


def test_the_corpus_has_at_least_thirty_distinct_cases() -> None:
    assert len(CASES) >= 30
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_a_payload_renders_as_inert_readable_html(case: InjectionCase) -> None:
    walked = Walked(render_markdown(case.payload))
    assert {tag for tag, _ in walked.tags} <= ALLOWED_TAGS
    for tag, attrs in walked.tags:
        assert not [name for name in attrs if name.startswith("on")], (tag, attrs)
        assert "src" not in attrs and "srcset" not in attrs, (tag, attrs)
        if "style" in attrs:
            assert tag in ("th", "td") and str(attrs["style"]).startswith("text-align:")
    for link in walked.links():
        assert str(link["href"]).split(":", 1)[0] in ("http", "https", "mailto"), link
        assert link["rel"] == LINK_REL and link["target"] == "_blank"
    text = "".join(walked.text)
    assert [word for word in case.visible if word not in text] == []


def test_a_remote_image_becomes_a_link_named_after_its_alt_text() -> None:
    walked = Walked(render_markdown("![a red cat](https://images.example/cat.png)"))
    assert [tag for tag, _ in walked.tags] == ["p", "a"]
    assert walked.links()[0]["href"] == "https://images.example/cat.png"
    assert "".join(walked.text).strip() == "image: a red cat"


def test_an_image_inside_a_link_is_text_and_the_outer_link_stays() -> None:
    walked = Walked(render_markdown("[![logo](https://x.example/l.png)](https://y.example)"))
    assert [link["href"] for link in walked.links()] == ["https://y.example"]
    assert "".join(walked.text).strip() == "[image: logo]"


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,hi", "vbscript:x",
                                 "file:///etc/passwd", "/relative", "//host.example/x",
                                 "ftp://files.example/"])
def test_a_link_to_anything_but_http_https_or_mailto_stays_text(url: str) -> None:
    walked = Walked(render_markdown(f"[label]({url})"))
    assert walked.links() == []
    assert "label" in "".join(walked.text)


def test_every_kept_link_opens_a_new_tab_without_referrer_or_opener() -> None:
    fragment = render_markdown("[a](https://a.example) <https://b.example> [m](mailto:x@y.z)")
    links = Walked(fragment).links()
    assert [link["href"] for link in links] == ["https://a.example", "https://b.example",
                                                "mailto:x@y.z"]
    assert {(link["rel"], link["target"]) for link in links} == {(LINK_REL, "_blank")}


def test_an_unclosed_fence_while_streaming_is_code_to_the_end() -> None:
    partial = "Here:\n```python\nprint('<b>so far')\n"
    walked = Walked(render_markdown(partial))
    assert [tag for tag, _ in walked.tags] == ["p", "pre", "code"]
    assert "print('<b>so far')" in "".join(walked.text)
    # The same text with its closing fence renders the same block.
    assert render_markdown(partial + "```\n") == render_markdown(partial)


def test_lists_tables_and_code_keep_their_structure() -> None:
    text = ("# Title\n\n- one\n- **two**\n\n1. first\n\n| a | b |\n|:--|--:|\n| 1 | 2 |\n\n"
            "```\n    indented code\n```\n\n> quoted ~~struck~~ `code`")
    tags = [tag for tag, _ in Walked(render_markdown(text)).tags]
    for expected in ("h1", "ul", "li", "strong", "ol", "table", "th", "td", "pre",
                     "blockquote", "s", "code"):
        assert expected in tags, expected


def test_the_chatbot_keeps_code_indentation_of_the_rendered_html() -> None:
    """Gradio's Chatbot dedents string content (inspect.cleandoc): the HTML must survive it."""
    value = chat_value([Message("assistant", "```\n    def f():\n        return 1\n```")])
    shown = gr.Chatbot(render_markdown=False).postprocess(value).root[0].content[0].text
    assert "    def f():\n        return 1" in shown


def test_a_note_under_a_message_is_plain_text() -> None:
    (message,) = chat_value([Message("assistant", "partial", note="*cut* <b>off</b>")])
    assert "<b>" not in message["content"]
    assert "*cut* &lt;b&gt;off&lt;/b&gt;" in message["content"]


@pytest.mark.parametrize("text", ["unknown model <script>x</script>", "*a* _b_ `c` [d](e)",
                                  "    four spaces", "# heading\n1. list", "a & b &amp; c",
                                  "http://autolink.example www.example.com a@b.example"])
def test_status_text_escapes_every_markdown_construct(text: str) -> None:
    """`markdown_text` output parsed as Markdown gives back the text, nothing else."""
    from markdown_it import MarkdownIt

    parser = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    rendered = parser.render(markdown_text(text))
    walked = Walked(rendered)
    assert {tag for tag, _ in walked.tags} <= {"p", "br"}
    lines = [line.strip() for line in text.splitlines()]
    assert "".join(walked.text).strip().split("\n") == lines
