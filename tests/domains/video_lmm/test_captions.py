"""Judging real videos. The ``captions`` stage: a captioning model describes, once per video and cached,
each video that the prompts bring no description for; the judge's prompts then carry those descriptions,
a rerun describes nothing again, and a changed prompts file is a changed stage. ``domain.judge_mode``:
the core's pairwise and pointwise judges, shown the video, reading its description."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tiny_configs import tiny_config

from polyrlaif.core.config import load_config
from polyrlaif.core.stages import run_stages
from polyrlaif.domains.video_lmm.build import feedback_parts, stages


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> tuple[Path, str]:
    from polyrlaif.core.tiny import TinyVLMConfig, build_tiny_vlm, corpus_words
    from polyrlaif.datasets.video.mp4 import write_mp4

    root = tmp_path_factory.mktemp("captions")
    for name, colour in (("a.mp4", (230, 40, 40)), ("b.mp4", (40, 40, 230))):
        frames = np.zeros((8, 32, 32, 3), dtype=np.uint8)
        frames[:, 10:16, 10:16] = colour
        write_mp4(root / name, frames, fps=8)
    model = build_tiny_vlm(root / "vlm", corpus_words(["a red square moves left . blue what colour ?"]),
                           TinyVLMConfig(image_size=32, hidden=32, vision_hidden=32))  # fmt: skip
    return root, str(model)


def _cfg(tmp_path: Path, root: Path, model: str, rows: list[dict]):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps(r) + "\n" for r in rows))
    overrides = [f"run.output_dir={tmp_path / 'run'}", f"domain.prompts={prompts}",
                 f"domain.videos_root={root}", f"domain.captioner={model}", "domain.caption_max_new_tokens=6",
                 "domain.synthetic=false", f"model.name_or_path={model}", "judge.backend=transformers_vlm",
                 f"judge.model={model}", "model.num_frames=2"]  # fmt: skip
    return load_config(tiny_config("video_lmm"), overrides)


def test_undescribed_videos_get_one_caption_each_and_a_rerun_describes_nothing(tmp_path, videos):
    root, model = videos
    rows = [
        {"id": "q1", "video": "a.mp4", "question": "what colour ?"},
        {"id": "q2", "video": "a.mp4", "question": "what moves ?"},
        {"id": "q3", "video": "b.mp4", "question": "what colour ?", "description": "A blue square stays."},
    ]
    cfg = _cfg(tmp_path, root, model, rows)
    plan = [s.name for s in stages(cfg)]
    assert plan == ["captions"]
    prepared, reports = run_stages(stages(cfg))
    captions = [json.loads(x) for x in Path(prepared["captions"]["captions"]).read_text().splitlines()]
    assert len(captions) == 1 and captions[0]["settings"]["max_new_tokens"] == 6  # b.mp4 had one
    out, caption = prepared["captions"], captions[0]["answer"]
    assert (out["described"], out["empty"]) == ((1, 0) if caption else (0, 1))
    prompts = {p.prompt_id: p for p in feedback_parts(cfg, prepared).offline.prompts}
    assert prompts["q3"].meta["description"] == "A blue square stays."
    # the random tiny captioner may stop at once: an empty caption is counted and describes nothing
    assert prompts["q1"].meta.get("description") == prompts["q2"].meta.get("description") == (caption or None)
    _, again = run_stages(stages(cfg))
    assert [r.status for r in again] == ["skipped"]

    rows[2].pop("description")  # another prompts file: the stage's settings changed, and it says so
    with pytest.raises(Exception, match="prompts_sha256"):
        run_stages(stages(_cfg(tmp_path, root, model, rows)))


def test_a_captioner_needs_prompts_and_not_the_synthetic_world(tmp_path, videos):
    root, model = videos
    with pytest.raises(ValueError, match="unset domain.captioner"):
        load_config(tiny_config("video_lmm"), [f"domain.captioner={model}", f"run.output_dir={tmp_path}"])


def test_captions_describe_the_prompts_of_their_video_only(tmp_path, videos):
    from polyrlaif.core.media import video_ref
    from polyrlaif.core.records import PromptRecord
    from polyrlaif.domains.video_lmm.captions import with_captions

    root, _ = videos
    a, b = video_ref(root / "a.mp4"), video_ref(root / "b.mp4")
    prompts = [PromptRecord("q1", "what?", media=[a]), PromptRecord("q2", "what?", media=[b]),
               PromptRecord("q3", "what?", media=[a], meta={"description": "given"})]  # fmt: skip
    file = tmp_path / "captions.jsonl"
    file.write_text(json.dumps({"key": a.sha256, "answer": "A red square."}) + "\n"
                    + json.dumps({"key": b.sha256, "answer": ""}) + "\n")  # fmt: skip
    got = {p.prompt_id: p.meta.get("description") for p in with_captions(prompts, str(file))}
    assert got == {"q1": "A red square.", "q2": None, "q3": "given"}


@pytest.mark.parametrize("mode", ["pairwise", "pointwise"])
def test_pairwise_and_pointwise_judges_see_the_video_and_read_the_description(tmp_path, videos, mode):
    from polyrlaif.core.records import Candidate

    root, model = videos
    rows = [{"id": "q1", "video": "a.mp4", "question": "what colour ?", "description": "A red square."}]
    cfg = _cfg(tmp_path, root, model, rows)
    cfg.domain.judge_mode, cfg.domain.captioner = mode, None
    offline = feedback_parts(cfg, {}).offline
    (judge,) = offline.judges
    assert judge.show_media and type(judge).__name__ == f"{mode.capitalize()}Judge"
    (prompt,) = offline.prompts
    cands = [Candidate(f"q1/{k}", "q1", text) for k, text in enumerate(["red", "blue"])]
    ctxs = [offline.context(prompt, c, []) for c in cands]
    assert ctxs[0] == {"video description": "A red square."}
    out = judge.judge({"q1": prompt}, cands, ctxs)
    assert len(out) == 2 and judge.stats.calls == 2  # two orders of one pair, or two answers: all asked
    assert all(j.score is not None or j.failure for j in out)  # a reply that does not parse fails, counted


def test_the_synthetic_world_judges_with_its_own_judge(tmp_path):
    with pytest.raises(ValueError, match="domain.judge_mode=context"):
        load_config(tiny_config("video_lmm"), ["domain.judge_mode=pairwise", f"run.output_dir={tmp_path}"])
