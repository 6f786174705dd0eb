"""Corpus files: what loads, and errors that name the file, the line and the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from polyrlaif.core.io import InputError
from polyrlaif.domains.search_agent.corpus import Document, file_sha256, load_corpus

GOOD = {"id": "d1", "title": "Title", "text": "Some text."}


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_loads_documents_in_order_and_skips_blank_lines(tmp_path: Path) -> None:
    rows = [GOOD, {"id": "d2", "title": "Other", "text": "More text."}]
    path = _write(tmp_path / "c.jsonl", [json.dumps(rows[0]), "", json.dumps(rows[1])])
    assert load_corpus(path) == [Document("d1", "Title", "Some text."), Document("d2", "Other", "More text.")]


@pytest.mark.parametrize(
    ("second_line", "where", "what"),
    [
        ('{"id": "d2", "title": "T"', ":2", "malformed JSON"),
        ('["d2", "T", "x"]', ":2", "expected a JSON object"),
        ('{"id": "d2", "text": "x"}', ":2:title", "missing field"),
        ('{"id": "d2", "title": "T", "text": 7}', ":2:text", "expected a string, got int"),
        ('{"id": null, "title": "T", "text": "x"}', ":2:id", "expected a string"),
        ('{"id": "d2", "title": "  ", "text": "x"}', ":2:title", "empty string"),
        ('{"id": "d1", "title": "T", "text": "x"}', ":2:id", "duplicate id 'd1' (first on line 1)"),
    ],
)
def test_bad_rows_name_file_line_and_field(tmp_path: Path, second_line: str, where: str, what: str) -> None:
    path = _write(tmp_path / "c.jsonl", [json.dumps(GOOD), second_line])
    with pytest.raises(InputError) as info:
        load_corpus(path)
    assert f"{path}{where}" in str(info.value)
    assert what in str(info.value)


def test_missing_and_empty_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_corpus(tmp_path / "nope.jsonl")
    empty = _write(tmp_path / "empty.jsonl", ["", "  "])
    with pytest.raises(InputError, match=f"{empty}: the corpus holds no documents"):
        load_corpus(empty)


def test_file_sha256_changes_with_any_byte(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.jsonl", [json.dumps(GOOD)])
    before = file_sha256(path)
    assert before == file_sha256(path)
    _write(path, [json.dumps({**GOOD, "text": "Some text!"})])
    assert file_sha256(path) != before
