"""CLIPScore of generated images against their prompts, as a benchmark of the `text_to_image` domain.

CLIPScore per image is ``100 * max(cos(image embedding, prompt embedding), 0)``, torchmetrics'
definition (Hessel et al., 2021, with ``w = 100``); the benchmark reports its mean over images. The
images come either from a predictions file (``--predictions P.jsonl --images DIR``: rows ``{"image",
"prompt"}`` and an optional ``"id"``, image paths relative to ``DIR`` or, without it, to the file's own
folder) or from a :class:`~polyrlaif.core.protocols.MediaPolicy` asked to draw the prompts of a prompt
file (``--model M --opt prompts=drawbench.csv``), resumably, into ``<output>/media/``.

An item's ``id`` is the row's ``id`` or else its prompt (repeats suffixed ``#2``, ``#3``...), so two runs
over the same prompts pair up in ``polyrlaif compare`` whichever model drew them. A row whose image is
missing or not a readable image is left out with its reason in ``skipped.jsonl`` and counted
(``skipped``); a prompt or predictions file with bad JSON or a missing field stops the run, naming the
file, line and field, before any model loads.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from polyrlaif.core.benchmarks import resolve_options
from polyrlaif.core.evidence import ITEMS_FILE
from polyrlaif.core.io import InputError, atomic_write_jsonl, iter_jsonl
from polyrlaif.core.log import get_logger
from polyrlaif.core.protocols import Direction, EvalRequest, MediaPolicy
from polyrlaif.evaluation.items import unique_ids

__all__ = [
    "SKIPPED_FILE",
    "ClipScoreEvaluator",
    "ClipScoreOptions",
    "ImageRow",
    "clip_cosine_scorer",
    "clipscore_of",
    "generate_images",
    "image_rows_for",
    "read_image_rows",
    "scored_batches",
]

log = get_logger(__name__)

#: Rows left out (unreadable images and the like), one JSON object each with its ``reason``.
SKIPPED_FILE = "skipped.jsonl"


@dataclass
class ImageRow:
    """One image to score: its item id, the prompt it was drawn for, and where it is.

    Attributes:
        id: the item id, unique within a run and stable across runs.
        prompt: the prompt text.
        image: the path as written in the predictions file (or where the policy's image was written).
        path: the file to open (``image`` resolved against the image folder).
    """

    id: str
    prompt: str
    image: str
    path: Path


#: ``(PIL images, prompts) -> one score per image``.
Scorer = Callable[[list[Any], list[str]], list[float]]


def read_image_rows(path: str | Path, image_root: str | Path | None = None) -> list[ImageRow]:
    """Read ``{"image", "prompt"}`` rows (optional ``"id"``) of a predictions JSONL.

    Args:
        path: the predictions file.
        image_root: the folder relative image paths are resolved against; ``None``: the file's folder.

    Raises:
        InputError: bad JSON, a missing field, or a field that is not a non-empty string (naming file,
            line and field).
    """
    root = Path(image_root) if image_root else Path(path).parent
    keys, rows = [], []
    for line, row in iter_jsonl(path, required=("image", "prompt")):
        for field in ("image", "prompt", *(("id",) if "id" in row else ())):
            if not isinstance(row[field], str) or not row[field].strip():
                raise InputError(f"{path}:{line}: field {field!r} must be a non-empty string")
        keys.append(row.get("id", row["prompt"]))
        rows.append((row["prompt"], row["image"]))
    return [
        ImageRow(id=i, prompt=p, image=img, path=root / img)
        for i, (p, img) in zip(unique_ids(keys), rows, strict=True)
    ]


def _check_resume(out_path: Path, want: dict[str, Any], seeds: dict[str, int]) -> None:
    """Refuse to mix images of another policy, other settings, other seeds or other prompts."""
    import json

    from polyrlaif.core.io import StageWriter

    stage = StageWriter(out_path, key="candidate_id")
    for row in stage.rows():
        sampling = dict(row.get("sampling") or {})
        have = {"policy": row.get("policy"), "n": sampling.pop("n", None)}
        seed = sampling.pop("seed", None)
        have["settings"] = sampling
        cid = row["candidate_id"]
        if have != json.loads(json.dumps(want, default=str)) or (cid in seeds and seeds[cid] != seed):
            raise InputError(
                f"{out_path}: images made by {have}, not {want} (or other seeds); use another --output"
            )
    if stage.done and set(seeds) - stage.finished_keys:
        raise InputError(f"{out_path}: images of other prompts; use another --output")


def generate_images(
    policy: MediaPolicy,
    prompts: Sequence[tuple[str, str]],
    output_dir: Path,
    *,
    samples: int = 1,
    seed: int = 0,
    batch_size: int = 8,
) -> list[ImageRow]:
    """Ask ``policy`` for ``samples`` images per ``(id, prompt)``, resumably, under ``output_dir/media``.

    The images are written by :class:`~polyrlaif.core.sampling.MediaSampler` (atomically, each with its
    SHA-256 and seed recorded in ``output_dir/generations.jsonl``); the j-th image of the i-th prompt has
    seed ``media_seed(seed, 0, i, j)``, so two policies evaluated on the same prompts share their noise.

    Raises:
        TypeError: ``policy`` produces no media.
        InputError: ``output_dir`` holds images of another policy, other settings or other prompts.
    """
    from polyrlaif.core.records import PromptRecord
    from polyrlaif.core.sampling import MediaSampler, candidate_id, media_seed

    if not hasattr(policy, "generate_media"):
        raise TypeError(f"{type(policy).__name__} produces no media (a text-to-image MediaPolicy is needed)")
    out_path = output_dir / "generations.jsonl"
    seeds = {
        candidate_id(0, pid, j): media_seed(seed, 0, i, j)
        for i, (pid, _) in enumerate(prompts)
        for j in range(samples)
    }
    _check_resume(
        out_path, {"policy": policy.model_id, "n": samples, "settings": dict(policy.settings())}, seeds
    )
    records = [PromptRecord(prompt_id=pid, text=text) for pid, text in prompts]
    sampler = MediaSampler(n=samples, batch_size=batch_size, seed=seed)
    # the same seeds whichever round is evaluated (round_idx 0), so rounds compare on the same noise
    made = sampler.sample(policy, records, round_idx=0, out_path=out_path, desc="evaluation generating")
    by_id = {c.candidate_id: c for c in made}
    chosen = [by_id[cid] for cid in seeds]
    text = dict(prompts)
    return [
        ImageRow(id=i, prompt=text[c.prompt_id], image=c.media[0].uri, path=Path(c.media[0].uri))
        for i, c in zip(unique_ids(c.prompt_id for c in chosen), chosen, strict=True)
    ]


def scored_batches(
    rows: Sequence[ImageRow], scorer: Scorer, *, batch_size: int = 32
) -> Iterator[tuple[ImageRow, float | None, str | None]]:
    """Open and score images batch by batch (so only one batch is in memory), in the order of ``rows``.

    Yields:
        ``(row, score, None)``, or ``(row, None, reason)`` for an image that is missing or unreadable.
    """
    from polyrlaif.core.media import load_image

    size = max(1, batch_size)
    for start in range(0, len(rows), size):
        batch = rows[start : start + size]
        opened: dict[int, Any] = {}
        reasons: dict[int, str] = {}
        for k, row in enumerate(batch):
            try:
                opened[k] = load_image(row.path, where=f"item {row.id}")
            except InputError as exc:
                reasons[k] = str(exc)
        got = scorer(list(opened.values()), [batch[k].prompt for k in opened]) if opened else []
        scores = dict(zip(opened, got, strict=True))
        for k, row in enumerate(batch):  # in input order
            yield (row, float(scores[k]), None) if k in scores else (row, None, reasons[k])


def clipscore_of(cosine: float) -> float:
    """CLIPScore from a cosine: ``100 * max(cos, 0)`` (torchmetrics' definition)."""
    return 100.0 * max(float(cosine), 0.0)


def clip_cosine_scorer(clip_model: str, clip_pretrained: str | None, *, device: str = "auto") -> Scorer:
    """``(images, prompts) -> cosines`` with an open_clip model (loaded now).

    Raises:
        ValueError: no weights at all (``clip_pretrained`` unset and ``clip_model`` not a trained
            directory): a CLIPScore of random weights means nothing.
    """
    from polyrlaif.core.clip import clip_embed_images, clip_embed_texts, load_clip

    own_weights = Path(clip_model).is_dir() or clip_model.startswith(("local-dir:", "hf-hub:"))
    if not clip_pretrained and not own_weights:
        raise ValueError(
            f"CLIP model {clip_model!r} has no weights: give --clip-pretrained (a tag such as 'openai' for "
            "ViT-L-14, torchmetrics' default, or a local weights file) or a trained CLIP directory"
        )
    model, preprocess, tokenizer = load_clip(clip_model, clip_pretrained, device=device)

    def cosines(images: list[Any], prompts: list[str]) -> list[float]:
        img = clip_embed_images(model, preprocess, images)
        return [float(c) for c in (img * clip_embed_texts(model, tokenizer, prompts)).sum(1)]

    return cosines


@dataclass
class ClipScoreOptions:
    """CLIPScore's options.

    Attributes:
        predictions: JSONL of ``{"image", "prompt"}`` rows (optional ``"id"``) to score.
        image_root: the folder the rows' image paths are relative to (``--images``; default: the
            predictions file's folder).
        clip_model: open_clip architecture, trained CLIP directory or config JSON (``--clip-model``).
        clip_pretrained: pretrained tag or local weights file (``--clip-pretrained``).
        prompts: the prompts a policy draws (``--model``): JSONL ``{"prompt"}`` rows (optional ``"id"``),
            a DrawBench CSV or a PartiPrompts TSV.
        device: where the CLIP runs (``"auto"``: CUDA when available).
    """

    predictions: str | None = None
    image_root: str | None = None
    clip_model: str = "ViT-L-14"
    clip_pretrained: str | None = None
    prompts: str | None = None
    device: str = "auto"


def image_rows_for(
    name: str, opts: Any, policy: MediaPolicy | None, request: EvalRequest
) -> list[ImageRow]:  # fmt: skip
    """The rows to score: read from ``opts.predictions``, or drawn by ``policy`` from ``opts.prompts``.

    Raises:
        ValueError: both or neither of a policy and predictions, or a policy without prompts.
        InputError: a bad predictions or prompts file.
    """
    if opts.predictions and policy is not None:
        raise ValueError(f"{name}: give a model or predictions, not both")
    if opts.predictions:
        return read_image_rows(opts.predictions, opts.image_root)[: request.limit or None]
    if policy is None:
        raise ValueError(f"{name} needs --predictions P.jsonl, or --model with --opt prompts=FILE")
    if not opts.prompts:
        raise ValueError(f"{name}: a model draws the prompts of a prompt file: --opt prompts=FILE")
    from polyrlaif.domains.text_to_image.drawbench import load_prompts

    prompts = [(p.id, p.prompt) for p in load_prompts(opts.prompts)][: request.limit or None]
    return generate_images(
        policy, prompts, Path(request.output_dir),
        samples=request.samples, seed=request.seed, batch_size=request.batch_size,
    )  # fmt: skip


class ClipScoreEvaluator:
    """CLIPScore: the mean of ``100 * max(cos(image, prompt), 0)`` over the images (higher is better).

    Options: :class:`ClipScoreOptions`. Writes ``items.jsonl`` (per image: ``id``, ``prompt``, ``image``,
    ``cosine`` and ``clipscore``), ``skipped.jsonl`` and ``metrics.json``/``metrics.md``. Returns
    ``clipscore``, ``n`` (images scored) and ``skipped``.
    """

    name: ClassVar[str] = "clipscore"
    Options: ClassVar[type] = ClipScoreOptions
    metrics: ClassVar[Mapping[str, Direction]] = {"clipscore": "higher"}
    max_new_tokens: ClassVar[int] = 0  # images, not tokens

    def evaluate(self, policy: MediaPolicy | None, request: EvalRequest) -> dict[str, float]:
        """Score the predictions (or the policy's images of the prompts) and write the results.

        Raises:
            ValueError: both or neither of a policy and predictions; no CLIP weights.
            InputError: a bad predictions or prompts file (before any model loads).
        """
        from polyrlaif.evaluation.tables import write_metrics

        opts = resolve_options(self, request.options)
        output_dir = Path(request.output_dir)
        rows = image_rows_for(self.name, opts, policy, request)
        scorer = clip_cosine_scorer(opts.clip_model, opts.clip_pretrained, device=opts.device)
        items, skipped = [], []
        for row, cos, reason in scored_batches(rows, scorer, batch_size=request.batch_size):
            base = {"id": row.id, "prompt": row.prompt, "image": row.image}
            if cos is None:
                skipped.append({**base, "reason": reason})
            else:
                items.append({**base, "cosine": cos, "clipscore": clipscore_of(cos)})
        atomic_write_jsonl(output_dir / ITEMS_FILE, items)
        atomic_write_jsonl(output_dir / SKIPPED_FILE, skipped)
        metrics = {**self.aggregate(items), "skipped": float(len(skipped))}
        metrics.setdefault("clipscore", math.nan)
        metrics.setdefault("n", 0.0)
        write_metrics(output_dir, metrics)
        if skipped:
            log.warning(f"clipscore: {len(skipped)} image(s) skipped, reasons in {output_dir / SKIPPED_FILE}")
        log.info(f"clipscore: {metrics['clipscore']:.4g} over {len(items)} images")
        return metrics

    @staticmethod
    def aggregate(rows: Sequence[Mapping[str, Any]]) -> dict[str, float]:
        """``clipscore`` (the mean over rows) and ``n``."""
        if not rows:
            return {}
        return {"clipscore": sum(float(r["clipscore"]) for r in rows) / len(rows), "n": float(len(rows))}
