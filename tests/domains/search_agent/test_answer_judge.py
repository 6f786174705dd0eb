"""The answer judge's two verdict modes: a JSON verdict asked of an endpoint as structured output (the
schema sent, a refusal answered by plain prompts for the rest of the run or, with
``structured_output=on``, as a failure; unparseable answers counted), and p(yes) read from a local model's
next token, which needs no parsing.

The endpoint is the real HTTP server of conftest.py (``server``); the local model is the tiny Llama of
tests/conftest.py, whose p(yes) is also computed here directly with transformers as the reference.
"""

from __future__ import annotations

import pytest

from polyrlaif.core.judges import TransformersBackend
from polyrlaif.domains.search_agent.judge import (
    VERDICT_SCHEMA,
    AnswerVerdictJudge,
    parse_verdict,
    verdict_mode,
)
from polyrlaif.domains.search_agent.prompts import ANSWER_JUDGE_TEMPLATE, ANSWER_YESNO_TEMPLATE


def _row(prediction: str) -> dict[str, str]:
    return {
        "question": "Who designed the Greywick Light?",
        "gold_answers": "- Marta Solvey\n- Solvey",
        "prediction": prediction,
    }


ROWS = [_row("It was Marta Solvey"), _row("Oswin Tarrant"), _row("MALFORMED Solvey"), _row("CUT Solvey")]


def test_a_verdict_cut_short_in_its_reason_still_counts() -> None:
    # the complete pairs before the cut are read; the reason, cut, is not
    assert parse_verdict('{"correct": true, "reason": "both name the same pers') == (True, "")
    assert parse_verdict('{"correct": false, "rea')[0] is False
    got, reason = parse_verdict('{"correct": ')
    assert got is None and reason.startswith("unparseable_verdict")


def test_the_endpoint_is_sent_the_verdict_schema_and_unparseable_answers_are_counted(server) -> None:
    server.structured = "honour"
    judge = AnswerVerdictJudge(server.backend)
    assert judge.verdict_mode == "json" and judge.template == ANSWER_JUDGE_TEMPLATE

    got = judge.verdicts(ROWS)

    assert [v for v, _ in got] == [
        True,
        False,
        None,
        True,
    ]  # MALFORMED: the answer ran out before its verdict
    fmt = server.payloads[0]["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["name"] == "answer_verdict"
    assert fmt["json_schema"]["schema"] == VERDICT_SCHEMA and VERDICT_SCHEMA["required"] == [
        "correct",
        "reason",
    ]
    assert all("response_format" in p for p in server.payloads) and server.requests == 4
    stats = judge.stats.as_dict()
    assert (stats["answers"], stats["unparseable"], stats["unparseable_rate"]) == (4, 1, 0.25)
    assert stats["failures"] == {"unparseable_verdict": 1}


def test_a_server_that_refuses_the_schema_is_asked_plainly_for_the_rest_of_the_run(server, caplog) -> None:
    server.structured = "reject"
    judge = AnswerVerdictJudge(server.backend)

    got = judge.verdicts(ROWS[:1]) + judge.verdicts(ROWS[1:])

    assert [v for v, _ in got] == [True, False, None, True]
    # the first question: refused (400), then asked again plainly; every later one plainly at once
    assert server.requests == 5 and ["response_format" in p for p in server.payloads] == [
        True, False, False, False, False,
    ]  # fmt: skip
    assert "refused response_format" in caplog.text
    assert (judge.stats.answers, judge.stats.unparseable) == (4, 1)

    # a judge built later in the run (another backend object on the same endpoint) asks plainly too
    again = AnswerVerdictJudge(server.backend_with("auto"))
    assert again.verdicts([_row("Solvey")])[0][0] is True and "response_format" not in server.payloads[-1]


def test_structured_output_on_makes_a_refusal_a_failure_and_off_never_asks(server) -> None:
    server.structured = "reject"
    strict = AnswerVerdictJudge(server.backend_with("on"))
    ((verdict, reason),) = strict.verdicts([_row("Marta Solvey")])
    assert verdict is None and reason.startswith("structured_output_rejected: http_400")
    assert dict(strict.stats.failures) == {"structured_output_rejected": 1}
    assert strict.stats.answers == 0  # no answer came back, so none was unparseable

    plain = AnswerVerdictJudge(server.backend_with("off"))
    assert plain.verdicts([_row("Marta Solvey")])[0][0] is True
    assert "response_format" not in server.payloads[-1]


def test_auto_picks_yesno_for_a_local_model_and_json_for_an_endpoint(server, tiny_lm_path) -> None:
    local = TransformersBackend(tiny_lm_path, device="cpu")
    assert verdict_mode(local) == "yesno" and verdict_mode(server.backend) == "json"
    assert verdict_mode(local, "json") == "json" and verdict_mode(server.backend, "yesno") == "yesno"
    with pytest.raises(ValueError, match="'maybe' is not one of auto, json, yesno"):
        verdict_mode(local, "maybe")


def _reference_p_yes(path: str, text: str) -> float:
    """P(yes) / (P(yes) + P(no)) after the chat-templated prompt, straight from transformers."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from polyrlaif.core.judges.backends import yes_no_token_ids

    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, torch_dtype=torch.float32).eval()
    chat = tok.apply_chat_template(
        [{"role": "user", "content": text}], add_generation_prompt=True, tokenize=False
    )
    ids = tok(chat, return_tensors="pt", add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        probs = torch.softmax(model(ids).logits[0, -1].float(), -1)
    yes, no = yes_no_token_ids(tok, ("Yes", "yes"), ("No", "no"))
    p_yes, p_no = probs[yes].sum().item(), probs[no].sum().item()
    return p_yes / (p_yes + p_no)


def test_a_local_model_decides_by_p_yes_with_nothing_to_parse(tiny_lm_path) -> None:
    backend = TransformersBackend(tiny_lm_path, device="cpu", dtype="float32")
    rows = [_row(p) for p in ("Marta Solvey", "Oswin Tarrant", "MALFORMED", "1802", "")]
    judge = AnswerVerdictJudge(backend)
    assert judge.verdict_mode == "yesno" and judge.template == ANSWER_YESNO_TEMPLATE

    got = judge.verdicts(rows)

    assert all(isinstance(v, bool) for v, _ in got)
    assert (judge.stats.answers, judge.stats.unparseable, dict(judge.stats.failures)) == (5, 0, {})
    for row, (verdict, reason) in zip(rows, got, strict=True):
        p = _reference_p_yes(tiny_lm_path, ANSWER_YESNO_TEMPLATE.format(**row))
        assert reason.startswith(f"p(yes)={p:.3f}") and verdict is (p >= 0.5)

    # the same random model asked for a written JSON verdict writes none: every answer unparseable
    written = AnswerVerdictJudge(backend, verdict="json", max_new_tokens=8)
    assert all(v is None for v, _ in written.verdicts(rows[:2]))
    assert (written.stats.answers, written.stats.unparseable) == (2, 2)
