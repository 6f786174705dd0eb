"""``judge.ensemble`` end to end through ``polyrlaif feedback`` on the code domain."""

from __future__ import annotations

import json

import pytest
from tiny_configs import tiny_config


def test_judge_ensemble_reaches_the_code_domains_judge(tmp_path, tiny_lm_path, rule_judge, cli):
    """A local yes/no judge and an HTTP one, as one worst-case judge: each candidate's judgment holds
    both members' scores and the minimum; a member field the judge does not have stops the config."""
    url, _ = rule_judge
    out = tmp_path / "ens"
    members = f"[{{backend: transformers, model: {tiny_lm_path}}}, {{backend: openai, base_url: '{url}'}}]"
    cli("feedback", "--config", tiny_config("code"), f"run.output_dir={out}", "run.num_prompts=2",
        f"model.name_or_path={tiny_lm_path}", "domain.rubric_mode=yesno", f"judge.ensemble={members}",
        "judge.ensemble_aggregate=wco")  # fmt: skip
    rows = [json.loads(x) for x in (out / "round_1" / "judgments.jsonl").read_text().splitlines()]
    ens = [r for r in rows if r["judge_id"].startswith("ensemble-wco")]
    assert ens and all(len(r["scores"]["members"]) == 2 for r in ens)
    for r in ens:
        assert r["score"] == pytest.approx(min(r["scores"]["members"].values()))
    from polyrlaif.core.config import load_config

    with pytest.raises(ValueError, match=r"judge.ensemble\[1\].*unknown judge field"):
        load_config(tiny_config("code"), ["judge.ensemble=[{model: a}, {modle: b}]"])
