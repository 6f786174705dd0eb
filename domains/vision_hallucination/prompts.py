"""The text the `vision_hallucination` domain's models and judges see: RLAIF-V's claim prompts, the labeler's
question template and MMHal-Bench's rating criterion. Logic lives elsewhere (``claims.py``, ``judge.py``,
``mmhal.py``); changing a text here changes the judge prompt hashes, so cached judgments are not reused.
"""

from __future__ import annotations

__all__ = [
    "LABELER_QUESTION_TEMPLATE",
    "MMHAL_CRITERION",
    "QUESTION_SYSTEM",
    "QUESTION_TEMPLATE",
    "SPLIT_SYSTEM",
    "SPLIT_TEMPLATE",
]

#: What the labeler is asked about each claim: the yes/no question itself (the image is in context).
LABELER_QUESTION_TEMPLATE = "{question}"

SPLIT_SYSTEM = "You break descriptions of images into short atomic facts. You never add facts of your own."

SPLIT_TEMPLATE = """\
An assistant was given the instruction below about an image and wrote the response below.

<instruction>
{instruction}
</instruction>

<response>
{response}
</response>

List every fact the response states about the image as a numbered list, one short self-contained
sentence per item. Give each object its own item, and replace pronouns with the nouns they stand for.
Copy colours, counts and positions exactly; do not judge whether the facts are true.
Example: "The image shows a red circle and two blue stars." becomes
1. There is a red circle.
2. There are two blue stars.
If the response states no fact about the image, answer with the single word None."""

QUESTION_SYSTEM = "You rewrite statements about an image as yes/no questions."

QUESTION_TEMPLATE = """\
Rewrite the statement as one yes/no question that asks whether the image shows what the statement
says. Keep every detail (colours, counts, positions). Answer with the question only, on one line.
Example: "There are two blue stars." becomes "Are there two blue stars in the image?"

Statement: {claim}"""

#: MMHal-Bench's 0-6 rating, as one rubric criterion for the judge.
MMHAL_CRITERION = (
    "faithfulness",
    "MMHal-Bench's rating of the response against the image content and the standard answer: 6 = very "
    "informative with good analysis or reasoning, no hallucination; 5 = very informative, no hallucination; "
    "4 = somewhat informative, no hallucination; 3 = not informative, no hallucination; 2 = very "
    "informative, with hallucination; 1 = somewhat informative, with hallucination; 0 = not informative, "
    "with hallucination",
)
