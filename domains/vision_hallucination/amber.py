"""AMBER (Wang et al., 2023) as a benchmark of the domain: generative object-hallucination metrics and
discriminative yes/no accuracy, scored by :mod:`polyrlaif.evaluation.hallucination.amber`."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polyrlaif.domains.vision_hallucination.benchmarks import (
    Item,
    Rows,
    Scored,
    VisionBenchmark,
    VisionOptions,
    image_root_for,
)
from polyrlaif.evaluation.items import binary_counts_metrics, confusion, ratio, unique_ids

__all__ = ["AmberEvaluator", "AmberOptions"]

#: What a discriminative response without a yes/no word counts as: AMBER's script counts only an
#: explicit "No" as a no.
UNPARSED_AS = "yes"


@dataclass
class AmberOptions(VisionOptions):
    """AMBER's options.

    Attributes:
        annotations: AMBER annotation JSON (required).
        queries: AMBER query JSON (``[{"id", "image", "query"}]``), for a policy run.
        image_root: directory of the images (default ``<queries dir>/../images``).
    """

    queries: str | None = None


class AmberEvaluator(VisionBenchmark):
    """AMBER's generative metrics (CHAIR, Cover, Hal, Cog) and, for discriminative queries, accuracy and
    F1, and the AMBER score when both kinds were asked. Options: :class:`AmberOptions`.

    ``items.jsonl``: one row per query (``id``: its AMBER id) with its ``kind``; a ``generative`` row
    counts the objects its response names (``n_mentioned``), those not in the truth (``n_hallucinated``),
    the truth objects (``n_truth``) and those named (``n_covered``), and the named objects of the
    annotation's ``hallu`` list (``n_cog``); a ``discriminative`` row holds the gold ``label`` and the
    ``prediction`` scored (yes/no).
    """

    name, title = "amber", "AMBER"
    Options = AmberOptions
    metrics = {
        "chair": "lower",
        "cover": "higher",
        "hal": "lower",
        "cog": "lower",
        "acc": "higher",
        "f1": "higher",
        "amber_score": "higher",
    }

    def items(self, opts: AmberOptions, limit: int | None) -> list[Item]:
        """One request per AMBER query."""
        from polyrlaif.evaluation.hallucination.loaders import load_amber_queries

        if not opts.queries:
            raise ValueError("amber with --model needs the queries option (AMBER query JSON)")
        queries = load_amber_queries(opts.queries)[: limit or None]
        root = image_root_for(opts.image_root, opts.queries)
        return [(q["id"], str(root / q["image"]), q["query"]) for q in queries]

    def read(self, opts: AmberOptions, limit: int | None) -> dict[Hashable, str]:
        """AMBER responses (``[{"id", "response"}]``, JSON or JSONL)."""
        from polyrlaif.evaluation.hallucination.loaders import load_amber_responses

        assert opts.predictions is not None
        return dict(list(load_amber_responses(opts.predictions).items())[: limit or None])

    def score(self, answers: dict[Hashable, str], opts: AmberOptions, output_dir: Path) -> Scored:
        """AMBER's metrics against its annotation file."""
        from polyrlaif.evaluation.hallucination.amber import amber_scores
        from polyrlaif.evaluation.hallucination.loaders import load_amber_annotations
        from polyrlaif.evaluation.hallucination.pope import parse_yes_no

        if not opts.annotations:
            raise ValueError("amber needs --annotations (AMBER annotation JSON)")
        annotations = load_amber_annotations(opts.annotations)
        result = amber_scores(answers, annotations, unparsed_as=UNPARSED_AS)
        generative = {r.id: r for r in (result.generative.rows if result.generative else ())}
        items: list[dict[str, Any]] = []
        for item_id, (key, response) in zip(unique_ids(answers), answers.items(), strict=True):
            if key in generative:
                g = generative[key]
                items.append(
                    {
                        "id": item_id,
                        "kind": "generative",
                        "n_mentioned": len(g.mentioned),
                        "n_hallucinated": len(g.hallucinated),
                        "n_truth": len(g.truth),
                        "n_covered": len(g.covered),
                        "n_cog": len(g.cog),
                    }
                )
            else:
                label, pred = str(annotations[key].truth), parse_yes_no(response) or UNPARSED_AS
                items.append({"id": item_id, "kind": "discriminative", "label": label, "prediction": pred})
        return result.metrics(), [{"id": k, "response": v} for k, v in answers.items()], items

    @staticmethod
    def aggregate(rows: Rows) -> dict[str, float]:
        """The generative metrics over the ``generative`` rows (``chair``, ``cover`` and ``cog`` as ratios
        of summed counts, ``hal`` the share of responses with a hallucinated object), accuracy,
        precision, recall and F1 over the ``discriminative`` rows ("no" is the positive class, AMBER's
        convention), and ``amber_score = (1 - chair + f1) / 2`` when both kinds are present. A kind
        without rows leaves its metrics out; a ratio over a zero sum is NaN."""
        out: dict[str, float] = {}
        gen = [r for r in rows if r["kind"] == "generative"]
        if gen:
            mentioned = sum(r["n_mentioned"] for r in gen)
            out["chair"] = ratio(sum(r["n_hallucinated"] for r in gen), mentioned)
            out["cover"] = ratio(sum(r["n_covered"] for r in gen), sum(r["n_truth"] for r in gen))
            out["hal"] = sum(r["n_hallucinated"] > 0 for r in gen) / len(gen)
            out["cog"] = ratio(sum(r["n_cog"] for r in gen), mentioned)
        disc = [(r["label"] == "no", r["prediction"] == "no") for r in rows if r["kind"] == "discriminative"]
        if disc:
            m = binary_counts_metrics(*confusion(disc))
            out.update(acc=m["accuracy"], precision=m["precision"], recall=m["recall"], f1=m["f1"])
        if "chair" in out and "f1" in out:
            out["amber_score"] = (1.0 - out["chair"] + out["f1"]) / 2
        return out
