"""The code benchmarks end to end: real problems, real sandbox, real metrics files.

The policy here is a scripted test double that answers each HumanEval problem with a chosen
response (the reference solution, a wrong one, a syntax error), so the right pass@k and
executability are known in advance. Everything under test (evaluator, sandbox, pass@k, files) is real.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from polyrlaif.core.evidence import ITEMS_FILE
from polyrlaif.core.io import InputError, read_jsonl
from polyrlaif.core.protocols import BenchmarkEvaluator, EvalRequest, Policy
from polyrlaif.domains.code.benchmarks import HeldoutEvaluator, HumanEvalEvaluator


def _humaneval(limit: int) -> list[dict]:
    from polyrlaif.datasets.code_tasks import load_humaneval

    return load_humaneval(limit)


def correct(p: dict) -> str:
    """A chat-style answer restating the whole function, with the reference body."""
    return f"Here is the function:\n```python\n{p['prompt']}{p['canonical_solution']}```\n"


def wrong(p: dict) -> str:
    """Runs, but fails the tests."""
    return f"```python\n{p['prompt']}    return None\n```"


def syntax_error(p: dict) -> str:
    return f"```python\ndef {p['entry_point']}(:\n    return\n```"


def stub(p: dict) -> str:
    """The prompt's signature and docstring with no body: it runs, returns None, and does nothing."""
    return f"```python\n{p['prompt']}    pass\n```"


def infinite_loop(p: dict) -> str:
    return f"```python\ndef {p['entry_point']}(*args):\n    while True:\n        pass\n```"


class ScriptedPolicy:
    """Answers problem ``task_id`` with ``script[task_id][j % len]`` for its j-th sample."""

    model_path = "scripted"

    def __init__(self, problems: Sequence[dict], script: dict[str, list], model_id: str = "scripted") -> None:
        self.model_id = model_id
        self._by_prompt = {p["prompt"].strip("\n"): p for p in problems}
        self.script = script
        self.calls: list[tuple[str, int, float]] = []  # (task_id, n, temperature)

    def generate(
        self,
        conversations: Sequence[list[dict[str, str]]],
        *,
        n: int = 1,
        temperature: float = 0.0,
        top_p: float = 1.0,
        max_new_tokens: int = 256,
        seed: int = 0,
    ) -> list[list[str]]:
        out = []
        for conv in conversations:
            user = conv[-1]["content"]
            (problem,) = [p for text, p in self._by_prompt.items() if text in user]
            answers = self.script[problem["task_id"]]
            self.calls.append((problem["task_id"], n, temperature))
            out.append([answers[j % len(answers)](problem) for j in range(n)])
        return out


class FailingAfter(ScriptedPolicy):
    """Dies on its second generate call, like a run killed half way."""

    def generate(self, conversations, **kwargs):  # type: ignore[override]
        if self.calls:
            raise RuntimeError("killed")
        return super().generate(conversations, **kwargs)


def check_items(out: Path, metrics: dict[str, float], cls: type = HumanEvalEvaluator) -> list[dict]:
    """``items.jsonl`` has one row per problem with a unique id, and ``aggregate`` of its rows gives back
    every declared metric ``evaluate`` returned."""
    rows = read_jsonl(out / ITEMS_FILE)
    ids = [r["id"] for r in rows]
    assert len(rows) == metrics["n_problems"] and len(set(ids)) == len(ids)
    again = cls.aggregate(rows)
    returned = [m for m in cls.metrics if m in metrics]
    assert returned and all(again[m] == pytest.approx(metrics[m]) for m in returned)
    return rows


def test_protocols_are_satisfied() -> None:
    problems = _humaneval(1)
    assert isinstance(ScriptedPolicy(problems, {}), Policy)
    for cls in (HumanEvalEvaluator, HeldoutEvaluator):
        ev: BenchmarkEvaluator = cls()
        assert isinstance(ev, BenchmarkEvaluator)
        assert ev.name in ("humaneval", "heldout")


def test_a_body_less_stub_is_not_counted_as_executable(tmp_path) -> None:
    """A stub "runs" to a failed assertion; executability must not reward it (a policy learnt to game it)."""
    problems = _humaneval(3)
    ids = [p["task_id"] for p in problems]
    policy = ScriptedPolicy(problems, {ids[0]: [stub], ids[1]: [wrong], ids[2]: [correct]})
    opts = HumanEvalEvaluator.Options(timeout_s=10)
    metrics = HumanEvalEvaluator().evaluate(policy, EvalRequest(tmp_path / "e", limit=3, options=opts))

    assert metrics["status/failed"] == 2  # the stub and the wrong answer both ran to a failed test
    assert metrics["stubs"] == 1
    assert metrics["executability"] == pytest.approx(2 / 3)
    rows = {r["task_id"]: r for r in read_jsonl(tmp_path / "e" / "samples.jsonl")}
    assert rows[ids[0]]["stub"] and not rows[ids[1]]["stub"] and not rows[ids[2]]["stub"]
    items = {r["id"]: r for r in read_jsonl(tmp_path / "e" / ITEMS_FILE)}
    assert items[ids[0]]["executed"] == 0 and items[ids[1]]["executed"] == 1


def test_pass_at_1_and_executability_are_the_known_fractions(tmp_path) -> None:
    problems = _humaneval(4)
    ids = [p["task_id"] for p in problems]
    script = {ids[0]: [correct], ids[1]: [wrong], ids[2]: [correct], ids[3]: [syntax_error]}
    policy = ScriptedPolicy(problems, script)
    out = tmp_path / "eval"
    opts = HumanEvalEvaluator.Options(timeout_s=10)
    metrics = HumanEvalEvaluator().evaluate(policy, EvalRequest(out, limit=4, batch_size=3, options=opts))

    assert metrics["pass@1"] == pytest.approx(0.5)
    assert "pass@10" not in metrics  # k above the number of samples is not reported
    assert metrics["executability"] == pytest.approx(0.75)  # the syntax error did not run
    assert metrics["n_problems"] == 4 and metrics["n_samples"] == 4
    assert (metrics["status/passed"], metrics["status/failed"], metrics["status/error"]) == (2, 1, 1)
    assert metrics["status/timeout"] == 0
    assert [c[0] for c in policy.calls] == ids and all(c[1:] == (1, 0.0) for c in policy.calls)

    rows = read_jsonl(out / "samples.jsonl")
    assert [r["task_id"] for r in rows] == ids
    assert [r["passed"] for r in rows] == [True, False, True, False]
    assert [r["status"] for r in rows] == ["passed", "failed", "passed", "error"]
    assert all(r["duration_s"] >= 0 for r in rows)
    assert rows[0]["completion"].startswith(problems[0]["prompt"].strip("\n")[:20])  # the code, not the prose
    assert "Here is" not in rows[0]["completion"]
    gens = read_jsonl(out / "generations.jsonl")
    assert [g["task_id"] for g in gens] == ids and gens[0]["responses"] == [correct(problems[0])]
    assert gens[0]["settings"]["max_new_tokens"] == HumanEvalEvaluator.max_new_tokens == 384  # unset: default

    saved = json.loads((out / "metrics.json").read_text())
    assert {k: saved[k] for k in metrics} == metrics
    assert saved["settings"]["policy"] == "scripted" and saved["settings"]["benchmark"] == "humaneval"
    md = (out / "metrics.md").read_text()
    assert "| pass@1" in md and "0.5000" in md
    assert not list(out.glob("*.partial"))
    items = check_items(out, metrics)
    assert [(r["id"], r["n"], r["c"], r["executed"]) for r in items] == [
        (ids[0], 1, 1, 1), (ids[1], 1, 0, 1), (ids[2], 1, 1, 1), (ids[3], 1, 0, 0)
    ]  # fmt: skip


def test_pass_at_k_with_several_samples(tmp_path, caplog) -> None:
    caplog.set_level("INFO", logger="polyrlaif")
    problems = _humaneval(2)
    ids = [p["task_id"] for p in problems]
    script = {ids[0]: [correct, wrong, wrong, wrong], ids[1]: [correct]}
    policy = ScriptedPolicy(problems, script)
    opts = HumanEvalEvaluator.Options(ks=(1, 2, 10))
    metrics = HumanEvalEvaluator().evaluate(
        policy, EvalRequest(tmp_path, limit=2, samples=4, temperature=0.0, options=opts)
    )

    # task 0: n=4, c=1; task 1: n=4, c=4
    assert metrics["pass@1"] == pytest.approx((0.25 + 1.0) / 2)
    assert metrics["pass@2"] == pytest.approx((0.5 + 1.0) / 2)  # 1 - C(3,2)/C(4,2) = 0.5
    assert "pass@10" not in metrics
    assert metrics["n_samples"] == 8 and metrics["executability"] == 1.0
    # greedy decoding would give 4 equal samples: the evaluator samples instead, and says so
    assert metrics["temperature"] == 0.8 and all(c[2] == 0.8 for c in policy.calls)
    assert "temperature 0" in caplog.text  # said in the log
    items = check_items(tmp_path, metrics)
    assert [(r["n"], r["c"]) for r in items] == [(4, 1), (4, 4)]


def test_aggregate_by_hand() -> None:
    """pass@k is the mean of the per-problem estimates; executability pools all samples."""
    rows = [
        {"id": "a", "n": 10, "c": 0, "executed": 2},
        {"id": "b", "n": 10, "c": 5, "executed": 10},
        {"id": "c", "n": 20, "c": 20, "executed": 18},
    ]
    got = HumanEvalEvaluator.aggregate(rows)
    # pass@1 = c / n per problem: (0 + 0.5 + 1) / 3; pass@10: (0 + 1 + 1) / 3 (n - c < 10 for b and c)
    assert got["pass@1"] == pytest.approx(0.5)
    assert got["pass@10"] == pytest.approx(2 / 3)
    assert "pass@100" not in got  # above the smallest n: not estimable
    # (2 + 10 + 18) / (10 + 10 + 20) = 0.75, where the mean of per-problem shares would be 0.7
    assert got["executability"] == pytest.approx(0.75)
    assert HumanEvalEvaluator.aggregate(rows[:1])["pass@1"] == 0.0
    assert HumanEvalEvaluator.aggregate([]) == {}


def test_resume_skips_finished_problems(tmp_path) -> None:
    problems = _humaneval(5)
    ids = [p["task_id"] for p in problems]
    script = {t: [correct if i % 2 == 0 else wrong] for i, t in enumerate(ids)}
    ev = HumanEvalEvaluator()

    dying = FailingAfter(problems, script)
    with pytest.raises(RuntimeError, match="killed"):
        ev.evaluate(dying, EvalRequest(tmp_path, limit=4, batch_size=2))
    assert [r["task_id"] for r in read_jsonl(tmp_path / "generations.jsonl.partial")] == ids[:2]

    policy = ScriptedPolicy(problems, script)
    first = ev.evaluate(policy, EvalRequest(tmp_path, limit=4, batch_size=2))
    assert [c[0] for c in policy.calls] == ids[2:4]  # only the batch that was lost
    assert first["pass@1"] == pytest.approx(0.5)

    again = ScriptedPolicy(problems, script)
    assert ev.evaluate(again, EvalRequest(tmp_path, limit=4, batch_size=2)) == first
    assert again.calls == []  # nothing regenerated

    more = ev.evaluate(again, EvalRequest(tmp_path, limit=5, batch_size=2))
    assert [c[0] for c in again.calls] == [ids[4]]  # a larger limit adds only the new problem
    assert more["pass@1"] == pytest.approx(3 / 5) and more["n_problems"] == 5
    assert len(read_jsonl(tmp_path / "samples.jsonl")) == 5

    with pytest.raises(InputError, match="settings"):
        ev.evaluate(ScriptedPolicy(problems, script, model_id="other"), EvalRequest(tmp_path, limit=4))


def test_timeout_is_not_executed(tmp_path) -> None:
    problems = _humaneval(1)
    policy = ScriptedPolicy(problems, {problems[0]["task_id"]: [infinite_loop]})
    opts = HumanEvalEvaluator.Options(timeout_s=1.0)
    metrics = HumanEvalEvaluator().evaluate(policy, EvalRequest(tmp_path, limit=1, options=opts))
    assert metrics["status/timeout"] == 1
    assert metrics["pass@1"] == 0.0 and metrics["executability"] == 0.0


@pytest.mark.parametrize("cls", [HumanEvalEvaluator, HeldoutEvaluator])
def test_reference_solutions_pass(cls, tmp_path) -> None:
    """Without a policy the reference solutions are scored: a check of data, programs and sandbox."""
    metrics = cls().evaluate(None, EvalRequest(tmp_path, limit=3))
    assert metrics["pass@1"] == 1.0 and metrics["n_problems"] == 3
    check_items(tmp_path, metrics, cls)
    assert json.loads((tmp_path / "metrics.json").read_text())["settings"]["policy"] == "reference"


def test_bad_arguments(tmp_path) -> None:
    with pytest.raises(ValueError, match="workers must be >= 1"):
        HumanEvalEvaluator.Options(workers=0)
    with pytest.raises(ValueError, match="timeout_s must be > 0"):
        HumanEvalEvaluator.Options(timeout_s=0)
    with pytest.raises(ValueError, match="ks must be positive"):
        HumanEvalEvaluator.Options(ks=(0, 1))
    with pytest.raises(ValueError):
        HumanEvalEvaluator().evaluate(None, EvalRequest(tmp_path, samples=0))
    from polyrlaif.domains.search_agent.benchmarks import QAEvaluator

    with pytest.raises(TypeError, match="CodeOptions"):  # another benchmark's options are refused
        HumanEvalEvaluator().evaluate(None, EvalRequest(tmp_path, options=QAEvaluator.Options()))


def test_tiny_random_lm_end_to_end(tiny_lm_path, tmp_path) -> None:
    from polyrlaif.core.policy import CausalLMPolicy

    policy = CausalLMPolicy(tiny_lm_path, device="cpu", batch_size=2)
    opts = HumanEvalEvaluator.Options(timeout_s=10)
    metrics = HumanEvalEvaluator().evaluate(
        policy, EvalRequest(tmp_path, limit=2, max_new_tokens=8, batch_size=2, options=opts)
    )
    rows = read_jsonl(tmp_path / "samples.jsonl")
    assert metrics["pass@1"] == 0.0 and metrics["n_problems"] == 2 and len(rows) == 2
    ran = sum(r["status"] not in ("error", "timeout", "oom", "sandbox_error") for r in rows)
    assert metrics["executability"] == pytest.approx(ran / 2)
    assert sum(v for k, v in metrics.items() if k.startswith("status/")) == 2
    assert (tmp_path / "metrics.md").exists()
