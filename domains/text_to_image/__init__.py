"""The `text_to_image` domain: InstructEngine prompt pairs and Diffusion-DPO on diffusers pipelines.

Analogous prompts from a taxonomy (object, colour, count, spatial relation, ...) -> n images each from
the newest pipeline -> rules (deterministic checks) and a multimodal judge (CLIP, or a VLM's yes/no per
taxonomy slot), each image scored under its own prompt and its analogs -> best-against-worst pairs plus
cross-validation pairs between analogous prompts -> Diffusion-DPO on the UNet (or its LoRA) -> GenEval-
style compositional accuracy, CLIPScore and a DrawBench/PartiPrompts win rate.
"""

from polyrlaif.core.protocols import Domain

DOMAIN = Domain(
    name="text_to_image",
    description="Text-to-image (InstructEngine + Diffusion-DPO): rules + CLIP/VLM judge, cross-validation",
    config="polyrlaif.domains.text_to_image.config:TextToImageConfig",
    adapter="polyrlaif.domains.text_to_image.adapter:ADAPTER",
    build="polyrlaif.domains.text_to_image.build:build",
    stages="polyrlaif.domains.text_to_image.world:stages",
    benchmarks={
        "compositional": "polyrlaif.domains.text_to_image.benchmarks:CompositionalEvaluator",
        "clipscore": "polyrlaif.domains.text_to_image.clipscore:ClipScoreEvaluator",
        "winrate": "polyrlaif.domains.text_to_image.drawbench:WinRateEvaluator",
    },
)

__all__ = ["DOMAIN"]
