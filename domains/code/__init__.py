"""The `code` domain: RLAIF for code generation with sandboxed unit tests and rubric judges."""

from polyrlaif.core.protocols import Domain

DOMAIN = Domain(
    name="code",
    description="Code generation: sandboxed unit tests + CodeUltraFeedback-style rubric judge; pass@k",
    config="polyrlaif.domains.code.config:CodeDomainConfig",
    adapter="polyrlaif.domains.code.adapter:ADAPTER",
    build="polyrlaif.domains.code.build:build",
    benchmarks={
        "humaneval": "polyrlaif.domains.code.benchmarks:HumanEvalEvaluator",
        "heldout": "polyrlaif.domains.code.benchmarks:HeldoutEvaluator",
    },
    verify_file="polyrlaif.domains.code.verifier:verify_file",
)

__all__ = ["DOMAIN"]
