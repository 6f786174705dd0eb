"""A run made before a setting existed resumes when the new setting keeps its default value, and is
refused when it does not (core.resume.check_resume with defaults)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from polyrlaif.core.resume import Level, check_resume

LEVELS = (
    Level("samples", ("sampling",), ("candidates.jsonl",)),
    Level("pairs", ("pairs",), ("pairs.jsonl",)),
)


def _old_run(tmp_path: Path) -> Path:
    (tmp_path / "round_1").mkdir(parents=True)
    (tmp_path / "round_1" / "candidates.jsonl").write_text("{}\n")
    (tmp_path / "config.yaml").write_text(
        yaml.safe_dump({"sampling": {"n": 4}, "pairs": {"min_margin": 0.2}})
    )
    return tmp_path


def test_a_setting_added_since_with_its_default_is_no_change(tmp_path: Path) -> None:
    out = _old_run(tmp_path)
    new = {"sampling": {"n": 4, "steps": 20}, "pairs": {"min_margin": 0.2}}
    defaults = {"sampling": {"n": 4, "steps": 20}, "pairs": {"min_margin": 0.0}}
    check_resume(out, new, LEVELS, recompute=False, defaults=defaults)  # resumes
    with pytest.raises(ValueError, match="sampling.steps: '<unset>' -> 20"):
        check_resume(out, new, LEVELS, recompute=False)  # without defaults: a change
    with pytest.raises(ValueError, match="sampling.steps: '<unset>' -> 50"):
        check_resume(
            out, {**new, "sampling": {"n": 4, "steps": 50}}, LEVELS, recompute=False, defaults=defaults
        )
    assert (out / "round_1" / "candidates.jsonl").is_file()
