"""QA benchmark of the `search_agent` domain: SQuAD exact match and F1, citation precision and recall,
and tool calls per question, over a predictions file.

``polyrlaif eval --domain search_agent --benchmark qa --predictions P.jsonl --output O.json`` scores
``P.jsonl`` (rows ``{"question", "prediction", "answers", ...}``, read by
:func:`polyrlaif.evaluation.qa.load_predictions`) and writes ``metrics.json``, ``metrics.md`` and the
per-row ``rows.jsonl`` under its output directory (``O/`` for ``--output O.json``), as the other
domains' evaluators do.

Evaluating a model directly (``--model``) needs the search agent loop, which does not exist yet; until
it does, run the agent elsewhere and score its predictions file.
"""

from __future__ import annotations

import sys
from pathlib import Path

from polyrlaif.core.io import atomic_write_jsonl
from polyrlaif.core.protocols import Policy
from polyrlaif.evaluation.qa import load_predictions, qa_report

__all__ = ["QAEvaluator"]


def _say(name: str, msg: str) -> None:
    print(f"[polyrlaif {name}] {msg}", file=sys.stderr, flush=True)


class QAEvaluator:
    """Open-domain QA scored the SQuAD way, plus the agent's citations and tool use.

    Metrics (see :class:`polyrlaif.evaluation.qa.QAReport`): ``exact_match`` and ``f1`` (fractions in
    [0, 1]) and ``n_questions`` always; ``citation_precision``, ``citation_recall`` and
    ``n_with_citations`` when some rows carry both ``citations`` and ``supporting_ids``;
    ``tool_calls_per_question`` and ``n_with_tool_calls`` when some rows carry ``tool_calls``.
    """

    name, title = "qa", "QA"

    def evaluate(
        self,
        policy: Policy | None,
        *,
        output_dir: Path,
        limit: int | None = None,
        samples: int = 1,
        temperature: float = 0.0,
        max_new_tokens: int = 256,
        seed: int = 0,
        batch_size: int = 8,
        predictions: str | None = None,
    ) -> dict[str, float]:
        """Score ``predictions`` and write ``metrics.json``, ``metrics.md`` and ``rows.jsonl`` under
        ``output_dir``.

        Args:
            policy: must be ``None`` for now (see Raises).
            output_dir: where the results go.
            limit: score the first ``limit`` rows only.
            samples: must be 1: a predictions file holds one answer per question.
            temperature: unused until the agent exists (generation settings).
            max_new_tokens: unused until the agent exists.
            seed: unused until the agent exists.
            batch_size: unused until the agent exists.
            predictions: the JSONL predictions file.

        Returns:
            The metrics of :meth:`polyrlaif.evaluation.qa.QAReport.metrics`.

        Raises:
            NotImplementedError: a policy was given: the agent-driven evaluation does not exist yet.
            ValueError: both or neither of a policy and ``predictions``, ``samples != 1`` or ``limit < 1``.
            InputError: a bad predictions file (naming file, line and field).
        """
        if predictions and policy is not None:
            raise ValueError(f"{self.name}: give a model or predictions, not both")
        if policy is not None:
            raise NotImplementedError(
                f"{self.name}: the agent-driven QA evaluation (--model) needs the search agent, which does "
                "not exist yet; until it lands, run the agent elsewhere and score its answers with "
                "--predictions P.jsonl"
            )
        if not predictions:
            raise ValueError(f"{self.name} needs --predictions (a JSONL of question/prediction/answers rows)")
        if samples != 1:
            raise ValueError(
                f"{self.name}: a predictions file holds one answer per question; got samples={samples}"
            )
        if limit is not None and limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")

        from polyrlaif.evaluation.tables import write_metrics

        rows = load_predictions(predictions)[:limit]
        report = qa_report(rows)
        metrics = report.metrics()
        output_dir = Path(output_dir)
        atomic_write_jsonl(output_dir / "rows.jsonl", report.rows)
        write_metrics(output_dir, metrics)
        _say(self.title, " ".join(f"{k}={v:.4g}" for k, v in metrics.items()))
        return metrics
