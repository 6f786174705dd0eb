"""The video_lmm domain's prompts: Video-ChatGPT's judge templates (verbatim) and the context-aware judge's.

:data:`QA_PROMPT` is the zero-shot QA judge of ``quantitative_evaluation/evaluate_activitynet_qa.py``
(the ``videoqa`` benchmark); the five ``*_PROMPT`` of the generative performance benchmark
(``videochatgpt``) come from ``quantitative_evaluation/evaluate_benchmark_<k>_*.py``. All keep the
scripts' wording and typos so that scores stay comparable with published ones. A prompt is a
:class:`JudgePrompt`; :class:`~polyrlaif.domains.video_lmm.qa_judge.VideoChatGPTJudge` asks it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from polyrlaif.core.judges.pointwise import Rubric

__all__ = [
    "CONSISTENCY_PROMPT",
    "CONTEXT_PROMPT",
    "CORRECTNESS_PROMPT",
    "DETAIL_PROMPT",
    "ANSWER_TEMPLATE",
    "ANSWER_TEMPLATE_NO_CONTEXT",
    "JUDGE_TEMPLATE",
    "JUDGE_TEMPLATE_NO_CONTEXT",
    "QA_PROMPT",
    "TEMPORAL_PROMPT",
    "VIDEO_RUBRIC",
    "JudgePrompt",
]


@dataclass(frozen=True)
class JudgePrompt:
    """A Video-ChatGPT judge prompt: the system turn and the user template (``str.format`` slots among
    ``question``, ``answer``, ``prediction``, ``question1``, ``question2``, ``prediction1``,
    ``prediction2``). ``with_pred``: the reply carries a yes/no ``pred`` besides the ``score``."""

    name: str
    system: str
    user: str
    with_pred: bool = False

    def json_schema(self) -> dict[str, Any]:
        """The JSON schema of the reply the prompt asks for: ``{"pred": "yes" | "no", "score": 0-5}``
        (``pred`` only where ``with_pred``; ``score`` an integer, as the prompts demand), sent as
        structured output to an endpoint that takes it."""
        props: dict[str, Any] = {"pred": {"type": "string", "enum": ["yes", "no"]}} if self.with_pred else {}
        props["score"] = {"type": "integer", "minimum": 0, "maximum": 5}
        return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}


#: Video-ChatGPT's zero-shot QA judge, verbatim (``quantitative_evaluation/evaluate_activitynet_qa.py``,
#: typos included, so that scores stay comparable with published ones).
QA_PROMPT = JudgePrompt(
    name="qa",
    system=(
        "You are an intelligent chatbot designed for evaluating the correctness of generative outputs for "
        "question-answer pairs. "
        "Your task is to compare the predicted answer with the correct answer and determine if they match "
        "meaningfully. Here's how you can accomplish the task:"
        "------"
        "##INSTRUCTIONS: "
        "- Focus on the meaningful match between the predicted answer and the correct answer.\n"
        "- Consider synonyms or paraphrases as valid matches.\n"
        "- Evaluate the correctness of the prediction compared to the answer."
    ),
    user=(
        "Please evaluate the following video-based question-answer pair:\n\n"
        "Question: {question}\n"
        "Correct Answer: {answer}\n"
        "Predicted Answer: {prediction}\n\n"
        "Provide your evaluation only as a yes/no and score where the score is an integer value between 0 "
        "and 5, with 5 indicating the highest meaningful match. "
        "Please generate the response in the form of a Python dictionary string with keys 'pred' and "
        "'score', where value of 'pred' is  a string of 'yes' or 'no' and value of 'score' is in INTEGER, "
        "not STRING."
        "DO NOT PROVIDE ANY OTHER OUTPUT TEXT OR EXPLANATION. Only provide the Python dictionary string. "
        "For example, your response should look like this: {{'pred': 'yes', 'score': 4.8}}."
    ),
    with_pred=True,
)

# The pieces the five generative performance prompts share, as the scripts write them.
_ASK = (
    "Please evaluate the following video-based question-answer pair:\n\n"
    "Question: {question}\n"
    "Correct Answer: {answer}\n"
    "Predicted Answer: {prediction}\n\n"
)
_ASK_PAIR = (
    "Please evaluate the following video-based question-answer pair:\n\n"
    "Question 1: {question1}\n"
    "Question 2: {question2}\n"
    "Correct Answer: {answer}\n"
    "Predicted Answer to Question 1: {prediction1}\n"
    "Predicted Answer to Question 2: {prediction2}\n\n"
)


def _score_request(kind: str, highest: str, value: str) -> str:
    """The closing request the five scripts share, word for word (the ``{''score': 4.8}`` typo too)."""
    return (
        f"Provide your evaluation only as a {kind} score where the {kind} score is an integer value between "
        f"0 and 5, with 5 indicating the highest level of {highest}. "
        "Please generate the response in the form of a Python dictionary string with keys 'score', where "
        f"its value is {value} in INTEGER, not STRING."
        "DO NOT PROVIDE ANY OTHER OUTPUT TEXT OR EXPLANATION. Only provide the Python dictionary string. "
        "For example, your response should look like this: {{''score': 4.8}}."
    )


def _system(evaluating: str, task: str, instructions: Sequence[str]) -> str:
    """A system turn as the scripts build it: no space before ``------``, one ``\\n`` per instruction."""
    return (
        f"You are an intelligent chatbot designed for evaluating {evaluating}. {task} Here's how you can "
        "accomplish the task:------##INSTRUCTIONS: " + "\n".join(f"- {line}" for line in instructions)
    )


_SYNONYMS = "Consider synonyms or paraphrases as valid matches."
_QA = "generative outputs for video-based question-answer pairs"

#: ``evaluate_benchmark_1_correctness.py``.
CORRECTNESS_PROMPT = JudgePrompt(
    "correctness",
    _system(
        f"the factual accuracy of {_QA}",
        "Your task is to compare the predicted answer with the correct answer and determine if they are "
        "factually consistent.",
        [
            "Focus on the factual consistency between the predicted answer and the correct answer. The "
            "predicted answer should not contain any misinterpretations or misinformation.",
            "The predicted answer must be factually accurate and align with the video content.",
            _SYNONYMS,
            "Evaluate the factual accuracy of the prediction compared to the answer.",
        ],
    ),
    _ASK + _score_request("factual accuracy", "factual consistency", "the factual accuracy score"),
)
#: ``evaluate_benchmark_2_detailed_orientation.py``.
DETAIL_PROMPT = JudgePrompt(
    "detail_orientation",
    _system(
        f"the detail orientation of {_QA}",
        "Your task is to compare the predicted answer with the correct answer and determine its level of "
        "detail, considering both completeness and specificity.",
        [
            "Check if the predicted answer covers all major points from the video. The response should not "
            "leave out any key aspects.",
            "Evaluate whether the predicted answer includes specific details rather than just generic "
            "points. It should provide comprehensive information that is tied to specific elements of the "
            "video.",
            _SYNONYMS,
            "Provide a single evaluation score that reflects the level of detail orientation of the "
            "prediction, considering both completeness and specificity.",
        ],
    ),
    _ASK + _score_request("detail orientation", "detail orientation", "the detail orientation score"),
)
#: ``evaluate_benchmark_3_context.py``.
CONTEXT_PROMPT = JudgePrompt(
    "contextual_understanding",
    _system(
        f"the contextual understanding of {_QA}",
        "Your task is to compare the predicted answer with the correct answer and determine if the generated "
        "response aligns with the overall context of the video content.",
        [
            "Evaluate whether the predicted answer aligns with the overall context of the video content. It "
            "should not provide information that is out of context or misaligned.",
            "The predicted answer must capture the main themes and sentiments of the video.",
            _SYNONYMS,
            "Provide your evaluation of the contextual understanding of the prediction compared to the "
            "answer.",
        ],
    ),
    _ASK
    + _score_request(
        "contextual understanding", "contextual understanding", "contextual understanding score"
    ),
)
#: ``evaluate_benchmark_4_temporal.py``.
TEMPORAL_PROMPT = JudgePrompt(
    "temporal_understanding",
    _system(
        f"the temporal understanding of {_QA}",
        "Your task is to compare the predicted answer with the correct answer and determine if they "
        "correctly reflect the temporal sequence of events in the video content.",
        [
            "Focus on the temporal consistency between the predicted answer and the correct answer. The "
            "predicted answer should correctly reflect the sequence of events or details as they are "
            "presented in the video content.",
            "Consider synonyms or paraphrases as valid matches, but only if the temporal order is "
            "maintained.",
            "Evaluate the temporal accuracy of the prediction compared to the answer.",
        ],
    ),
    _ASK + _score_request("temporal accuracy", "temporal consistency", "the temporal accuracy score"),
)
#: ``evaluate_benchmark_5_consistency.py`` (its fixed version, which shows Q2 as Question 2).
CONSISTENCY_PROMPT = JudgePrompt(
    "consistency",
    _system(
        "the consistency of generative outputs for similar video-based question-answer pairs",
        "You will be given two very similar questions, a common answer common to both the questions and "
        "predicted answers for the two questions .Your task is to compare the predicted answers for two very "
        "similar question, with a common correct answer and determine if they are consistent.",
        [
            "Focus on the consistency between the two predicted answers and the correct answer. Both "
            "predicted answers should correspond to the correct answer and to each other, and should not "
            "contain any contradictions or significant differences in the conveyed information.",
            "Both predicted answers must be consistent with each other and the correct answer, in terms of "
            "the information they provide about the video content.",
            "Consider synonyms or paraphrases as valid matches, but only if they maintain the consistency in "
            "the conveyed information.",
            "Evaluate the consistency of the two predicted answers compared to the correct answer.",
        ],
    ),
    _ASK_PAIR + _score_request("consistency", "consistency", "the consistency score"),
)


#: The context-aware judge (:mod:`~polyrlaif.domains.video_lmm.judge`): p(yes) that the answer is right,
#: reading the video's detailed description (VLM-RLAIF), and the same without it (the ablation).
JUDGE_TEMPLATE = """\
Video description: {description}
Question: {question}
Answer: {answer}
Is the answer correct for this video? Answer yes or no."""

JUDGE_TEMPLATE_NO_CONTEXT = """\
Question: {question}
Answer: {answer}
Is the answer correct for this video? Answer yes or no."""

#: The answer-scoring judge (``domain.judge_scoring: answer``): the judge is asked the question itself,
#: with the answer words to choose from, and an answer's score is the judge's probability of it among them.
ANSWER_TEMPLATE = """\
Video description: {description}
Question: {question}
Answer ({options}):"""

ANSWER_TEMPLATE_NO_CONTEXT = """\
Question: {question}
Answer ({options}):"""


#: The pointwise judge's criteria (``domain.judge_mode: pointwise``): ours, after the axes Video-ChatGPT's
#: generative benchmark scores (correctness, temporal understanding, detail orientation), each 1-5.
VIDEO_RUBRIC = Rubric(
    "video_answer",
    [
        ("correctness", "the answer is true of the video and agrees with its description"),
        ("temporal", "what moves, changes, appears or disappears, and in what order, is right"),
        ("detail", "the answer gives what the question asks, no more and no less"),
    ],
    1,
    5,
)
