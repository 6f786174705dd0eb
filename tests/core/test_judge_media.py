"""The pairwise and pointwise judges with ``show_media``: a multimodal judge is shown each prompt's video
(or images) with the prompt, and the video's content is part of every judge prompt's key; without it the
judges, their ids and their keys are what they were."""

from __future__ import annotations

import numpy as np
import pytest

from polyrlaif.core.judges.pairwise import PairwiseJudge
from polyrlaif.core.judges.pointwise import PointwiseJudge, Rubric
from polyrlaif.core.records import Candidate, MediaRef, PromptRecord


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    from polyrlaif.core.judges.vlm_backend import VisionTransformersBackend
    from polyrlaif.core.tiny import TinyVLMConfig, build_tiny_vlm, corpus_words
    from polyrlaif.datasets.video.mp4 import write_mp4

    root = tmp_path_factory.mktemp("media_judge")
    clips = []
    for name, colour in (("red.mp4", (230, 40, 40)), ("blue.mp4", (40, 40, 230))):
        frames = np.zeros((8, 32, 32, 3), dtype=np.uint8)
        frames[:, 10:16, 10:16] = colour
        clips.append(write_mp4(root / name, frames, fps=8))
    words = corpus_words(["A B which response is better ? red blue square 1 2 3 4 5 correctness"])
    model = build_tiny_vlm(root / "vlm", words, TinyVLMConfig(image_size=32, hidden=32, vision_hidden=32))
    return clips, VisionTransformersBackend(str(model), batch_size=4, num_frames=2)


def _prompts(clips):
    # two prompts with the same text, about different videos
    return {f"p{i}": PromptRecord(f"p{i}", "what colour is the square?", media=[MediaRef("video", str(c))])
            for i, c in enumerate(clips)}  # fmt: skip


def _cands():
    return [Candidate(f"p{i}/{k}", f"p{i}", text) for i in (0, 1) for k, text in enumerate(["red", "blue"])]


def test_pairwise_judge_shows_the_video_and_keys_it(parts):
    clips, backend = parts
    seen = PairwiseJudge(backend, max_new_tokens=4, show_media=True, progress=False)
    blind = PairwiseJudge(backend, max_new_tokens=4, progress=False)
    got, plain = seen.judge(_prompts(clips), _cands()), blind.judge(_prompts(clips), _cands())
    assert seen.judge_id != blind.judge_id and seen.stats.calls == 4  # 2 pairs x 2 orders, all asked
    # the same text about another video is another question for a judge that sees it...
    assert got[0].judge_prompt_hash != got[2].judge_prompt_hash
    # ... and the same question for one that does not (identical prompts are asked once)
    assert plain[0].judge_prompt_hash == plain[2].judge_prompt_hash and blind.stats.calls == 2


def test_pointwise_judge_shows_the_video_and_keys_it(parts):
    clips, backend = parts
    rubric = Rubric("video", [("correctness", "is the answer right for the video")], 1, 5)
    seen = PointwiseJudge(backend, rubric, max_new_tokens=8, show_media=True, progress=False)
    blind = PointwiseJudge(backend, rubric, max_new_tokens=8, progress=False)
    got, plain = seen.judge(_prompts(clips), _cands()), blind.judge(_prompts(clips), _cands())
    assert got[0].judge_prompt_hash != got[2].judge_prompt_hash and seen.stats.calls == 4
    assert plain[0].judge_prompt_hash == plain[2].judge_prompt_hash and blind.stats.calls == 2
    # the tiny model's replies do not parse: failures with a reason, counted, never a made-up score
    assert all(j.score is None or 0.0 <= j.score <= 1.0 for j in got)


def test_a_judgment_records_the_key_it_was_asked_under(parts):
    """The lineage hash is the cache key: the text and, when shown, the media's contents."""
    from polyrlaif.core.judges.modes import judge_prompt_key

    clips, backend = parts
    rubric = Rubric("video", [("correctness", "is the answer right for the video")], 1, 5)
    for show in (True, False):
        judge = PointwiseJudge(backend, rubric, max_new_tokens=8, show_media=show, progress=False)
        prompts, cands = _prompts(clips), _cands()
        got = judge.judge(prompts, cands)
        for j, c in zip(got, cands, strict=True):
            text = judge.render(prompts[c.prompt_id], c, j.context or {})
            media = [m.uri for m in prompts[c.prompt_id].media] if show else ()
            assert j.judge_prompt_hash == judge_prompt_key(text, media)
