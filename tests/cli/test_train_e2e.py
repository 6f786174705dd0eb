"""`polyrlaif feedback` for the code domain: what the judge saw, and resume after a crash.

The policy is the tiny random chat model, sampled for real; its code runs in the real sandbox; the
rubric judge is the rule-based HTTP endpoint from tests/cli/conftest.py.
"""

from __future__ import annotations

import json
import re

from tiny_configs import tiny_config


def _args(out, model, url, *extra):
    return [
        "feedback",
        "--config",
        tiny_config("code"),
        f"run.output_dir={out}",
        f"model.name_or_path={model}",
        f"judge.base_url={url}",
        *extra,
    ]


def _rows(path):
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_judge_sees_test_results_and_pairs_trace_back(tmp_path, tiny_lm_path, rule_judge, cli):
    url, _ = rule_judge
    out = tmp_path / "fb"
    cli(*_args(out, tiny_lm_path, url))
    rdir = out / "round_1"
    cands = _rows(rdir / "candidates.jsonl")
    assert len(cands) == 6 * 3 and all("code" in c["meta"] for c in cands)
    assert all(c["sampling"]["temperature"] == 0.8 for c in cands)  # one decoding setting for all
    judgments = _rows(rdir / "judgments.jsonl")
    by_kind = {}
    for j in judgments:
        by_kind.setdefault(j["judge_id"].split(":")[0].split("[")[0], []).append(j)
    assert len(by_kind["unit_tests"]) == len(by_kind["api_usage"]) == len(by_kind["pointwise"]) == 18
    for j in by_kind["pointwise"]:
        # context-aware: the judge saw the unit-test verdict, and the hash pins the exact prompt
        assert j["context"]["unit_tests"] in ("all tests passed",) or j["context"]["unit_tests"].startswith(
            "not"
        )
        assert re.fullmatch(r"[0-9a-f]{64}", j["judge_prompt_hash"])
        assert set(j["scores"]) == {
            "instruction_following",
            "explanation",
            "efficiency",
            "readability",
            "style",
        }
    pairs = _rows(rdir / "pairs.jsonl")
    assert pairs
    judged = {j["candidate_id"]: j for j in by_kind["pointwise"]}
    for p in pairs:
        chosen_hashes = {v["hash"] for v in p["provenance"]["chosen"].values()}
        assert judged[p["chosen_id"]]["judge_prompt_hash"] in chosen_hashes


def test_feedback_resume_gives_identical_artifacts(tmp_path, tiny_lm_path, rule_judge, cli):
    url, _ = rule_judge
    out = tmp_path / "fb"
    args = _args(out, tiny_lm_path, url, "sampling.batch_size=2")
    cli(*args)
    rdir = out / "round_1"
    reference = {n: (rdir / n).read_bytes() for n in ("candidates.jsonl", "judgments.jsonl", "pairs.jsonl")}

    # Simulate a crash in the middle of sampling: the first batch is on disk, the next line torn.
    lines = reference["candidates.jsonl"].decode().splitlines(keepends=True)
    for n in reference:
        (rdir / n).unlink()
    for f in out.glob("judge_cache.sqlite*"):  # a crash during sampling happens before any judging
        f.unlink()
    (rdir / "candidates.jsonl.partial").write_text("".join(lines[:6]) + lines[6][:20])
    cli(*args)
    # byte-identical, except the sandbox's wall-clock durations, which no rerun can reproduce
    assert (rdir / "candidates.jsonl").read_bytes() == reference["candidates.jsonl"]
    assert (rdir / "pairs.jsonl").read_bytes() == reference["pairs.jsonl"]
    timing = re.compile(rb'"duration_s": [0-9.e-]+')
    assert timing.sub(b"", (rdir / "judgments.jsonl").read_bytes()) == timing.sub(
        b"", reference["judgments.jsonl"]
    )
