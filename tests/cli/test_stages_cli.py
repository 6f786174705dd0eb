"""Preparation stages from the command line: a changed world setting stops the run before any work."""

from __future__ import annotations

import subprocess
import sys

from tiny_configs import tiny_config


def test_changed_stage_settings_stop_the_run_and_leave_the_config(tmp_path, cli):
    out = tmp_path / "run"
    args = ["train", "--config", tiny_config("vision_hallucination"), f"run.output_dir={out}"]
    args += ["domain.labeler=world", "run.rounds=0"]  # the world's own labeler; stages and round 0 only
    args += [f"domain.world_dir={out / 'world'}"]  # a folder of its own: changed settings there refuse
    first = cli(*args)
    assert "preparation stages" in first.stdout
    saved = (out / "config.yaml").read_text()

    res = subprocess.run(
        [sys.executable, "-m", "polyrlaif.core.cli", *args, "domain.world.policy_epochs=2"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 2
    assert "preparation stage 'policy_sft'" in res.stderr and "epochs: 1.0 -> 2.0" in res.stderr
    assert str(out / "world" / "policy") in res.stderr
    assert (out / "config.yaml").read_text() == saved  # the config still describes what is on disk
    assert "run.recompute=true" in res.stderr

    # recompute: the SFT'd policy is rebuilt, the world and the vision tower are kept
    world = (out / "world" / "data" / "stage.json").stat().st_mtime_ns
    again = cli(*args, "domain.world.policy_epochs=2", "run.recompute=true")
    assert "policy_sft: built with other settings" in again.stderr
    assert (out / "world" / "data" / "stage.json").stat().st_mtime_ns == world
    assert "policy_epochs: 2.0" in (out / "config.yaml").read_text()
