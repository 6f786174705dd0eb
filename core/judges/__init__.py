"""Judge layer: backends, cache, pointwise / pairwise / yes-no modes, reward callables.

Everything here is domain-agnostic: a domain supplies the rubric or template and, per candidate,
the context the judge may see (test results, a reference answer, a description). Importing this
package loads neither torch nor httpx; backends import them on first use.
"""

from polyrlaif.core.judges.backends import (
    Completion,
    JudgeBackend,
    TransformersBackend,
    YesNo,
    build_backend,
    reads_next_token,
)
from polyrlaif.core.judges.cache import JudgeCache
from polyrlaif.core.judges.modes import BaseJudge, JudgeStats, ParsingStats, render_context
from polyrlaif.core.judges.openai_backend import OpenAIBackend
from polyrlaif.core.judges.pairwise import PAIRWISE_TEMPLATE, PairwiseJudge, PairwiseStats, parse_preference
from polyrlaif.core.judges.pointwise import POINTWISE_TEMPLATE, PointwiseJudge, Rubric, parse_rubric_answer
from polyrlaif.core.judges.reward import RewardFnJudge, as_judge, judge_as_reward_fn
from polyrlaif.core.judges.structured import StructuredSwitch, read_json_fields
from polyrlaif.core.judges.yesno import YESNO_TEMPLATE, YesNoJudge

__all__ = [
    "BaseJudge",
    "Completion",
    "JudgeBackend",
    "JudgeCache",
    "JudgeStats",
    "OpenAIBackend",
    "PAIRWISE_TEMPLATE",
    "POINTWISE_TEMPLATE",
    "PairwiseJudge",
    "PairwiseStats",
    "ParsingStats",
    "PointwiseJudge",
    "RewardFnJudge",
    "StructuredSwitch",
    "Rubric",
    "TransformersBackend",
    "YESNO_TEMPLATE",
    "YesNo",
    "YesNoJudge",
    "as_judge",
    "build_backend",
    "judge_as_reward_fn",
    "parse_preference",
    "parse_rubric_answer",
    "read_json_fields",
    "reads_next_token",
    "render_context",
]
