"""The contract every registered domain meets: full RLAIF rounds on tiny models from one command.

Each domain ships ``configs/<domain>/tiny.yaml``; the test points its policy at the tiny random chat
model (tests/conftest.py) and its judge at the rule-based HTTP endpoint (tests/cli/conftest.py), runs
``polyrlaif train``, checks the artifacts a user relies on, then reruns and checks that the rerun
resumes: no judge request is repeated.
"""

from __future__ import annotations

import json

import pytest

from polyrlaif.core.registry import list_domains


@pytest.mark.parametrize("domain", list_domains())
def test_one_full_round(domain, tmp_path, tiny_lm_path, rule_judge, cli):
    url, judge = rule_judge
    out = tmp_path / domain
    args = [
        "train",
        "--config",
        f"{domain}/tiny",
        f"run.output_dir={out}",
        f"model.name_or_path={tiny_lm_path}",
        f"judge.base_url={url}",
    ]
    res = cli(*args)
    rdir = out / "round_1"
    for name in ("candidates.jsonl", "judgments.jsonl", "pairs.jsonl"):
        assert (rdir / name).stat().st_size > 0, name
    pairs = [json.loads(x) for x in (rdir / "pairs.jsonl").read_text().splitlines()]
    assert pairs and all(p["margin"] > 0 and p["chosen"] != p["rejected"] for p in pairs)
    assert all(p["provenance"]["chosen"] and p["provenance"]["rejected"] for p in pairs)  # lineage
    assert (rdir / "train" / "model" / "config.json").is_file()  # the updated policy, for the next round
    # iterative: round 2 samples from the policy that round 1 trained
    round2 = [json.loads(x) for x in (out / "round_2" / "candidates.jsonl").read_text().splitlines()]
    assert {c["policy"] for c in round2} == {str(rdir / "train" / "model")}
    metrics = json.loads((out / "metrics.json").read_text())
    assert [r["round"] for r in metrics["rounds"]] == [0, 1, 2]
    assert metrics["rounds"][1]["pairs_kept"] == len(pairs) and "train/loss" in metrics["rounds"][1]
    assert (out / "metrics.png").stat().st_size > 1000 and (out / "config.yaml").is_file()
    assert "metrics per round" in res.stdout
    assert judge.requests > 0

    before = judge.requests
    cli(*args)
    assert judge.requests == before  # resumed: stages skipped, the judge cache answered
