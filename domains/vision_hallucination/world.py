"""The synthetic shape world's models: a hallucinating starting policy and an independent labeler.

Real MLLM weights cannot be downloaded here, so the domain proves learning in a world with exact ground
truth (:mod:`polyrlaif.datasets.shapes`):

1. the world's images, annotations, POPE questions and SFT data are generated from a seed;
2. a tiny LLaVA-style VLM (:func:`polyrlaif.core.tiny.build_tiny_vlm`) is SFT'd on captions of the ``sft``
   split, a share of which name an object that is not there: the policy learns to hallucinate sometimes;
3. a second tiny VLM, initialised and trained separately on the disjoint ``labeler`` split, learns to
   answer yes/no questions about objects. It is the labeler of the divide-and-conquer judge: feedback
   comes from this model, never from the oracle.

Every step is resumable: a finished step leaves a checkpoint with a ``DONE`` marker and is skipped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from polyrlaif.core.io import read_jsonl
from polyrlaif.domains.vision_hallucination.config import VisionHallucinationConfig

__all__ = [
    "N_OBJECT_LABELS",
    "WorldModels",
    "labeler_report",
    "object_labels",
    "prepare_world",
    "prepare_world_checker",
]

#: Words the labeler and the claim questions use beyond the world's own texts.
EXTRA_WORDS = ("yes", "no", "is", "are", "there", "in", "the", "image", "?", "it", "true", "that")


@dataclass
class WorldModels:
    """Paths of a prepared world."""

    data_dir: Path
    policy: Path
    labeler: Path


def _log(msg: str) -> None:
    print(f"[polyrlaif {time.strftime('%H:%M:%S')}] world: {msg}", flush=True)


def _conversation(data_dir: Path, image: str, text: str) -> list[dict]:
    path = str(data_dir / "images" / image)
    return [{"role": "user", "content": [{"type": "image", "path": path}, {"type": "text", "text": text}]}]


def prepare_world(d: VisionHallucinationConfig, root: str | Path, *, labeler: bool = True) -> WorldModels:
    """Generate the world and train its two models, skipping what an earlier run finished.

    With ``labeler=False`` the labeler is not trained (the run takes its feedback from another model).

    Returns:
        The data directory and the two checkpoints (``policy``: SFT'd, hallucinating sometimes;
        ``labeler``: yes/no answers about objects).
    """
    from polyrlaif.core.tiny import TinyVLMConfig, build_tiny_vlm, corpus_words
    from polyrlaif.core.trainers.trl_sft import SFTExample, SFTSettings, sft_train
    from polyrlaif.core.trainers.vision_pretrain import VisionPretrainSettings, pretrain_vision_tower
    from polyrlaif.core.trainers.yes_no import YesNoExample, YesNoSettings, yes_no_train
    from polyrlaif.datasets.shapes import WorldConfig, generate_world

    w = d.world
    root = Path(root)
    data_dir = root / "data"
    generate_world(
        data_dir,
        WorldConfig(
            seed=w.seed,
            image_size=w.image_size,
            splits=dict(w.images),
            hallucination_rate=w.hallucination_rate,
            texture=w.texture,
            size_range=(float(w.object_size[0]), float(w.object_size[1])),
        ),
    )
    policy_rows = read_jsonl(data_dir / "sft" / "policy_sft.jsonl")
    # the policy is a small general MLLM: it captions (hallucinating sometimes) and answers yes/no
    # questions about its own SFT images, so POPE can probe it; the labeler never sees these images
    policy_qa = read_jsonl(data_dir / "sft" / "labeler_sft.jsonl") if w.policy_qa else []
    labeler_rows = read_jsonl(data_dir / "sft" / "labeler_labeler.jsonl")
    texts = [r["prompt"] + " " + r["caption"] for r in policy_rows]
    texts += [r["question"] + " " + r["answer"] for r in policy_qa]
    texts += [r["question"] + " " + r["answer"] for r in labeler_rows]
    words = corpus_words([*texts, " ".join(EXTRA_WORDS)])

    models = WorldModels(data_dir, root / "policy" / "model", root / "labeler" / "model")
    start: dict[str, str] = {}
    for role, split, seed in (("policy", "sft", w.seed), ("labeler", "labeler", w.seed + 1))[
        : 2 if labeler else 1
    ]:
        base = root / f"{role}_init"
        if not (base / "config.json").is_file():
            build_tiny_vlm(base, words, TinyVLMConfig(image_size=w.image_size, seed=seed))
        start[role] = str(base)
        if w.vision_pretrain_steps > 0:
            # like the CLIP tower a real LMM starts from: each model's tower first learns to see on its
            # own split's images (which objects they show), then stays frozen through SFT
            images, labels = object_labels(data_dir, split)
            if not (root / f"{role}_vision" / "model" / "DONE").is_file():
                _log(f"pretraining the {role}'s vision tower on {len(images)} images of the {split} split")
            result = pretrain_vision_tower(
                str(base),
                images,
                labels,
                N_OBJECT_LABELS,
                root / f"{role}_vision",
                VisionPretrainSettings(steps=w.vision_pretrain_steps, batch_size=w.batch_size, seed=seed),
            )
            start[role] = result.model_path
    freeze = ("model.vision_tower",) if w.freeze_vision else ()
    settings = SFTSettings(
        epochs=w.policy_epochs, lr=w.lr, batch_size=w.batch_size, seed=w.seed, freeze=freeze
    )
    if not (models.policy / "DONE").is_file():
        _log(f"SFT of the policy: {len(policy_rows)} captions (some hallucinate), {len(policy_qa)} yes/no")
    examples = [
        SFTExample(_conversation(data_dir, r["image"], r["prompt"]), r["caption"]) for r in policy_rows
    ]
    examples += [
        SFTExample(_conversation(data_dir, r["image"], r["question"]), r["answer"]) for r in policy_qa
    ]
    sft_train(start["policy"], examples, root / "policy", settings)
    if not labeler:
        return models
    if not (models.labeler / "DONE").is_file():
        _log(f"training the labeler on {len(labeler_rows)} yes/no questions (disjoint images)")
    # fitted on exactly what the judge reads, p(yes) against p(no) (core.trainers.yes_no explains why)
    yes_no_train(
        start["labeler"],
        [
            YesNoExample(_conversation(data_dir, r["image"], r["question"]), r["answer"] == "yes")
            for r in labeler_rows
        ],
        root / "labeler",
        YesNoSettings(
            epochs=w.labeler_epochs, lr=w.lr, batch_size=w.batch_size, seed=w.seed + 1, freeze=freeze
        ),
    )
    report = labeler_report(models, root / "labeler" / "eval.json", split="test")
    _log(
        f"labeler on the test split's {report['n']} held-out questions: accuracy {report['accuracy']:.3f} "
        f"(yes {report['accuracy_yes']:.3f}, no {report['accuracy_no']:.3f})"
    )
    return models


N_OBJECT_LABELS = 8 + 7 + 8 * 7
"""Vision pretraining labels: each shape, each colour, and each (shape, colour) pair."""


def object_labels(data_dir: Path, split: str) -> tuple[list[str], list[list[int]]]:
    """The image paths of a world split and, for each, the indices of what it shows (shapes, colours,
    and shape-colour pairs, so the tower learns which colour belongs to which shape)."""
    from polyrlaif.datasets.shapes import load_split
    from polyrlaif.datasets.shapes.draw import CATEGORIES, COLORS

    images, labels = [], []
    for im in load_split(data_dir, split):
        ls: set[int] = set()
        for obj in im.objects:
            shape, colour = CATEGORIES.index(obj.category), COLORS.index(obj.color)
            ls.update(
                (
                    shape,
                    len(CATEGORIES) + colour,
                    len(CATEGORIES) + len(COLORS) + shape * len(COLORS) + colour,
                )
            )
        images.append(str(data_dir / "images" / im.image))
        labels.append(sorted(ls))
    return images, labels


def labeler_report(models: WorldModels, out: Path, *, split: str = "test", threshold: float = 0.5) -> dict:
    """How good the feedback can be: the labeler's accuracy on a held-out split's yes/no questions.

    Written to ``out`` once (a rerun reads it back); the run never uses these answers as feedback.
    """
    import json

    from polyrlaif.core.io import atomic_write_json
    from polyrlaif.core.judges.vlm_backend import VisionTransformersBackend

    if out.is_file():
        return json.loads(out.read_text())
    rows = read_jsonl(models.data_dir / "sft" / f"labeler_{split}.jsonl")
    backend = VisionTransformersBackend(str(models.labeler), batch_size=32)
    got = backend.yes_no([_conversation(models.data_dir, r["image"], r["question"]) for r in rows])
    right = {"yes": [0, 0], "no": [0, 0]}
    for r, g in zip(rows, got, strict=True):
        said = "yes" if g.p_yes is not None and g.p_yes >= threshold else "no"
        right[r["answer"]][0] += said == r["answer"]
        right[r["answer"]][1] += 1
    report = {
        "split": split,
        "n": len(rows),
        "accuracy": (right["yes"][0] + right["no"][0]) / max(1, len(rows)),
        "accuracy_yes": right["yes"][0] / max(1, right["yes"][1]),
        "accuracy_no": right["no"][0] / max(1, right["no"][1]),
        "failures": sum(g.p_yes is None for g in got),
    }
    atomic_write_json(out, report)
    return report


def prepare_world_checker(d: VisionHallucinationConfig, root: str | Path, *, epochs: int = 30) -> Path:
    """Train the cascade's cheap open_clip checker on the labeler split (once; reruns reuse it).

    Like the labeler, it learns from images the policy never saw, so its verdicts come from a model.

    Returns:
        The checker directory (:meth:`OpenClipChecker.from_dir` loads it).
    """
    from polyrlaif.datasets.shapes import load_split
    from polyrlaif.datasets.shapes.text import claim
    from polyrlaif.domains.vision_hallucination.clip_checker import CALIBRATION_FILE
    from polyrlaif.domains.vision_hallucination.clip_train import train_clip_checker

    out = Path(root) / "clip_checker"
    if (out / CALIBRATION_FILE).is_file():
        return out
    data_dir = Path(root) / "data"
    images, texts = [], []
    for im in load_split(data_dir, "labeler"):
        for obj in im.objects:
            images.append(str(data_dir / "images" / im.image))
            texts.append(claim(obj.color, obj.category))
    _log(f"training the open_clip claim checker on {len(texts)} (image, claim) pairs of the labeler split")
    return train_clip_checker(out, images, texts, epochs=epochs, seed=d.world.seed)
