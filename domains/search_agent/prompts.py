"""The search agent's prompt texts: what the agent is told, and what its LLM judges are asked.

* The agent's protocol: :data:`SYSTEM_PROMPT` (plus :data:`JUDGE_PROMPT` when ReSeek's JUDGE action is
  enabled, see :func:`system_prompt`), the first user message (:data:`QUESTION_PREFIX` and the
  question, see :func:`agent_prompt`), the reminder after a malformed action (:data:`ACTION_FORMAT`),
  PokeeResearch's verification request (:data:`VERIFY_PROMPT`) and the placeholder for an observation
  judged not useful (:data:`DROPPED_NOTE`). The loop that uses them is
  :mod:`~polyrlaif.domains.search_agent.agent`; the parser of the actions is
  :mod:`~polyrlaif.domains.search_agent.actions`.
* The judges' prompts: :data:`ANSWER_JUDGE_TEMPLATE` (a JSON verdict on a predicted answer, asked of a
  model that writes its answer), :data:`ANSWER_YESNO_TEMPLATE` (the same question answered Yes or No,
  asked of a model whose p(yes) is read) and :data:`CITATION_JUDGE_TEMPLATE` (yes/no: does a cited
  document support the answer), with 12 hex digits of their sha256 recorded next to the rewards they
  produce, so a changed prompt is visible.
  The judges are :mod:`~polyrlaif.domains.search_agent.judge`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from polyrlaif.core.io import sha256_text

if TYPE_CHECKING:
    from polyrlaif.domains.search_agent.agent import AgentConfig

__all__ = [
    "ACTION_FORMAT",
    "ANSWER_JUDGE_TEMPLATE",
    "ANSWER_JUDGE_TEMPLATE_HASH",
    "ANSWER_YESNO_TEMPLATE",
    "ANSWER_YESNO_TEMPLATE_HASH",
    "CITATION_JUDGE_TEMPLATE",
    "CITATION_JUDGE_TEMPLATE_HASH",
    "DROPPED_NOTE",
    "JUDGE_PROMPT",
    "QUESTION_PREFIX",
    "SYSTEM_PROMPT",
    "VERIFY_PROMPT",
    "agent_prompt",
    "system_prompt",
]

SYSTEM_PROMPT = """You are a research agent. Answer the question using only evidence you find in a \
document collection with the tools below. Write exactly one action per turn; you may think first \
inside <think>...</think>.

Actions:
<tool_call>{"name": "search", "arguments": {"query": "words to search for", "k": 5}}</tool_call>
  Search the collection; the results list document ids, titles and snippets.
<tool_call>{"name": "read", "arguments": {"doc_id": "a document id"}}</tool_call>
  Read one document.
<answer>short final answer</answer><cite>doc-id, doc-id</cite>
  Answer, citing the ids of the documents that support the answer.

Tool results come back inside <observation>...</observation>."""

JUDGE_PROMPT = """
<judge>useful</judge> or <judge>not useful</judge>
  Judge the latest observation. One judged not useful is removed from your context."""

VERIFY_PROMPT = """Before you commit, verify your draft answer against the evidence you gathered.
Draft answer: {answer}
Cited documents: {citations}
Check that the cited documents state the answer and that it answers the question. Then either give \
the final answer with <answer>...</answer><cite>...</cite>, or keep researching with <tool_call>."""

DROPPED_NOTE = "<observation>[removed: you judged this observation not useful]</observation>"

#: The one-line reminder shown to the model after a malformed action.
ACTION_FORMAT = (
    'Write exactly one action: <tool_call>{"name": "search", "arguments": {"query": "..."}}</tool_call>, '
    '<tool_call>{"name": "read", "arguments": {"doc_id": "..."}}</tool_call>, '
    "<judge>useful</judge> / <judge>not useful</judge> (when judging is enabled), or "
    "<answer>your answer</answer><cite>doc-id, doc-id</cite>."
)

#: The first user message is this prefix and the question.
QUESTION_PREFIX = "Question: "

ANSWER_JUDGE_TEMPLATE = """\
You check answers to questions. Decide whether the predicted answer means the same as one of the \
gold answers (aliases, spelling variants and extra harmless words are fine; a different entity, \
number or date is not).

<question>
{question}
</question>

<gold_answers>
{gold_answers}
</gold_answers>

<prediction>
{prediction}
</prediction>

Reply with one JSON object and nothing else: {{"correct": true or false, "reason": "one sentence"}}"""

ANSWER_YESNO_TEMPLATE = """\
You check answers to questions. A predicted answer is correct when it means the same as one of the \
gold answers (aliases, spelling variants and extra harmless words are fine; a different entity, \
number or date is not).

<question>
{question}
</question>

<gold_answers>
{gold_answers}
</gold_answers>

<prediction>
{prediction}
</prediction>

Is the predicted answer correct? Answer Yes or No."""

CITATION_JUDGE_TEMPLATE = """\
<question>
{prompt}
</question>

<answer>
{response}
</answer>

<document>
{context}
</document>

Does the document state or directly support the answer to the question? Answer Yes or No."""

#: 12 hex digits of the templates' sha256, recorded next to rewards so a changed prompt is visible.
ANSWER_JUDGE_TEMPLATE_HASH = sha256_text(ANSWER_JUDGE_TEMPLATE)[:12]
ANSWER_YESNO_TEMPLATE_HASH = sha256_text(ANSWER_YESNO_TEMPLATE)[:12]
CITATION_JUDGE_TEMPLATE_HASH = sha256_text(CITATION_JUDGE_TEMPLATE)[:12]


def system_prompt(cfg: AgentConfig) -> str:
    """The system message for ``cfg`` (the judge action is described only when enabled)."""
    return SYSTEM_PROMPT + (JUDGE_PROMPT if cfg.judge_action else "")


def agent_prompt(question: str, cfg: AgentConfig) -> list[dict[str, str]]:
    """The agent's first context for ``question``: the system prompt and the question.

    It is also the GRPO prompt column: the sampler checks each prompt it is given against it.
    """
    return [
        {"role": "system", "content": system_prompt(cfg)},
        {"role": "user", "content": QUESTION_PREFIX + question},
    ]
