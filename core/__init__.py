"""polyrlaif.core: the domain-agnostic RLAIF core (records, judges, pairs, trainers, the run loop)."""

from polyrlaif.core.protocols import (
    BenchmarkEvaluator,
    Domain,
    DomainComponents,
    Judge,
    Policy,
    PolicyAdapter,
    RewardFn,
    Sampler,
    Verifier,
)
from polyrlaif.core.records import Candidate, Judgment, MediaRef, PreferencePair, PromptRecord

__all__ = [
    "BenchmarkEvaluator",
    "Candidate",
    "Domain",
    "DomainComponents",
    "Judge",
    "Judgment",
    "MediaRef",
    "Policy",
    "PolicyAdapter",
    "PreferencePair",
    "PromptRecord",
    "RewardFn",
    "Sampler",
    "Verifier",
]
