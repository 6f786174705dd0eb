"""The README and the docs render as written: every code fence closes, so no heading or prose after a
stray fence is swallowed into a code block (markdown-it, the CommonMark parser rich already brings)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted([ROOT / "README.md", *ROOT.glob("docs/*.md"), *ROOT.glob("domains/*/README.md")])


def _swallowed(text: str) -> list[str]:
    """Markdown headings that ended up inside code blocks, and an unclosed fence."""
    from markdown_it import MarkdownIt

    problems = []
    for token in MarkdownIt("commonmark").parse(text):
        if token.type != "fence":
            continue
        start, end = token.map
        heads = [line for line in token.content.splitlines() if line.startswith(("## ", "### "))]
        problems += [f"line {start + 1}: heading {h!r} inside a code block" for h in heads]
        closing = text.splitlines()[end - 1].strip() if end <= len(text.splitlines()) else ""
        if not closing.startswith(token.markup):
            problems.append(f"line {start + 1}: the code block opened here never closes")
    return problems


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_code_fence_closes(path: Path) -> None:
    assert _swallowed(path.read_text(encoding="utf-8")) == []


def test_a_stray_fence_is_caught() -> None:
    broken = "Run:\n\n```bash\npolyrlaif train\n```\nIt prints progress```\n\n## The command line\n"
    assert _swallowed(broken) == []  # a fence marker mid-line is not a fence
    broken = "Run it:\n\n```bash\npolyrlaif train\n```\n```\n\n## The command line\n\ntext\n"
    assert any("never closes" in p or "heading" in p for p in _swallowed(broken))
