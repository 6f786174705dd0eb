"""Search-agent rewards: EM/F1, format, LLM-judge verdicts over real HTTP, citation faithfulness,
ReSeek's JUDGE reward with the real MiniLM encoder, and the combined reward's renormalisation.

The LLM judge is the real OpenAI-compatible HTTP server of conftest.py (``server``), whose "model"
follows fixed rules: a prediction is correct when it contains a gold answer, a document supports an
answer when it contains it, and marker words script malformed replies.
"""

from __future__ import annotations

import json
import re

import pytest

from polyrlaif.core.judges import JudgeCache
from polyrlaif.datasets.qa.fictional import corpus_path
from polyrlaif.domains.search_agent.actions import Action
from polyrlaif.domains.search_agent.agent import AgentConfig, Step, Trajectory, run_agents
from polyrlaif.domains.search_agent.index import build_index, load_retriever
from polyrlaif.domains.search_agent.judge import AnswerJudgeReward, CitationFaithfulnessReward, parse_verdict
from polyrlaif.domains.search_agent.prompts import ANSWER_JUDGE_TEMPLATE, ANSWER_JUDGE_TEMPLATE_HASH
from polyrlaif.domains.search_agent.rewards import CombinedReward, JudgeActionReward
from polyrlaif.domains.search_agent.tools import SearchTools
from polyrlaif.domains.search_agent.verifier import ExactMatchReward, F1Reward, FormatReward


def _tag(text: str, name: str) -> str:
    m = re.search(rf"<{name}>\n(.*?)\n</{name}>", text, flags=re.DOTALL)
    return m.group(1) if m else ""


@pytest.fixture(scope="module")
def docs(documents):
    return {d.id: d for d in documents}


@pytest.fixture(scope="module")
def qs(questions):
    return {q.id: q for q in questions}


def _answered(answer: str | None, citations=(), steps=None, status: str = "answered") -> Trajectory:
    steps = steps or [
        Step(1, "<answer>...</answer>", Action("answer", answer=answer, citations=tuple(citations)))
    ]
    return Trajectory(
        "fq-s02", "Who designed the Greywick Light?", steps, answer, list(citations), status=status
    )


def test_exact_match_and_f1_take_the_best_gold_answer(qs) -> None:
    q = qs["fq-s02"]  # answers: "Marta Solvey", "Solvey"
    em, f = ExactMatchReward(), F1Reward()
    assert em(_answered("the Solvey"), q) == 1.0 and f(_answered("Solvey"), q) == 1.0
    assert em(_answered("Marta Solveig"), q) == 0.0
    assert f(_answered("Marta Solveig"), q) == pytest.approx(0.5)  # 1 of 2 tokens against "Marta Solvey"
    assert (
        em(_answered(None, status="turn_limit"), q) == 0.0
        and f(_answered(None, status="turn_limit"), q) == 0.0
    )


def test_format_reward_partial_credit_rules() -> None:
    search = Step(1, "<tool_call>...", Action("tool_call", tool="search", arguments={"query": "x"}))
    bad = Step(2, "no tags", Action.invalid("no action tag found"))
    answer = Step(3, "<answer>", Action("answer", answer="Marta Solvey", citations=("fw-006",)))
    fmt = FormatReward()
    assert fmt(_answered("Marta Solvey", ["fw-006"], [search, answer])) == 1.0
    assert fmt(_answered("Marta Solvey", [], [search, answer])) == 0.5  # uncited answer
    assert fmt(_answered("Marta Solvey", ["fw-006"], [search, bad, answer])) == pytest.approx(2 / 3)
    assert fmt(_answered(None, [], [search, bad], status="turn_limit")) == 0.0
    assert fmt(_answered(None, [], [search], status="error")) == 0.0
    traj = _answered("Marta Solvey", ["fw-006"], [search, answer])
    traj.n_tool_calls = 3
    assert FormatReward(max_tool_calls=2)(traj) == 0.5 and FormatReward(max_tool_calls=3)(traj) == 1.0


@pytest.mark.parametrize(
    "text, verdict",
    [
        ('{"correct": true, "reason": "same"}', True),
        ('Sure.\n```json\n{"correct": false, "reason": "other person"}\n```', False),
        ('I think {"note": 1} then {"correct": "yes"} ok', True),
        ('{"correct": maybe}', None),
        ('{"correct": 0.7}', None),
        ("", None),
    ],
)
def test_parse_verdict_is_robust_and_never_raises(text, verdict) -> None:
    got, reason = parse_verdict(text)
    assert got is verdict
    assert (got is None) == reason.startswith("unparseable_verdict")


def test_answer_judge_over_http_parses_fails_and_caches(server, qs, tmp_path) -> None:
    q = qs["fq-s02"]
    with JudgeCache(tmp_path / "judge.sqlite") as cache:
        reward = AnswerJudgeReward(server.backend, cache=cache)
        assert reward(_answered("It was Marta Solvey"), q) == 1.0
        assert reward(_answered("Oswin Tarrant"), q) == 0.0
        assert reward(_answered("FENCED Solvey"), q) == 1.0  # JSON inside a code fence with chatter
        assert reward(_answered("MALFORMED Solvey"), q) is None
        assert reward.last_reason.startswith("unparseable_verdict")
        assert reward(_answered(None, status="turn_limit"), q) == 0.0  # no answer: no call
        assert server.requests == 4
        assert dict(reward.stats.failures) == {"unparseable_verdict": 1}
        assert (reward.stats.answers, reward.stats.unparseable) == (4, 1)

        prompt = server.payloads[0]["messages"][-1]["content"]
        assert "<gold_answers>\n- Marta Solvey\n- Solvey\n</gold_answers>" in prompt
        assert (
            reward.template_hash == ANSWER_JUDGE_TEMPLATE_HASH
            and reward.judge.template == ANSWER_JUDGE_TEMPLATE
        )

        # a new reward over the same cache replays every stored reply (the malformed one too)
        again = AnswerJudgeReward(server.backend, cache=cache)
        assert again(_answered("It was Marta Solvey"), q) == 1.0
        assert again(_answered("MALFORMED Solvey"), q) is None
        assert server.requests == 4 and again.stats.cache_hits == 2 and again.stats.calls == 0


def test_citation_faithfulness_counts_unknown_ids_as_unsupported(server, qs, docs) -> None:
    q = qs["fq-s02"]
    reward = CitationFaithfulnessReward(server.backend, docs)
    # fw-006 states the answer, fw-012 does not, fw-999 does not exist (and costs no call)
    assert reward(_answered("Marta Solvey", ["fw-006", "fw-012", "fw-999"]), q) == pytest.approx(1 / 3)
    assert server.requests == 2
    shown = sorted(_tag(p["messages"][-1]["content"], "document").split("\n")[0] for p in server.payloads)
    assert shown == ["id: fw-006", "id: fw-012"]  # each known document, once, in the judge prompt
    assert reward(_answered("Marta Solvey", ["fw-006"]), q) == 1.0
    assert reward(_answered("Marta Solvey", ["fw-999"]), q) == 0.0
    assert reward(_answered("Marta Solvey", []), q) is None  # nothing cited
    assert reward(_answered(None, status="turn_limit"), q) is None  # nothing answered
    # a judge call that fails makes the reward undecided, counted by reason
    assert reward(_answered("NOLOGPROBS", ["fw-006"]), q) is None
    assert dict(reward.stats.failures) == {"no_logprobs": 1}


def _call(name: str, **arguments) -> str:
    return "<tool_call>" + json.dumps({"name": name, "arguments": arguments}) + "</tool_call>"


def _scripted(turns: list[str]):
    turns = list(turns)
    return lambda conversations: [turns.pop(0) for _ in conversations]


@pytest.fixture(scope="module")
def tools(tmp_path_factory, documents) -> SearchTools:
    index = tmp_path_factory.mktemp("bm25") / "index"
    build_index(corpus_path(), index, "bm25", show_progress=False)
    return SearchTools(load_retriever(index, corpus_path=corpus_path()), documents)


def test_judge_action_reward_on_real_rollouts(tools, qs, encoder) -> None:
    q = qs["fq-s02"]
    cfg = AgentConfig(max_turns=8, judge_action=True)

    def rollout(first: str, second: str) -> Trajectory:
        turns = [
            _call("read", doc_id="fw-006"),  # states the answer
            f"<judge>{first}</judge>",
            _call("read", doc_id="fw-012"),  # the Brassmere Observatory: unrelated
            f"<judge>{second}</judge>",
            "<answer>Marta Solvey</answer><cite>fw-006</cite>",
        ]
        return run_agents(_scripted(turns), tools, [q], cfg)[0]

    good, bad = rollout("useful", "not useful"), rollout("not useful", "useful")
    assert good.judgments == [(0, True), (2, False)] and bad.judgments == [(0, False), (2, True)]
    reward = JudgeActionReward(encoder)
    assert reward(good, q) == 1.0 and reward(bad, q) == -1.0
    mixed = rollout("useful", "useful")
    assert reward(mixed, q) == 0.0  # one right, one wrong

    no_judge = run_agents(_scripted(["<answer>Marta Solvey</answer><cite>fw-006</cite>"]), tools, [q], cfg)[0]
    assert reward(no_judge, q) is None
    assert FormatReward()(good, q) == 1.0 and ExactMatchReward()(good, q) == 1.0


def test_judge_action_reranker_and_literal_match(qs, docs, encoder) -> None:
    q = qs["fq-s02"]
    relevant = (
        "<observation>The lighthouse at Tamsk Harbour was the work of the engineer Solvey.</observation>"
    )
    unrelated = f"<observation>{docs['fw-012'].text}</observation>"
    literal = f"<observation>{docs['fw-006'].text}</observation>"
    reranker = JudgeActionReward(encoder, literal_match=False)
    high, low = reranker.scores([literal, unrelated], q)
    assert high > reranker.threshold > low
    assert reranker.ideal([literal, unrelated], q) == [True, False]
    # with a threshold no observation reaches, only a literal gold answer makes it useful
    strict = JudgeActionReward(encoder, threshold=0.99)
    assert strict.ideal([literal, relevant, unrelated], q) == [True, True, False]  # "Solvey" is an alias
    assert JudgeActionReward(encoder, threshold=0.99, literal_match=False).ideal([literal], q) == [False]


class _Fixed:
    def __init__(self, value):
        self.value = value

    def __call__(self, trajectory, example):
        return self.value


def test_combined_reward_renormalises_over_applicable_components(qs) -> None:
    q = qs["fq-s02"]
    traj = _answered("Marta Solvey", [])  # EM 1.0, format 0.5 (uncited), no JUDGE action
    combined = CombinedReward(
        {"em": 2.0, "format": 1.0, "judge": 3.0, "unused": 0.0},
        {
            "em": ExactMatchReward(),
            "format": FormatReward(),
            "judge": JudgeActionReward(),
            "unused": _Fixed(7.0),
        },
    )
    total, parts = combined(traj, q)
    assert parts == {"em": 1.0, "format": 0.5, "judge": None, "unused": 7.0}
    assert total == pytest.approx((2 * 1.0 + 1 * 0.5) / 3)  # judge's weight drops out; 0-weight ignored

    with_judge = CombinedReward({"em": 2.0, "judge": 2.0}, {"em": _Fixed(1.0), "judge": _Fixed(-1.0)})
    assert with_judge(traj, q)[0] == pytest.approx(0.0)
    assert CombinedReward({"a": 1.0}, {"a": _Fixed(None)})(traj, q) == (None, {"a": None})
    metrics = combined.metrics()
    assert metrics["judge/none_rate"] == 1.0 and metrics["em/mean"] == 1.0
    with pytest.raises(ValueError, match="unknown reward component"):
        CombinedReward({"nope": 1.0}, {"em": ExactMatchReward()})
    with pytest.raises(ValueError, match="non-negative"):
        CombinedReward({"em": -1.0}, {"em": ExactMatchReward()})
