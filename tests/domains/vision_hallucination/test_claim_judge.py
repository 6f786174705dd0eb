"""The divide-and-conquer judge with a real tiny VLM labeler (random weights, built from a config).

The labeler's answers carry no knowledge, but they are real next-token probabilities read through the
real multimodal code path, so the tests check the judge's bookkeeping against them: p(yes) per claim
equals what the backend says for that question and image, the score counts the rejected claims, the
cache replays and is keyed by the image bytes, bad images fail only their own responses, and the
cascade keeps settled claims from the labeler.
"""

from __future__ import annotations

import math
import os

import pytest

from polyrlaif.core.judges import JudgeCache
from polyrlaif.core.records import Candidate, MediaRef, PromptRecord
from polyrlaif.domains.vision_hallucination.claims import RuleClaimExtractor
from polyrlaif.domains.vision_hallucination.judge import DivideConquerJudge

SENTENCES = [
    "There is a red circle, a blue square and a green star.",
    "There are two blue stars.",
    "Is there a red circle in the image? yes no",
    "Is it true that the circle is red?",
]

RESPONSES = {
    "a": [
        "There is a red circle and a blue square.",
        "There is a green star, two blue stars and a red circle.",
    ],
    "b": ["There is a blue square. The circle is red.", ""],
}


class CountingBackend:
    """Delegates to a backend and counts the conversations it is asked about (same ``name``)."""

    def __init__(self, inner) -> None:
        self.inner, self.name, self.asked = inner, inner.name, 0

    def complete(self, conversations, **kw):
        raise AssertionError("the claim judge must not generate")

    def yes_no(self, conversations, **kw):
        self.asked += len(conversations)
        return self.inner.yes_no(conversations, **kw)


@pytest.fixture(scope="module")
def vlm_backend(tmp_path_factory):
    from polyrlaif.core.judges.vlm_backend import VisionTransformersBackend
    from polyrlaif.core.tiny import TinyVLMConfig, build_tiny_vlm, corpus_words

    cfg = TinyVLMConfig(
        image_size=32, patch_size=8, vision_hidden=32, vision_layers=1, hidden=32, layers=1, heads=2
    )
    path = build_tiny_vlm(tmp_path_factory.mktemp("vlm") / "labeler", corpus_words(SENTENCES), cfg)
    return VisionTransformersBackend(str(path), device="cpu", dtype="float32", batch_size=16)


def _draw(path, shape: str, colour: str) -> str:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (48, 48), "white")
    draw = ImageDraw.Draw(img)
    (draw.ellipse if shape == "circle" else draw.rectangle)([10, 10, 38, 38], fill=colour)
    img.save(path)
    return str(path)


@pytest.fixture
def world(tmp_path):
    images = {
        "a": _draw(tmp_path / "a.png", "circle", "red"),
        "b": _draw(tmp_path / "b.png", "square", "blue"),
    }
    prompts = {
        pid: PromptRecord(prompt_id=pid, text="Describe the image.", media=[MediaRef("image", path)])
        for pid, path in images.items()
    }
    cands = [
        Candidate(candidate_id=f"{pid}/{i}", prompt_id=pid, text=t)
        for pid, texts in RESPONSES.items()
        for i, t in enumerate(texts)
    ]
    return images, prompts, cands


def _direct_p_yes(backend, question: str, image: str) -> float:
    """What the labeler says for one question and image, asked without the judge."""
    conv = [
        {"role": "user", "content": [{"type": "image", "path": image}, {"type": "text", "text": question}]}
    ]
    (ans,) = backend.yes_no([conv], yes=("yes", "Yes"), no=("no", "No"))
    assert ans.ok, ans.error
    return ans.p_yes


def _judge(backend, **kw) -> DivideConquerJudge:
    kw.setdefault("min_claims", 0)  # these tests score claim-less responses too; see test_no_claims_*
    return DivideConquerJudge(backend, RuleClaimExtractor(), progress=False, **kw)


def _unique_questions(judgments, cands) -> set[tuple[str, str]]:
    return {
        (c.prompt_id, r["question"])
        for j, c in zip(judgments, cands, strict=True)
        for r in j.scores["claims"]
    }


def test_scores_count_rejected_claims_and_cache_replays(vlm_backend, world, tmp_path):
    images, prompts, cands = world
    questions = sorted(
        {
            (pid, q)
            for pid, texts in RESPONSES.items()
            for t in texts
            for q in RuleClaimExtractor().extract([("", t)])[0].questions
        }
    )
    direct = {(pid, q): _direct_p_yes(vlm_backend, q, images[pid]) for pid, q in questions}
    # the median as threshold, so that some claims are rejected and some accepted
    threshold = sorted(direct.values())[len(direct) // 2]

    backend = CountingBackend(vlm_backend)
    with JudgeCache(tmp_path / "cache.sqlite") as cache:
        judge = _judge(backend, threshold=threshold, cache=cache)
        first = judge.judge(prompts, cands)
        assert backend.asked == len(questions) == judge.stats.calls and judge.stats.cache_hits == 0

        rejected_total = 0
        for j, c in zip(first, cands, strict=True):
            rows = j.scores["claims"]
            for r in rows:
                assert 0.0 <= r["p_yes"] <= 1.0 and r["by"] == "labeler"
                assert r["p_yes"] == pytest.approx(direct[(c.prompt_id, r["question"])], abs=1e-4)
                assert r["rejected"] is (r["p_yes"] < threshold)
            n_rej = sum(r["p_yes"] < threshold for r in rows)
            assert j.ok and j.score == -n_rej and j.scores["n_rejected"] == n_rej
            assert j.scores["n_claims"] == len(rows) and j.kind == "claims" and not j.cached
            rejected_total += n_rej
        n_claims = sum(len(j.scores["claims"]) for j in first)
        assert 0 < rejected_total < n_claims  # both verdicts occur, so the count is tested
        assert judge.stats.claims == n_claims and judge.stats.rejected == rejected_total
        assert first[3].scores["n_claims"] == 0 and math.copysign(1.0, first[3].score) == 1.0  # 0.0, not -0.0
        assert first[2].scores["claims"][1]["question"] == "Is it true that the circle is red?"

        # a second judge over the same cache: same answers, no model call
        backend.asked = 0
        again = _judge(backend, threshold=threshold, cache=cache)
        second = again.judge(prompts, cands)
    assert backend.asked == 0 and again.stats.calls == 0 and again.stats.cache_hits == len(questions)
    for a, b in zip(first, second, strict=True):
        assert b.cached == bool(b.scores["claims"])
        for r in b.scores["claims"]:
            assert r.pop("cached") is True
        for r in a.scores["claims"]:
            assert r.pop("cached") is False
        assert {**a.to_dict(), "cached": b.cached} == b.to_dict()


def test_changed_image_is_asked_anew(vlm_backend, world, tmp_path):
    images, prompts, cands = world
    backend = CountingBackend(vlm_backend)
    with JudgeCache(tmp_path / "cache.sqlite") as cache:
        first = _judge(backend, cache=cache).judge(prompts, cands)
        n_b = len(_unique_questions(first[2:], cands[2:]))
        assert n_b == 2

        _draw(images["b"], "circle", "green")  # same path, new picture
        st = os.stat(images["b"])
        os.utime(images["b"], ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
        backend.asked = 0
        judge = _judge(backend, cache=cache)
        second = judge.judge(prompts, cands)
    assert backend.asked == n_b == judge.stats.calls  # only image b's questions
    assert judge.stats.cache_hits == len(_unique_questions(first, cands)) - n_b
    assert [j.judge_prompt_hash for j in second[:2]] == [j.judge_prompt_hash for j in first[:2]]
    assert second[2].judge_prompt_hash != first[2].judge_prompt_hash
    assert second[0].cached and not second[2].cached


def test_bad_images_fail_only_their_responses(vlm_backend, world, tmp_path):
    images, prompts, cands = world
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"this is not a png")
    prompts["gone"] = PromptRecord("gone", "Describe.", media=[MediaRef("image", str(tmp_path / "gone.png"))])
    prompts["broken"] = PromptRecord("broken", "Describe.", media=[MediaRef("image", str(broken))])
    cands = [
        Candidate("gone/0", "gone", "There is a red circle."),
        *cands,
        Candidate("broken/0", "broken", "There is a blue square."),
    ]
    judge = _judge(CountingBackend(vlm_backend), batch_size=64)  # all claims in one labeler batch
    out = judge.judge(prompts, cands)

    assert out[0].score is None and out[0].failure.startswith("missing_image: ")
    assert str(tmp_path / "gone.png") in out[0].failure
    assert out[-1].score is None and out[-1].failure.startswith("unreadable_image: ")
    assert str(broken) in out[-1].failure
    assert all(j.ok for j in out[1:-1])  # the good images in the same batch are judged
    assert dict(judge.stats.failures) == {"missing_image": 1, "unreadable_image": 1}
    assert judge.stats.judgments == len(cands)


class RuleChecker:
    """A cheap checker by rule: sure about red circles (true) and green things (false)."""

    checker_id = "rule-checker-v1"

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def p_true(self, images, claims):
        self.seen.extend(zip(images, claims, strict=True))
        out = []
        for claim in claims:
            if "red circle" in claim:
                out.append(0.95)
            elif "green" in claim:
                out.append(0.05)
            elif "two" in claim:
                out.append(float("nan"))  # not a probability: escalate
            else:
                out.append(0.5)  # unsure: escalate
        return out


def test_cascade_settles_confident_claims(vlm_backend, world):
    images, prompts, cands = world
    backend, checker = CountingBackend(vlm_backend), RuleChecker()
    judge = _judge(backend, checker=checker, band=(0.2, 0.8))
    out = judge.judge(prompts, cands)

    rows = [r for j in out for r in j.scores["claims"]]
    settled = [r for r in rows if r["by"] == "checker"]
    escalated = [r for r in rows if r["by"] == "labeler"]
    assert {r["claim"] for r in settled} == {"There is a red circle.", "There is a green star."}
    assert all(r["p_yes"] in (0.95, 0.05) for r in settled)
    assert {r["claim"] for r in escalated} == {
        "There is a blue square.",
        "There are two blue stars.",
        "The circle is red.",
    }
    stats = judge.stats
    assert (stats.claims, stats.settled_by_checker, stats.escalated) == (
        len(rows),
        len(settled),
        len(escalated),
    )
    assert stats.as_dict()["labeler_calls_saved_rate"] == pytest.approx(len(settled) / len(rows))
    # only escalated (question, image) pairs reach the labeler
    asked = {
        (c.prompt_id, r["question"])
        for j, c in zip(out, cands, strict=True)
        for r in j.scores["claims"]
        if r["by"] == "labeler"
    }
    assert backend.asked == stats.calls == len(asked) == 4  # blue square on a and on b, two stars, circle red
    assert backend.asked < len(rows)
    assert checker.seen[0] == (images["a"], "There is a red circle.")
    for j in out:
        assert j.score == -sum(r["p_yes"] < 0.5 for r in j.scores["claims"])
    assert out[1].scores["claims"][0]["rejected"] is True  # the green star, settled false by the checker
    assert judge.judge_id != _judge(backend).judge_id  # the checker is part of the judge's identity


def test_no_claims_is_a_failure_by_default(vlm_backend, world):
    """An answer with no checkable claim cannot win a pair by saying nothing: unscored, with a reason."""
    _, prompts, _ = world
    judge = DivideConquerJudge(vlm_backend, RuleClaimExtractor(), progress=False)
    texts = ["", "?? .", "There is a red circle."]
    cands = [Candidate(candidate_id=f"a/{k}", prompt_id="a", text=t) for k, t in enumerate(texts)]
    out = judge.judge(prompts, cands)
    assert [j.score is None for j in out] == [True, True, False]
    assert out[0].failure.startswith("no_claims:") and judge.stats.failures["no_claims"] == 2
