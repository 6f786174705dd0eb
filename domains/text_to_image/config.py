"""Configuration of the `text_to_image` domain (the ``domain:`` section of a run config)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

__all__ = ["DrawWorldTrainingConfig", "TextToImageConfig"]


@dataclass
class DrawWorldTrainingConfig:
    """The synthetic draw world and its two models (``synthetic: true``).

    The world (:mod:`polyrlaif.datasets.draw`) renders the exact 32 px image of a prompt about coloured
    shapes, their counts and left/right relations. The policy, a tiny text-conditioned UNet, is pretrained
    on images whose captions are wrong about colour, count or position at ``caption_error_rate``, so it
    starts out imperfect. The judge, a tiny CLIP, is trained contrastively on a separate split with true
    captions. Neither sees the other's data; the world's ground truth only checks afterwards.

    Attributes:
        seed: the world's seed (images, captions, prompts).
        image_size: side of the square images, in pixels.
        pretrain_images: images (with their sometimes-wrong captions) the policy is pretrained on.
        clip_images: images of the judge's own split.
        rlaif_groups: groups of analogous prompts the rounds sample on.
        heldout_prompts: prompts the benchmarks evaluate on, none of them seen in training.
        caption_error_rate: share of pretraining captions that are wrong about one axis.
        max_objects: most objects a sampled prompt asks for (2-6; count analogues may add two). Fewer
            makes a world a small UNet can learn to draw right most of the time, with the captions'
            mistakes as what it gets wrong.
        pretrain_epochs: denoising epochs of the policy's pretraining.
        pretrain_lr: its learning rate.
        unet_channels: the policy UNet's channels per level (full resolution first; cross-attention at
            every level but the first).
        pooled_text: add a pooled prompt embedding to the UNet's timestep embedding as well.
        pretrain_text_encoder: train the policy's text encoder with its UNet in pretraining (frozen in
            the rounds).
        pretrain_snr_gamma: Min-SNR loss weighting of the pretraining (``None``: plain MSE).
        clip_epochs: contrastive epochs of the judge.
        clip_lr: its learning rate.
        batch_size: batch size of both.
    """

    seed: int = 0
    image_size: int = 32
    pretrain_images: int = 4000
    clip_images: int = 2000
    rlaif_groups: int = 200
    heldout_prompts: int = 100
    caption_error_rate: float = 0.3
    max_objects: int = 4
    pretrain_epochs: int = 10
    pretrain_lr: float = 1e-3
    unet_channels: list[int] = field(default_factory=lambda: [32, 64, 64])
    pooled_text: bool = True
    pretrain_text_encoder: bool = True
    pretrain_snr_gamma: float | None = 5.0
    clip_epochs: int = 20
    clip_lr: float = 1e-3
    batch_size: int = 32

    def __post_init__(self) -> None:
        if not 2 <= self.max_objects <= 6:
            raise ValueError(f"domain.world.max_objects: {self.max_objects} is not within 2-6")


@dataclass
class TextToImageConfig:
    """Options of the text_to_image domain (InstructEngine + Diffusion-DPO).

    Attributes:
        name: always ``text_to_image``.
        synthetic: build the draw world and its models under ``world_dir`` (preparation stages).
        world_dir: where the synthetic world lives (default: the shared stage cache, ``$POLYRLAIF_WORLDS``
            or ``~/.cache/polyrlaif/worlds``, keyed by each stage's settings).
        world: the world's sizes and how its models are trained.
        prompts: JSONL of ``{"text"[, "prompt_id", "group", "axis"]}`` rows to sample on; rows sharing a
            ``group`` are analogous prompts (cross-validation pairs them). Unset with ``synthetic``.
        eval_prompts: JSONL of held-out ``{"text"[, "prompt_id"]}`` rows for the benchmarks. Unset with
            ``synthetic``: the world's held-out prompts.
        taxonomy: a taxonomy YAML (the axes a prompt can vary along); ``None``: the packaged one.
        rules: stage 1 of the judging, deterministic checks by name (``draw``: the draw world's
            colour-blob detector checks objects, colours, counts and positions; ``draw_graded``: the same
            with partial credit, how near each count is), or ``"module:attr"``
            callables of the user's (see :mod:`~polyrlaif.domains.text_to_image.verifier`); ``[]``: none.
        judge: stage 2, the multimodal judge: ``clip`` (cosine of image and prompt through open_clip),
            ``vlm`` (the core's yes/no judge with the image, "Does this image show ...?") or ``none``.
        clip_model: open_clip architecture of the judge; ``world`` with ``synthetic``: the world's CLIP.
        clip_pretrained: open_clip pretrained tag or a local checkpoint file.
        rule_weight: weight of the rules' share of satisfied checks in a candidate's score.
        judge_weight: weight of the judge's score (CLIP cosine, or p(yes)).
        cross_validation: InstructEngine's cross-validation alignment: the best images of two analogous
            prompts become two pairs when the judges agree both ways.
        eval_benchmarks: benchmarks run before training and after every round.
    """

    #: settings only the judgments or the pairs depend on (core.resume): a rerun with other rules rejudges
    #: the images on disk, one with new weights rebuilds the pairs from the judgments on disk
    LEVEL_KEYS: ClassVar[dict[str, tuple[str, ...]]] = {
        "judgments": ("rules",),
        "pairs": ("rule_weight", "judge_weight", "cross_validation"),
    }

    name: str = "text_to_image"
    synthetic: bool = False
    world_dir: str | None = None
    world: DrawWorldTrainingConfig = field(default_factory=DrawWorldTrainingConfig)
    prompts: str | None = None
    eval_prompts: str | None = None
    taxonomy: str | None = None
    rules: list[str] = field(default_factory=lambda: ["draw"])
    judge: Literal["clip", "vlm", "none"] = "clip"
    clip_model: str = "ViT-B-32"
    clip_pretrained: str | None = None
    rule_weight: float = 1.0
    judge_weight: float = 1.0
    cross_validation: bool = True
    eval_benchmarks: list[str] = field(default_factory=lambda: ["compositional", "clipscore"])

    @property
    def judge_sets(self) -> bool:
        """judge.ensemble and judge.active shape the VLM slot judge (core.judges.active.configured_judge);
        the CLIP judge is not built from the judge section."""
        return self.judge == "vlm"

    def __post_init__(self) -> None:
        if self.synthetic and self.prompts is not None:
            raise ValueError("domain.synthetic=true makes its own prompts, but domain.prompts is set")
        if self.rule_weight < 0 or self.judge_weight < 0:
            raise ValueError("domain.rule_weight and domain.judge_weight must be >= 0")
