"""Configuration of the `vision_hallucination` domain (the ``domain:`` section of a run config)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["VisionHallucinationConfig", "WorldTrainingConfig"]


@dataclass
class WorldTrainingConfig:
    """How the synthetic world's starting policy and its labeler are made (``synthetic: true``).

    The policy is SFT'd on captions that hallucinate sometimes; the labeler, a separate model trained on
    disjoint images, answers yes/no questions. Neither ever sees the other's data, and the feedback comes
    from the labeler, never from the world's ground truth.

    ``policy_qa`` adds the ``sft`` split's yes/no questions to the policy's SFT (so POPE can probe it).

    Each model's vision tower is first pretrained on its own split's images for
    ``vision_pretrain_steps`` (which shapes, colours and shape-colour pairs an image shows:
    :func:`polyrlaif.core.trainers.vision_pretrain.pretrain_vision_tower`), the stage a CLIP tower has had
    before a real LMM is built, and ``freeze_vision`` keeps it fixed during SFT. Trained end to end from
    scratch instead, the language model learns the text prior and never reads the image (measured:
    labeler accuracy at the question-only prior, 0.59, in every variant tried; docs/benchmarks.md).
    ``texture`` gives every category its own surface pattern and ``object_size`` sets the box sides as
    fractions of ``image_size``: outline shapes alone stayed below 0.2 exact-match for a tiny tower
    trained from scratch, textured ones reach 0.85 in a minute.
    """

    images: dict[str, int] = field(
        default_factory=lambda: {"sft": 1200, "labeler": 1200, "rlaif": 96, "test": 100}
    )
    hallucination_rate: float = 0.35
    image_size: int = 32
    object_size: list[float] = field(default_factory=lambda: [0.3, 0.5])
    texture: bool = True
    vision_pretrain_steps: int = 1500
    policy_epochs: float = 20.0
    labeler_epochs: float = 25.0
    lr: float = 3e-4
    batch_size: int = 32
    seed: int = 0
    policy_qa: bool = True
    freeze_vision: bool = True


@dataclass
class VisionHallucinationConfig:
    """Options of the vision_hallucination domain (RLAIF-V).

    Attributes:
        name: always ``vision_hallucination``.
        prompts: JSONL of ``{"image", "instruction"[, "image_id"]}`` rows to sample on; ``image`` is
            relative to ``image_root``. Unset with ``synthetic: true``: the world's ``rlaif`` split.
        image_root: directory the prompts' and benchmarks' image paths are relative to.
        synthetic: build the synthetic shape world (images, annotations, SFT policy, labeler) under
            ``world_dir`` on first use; reruns reuse it.
        world_dir: where the synthetic world lives (default: the shared stage cache, ``$POLYRLAIF_WORLDS``
            or ``~/.cache/polyrlaif/worlds``, keyed by each stage's settings); several runs
            may share one.
        world: sizes and training of the synthetic world.
        labeler: who answers the claim questions: ``world`` (the synthetic world's trained labeler) or
            ``judge`` (the model of the ``judge`` section: ``transformers_vlm`` or an ``openai``
            vision endpoint). Real data always uses ``judge``.
        claim_extractor: ``rule`` (deterministic splitter and question templates) or ``llm`` (the
            ``claims_llm`` judge splits and rewrites, RLAIF-V's way; the rule splitter is its fallback).
        claims_llm: model of the LLM claim extractor (judge-backend syntax ``backend:model``).
        labeler_threshold: a claim is rejected when the labeler's p(yes) is below this.
        min_claims: responses with fewer claims are left unscored (counted as ``no_claims`` failures).
        cascade: check claims with the open_clip checker first and send only uncertain ones to the
            labeler (``clip_model`` must be set).
        clip_model: an open_clip model name, or a directory written by the world's CLIP trainer.
        clip_band: the cheap checker's (low, high) p(yes) band inside which a claim escalates.
        eval_benchmarks: benchmarks run before training and after every round.
        eval_split: split of the synthetic world the benchmarks read.
        annotations: COCO instances JSON for ``chair`` on real data (synthetic: the world's test split).
        pope_questions: POPE JSONL for ``pope`` on real data (synthetic: the world's adversarial split).
        on_bad_image: ``error`` (stop, naming the record) or ``skip`` (leave the prompt out, count and
            list it in ``skipped.jsonl``) for a missing or unreadable image.
        caption_instruction: what the benchmarks ask for a caption with.
    """

    name: str = "vision_hallucination"
    prompts: str | None = None
    image_root: str = "."
    synthetic: bool = True
    world_dir: str | None = None
    world: WorldTrainingConfig = field(default_factory=WorldTrainingConfig)
    labeler: Literal["world", "judge"] = "world"
    claim_extractor: Literal["rule", "llm"] = "rule"
    claims_llm: str | None = None
    labeler_threshold: float = 0.5
    min_claims: int = 1
    cascade: bool = False
    clip_model: str | None = None
    clip_band: list[float] = field(default_factory=lambda: [0.2, 0.8])
    eval_benchmarks: list[str] = field(default_factory=lambda: ["chair"])
    eval_split: str = "test"
    annotations: str | None = None
    pope_questions: str | None = None
    on_bad_image: Literal["error", "skip"] = "error"
    caption_instruction: str = "Describe the image."
