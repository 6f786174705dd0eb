"""The `vision_hallucination` domain: RLAIF-V for image LMMs.

Divide-and-conquer claim feedback (claims -> yes/no questions -> a labeler MLLM's p(yes) with the image as
context), iterative DPO through TRL's vision path, and the hallucination benchmarks CHAIR (Object
HalBench), POPE, AMBER and an MMHal-style judge score.
"""

from polyrlaif.core.protocols import Domain

DOMAIN = Domain(
    name="vision_hallucination",
    description="Image LMMs (RLAIF-V): claim-level feedback, iterative DPO; CHAIR, POPE, AMBER, MMHal",
    config="polyrlaif.domains.vision_hallucination.config:VisionHallucinationConfig",
    adapter="polyrlaif.domains.vision_hallucination.adapter:ADAPTER",
    build="polyrlaif.domains.vision_hallucination.build:build",
    stages="polyrlaif.domains.vision_hallucination.world:stages",
    benchmarks={
        "chair": "polyrlaif.domains.vision_hallucination.benchmarks:ChairEvaluator",
        "pope": "polyrlaif.domains.vision_hallucination.pope:PopeEvaluator",
        "amber": "polyrlaif.domains.vision_hallucination.amber:AmberEvaluator",
        "mmhal": "polyrlaif.domains.vision_hallucination.mmhal:MMHalEvaluator",
    },
)

__all__ = ["DOMAIN"]
