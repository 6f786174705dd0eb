"""The run's ``model.num_frames`` reaches every model of a video_lmm run that reads video: the policy, the
judge (and its identity, so its cache never mixes frame counts) and the world's SFT and judge stages."""

from __future__ import annotations

import json

import numpy as np
from tiny_configs import tiny_config

from polyrlaif.core.config import load_config
from polyrlaif.domains.video_lmm.adapter import ADAPTER
from polyrlaif.domains.video_lmm.build import feedback_parts, stages


def _user_run(tmp_path, num_frames: int):
    from polyrlaif.datasets.video.mp4 import write_mp4

    write_mp4(tmp_path / "clip.mp4", np.zeros((8, 32, 32, 3), dtype=np.uint8), fps=8)
    (tmp_path / "prompts.jsonl").write_text(
        json.dumps({"video": "clip.mp4", "question": "which way?"}) + "\n"
    )
    overrides = [
        f"run.output_dir={tmp_path / 'run'}",
        f"model.num_frames={num_frames}",
        "domain.synthetic=false",
        f"domain.prompts={tmp_path / 'prompts.jsonl'}",
        f"domain.videos_root={tmp_path}",
        "judge.backend=transformers_vlm",
        "judge.model=some/vlm-judge",
    ]
    return load_config(tiny_config("video_lmm"), overrides)


def test_the_policy_and_the_judge_read_the_runs_frame_count(tmp_path):
    cfg = _user_run(tmp_path, 3)
    assert ADAPTER.policy_kwargs(cfg) == {"num_frames": 3}
    (judge,) = feedback_parts(cfg, {}).offline.judges  # no model loads: the backend is lazy
    assert judge.backend.num_frames == 3
    # a judge reading 3 frames is not one reading 5: their ids, and so their cache entries, differ
    other = feedback_parts(_user_run(tmp_path, 5), {}).offline.judges[0]
    assert other.backend.num_frames == 5 and other.judge_id != judge.judge_id


def test_the_world_trains_policy_and_judge_at_the_runs_frame_count(tmp_path):
    cfg = load_config(tiny_config("video_lmm"), [f"run.output_dir={tmp_path}", "model.num_frames=3"])
    by_name = {s.name: s for s in stages(cfg)}
    assert by_name["policy_sft"].settings["num_frames"] == 3 and by_name["judge"].settings["num_frames"] == 3
