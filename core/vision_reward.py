"""A vision reward model: an image or video LMM with a scalar head that reads the prompt's media.

Any model ``AutoModelForImageTextToText`` loads (the tiny VLM of :func:`polyrlaif.core.tiny.build_tiny_vlm`,
LLaVA-style models, Qwen2-VL) is the backbone. It reads the conversation a policy answered (the prompt's
images and videos, then the question) followed by the answer, and a linear head on the final hidden
state at the last non-padding token gives the reward, as a sequence-classification reward model reads
text. transformers has no sequence-classification class for these architectures, hence the head here.

Media reach the model as they reach the VLM policy and the VLM judges (:mod:`polyrlaif.core.vlm`): image
parts ``{"type": "image", "path": ...}`` (or ``"image"``: a PIL image, as TRL fills its prompts) are
loaded, and video parts ``{"type": "video", "path": ...}`` are sampled into ``num_frames`` frames
(:func:`~polyrlaif.core.vlm.expand_videos`), read as a video by a processor with a video processor and as
that many images in a row by any other.

A saved model is a folder: the backbone and processor (``save_pretrained``: it still loads as the VLM),
the head in :data:`HEAD_FILE`, and :data:`INFO_FILE` saying what it is (kind, frames, pooling).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polyrlaif.core.io import InputError, atomic_dir, atomic_write_json

__all__ = [
    "HEAD_FILE",
    "INFO_FILE",
    "KIND",
    "NUM_FRAMES",
    "POOLINGS",
    "VisionInput",
    "VisionRewardModel",
    "bradley_terry_loss",
    "is_vision_reward_model",
    "prepare_input",
]

#: The head's weights, beside the backbone's.
HEAD_FILE = "reward_head.safetensors"
#: What the folder is: ``{"kind": KIND, "num_frames", "hidden_size", "pooling", ...}``.
INFO_FILE = "reward_model.json"
KIND = "vision_reward_model"
#: Frames sampled per video when a folder records none (the default of the run's ``model.num_frames``).
NUM_FRAMES = 8
#: How a row's reward is read: ``last_token``, the head on the last non-padding token's hidden state (a
#: sequence classifier); ``answer_logprob``, the backbone's mean log-probability of the answer turn's tokens
#: (its own LM head: a reward model started from a judge that answers the question keeps what it knows).
POOLINGS = ("last_token", "answer_logprob")
ANSWER_TOKENS = "answer_tokens"  # the encoded batch's answer lengths (answer_logprob), not a model input

_UNSEEN = frozenset({"audio", "input_audio", "image_url", "video_url"})


@dataclass
class VisionInput:
    """One conversation ready for the processor: its chat text (media as placeholders), and its images and
    videos in the order the placeholders take them."""

    text: str
    images: list[Any] = field(default_factory=list)
    videos: list[Any] = field(default_factory=list)
    answer_tokens: int = 0  # the answer turn's tokens at the end of ``text`` (``answer_logprob`` pooling)


def bradley_terry_loss(chosen: Any, rejected: Any) -> Any:
    """Mean ``-log sigmoid(r_chosen - r_rejected)`` over pairs (tensors of rewards, one per pair)."""
    import torch.nn.functional as F

    return -F.logsigmoid(chosen - rejected).mean()


def is_vision_reward_model(path: str | Path) -> bool:
    """True when ``path`` is a local folder that :meth:`VisionRewardModel.save` wrote."""
    info = Path(path) / INFO_FILE
    if not info.is_file():
        return False
    try:
        return json.loads(info.read_text(encoding="utf-8")).get("kind") == KIND
    except (OSError, ValueError):
        return False


def _turns(x: Any, role: str) -> list[dict[str, Any]]:
    """Chat turns with every content a list of typed parts (a string is one ``role`` turn)."""
    if isinstance(x, str):
        return [{"role": role, "content": [{"type": "text", "text": x}]}]
    if not isinstance(x, (list, tuple)) or not all(isinstance(m, Mapping) for m in x):
        raise ValueError(f"expected a string or chat messages, got {type(x).__name__}")
    out = []
    for m in x:
        content = m.get("content") or ""
        if isinstance(content, str):
            parts = [{"type": "text", "text": content}]
        elif isinstance(content, (list, tuple)) and all(isinstance(p, Mapping) for p in content):
            parts = [dict(p) for p in content]
        else:
            raise ValueError(f"message content is a {type(content).__name__}")
        out.append({"role": str(m.get("role", role)), "content": parts})
    return out


def _prompt(
    processor: Any, prompt: Any, num_frames: int
) -> tuple[list[dict[str, Any]], list[Any], list[Any]]:
    """The prompt's turns with placeholder media parts, and its images and videos in order.

    Raises:
        InputError: a missing or unreadable image or video (naming the file).
        ValueError: a malformed prompt, an image part with neither ``path`` nor ``image``, or audio.
    """
    from polyrlaif.core.media import load_image
    from polyrlaif.core.vlm import expand_videos, reads_video

    turns = _turns(prompt, "user")
    for m in turns:
        for part in m["content"]:
            kind = part.get("type")
            if kind in _UNSEEN:
                raise ValueError(f"a {kind} part: a vision reward model sees images and videos only")
            if kind == "image" and part.get("path") is None and part.get("image") is None:
                raise ValueError("an image part with neither 'path' nor 'image'")
            if kind == "video" and part.get("path") is None:
                raise ValueError("a video part without 'path'")
            if kind not in ("image", "video", "text"):
                raise ValueError(f"unknown content part {part!r}")
    as_images = not reads_video(processor)
    turns, frames = expand_videos(turns, num_frames, as_images=as_images)
    images: list[Any] = []
    sampled: Iterator[Any] = iter(frames if as_images else [])
    out = []
    for m in turns:
        parts = []
        for part in m["content"]:
            kind = part["type"]
            if kind == "image":
                image = part.get("image")
                if isinstance(image, (str, Path)):
                    images.append(load_image(image))
                elif image is not None:  # TRL's prompts carry the image itself
                    images.append(image if getattr(image, "mode", "RGB") == "RGB" else image.convert("RGB"))
                elif part.get("path") is not None:
                    images.append(load_image(part["path"]))
                else:  # a video's frame, placed by expand_videos
                    images.append(next(sampled))
                parts.append({"type": "image"})
            else:
                text = {"type": "text", "text": str(part.get("text", ""))}
                parts.append({"type": "video"} if kind == "video" else text)
        out.append({**m, "content": parts})
    return out, images, ([] if as_images else list(frames))


def prepare_input(
    processor: Any,
    prompt: Any,
    completion: Any,
    *,
    num_frames: int = NUM_FRAMES,
    memo: dict[str, Any] | None = None,
    count_answer: bool = False,
) -> VisionInput:
    """The conversation a vision reward model scores for ``(prompt, completion)``; training and scoring
    both use it.

    Args:
        processor: the backbone's processor (its chat template renders the conversation).
        prompt: a string (one user turn) or chat messages whose parts may hold images and videos.
        completion: a string (one assistant turn) or chat messages of text.
        num_frames: frames sampled per video.
        memo: prompts already prepared in this batch (answers to one prompt decode its video once).
        count_answer: also count the answer turn's tokens (``answer_tokens``, for ``answer_logprob``).

    Raises:
        InputError: a missing or unreadable image or video (naming the file).
        ValueError: a malformed prompt or completion, an answer with media, or audio.
    """
    key = repr(prompt)  # a PIL image's repr names the object, so equal keys mean the same images
    if memo is not None and key in memo:
        turns, images, videos = memo[key]
    else:
        turns, images, videos = _prompt(processor, prompt, num_frames)
        if memo is not None:
            memo[key] = (turns, images, videos)
    answer = _turns(completion, "assistant")
    if any(p["type"] != "text" for m in answer for p in m["content"]):
        raise ValueError("the answer carries media: a vision reward model scores text answers")
    text = processor.apply_chat_template(turns + answer, tokenize=False)
    n, count = 0, lambda t: len(processor.tokenizer(t, add_special_tokens=False).input_ids)
    if count_answer:  # only the answer_logprob pooling reads it: two tokenizations
        asked = processor.apply_chat_template(turns, tokenize=False, add_generation_prompt=True)
        n = max(count(text) - count(asked), 1)
    return VisionInput(text=text, images=list(images), videos=list(videos), answer_tokens=n)


class VisionRewardModel:
    """An image-text-to-text backbone and a linear reward head on its last non-padding hidden state.

    Build one with :meth:`from_backbone` (a fresh head) or :meth:`load` (a saved model). Not an
    ``nn.Module``, so that importing this module needs no torch; :meth:`parameters`, :meth:`train` and
    :meth:`eval` cover both parts.

    Attributes:
        backbone: the ``AutoModelForImageTextToText`` model.
        processor: its ``AutoProcessor`` (the tokenizer has a pad token).
        head: ``torch.nn.Linear(hidden_size, 1, bias=False)``, float32.
        num_frames: frames sampled per video.
    """

    def __init__(self, backbone: Any, processor: Any, head: Any, num_frames: int = NUM_FRAMES,
                 pooling: str = "last_token") -> None:  # fmt: skip
        if num_frames < 1:
            raise ValueError(f"num_frames must be >= 1, got {num_frames}")
        if pooling not in POOLINGS:
            raise ValueError(f"unknown reward pooling {pooling!r}; valid: {', '.join(POOLINGS)}")
        self.backbone, self.processor, self.head, self.num_frames = backbone, processor, head, num_frames
        self.pooling = pooling
        self._peft: Any = None

    @staticmethod
    def _backbone(path: str, dtype: Any) -> tuple[Any, Any]:
        from transformers import AutoModelForImageTextToText, AutoProcessor

        try:
            backbone = AutoModelForImageTextToText.from_pretrained(path, dtype=dtype)
        except ValueError as exc:  # transformers' "Unrecognized configuration class ..."
            raise ValueError(
                f"{path}: a vision reward model is built on an image-text-to-text model "
                f"(AutoModelForImageTextToText), and this checkpoint is not one: {str(exc).splitlines()[0]}"
            ) from None
        processor = AutoProcessor.from_pretrained(path)
        tok = processor.tokenizer
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        return backbone, processor

    @classmethod
    def from_backbone(
        cls, path: str, *, num_frames: int = NUM_FRAMES, device: str = "cpu", dtype: Any = None,
        seed: int = 0, pooling: str = "last_token",
    ) -> VisionRewardModel:  # fmt: skip
        """The VLM at ``path`` with a new head, initialised like a sequence classifier's score (normal, the
        text config's ``initializer_range``) from ``seed``; ``pooling`` is :data:`POOLINGS`'s.

        Raises:
            ValueError: ``path`` is not an image-text-to-text model.
        """
        import torch

        backbone, processor = cls._backbone(path, dtype)
        text = backbone.config.get_text_config()
        head = torch.nn.Linear(text.hidden_size, 1, bias=False)
        torch.nn.init.normal_(head.weight, std=getattr(text, "initializer_range", 0.02),
                              generator=torch.Generator().manual_seed(seed))  # fmt: skip
        return cls(backbone.to(device), processor, head.to(device), num_frames, pooling)

    @classmethod
    def load(cls, path: str | Path, *, device: str = "cpu", dtype: Any = None) -> VisionRewardModel:
        """A model :meth:`save` wrote.

        Raises:
            InputError: ``path`` is not a vision reward model folder, or its head does not fit the backbone.
        """
        import torch
        from safetensors.torch import load_file

        path = Path(path)
        if not is_vision_reward_model(path):
            raise InputError(f"{path}: not a vision reward model (no {INFO_FILE} with kind {KIND!r})")
        info = json.loads((path / INFO_FILE).read_text(encoding="utf-8"))
        backbone, processor = cls._backbone(str(path), dtype)
        weight = load_file(str(path / HEAD_FILE))["weight"]
        hidden = backbone.config.get_text_config().hidden_size
        if tuple(weight.shape) != (1, hidden):
            raise InputError(
                f"{path / HEAD_FILE}: head of shape {tuple(weight.shape)}, backbone hidden {hidden}"
            )
        head = torch.nn.Linear(hidden, 1, bias=False)
        with torch.no_grad():
            head.weight.copy_(weight)
        pooling = "answer_logprob" if info.get("pooling") == "answer_logprob" else "last_token"
        model = cls(backbone.to(device), processor, head.to(device), int(info.get("num_frames", NUM_FRAMES)),
                    pooling)  # fmt: skip
        return model.eval()

    @property
    def device(self) -> Any:
        """Where the head's weights are."""
        return self.head.weight.device

    def parameters(self) -> list[Any]:
        """The backbone's parameters (its LoRA adapters only, after :meth:`add_lora`), then the head's."""
        return [*self.backbone.parameters(), *self.head.parameters()]

    def train(self, mode: bool = True) -> VisionRewardModel:
        """Set both parts' training mode."""
        self.backbone.train(mode)
        self.head.train(mode)
        return self

    def eval(self) -> VisionRewardModel:
        """Evaluation mode (no dropout)."""
        return self.train(False)

    def add_lora(self, config: Any) -> None:
        """Train LoRA adapters (a ``peft.LoraConfig``), not the whole backbone; the head trains fully."""
        import dataclasses

        from peft import get_peft_model

        self._peft = get_peft_model(self.backbone, dataclasses.replace(config, task_type=None))
        self.backbone = self._peft.get_base_model()  # the same modules, adapters injected

    def merge_lora(self) -> None:
        """Fold LoRA adapters into the backbone's weights (a plain checkpoint to save); no-op without them."""
        if self._peft is not None:
            self.backbone, self._peft = self._peft.merge_and_unload(), None

    def inputs(self, items: Sequence[tuple[Any, Any]]) -> list[VisionInput]:
        """:func:`prepare_input` for each ``(prompt, completion)``, each prompt's media read once."""
        memo: dict[str, Any] = {}
        return [prepare_input(self.processor, p, c, num_frames=self.num_frames, memo=memo,
                              count_answer=self.counts_answers) for p, c in items]  # fmt: skip

    @property
    def counts_answers(self) -> bool:
        """Whether its inputs need ``answer_tokens`` (the ``answer_logprob`` pooling)."""
        return self.pooling == "answer_logprob"

    def encode(self, inputs: Sequence[VisionInput]) -> dict[str, Any]:
        """The processor's tensors for a batch, right-padded, on the model's device (floating-point ones in
        the backbone's dtype)."""
        images = [im for x in inputs for im in x.images]
        videos = [v for x in inputs for v in x.videos]
        tok = self.processor.tokenizer
        side, tok.padding_side = tok.padding_side, "right"
        extra = {"videos": videos} if videos else {}
        try:
            enc = self.processor(text=[x.text for x in inputs], images=images or None, return_tensors="pt",
                                 padding=True, **extra)  # fmt: skip
        finally:
            tok.padding_side = side
        dtype = getattr(self.backbone, "dtype", None)  # pixels in the backbone's dtype (bfloat16 on a GPU)
        out = {k: v.to(self.device, dtype=dtype) if v.is_floating_point() else v.to(self.device)
               for k, v in enc.items()}  # fmt: skip
        if self.pooling == "answer_logprob":
            import torch

            out[ANSWER_TOKENS] = torch.tensor([x.answer_tokens for x in inputs], device=self.device)
        return out

    def forward(self, batch: Mapping[str, Any]) -> Any:
        """Rewards of an encoded batch: a float32 tensor, one value per row."""
        import torch

        if self.pooling == "answer_logprob":
            from polyrlaif.core.answer_logprob import answer_logprob

            batch = dict(batch)
            n = batch.pop(ANSWER_TOKENS)
            return answer_logprob(self.backbone(**batch, use_cache=False).logits, batch, n)
        inner = getattr(self.backbone, "model", None)  # the VLM without its LM head (LLaVA, Qwen2-VL, ...)
        if inner is not None:
            hidden = inner(**batch, use_cache=False).last_hidden_state
        else:
            hidden = self.backbone(**batch, use_cache=False, output_hidden_states=True).hidden_states[-1]
        mask = batch["attention_mask"]
        # the last position that is not padding, whichever side the padding is on
        last = (mask * torch.arange(mask.shape[1], device=mask.device)).argmax(-1)
        state = hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
        return self.head(state.to(self.head.weight.dtype)).squeeze(-1)

    __call__ = forward

    def write_into(self, folder: Path) -> None:
        """Write the backbone, processor, head and :data:`INFO_FILE` into an existing ``folder``."""
        from safetensors.torch import save_file

        self.merge_lora()
        self.backbone.save_pretrained(folder)
        self.processor.save_pretrained(folder)
        save_file({"weight": self.head.weight.detach().float().cpu().contiguous()}, str(folder / HEAD_FILE))
        info = {
            "kind": KIND,
            "backbone": type(self.backbone).__name__,
            "hidden_size": int(self.head.in_features),
            "pooling": "answer_logprob" if self.pooling == "answer_logprob" else "last_non_pad_token",
            "num_frames": self.num_frames,
            "head": HEAD_FILE,
        }
        atomic_write_json(folder / INFO_FILE, info)

    def save(self, path: str | Path) -> Path:
        """Write the whole model to ``path`` atomically (built aside, renamed into place)."""
        with atomic_dir(path) as staging:
            self.write_into(staging)
        return Path(path)
