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


def test_judge_active_asks_the_endpoint_only_about_some_prompts(tmp_path, tiny_lm_path, rule_judge, cli):
    """A local yes/no judge first; the HTTP judge (the expensive one) sees half the prompts. (With
    ``pairs.length_adjust`` on, for its summary line.)"""
    url, state = rule_judge
    out = tmp_path / "active"
    res = cli("feedback", "--config", tiny_config("code"), f"run.output_dir={out}", "run.num_prompts=4",
              f"model.name_or_path={tiny_lm_path}", "domain.rubric_mode=yesno", f"judge.base_url={url}",
              f"judge.active={{backend: transformers, model: {tiny_lm_path}}}",
              "judge.active_budget=0.5", "pairs.length_adjust=true")  # fmt: skip
    assert "length/score_per_char" in res.stdout  # pairs.length_adjust: the slope taken out is reported
    rows = [json.loads(x) for x in (out / "round_1" / "judgments.jsonl").read_text().splitlines()]
    act = [r for r in rows if r["judge_id"].startswith("active-0.5")]
    by = {r["prompt_id"]: r["scores"]["by"] for r in act}
    assert sorted(by.values()) == ["cheap", "cheap", "expensive", "expensive"]
    assert state.requests == sum(r["scores"]["by"] == "expensive" for r in act)  # one request a candidate


def test_judge_sets_are_refused_where_a_domain_would_ignore_them():
    """A domain whose judge is not built from the judge section (the vision labeler pipeline, the CLIP
    image judge) stops at load naming ``judge.ensemble``/``judge.active``; those that build it through
    ``configured_judge`` (code, spoken_lm, text_to_image with the VLM slot judge) accept them."""
    from polyrlaif.core.config import load_config

    members = "judge.ensemble=[{model: a}, {model: b}]"
    with pytest.raises(ValueError, match=r"judge.ensemble.*vision_hallucination does not build its judge"):
        load_config(tiny_config("vision_hallucination"), [members])
    with pytest.raises(ValueError, match=r"judge.active.*text_to_image does not build its judge"):
        load_config(tiny_config("text_to_image"), ["domain.judge=clip", "judge.active={model: a}"])
    assert load_config(tiny_config("text_to_image"), ["domain.judge=vlm", members]).judge.ensemble
    assert load_config(tiny_config("spoken_lm"), [members]).judge.ensemble
    with pytest.raises(ValueError, match=r"judge.ensemble.*code does not build"):
        load_config(tiny_config("code"), ["domain.rubric_judge=false", members])
