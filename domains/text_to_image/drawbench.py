"""DrawBench and PartiPrompts prompt lists, and a win rate of a tuned model's images over a base model's.

The prompt lists are not shipped: pass the files you have. DrawBench (Saharia et al., 2022) is a CSV with
columns ``Prompts,Category``; PartiPrompts (Yu et al., 2022) a TSV with columns
``Prompt<TAB>Category<TAB>Challenge<TAB>Note`` (unquoted, as published). :func:`load_prompts` also reads
JSONL (``{"prompt"}`` rows, optional ``"id"`` and ``"category"``) and plain text (one prompt a line).

:class:`WinRateEvaluator` scores both models' images of the same prompts with one scorer and counts a
win when the tuned image scores higher, a tie (half a win) when the two are within ``tie_margin``. The
scorer is CLIPScore through :mod:`polyrlaif.core.clip` by default; PickScore (a CLIP model, read with
transformers from a local folder), HPSv2 (an open_clip ViT-H-14 checkpoint, read with open_clip) and
ImageReward (through its own package) take their weights from local paths only.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, get_args

from polyrlaif.core.benchmarks import resolve_options
from polyrlaif.core.evidence import ITEMS_FILE
from polyrlaif.core.io import InputError, atomic_write_jsonl, iter_jsonl
from polyrlaif.core.log import get_logger
from polyrlaif.core.protocols import Direction, EvalRequest, MediaPolicy
from polyrlaif.evaluation.items import unique_ids

__all__ = [
    "HPSV2_ARCH",
    "PromptRow",
    "ScorerName",
    "WinRateEvaluator",
    "WinRateOptions",
    "load_drawbench",
    "load_partiprompts",
    "load_prompts",
    "make_scorer",
]

log = get_logger(__name__)

ScorerName = Literal["clipscore", "pickscore", "hpsv2", "imagereward"]
#: The open_clip architecture HPSv2 (and v2.1) fine-tunes.
HPSV2_ARCH = "ViT-H-14"


@dataclass
class PromptRow:
    """One benchmark prompt.

    Attributes:
        id: the row's ``id``, else the prompt text (repeats suffixed ``#2``...): the item id of its image.
        prompt: the prompt text.
        category: DrawBench's or PartiPrompts' category ("" when the file has none).
        challenge: PartiPrompts' challenge aspect ("" elsewhere).
        note: PartiPrompts' note ("" elsewhere).
    """

    id: str
    prompt: str
    category: str = ""
    challenge: str = ""
    note: str = ""


def _text(path: Path) -> str:
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(f"{path}:{line}: not UTF-8 text ({exc.reason})") from None


def _table(
    path: str | Path, *, delimiter: str, prompt_col: tuple[str, ...], extra: dict[str, str]
) -> list[PromptRow]:
    """Rows of a CSV/TSV with a header; ``extra`` maps PromptRow fields to optional column names."""
    path = Path(path)
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    reader = csv.DictReader(io.StringIO(_text(path), newline=""), delimiter=delimiter, quoting=quoting)
    header = [h.strip() for h in reader.fieldnames or []]
    reader.fieldnames = header
    col = next((c for c in prompt_col if c in header), None)
    missing = ([] if col else [prompt_col[0]]) + [c for c in ("Category",) if c not in header]
    if missing:
        raise InputError(f"{path}:1: missing column(s) {', '.join(map(repr, missing))} (header: {header})")
    rows = []
    for rec in reader:
        line = reader.line_num
        if not any((v or "").strip() for k, v in rec.items() if k is not None):
            continue  # a blank line
        if rec.get(None):
            raise InputError(f"{path}:{line}: more fields than the header's {len(header)}")
        absent = [c for c in (col, "Category") if rec.get(c) is None]
        if absent:
            raise InputError(f"{path}:{line}: field {absent[0]!r} is missing (fewer fields than the header)")
        prompt = rec[col]
        if not prompt.strip():
            raise InputError(f"{path}:{line}: field {col!r} is empty")
        rows.append((prompt.strip(), {f: (rec.get(c) or "").strip() for f, c in extra.items()}))
    return [
        PromptRow(id=i, prompt=p, **kw)
        for i, (p, kw) in zip(unique_ids(p for p, _ in rows), rows, strict=True)
    ]


def load_drawbench(path: str | Path) -> list[PromptRow]:
    """DrawBench prompts from its CSV (columns ``Prompts`` (or ``Prompt``) and ``Category``).

    Raises:
        InputError: a missing file or column, or an empty prompt (naming file, line and field).
    """
    return _table(path, delimiter=",", prompt_col=("Prompts", "Prompt"), extra={"category": "Category"})


def load_partiprompts(path: str | Path) -> list[PromptRow]:
    """PartiPrompts from its TSV (columns ``Prompt``, ``Category``, ``Challenge``, ``Note``; the last two
    may be absent or empty).

    Raises:
        InputError: a missing file or column, an empty prompt or a row with too many fields.
    """
    extra = {"category": "Category", "challenge": "Challenge", "note": "Note"}
    return _table(path, delimiter="\t", prompt_col=("Prompt",), extra=extra)


def load_prompts(path: str | Path) -> list[PromptRow]:
    """Prompts from a DrawBench ``.csv``, a PartiPrompts ``.tsv``, a ``.jsonl`` of ``{"prompt"}`` rows
    (optional ``"id"``, ``"category"``; the domain's ``{"text", "prompt_id"}`` rows are read too) or a
    ``.txt`` (one prompt a line).

    Raises:
        InputError: an unknown suffix, or a bad file (naming file, line and field).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return load_drawbench(path)
    if suffix == ".tsv":
        return load_partiprompts(path)
    if suffix == ".txt":
        texts = [t.strip() for t in _text(path).splitlines() if t.strip()]
        return [PromptRow(id=i, prompt=t) for i, t in zip(unique_ids(texts), texts, strict=True)]
    if suffix != ".jsonl":
        raise InputError(f"{path}: prompts must be .csv (DrawBench), .tsv (PartiPrompts), .jsonl or .txt")
    keys, rows = [], []
    for line, row in iter_jsonl(path):
        # {"prompt"[, "id"]}, or the domain's own prompt files' {"text"[, "prompt_id"]}
        text_key = "prompt" if "prompt" in row else "text"
        id_key = "id" if "id" in row else "prompt_id"
        if text_key not in row:
            raise InputError(f"{path}:{line}: missing field 'prompt' (or 'text')")
        for field in (text_key, *((id_key,) if id_key in row else ())):
            if not isinstance(row[field], str) or not row[field].strip():
                raise InputError(f"{path}:{line}: field {field!r} must be a non-empty string")
        keys.append(row.get(id_key, row[text_key]))
        rows.append((row[text_key], str(row.get("category", ""))))
    return [PromptRow(id=i, prompt=p, category=c) for i, (p, c) in zip(unique_ids(keys), rows, strict=True)]


def _pickscore(path: str, processor_path: str | None, device: str) -> Any:
    """PickScore (Kirstain et al., 2023): ``logit_scale.exp() * cos`` of a fine-tuned CLIP-H."""
    import torch
    from transformers import AutoModel, AutoProcessor

    processor = AutoProcessor.from_pretrained(processor_path or path)
    model = AutoModel.from_pretrained(path).eval().to(device)

    def embed(out: Any) -> Any:  # transformers 5 returns an output object, 4 a tensor
        emb = out if isinstance(out, torch.Tensor) else out.pooler_output
        return emb / emb.norm(dim=-1, keepdim=True)

    def score(images: list[Any], prompts: list[str]) -> list[float]:
        with torch.no_grad():
            pixels = processor(images=images, return_tensors="pt").to(device)
            text = processor(text=prompts, padding=True, truncation=True, max_length=77, return_tensors="pt")
            img = embed(model.get_image_features(**pixels))
            txt = embed(model.get_text_features(**text.to(device)))
            return [float(s) for s in model.logit_scale.exp() * (img * txt).sum(-1)]

    return score


def _imagereward(path: str, device: str) -> Any:
    try:
        import ImageReward as reward_package  # noqa: N813
    except ImportError:
        raise RuntimeError(
            "scorer 'imagereward' needs the image-reward package (pip install image-reward) and a local "
            "ImageReward-v1.0.pt as scorer_path (its med_config.json beside it); the package also reads "
            "bert-base-uncased's tokenizer from the Hugging Face cache"
        ) from None
    model = reward_package.load(path, device=device)
    return lambda images, prompts: [float(model.score(p, im)) for im, p in zip(images, prompts, strict=True)]


def make_scorer(opts: WinRateOptions) -> Any:
    """``(PIL images, prompts) -> scores`` for ``opts.scorer``, loaded now.

    Raises:
        ValueError: PickScore, HPSv2 or ImageReward without ``scorer_path``.
        FileNotFoundError: ``scorer_path`` does not exist.
        RuntimeError: ImageReward's package is not installed.
    """
    from polyrlaif.core.models import pick_device
    from polyrlaif.domains.text_to_image.clipscore import clip_cosine_scorer, clipscore_of

    if opts.scorer == "clipscore":
        cosines = clip_cosine_scorer(opts.clip_model, opts.clip_pretrained, device=opts.device)
        return lambda images, prompts: [clipscore_of(c) for c in cosines(images, prompts)]
    if not opts.scorer_path:
        raise ValueError(f"scorer {opts.scorer!r} needs scorer_path: its weights, as a local path")
    if not Path(opts.scorer_path).exists():
        raise FileNotFoundError(f"scorer {opts.scorer!r}: {opts.scorer_path} not found")
    device = pick_device(opts.device)
    if opts.scorer == "pickscore":
        return _pickscore(opts.scorer_path, opts.scorer_processor, device)
    if opts.scorer == "hpsv2":  # HPSv2's own score: the plain cosine of its fine-tuned open_clip model
        return clip_cosine_scorer(HPSV2_ARCH, opts.scorer_path, device=device)
    return _imagereward(opts.scorer_path, device)


@dataclass
class WinRateOptions:
    """The win rate's options.

    Attributes:
        predictions: the tuned model's images: JSONL ``{"image", "prompt"}`` rows (optional ``"id"``);
            with ``--model``, the model draws ``prompts`` instead.
        baseline: the base model's images of the same prompts, in the same format (required).
        image_root: the folder both files' image paths are relative to (default: each file's folder).
        prompts: the prompts a policy draws (DrawBench CSV, PartiPrompts TSV, JSONL or text).
        scorer: ``clipscore``, ``pickscore``, ``hpsv2`` or ``imagereward``.
        scorer_path: local weights of PickScore (a transformers folder), HPSv2 (an open_clip checkpoint of
            ViT-H-14) or ImageReward (its ``.pt``).
        scorer_processor: PickScore's processor folder when not in ``scorer_path``.
        clip_model: open_clip architecture, trained CLIP directory or config JSON of the CLIPScore scorer.
        clip_pretrained: its pretrained tag or weights file.
        tie_margin: scores closer than this are a tie.
        device: where the scorer runs.
    """

    predictions: str | None = None
    baseline: str | None = None
    image_root: str | None = None
    prompts: str | None = None
    scorer: str = "clipscore"
    scorer_path: str | None = None
    scorer_processor: str | None = None
    clip_model: str = "ViT-L-14"
    clip_pretrained: str | None = None
    tie_margin: float = 0.0
    device: str = "auto"

    def __post_init__(self) -> None:
        if self.scorer not in get_args(ScorerName):
            raise ValueError(f"scorer must be one of {', '.join(get_args(ScorerName))}, got {self.scorer!r}")
        if not self.tie_margin >= 0:
            raise ValueError(f"tie_margin must be >= 0, got {self.tie_margin}")


class WinRateEvaluator:
    """Win rate of a tuned model's images over a base model's on the same prompts (higher is better).

    Items pair by id (the rows' ``id``, else the prompt). Options: :class:`WinRateOptions`. Writes
    ``items.jsonl`` (per prompt: ``id``, ``prompt``, both images and scores, ``win`` 1, 0.5 or 0),
    ``skipped.jsonl`` (unreadable images, prompts only one side has) and ``metrics.json``. Returns
    ``win_rate``, ``n``, ``wins``, ``ties``, ``losses``, ``tuned_score``, ``base_score`` and ``skipped``.
    """

    name: ClassVar[str] = "winrate"
    Options: ClassVar[type] = WinRateOptions
    metrics: ClassVar[Mapping[str, Direction]] = {"win_rate": "higher"}
    max_new_tokens: ClassVar[int] = 0  # images, not tokens

    def evaluate(self, policy: MediaPolicy | None, request: EvalRequest) -> dict[str, float]:
        """Read (or draw) the tuned images, read the base images, score both and count wins.

        Raises:
            ValueError: no baseline; both or neither of a policy and predictions.
            InputError: a bad file, or the two sides disagree on an id's prompt (before any model loads).
        """
        from polyrlaif.domains.text_to_image.clipscore import (
            SKIPPED_FILE,
            image_rows_for,
            read_image_rows,
            scored_batches,
        )
        from polyrlaif.evaluation.tables import write_metrics

        opts = resolve_options(self, request.options)
        if not opts.baseline:
            raise ValueError("winrate needs the base model's images: --opt baseline=BASE.jsonl")
        base = {r.id: r for r in read_image_rows(opts.baseline, opts.image_root)}
        if opts.predictions:  # check the pairing before a model loads
            for r in read_image_rows(opts.predictions, opts.image_root):
                if r.id in base and base[r.id].prompt != r.prompt:
                    raise InputError(f"id {r.id!r}: prompt {r.prompt!r} in {opts.predictions}, "
                                     f"{base[r.id].prompt!r} in {opts.baseline}")  # fmt: skip
        tuned = image_rows_for(self.name, opts, policy, request)
        skipped = [
            {"id": r.id, "prompt": r.prompt, "reason": "no base image"} for r in tuned if r.id not in base
        ]
        if request.limit is None:
            ids = {r.id for r in tuned}
            skipped += [
                {"id": i, "prompt": r.prompt, "reason": "no tuned image"}
                for i, r in base.items()
                if i not in ids
            ]
        pairs = [(r, base[r.id]) for r in tuned if r.id in base]
        scorer = make_scorer(opts)
        scored = scored_batches([r for p in pairs for r in p], scorer, batch_size=request.batch_size)
        result = list(scored)  # in order: tuned, base, tuned, base...
        items = []
        for (t, t_score, t_why), (b, b_score, b_why) in zip(result[0::2], result[1::2], strict=True):
            if t_score is None or b_score is None:
                skipped.append({"id": t.id, "prompt": t.prompt, "reason": t_why or b_why})
                continue
            gap = t_score - b_score
            win = 0.5 if abs(gap) <= opts.tie_margin else float(gap > 0)
            items.append({"id": t.id, "prompt": t.prompt, "tuned_image": t.image, "base_image": b.image,
                          "tuned_score": t_score, "base_score": b_score, "win": win})  # fmt: skip
        output_dir = Path(request.output_dir)
        atomic_write_jsonl(output_dir / ITEMS_FILE, items)
        atomic_write_jsonl(output_dir / SKIPPED_FILE, skipped)
        wins = [r["win"] for r in items]
        metrics = {
            "win_rate": math.nan, "n": 0.0, **self.aggregate(items),
            "wins": float(wins.count(1.0)), "ties": float(wins.count(0.5)), "losses": float(wins.count(0.0)),
            "skipped": float(len(skipped)),
        }  # fmt: skip
        write_metrics(output_dir, metrics)
        log.info(f"winrate ({opts.scorer}): {metrics['win_rate']:.4g} over {len(items)} prompts, "
                 f"{len(skipped)} skipped")  # fmt: skip
        return metrics

    @staticmethod
    def aggregate(rows: Sequence[Mapping[str, Any]]) -> dict[str, float]:
        """``win_rate`` (ties count half), ``n``, and the mean ``tuned_score`` and ``base_score``."""
        if not rows:
            return {}
        n = len(rows)
        return {
            "win_rate": sum(float(r["win"]) for r in rows) / n,
            "n": float(n),
            "tuned_score": sum(float(r["tuned_score"]) for r in rows) / n,
            "base_score": sum(float(r["base_score"]) for r in rows) / n,
        }
