"""A third-party domain, as a user would write it in their own package: `toy`.

The policy answers short questions; a verifier rewards answers of at most ``max_words`` words (a rule
the policy can learn); one preparation stage writes the questions; one benchmark reports the mean
answer length (lower is better). It is installed by tests/cli/test_plugin_domain.py into a temporary
folder and found only through the ``polyrlaif.domains`` entry-point group.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from polyrlaif.core.protocols import (
    BenchmarkRun,
    Domain,
    DomainBuild,
    EvalRequest,
    OfflineFeedback,
    PrepStage,
)
from polyrlaif.core.records import Judgment, PromptRecord

QUESTIONS = ["Name a colour.", "Name a fruit.", "Name an animal.", "Say hello."]


@dataclass
class ToyConfig:
    name: str = "toy"
    max_words: int = 3
    n_questions: int = 4


class LengthVerifier:
    name = "short"

    def __init__(self, max_words: int) -> None:
        self.max_words = max_words

    def verify(self, prompts, candidates):
        return [
            Judgment(
                c.candidate_id,
                self.name,
                "verifier",
                c.prompt_id,
                float(len(c.text.split()) <= self.max_words),
            )
            for c in candidates
        ]


class MeanWords:
    name: ClassVar[str] = "mean_words"
    metrics: ClassVar[dict[str, str]] = {"mean_words": "lower"}
    max_new_tokens: ClassVar[int] = 8

    @dataclass
    class Options:
        questions: str | None = None

    def evaluate(self, policy, request: EvalRequest) -> dict[str, float]:
        opts = request.options or self.Options()
        questions = json.loads(Path(opts.questions).read_text())[: request.limit or None]
        convs = [[{"role": "user", "content": q}] for q in questions]
        answers = policy.generate(convs, max_new_tokens=request.max_new_tokens or self.max_new_tokens)
        words = [len(a[0].split()) for a in answers]
        return {"mean_words": sum(words) / len(words), "n_questions": len(words)}


def stages(cfg: Any) -> list[PrepStage]:
    def write(out: Path, prepared: Any) -> dict[str, Any]:
        path = out / "questions.json"
        path.write_text(json.dumps(QUESTIONS[: cfg.domain.n_questions]))
        return {"questions": str(path)}

    out = Path(cfg.run.output_dir) / "questions"
    return [
        PrepStage("questions", out, {"n": cfg.domain.n_questions}, write, description="write the questions")
    ]


def build(cfg: Any, prepared: Any) -> DomainBuild:
    from polyrlaif.core.sampling import TextSampler

    path = prepared["questions"]["questions"]
    prompts = [
        PromptRecord(prompt_id=f"q{i}", text=q) for i, q in enumerate(json.loads(Path(path).read_text()))
    ]
    feedback = OfflineFeedback(
        sampler=TextSampler.from_config(cfg),
        prompts=prompts,
        score=lambda prompt, cand, verdicts: next((j.score for j in verdicts if j.judge_id == "short"), None),
        context=lambda prompt, cand, verdicts: {},
        verifiers=[LengthVerifier(cfg.domain.max_words)],
    )
    return DomainBuild(evaluations=[BenchmarkRun("mean_words", MeanWords.Options(path))], offline=feedback)


DOMAIN = Domain(
    name="toy",
    description="a third-party toy domain (short answers)",
    config="toy_domain:ToyConfig",
    adapter="polyrlaif.core.policy:CAUSAL_LM_ADAPTER",
    build="toy_domain:build",
    stages="toy_domain:stages",
    benchmarks={"mean_words": "toy_domain:MeanWords"},
    configs="toy_configs",  # --config toy/<name> finds toy_configs/<name>.yaml
)
