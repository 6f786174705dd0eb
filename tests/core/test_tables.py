"""Markdown tables and the metrics.json / metrics.md pair."""

from __future__ import annotations

import json

from polyrlaif.evaluation.tables import format_value, markdown_table, write_metrics


def test_format_value() -> None:
    assert format_value(0.4) == "0.4000"
    assert format_value(1 / 3) == "0.3333"
    assert format_value(123.456) == "123.5"
    assert format_value(2e-5) == "2.000e-05"
    assert format_value(3.5e7) == "3.500e+07"
    assert format_value(0.0) == "0.0000"
    assert format_value(7) == "7"
    assert format_value(True) == "True"
    assert format_value(None) == ""
    assert format_value(float("nan")) == "nan"
    assert format_value("a|b\nc") == "a\\|b c"


def test_markdown_table_layout() -> None:
    rows = [{"model": "tiny", "pass@1": 0.25, "n": 4}, {"model": "base", "pass@1": 0.5}]
    table = markdown_table(rows)
    lines = table.splitlines()
    assert len(lines) == 4
    assert [c.strip() for c in lines[0].strip("|").split("|")] == ["model", "pass@1", "n"]
    # numeric columns are right-aligned, text columns left-aligned
    assert lines[1].split("|")[2].strip().endswith(":")
    assert not lines[1].split("|")[1].strip().endswith(":")
    assert "0.2500" in lines[2] and "0.5000" in lines[3]
    # a missing key is an empty cell, and every row has the same width
    assert len({len(line) for line in lines}) == 1
    assert markdown_table(rows, columns=["pass@1"]).splitlines()[0].strip("| ") == "pass@1"
    assert markdown_table([]) == ""


def test_write_metrics(tmp_path) -> None:
    metrics = {"pass@1": 0.5, "n_problems": 2, "status": {"passed": 1, "failed": 1}}
    json_path, md_path = write_metrics(tmp_path / "out", metrics)
    assert json_path == tmp_path / "out" / "metrics.json"
    assert json.loads(json_path.read_text()) == metrics
    md = md_path.read_text()
    assert md_path.name == "metrics.md"
    assert "| pass@1" in md and "0.5000" in md and "status/passed" in md
    assert not list((tmp_path / "out").glob("*.tmp"))
    j2, m2 = write_metrics(tmp_path / "out", {"x": 1.0}, name="extra")
    assert (j2.name, m2.name) == ("extra.json", "extra.md")
