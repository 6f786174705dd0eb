"""A failed judgment never becomes a preference, and a judge outage stops the run instead of training on
nothing (the reliability issue, section 2).

The judge is the rule-based HTTP endpoint of tests/cli/conftest.py, told to answer HTTP 500 to a fixed
third of its requests, or not running at all.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest
from tiny_configs import tiny_config

from polyrlaif.core.registry import list_domains


def _preference_domains() -> list[str]:
    """Domains whose tiny run trains on preferences judged through the HTTP endpoint (a synthetic world
    judged by its own trained model, video_lmm's, fails by other means: its own tests)."""
    from polyrlaif.core.config import load_config

    cfgs = {d: load_config(tiny_config(d)) for d in list_domains()}
    return [d for d, c in cfgs.items() if c.run.mode == "preference" and c.judge.backend == "openai"]


def _rows(path):
    return [json.loads(x) for x in path.read_text().splitlines()]


def _one_in_three(text: str) -> bool:
    return int(hashlib.sha256(text.encode()).hexdigest(), 16) % 3 == 0


def _args(domain, out, model, url, *extra):
    return [
        "train",
        "--config",
        tiny_config(domain),
        f"run.output_dir={out}",
        f"model.name_or_path={model}",
        f"judge.base_url={url}",
        "judge.retries=0",
        *extra,
    ]


@pytest.mark.parametrize("domain", _preference_domains())
def test_no_domain_builds_a_pair_from_a_failed_judgment(domain, tmp_path, tiny_lm_path, rule_judge, cli):
    url, judge = rule_judge
    judge.fail_when = _one_in_three
    out = tmp_path / domain
    cli(*_args(domain, out, tiny_lm_path, url))
    assert judge.failed > 0
    metrics = json.loads((out / "metrics.json").read_text())["rounds"]
    for r in (1, 2):
        judgments = _rows(out / f"round_{r}" / "judgments.jsonl")
        # the judge's failures (the endpoint's 500s); advisory verifier failures may also be there
        failed = {j["candidate_id"] for j in judgments if j.get("failure") and j["kind"] != "verifier"}
        used = {
            c for p in _rows(out / f"round_{r}" / "pairs.jsonl") for c in (p["chosen_id"], p["rejected_id"])
        }
        assert not failed & used, f"round {r}: pairs built from failed judgments {sorted(failed & used)}"
        assert metrics[r]["candidates_held_back"] >= len(failed)
    assert sum(metrics[r]["candidates_held_back"] for r in (1, 2)) > 0


def test_judge_counters_are_per_round(tmp_path, tiny_lm_path, rule_judge, cli):
    url, judge = rule_judge
    judge.junk_when = _one_in_three  # a judge model that sometimes writes no score at all
    out = tmp_path / "code"
    cli(*_args("code", out, tiny_lm_path, url))
    rounds = json.loads((out / "metrics.json").read_text())["rounds"]
    for r in (1, 2):
        judged = [
            j for j in _rows(out / f"round_{r}" / "judgments.jsonl") if j["kind"] in ("pointwise", "yesno")
        ]
        counted = [v for k, v in rounds[r].items() if k.startswith("judge/") and k.endswith("/judgments")]
        assert counted == [len(judged)]  # this round's, not the running total
        # every judgment of a text-reading judge read one answer; the junk ones are unparseable
        unparseable = sum(str(j.get("failure")).startswith("unparseable") for j in judged)
        text_read = sum(j["kind"] == "pointwise" for j in judged)
        (name,) = [k for k in rounds[r] if k.startswith("judge/") and k.endswith("/unparseable")]
        assert rounds[r][name] == unparseable
        assert rounds[r][name.replace("/unparseable", "/answers")] == text_read
        assert rounds[r]["unparseable_rate"] == pytest.approx(unparseable / text_read)
    assert judge.junked > 0 and sum(rounds[r]["unparseable_rate"] for r in (1, 2)) > 0
    assert "unparseable_rate" in (out / "summary.txt").read_text()  # a row of the summary table


def test_an_outage_stops_the_run_and_a_rerun_retries(tmp_path, tiny_lm_path, rule_judge, cli):
    url, judge = rule_judge
    out = tmp_path / "code"
    judge.down = True  # every connection dropped without an answer
    res = subprocess.run(
        [sys.executable, "-m", "polyrlaif.core.cli", *_args("code", out, tiny_lm_path, url)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 2
    assert "round 1: all" in res.stderr and "connection" in res.stderr and url in res.stderr
    assert "Start the judge endpoint" in res.stderr
    assert not (out / "round_1" / "train").exists()  # nothing was trained on nothing
    assert not (out / "round_1" / "judgments.jsonl").exists()  # the stage is not marked finished

    # the endpoint is back: the same command retries the failed judgments and goes on
    judge.down = False
    before = judge.requests
    cli(*_args("code", out, tiny_lm_path, url))
    judgments = _rows(out / "round_1" / "judgments.jsonl")
    assert judge.requests > before
    assert not any(j.get("failure") for j in judgments if j["kind"] != "verifier")
    assert (out / "round_1" / "train" / "model").is_dir() or not _rows(out / "round_1" / "pairs.jsonl")


def test_a_judge_endpoint_that_does_not_answer_stops_the_run_before_any_work(tmp_path, tiny_lm_path):
    """Nothing listens at the judge's URL: the run stops before round 0's evaluation and any sampling,
    naming the endpoint (a server that answers at all, even with an error status, counts as up)."""
    import socket

    with socket.socket() as s:  # a free port, closed again: nothing listens there
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}/v1"
    out = tmp_path / "code"
    res = subprocess.run(
        [sys.executable, "-m", "polyrlaif.core.cli", *_args("code", out, tiny_lm_path, url)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert res.returncode == 2
    assert f"the judge endpoint {url} does not answer (ConnectError" in res.stderr
    assert "nothing was sampled" in res.stderr and "Start the judge endpoint" in res.stderr
    assert not (out / "round_0").exists() and not (out / "round_1").exists()
