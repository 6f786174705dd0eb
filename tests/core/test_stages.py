"""Preparation stages: run once, skipped when finished, refused when their settings changed; without a
folder of their own, kept in the shared cache under their settings hash."""

from __future__ import annotations

import json
import threading
import time

import pytest
from tiny_configs import tiny_config

from polyrlaif.core.protocols import PrepStage
from polyrlaif.core.stages import STAGE_FILE, run_stages


def _stages(root, calls, *, words=("a", "b"), repeat=2, pause=0.0):
    def world(out, prepared):
        calls.append("world")
        time.sleep(pause)
        (out / "words.txt").write_text(" ".join(words))
        return {"path": str(out / "words.txt")}

    def model(out, prepared):
        calls.append("model")
        text = open(prepared["world"]["path"]).read()
        (out / "model.txt").write_text(" ".join([text] * repeat))
        return {"model": str(out / "model.txt")}

    return [
        PrepStage("world", root and root / "world", {"words": list(words)}, world),
        PrepStage("model", root and root / "model", {"repeat": repeat}, model, after=("world",)),
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


def test_stages_without_a_folder_are_cached_by_their_settings(tmp_path):
    from polyrlaif.core.stages import place_stages

    calls: list[str] = []
    cache = tmp_path / "cache"
    with pytest.raises(ValueError, match=r"\['world', 'model'\] have no folder"):
        run_stages(_stages(None, calls))

    def plan(**kw):
        stages = _stages(None, calls, **kw)
        place_stages(stages, cache)
        return stages

    first = plan()
    assert [s.output_dir.parent for s in first] == [cache, cache]
    assert [s.output_dir.name.split("-")[0] for s in first] == ["world", "model"]
    run_stages(first)
    # another run with the same settings, from anywhere, finds both built
    again, reports = run_stages(plan())
    assert [r.status for r in reports] == ["skipped", "skipped"] and calls == ["world", "model"]
    # other settings downstream: the world is reused, the model built beside the first, nothing refused
    other = plan(repeat=3)
    outputs, reports = run_stages(other)
    assert [r.status for r in reports] == ["skipped", "ran"] and calls == ["world", "model", "model"]
    assert other[1].output_dir != first[1].output_dir and (first[1].output_dir / STAGE_FILE).is_file()
    assert open(outputs["model"]["model"]).read() == "a b a b a b"
    # a change upstream moves what was built on it as well
    assert [s.output_dir == f.output_dir for s, f in zip(plan(words=("c",)), first, strict=True)] == [
        False,
        False,
    ]


def test_two_runs_building_one_cached_stage_build_it_once(tmp_path):
    from polyrlaif.core.stages import place_stages

    calls: list[str] = []
    reports: list[list[str]] = []

    def one_run():
        stages = _stages(None, calls, pause=0.5)
        place_stages(stages, tmp_path / "cache")
        reports.append([r.status for r in run_stages(stages)[1]])

    runs = [threading.Thread(target=one_run) for _ in range(2)]
    for t in runs:
        t.start()
    for t in runs:
        t.join()
    assert calls == ["world", "model"]  # each stage built once: the other run waited, then found it built
    for stage in range(2):  # which run builds which stage is up to the scheduler
        assert sorted(r[stage] for r in reports) == ["ran", "skipped"]


def test_a_run_without_world_dir_places_its_world_in_the_cache_from_any_folder(tmp_path, monkeypatch):
    from polyrlaif.core.config import load_config
    from polyrlaif.core.run import setup

    monkeypatch.setenv("POLYRLAIF_WORLDS", str(tmp_path / "worlds"))
    places = []
    for name in ("a", "b"):
        monkeypatch.chdir(tmp_path.joinpath(name).mkdir() or tmp_path / name)
        run = setup(load_config(tiny_config("search_agent"), [f"run.output_dir={tmp_path / name / 'run'}"]))
        places.append(run.plan[0].output_dir)
    assert places[0] == places[1] and places[0].parent == tmp_path / "worlds" / "search_agent"
