"""polyrlaif.core: the domain-agnostic RLAIF core: records, protocols, judges, pairs, trainers, recipes."""

from polyrlaif.core.protocols import (
    BenchmarkEvaluator,
    BenchmarkRun,
    Domain,
    DomainBuild,
    EvalRequest,
    Judge,
    OfflineFeedback,
    OnlineTask,
    Policy,
    PolicyAdapter,
    PrepStage,
    RewardFn,
    Sampler,
    Verifier,
)
from polyrlaif.core.records import Candidate, Judgment, MediaRef, PreferencePair, PromptRecord

__all__ = [
    "BenchmarkEvaluator",
    "Candidate",
    "BenchmarkRun",
    "Domain",
    "DomainBuild",
    "EvalRequest",
    "Judge",
    "Judgment",
    "MediaRef",
    "OfflineFeedback",
    "OnlineTask",
    "Policy",
    "PolicyAdapter",
    "PreferencePair",
    "PrepStage",
    "PromptRecord",
    "RewardFn",
    "Sampler",
    "Verifier",
]
