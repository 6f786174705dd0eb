"""The `spoken_lm` domain: Align-SLM, RLAIF for a textless spoken language model.

Spoken prompts -> units (a k-means unit tokenizer over speech features) -> n continuations from a unit LM
-> back to words (a unit-to-text transcriber) -> an LLM grades each transcript against the prompt's ->
best against worst above a curriculum threshold -> DPO on the unit LM -> spoken StoryCloze, sWUGGY and
sBLIMP (ZeroSpeech 2021's format).
"""

from polyrlaif.core.protocols import Domain

DOMAIN = Domain(
    name="spoken_lm",
    description="Textless spoken LMs (Align-SLM): units, transcripts judged by an LLM, DPO with a curriculum",
    config="polyrlaif.domains.spoken_lm.config:SpokenLMConfig",
    adapter="polyrlaif.domains.spoken_lm.adapter:ADAPTER",
    build="polyrlaif.domains.spoken_lm.build:build",
    stages="polyrlaif.domains.spoken_lm.world:stages",
    benchmarks={
        "storycloze": "polyrlaif.domains.spoken_lm.storycloze:StoryClozeEvaluator",
        "topic_storycloze": "polyrlaif.domains.spoken_lm.storycloze:TopicStoryClozeEvaluator",
        "swuggy": "polyrlaif.domains.spoken_lm.zerospeech:SwuggyEvaluator",
        "sblimp": "polyrlaif.domains.spoken_lm.zerospeech:SblimpEvaluator",
        "semantic": "polyrlaif.domains.spoken_lm.semantic:SemanticEvaluator",
    },
)

__all__ = ["DOMAIN"]
