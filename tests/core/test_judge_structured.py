"""Structured judge answers over a real OpenAI-compatible HTTP server (tests/core/conftest.py): the
pointwise and pairwise judges send their answer's JSON schema as ``response_format``; a server that
honours it answers JSON, one that rejects it with HTTP 400 is asked plainly from then on, and answers
no score can be read from are counted as unparseable."""

from __future__ import annotations

import logging

import pytest

from polyrlaif.core.config import JudgeConfig
from polyrlaif.core.judges import (
    JudgeCache,
    OpenAIBackend,
    PairwiseJudge,
    PointwiseJudge,
    Rubric,
    build_backend,
    parse_preference,
    parse_rubric_answer,
)
from polyrlaif.core.judges.pairwise import PREFERENCE_SCHEMA
from polyrlaif.core.records import Candidate, PromptRecord

RUBRIC = Rubric("quality", (("correctness", "is it right"), ("clarity", "is it clear")), 1, 10)
TEXTS = ["short", "a" * 35, "b" * 95, "GARBLE here"]


def _backend(url: str, **kw) -> OpenAIBackend:
    kw = {"timeout_s": 5, "retries": 0, "concurrency": 1, **kw}
    return OpenAIBackend(url, "fake-judge", **kw)


def _data(texts: list[str]) -> tuple[dict[str, PromptRecord], list[Candidate]]:
    prompts = {"p": PromptRecord(prompt_id="p", text="Task p: explain.")}
    return prompts, [Candidate(candidate_id=f"p/{i}", prompt_id="p", text=t) for i, t in enumerate(texts)]


def _check_pointwise(server, judge: PointwiseJudge, out) -> None:
    """The rule's scores for the readable answers, GARBLE unparseable, and the counts to match."""
    for j, t in zip(out[:3], TEXTS[:3], strict=True):
        c = server.score(t)
        assert j.ok and j.scores == {"correctness": c, "clarity": 11 - c}
        assert j.rationale == "judged by length."
    assert out[3].score is None and out[3].failure.startswith("unparseable: ")
    stats = judge.stats.as_dict()
    assert (stats["answers"], stats["unparseable"]) == (4, 1)
    assert stats["unparseable_rate"] == pytest.approx(0.25)


def test_a_server_that_honours_response_format_answers_json(server):
    server.structured = "honour"
    prompts, cands = _data(TEXTS)
    judge = PointwiseJudge(_backend(server.url), RUBRIC, progress=False)
    out = judge.judge(prompts, cands)
    _check_pointwise(server, judge, out)
    fmt = server.payloads[0]["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["schema"] == RUBRIC.json_schema()
    props = fmt["json_schema"]["schema"]["properties"]
    assert list(props) == ["correctness", "clarity", "rationale"]
    assert props["clarity"] == {"type": "integer", "minimum": 1, "maximum": 10}
    assert all("response_format" in p for p in server.payloads)

    pairwise = PairwiseJudge(_backend(server.url), progress=False)
    won = pairwise.judge(prompts, cands[:3])
    assert [j.score for j in won] == pytest.approx([0.0, 0.5, 1.0])  # the longer wins, in both orders
    assert server.payloads[-1]["response_format"]["json_schema"]["schema"] == PREFERENCE_SCHEMA
    assert pairwise.stats.unparseable == 0 and pairwise.stats.answers == 6


def test_json_answers_parse_and_free_text_stays_the_fallback():
    js = parse_rubric_answer('{"correctness": 7, "Clarity": "4/10", "rationale": "ok"}', RUBRIC)
    assert (js.scores, js.missing, js.rationale) == ({"correctness": 7.0, "clarity": 4.0}, [], "ok")
    cut = parse_rubric_answer('```json\n{"correctness": 3, "clarity": 9, "rationale": "the answer is', RUBRIC)
    assert cut.scores == {"correctness": 3.0, "clarity": 9.0}  # scores before a cut-short rationale count
    assert parse_rubric_answer('{"correctness": 11, "clarity": 2}', RUBRIC).out_of_range == ["correctness=11"]
    free = parse_rubric_answer("correctness: 5\nclarity: 6", RUBRIC)
    assert free.scores == {"correctness": 5, "clarity": 6}
    assert parse_rubric_answer('{"verdict": "fine"}', RUBRIC).missing == ["correctness", "clarity"]
    assert parse_preference('{"winner": "B", "reason": "A is wrong"}') == "B"
    assert parse_preference('{"winner": "A", "reason": "cut sh') == "A"
    assert parse_preference('{"better": "Response B"}') == "B"
    assert parse_preference('{"reason": "both fine"}') is None
    assert parse_preference("[[A]]") == "A"


def test_a_server_that_rejects_response_format_is_asked_plainly_from_then_on(server, caplog):
    server.structured = "reject"
    prompts, cands = _data(TEXTS)
    backend = _backend(server.url)
    with caplog.at_level(logging.WARNING, logger="polyrlaif"):
        judge = PointwiseJudge(backend, RUBRIC, progress=False)
        out = judge.judge(prompts, cands)
        _check_pointwise(server, judge, out)
        # the first question was asked twice (with the schema: 400; without: answered), the rest once
        assert server.requests == len(TEXTS) + 1
        assert ["response_format" in p for p in server.payloads] == [True] + [False] * len(TEXTS)

        # remembered for the rest of the run: other judges, and other backends for the same endpoint
        PairwiseJudge(backend, progress=False).judge(prompts, cands[:3])
        again = PointwiseJudge(_backend(server.url), RUBRIC, progress=False)
        assert again.judge(prompts, cands[:1])[0].ok
    assert not any("response_format" in p for p in server.payloads[len(TEXTS) + 1 :])
    refused = [r for r in caplog.records if "refused response_format" in r.getMessage()]
    assert len(refused) == 1 and "http_400" in refused[0].getMessage()


def test_structured_output_on_and_off(server):
    server.structured = "reject"
    prompts, cands = _data(TEXTS[:2])
    judge = PointwiseJudge(_backend(server.url, structured_output="on"), RUBRIC, progress=False)
    out = judge.judge(prompts, cands)
    assert all(j.failure.startswith("structured_output_rejected: http_400") for j in out)
    assert "judge.structured_output=auto" in out[0].failure
    assert judge.stats.failures == {"structured_output_rejected": 2} and judge.stats.answers == 0

    server.structured = "honour"
    plain = PointwiseJudge(_backend(server.url, structured_output="off"), RUBRIC, progress=False)
    assert all(j.ok for j in plain.judge(prompts, cands))
    assert not any("response_format" in p for p in server.payloads[2:])
    with pytest.raises(ValueError, match="judge.structured_output: 'yes' is not one of auto, on, off"):
        _backend(server.url, structured_output="yes")
    backend = build_backend(JudgeConfig(backend="openai", base_url=server.url, structured_output="off"))
    assert backend.structured.mode == "off"


def test_structured_and_plain_answers_are_cached_apart(server, tmp_path):
    server.structured = "honour"
    prompts, cands = _data(TEXTS[:3])
    with JudgeCache(tmp_path / "cache.sqlite") as cache:

        def run(mode: str) -> tuple[list, int]:
            before = server.requests
            judge = PointwiseJudge(_backend(server.url, structured_output=mode), RUBRIC, cache=cache)
            judge.progress = False
            return judge.judge(prompts, cands), server.requests - before

        (structured, asked1), (plain, asked2) = run("on"), run("off")
        assert (asked1, asked2) == (3, 3)  # a free-text request is not answered by a structured one
        assert [j.scores for j in structured] == [j.scores for j in plain]
        assert [j.judge_prompt_hash for j in structured] == [j.judge_prompt_hash for j in plain]
        assert run("on")[1] == 0 and run("auto")[1] == 0 and run("off")[1] == 0
        assert len(cache) == 6

        # a server that refuses the schema: its plain answers are stored as plain requests' answers
        server.structured = "reject"
        prompts2, cands2 = _data(["x" * 20, "y" * 50])
        before = server.requests
        PointwiseJudge(_backend(server.url), RUBRIC, cache=cache, progress=False).judge(prompts2, cands2)
        assert server.requests - before == 3  # one refusal, then two plain questions
        replay = PointwiseJudge(_backend(server.url, structured_output="off"), RUBRIC, cache=cache)
        replay.progress = False
        assert all(j.cached and j.ok for j in replay.judge(prompts2, cands2))


def test_unparseable_answers_are_counted_on_a_junk_server(server):
    prompts, cands = _data(["short", "a" * 35, "GARBLE one"])
    for mode in ("ignore", "honour"):
        server.structured = mode
        judge = PairwiseJudge(_backend(server.url), progress=False)
        out = judge.judge(prompts, cands)
        # 3 pairs x 2 orders; the 2 pairs with GARBLE get junk in both orders
        assert (judge.stats.answers, judge.stats.unparseable) == (6, 4)
        assert judge.stats.as_dict()["unparseable_rate"] == pytest.approx(4 / 6)
        assert judge.stats.failures["unparseable"] == 4
        assert out[2].failure.startswith("all_comparisons_failed: unparseable")
        judge.stats.reset()
        assert judge.stats.as_dict()["unparseable_rate"] == 0.0 and judge.stats.answers == 0
