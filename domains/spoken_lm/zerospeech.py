"""sWUGGY and sBLIMP, ZeroSpeech 2021's lexical and syntactic tasks, as benchmarks of the `spoken_lm` domain.

Both are pairwise likelihood comparisons: each audio file gets a score (a model's log-likelihood of the
file's units), and a pair, the correct and the incorrect file of one ``id`` spoken by one ``voice``,
counts 1 when the correct file scores higher, 0.5 on a tie and 0 otherwise. A pair's score is averaged
over its voices, then over ids. Two sources of scores:

- ``--predictions dev.txt``: a ZeroSpeech submission, one ``filename score`` line per audio file (the
  filename without folder or extension, as in the gold file; no header), scored against
  ``--annotations gold.csv``;
- ``--model M --audio DIR --opt units=UNIT_TOKENIZER_DIR``: each ``<filename>.wav`` of ``DIR`` is
  encoded to units, written as unit text and scored by the model (sum of the log-probabilities and
  their mean over units, both reported; ``--opt score=sum|mean`` picks the headline one). The scores
  are also written as ZeroSpeech submissions (``submission_sum.txt``, ``submission_mean.txt``), so a run
  can be rescored, or submitted, from its files.

What follows ZeroSpeech 2021's own scoring code (``zerospeech/zerospeech2021``, ``zerospeech2021/lexical.py``
and ``syntactic.py`` at ``199624a``; the same code as ``zerospeech/benchmarks``'
``zerospeech/tasks/lm/lexical.py`` and ``syntactic.py`` at ``8a716e8``):

- a pair's score is ``0.5 * (s_correct == s_incorrect) + (s_correct > s_incorrect)``;
- a word and its non-word are matched on ``(id, voice)`` (``lexical.py`` merges on both since 1d03da6;
  ``syntactic.py`` still pairs the k-th correct row with the k-th incorrect one, the same pairing whenever
  both come in the same (id, voice) order, and right where they do not); pairs are averaged over voices
  per id (sBLIMP's groups by type, subtype and id, one group per id since an id has one type), then over
  ids (the leaderboard's ``by_pair['score'].mean()``);
- ``correct`` is compared with 1 and 0 (pandas reads ``True``/``False`` as booleans, equal to 1/0), so
  ``1``/``0`` and ``True``/``False`` are both accepted here, in any case;
- sWUGGY's frequency bands are ``pandas.cut(frequency, [0, 1, 5, 20, 100, inf], right=False)`` labelled
  ``oov, 1-5, 6-20, 21-100, >100``: the intervals are [0, 1), [1, 5), [5, 20), [20, 100) and [100, inf),
  so a word seen 5 times is in ``6-20`` and one seen 100 times in ``>100``, as in their tables; the band
  is the word's (the correct row's) frequency. ``swuggy_invocab`` is the leaderboard's in-vocabulary score
  (the band scores weighted by their counts, oov left out: the mean over ids in a non-oov band);
- per-band tables (and per-length, when the gold file has their ``length`` column) and sBLIMP's per-type
  table hold ``n``, ``score`` (mean) and ``std`` (sample standard deviation), as theirs do.

Where this differs, on purpose: a filename in the submission but not in the gold file, or the other way,
is an error naming the files (theirs prints the sets and exits); an (id, voice) without exactly one correct
and one incorrect row is an error (their merge would silently drop it); a score that is not a number, or is
NaN, is an error naming the line.

``--limit N`` scores the first N ids of the gold file, with all their voices (a submission must still
cover the whole gold file).

Bad audio is never silently dropped: a file :func:`~polyrlaif.domains.spoken_lm.units.load_audio` cannot
read or resample, or that gives no units, is listed with its reason in ``skipped.jsonl`` and counted
(``skipped``); its pair is left out and counted (``skipped_pairs``).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, get_args

from polyrlaif.core.benchmarks import resolve_options
from polyrlaif.core.evidence import ITEMS_FILE
from polyrlaif.core.io import atomic_write_jsonl, atomic_write_text
from polyrlaif.core.log import get_logger
from polyrlaif.core.protocols import Direction, EvalRequest
from polyrlaif.domains.spoken_lm.zerospeech_files import (
    AUDIO_SUFFIXES,
    FREQUENCY_BANDS,
    GOLD_COLUMNS,
    SCORE_KEYS,
    SKIPPED_FILE,
    GoldPair,
    ScoreKind,
    check_same_files,
    find_audio,
    frequency_band,
    pair_outcome,
    read_gold,
    read_submission,
)
from polyrlaif.evaluation.items import ratio

__all__ = [
    "AUDIO_SUFFIXES",
    "FREQUENCY_BANDS",
    "GOLD_COLUMNS",
    "SKIPPED_FILE",
    "GoldPair",
    "SblimpEvaluator",
    "ScoreKind",
    "SwuggyEvaluator",
    "ZeroSpeechOptions",
    "check_same_files",
    "find_audio",
    "frequency_band",
    "group_tables",
    "pair_outcome",
    "read_gold",
    "read_submission",
    "score_audio",
    "score_pairs",
    "scores_by_id",
    "write_submission",
]

log = get_logger(__name__)


def score_audio(
    paths: Mapping[str, Path], *, units: str | None, policy: Any, score: ScoreKind, batch_size: int
) -> tuple[dict[str, dict[str, float]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Score audio files with a unit language model: wav -> units -> unit text -> log-likelihood.

    The unit tokenizer is loaded here (from ``units``); the files are read through
    :func:`~polyrlaif.domains.spoken_lm.units.load_audio` (which resamples and downmixes), encoded with
    ``UnitTokenizer.encode`` and scored in batches with
    :func:`~polyrlaif.domains.spoken_lm.adapter.score_utterances`.

    Args:
        paths: name -> audio file.
        units: the UnitTokenizer folder (``--opt units=DIR``).
        policy: what the domain's adapter loaded (has ``.model`` and ``.tokenizer``).
        score: which variant is the headline ``"score"``.
        batch_size: utterances per scoring call.

    Returns:
        ``(scores, utterances, skipped)``: name -> ``{"score", "score_sum", "score_mean"}``; one row per
        scored file (``filename``, ``n_units``, ``sum_logprob``, ``mean_logprob``); one row per file left
        out (``filename``, ``path``, ``reason``).

    Raises:
        ValueError: no ``units`` folder, or a policy without ``model`` and ``tokenizer``.
    """
    if not units:
        raise ValueError("scoring audio needs the unit tokenizer: --opt units=UNIT_TOKENIZER_DIR")
    if not (hasattr(policy, "model") and hasattr(policy, "tokenizer")):
        raise ValueError(f"{type(policy).__name__} is not a unit language model (no .model and .tokenizer)")
    from polyrlaif.core.audio import load_audio
    from polyrlaif.domains.spoken_lm.adapter import score_utterances
    from polyrlaif.domains.spoken_lm.units import UnitTokenizer

    # a speech encoder behind the units runs where the model does
    tokenizer = UnitTokenizer.load(units, **({"device": policy.device} if hasattr(policy, "device") else {}))
    names, texts, n_units, skipped = [], [], [], []
    for k, (name, path) in enumerate(paths.items(), start=1):
        if k % 2000 == 0:
            log.info(f"encoded {k}/{len(paths)} audio files")
        _, reason = load_audio(path)
        if reason is None:
            try:
                codes = list(tokenizer.encode(path))
            except (OSError, RuntimeError, ValueError) as exc:  # an undecodable file, met by the encoder
                codes, reason = [], f"could not encode: {exc}"
            if not codes and reason is None:
                reason = "no units (empty or silent audio)"
        if reason is not None:
            skipped.append({"filename": name, "path": str(path), "reason": str(reason)})
            continue
        names.append(name)
        texts.append(tokenizer.to_text(codes))
        n_units.append(len(codes))
    log.info(f"scoring {len(texts)} utterance(s) ({len(skipped)} skipped)")
    got = score_utterances(policy.model, policy.tokenizer, texts, batch_size=batch_size) if texts else []
    scores, utterances = {}, []
    for name, n, (total, mean) in zip(names, n_units, got, strict=True):
        total, mean = float(total), float(mean)
        scores[name] = {"score": total if score == "sum" else mean, "score_sum": total, "score_mean": mean}
        utterances.append({"filename": name, "n_units": n, "sum_logprob": total, "mean_logprob": mean})
    return scores, utterances, skipped


def write_submission(path: Path, scores: Mapping[str, Mapping[str, float]], key: str) -> Path:
    """Write ``scores[name][key]`` as a ZeroSpeech submission (``filename score`` lines)."""
    return atomic_write_text(path, "".join(f"{name} {s[key]!r}\n" for name, s in scores.items()))


def score_pairs(
    pairs: Sequence[GoldPair], scores: Mapping[str, Mapping[str, float]]
) -> tuple[list[dict[str, Any]], list[GoldPair]]:
    """Each pair's outcome for every score variant both of its files have.

    Args:
        pairs: the gold pairs.
        scores: filename -> ``{"score": x}`` (a submission) or ``{"score", "score_sum", "score_mean"}``.

    Returns:
        ``(rows, left_out)``: one row per pair whose two files have scores (``id``, ``voice``, the files,
        ``correct_score``/``incorrect_score`` and the outcome per variant, plus the pair's ``info``), and
        the pairs with a file missing from ``scores`` (skipped audio).
    """
    rows, left_out = [], []
    for p in pairs:
        c, i = scores.get(p.correct_file), scores.get(p.incorrect_file)
        if c is None or i is None:
            left_out.append(p)
            continue
        row: dict[str, Any] = {
            "id": p.id,
            "voice": p.voice,
            "correct_file": p.correct_file,
            "incorrect_file": p.incorrect_file,
            "correct_score": c["score"],
            "incorrect_score": i["score"],
        }
        row.update({k: pair_outcome(c[k], i[k]) for k in SCORE_KEYS if k in c and k in i})
        rows.append({**row, **p.info})
    return rows, left_out


def scores_by_id(pair_rows: Sequence[Mapping[str, Any]], info_keys: Sequence[str]) -> list[dict[str, Any]]:
    """One row per id: its pairs' outcomes averaged over voices (``n_voices`` of them), in input order."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for row in pair_rows:
        groups.setdefault(str(row["id"]), []).append(row)
    out = []
    for pid, rows in groups.items():
        item: dict[str, Any] = {"id": pid, **{k: rows[0][k] for k in info_keys if k in rows[0]}}
        item["n_voices"] = len(rows)
        for key in SCORE_KEYS:
            if key in rows[0]:
                item[key] = sum(float(r[key]) for r in rows) / len(rows)
        out.append(item)
    return out


def group_tables(
    items: Sequence[Mapping[str, Any]], by: str, order: Sequence[Any] | None = None
) -> list[dict]:
    """ZeroSpeech's collapsed tables: per value of ``by``, ``n`` items, mean ``score`` and sample ``std``.

    Args:
        items: per-id rows with ``score``.
        by: the column to group on (``band``, ``length``, ``type``).
        order: the groups to list, empty ones included (sWUGGY's five bands); default: those present,
            sorted.
    """
    groups: dict[Any, list[float]] = {}
    for item in items:
        if item.get(by) is not None:
            groups.setdefault(item[by], []).append(float(item["score"]))
    keys = list(order) if order is not None else sorted(groups, key=str)
    table = []
    for key in keys:
        values = groups.get(key, [])
        n = len(values)
        mean = ratio(sum(values), n)
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else math.nan
        table.append({by: key, "n": n, "score": mean, "std": std})
    return table


def _write_csv(path: Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    import io

    columns = list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: ("" if v is None else v) for k, v in r.items()} for r in rows)
    return atomic_write_text(path, buf.getvalue())


@dataclass
class ZeroSpeechOptions:
    """sWUGGY's and sBLIMP's options.

    Attributes:
        predictions: a ZeroSpeech submission (``filename score`` lines) to score.
        annotations: the ZeroSpeech gold file (``gold.csv``) of the task.
        audio: the folder of the task's audio files (``<filename>.wav``), scored by ``--model``.
        units: the UnitTokenizer folder that turns audio into units (with ``--model``).
        score: ``"sum"`` (summed log-probability of the units) or ``"mean"`` (per unit) as the headline;
            both are reported with ``--model``.
        batch_size: utterances per scoring call; ``None``: the request's (``--batch-size``).
    """

    predictions: str | None = None
    annotations: str | None = None
    audio: str | None = None
    units: str | None = None
    score: ScoreKind = "sum"
    batch_size: int | None = None

    def __post_init__(self) -> None:
        if self.score not in get_args(ScoreKind):
            raise ValueError(f"score must be one of {', '.join(get_args(ScoreKind))}, got {self.score!r}")
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")


def _first_ids(pairs: Sequence[GoldPair], limit: int | None) -> list[GoldPair]:
    if not limit:
        return list(pairs)
    keep = set(list(dict.fromkeys(p.id for p in pairs))[:limit])
    return [p for p in pairs if p.id in keep]


def _aggregate(rows: Sequence[Mapping[str, Any]], metric: str) -> dict[str, float]:
    if not rows:
        return {}
    out = {metric: sum(float(r["score"]) for r in rows) / len(rows)}
    for variant in ("sum", "mean"):
        if all(f"score_{variant}" in r for r in rows):
            out[f"{metric}_{variant}"] = sum(float(r[f"score_{variant}"]) for r in rows) / len(rows)
    out["n_pairs"] = float(sum(int(r["n_voices"]) for r in rows))
    out["n_ids"] = float(len(rows))
    return out


class _ZeroSpeechEvaluator:
    """The shared run of sWUGGY and sBLIMP; subclasses name the task, its columns and its tables."""

    name: ClassVar[str]
    title: ClassVar[str]
    Options: ClassVar[type] = ZeroSpeechOptions
    metrics: ClassVar[Mapping[str, Direction]]
    max_new_tokens: ClassVar[int] = 0  # scores likelihoods, generates nothing
    info_keys: ClassVar[tuple[str, ...]]

    def _scores(
        self, opts: ZeroSpeechOptions, policy: Any, pairs: list[GoldPair], all_files: list[str], out: Path,
        batch_size: int,
    ) -> tuple[dict[str, dict[str, float]], list[dict[str, Any]]]:  # fmt: skip
        if opts.predictions:
            scores = read_submission(opts.predictions)
            check_same_files(all_files, scores, gold=opts.annotations, submission=opts.predictions)
            return {name: {"score": s} for name, s in scores.items()}, []
        files = list(dict.fromkeys(f for p in pairs for f in (p.correct_file, p.incorrect_file)))
        paths = find_audio(opts.audio, files)  # every file present before the unit tokenizer loads
        scores, utterances, skipped = score_audio(
            paths, units=opts.units, policy=policy, score=opts.score, batch_size=batch_size
        )
        atomic_write_jsonl(out / "utterances.jsonl", utterances)
        write_submission(out / "submission_sum.txt", scores, "score_sum")
        write_submission(out / "submission_mean.txt", scores, "score_mean")
        return scores, skipped

    def _tables(self, items: list[dict[str, Any]], out: Path) -> None:
        raise NotImplementedError

    def evaluate(self, policy: Any, request: EvalRequest) -> dict[str, float]:
        """Score the submission (or the model's likelihoods of the audio) and write the results.

        Raises:
            ValueError: no gold file; both or neither of a model and predictions; audio without a model.
            InputError: a bad gold file (a missing column named), a bad submission, a file in one but not
                the other, or audio files missing: all before the unit tokenizer loads.
        """
        from polyrlaif.evaluation.tables import write_metrics

        opts = resolve_options(self, request.options)
        out = Path(request.output_dir)
        if not opts.annotations:
            raise ValueError(f"{self.name} needs the ZeroSpeech gold file: --annotations gold.csv")
        if opts.predictions and policy is not None:
            raise ValueError(f"{self.name}: give a model or predictions, not both")
        if opts.predictions and opts.audio:
            raise ValueError(
                f"{self.name}: --audio is read with --model; a submission carries its own scores"
            )
        if not opts.predictions and (policy is None or not opts.audio):
            raise ValueError(
                f"{self.name} needs --predictions SUBMISSION.txt, or --model M with --audio DIR "
                "and --opt units=UNIT_TOKENIZER_DIR"
            )
        all_pairs = read_gold(opts.annotations, self.name)  # type: ignore[arg-type]
        all_files = [f for p in all_pairs for f in (p.correct_file, p.incorrect_file)]
        pairs = _first_ids(all_pairs, request.limit)
        scores, skipped = self._scores(
            opts, policy, pairs, all_files, out, opts.batch_size or request.batch_size
        )
        pair_rows, left_out = score_pairs(pairs, scores)
        items = scores_by_id(pair_rows, self.info_keys)
        pair_of = {f: p for p in left_out for f in (p.correct_file, p.incorrect_file)}
        skipped = [
            {**s, "id": pair_of[s["filename"]].id, "voice": pair_of[s["filename"]].voice} for s in skipped
        ]
        atomic_write_jsonl(out / ITEMS_FILE, items)
        atomic_write_jsonl(out / SKIPPED_FILE, skipped)
        _write_csv(out / "pairs.csv", pair_rows)
        self._tables(items, out)
        metrics = {
            **self.aggregate(items),
            "skipped": float(len(skipped)),
            "skipped_pairs": float(len(left_out)),
        }
        metrics.setdefault(self.name, math.nan)
        metrics.setdefault("n_pairs", 0.0)
        metrics.setdefault("n_ids", 0.0)
        write_metrics(out, metrics)
        if skipped:
            log.warning(
                f"{self.name}: {len(skipped)} file(s) skipped, {len(left_out)} pair(s) left out; "
                f"reasons in {out / SKIPPED_FILE}"
            )
        log.info(f"{self.title}: {metrics[self.name]:.4f} over {len(items)} ids ({len(pair_rows)} pairs)")
        return metrics


class SwuggyEvaluator(_ZeroSpeechEvaluator):
    """sWUGGY (ZeroSpeech 2021 lexical): does the model prefer a spoken word to a matched non-word?

    Options: :class:`ZeroSpeechOptions`. ``items.jsonl``: per id, ``word``, ``non_word``, ``frequency``,
    ``band``, ``n_voices`` and ``score`` (the pair outcome averaged over voices; with ``--model`` also
    ``score_sum`` and ``score_mean``). Tables: ``pairs.csv`` (per id and voice), ``by_frequency.csv``
    and, when the gold has ``length``, ``by_length.csv``. Returns ``swuggy`` (mean over ids),
    ``swuggy_invocab`` (ids outside the oov band), ``swuggy_sum``/``swuggy_mean`` with ``--model``,
    ``n_pairs``, ``n_ids``, ``skipped`` (files) and ``skipped_pairs``.
    """

    name: ClassVar[str] = "swuggy"
    title: ClassVar[str] = "sWUGGY"
    metrics: ClassVar[Mapping[str, Direction]] = {"swuggy": "higher"}
    info_keys: ClassVar[tuple[str, ...]] = ("word", "non_word", "frequency", "band", "length")

    def _tables(self, items: list[dict[str, Any]], out: Path) -> None:
        bands = group_tables(items, "band", [label for label, _, _ in FREQUENCY_BANDS])
        _write_csv(out / "by_frequency.csv", [{"frequency": r.pop("band"), **r} for r in bands])
        if any(item.get("length") is not None for item in items):
            _write_csv(out / "by_length.csv", group_tables(items, "length"))

    @staticmethod
    def aggregate(rows: Sequence[Mapping[str, Any]]) -> dict[str, float]:
        """``swuggy`` (mean over ids), ``swuggy_invocab``, the ``_sum``/``_mean`` variants when the rows
        have them, ``n_pairs`` and ``n_ids``."""
        out = _aggregate(rows, "swuggy")
        if out:
            invocab = [float(r["score"]) for r in rows if r.get("band") not in (None, "oov")]
            out["swuggy_invocab"] = ratio(sum(invocab), len(invocab))
        return out


class SblimpEvaluator(_ZeroSpeechEvaluator):
    """sBLIMP (ZeroSpeech 2021 syntactic): does the model prefer a grammatical sentence to its minimal pair?

    Options: :class:`ZeroSpeechOptions`. ``items.jsonl``: per id, ``type``, ``subtype``, ``sentence``,
    ``non_sentence``, ``n_voices`` and ``score`` (with ``--model`` also ``score_sum`` and ``score_mean``).
    Tables: ``pairs.csv`` (per id and voice) and ``by_type.csv``. Returns ``sblimp`` (mean over ids),
    ``sblimp_sum``/``sblimp_mean`` with ``--model``, ``n_pairs``, ``n_ids``, ``skipped`` and
    ``skipped_pairs``.
    """

    name: ClassVar[str] = "sblimp"
    title: ClassVar[str] = "sBLIMP"
    metrics: ClassVar[Mapping[str, Direction]] = {"sblimp": "higher"}
    info_keys: ClassVar[tuple[str, ...]] = ("type", "subtype", "sentence", "non_sentence")

    def _tables(self, items: list[dict[str, Any]], out: Path) -> None:
        _write_csv(out / "by_type.csv", group_tables(items, "type"))

    @staticmethod
    def aggregate(rows: Sequence[Mapping[str, Any]]) -> dict[str, float]:
        """``sblimp`` (mean over ids), the ``_sum``/``_mean`` variants when the rows have them, ``n_pairs``
        and ``n_ids``."""
        return _aggregate(rows, "sblimp")
