"""Configuration of the `video_lmm` domain (the ``domain:`` section of a run config)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

__all__ = ["VideoLMMConfig", "VideoWorldTrainingConfig"]


@dataclass
class VideoWorldTrainingConfig:
    """The synthetic video world and its two tiny VLMs (``synthetic: true``).

    Short clips of shapes that appear, move, change colour or disappear (:mod:`polyrlaif.datasets.video`),
    each with a detailed description and QA items. The policy is SFT'd on answers that are sometimes wrong
    about motion or order; the judge, a separate tiny VLM, is trained on a disjoint split to say whether
    an answer is right, seeing the frames and (for ``1 - description_dropout`` of its examples) the
    description. Feedback comes from the judge, never from the generator's answer key.

    Attributes:
        seed: the world's seed.
        sft: clips the policy is SFT'd on.
        judge: clips the judge is trained on.
        rlaif: clips whose questions the rounds sample on.
        test: held-out clips the benchmarks evaluate on.
        frames_per_clip: frames each clip has.
        wrong_answer_rate: share of the policy's motion and order SFT answers that are wrong.
        wrong_answer_types: the question types whose SFT answers can be wrong (unset: direction and
            order, the temporal mistakes; add ``colour`` or ``count`` for mistakes the policy can see).
        policy_epochs: SFT epochs of the policy.
        judge_epochs: yes/no epochs of the judge.
        description_dropout: share of the judge's training examples shown without the description.
        lr: learning rate of both.
        batch_size: batch size of both.
        vision_pretrain_steps: steps of the ``policy_vision`` and ``judge_vision`` stages, which
            pretrain each model's vision tower on its own split's frames (shapes, colours, pairs and
            where each shape is) before SFT; 0 skips them (the tower then trains end to end from
            scratch, and the policy learns only the question-only prior).
        freeze_vision: keep a pretrained tower fixed through SFT and the judge's training.
        judge_lr: the judge's learning rate (unset: ``lr``).
        judge_init: what the judge's yes/no training starts from: ``fresh``, a new tiny VLM (its tower
            pretrained on the judge split's frames when ``vision_pretrain_steps`` > 0), or ``policy``,
            the SFT'd policy (as VLM-RLAIF initialises its reward model from the SFT model; the judge is
            then still trained on its own split only).
        judge_negatives: the judge's wrong answers: ``near``, the world's near misses (words that occur
            in the description), or ``uniform``, each drawn from the question type's other answers.
        reading_clips: with ``judge_scoring: answer``, clips of the judge's ``judge_reading`` stage: before
            it sees a frame, the judge learns to answer questions from descriptions alone, on this many
            more clips that are never rendered (their own random streams, none a test clip); 0 skips it.
        reading_steps: steps of that stage (batch 32, ``judge_lr``).
        lm_hidden: hidden size of the policy's language model (the judge's stays 64 wide, 2 layers).
        lm_layers: layers of the policy's language model.
        position_grid: the policy tower's position labels place each shape in a cell of a grid this many
            cells a side (2: the quarters, as the judge's; 4: 8-pixel cells, finer than the shortest move).
    """

    seed: int = 0
    sft: int = 600
    judge: int = 600
    rlaif: int = 200
    test: int = 200
    frames_per_clip: int = 16
    wrong_answer_rate: float = 0.3
    wrong_answer_types: list[str] | None = None
    policy_epochs: float = 10.0
    judge_epochs: float = 10.0
    description_dropout: float = 0.5
    lr: float = 3e-4
    batch_size: int = 16
    vision_pretrain_steps: int = 0
    freeze_vision: bool = True
    judge_lr: float | None = None
    judge_init: Literal["fresh", "policy"] = "fresh"
    judge_negatives: Literal["near", "uniform"] = "near"
    reading_clips: int = 0
    reading_steps: int = 4000
    lm_hidden: int = 64
    lm_layers: int = 2
    position_grid: int = 2

    def __post_init__(self) -> None:
        from polyrlaif.datasets.video import QA_TYPES

        bad = [t for t in self.wrong_answer_types or () if t not in QA_TYPES]
        if bad or self.wrong_answer_types == []:
            raise ValueError(f"domain.world.wrong_answer_types: {bad or '[]'}; choose from {list(QA_TYPES)}")


@dataclass
class VideoLMMConfig:
    """Options of the video_lmm domain (VLM-RLAIF).

    Attributes:
        name: always ``video_lmm``.
        synthetic: build the video world and its models under ``world_dir`` (preparation stages).
        world_dir: where the world lives (default: the shared stage cache, ``$POLYRLAIF_WORLDS`` or
            ``~/.cache/polyrlaif/worlds``, keyed by each stage's settings).
        world: the world's sizes and training.
        prompts: JSONL of ``{"video", "question"[, "id", "description"]}`` rows (video relative to
            ``videos_root``); unset with ``synthetic``.
        eval_annotations: held-out QA for the ``videoqa`` benchmark (any format it reads).
        videos_root: folder the prompts' videos are relative to.
        judge_context: the judge reads the video's detailed description (VLM-RLAIF's context-aware
            reward); ``false`` is the ablation. Either way every round also asks the judge without the
            description and reports how often the preference changes (``judge/context_flip_rate``).
        judge_mode: ``context``, the context-aware judge below (``judge_scoring``; the only mode of the
            synthetic world, whose judge is trained to answer); or, with a generative judge backend
            (``openai``, ``transformers_vlm``), the core's ``pairwise`` judge (each prompt's answers
            compared two at a time in both orders) or ``pointwise`` judge (:data:`~.prompts.VIDEO_RUBRIC`),
            each shown the video and reading its description as context (unless ``judge_context`` is off).
        judge_scoring: how the judge scores an answer: ``yes_no``, p(yes) that it is right; or ``answer``,
            the judge's own probability of the answer among the question type's answer words (needs
            ``closed_answers`` or prompts with answer words). In the synthetic world it also decides how
            the judge is trained: on yes/no verdicts, or to answer the questions itself.
        reward_init: what the online path's reward model starts from: ``policy``, the starting policy (as
            VLM-RLAIF initialises it from the SFT model), or ``judge``, the judge's model (the synthetic
            world's, or a local ``transformers_vlm`` judge's ``judge.model``), which has learned to answer
            the questions and reads the frames with its own tower.
        reward_context: the reward model reads the video's description too, in its training pairs and in
            every online reward (as LLaVA-RLHF's Fact-RLHF gives its reward model the image's captions;
            VLM-RLAIF's reward model reads only the video). The policy never sees it.
        eval_benchmarks: benchmarks run before training and after every round.
        captioner: a video or image LMM (hub id or local path) that describes, once per video and cached,
            each video of ``prompts`` whose rows bring no ``description`` (the ``captions`` stage,
            :mod:`~polyrlaif.domains.video_lmm.captions`); unset: such prompts go undescribed.
        caption_max_new_tokens: the longest description the captioner writes, in tokens.
        closed_answers: in the synthetic world, an answer that is not one of its question type's answer
            words (a colour to "which shape ...") is a failed answer, scored like an empty one by the
            judge and the online reward.
    """

    name: str = "video_lmm"
    synthetic: bool = False
    world_dir: str | None = None
    world: VideoWorldTrainingConfig = field(default_factory=VideoWorldTrainingConfig)
    prompts: str | None = None
    eval_annotations: str | None = None
    videos_root: str = "."
    judge_context: bool = True
    judge_mode: Literal["context", "pairwise", "pointwise"] = "context"
    captioner: str | None = None
    caption_max_new_tokens: int = 128
    curriculum: Literal["none", "length"] = "none"
    closed_answers: bool = False
    judge_scoring: Literal["yes_no", "answer"] = "yes_no"
    reward_init: Literal["policy", "judge"] = "policy"
    reward_context: bool = False
    eval_benchmarks: list[str] = field(default_factory=lambda: ["videoqa"])
    #: its online path trains a vision reward model (``optim.reward_pooling`` applies)
    vision_reward_model: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if self.synthetic and self.prompts:
            raise ValueError("domain.synthetic=true makes its own prompts; unset domain.prompts")
        if self.synthetic and self.judge_mode != "context":
            raise ValueError("domain.synthetic=true judges with its trained judge: domain.judge_mode=context")
        if self.synthetic and self.captioner:
            raise ValueError("domain.synthetic=true writes every clip's description; unset domain.captioner")
        if self.caption_max_new_tokens < 1:
            raise ValueError(f"domain.caption_max_new_tokens: {self.caption_max_new_tokens}; at least 1")
        if self.synthetic and self.judge_scoring == "answer" and not self.closed_answers:
            raise ValueError(
                "domain.judge_scoring=answer in the synthetic world needs domain.closed_answers=true "
                "(the prompts' answer words)"
            )
