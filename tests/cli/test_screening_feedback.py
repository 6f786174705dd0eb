"""``pairs.repeats`` and ``pairs.screen`` through ``polyrlaif feedback`` on the code domain: every judge
is asked again (its repeats stored beside its judgments, so a rerun replays them with no request), the
pairs a repeat or a verifier contradicts are dropped and listed in ``screened.jsonl``, and the kept and
dropped pairs together are the pairs the same round makes without screening; ``polyrlaif audit --poison``
then measures the screens against the round's own pairs, poisoned."""

from __future__ import annotations

import json

from tiny_configs import tiny_config


def _feedback(cli, out, url, tiny_lm_path, *extra):
    cli("feedback", "--config", tiny_config("code"), f"run.output_dir={out}", "run.num_prompts=3",
        f"model.name_or_path={tiny_lm_path}", f"judge.base_url={url}", "pairs.min_margin=0.0",
        "pairs.max_pairs_per_prompt=3", *extra)  # fmt: skip
    rows = [json.loads(x) for x in (out / "round_1" / "pairs.jsonl").read_text().splitlines()]
    return {r["pair_id"] for r in rows}


def test_repeated_judgments_screen_pairs_and_replay(tmp_path, tiny_lm_path, rule_judge, cli):
    url, state = rule_judge
    plain = _feedback(cli, tmp_path / "plain", url, tiny_lm_path)
    out = tmp_path / "screened"
    kept = _feedback(cli, out, url, tiny_lm_path, "pairs.repeats=2", "pairs.screen=[verifiers]")
    judgments = [json.loads(x) for x in (out / "round_1" / "judgments.jsonl").read_text().splitlines()]
    ids = {j["judge_id"] for j in judgments}
    assert any(i.endswith("#r1") for i in ids) and len(ids) == 4  # tests, api usage, the judge, its repeat
    dropped = [json.loads(x) for x in (out / "round_1" / "screened.jsonl").read_text().splitlines()]
    assert kept | {d["pair_id"] for d in dropped} == plain and not kept & {d["pair_id"] for d in dropped}
    assert all(set(d["reasons"]) <= {"verifiers", "repeats"} and d["reasons"] for d in dropped)
    before = state.requests
    assert _feedback(cli, out, url, tiny_lm_path, "pairs.repeats=2", "pairs.screen=[verifiers]") == kept
    assert state.requests == before  # the repeats were stored: a rerun asks nothing

    # the audit poisons the round's own pairs and measures the same screens against them
    cli("audit", "--config", tiny_config("code"), f"run.output_dir={out}", "run.num_prompts=3",
        f"model.name_or_path={tiny_lm_path}", f"judge.base_url={url}", "pairs.min_margin=0.0",
        "pairs.max_pairs_per_prompt=3", "pairs.repeats=2", "pairs.screen=[verifiers]",
        "--limit", "1", "--repeats", "1", "--poison", "0.2,0.5")  # fmt: skip
    report = json.loads((out / "audit" / "audit.json").read_text())
    rows = report["poison"]
    assert [(r["kind"], r["rate"]) for r in rows] == [
        (k, x) for k in ("flipped", "targeted") for x in (0.2, 0.5)
    ]
    flipped = [r for r in rows if r["kind"] == "flipped"]
    assert all(r["screens"] == ["repeats", "verifiers"] and r["poisoned"] >= 1 for r in flipped)
    # the endpoint judges by a hash of the prompt, the same every time: a flipped judged pair is one the
    # repeat ranks the other way
    assert all(r["recall"]["value"] == 1.0 for r in flipped)
    assert "Poisoned pairs against the screens" in (out / "audit" / "audit.md").read_text()
