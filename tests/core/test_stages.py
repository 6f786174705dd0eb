"""Preparation stages: run once, skipped when finished, refused when their settings changed."""

from __future__ import annotations

import json

import pytest

from polyrlaif.core.protocols import PrepStage
from polyrlaif.core.stages import STAGE_FILE, run_stages


def _stages(root, calls, *, words=("a", "b"), repeat=2):
    def world(out, prepared):
        calls.append("world")
        (out / "words.txt").write_text(" ".join(words))
        return {"path": str(out / "words.txt")}

    def model(out, prepared):
        calls.append("model")
        text = open(prepared["world"]["path"]).read()
        (out / "model.txt").write_text(" ".join([text] * repeat))
        return {"model": str(out / "model.txt")}

    return [
        PrepStage("world", root / "world", {"words": list(words)}, world),
        PrepStage("model", root / "model", {"repeat": repeat}, model, after=("world",)),
    ]


def test_stages_run_once_then_are_skipped(tmp_path):
    calls: list[str] = []
    outputs, reports = run_stages(_stages(tmp_path, calls))
    assert calls == ["world", "model"]
    assert open(outputs["model"]["model"]).read() == "a b a b"
    assert [r.status for r in reports] == ["ran", "ran"]
    record = json.loads((tmp_path / "model" / STAGE_FILE).read_text())
    assert record["outputs"] == outputs["model"] and record["settings"] == {"repeat": 2}

    again, reports = run_stages(_stages(tmp_path, calls))
    assert calls == ["world", "model"]  # nothing ran again
    assert again == outputs
    assert [r.status for r in reports] == ["skipped", "skipped"]
    assert reports[1].built_seconds == record["seconds"]


def test_changed_settings_stop_before_any_stage_runs(tmp_path):
    calls: list[str] = []
    run_stages(_stages(tmp_path, calls))
    with pytest.raises(
        ValueError, match=r"stage 'model' in .*model was built with other settings: repeat: 2 -> 3"
    ):
        run_stages(_stages(tmp_path, calls, repeat=3))
    assert calls == ["world", "model"]


def test_an_upstream_change_invalidates_what_was_built_on_it(tmp_path):
    calls: list[str] = []
    run_stages(_stages(tmp_path, calls))
    with pytest.raises(ValueError, match=r"stage 'world' .* words: \['a', 'b'\] -> \['a', 'c'\]"):
        run_stages(_stages(tmp_path, calls, words=("a", "c")))
    # the world rebuilt by hand (its folder deleted): the model built on the old world is refused too
    import shutil

    shutil.rmtree(tmp_path / "world")
    with pytest.raises(ValueError, match=r"stage 'model' .*\(stage world changed\)"):
        run_stages(_stages(tmp_path, calls, words=("a", "c")))
    assert calls == ["world", "model"]


def test_an_interrupted_stage_runs_again(tmp_path):
    calls: list[str] = []
    stages = _stages(tmp_path, calls)

    def crash(out, prepared):
        raise RuntimeError("killed")

    broken = [stages[0], PrepStage("model", tmp_path / "model", {"repeat": 2}, crash, after=("world",))]
    with pytest.raises(RuntimeError):
        run_stages(broken)
    assert not (tmp_path / "model" / STAGE_FILE).exists()
    _, reports = run_stages(_stages(tmp_path, calls))
    assert [r.status for r in reports] == ["skipped", "ran"]


def test_stage_order_and_names_are_checked(tmp_path):
    calls: list[str] = []
    world, model = _stages(tmp_path, calls)
    with pytest.raises(ValueError, match=r"stage 'model' reads \['world'\], which do not run before it"):
        run_stages([model, world])
    with pytest.raises(ValueError, match="two preparation stages are named 'world'"):
        run_stages([world, world])
    assert calls == []


def test_recompute_rebuilds_a_changed_stage_and_what_was_built_on_it(tmp_path):
    from polyrlaif.core.stages import stage_plan

    calls: list[str] = []
    run_stages(_stages(tmp_path, calls))
    stage_plan(_stages(tmp_path, calls, words=("a", "c")), recompute=True)  # deletes world and model
    outputs, reports = run_stages(_stages(tmp_path, calls, words=("a", "c")))
    assert calls == ["world", "model", "world", "model"]
    assert [r.status for r in reports] == ["ran", "ran"]
    assert open(outputs["model"]["model"]).read() == "a c a c"
