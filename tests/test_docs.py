"""The documentation stays true to the tree: the CLI reference matches the commands' --help,
every relative link points at a file that exists, and the README stays short."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = sorted([REPO / "README.md", *(REPO / "docs").glob("*.md")])
README_MAX_LINES = 200

# [text](target) and ![alt](target); the target ends at whitespace or ")".
MARKDOWN_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", flags=re.MULTILINE | re.DOTALL)
EXTERNAL = ("http://", "https://", "mailto:", "#")


def relative_links(markdown: str) -> list[str]:
    """Link targets outside code blocks that point into the repository (anchor removed)."""
    return [target.split("#", 1)[0] for target in link_targets(markdown)
            if not target.startswith(EXTERNAL)]


def link_targets(markdown: str) -> list[str]:
    """Every link target outside code blocks, as written."""
    return [match.group(1) for match in MARKDOWN_LINK.finditer(FENCE.sub("", markdown))]


def heading_anchors(markdown: str) -> set[str]:
    """GitHub's anchors of the headings: lower case, punctuation dropped, spaces as hyphens."""
    headings = re.findall(r"^#{1,6}\s+(.+?)\s*$", FENCE.sub("", markdown), flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


def test_cli_reference_matches_the_commands_help():
    result = subprocess.run([sys.executable, "scripts/cli_reference.py", "--check"], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, (
        "docs/cli.md is stale: run `python scripts/cli_reference.py` and commit docs/cli.md\n"
        + result.stdout + result.stderr)


@pytest.mark.parametrize("page", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_points_at_an_existing_file(page: Path):
    broken = [target for target in relative_links(page.read_text())
              if not (page.parent / target).exists()]
    assert not broken, f"{page.relative_to(REPO)} links to missing files: {broken}"


@pytest.mark.parametrize("page", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_link_to_a_section_names_a_heading_of_that_page(page: Path):
    broken = []
    for target in link_targets(page.read_text()):
        path, _, anchor = target.partition("#")
        if not anchor or target.startswith(EXTERNAL[:-1]):
            continue
        linked = page.parent / path if path else page
        if path.endswith(".md") or not path:
            if linked.exists() and anchor not in heading_anchors(linked.read_text()):
                broken.append(target)
    assert not broken, f"{page.relative_to(REPO)} links to missing sections: {broken}"


def test_readme_is_at_most_200_lines():
    lines = (REPO / "README.md").read_text().count("\n")
    assert lines <= README_MAX_LINES, (
        f"README.md has {lines} lines (limit {README_MAX_LINES}): move detail into docs/")


def test_the_link_check_sees_links_and_skips_code_and_urls():
    sample = ("See [serving](serving.md#start) and ![shot](screenshot.png).\n"
              "[site](https://example.org) [top](#top)\n```\n[not](a-link.md)\n```\n")
    assert relative_links(sample) == ["serving.md", "screenshot.png"]


def test_heading_anchors_follow_githubs_rules():
    assert heading_anchors("## The `[arena]` table\n### vLLM start-up\n## `arena models up`\n") \
        == {"the-arena-table", "vllm-start-up", "arena-models-up"}
