"""Divide and conquer (RLAIF-V): split a response into atomic claims, and turn each into a yes/no question.

A labeler then answers each question about the image; a response's score is built from the claims
it rejects. Two extractors share one interface (:meth:`extract` on ``(instruction, response)``
pairs, returning one :class:`ClaimSet` each):

* :class:`RuleClaimExtractor` splits sentences and coordinated noun phrases by rule, which is
  exact for the synthetic caption grammar ("There is a red circle, a green square and a blue star.").
* :class:`LLMClaimExtractor` asks a judge model to split the response and to rewrite each claim as a
  question, as RLAIF-V does, and falls back to the rules, per response or per claim, whenever the
  model fails or answers something unparseable. Every fallback is recorded.

Rules of :func:`split_claims_rule` (applied in order):

1. Lines are split into sentences after ``.``, ``!`` or ``?``; list markers (``-``, ``1.``) are dropped;
   a final fragment without punctuation counts as a sentence (sampling may stop mid-sentence), less
   any dangling end: trailing commas, conjunctions, articles and prepositions ("... and a") go, and so
   does a last list item that is a bare determiner or count ("a red circle and two").
2. Runs of a repeated word or phrase of up to four words collapse to one ("circle circle" -> "circle").
3. Questions, fragments with no word of two letters (punctuation, stray numbers) and a lead with
   nothing after it ("There is.", "I can see") are dropped.
4. "There is/are L", "The image shows/contains/has/depicts L", "I (can) see L" and a bare noun-phrase
   list L ("A yellow triangle.") become one claim per item of L, where L splits at commas and "and".
   Each item must start with a determiner or a count (a, an, one ... twelve, digits, some, several,
   many); otherwise the sentence is kept whole. An item with a plural count reads "There are ...".
5. Every other sentence is one claim, capitalised and ending in a full stop.
6. Claims are deduplicated (case and spacing ignored) and capped at ``max_claims``.

Rules of :func:`claim_to_question`: "There is X." -> "Is there X in the image?", "There are X." ->
"Are there X in the image?" (no second "in the image" when X already names it), a question is kept,
and any other statement S becomes "Is it true that s?" with its first word lowercased when that word
is a common function word (the, a, this, it ...), so proper nouns keep their capital.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from polyrlaif.core.judges.backends import Completion, JudgeBackend
from polyrlaif.domains.vision_hallucination.prompts import (
    QUESTION_SYSTEM,
    QUESTION_TEMPLATE,
    SPLIT_SYSTEM,
    SPLIT_TEMPLATE,
)

__all__ = [
    "RULE_VERSION",
    "TEMPLATE_VERSION",
    "Claim",
    "ClaimSet",
    "ClaimExtractor",
    "ExtractorStats",
    "RuleClaimExtractor",
    "LLMClaimExtractor",
    "split_claims_rule",
    "claim_to_question",
    "build_split_prompt",
    "parse_claims",
    "build_question_prompt",
    "parse_question",
]

RULE_VERSION = "rule-v1"
TEMPLATE_VERSION = "tmpl-v1"

_COUNTS = ("two three four five six seven eight nine ten eleven twelve several many multiple some").split()
_SINGULAR = ("a", "an", "one", "1")
_DET = re.compile(rf"^(?:{'|'.join(_SINGULAR + tuple(_COUNTS))}|\d+)\s+\S", re.IGNORECASE)
_VERBS = frozenset(
    "is are was were be been am has have had shows show contains contain sits sit lies lie appears "
    "appear looks look can could will would does do did seems seem depicts depict stands stand".split()
)
_LEADS = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"^there\s+(?:is|are)\s+(?P<list>.+)$",
        r"^there's\s+(?P<list>.+)$",
        r"^(?:the|this)\s+(?:image|picture|photo|scene)\s+(?:shows|contains|has|depicts|features|includes)"
        r"\s+(?P<list>.+)$",
        r"^(?:i|we)\s+(?:can\s+)?see\s+(?P<list>.+)$",
    )
]
_IN_IMAGE_PREFIX = re.compile(r"^in\s+(?:the|this)\s+(?:image|picture|photo)\s*,?\s*", re.IGNORECASE)
_LIST_MARKER = re.compile(r"^\s*(?:[-*\u2022]|\d{1,3}[.)])\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_REPEAT = re.compile(r"\b((?:\w+\s+){0,3}\w+)(?:\s+\1\b)+", re.IGNORECASE)
_ITEM_SPLIT = re.compile(r"\s*,\s*(?:and\s+)?|\s+and\s+", re.IGNORECASE)
_WORD2 = re.compile(r"[A-Za-z]{2,}")
_DANGLING = re.compile(r"(?:\s*[,;:\-]|\s+(?:and|or|but|with|of|the|a|an|to|in|on|at|by|from))+\s*$", re.I)
_BARE_LEAD = re.compile(
    r"^(?:there\s+(?:is|are)|there's|(?:the|this)\s+(?:image|picture|photo|scene)\s+"
    r"(?:shows|contains|has|depicts|features|includes)|(?:i|we)\s+(?:can\s+)?see)$",
    re.IGNORECASE,
)
_DET_WORD = re.compile(rf"^(?:{'|'.join(_SINGULAR + tuple(_COUNTS))}|\d+)$", re.IGNORECASE)
_FUNCTION_WORDS = frozenset(
    "the a an this that these those it its there some one two three several many each every all no both "
    "his her their our my your".split()
)


def _finish(sentence: str) -> str:
    """Capitalise and end with exactly one full stop (a question keeps its mark)."""
    s = sentence.strip().strip("\"'`*").strip()
    if s.endswith("?"):
        return s[0].upper() + s[1:]
    s = s.rstrip(".!;:, ")
    return s[0].upper() + s[1:] + "." if s else ""


def _sentences(text: str) -> list[str]:
    out: list[str] = []
    for line in text.splitlines():
        line = _LIST_MARKER.sub("", line).strip()
        out.extend(s.strip() for s in _SENTENCE_END.split(line) if s.strip())
    return out


def _items(phrase: str, truncated: bool = False) -> list[str] | None:
    """The noun phrases of a list, or None when one of them does not start with a determiner.

    In a truncated sentence a last item that is a bare determiner or count ("... and two") is dropped.
    """
    if re.search(r"\bor\b", phrase, re.IGNORECASE):
        return None  # "a circle or a square" asserts neither
    items = [i.strip() for i in _ITEM_SPLIT.split(phrase) if i.strip()]
    if truncated and len(items) > 1 and _DET_WORD.match(items[-1]):
        items.pop()
    if not items or not all(_DET.match(i) for i in items):
        return None
    return items


def _there(item: str) -> str:
    det, rest = item.split(None, 1)
    det = det.lower()
    verb = "is" if det in _SINGULAR else "are"
    return f"There {verb} {det} {rest}."


def _split_sentence(sentence: str) -> list[str]:
    truncated = not sentence.endswith((".", "!", "?"))
    body = _IN_IMAGE_PREFIX.sub("", sentence.rstrip(".!;:, ").strip())
    if truncated:  # sampling stopped mid-sentence: "There is a red circle and a" loses " and a"
        body = _DANGLING.sub("", body).strip()
    if not body or _BARE_LEAD.match(body):
        return []
    for lead in _LEADS:
        m = lead.match(body)
        if m:
            items = _items(m["list"], truncated)
            return [_there(i) for i in items] if items else [_finish(body)]
    items = _items(body, truncated)
    if items and not any(w.lower() in _VERBS for i in items for w in i.split()):
        return [_there(i) for i in items]  # a bare noun-phrase list: "A yellow triangle."
    return [_finish(body)]


def split_claims_rule(text: str, *, max_claims: int = 12) -> list[str]:
    """Split a response into atomic, self-contained claims by rule (see the module docstring).

    Args:
        text: the response; empty or ``None``-like text gives no claims.
        max_claims: at most this many claims, the first ones in reading order.

    Returns:
        Claims such as ``"There is a red circle."``, unique, in order of appearance.
    """
    claims: list[str] = []
    seen: set[str] = set()
    for sentence in _sentences(text or ""):
        sentence = _REPEAT.sub(r"\1", sentence).strip(" \t,;:-")
        if sentence.endswith("?") or not _WORD2.search(sentence):
            continue
        for claim in _split_sentence(sentence):
            key = " ".join(claim.lower().split())
            if claim and key not in seen:
                seen.add(key)
                claims.append(claim)
                if len(claims) >= max_claims:
                    return claims
    return claims


def claim_to_question(claim: str) -> str:
    """Rewrite a claim as a yes/no question about the image (rules in the module docstring).

    Raises:
        ValueError: for an empty claim.
    """
    s = " ".join(claim.split()).strip()
    if not s:
        raise ValueError("claim_to_question: empty claim")
    if s.endswith("?"):
        return s[0].upper() + s[1:]
    s = s.rstrip(".!;:, ")
    m = re.match(r"^there\s+(is|are)\s+(.+)$", s, re.IGNORECASE) or re.match(
        r"^there('s)\s+(.+)$", s, re.IGNORECASE
    )
    if m:
        verb = "Are" if m[1].lower() == "are" else "Is"
        named = re.search(r"\bin\s+the\s+(?:image|picture|photo)\b", m[2], re.IGNORECASE)
        where = "" if named else " in the image"
        return f"{verb} there {m[2]}{where}?"
    first = s.split()[0]
    if first.lower() in _FUNCTION_WORDS:
        s = s[0].lower() + s[1:]
    return f"Is it true that {s}?"


# ---------------------------------------------------------------- LLM parsers (prompts in prompts.py)

_ITEM = re.compile(r"^\s*(?:\d{1,3}\s*[.):]|[-*\u2022])\s+(?P<text>.+?)\s*$")
_NONE = re.compile(r"^\W*none(?:[.!,:;]|\s*$)", re.IGNORECASE)
_AUX = frozenset(
    "is are was were am does do did can could has have had will would should may might must".split()
)


def build_split_prompt(response: str, instruction: str) -> list[dict[str, str]]:
    """Chat messages asking a judge model to list the facts ``response`` states (numbered list or None)."""
    user = SPLIT_TEMPLATE.format(instruction=instruction.strip(), response=response.strip())
    return [{"role": "system", "content": SPLIT_SYSTEM}, {"role": "user", "content": user}]


def parse_claims(text: str | None, *, max_claims: int | None = None) -> list[str] | None:
    """Read the claims out of a split answer.

    Numbered (``1.``, ``2)``) and bulleted (``-``, ``*``) lines are claims; other lines are ignored.
    An answer whose first line is "None" means the response states nothing: ``[]``.

    Returns:
        The claims (deduplicated, each ending in a full stop, at most ``max_claims``), ``[]`` for
        "None", or ``None`` when the answer is neither a list nor "None" (unparseable).
    """
    lines = [ln for ln in (text or "").splitlines() if ln.strip()]
    claims: list[str] = []
    seen: set[str] = set()
    for line in lines:
        m = _ITEM.match(line)
        if not m or _NONE.match(m["text"]) or not _WORD2.search(m["text"]):
            continue
        claim = _finish(m["text"])
        key = " ".join(claim.lower().split())
        if claim and key not in seen:
            seen.add(key)
            claims.append(claim)
    if claims:
        return claims[:max_claims] if max_claims is not None else claims
    if lines and _NONE.match(_LIST_MARKER.sub("", lines[0])):  # "None" or "1. None"
        return []
    return None


def build_question_prompt(claim: str) -> list[dict[str, str]]:
    """Chat messages asking a judge model to rewrite ``claim`` as one yes/no question."""
    return [
        {"role": "system", "content": QUESTION_SYSTEM},
        {"role": "user", "content": QUESTION_TEMPLATE.format(claim=claim.strip())},
    ]


def parse_question(text: str | None) -> str | None:
    """The yes/no question in a rewrite answer, or ``None`` when there is none.

    Takes the first non-empty line, drops a ``Question:`` label, list markers and quotes, and cuts
    after the first ``?``. It must start with an auxiliary verb (is, are, does, can ...) and have at
    least three words.
    """
    line = next((ln.strip() for ln in (text or "").splitlines() if ln.strip()), "")
    line = _LIST_MARKER.sub("", line)
    line = re.sub(r"^(?:question|q)\s*:\s*", "", line, flags=re.IGNORECASE).strip().strip("\"'`*").strip()
    if "?" not in line:
        return None
    line = line[: line.index("?") + 1]
    words = re.findall(r"[A-Za-z']+", line)
    if len(words) < 3 or words[0].lower() not in _AUX:
        return None
    return line[0].upper() + line[1:]


# ---------------------------------------------------------------- extractors


@dataclass
class Claim:
    """One atomic claim and the question that checks it.

    Attributes:
        text: the claim, a declarative sentence.
        question: the yes/no question asked of the labeler.
        source: who split it out: ``"llm"`` or ``"rule"`` (the fallback).
        question_source: who wrote the question: ``"llm"`` or ``"rule"``.
    """

    text: str
    question: str
    source: Literal["llm", "rule"] = "rule"
    question_source: Literal["llm", "rule"] = "rule"


@dataclass
class ClaimSet:
    """The claims of one response; ``failure`` says why the LLM split was replaced by the rules."""

    claims: list[Claim] = field(default_factory=list)
    failure: str | None = None

    @property
    def questions(self) -> list[str]:
        """The questions, in claim order."""
        return [c.question for c in self.claims]


@dataclass
class ExtractorStats:
    """Counts over all :meth:`extract` calls of one extractor."""

    responses: int = 0
    empty: int = 0
    claims: int = 0
    llm_splits: int = 0
    rule_fallbacks: int = 0
    llm_questions: int = 0
    question_fallbacks: int = 0
    failures: Counter = field(default_factory=Counter)  # reason -> count

    def as_dict(self) -> dict[str, float]:
        """Flat counts for metrics.json; failures become ``failure_<reason>`` keys."""
        out: dict[str, float] = {k: v for k, v in self.__dict__.items() if k != "failures"}
        out.update({f"failure_{k}": v for k, v in sorted(self.failures.items())})
        return out


class ClaimExtractor(Protocol):
    """Splits responses into claims with questions; ``extractor_id`` names it in lineage."""

    extractor_id: str

    def extract(self, responses: Sequence[tuple[str, str]]) -> list[ClaimSet]:
        """One :class:`ClaimSet` per ``(instruction, response)``, in order."""
        ...


def _rule_set(response: str, max_claims: int, failure: str | None = None) -> ClaimSet:
    claims = [Claim(c, claim_to_question(c)) for c in split_claims_rule(response, max_claims=max_claims)]
    return ClaimSet(claims, failure)


class RuleClaimExtractor:
    """Claims by :func:`split_claims_rule`, questions by :func:`claim_to_question`; no model.

    Args:
        max_claims: cap per response.
    """

    def __init__(self, *, max_claims: int = 12) -> None:
        self.max_claims = max_claims
        self.extractor_id = f"rule_claims:{RULE_VERSION}:max{max_claims}"
        self.stats = ExtractorStats()

    def extract(self, responses: Sequence[tuple[str, str]]) -> list[ClaimSet]:
        """One rule-based :class:`ClaimSet` per ``(instruction, response)``."""
        out = [_rule_set(resp, self.max_claims) for _, resp in responses]
        self.stats.responses += len(out)
        self.stats.empty += sum(1 for s in out if not s.claims)
        self.stats.claims += sum(len(s.claims) for s in out)
        return out


class LLMClaimExtractor:
    """RLAIF-V's divide step with a judge model, falling back to the rules on any failure.

    The split prompts of all responses go to ``backend.complete`` in batches (greedy decoding); then
    one rewrite prompt per LLM-split claim. A response whose split fails (backend error, or an
    answer that is neither a list nor "None") is split by rule and its ``ClaimSet.failure`` says
    why (``"<reason>: <detail>"``, reasons ``backend_error`` and ``unparseable_claims``); a claim
    whose rewrite fails gets the rule question (``question_source="rule"``). Empty responses are
    not sent to the model.

    Args:
        backend: a :class:`~polyrlaif.core.judges.backends.JudgeBackend`.
        max_claims: cap per response.
        rewrite_questions: ask the model for questions too (else the rules write them).
        split_max_new_tokens: generation budget of a split answer.
        question_max_new_tokens: generation budget of a rewrite answer.
        batch_size: conversations per ``complete`` call (one progress-bar step each).
        progress: show a progress bar.
    """

    def __init__(
        self,
        backend: JudgeBackend,
        *,
        max_claims: int = 12,
        rewrite_questions: bool = True,
        split_max_new_tokens: int = 256,
        question_max_new_tokens: int = 48,
        batch_size: int = 64,
        progress: bool = False,
    ) -> None:
        self.backend = backend
        self.max_claims = max_claims
        self.rewrite_questions = rewrite_questions
        self.split_max_new_tokens = split_max_new_tokens
        self.question_max_new_tokens = question_max_new_tokens
        self.batch_size = max(1, batch_size)
        self.progress = progress
        q = "llmq" if rewrite_questions else "ruleq"
        self.extractor_id = f"llm_claims:{TEMPLATE_VERSION}+{RULE_VERSION}:{backend.name}:{q}:max{max_claims}"
        self.stats = ExtractorStats()

    def _complete(
        self, convs: list[list[dict[str, str]]], max_new_tokens: int, desc: str
    ) -> list[Completion]:
        from tqdm.auto import tqdm

        out: list[Completion] = []
        starts = range(0, len(convs), self.batch_size)
        for start in tqdm(starts, desc=desc, unit="batch", disable=not self.progress or len(starts) <= 1):
            batch = convs[start : start + self.batch_size]
            got = list(self.backend.complete(batch, max_new_tokens=max_new_tokens, temperature=0.0))
            if len(got) != len(batch):  # a broken backend: a value per conversation, not a crash
                err = f"wrong_count: {len(got)} answers for {len(batch)} prompts"
                got = [Completion(None, err) for _ in batch]
            out.extend(got)
        return out

    def _fail(self, reason: str, detail: str) -> str:
        self.stats.failures[reason] += 1
        return f"{reason}: {detail}"

    def extract(self, responses: Sequence[tuple[str, str]]) -> list[ClaimSet]:
        """One :class:`ClaimSet` per ``(instruction, response)``, in order."""
        sets: list[ClaimSet] = [ClaimSet() for _ in responses]
        todo = [k for k, (_, resp) in enumerate(responses) if resp and resp.strip()]
        self.stats.responses += len(responses)
        self.stats.empty += len(responses) - len(todo)
        convs = [build_split_prompt(responses[k][1], responses[k][0]) for k in todo]
        answers = self._complete(convs, self.split_max_new_tokens, "split claims")
        for k, comp in zip(todo, answers, strict=True):
            resp = responses[k][1]
            if not comp.ok:
                sets[k] = _rule_set(resp, self.max_claims, self._fail("backend_error", str(comp.error)))
                self.stats.rule_fallbacks += 1
                continue
            parsed = parse_claims(comp.text, max_claims=self.max_claims)
            if parsed is None:
                failure = self._fail("unparseable_claims", repr((comp.text or "")[:120]))
                sets[k] = _rule_set(resp, self.max_claims, failure)
                self.stats.rule_fallbacks += 1
                continue
            self.stats.llm_splits += 1
            sets[k] = ClaimSet([Claim(c, claim_to_question(c), "llm", "rule") for c in parsed])

        llm_claims = [c for s in sets for c in s.claims if c.source == "llm"]
        if self.rewrite_questions and llm_claims:
            qconvs = [build_question_prompt(c.text) for c in llm_claims]
            answers = self._complete(qconvs, self.question_max_new_tokens, "claim questions")
            for claim, comp in zip(llm_claims, answers, strict=True):
                question = parse_question(comp.text) if comp.ok else None
                if question is None:
                    self.stats.question_fallbacks += 1
                    self.stats.failures["backend_error" if not comp.ok else "unparseable_question"] += 1
                else:
                    claim.question, claim.question_source = question, "llm"
                    self.stats.llm_questions += 1
        self.stats.claims += sum(len(s.claims) for s in sets)
        return sets
