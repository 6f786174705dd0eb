"""The media seam: a policy that produces images goes through sampling, pairs, the judge cache and the
lineage the way a text policy does (issue 13's core seam)."""

from __future__ import annotations

import hashlib
import io
import random
from pathlib import Path

import pytest

from polyrlaif.core.io import read_jsonl
from polyrlaif.core.judges.modes import judge_prompt_key
from polyrlaif.core.media import write_media
from polyrlaif.core.pairs import build_pairs
from polyrlaif.core.protocols import MediaPolicy
from polyrlaif.core.records import Candidate, MediaRef, PreferencePair, PromptRecord
from polyrlaif.core.sampling import MediaSampler, media_seed

COLOURS = {"red": (220, 30, 30), "blue": (30, 30, 220), "green": (30, 200, 30)}


class PaintPolicy:
    """A real (if very small) image generator: it paints the prompt's colour word with seeded noise,
    so outputs depend on the prompt and on each output's own seed only."""

    model_id = "paint"
    model_path = "paint"
    media_kind = "image"
    suffix = ".png"

    def __init__(self) -> None:
        self.calls: list[list[int]] = []

    def settings(self) -> dict:
        return {"size": 8}

    def generate_media(self, prompts, *, seeds):
        from PIL import Image

        self.calls.append(list(seeds))
        out = []
        for text, seed in zip(prompts, seeds, strict=True):
            rng = random.Random(seed)
            base = next((rgb for word, rgb in COLOURS.items() if word in text), (128, 128, 128))
            img = Image.new("RGB", (8, 8))
            img.putdata([tuple(min(255, max(0, c + rng.randint(-20, 20))) for c in base) for _ in range(64)])
            buf = io.BytesIO()
            img.save(buf, format="PNG")
            out.append(buf.getvalue())
        return out


def _prompts() -> list[PromptRecord]:
    colours = ["red", "blue", "green"]
    return [PromptRecord(prompt_id=f"p/{i}", text=f"a {c} square") for i, c in enumerate(colours)]


def test_media_policy_satisfies_the_protocol():
    assert isinstance(PaintPolicy(), MediaPolicy)


def test_write_media_is_atomic_and_hashed(tmp_path: Path):
    ref = write_media(tmp_path / "a" / "0.png", b"\x89PNG-bytes", "image")
    assert Path(ref.uri).read_bytes() == b"\x89PNG-bytes"
    assert ref.sha256 == hashlib.sha256(b"\x89PNG-bytes").hexdigest()
    assert not list((tmp_path / "a").glob("*.tmp*"))
    with pytest.raises(ValueError, match="empty"):
        write_media(tmp_path / "b.png", b"", "image")
    with pytest.raises(ValueError, match="media kind"):
        write_media(tmp_path / "c.png", b"x", "smell")


def test_media_sampler_records_seeds_and_resumes(tmp_path: Path):
    policy = PaintPolicy()
    sampler = MediaSampler(n=2, batch_size=2, seed=7)
    out = tmp_path / "round_1" / "candidates.jsonl"
    cands = sampler.sample(policy, _prompts(), round_idx=1, out_path=out)
    assert len(cands) == 6
    for c in cands:
        assert c.text == "" and len(c.media) == 1
        ref = c.media[0]
        data = Path(ref.uri).read_bytes()
        assert ref.kind == "image" and hashlib.sha256(data).hexdigest() == ref.sha256
        assert Path(ref.uri).is_relative_to(tmp_path / "round_1" / "media")
        # each image can be produced again from its record alone
        prompt = next(p for p in _prompts() if p.prompt_id == c.prompt_id)
        assert PaintPolicy().generate_media([prompt.text], seeds=[c.sampling["seed"]])[0] == data
        assert c.sampling["size"] == 8
    assert cands[0].sampling["seed"] == media_seed(7, 1, 0, 0)
    # the JSON round trip keeps media references
    rows = read_jsonl(out)
    assert Candidate.from_dict(rows[0]).media[0] == cands[0].media[0]
    # a rerun of a finished stage does not generate again
    again = PaintPolicy()
    assert sampler.sample(again, _prompts(), round_idx=1, out_path=out) == cands
    assert again.calls == []


def test_media_candidates_pair_with_their_images(tmp_path: Path):
    prompts = {p.prompt_id: p for p in _prompts()}
    cands = MediaSampler(n=3, batch_size=8, seed=0).sample(
        PaintPolicy(), list(prompts.values()), round_idx=1, out_path=tmp_path / "c.jsonl"
    )
    scores = {c.candidate_id: float(c.candidate_id.endswith("/0")) for c in cands}
    lineage = {c.candidate_id: {"judge": {"score": scores[c.candidate_id], "hash": "h"}} for c in cands}
    pairs, stats = build_pairs(prompts, cands, scores, max_pairs_per_prompt=1, provenance=lineage)
    assert len(pairs) == 3 and stats.identical_text == 0  # empty texts are not "identical outputs"
    by_id = {c.candidate_id: c for c in cands}
    for pair in pairs:
        assert pair.chosen == "" and pair.rejected == ""
        assert pair.chosen_media == by_id[pair.chosen_id].media
        assert pair.rejected_media == by_id[pair.rejected_id].media
        assert pair.provenance["chosen"]["judge"]["score"] == 1.0
        assert PreferencePair.from_dict(pair.to_dict()) == pair


def test_identical_images_do_not_pair(tmp_path: Path):
    prompt = PromptRecord(prompt_id="p", text="a red square")
    ref = write_media(tmp_path / "same.png", b"same", "image")
    a = Candidate(candidate_id="a", prompt_id="p", text="", media=[ref])
    b = Candidate(candidate_id="b", prompt_id="p", text="", media=[MediaRef("image", ref.uri, ref.sha256)])
    pairs, stats = build_pairs({"p": prompt}, [a, b], {"a": 1.0, "b": 0.0})
    assert pairs == [] and stats.identical_text == 1


def test_judge_cache_key_follows_the_image_bytes(tmp_path: Path):
    path = tmp_path / "img.png"
    path.write_bytes(b"one")
    first = judge_prompt_key("Does this image show a red square?", [str(path)])
    path.write_bytes(b"two!")  # same path, new bytes: the cache must not replay the old verdict
    assert judge_prompt_key("Does this image show a red square?", [str(path)]) != first
