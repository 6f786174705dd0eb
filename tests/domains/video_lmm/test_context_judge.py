"""The context-aware judge: it reads the video and its description, asks again without the description
and counts how often that flips the order of a prompt's answers; an unreadable video fails the judgment
with its reason instead of becoming a score."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from polyrlaif.core.records import Candidate, MediaRef, PromptRecord


@pytest.fixture(scope="module")
def judge_parts(tmp_path_factory):
    from polyrlaif.core.judges.vlm_backend import VisionTransformersBackend
    from polyrlaif.core.tiny import TinyVLMConfig, build_tiny_vlm, corpus_words
    from polyrlaif.datasets.video.mp4 import write_mp4
    from polyrlaif.domains.video_lmm.prompts import JUDGE_TEMPLATE

    root = tmp_path_factory.mktemp("judge")
    frames = np.zeros((12, 32, 32, 3), dtype=np.uint8)
    frames[:, 10:16, 10:16] = (230, 40, 40)
    clip = write_mp4(root / "clip.mp4", frames, fps=8)
    words = corpus_words(
        [JUDGE_TEMPLATE, "a red square stays still which way did it move left right none yes no"]
    )
    cfg = TinyVLMConfig(image_size=32, hidden=32, vision_hidden=32, max_positions=512)
    model = build_tiny_vlm(root / "vlm", words, cfg)
    return clip, VisionTransformersBackend(str(model), batch_size=4, num_frames=4)


def _prompt(pid: str, video: Path) -> PromptRecord:
    return PromptRecord(pid, "which way did it move?", media=[MediaRef("video", str(video))],
                        meta={"description": "a red square stays still"})  # fmt: skip


def test_scores_both_ways_and_counts_flips(judge_parts) -> None:
    from polyrlaif.domains.video_lmm.judge import ContextAwareJudge

    clip, backend = judge_parts
    judge = ContextAwareJudge(backend)
    prompts = {"p": _prompt("p", clip)}
    cands = [Candidate(f"p/{i}", "p", text) for i, text in enumerate(["left", "right", "none"])]
    out = judge.judge(prompts, cands)
    assert all(j.ok and 0 < j.score < 1 for j in out)
    assert all(j.score == j.scores["p_yes"] and j.scores["p_yes_no_context"] is not None for j in out)
    stats = judge.stats.as_dict()
    assert stats["context_comparisons"] == 3 and 0 <= stats["context_flips"] <= 3
    ablation = ContextAwareJudge(backend, use_context=False)
    assert ablation.judge_id != judge.judge_id
    assert [j.score for j in ablation.judge(prompts, cands)] == [j.scores["p_yes_no_context"] for j in out]


def test_an_unreadable_video_fails_the_judgment(judge_parts, tmp_path: Path) -> None:
    from polyrlaif.domains.video_lmm.judge import ContextAwareJudge

    _, backend = judge_parts
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    judge = ContextAwareJudge(backend)
    (j,) = judge.judge({"p": _prompt("p", bad)}, [Candidate("p/0", "p", "left")])
    assert j.score is None and j.failure and "bad.mp4" in j.failure
    assert judge.stats.as_dict()["failures"]


def test_answer_scoring_asks_each_prompt_once_and_scores_a_distribution(judge_parts) -> None:
    from polyrlaif.domains.video_lmm.judge import ContextAwareJudge

    clip, backend = judge_parts
    judge = ContextAwareJudge(backend, scoring="answer")
    assert judge.judge_id != ContextAwareJudge(backend).judge_id
    prompt = _prompt("p", clip)
    prompt.meta["answers"] = ["left", "right", "none"]
    cands = [Candidate(f"p/{i}", "p", text) for i, text in enumerate(["left", "Right.", "none"])]
    out = judge.judge({"p": prompt}, cands)
    assert all(j.ok and 0 < j.score < 1 for j in out)
    # the three answers are the judge's distribution over the prompt's answer words, with and without
    assert sum(j.score for j in out) == pytest.approx(1.0, abs=1e-5)
    assert sum(j.scores["p_yes_no_context"] for j in out) == pytest.approx(1.0, abs=1e-5)
    assert judge.stats.calls == 2  # one prompt, asked with and without the description
    bare = _prompt("q", clip)  # no answer words: a failure with its reason, never a score
    (j,) = judge.judge({"q": bare}, [Candidate("q/0", "q", "left")])
    assert j.score is None and "no_answer_words" in j.failure
    with pytest.raises(ValueError, match="scoring"):
        ContextAwareJudge(backend, scoring="likert")
