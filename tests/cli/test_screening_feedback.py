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


def _rows(path):
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def test_a_poisoned_round_trains_on_its_poison_unless_the_screens_catch_it(
    tmp_path, tiny_lm_path, rule_judge, cli
):
    """``pairs.poison`` reverses that share of the round's pairs before the screens: unscreened, the
    poisoned pairs reach pairs.jsonl marked as such; screened by the verifiers and the repeats (the
    endpoint judges deterministically), every one is dropped and no clean pair is."""
    url, _ = rule_judge
    plain = tmp_path / "plain"
    _feedback(cli, plain, url, tiny_lm_path)
    clean = {(r["chosen_id"], r["rejected_id"]) for r in _rows(plain / "round_1" / "pairs.jsonl")}
    assert len(clean) >= 2
    hit = tmp_path / "poisoned"
    _feedback(cli, hit, url, tiny_lm_path, "pairs.poison=0.5")
    rows = _rows(hit / "round_1" / "pairs.jsonl")
    bad = [r for r in rows if r["provenance"].get("poisoned") == "flipped"]
    assert len(rows) == len(clean) and len(bad) == round(0.5 * len(clean))
    assert all(
        (r["rejected_id"], r["chosen_id"]) in clean for r in bad
    )  # the same pairs, the other way round
    assert all((r["chosen_id"], r["rejected_id"]) in clean for r in rows if r not in bad)

    out = tmp_path / "screened"
    res = cli("feedback", "--config", tiny_config("code"), f"run.output_dir={out}", "run.num_prompts=3",
              f"model.name_or_path={tiny_lm_path}", f"judge.base_url={url}", "pairs.min_margin=0.0",
              "pairs.max_pairs_per_prompt=3", "pairs.poison=0.5", "pairs.repeats=2",
              "pairs.screen=[verifiers]")  # fmt: skip
    kept = _rows(out / "round_1" / "pairs.jsonl")
    dropped = _rows(out / "round_1" / "screened.jsonl")
    assert not any(r["provenance"].get("poisoned") for r in kept)
    assert {d["pair_id"] for d in dropped if d["provenance"].get("poisoned")} == {r["pair_id"] for r in bad}
    assert "poison/recall" in res.stdout and "poison/caught" in res.stdout


def test_poison_settings_are_checked_before_any_work(tmp_path, tiny_lm_path):
    import subprocess
    import sys

    cases = (
        ("pairs.poison=1.5", "pairs.poison"),
        ("pairs.poison_kind=venom", "pairs.poison_kind"),
        ("pairs.poison=0.1 pairs.random_direction=true", "pairs.poison"),
    )
    for extra, field in cases:
        res = subprocess.run(
            [sys.executable, "-m", "polyrlaif.core.cli", "feedback", "--config", tiny_config("code"),
             f"run.output_dir={tmp_path / 'x'}", f"model.name_or_path={tiny_lm_path}", *extra.split()],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert res.returncode != 0 and field in res.stderr, res.stderr[-2000:]
        assert not (tmp_path / "x" / "round_1").exists()
