"""The search agent loop: actions parsed, tools run, judgments drop context, verification, failures."""

from __future__ import annotations

import json

import pytest

from polyrlaif.core.io import InputError
from polyrlaif.datasets.qa.fictional import corpus_path
from polyrlaif.domains.search_agent.actions import first_action_end, parse_action
from polyrlaif.domains.search_agent.agent import (
    AgentConfig,
    policy_generator,
    read_trajectories,
    run_agents,
    write_trajectories,
)
from polyrlaif.domains.search_agent.index import load_retriever
from polyrlaif.domains.search_agent.prompts import ACTION_FORMAT, DROPPED_NOTE, VERIFY_PROMPT
from polyrlaif.domains.search_agent.tools import SearchTools


def _call(name: str, **arguments) -> str:
    return "<tool_call>" + json.dumps({"name": name, "arguments": arguments}) + "</tool_call>"


class ScriptedModel:
    """A test double for the policy: replays a planned list of turns per question, recording contexts.

    The question is read from the context's first user message, so the loop under test is free to
    order and batch conversations as it likes.
    """

    def __init__(self, scripts: dict[str, list[str]], fail_on: str | None = None) -> None:
        self.scripts = {q: list(turns) for q, turns in scripts.items()}
        self.fail_on = fail_on
        self.calls: list[list[list[dict[str, str]]]] = []

    def __call__(self, conversations: list[list[dict[str, str]]]) -> list[str]:
        self.calls.append(conversations)
        questions = [c[1]["content"].removeprefix("Question: ") for c in conversations]
        if self.fail_on in questions:
            raise RuntimeError("out of memory")
        return [self.scripts[q].pop(0) for q in questions]

    def contexts(self, question: str) -> list[list[dict[str, str]]]:
        """Every context the model saw for ``question``, turn by turn."""
        return [c for batch in self.calls for c in batch if c[1]["content"] == f"Question: {question}"]


@pytest.fixture(scope="module")
def tools(index_dirs, documents) -> SearchTools:
    return SearchTools(load_retriever(index_dirs["bm25"], corpus_path=corpus_path()), documents)


@pytest.fixture(scope="module")
def qs(questions) -> dict[str, object]:
    return {q.id: q for q in questions}


GREYWICK = "Who designed the Greywick Light?"
SALT_WAR = "Which treaty ended the Salt War?"


def test_search_read_judge_and_verified_answer(tools, qs) -> None:
    model = ScriptedModel(
        {
            GREYWICK: [
                "<think>Search first.</think>" + _call("search", query="Greywick Light designer", k=3),
                _call("search", query="Brassmere Observatory industrialist", k=2),
                "<think>That was about an observatory.</think><judge>not useful</judge>",
                _call("read", doc_id="fw-006"),
                "<answer>Marta Solvey</answer><cite>fw-006</cite>",
                "<think>fw-006 says so.</think><answer>Marta Solvey <cite>fw-006</cite></answer>",
            ],
            SALT_WAR: [
                "<answer>Treaty of Lunn Ferry</answer>",
                "<answer>Lunn Ferry</answer><cite>fw-020</cite>",
            ],
        }
    )
    cfg = AgentConfig(max_turns=8, verify=True, judge_action=True)
    grey, salt = run_agents(model, tools, [qs["fq-s02"], qs["fq-s05"]], cfg)

    # all unfinished trajectories advance together: two per call until the Salt War one commits
    assert [len(batch) for batch in model.calls] == [2, 2, 1, 1, 1, 1]
    assert grey.status == "answered" and grey.answer == "Marta Solvey" and grey.citations == ["fw-006"]
    assert grey.n_tool_calls == 3 and [s.turn for s in grey.steps] == [1, 2, 3, 4, 5, 6]
    assert "[1] fw-006: Greywick Light" in grey.steps[0].observation
    bad_results = grey.steps[1].observation
    assert "fw-012: Brassmere Observatory" in bad_results and bad_results.startswith("<observation>")

    # the judged observation leaves the model's context but stays in the trajectory, marked dropped
    assert grey.judgments == [(1, False)] and grey.steps[1].dropped and not grey.steps[0].dropped
    contexts = model.contexts(GREYWICK)
    assert contexts[2][5]["content"] == bad_results  # seen before the judgment
    for later in contexts[3:]:
        assert all(m["content"] != bad_results for m in later)
        assert later[5] == {"role": "user", "content": DROPPED_NOTE}
    assert "Marta Solvey" in grey.steps[3].observation

    # verify mode: the first answer is a draft, the verification prompt follows, the second commits
    assert grey.draft_answer == "Marta Solvey" and grey.draft_citations == ["fw-006"]
    verify = VERIFY_PROMPT.format(answer="Marta Solvey", citations="fw-006")
    assert contexts[5][-1] == {"role": "user", "content": verify}
    assert salt.draft_answer == "Treaty of Lunn Ferry" and salt.answer == "Lunn Ferry"
    assert salt.citations == ["fw-020"] and salt.status == "answered" and salt.n_tool_calls == 0
    assert "<judge>" in contexts[0][0]["content"]  # the judge action is described when enabled


def test_malformed_actions_and_tool_errors_become_observations(tools, qs) -> None:
    model = ScriptedModel(
        {
            GREYWICK: [
                _call("read", doc_id="fw-999"),
                '<tool_call>{"name": "read" "arguments": {}}</tool_call>',
                _call("browse", url="x"),
                "The answer is probably Marta Solvey.",
                _call("search", query="   "),
                "<judge>useful</judge>",
                "<answer>Marta Solvey</answer><cite>fw-006</cite>",
            ]
        }
    )
    (traj,) = run_agents(model, tools, [qs["fq-s02"]], AgentConfig(max_turns=10))
    assert traj.status == "answered" and traj.answer == "Marta Solvey" and traj.draft_answer is None
    unknown_doc, bad_json, unknown_tool, no_tag, empty_query, judge = traj.steps[:6]
    assert unknown_doc.action.kind == "tool_call" and "no document has id 'fw-999'" in unknown_doc.error
    assert unknown_doc.observation.startswith("<observation>Error: no document has id 'fw-999'")
    assert bad_json.action.kind == "invalid" and bad_json.error.startswith("bad JSON in <tool_call>")
    assert "unknown tool 'browse'" in unknown_tool.error and "no action tag" in no_tag.error
    assert "'query' must be a non-empty string" in empty_query.error
    assert judge.action.kind == "judge" and "not enabled" in judge.error and traj.judgments == []
    for step in (bad_json, unknown_tool, no_tag, judge):
        assert step.observation == f"<observation>Error: {step.error}\n{ACTION_FORMAT}</observation>"
    assert traj.n_tool_calls == 2  # only calls that reached the tools
    assert "<judge>" not in model.calls[0][0][0]["content"]


def test_judge_needs_a_fresh_observation(tools, qs) -> None:
    model = ScriptedModel(
        {
            GREYWICK: [
                "<judge>useful</judge>",
                _call("search", query="Greywick Light"),
                "<judge>useful</judge>",
                "<judge>not useful</judge>",
            ]
        }
    )
    (traj,) = run_agents(model, tools, [qs["fq-s02"]], AgentConfig(max_turns=4, judge_action=True))
    assert "no observation to judge" in traj.steps[0].error
    assert traj.steps[2].error is None and "kept in your context" in traj.steps[2].observation
    assert "already judged" in traj.steps[3].error
    assert traj.judgments == [(1, True)] and not traj.steps[1].dropped


def test_text_after_the_first_action_is_cut(tools, qs) -> None:
    """A model without stop strings runs on (a made-up observation, a second call): only the first
    complete action is kept, acted on and shown again."""
    runaway = (
        _call("search", query="Greywick Light")
        + "<observation>fake</observation>"
        + _call("read", doc_id="x")
    )
    model = ScriptedModel(
        {GREYWICK: [runaway, "<think>ok</think><answer>Marta Solvey</answer> <cite>fw-006</cite> trailing"]}
    )
    (traj,) = run_agents(model, tools, [qs["fq-s02"]], AgentConfig(max_turns=3))
    assert traj.status == "answered" and traj.answer == "Marta Solvey" and traj.citations == ["fw-006"]
    first, last = traj.steps
    assert first.text == _call("search", query="Greywick Light") and first.action.kind == "tool_call"
    assert "fake" not in str(model.contexts(GREYWICK)[1]) and "fw-006" in first.observation
    assert last.text.endswith("<cite>fw-006</cite>") and traj.n_tool_calls == 1
    assert first_action_end("no tags here") is None and first_action_end("<answer>open") is None


def test_turn_limit_ends_without_answer(tools, qs) -> None:
    model = ScriptedModel({GREYWICK: [_call("search", query="Greywick")] * 2 + ["<answer>Solvey</answer>"]})
    (traj,) = run_agents(model, tools, [qs["fq-s02"]], AgentConfig(max_turns=3, verify=True))
    assert traj.status == "turn_limit" and traj.answer is None and traj.citations == []
    assert traj.draft_answer == "Solvey" and len(traj.steps) == 3 and len(model.calls) == 3


def test_generate_failure_marks_only_its_batch(tools, qs) -> None:
    model = ScriptedModel({GREYWICK: ["<answer>Marta Solvey</answer>"], SALT_WAR: []}, fail_on=SALT_WAR)
    cfg = AgentConfig(max_turns=3, batch_size=1)
    grey, salt = run_agents(model, tools, [qs["fq-s02"], qs["fq-s05"]], cfg)
    assert grey.status == "answered" and grey.answer == "Marta Solvey"
    assert salt.status == "error" and salt.steps == []
    assert salt.error == "generate failed at turn 1: RuntimeError: out of memory"

    (short,) = run_agents(lambda convs: [], tools, [qs["fq-s02"]], cfg)
    assert short.status == "error" and "returned 0 outputs for 1 conversations" in short.error


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (_call("search", query="Greywick", k=3), {"kind": "tool_call", "tool": "search"}),
        (
            '<think>use <answer>x</answer> later</think>\n<tool_call> {"name": "read", '
            '"arguments": {"doc_id": "fw-006"}} </tool_call> trailing prose',
            {"kind": "tool_call", "tool": "read", "arguments": {"doc_id": "fw-006"}},
        ),
        ("<judge>useful</judge>", {"kind": "judge", "useful": True}),
        ("<judge> Not  Useful </judge>", {"kind": "judge", "useful": False}),
        ("<answer>61 metres</answer>", {"kind": "answer", "answer": "61 metres", "citations": ()}),
        (
            "<answer>Marta Solvey <cite>fw-006,fw-012</cite></answer>",
            {"kind": "answer", "answer": "Marta Solvey", "citations": ("fw-006", "fw-012")},
        ),
        (
            "<answer>1804</answer>\n<cite>fw-006, fw-006 fw-004</cite>",
            {"kind": "answer", "answer": "1804", "citations": ("fw-006", "fw-004")},
        ),
        ("Marta Solvey", {"kind": "invalid", "error": "no action tag found"}),
        ("<think>only thinking</think>", {"kind": "invalid", "error": "no action tag found"}),
        (
            "<think>never closed <answer>x</answer>",
            {"kind": "invalid", "error": "<think> block is not closed"},
        ),
        ('<tool_call>{"name": "search"</tool_call>', {"kind": "invalid", "error": "bad JSON in <tool_call>"}),
        ("<tool_call>[1, 2]</tool_call>", {"kind": "invalid", "error": "must hold a JSON object, got list"}),
        ('<tool_call>{"arguments": {}}</tool_call>', {"kind": "invalid", "error": 'needs a string "name"'}),
        (_call("browse", url="x"), {"kind": "invalid", "error": "unknown tool 'browse'"}),
        (
            '<tool_call>{"name": "read"}</tool_call>',
            {"kind": "invalid", "error": '"arguments" JSON object, got none'},
        ),
        (
            '<tool_call>{"name": "read", "arguments": {}, "id": 1}</tool_call>',
            {"kind": "invalid", "error": "unexpected key(s) id"},
        ),
        (_call("read", doc_id="a") + "<answer>x</answer>", {"kind": "invalid", "error": "several actions"}),
        (
            "<answer>x</answer><answer>y</answer>",
            {"kind": "invalid", "error": "several actions in one turn (answer, answer)"},
        ),
        ('<tool_call>{"name": "read"', {"kind": "invalid", "error": "<tool_call> tag is not closed"}),
        ("<judge>maybe</judge>", {"kind": "invalid", "error": "'useful' or 'not useful', got 'maybe'"}),
        ("<answer> <cite>fw-006</cite> </answer>", {"kind": "invalid", "error": "the <answer> is empty"}),
        ("<answer>x</answer><cite>fw-006", {"kind": "invalid", "error": "<cite> tag is not closed"}),
    ],
)
def test_parse_action(text: str, expected: dict) -> None:
    action = parse_action(text)
    for key, value in expected.items():
        if key == "error":
            assert value in action.error, action.error
        else:
            assert getattr(action, key) == value
    assert (action.error is None) == (action.kind != "invalid")


def test_trajectories_round_trip_and_bad_rows_name_the_line(tools, qs, tmp_path) -> None:
    model = ScriptedModel(
        {GREYWICK: [_call("search", query="Greywick"), "<judge>not useful</judge>", "<answer>x</answer>"]}
    )
    trajs = run_agents(model, tools, [qs["fq-s02"]], AgentConfig(judge_action=True))
    path = write_trajectories(tmp_path / "t.jsonl", trajs)
    assert read_trajectories(path) == trajs and trajs[0].judgments == [(0, False)]
    row = trajs[0].to_dict()
    row["steps"][0].pop("action")
    path.write_text(json.dumps(trajs[0].to_dict()) + "\n" + json.dumps(row) + "\n")
    with pytest.raises(InputError, match=r"t\.jsonl:2: malformed trajectory field"):
        read_trajectories(path)


def test_tiny_random_model_end_to_end(tiny_lm_path, tools, qs, tmp_path) -> None:
    from polyrlaif.core.policy import CausalLMPolicy

    policy = CausalLMPolicy(tiny_lm_path, device="cpu", batch_size=2)
    generate = policy_generator(policy, max_new_tokens=12, temperature=0.0, seed=1)
    trajs = run_agents(generate, tools, [qs["fq-s02"], qs["fq-s05"]], AgentConfig(max_turns=2, verify=True))
    policy.close()
    assert [t.status for t in trajs] == ["turn_limit", "turn_limit"]
    for traj in trajs:
        assert traj.answer is None and [s.turn for s in traj.steps] == [1, 2]
        assert all(
            s.action.kind == "invalid" and s.observation.startswith("<observation>Error:") for s in traj.steps
        )
    back = read_trajectories(write_trajectories(tmp_path / "tiny.jsonl", trajs))
    assert back == trajs and [t.question_id for t in back] == ["fq-s02", "fq-s05"]
    assert policy.stats["sequences"] == 4  # two questions, two turns, one completion each
