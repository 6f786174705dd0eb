"""A domain places its own settings in the artifact levels they shape (``LEVEL_KEYS``, core.resume):
text_to_image's score weights are pairs settings, so a rerun with new weights and ``run.recompute=true``
keeps the round's images and judgments and round 0's evaluation, and rebuilds the pairs, the update and
what follows; its other settings still invalidate everything."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from polyrlaif.core.config import TrainConfig, config_dict
from polyrlaif.core.feedback import PREFERENCE_LEVELS
from polyrlaif.core.resume import check_resume, with_domain_keys
from polyrlaif.domains.text_to_image.config import TextToImageConfig

FILES = (
    "round_0/eval_compositional/metrics.json",
    "round_1/candidates.jsonl",
    "round_1/judgments.jsonl",
    "round_1/pairs.jsonl",
    "round_1/train/model.bin",
    "round_1/eval_compositional/metrics.json",
    "round_2/candidates.jsonl",
)


def _run(tmp_path: Path) -> tuple[Path, dict]:
    saved = config_dict(TrainConfig(domain=TextToImageConfig(synthetic=True)))
    for f in FILES:
        (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f).write_text("{}\n")
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(saved))
    return tmp_path, saved


def _left(out: Path) -> set[str]:
    return {f for f in FILES if (out / f).exists()}


def test_new_score_weights_rebuild_the_pairs_from_the_judgments_on_disk(tmp_path):
    out, saved = _run(tmp_path)
    levels = with_domain_keys(PREFERENCE_LEVELS, TextToImageConfig())
    new = {**saved, "domain": {**saved["domain"], "judge_weight": 0.2}}
    with pytest.raises(ValueError, match=r"domain.judge_weight: 1.0 -> 0.2.*invalidate its pairs, updates"):
        check_resume(out, new, levels, recompute=False)
    check_resume(out, new, levels, recompute=True)
    assert _left(out) == {
        "round_0/eval_compositional/metrics.json",
        "round_1/candidates.jsonl",
        "round_1/judgments.jsonl",
    }


def test_a_domain_setting_it_does_not_place_still_invalidates_everything(tmp_path):
    out, saved = _run(tmp_path)
    levels = with_domain_keys(PREFERENCE_LEVELS, TextToImageConfig())
    new = {**saved, "domain": {**saved["domain"], "clip_model": "RN50"}}
    with pytest.raises(ValueError, match="invalidate its samples, judgments, pairs"):
        check_resume(out, new, levels, recompute=False)
    check_resume(out, new, levels, recompute=True)
    assert _left(out) == set()  # round 0 evaluated under the old settings goes too


def test_without_level_keys_the_levels_are_unchanged():
    assert with_domain_keys(PREFERENCE_LEVELS, object()) == list(PREFERENCE_LEVELS)
    placed = {lv.name: lv.keys for lv in with_domain_keys(PREFERENCE_LEVELS, TextToImageConfig())}
    assert "domain.judge_weight" in placed["pairs"] and "domain" in placed["samples"]


def test_code_score_weights_are_pairs_settings_and_its_rubric_a_judgments_setting(tmp_path):
    from polyrlaif.domains.code.config import CodeDomainConfig

    saved = config_dict(TrainConfig(domain=CodeDomainConfig()))
    levels = with_domain_keys(PREFERENCE_LEVELS, CodeDomainConfig())
    for name, change, left in (
        (
            "weights",
            {"test_weight": 0.0, "judge_weight": 1.0},
            {"round_1/candidates.jsonl", "round_1/judgments.jsonl"},
        ),
        ("rubric", {"rubric_mode": "yesno"}, {"round_1/candidates.jsonl"}),
    ):
        out = tmp_path / name
        for f in FILES:
            (out / f).parent.mkdir(parents=True, exist_ok=True)
            (out / f).write_text("{}\n")
        (out / "config.yaml").write_text(yaml.safe_dump(saved))
        check_resume(out, {**saved, "domain": {**saved["domain"], **change}}, levels, recompute=True)
        assert _left(out) == {"round_0/eval_compositional/metrics.json", *left}
