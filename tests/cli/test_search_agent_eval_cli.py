"""``polyrlaif eval --domain search_agent --benchmark qa``: the agent run (``--model``, ``--corpus``) and the
LLM-judge accuracy, end to end through the command line, with the tiny model and the rule judge endpoint."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from polyrlaif.domains.search_agent.benchmarks import QAEvaluator

CORPUS = [
    {"id": "d1", "title": "Quillmoor", "text": "Quillmoor is a river town founded in 1711 by Edda Varn."},
    {"id": "d2", "title": "Edda Varn", "text": "Edda Varn was a ferry builder from Lowmarsh."},
    {"id": "d3", "title": "Lowmarsh", "text": "Lowmarsh lies in the fens; its bell tower is from 1802."},
]
# NQ-open style rows: no ids, a list of answers
QUESTIONS = [
    {"question": "Who founded Quillmoor?", "answer": ["Edda Varn"]},
    {"question": "When was the Lowmarsh bell tower built?", "answer": ["1802"]},
]


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _eval(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "polyrlaif.core.cli",
            "eval",
            "--domain",
            "search_agent",
            "--benchmark",
            "qa",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_model_runs_the_agent_over_a_corpus_and_a_rerun_reuses_it(tmp_path, tiny_lm_path):
    corpus, questions = _jsonl(tmp_path / "c.jsonl", CORPUS), _jsonl(tmp_path / "q.jsonl", QUESTIONS)
    args = [
        "--model", tiny_lm_path, "--corpus", str(corpus), "--annotations", str(questions),
        "--max-new-tokens", "8", "--output", str(tmp_path / "O.json"),
        "--opt", f"index_dir={tmp_path / 'index'}", "--opt", "max_turns=2",
    ]  # fmt: skip
    res = _eval(*args)
    assert res.returncode == 0, res.stderr[-3000:]
    metrics = json.loads((tmp_path / "O.json").read_text())
    assert metrics["n_questions"] == 2 and 0.0 <= metrics["f1"] <= 1.0
    assert metrics["answered_rate"] == 0.0  # the random tiny model never commits an answer in 2 turns
    assert "tool_calls_per_question" in metrics
    trajs = [json.loads(x) for x in (tmp_path / "O" / "trajectories.jsonl").read_text().splitlines()]
    assert [t["question_id"] for t in trajs] == ["nq-1", "nq-2"]
    assert all(t["status"] == "turn_limit" and len(t["steps"]) == 2 for t in trajs)
    assert all(s["observation"].startswith("<observation>Error") for t in trajs for s in t["steps"])
    preds = [json.loads(x) for x in (tmp_path / "O" / "predictions.jsonl").read_text().splitlines()]
    assert [p["answers"] for p in preds] == [["Edda Varn"], ["1802"]]
    assert (tmp_path / "index" / "manifest.json").is_file()  # built once, persisted
    items = [json.loads(x) for x in (tmp_path / "O" / "items.jsonl").read_text().splitlines()]
    assert [(i["id"], i["answered"], i["judgments"]) for i in items] == [
        ("nq-1", False, None),
        ("nq-2", False, None),
    ]
    again = QAEvaluator.aggregate(items)
    assert all(again[m] == pytest.approx(metrics[m]) for m in QAEvaluator.metrics if m in metrics)

    before = (tmp_path / "O" / "trajectories.jsonl").stat().st_mtime_ns
    res = _eval(*args)
    assert res.returncode == 0 and "reusing 2 trajectories" in res.stderr  # the log
    assert (tmp_path / "O" / "trajectories.jsonl").stat().st_mtime_ns == before


def test_corpus_without_questions_and_empty_corpus_are_clear_errors(tmp_path, tiny_lm_path):
    corpus = _jsonl(tmp_path / "c.jsonl", CORPUS)
    res = _eval("--model", tiny_lm_path, "--corpus", str(corpus), "--output", str(tmp_path / "O.json"))
    assert res.returncode == 2 and "--corpus needs --annotations" in res.stderr
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    questions = _jsonl(tmp_path / "q.jsonl", QUESTIONS)
    res = _eval(
        "--model", tiny_lm_path, "--corpus", str(empty), "--annotations", str(questions),
        "--output", str(tmp_path / "O.json"), "--opt", f"index_dir={tmp_path / 'index'}",
    )  # fmt: skip
    assert res.returncode == 2 and f"{empty}" in res.stderr and "no documents" in res.stderr
    assert not (tmp_path / "O.json").exists()


def test_llm_judge_accuracy_from_the_answer_judge(tmp_path, rule_judge):
    url, judge = rule_judge
    rows = [
        {"question": "Who founded Quillmoor?", "prediction": "Edda Varn", "answers": ["Edda Varn"]},
        {"question": "Who founded Quillmoor?", "prediction": "Varn", "answers": ["Edda Varn"]},
        {"question": "When was the tower built?", "prediction": "1802", "answers": ["1802"]},
        {"question": "When was the tower built?", "prediction": "", "answers": ["1802"]},
    ]
    preds = _jsonl(tmp_path / "p.jsonl", rows)
    spec = json.dumps({"backend": "openai", "model": "rule-judge", "base_url": url})
    args = ["--predictions", str(preds), "--output", str(tmp_path / "O.json"), "--opt", f"judge={spec}"]
    res = _eval(*args)
    assert res.returncode == 0, res.stderr[-3000:]
    assert judge.requests == 3  # the empty prediction is wrong without a call
    metrics = json.loads((tmp_path / "O.json").read_text())
    per_row = [json.loads(x) for x in (tmp_path / "O" / "rows.jsonl").read_text().splitlines()]
    verdicts = [r["llm_judge"] for r in per_row]
    assert verdicts[3] is False and all(isinstance(v, bool) for v in verdicts)
    assert metrics["llm_judge_accuracy"] == sum(verdicts) / 4 and metrics["llm_judge_failures"] == 0
    assert metrics["llm_judge_unparseable"] == 0 == metrics["llm_judge_unparseable_rate"]
    assert metrics["exact_match"] == 0.5
    # an endpoint is asked for a written verdict, with its JSON schema as structured output
    assert all(p["response_format"]["json_schema"]["name"] == "answer_verdict" for p in judge.payloads)
    items = [json.loads(x) for x in (tmp_path / "O" / "items.jsonl").read_text().splitlines()]
    assert [i["llm_judge"] for i in items] == verdicts
    assert items[1]["id"] == items[0]["id"] + "#2"  # the same question, without ids: kept apart
    assert QAEvaluator.aggregate(items)["llm_judge_accuracy"] == metrics["llm_judge_accuracy"]
    res = _eval(*args)
    assert res.returncode == 0 and judge.requests == 3  # the judge cache answered the rerun


def test_unparseable_verdicts_are_counted_and_left_out(tmp_path, rule_judge):
    url, judge = rule_judge
    judge.junk_when = lambda text: "Varn" in text  # two of the four predictions get prose, no verdict
    rows = [
        {"question": "Who founded Quillmoor?", "prediction": "Edda Varn", "answers": ["Edda Varn"]},
        {"question": "Who built the ferry?", "prediction": "Varn", "answers": ["Edda Varn"]},
        {"question": "When was the tower built?", "prediction": "1802", "answers": ["1802"]},
        {"question": "When was the mill built?", "prediction": "1799", "answers": ["1802"]},
    ]
    spec = json.dumps({"backend": "openai", "model": "rule-judge", "base_url": url})
    out = tmp_path / "O.json"
    res = _eval(
        "--predictions",
        str(_jsonl(tmp_path / "p.jsonl", rows)),
        "--output",
        str(out),
        "--opt",
        f"judge={spec}",
    )
    assert res.returncode == 0, res.stderr[-3000:]
    metrics = json.loads(out.read_text())
    assert judge.junked == 2 and metrics["llm_judge_failures"] == 2 == metrics["llm_judge_unparseable"]
    assert metrics["llm_judge_unparseable_rate"] == 0.5
    per_row = [json.loads(x) for x in (tmp_path / "O" / "rows.jsonl").read_text().splitlines()]
    assert [r["llm_judge"] is None for r in per_row] == [True, True, False, False]
    assert per_row[0]["llm_judge_reason"].startswith("unparseable_verdict: no JSON object")


def test_a_local_judge_decides_by_p_yes_with_nothing_to_parse(tmp_path, tiny_lm_path):
    rows = [
        {"question": "Who founded Quillmoor?", "prediction": "Edda Varn", "answers": ["Edda Varn"]},
        {"question": "When was the tower built?", "prediction": "1799", "answers": ["1802"]},
        {"question": "When was the mill built?", "prediction": "in 1802", "answers": ["1802"]},
    ]
    spec = json.dumps({"backend": "transformers", "model": tiny_lm_path})
    out = tmp_path / "O.json"
    res = _eval(
        "--predictions",
        str(_jsonl(tmp_path / "p.jsonl", rows)),
        "--output",
        str(out),
        "--opt",
        f"judge={spec}",
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert "verdicts by yesno" in res.stderr
    metrics = json.loads(out.read_text())
    assert metrics["llm_judge_failures"] == 0 == metrics["llm_judge_unparseable"]
    per_row = [json.loads(x) for x in (tmp_path / "O" / "rows.jsonl").read_text().splitlines()]
    assert all(
        isinstance(r["llm_judge"], bool) and r["llm_judge_reason"].startswith("p(yes)=") for r in per_row
    )
