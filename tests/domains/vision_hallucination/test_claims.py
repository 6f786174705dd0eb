"""Claim extraction: the documented splitting rules, claim -> question rewrites, and the LLM extractor.

The LLM extractor talks to a real OpenAI-compatible HTTP server on 127.0.0.1 (``http.server`` in a
thread) whose "model" returns canned text: a split answer looked up by the response it is asked
about, and a question rewrite looked up by the statement. The code under test is the extractor: its
prompts, its parsing, and its fallbacks to the rules.
"""

from __future__ import annotations

import re
import threading

import pytest

from polyrlaif.core.judges import OpenAIBackend
from polyrlaif.domains.vision_hallucination.claims import (
    LLMClaimExtractor,
    RuleClaimExtractor,
    claim_to_question,
    parse_claims,
    parse_question,
    split_claims_rule,
)

# ---------------------------------------------------------------- rule splitting


@pytest.mark.parametrize(
    ("text", "claims"),
    [
        # rule 4: "there is" lists split at commas and "and"; plural counts read "There are"
        (
            "There is a red circle, a green square and a blue star.",
            ["There is a red circle.", "There is a green square.", "There is a blue star."],
        ),
        (
            "There are two blue stars and a red circle.",
            ["There are two blue stars.", "There is a red circle."],
        ),
        ("There's a red circle.", ["There is a red circle."]),
        (
            "In the image, there is a red circle and 3 green squares.",
            ["There is a red circle.", "There are 3 green squares."],
        ),
        ("The image shows a red circle and two stars.", ["There is a red circle.", "There are two stars."]),
        (
            "I can see one red circle and several blue squares.",
            ["There is one red circle.", "There are several blue squares."],
        ),
        # a bare noun-phrase list is a "there is" list too
        ("A yellow triangle.", ["There is a yellow triangle."]),
        # an item without a determiner, or an "or", keeps the sentence whole
        ("There is red circle and blue square.", ["There is red circle and blue square."]),
        ("There is a circle or a square.", ["There is a circle or a square."]),
        # a noun-phrase "list" with a verb in it is a sentence, not a list (rule 5)
        ("A red circle is next to a blue square.", ["A red circle is next to a blue square."]),
        ("the circle is red and the square is blue!", ["The circle is red and the square is blue."]),
    ],
)
def test_rule_splits_lists_and_leads(text, claims):
    assert split_claims_rule(text) == claims


def test_rule_list_markers_and_lines():
    text = (
        "- A yellow triangle.\n1. There is a red circle.\n2) I can see a green square\n* There are two stars."
    )
    assert split_claims_rule(text) == [
        "There is a yellow triangle.",
        "There is a red circle.",
        "There is a green square.",
        "There are two stars.",
    ]


@pytest.mark.parametrize(
    ("text", "claims"),
    [
        ("There is a red circle circle circle.", ["There is a red circle."]),
        (
            "The image shows a blue star star and a red circle.",
            ["There is a blue star.", "There is a red circle."],
        ),
        # a repeated phrase of several words collapses as well
        ("There is a red circle a red circle a red circle.", ["There is a red circle."]),
    ],
)
def test_rule_collapses_repeated_words(text, claims):
    assert split_claims_rule(text) == claims


def test_rule_drops_questions_and_fragments():
    text = "Is there a circle? There is a red circle. . 42 ! ... What else?"
    assert split_claims_rule(text) == ["There is a red circle."]
    assert split_claims_rule("") == [] and split_claims_rule("?!. 7 ;") == []


def test_rule_dedupes_ignoring_case_and_spacing():
    text = "There is a red circle. there is a  Red   circle. There is a red circle and a blue star."
    assert split_claims_rule(text) == ["There is a red circle.", "There is a blue star."]


def test_rule_caps_claims_in_reading_order():
    colours = ["red", "green", "blue", "yellow", "pink"]
    text = " ".join(f"There is a {c} circle." for c in colours)
    assert split_claims_rule(text, max_claims=3) == [f"There is a {c} circle." for c in colours[:3]]
    assert len(split_claims_rule(text)) == 5


@pytest.mark.parametrize(
    ("text", "claims"),
    [
        # a final fragment without punctuation is a sentence
        ("There is a red circle. There is a blue star", ["There is a red circle.", "There is a blue star."]),
        # ... whose dangling end is dropped: sampling stopped mid-list
        ("There is a red circle and a", ["There is a red circle."]),
        ("There is a red circle, a", ["There is a red circle."]),
        ("There is a red circle and two", ["There is a red circle."]),
        ("There are two blue stars and", ["There are two blue stars."]),
        ("There is a green square. There is", ["There is a green square."]),
        ("The image shows a red circle. I can see", ["There is a red circle."]),
    ],
)
def test_rule_truncated_final_fragment(text, claims):
    assert split_claims_rule(text) == claims


def test_rule_extractor_counts_and_questions():
    ex = RuleClaimExtractor(max_claims=2)
    sets = ex.extract(
        [("Describe.", "There is a red circle, a blue star and a green square."), ("Describe.", "")]
    )
    assert [c.text for c in sets[0].claims] == ["There is a red circle.", "There is a blue star."]
    assert sets[0].questions == ["Is there a red circle in the image?", "Is there a blue star in the image?"]
    assert all(c.source == "rule" and c.question_source == "rule" for c in sets[0].claims)
    assert sets[1].claims == [] and sets[1].failure is None
    assert (ex.stats.responses, ex.stats.empty, ex.stats.claims) == (2, 1, 2)
    assert ex.extractor_id.endswith(":max2")


# ---------------------------------------------------------------- claim -> question


@pytest.mark.parametrize(
    ("claim", "question"),
    [
        ("There is a red circle.", "Is there a red circle in the image?"),
        ("There are two blue stars.", "Are there two blue stars in the image?"),
        ("There's a cat.", "Is there a cat in the image?"),
        ("  there  is a cat .", "Is there a cat in the image?"),
        ("There is a red circle in the image.", "Is there a red circle in the image?"),  # no second one
        ("There are stars in the picture", "Are there stars in the picture?"),
        ("is it red?", "Is it red?"),  # a question is kept
        ("The circle is red.", "Is it true that the circle is red?"),
        ("This image is dark.", "Is it true that this image is dark?"),
        ("Paris is in France.", "Is it true that Paris is in France?"),  # a proper noun keeps its capital
        ("Red is the colour.", "Is it true that Red is the colour?"),
    ],
)
def test_claim_to_question(claim, question):
    assert claim_to_question(claim) == question


def test_claim_to_question_rejects_empty():
    with pytest.raises(ValueError, match="empty claim"):
        claim_to_question("  \n ")


# ---------------------------------------------------------------- answer parsers


def test_parse_claims_lists_none_and_garbage():
    text = "Here are the facts:\n1. There is a cat.\n2) there is a  cat\n- **A dog is brown**\n* ?!\n3. None"
    assert parse_claims(text) == ["There is a cat.", "A dog is brown."]
    assert parse_claims(text, max_claims=1) == ["There is a cat."]
    assert parse_claims("None.") == [] and parse_claims("1. None") == [] and parse_claims("none") == []
    assert parse_claims("None of these are listed; a cat sits.") is None
    assert parse_claims("Sure! The image is nice.") is None and parse_claims(None) is None


@pytest.mark.parametrize(
    ("text", "question"),
    [
        ("Is there a red circle in the image?", "Is there a red circle in the image?"),
        ('Question: "are there two stars?" I hope this helps.', "Are there two stars?"),
        ("\n1. does the cat sit on a mat? yes", "Does the cat sit on a mat?"),
        ("There is a red circle.", None),  # no question mark
        ("Why is it red?", None),  # not a yes/no question
        ("Is it?", None),  # too short
        ("", None),
    ],
)
def test_parse_question(text, question):
    assert parse_question(text) == question


# ---------------------------------------------------------------- the LLM extractor over HTTP


class CannedModel:
    """The server's "model": split answers by response text, rewrites by statement; counts requests."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.splits: dict[str, str] = {}
        self.questions: dict[str, str] = {}
        self.fail_responses: set[str] = set()
        self.payloads: list[dict] = []

    def reply(self, body: dict) -> tuple[int, dict]:
        with self.lock:
            self.payloads.append(body)
        user = body["messages"][-1]["content"]
        m = re.search(r"<response>\n(.*?)\n</response>", user, flags=re.DOTALL)
        if m:
            resp = m.group(1)
            if resp in self.fail_responses:
                return 500, {"error": "model crashed"}
            text = self.splits[resp]
        else:
            claim = user.rsplit("Statement: ", 1)[1]
            text = self.questions.get(claim, f"Is it true that {claim.rstrip('.').lower()}?")
        return 200, {"choices": [{"message": {"role": "assistant", "content": text}}]}

    def kinds(self) -> list[str]:
        return [
            "split" if "<response>" in p["messages"][-1]["content"] else "question" for p in self.payloads
        ]


@pytest.fixture
def model(serve_json):
    state = CannedModel()
    state.url = serve_json(lambda body, request: state.reply(body))
    return state


def _backend(url: str) -> OpenAIBackend:
    return OpenAIBackend(url, "canned", timeout_s=5, retries=0, concurrency=2)


def test_llm_extractor_splits_and_rewrites(model):
    resp = "The picture has a red circle next to what looks like two blue stars."
    model.splits[resp] = (
        "Facts:\n1. There is a red circle.\n2. There are two blue stars.\n3. There is a red circle."
    )
    model.questions["There are two blue stars."] = "Question: Are there exactly two blue stars in the image?"
    ex = LLMClaimExtractor(_backend(model.url), batch_size=1)
    (cs,) = ex.extract([("Describe the image.", resp)])

    assert cs.failure is None
    assert [c.text for c in cs.claims] == ["There is a red circle.", "There are two blue stars."]
    assert cs.questions == [
        "Is it true that there is a red circle?",
        "Are there exactly two blue stars in the image?",
    ]
    assert all(c.source == "llm" and c.question_source == "llm" for c in cs.claims)
    assert model.kinds() == ["split", "question", "question"]
    split_user = model.payloads[0]["messages"][-1]["content"]
    assert "<instruction>\nDescribe the image.\n</instruction>" in split_user
    assert model.payloads[0]["temperature"] == 0.0 and model.payloads[0]["max_tokens"] == 256
    assert (ex.stats.llm_splits, ex.stats.llm_questions, ex.stats.claims) == (1, 2, 2)
    assert ex.extractor_id.startswith("llm_claims:") and ":llmq:" in ex.extractor_id


def test_llm_extractor_falls_back_per_response(model):
    ok, garbled, crashed, nothing = (
        "There is a green square.",
        "There is a red circle and a blue star.",
        "There is a yellow triangle.",
        "Hello there, friend!",
    )
    model.splits.update(
        {ok: "1. There is a green square.", garbled: "I cannot help with images.", nothing: "None"}
    )
    model.fail_responses.add(crashed)
    ex = LLMClaimExtractor(_backend(model.url), rewrite_questions=False)
    sets = ex.extract([("Describe.", r) for r in (ok, garbled, "   ", crashed, nothing)])

    assert [c.source for c in sets[0].claims] == ["llm"] and sets[0].failure is None
    # unparseable answer: the rules split the response, and the failure quotes the answer
    assert [c.text for c in sets[1].claims] == ["There is a red circle.", "There is a blue star."]
    assert all(c.source == "rule" for c in sets[1].claims)
    assert sets[1].failure.startswith("unparseable_claims: ") and "cannot help" in sets[1].failure
    assert sets[2].claims == [] and sets[2].failure is None  # empty: never sent
    assert [c.text for c in sets[3].claims] == ["There is a yellow triangle."]
    assert sets[3].failure.startswith("backend_error: http_500")
    assert sets[4].claims == [] and sets[4].failure is None  # "None": the response states nothing
    assert model.kinds() == ["split"] * 4  # no rewrites asked; the blank response cost nothing
    assert dict(ex.stats.failures) == {"unparseable_claims": 1, "backend_error": 1}
    assert (ex.stats.responses, ex.stats.empty, ex.stats.llm_splits, ex.stats.rule_fallbacks) == (5, 1, 2, 2)
    assert ex.stats.as_dict()["failure_backend_error"] == 1


def test_llm_extractor_question_fallback_and_cap(model):
    resp = "Lots of shapes."
    model.splits[resp] = "\n".join(f"{i}. There is a shape number {i}." for i in range(1, 6))
    model.questions["There is a shape number 1."] = "The shape is there."  # not a question
    model.questions["There is a shape number 2."] = "Why is there a shape?"  # not yes/no
    ex = LLMClaimExtractor(_backend(model.url), max_claims=3)
    (cs,) = ex.extract([("Describe.", resp)])

    assert [c.text for c in cs.claims] == [f"There is a shape number {i}." for i in (1, 2, 3)]
    assert [c.question_source for c in cs.claims] == ["rule", "rule", "llm"]
    assert cs.questions[0] == "Is there a shape number 1 in the image?"  # the rule question
    assert model.kinds() == ["split"] + ["question"] * 3  # only the kept claims are rewritten
    assert (ex.stats.question_fallbacks, ex.stats.llm_questions) == (2, 1)
    assert ex.stats.failures == {"unparseable_question": 2}


def test_llm_extractor_server_down_falls_back_to_rules():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ex = LLMClaimExtractor(_backend(f"http://127.0.0.1:{port}/v1"))
    (cs,) = ex.extract([("Describe.", "There is a red circle and a blue star.")])
    assert [c.text for c in cs.claims] == ["There is a red circle.", "There is a blue star."]
    assert cs.failure.startswith("backend_error: connection")
    assert ex.stats.rule_fallbacks == 1 and ex.stats.llm_questions == 0
