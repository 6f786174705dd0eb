"""Benchmarks of the `text_to_image` domain: compositional accuracy (GenEval style), plus CLIPScore
(:mod:`~polyrlaif.domains.text_to_image.clipscore`) and the pairwise win rate on DrawBench/PartiPrompts
(:mod:`~polyrlaif.domains.text_to_image.drawbench`).

Compositional accuracy: for each held-out prompt, ``samples`` images (each with its own seed, shared by
every model evaluated on the same prompts), checked by the rules (the draw world's colour-blob detector
for objects, colours, counts and positions; see :mod:`~polyrlaif.domains.text_to_image.verifier`).
``accuracy`` is the share of images where every applicable check holds; ``object``, ``colour``,
``count`` and ``position`` are per axis, over the images where the axis applies. With ``references``
(a folder of real images of the same prompts) and ``fid_clip_model``, the FID between the generated
images and the references, in that CLIP's image features (:mod:`polyrlaif.evaluation.fid`). A grid of
the first prompts' images goes to ``grid.png``.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from polyrlaif.core.benchmarks import resolve_options
from polyrlaif.core.evidence import ITEMS_FILE
from polyrlaif.core.io import atomic_write_jsonl
from polyrlaif.core.log import get_logger
from polyrlaif.core.protocols import Direction, EvalRequest, MediaPolicy

__all__ = ["AXES", "CompositionalEvaluator", "CompositionalOptions", "image_grid"]

log = get_logger(__name__)

#: The axes the compositional benchmark reports, besides ``accuracy``.
AXES = ("object", "colour", "count", "position")


@dataclass
class CompositionalOptions:
    """Compositional accuracy's options.

    Attributes:
        prompts: the prompts a policy draws: JSONL of ``{"text"[, "prompt_id"]}`` rows.
        predictions: instead of a policy, JSONL of ``{"image", "prompt"[, "id"]}`` rows to check.
        image_root: the folder the predictions' image paths are relative to (default: the file's).
        rules: the rule checks (see :func:`~polyrlaif.domains.text_to_image.verifier.resolve_rule`).
        references: a folder of real images of the prompts, for FID.
        fid_clip_model: the CLIP whose image features FID compares (a trained directory or an
            open_clip name); ``None``: no FID.
        grid_prompts: prompts shown in ``grid.png`` (0: no grid).
        device: where the FID features are computed.
    """

    prompts: str | None = None
    predictions: str | None = None
    image_root: str | None = None
    rules: list[str] = field(default_factory=lambda: ["draw"])
    references: str | None = None
    fid_clip_model: str | None = None
    grid_prompts: int = 8
    device: str = "auto"


def image_grid(rows: Sequence[Sequence[str | Path]], out: str | Path, *, scale: int = 3) -> Path:
    """Write a PNG grid: one row per list of image files, enlarged ``scale`` times (nearest neighbour)."""
    from PIL import Image

    from polyrlaif.core.io import atomic_write_bytes

    images = [[Image.open(p).convert("RGB") for p in r] for r in rows if r]
    w, h = images[0][0].size
    cols = max(len(r) for r in images)
    grid = Image.new("RGB", (cols * (w * scale + 2), len(images) * (h * scale + 2)), (255, 255, 255))
    for i, r in enumerate(images):
        for j, im in enumerate(r):
            grid.paste(
                im.resize((w * scale, h * scale), Image.NEAREST), (j * (w * scale + 2), i * (h * scale + 2))
            )
    import io

    buf = io.BytesIO()
    grid.save(buf, format="PNG")
    return atomic_write_bytes(out, buf.getvalue())


class CompositionalEvaluator:
    """GenEval-style compositional accuracy of generated images (higher is better). Options:
    :class:`CompositionalOptions`. ``items.jsonl``: per image, its ``id`` (``<prompt id>/<k>``), the
    prompt, the image and one verdict per axis (``null`` where the axis does not apply)."""

    name: ClassVar[str] = "compositional"
    Options: ClassVar[type] = CompositionalOptions
    metrics: ClassVar[Mapping[str, Direction]] = {"accuracy": "higher", **dict.fromkeys(AXES, "higher")}
    max_new_tokens: ClassVar[int] = 0  # images, not tokens

    def _rows(self, opts: Any, policy: MediaPolicy | None, request: EvalRequest) -> list[Any]:
        from polyrlaif.domains.text_to_image.clipscore import generate_images, read_image_rows
        from polyrlaif.domains.text_to_image.data import load_prompts

        if opts.predictions:
            if policy is not None:
                raise ValueError("compositional: give a model or predictions, not both")
            return read_image_rows(opts.predictions, opts.image_root)[: request.limit or None]
        if policy is None or not opts.prompts:
            raise ValueError("compositional needs --predictions P.jsonl, or a model with --opt prompts=FILE")
        prompts = [(p.prompt_id, p.text) for p in load_prompts(opts.prompts)][: request.limit or None]
        rows = generate_images(policy, prompts, Path(request.output_dir), samples=request.samples,
                               seed=request.seed, batch_size=request.batch_size)  # fmt: skip
        for row, (pid, k) in zip(
            rows, ((pid, k) for pid, _ in prompts for k in range(request.samples)), strict=True
        ):
            row.id = f"{pid}/{k}"
        return rows

    def evaluate(self, policy: MediaPolicy | None, request: EvalRequest) -> dict[str, float]:
        """Generate (or read) the images, check them, and write ``items.jsonl``, ``skipped.jsonl``,
        ``metrics.json`` and ``grid.png``."""
        from polyrlaif.domains.text_to_image.clipscore import SKIPPED_FILE
        from polyrlaif.domains.text_to_image.verifier import RuleVerifier
        from polyrlaif.evaluation.tables import write_metrics

        opts = resolve_options(self, request.options)
        out = Path(request.output_dir)
        rules = RuleVerifier(opts.rules)  # an unknown rule fails here, before any image is made
        rows = self._rows(opts, policy, request)
        items, skipped = [], []
        for row in rows:
            base = {"id": row.id, "prompt": row.prompt, "image": str(row.image)}
            try:
                from polyrlaif.core.media import load_image

                load_image(row.path)
            except Exception as exc:
                skipped.append({**base, "reason": f"unreadable_image: {exc}"})
                continue
            share, verdicts = rules.check(row.prompt, str(row.path))
            if share is None:
                skipped.append({**base, "reason": f"no_rule_applies: {row.prompt[:60]!r}"})
                continue
            merged = {a: _all(v.get(a) for v in verdicts.values()) for a in AXES}
            overall = all(v for v in merged.values() if v is not None)
            items.append({**base, **merged, "overall": overall})
        atomic_write_jsonl(out / ITEMS_FILE, items)
        atomic_write_jsonl(out / SKIPPED_FILE, skipped)
        metrics = {**self.aggregate(items), "skipped": float(len(skipped))}
        if opts.references and opts.fid_clip_model and len(rows) >= 2:
            metrics["fid"] = self._fid(opts, rows, out)
        if opts.grid_prompts and rows:
            by_prompt: dict[str, list[Path]] = {}
            for row in rows:
                by_prompt.setdefault(row.prompt, []).append(row.path)
            image_grid(list(by_prompt.values())[: opts.grid_prompts], out / "grid.png")
        write_metrics(out, metrics)
        log.info(
            f"compositional: accuracy {metrics.get('accuracy', float('nan')):.3f} over {len(items)} images"
        )
        return metrics

    @staticmethod
    def _fid(opts: Any, rows: Sequence[Any], out: Path) -> float:
        from polyrlaif.core.clip import clip_embed_images, load_clip
        from polyrlaif.evaluation.fid import fid

        flat = out / "fid_images"
        if flat.exists():
            shutil.rmtree(flat)
        flat.mkdir(parents=True)
        for i, row in enumerate(rows):
            shutil.copyfile(row.path, flat / f"{i:05d}.png")
        model, preprocess, _ = load_clip(opts.fid_clip_model, device=opts.device)
        return fid(
            flat, opts.references, extractor=lambda ims: clip_embed_images(model, preprocess, list(ims))
        )

    @staticmethod
    def summarize(eval_dirs: Sequence[Path], out_dir: Path, *, prompts: int = 8) -> list[Path]:
        """``compositional_rounds.png``: the first image of the same held-out prompts (rows) after every
        round (columns, round 0 first), so a reader sees what training changed."""
        from polyrlaif.core.io import read_jsonl

        if len(eval_dirs) < 2:
            return []
        by_round = []
        for d in eval_dirs:
            rows = read_jsonl(Path(d) / ITEMS_FILE) if (Path(d) / ITEMS_FILE).is_file() else []
            by_round.append({r["id"]: r["image"] for r in rows if str(r["id"]).endswith("/0")})
        ids = [i for i in by_round[0] if all(i in r for r in by_round)][:prompts]
        if not ids:
            return []
        grid = [[r[i] for r in by_round] for i in ids]
        return [image_grid(grid, Path(out_dir) / "compositional_rounds.png")]

    @staticmethod
    def aggregate(rows: Sequence[Mapping[str, Any]]) -> dict[str, float]:
        """``accuracy`` (share of images with every applicable check holding), each axis over the images
        where it applies, and ``n``."""
        if not rows:
            return {}
        out = {"accuracy": sum(bool(r["overall"]) for r in rows) / len(rows), "n": float(len(rows))}
        for axis in AXES:
            applicable = [r[axis] for r in rows if r.get(axis) is not None]
            if applicable:
                out[axis] = sum(map(bool, applicable)) / len(applicable)
        return out


def _all(values: Any) -> bool | None:
    """All of the verdicts that apply; ``None`` when none does."""
    got = [v for v in values if v is not None]
    return all(got) if got else None
