"""QA metrics of the search_agent domain: SQuAD normalisation, EM/F1, citations, the predictions loader,
and the `qa` evaluator run through `polyrlaif eval` with hand-computed numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from polyrlaif.core.evidence import ITEMS_FILE
from polyrlaif.core.io import InputError, read_jsonl
from polyrlaif.evaluation.qa import (
    QAPrediction,
    citation_scores,
    exact_match,
    f1,
    load_predictions,
    normalize_answer,
    qa_report,
)

# ------------------------------------------------------------------ normalisation


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The Eiffel Tower!", "eiffel tower"),
        ("eiffel tower", "eiffel tower"),
        ("An apple a day", "apple day"),
        ("  Marta\t SOLVEY \n", "marta solvey"),
        ("412,000", "412000"),  # punctuation is deleted, not replaced by a space
        ("Solvey's", "solveys"),
        ("the-the", "thethe"),  # punctuation goes first, so no article is left standing alone
        ("Theory and anathema", "theory and anathema"),  # articles only as whole words
        ("ice\u2014cream", "ice\u2014cream"),  # only ASCII punctuation, as in SQuAD's script
        ("The a an", ""),
    ],
)
def test_normalize_answer_matches_squad(text: str, expected: str) -> None:
    assert normalize_answer(text) == expected


# ------------------------------------------------------------------ exact match and F1


def test_exact_match_normalises_and_takes_the_best_answer() -> None:
    assert exact_match("The Eiffel Tower!", ["eiffel tower"]) == 1.0
    assert exact_match("Eiffel", ["eiffel tower"]) == 0.0
    assert exact_match("solvey", ["Marta Solvey", "Solvey"]) == 1.0  # matches the alias
    assert exact_match("412,000", ["412000"]) == 1.0


def test_f1_partial_overlap() -> None:
    # [marta, solvey] vs [marta, solveig]: 1 common; P = 1/2, R = 1/2, F1 = 1/2
    assert f1("Marta Solvey", ["Marta Solveig"]) == pytest.approx(0.5)
    # "in 1998 the census" -> [in, 1998, census] vs [1998, census]: 2 common; P = 2/3, R = 1,
    # F1 = 2 * (2/3) * 1 / (2/3 + 1) = (4/3) / (5/3) = 4/5
    assert f1("in 1998 the census", ["1998 census"]) == pytest.approx(0.8)
    assert f1("London", ["Paris"]) == 0.0
    assert f1("The Eiffel Tower!", ["eiffel tower"]) == 1.0


def test_f1_takes_the_best_gold_answer() -> None:
    # vs "61 metres": 2 common of 3 predicted, 2 gold: P = 2/3, R = 1, F1 = 4/5
    # vs "61":        1 common of 3 predicted, 1 gold: P = 1/3, R = 1, F1 = (2/3) / (4/3) = 1/2
    assert f1("61 metres tall", ["61", "61 metres"]) == pytest.approx(0.8)
    assert f1("61 metres tall", ["61"]) == pytest.approx(0.5)


def test_f1_counts_tokens_with_multiplicity() -> None:
    # [red, red, red] vs [red, car]: the multiset overlap is one "red"; P = 1/3, R = 1/2,
    # F1 = 2 * (1/6) / (5/6) = 2/5. (Counting each predicted "red" as a hit would give P = 1.)
    assert f1("red red red", ["red car"]) == pytest.approx(0.4)


def test_empty_strings() -> None:
    assert f1("", ["The"]) == 1.0  # both normalise to nothing
    assert exact_match("", ["The"]) == 1.0
    assert f1("", ["Paris"]) == 0.0
    assert f1("the", ["Paris"]) == 0.0
    assert f1("Paris", ["An"]) == 0.0
    assert exact_match("", ["Paris"]) == 0.0


def test_bad_answer_lists_raise() -> None:
    with pytest.raises(ValueError, match="without answers"):
        f1("Paris", [])
    with pytest.raises(ValueError, match="without answers"):
        exact_match("Paris", [])
    with pytest.raises(TypeError, match="not a string"):
        f1("Paris", "Paris")


# ------------------------------------------------------------------ citations


@pytest.mark.parametrize(
    ("cited", "gold", "expected"),
    [
        (["d1", "d2"], ["d1"], (0.5, 1.0)),
        (["d1"], ["d1", "d2"], (1.0, 0.5)),
        (["d1", "d1", "d3"], ["d1", "d2"], (0.5, 0.5)),  # cited as a set: {d1, d3}
        (["d2", "d1"], ["d1", "d2"], (1.0, 1.0)),
        (["d9"], ["d1"], (0.0, 0.0)),
        ([], [], (1.0, 1.0)),  # nothing needed, nothing cited
        ([], ["d1"], (0.0, 0.0)),  # citing nothing earns no precision
        (["d1"], [], (0.0, 0.0)),  # citations where none are needed
    ],
)
def test_citation_scores(cited: list[str], gold: list[str], expected: tuple[float, float]) -> None:
    assert citation_scores(cited, gold) == pytest.approx(expected)


# ------------------------------------------------------------------ the loader


def _write(path: Path, rows: list[dict | str]) -> Path:
    lines = (r if isinstance(r, str) else json.dumps(r) for r in rows)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


GOOD = {"question": "Who?", "prediction": "Ann", "answers": ["Ann"]}


def test_loader_reads_optional_fields(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "p.jsonl",
        [GOOD, {**GOOD, "id": "q2", "citations": ["d1"], "supporting_ids": ["d1", "d2"], "tool_calls": 0}],
    )
    first, second = load_predictions(path)
    assert first == QAPrediction(question="Who?", prediction="Ann", answers=("Ann",), line=1)
    assert (second.citations, second.supporting_ids, second.tool_calls, second.id) == (
        ("d1",),
        ("d1", "d2"),
        0,
        "q2",
    )
    assert second.line == 2


@pytest.mark.parametrize(
    ("bad", "where", "what"),
    [
        ('{"question": "Who?", "prediction": ', ":2", "malformed JSON"),
        ({"question": "Who?", "answers": ["Ann"]}, ":2:prediction", "missing field"),
        ({"prediction": "Ann", "answers": ["Ann"]}, ":2:question", "missing field"),
        ({**GOOD, "answers": "Ann"}, ":2:answers", "expected a list of strings, got str"),
        ({**GOOD, "answers": []}, ":2:answers", "a question without answers"),
        ({**GOOD, "answers": ["Ann", 3]}, ":2:answers[1]", "expected a string, got int"),
        ({**GOOD, "answers": ["Ann", " "]}, ":2:answers[1]", "empty answer"),
        ({**GOOD, "prediction": None}, ":2:prediction", "expected a string"),
        ({**GOOD, "citations": ["d1", 7], "supporting_ids": ["d1"]}, ":2:citations[1]", "expected a string"),
        ({**GOOD, "citations": ["d1"], "supporting_ids": "d1"}, ":2:supporting_ids", "expected a list"),
        ({**GOOD, "citations": ["d1"]}, ":2:supporting_ids", "needed to score 'citations'"),
        ({**GOOD, "tool_calls": "3"}, ":2:tool_calls", "non-negative integer"),
        ({**GOOD, "tool_calls": True}, ":2:tool_calls", "non-negative integer"),
        ({**GOOD, "tool_calls": -1}, ":2:tool_calls", "non-negative integer"),
    ],
)
def test_loader_errors_name_file_line_and_field(
    tmp_path: Path, bad: dict | str, where: str, what: str
) -> None:
    path = _write(tmp_path / "p.jsonl", [GOOD, bad])
    with pytest.raises(InputError) as info:
        load_predictions(path)
    assert f"{path}{where}:" in str(info.value)
    assert what in str(info.value)


def test_loader_rejects_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_predictions(tmp_path / "absent.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(InputError, match="no predictions"):
        load_predictions(tmp_path / "empty.jsonl")


# ------------------------------------------------------------------ the report and the evaluator

ROWS = [
    # EM 1, F1 1; citations P = 1, R = 1; 2 tool calls
    {"id": "q1", "question": "Who designed the Greywick Light?", "prediction": "Marta Solvey.",
     "answers": ["Marta Solvey", "Solvey"], "citations": ["fw-006"], "supporting_ids": ["fw-006"],
     "tool_calls": 2},
    # EM 0, F1 4/5 (see test_f1_takes_the_best_gold_answer); citations P = 1/2, R = 1; 3 tool calls
    {"question": "How tall is the Greywick Light?", "prediction": "61 metres tall",
     "answers": ["61 metres", "61"], "citations": ["fw-006", "fw-007"], "supporting_ids": ["fw-006"],
     "tool_calls": 3},
    # EM 0, F1 1/2; cites nothing: P = 0, R = 0; 1 tool call
    {"question": "Who keeps the Light?", "prediction": "Marta Solveig", "answers": ["Marta Solvey"],
     "citations": [], "supporting_ids": ["fw-010", "fw-011"], "tool_calls": 1},
    # EM 0, F1 0 (no answer); no citations and no tool count: left out of those averages
    {"question": "Population of Orrindel in 1998?", "prediction": "", "answers": ["412,000"],
     "supporting_ids": ["fw-001"]},
]  # fmt: skip

# EM = 1/4; F1 = (1 + 0.8 + 0.5 + 0) / 4 = 0.575; over the 3 rows with citations:
# precision = (1 + 0.5 + 0) / 3 = 0.5, recall = (1 + 1 + 0) / 3 = 2/3; tool calls = (2 + 3 + 1) / 3 = 2
EXPECTED = {
    "exact_match": 0.25,
    "f1": 0.575,
    "citation_precision": 0.5,
    "citation_recall": 2 / 3,
    "tool_calls_per_question": 2.0,
    "n_questions": 4,
    "n_with_citations": 3,
    "n_with_tool_calls": 3,
}


def test_report_averages(tmp_path: Path) -> None:
    metrics = qa_report(load_predictions(_write(tmp_path / "p.jsonl", ROWS))).metrics()
    assert metrics == pytest.approx(EXPECTED)
    plain = qa_report([QAPrediction("Q", "Paris", ("Paris",)), QAPrediction("Q", "Rome", ("Paris",))])
    assert plain.metrics() == {"exact_match": 0.5, "f1": 0.5, "n_questions": 2}  # no optional fields
    with pytest.raises(ValueError, match="no predictions"):
        qa_report([])


def _eval(*args: str) -> int:
    from polyrlaif.core.cli import main

    return main(["eval", "--domain", "search_agent", "--benchmark", "qa", *args])


def test_eval_cli_writes_metrics_and_rows(tmp_path: Path) -> None:
    preds = _write(tmp_path / "p.jsonl", ROWS)
    assert _eval("--predictions", str(preds), "--output", str(tmp_path / "O.json")) == 0
    got = json.loads((tmp_path / "O.json").read_text())
    assert got == pytest.approx(EXPECTED)
    assert json.loads((tmp_path / "O" / "metrics.json").read_text()) == got
    assert "| exact_match" in (tmp_path / "O" / "metrics.md").read_text()
    rows = [json.loads(line) for line in (tmp_path / "O" / "rows.jsonl").read_text().splitlines()]
    assert [r["line"] for r in rows] == [1, 2, 3, 4]
    assert rows[0]["id"] == "q1" and "id" not in rows[1]
    assert [r["f1"] for r in rows] == pytest.approx([1.0, 0.8, 0.5, 0.0])
    assert rows[1]["citation_precision"] == 0.5 and "citation_precision" not in rows[3]
    items = check_items(tmp_path / "O", got)
    assert items[0]["id"] == "q1" and all(i["id"].startswith("q-") for i in items[1:])  # no id: a hash
    assert [i["citation_precision"] for i in items] == [1.0, 0.5, 0.0, None]
    assert all(i["answered"] is None and i["judgments"] is None and i["llm_judge"] is None for i in items)


def check_items(out: Path, metrics: dict[str, float]) -> list[dict]:
    """``items.jsonl`` exists with unique string ids, and ``QAEvaluator.aggregate`` of its rows gives back
    every declared metric the evaluation returned, and no other declared metric."""
    from polyrlaif.domains.search_agent.benchmarks import QAEvaluator

    rows = read_jsonl(out / ITEMS_FILE)
    ids = [r["id"] for r in rows]
    assert rows and all(isinstance(i, str) for i in ids) and len(set(ids)) == len(ids)
    again = QAEvaluator.aggregate(rows)
    declared = set(QAEvaluator.metrics)
    assert declared & set(again) == declared & set(metrics)
    for m in declared & set(metrics):
        assert again[m] == pytest.approx(metrics[m]), m
    return rows


def test_aggregate_by_hand() -> None:
    from polyrlaif.domains.search_agent.benchmarks import QAEvaluator

    base = {"citation_precision": None, "citation_recall": None, "llm_judge": None}
    rows = [
        {**base, "id": "a", "exact_match": 1, "f1": 1.0, "answered": True, "judge_hits": 1, "judgments": 1},
        {**base, "id": "b", "exact_match": 0, "f1": 0.5, "answered": False, "judge_hits": 1, "judgments": 3},
        {**base, "id": "c", "exact_match": 0, "f1": 0.0, "answered": True, "judge_hits": 0, "judgments": 0},
    ]
    rows[0].update(citation_precision=1.0, citation_recall=0.5, llm_judge=True)
    rows[1].update(llm_judge=False)
    got = QAEvaluator.aggregate(rows)
    assert (got["exact_match"], got["f1"], got["answered_rate"]) == pytest.approx((1 / 3, 0.5, 2 / 3))
    assert (got["citation_precision"], got["citation_recall"]) == (1.0, 0.5)  # over the one row with them
    assert got["llm_judge_accuracy"] == 0.5  # over the two judged rows
    # JUDGE actions pooled: (1 + 1) / (1 + 3) = 0.5, where the mean of per-question shares would be 2/3
    assert got["judge_accuracy"] == 0.5
    bare = QAEvaluator.aggregate([{**rows[2], "answered": None, "judge_hits": None, "judgments": None}])
    assert set(bare) == {"exact_match", "f1", "n_questions"}  # nothing to compute the rest on: left out


def test_eval_cli_limit(tmp_path: Path) -> None:
    preds = _write(tmp_path / "p.jsonl", ROWS)
    assert _eval("--predictions", str(preds), "--limit", "2", "--output", str(tmp_path / "O.json")) == 0
    got = json.loads((tmp_path / "O.json").read_text())
    # rows 1-2: EM (1 + 0) / 2, F1 (1 + 0.8) / 2, precision (1 + 0.5) / 2, recall 1, tool calls 2.5
    assert got == pytest.approx(
        {"exact_match": 0.5, "f1": 0.9, "citation_precision": 0.75, "citation_recall": 1.0,
         "tool_calls_per_question": 2.5, "n_questions": 2, "n_with_citations": 2, "n_with_tool_calls": 2}
    )  # fmt: skip


def test_eval_cli_names_a_bad_line_and_writes_nothing(tmp_path: Path, capsys) -> None:
    preds = _write(tmp_path / "p.jsonl", [GOOD, {**GOOD, "answers": []}])
    assert _eval("--predictions", str(preds), "--output", str(tmp_path / "O.json")) == 2
    assert f"{preds}:2:answers:" in capsys.readouterr().err
    assert not (tmp_path / "O.json").exists()
    assert _eval("--output", str(tmp_path / "O.json")) == 2
    assert "qa needs --model (run the agent) or --predictions" in capsys.readouterr().err


def test_bad_arguments(tmp_path: Path) -> None:
    from polyrlaif.core.protocols import EvalRequest
    from polyrlaif.domains.search_agent.benchmarks import QAEvaluator

    opts = QAEvaluator.Options(predictions="p.jsonl")
    with pytest.raises(ValueError, match="samples=4"):
        QAEvaluator().evaluate(None, EvalRequest(tmp_path / "o", samples=4, options=opts))
