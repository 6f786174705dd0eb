"""The `video_lmm` domain: VLM-RLAIF for video LMMs.

(video, question) prompts -> n answers from the policy (frames sampled with decord) -> a context-aware
judge that reads the video's detailed description -> pairs -> DPO (``run.mode: preference``), or a vision
reward model trained on the judged pairs in the ``reward_model`` stage and GRPO against it
(``run.mode: online``) -> open-ended video QA and the Video-ChatGPT generative benchmark.
"""

from polyrlaif.core.protocols import Domain

DOMAIN = Domain(
    name="video_lmm",
    description="Video LMMs (VLM-RLAIF): a context-aware judge reading the description; DPO, reward models",
    config="polyrlaif.domains.video_lmm.config:VideoLMMConfig",
    adapter="polyrlaif.domains.video_lmm.adapter:ADAPTER",
    build="polyrlaif.domains.video_lmm.build:build",
    stages="polyrlaif.domains.video_lmm.build:stages",
    benchmarks={
        "videoqa": "polyrlaif.domains.video_lmm.videoqa:VideoQAEvaluator",
        "videochatgpt": "polyrlaif.domains.video_lmm.videochatgpt:VideoChatGPTEvaluator",
    },
)

__all__ = ["DOMAIN"]
