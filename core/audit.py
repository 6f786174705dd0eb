"""``polyrlaif audit``: probe a run's judges on the run's own candidates (issue 22), before trusting them.

The run is the config's (``run.output_dir``): the audit reads the newest round's ``candidates.jsonl``,
or, when no round has sampled yet, samples round 1 with the starting policy into the same file a later
``polyrlaif train`` resumes from. It verifies the audited candidates (the verifiers' verdicts feed the
judges' context, as in training), then runs each probe of :mod:`polyrlaif.core.audit_probes` on every
configured judge, and writes to ``<output_dir>/audit`` (or ``--output``):

* ``audit.json``: per judge and probe, each metric with its 95% bootstrap interval and ``n``, or why
  the probe does not apply;
* ``audit.md``: the same as tables, with the command that made it;
* ``audit.png``: one panel per probe, every judge's value with its interval.

Candidates are audited by whole prompt groups (``--limit`` prompts, the first in the round's order), so
the within-group probes see every candidate of a prompt. Nothing trains and no artifact of the round
changes but the candidates a fresh round samples.
"""

from __future__ import annotations

import math
import sys
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from polyrlaif.core.audit_probes import (
    EDITS,
    agreement_probe,
    consistency_probe,
    edit_probe,
    failure_kinds,
    length_probe,
    plain_edit,
    position_probe,
)
from polyrlaif.core.config import TrainConfig
from polyrlaif.core.io import atomic_write_json, atomic_write_text, read_jsonl
from polyrlaif.core.log import get_logger
from polyrlaif.core.records import Candidate, Judgment
from polyrlaif.core.significance import bootstrap_intervals

__all__ = ["audit", "audit_round"]

log = get_logger(__name__)


def _round_dir(out: Path, round_idx: int | None) -> Path | None:
    """The round to audit: ``round_idx``'s folder, else the newest with candidates (None: none yet)."""
    if round_idx is not None:
        return out / f"round_{round_idx}"
    done = sorted(
        (int(p.parent.name.split("_")[1]), p.parent)
        for p in out.glob("round_*/candidates.jsonl")
        if p.parent.name.split("_")[1].isdigit()
    )
    return done[-1][1] if done else None


def _verdicts(
    feedback: Any, by_id: Mapping[str, Any], cands: list[Candidate], stored: Sequence[Judgment] = ()
) -> dict[str, list[Judgment]]:
    """Each candidate's verifier judgments: the round's own (``stored``, from its judgments.jsonl) where
    a verifier already judged every audited candidate, else that verifier runs now."""
    out: dict[str, list[Judgment]] = defaultdict(list)
    wanted = {c.candidate_id for c in cands}
    for v in feedback.verifiers:
        got = [j for j in stored if j.judge_id == v.name and j.candidate_id in wanted]
        if {j.candidate_id for j in got} != wanted:
            got = v.verify({c.prompt_id: by_id[c.prompt_id] for c in cands}, cands)
        for j in got:
            out[j.candidate_id].append(j)
    return out


def _truth(feedback: Any, verdicts: Mapping[str, Sequence[Judgment]]) -> tuple[str | None, dict[str, bool]]:
    """The first verifier that knows the truth (``ground_truth = True``): its name and, per candidate it
    decided, whether the candidate is right (its score at its maximum, 1)."""
    for v in feedback.verifiers:
        if getattr(v, "ground_truth", False):
            got = {cid: j.score >= 1.0 for cid, js in verdicts.items() for j in js
                   if j.judge_id == v.name and j.score is not None}  # fmt: skip
            return v.name, got
    return None, {}


def _summarise(
    rows: list[dict[str, Any]], aggregate: Any, metrics: list[str], skipped: Counter, seed: int
) -> dict[str, Any]:
    left_out = {"skipped": dict(skipped.most_common())} if skipped else {}
    if not rows:
        counts = "; ".join(f"{k}: {v}" for k, v in skipped.most_common())
        reason = "no item the probe could score" + (f" ({counts})" if counts else "")
        return {"applicable": False, "reason": reason, **left_out}
    got = bootstrap_intervals(rows, aggregate, metrics, seed=seed)
    return {"applicable": True, "n": len(rows), **left_out, **{m: iv.as_dict() for m, iv in got.items()}}


def audit_round(
    feedback: Any,
    by_id: Mapping[str, Any],
    cands: list[Candidate],
    *,
    repeats: int = 2,
    seed: int = 0,
    stored: Sequence[Judgment] = (),
) -> dict[str, dict[str, Any]]:
    """Every probe on every judge of ``feedback`` (an :class:`~polyrlaif.core.protocols.OfflineFeedback`)
    over ``cands``: ``{judge_id: {probe: summary}}`` (each summary a metric -> interval mapping with
    ``n``, or ``applicable: False`` with a ``reason``). ``stored``: the round's judgments, whose verifier
    verdicts are reused."""
    verdicts = _verdicts(feedback, by_id, cands, stored)
    edit = getattr(feedback, "perturb", None) or plain_edit
    truth_name, truth = _truth(feedback, verdicts)

    def context_of(c: Candidate) -> dict[str, Any]:
        return feedback.context(by_id[c.prompt_id], c, verdicts.get(c.candidate_id, []))

    report: dict[str, dict[str, Any]] = {}
    for judge in feedback.judges:
        jid = judge.judge_id
        log.info(f"audit: {jid} on {len(cands)} candidates")
        judged = judge.judge(
            {c.prompt_id: by_id[c.prompt_id] for c in cands}, cands, [context_of(c) for c in cands]
        )
        base = {j.candidate_id: j.score for j in judged}
        failed = failure_kinds(judged)
        pairwise = getattr(judge, "kind", "") == "pairwise"
        probes: dict[str, Any] = {}
        probes["position"] = (
            _summarise(*position_probe(judged), seed)
            if pairwise
            else {"applicable": False, "reason": "a pointwise judge sees one response at a time"}
        )
        for probe, kind in EDITS.items():
            got = edit_probe(judge, kind, by_id, cands, base, context_of, edit, failed)
            probes[probe] = _summarise(*got, seed)
        probes["length"] = _summarise(*length_probe(cands, base, verdicts, failed), seed)
        probes["consistency"] = _summarise(
            *consistency_probe(judge, by_id, cands, base, context_of, repeats, failed), seed
        )
        if truth_name is None:
            probes["agreement"] = {
                "applicable": False,
                "reason": "no verifier of this domain knows the truth",
            }
        else:
            probes["agreement"] = {
                "truth": truth_name,
                **_summarise(*agreement_probe(cands, base, truth, failed), seed),
            }
        report[jid] = probes
    return report


def audit(
    cfg: TrainConfig,
    *,
    round_idx: int | None = None,
    limit: int = 16,
    repeats: int = 2,
    output: str | Path | None = None,
    seed: int = 0,
    poison: Sequence[float] = (),
) -> Path:
    """Run the audit for ``cfg``'s run; returns the folder holding ``audit.json``, ``audit.md`` and
    ``audit.png``.

    ``poison``: rates at which the round's pairs are poisoned (:mod:`polyrlaif.core.poison`) to measure
    the configured screens' recall and false-positive rate; needs the round's ``pairs.jsonl``.

    Raises:
        ValueError: the domain has no offline feedback, or the config has no judge to audit.
        FileNotFoundError: ``poison`` without the round's pairs and judgments.
    """
    from polyrlaif.core import run as kit
    from polyrlaif.core.feedback import PREFERENCE_LEVELS
    from polyrlaif.core.judges.endpoints import check_judge_endpoints
    from polyrlaif.core.report import print_summary

    if limit < 1 or repeats < 1:
        raise ValueError(f"--limit and --repeats must be at least 1 (got {limit}, {repeats})")
    bad = [r for r in poison if not 0 < r < 1]
    if bad:
        raise ValueError(f"--poison rates are shares in (0, 1), got {bad}")
    run = kit.setup(cfg, PREFERENCE_LEVELS)
    built = kit.build(run, kit.prepare(run))
    feedback = kit.require(run, built.offline, "offline feedback (sampler, verifiers, judges, score)")
    if not feedback.judges:
        raise ValueError(
            "the config has no judge to audit (judge.backend=none, or the domain's judge is switched off)"
        )
    check_judge_endpoints(cfg, feedback)
    by_id = {p.prompt_id: p for p in feedback.prompts}
    rdir = _round_dir(run.out, round_idx)
    if rdir is None:  # nothing sampled yet: round 1's candidates, as training would sample them
        rdir = run.out / "round_1"
        policy = kit.load_policy(run, kit.starting_model(run, built))
        prompts = kit.round_subset(cfg, feedback.prompts, 1)
        feedback.sampler.sample(policy, prompts, round_idx=1, out_path=rdir / "candidates.jsonl")
        kit.close_policy(policy)
    path = rdir / "candidates.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no candidates to audit in {rdir}")
    needed = ("pairs.jsonl", "judgments.jsonl") if poison else ()
    missing = [str(rdir / f) for f in needed if not (rdir / f).is_file()]
    if missing:  # before any judging
        raise FileNotFoundError(f"--poison screens the round's own pairs: {', '.join(missing)} missing "
                                "(run polyrlaif feedback or train first)")  # fmt: skip
    every = [Candidate.from_dict(r) for r in read_jsonl(path) if r["prompt_id"] in by_id]
    judged = rdir / "judgments.jsonl"
    stored = [Judgment.from_dict(r) for r in read_jsonl(judged)] if judged.is_file() else []
    order = list(dict.fromkeys(c.prompt_id for c in every))[:limit]
    cands = [c for c in every if c.prompt_id in set(order)]
    report = audit_round(feedback, by_id, cands, repeats=repeats, seed=seed, stored=stored)
    out = Path(output) if output else run.out / "audit"
    meta = {"run": str(run.out), "round": rdir.name, "candidates": len(cands), "prompts": len(order),
            "repeats": repeats, "seed": seed, "command": " ".join(["polyrlaif", *sys.argv[1:]])}  # fmt: skip
    if poison:
        meta["poison"] = _poison(cfg, feedback, by_id, every, stored, rdir / "pairs.jsonl", poison, seed)
    write_audit(out, meta, report)
    print_summary("audit", _table(report))
    return out


def _poison(cfg: TrainConfig, feedback: Any, by_id: Mapping[str, Any], cands: list[Candidate],
            stored: Sequence[Judgment], pairs_file: Path, rates: Sequence[float],
            seed: int) -> list[dict[str, Any]]:  # fmt: skip
    """The round's own pairs, poisoned, against its screens (``pairs.screen``, and the repeats when the
    round's judgments hold some; ``verifiers`` when the config names none)."""
    from polyrlaif.core.poison import poison_report
    from polyrlaif.core.records import PreferencePair
    from polyrlaif.core.screening import group_by_candidate, repeat_scores

    pairs = [PreferencePair.from_dict(r) for r in read_jsonl(pairs_file)]  # checked before the probes ran
    verdicts = group_by_candidate([j for j in stored if "#r" not in j.judge_id])
    again = group_by_candidate([j for j in stored if "#r" in j.judge_id])
    k = 1 + max((int(j.judge_id.rsplit("#r", 1)[1]) for js in again.values() for j in js), default=0)
    repeated = repeat_scores(feedback, by_id, cands, verdicts, again, k)
    screens = [*(cfg.pairs.screen or ["verifiers"]), *(["repeats"] if k > 1 else [])]
    report = poison_report(pairs, sorted(set(screens)), verdicts, repeated, rates, seed)
    return [{"screens": sorted(set(screens)), **r} for r in report]


def _is_interval(v: Any) -> bool:
    """A metric's summary (value and interval), as against a probe's other entries (``skipped``)."""
    return isinstance(v, Mapping) and "value" in v


def _fmt(iv: Mapping[str, Any]) -> str:
    if not isinstance(iv, Mapping) or "value" not in iv:
        return ""
    v, lo, hi = (iv[k] for k in ("value", "low", "high"))
    return "nan" if math.isnan(v) else f"{v:.3f} [{lo:.3f}, {hi:.3f}]"


def _table(report: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for jid, probes in report.items():
        for probe, summary in probes.items():
            if not summary.get("applicable"):
                rows.append({"judge": jid, "probe": probe, "metric": "-", "value": summary.get("reason", "")})
                continue
            for metric, iv in summary.items():
                if _is_interval(iv):
                    skipped = sum(summary.get("skipped", {}).values())
                    rows.append({"judge": jid, "probe": probe, "metric": metric, "value": _fmt(iv),
                                 "n": summary["n"], "skipped": skipped})  # fmt: skip
    return rows


def write_audit(out: Path, meta: Mapping[str, Any], report: Mapping[str, Mapping[str, Any]]) -> None:
    """``audit.json``, ``audit.md`` and ``audit.png`` in ``out`` (each written atomically)."""
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "audit.json", {**meta, "judges": report})
    lines = [
        "# Judge audit", "", f"`{meta['command']}`", "",
        f"Run `{meta['run']}`, {meta['round']}: {meta['candidates']} candidates of {meta['prompts']} "
        "prompts; "
        f"consistency over {meta['repeats']} repeats; 95% bootstrap intervals (seed {meta['seed']}).", "",
        "| judge | probe | metric | value [95% CI] | n | skipped |", "|---|---|---|---|---:|---:|",
    ]  # fmt: skip
    for r in _table(report):
        lines.append(f"| {r['judge']} | {r['probe']} | {r['metric']} | {r['value']} | {r.get('n', '')} | "
                     f"{r.get('skipped', '')} |")  # fmt: skip
    reasons = [
        f"- {jid} / {probe}: " + "; ".join(f"{k} ({v})" for k, v in summary["skipped"].items())
        for jid, probes in report.items()
        for probe, summary in probes.items()
        if summary.get("skipped")
    ]
    if reasons:
        lines += ["", "Items a probe could not score, by reason:", "", *reasons]
    if meta.get("poison"):
        lines += ["", "## Poisoned pairs against the screens", "",
                  "| poisoning | rate | pairs | poisoned | screens | recall [95% CI] | false positives |",
                  "|---|---:|---:|---:|---|---|---|"]  # fmt: skip
        for r in meta["poison"]:
            lines.append(f"| {r['kind']} | {r['rate']:.0%} | {r['pairs']} | {r['poisoned']} | "
                         f"{', '.join(r['screens'])} | {_fmt(r.get('recall', {}))} | "
                         f"{_fmt(r.get('false_positive_rate', {}))} |")  # fmt: skip
    lines += ["", _READING]
    atomic_write_text(out / "audit.md", "\n".join(lines) + "\n")
    _plot(out / "audit.png", report)


_READING = """What the numbers mean: `position/flip_rate`, pairs whose verdict changed when the order
was swapped (0 is ideal); `verbosity`, `injection`, `sycophancy`: the score change (`delta`) and the
share of verdicts that changed (`changed`) when the response was padded with neutral filler, carried an
instruction to the grader, or claimed to be correct (0 is ideal); for a pairwise judge `prefers_edited`,
how often the edited copy won (0.5 is ideal); `length/length_corr`, score against length among a
prompt's candidates the verifiers rate alike (0 is ideal); `consistency/stable`, judgments whose verdict
never changed over the repeats (1 is ideal); `agreement`, against the verifier that knows the truth:
accuracy, Cohen's kappa, expected calibration error (0 is ideal) and AUC."""


#: Each metric's value for a judge without the bias (drawn as a dashed line).
_IDEAL = {"flip_rate": 0.0, "delta": 0.0, "changed": 0.0, "prefers_edited": 0.5, "length_corr": 0.0,
          "stable": 1.0, "spread": 0.0, "accuracy": 1.0, "kappa": 1.0, "ece": 0.0, "auc": 1.0}  # fmt: skip


def _plot(path: Path, report: Mapping[str, Mapping[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from polyrlaif.core.report import save_figure

    panels = [(p, m) for p in dict.fromkeys(k for probes in report.values() for k in probes)
              for m in dict.fromkeys(k for probes in report.values() for k, v in probes.get(p, {}).items()
                                     if _is_interval(v))]  # fmt: skip
    ncols = min(4, max(1, len(panels)))
    nrows = max(1, math.ceil(len(panels) / ncols))
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(3.6 * ncols, 0.5 * len(report) + 2.2 * nrows), squeeze=False
    )
    judges = list(report)
    for ax, (probe, metric) in zip(axes.flat, panels, strict=False):
        for i, jid in enumerate(judges):
            iv = report[jid].get(probe, {}).get(metric)
            if _is_interval(iv) and not math.isnan(iv["value"]):
                lo, hi = iv["value"] - iv["low"], iv["high"] - iv["value"]
                ax.errorbar([iv["value"]], [i], xerr=[[max(lo, 0)], [max(hi, 0)]], fmt="o", capsize=4)
        ideal = _IDEAL.get(metric)
        if ideal is not None:
            ax.axvline(ideal, color="green", linestyle="--", linewidth=1, alpha=0.7)
        ax.set_yticks(range(len(judges)), [j[:24] for j in judges], fontsize=7)
        ax.set_ylim(-0.7, len(judges) - 0.3)
        ax.set_title(f"{probe}: {metric}", fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    fig.suptitle("judge audit (95% bootstrap intervals; dashed: the ideal value)", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)
