"""``polyrlaif eval --domain video_lmm --benchmark videoqa --predictions P.jsonl --annotations Q.json --output
O.json`` with the rule judge endpoint: the metrics in O.json and the per-question files under O/, as worked
out by hand; the same for Video-ChatGPT's five aspects; ``--model M --videos DIR`` generating first; and
``--videos`` reaching a benchmark's ``videos`` option, refused by name where there is none.

Until the `video_lmm` domain registers itself, a stand-in package registers the name through the
``polyrlaif.domains`` entry-point group (installed metadata written into a temporary folder, as pip would),
pointing at the real evaluators; once the project's own entry point exists it takes precedence (it comes
later on ``sys.path``), and these tests then run against it. The ``--model`` run uses a second stand-in
domain, ``video_lmm_text``, whose adapter is a *text stand-in*: the tiny chat LM with the video parts of
each conversation dropped. It tests the CLI's generation plumbing, not video understanding.

The rule judge (``rule_judge`` in conftest.py) is given a Video-ChatGPT rule here: a prediction equal to
the correct answer (ignoring case) is ``{'pred': 'yes', 'score': 5}`` (score-only prompts: ``{'score':
4}``), any other ``{'pred': 'no', 'score': 1}`` (``{'score': 2}``); a prediction containing ``MALFORMED``
gets a reply without the dict.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from polyrlaif.core.cli import main

STAND_IN = """
from polyrlaif.core.protocols import Domain


class TextStandInPolicy:
    def __init__(self, model, **kwargs):
        from polyrlaif.core.policy import CausalLMPolicy

        self.inner = CausalLMPolicy(model, **kwargs)
        self.model_id, self.model_path = model, self.inner.model_path

    def generate(self, conversations, **kwargs):
        def text(content):
            return content if isinstance(content, str) else " ".join(
                p["text"] for p in content if p["type"] == "text"
            )

        convs = [[{"role": m["role"], "content": text(m["content"])} for m in c] for c in conversations]
        return self.inner.generate(convs, **kwargs)


class TextStandInAdapter:
    def load(self, model, **kwargs):
        return TextStandInPolicy(model, **kwargs)


ADAPTER = TextStandInAdapter()
BENCHMARKS = {
    "videoqa": "polyrlaif.domains.video_lmm.videoqa:VideoQAEvaluator",
    "videochatgpt": "polyrlaif.domains.video_lmm.videochatgpt:VideoChatGPTEvaluator",
}
DOMAIN = Domain(
    name="video_lmm",
    description="stand-in registering the video_lmm benchmarks for a CLI test",
    config="vlmm_stand_in:DOMAIN",
    adapter="vlmm_stand_in:ADAPTER",
    build="vlmm_stand_in:DOMAIN",
    benchmarks=BENCHMARKS,
)
TEXT_DOMAIN = Domain(
    name="video_lmm_text",
    description="the video_lmm benchmarks with a text stand-in policy",
    config="vlmm_stand_in:DOMAIN",
    adapter="vlmm_stand_in:ADAPTER",
    build="vlmm_stand_in:DOMAIN",
    benchmarks=BENCHMARKS,
)
"""

QUESTIONS = [  # ActivityNet-QA's layout
    {"question_id": "v_a_0", "question": "what is the man doing", "answer": "juggling", "video_name": "a"},
    {"question_id": "v_a_1", "question": "what color is his hat", "answer": "red", "video_name": "a"},
    {"question_id": "v_b_0", "question": "how many kids are there", "answer": "two", "video_name": "b"},
    {"question_id": "v_b_1", "question": "is it daytime", "answer": "yes", "video_name": "b"},
]
PREDICTIONS = [
    {"id": "v_a_0", "prediction": "Juggling"},
    {"id": "v_a_1", "prediction": "blue"},
    {"question_id": "v_b_0", "pred": "two"},
    {"id": "v_b_1", "prediction": "MALFORMED"},
]


def video_rule(body: dict) -> dict:
    """The judge's reply to a Video-ChatGPT prompt (see the module docstring)."""
    text = body["messages"][-1]["content"]
    gold = re.search(r"Correct Answer: (.*)\n", text).group(1).strip().lower()
    preds = re.findall(r"Predicted Answer(?: to Question \d)?: (.*)\n", text)
    right = all(p.strip().lower() == gold for p in preds)
    if any("MALFORMED" in p for p in preds):
        content = "I cannot judge this one."
    elif "'pred'" in text:
        content = "{'pred': 'yes', 'score': 5}" if right else "{'pred': 'no', 'score': 1}"
    else:
        content = "{'score': 4}" if right else "{'score': 2}"
    return {"choices": [{"message": {"content": content}}]}


def structured_video_rule(body: dict) -> dict:
    """:func:`video_rule` for a server with guided decoding: a request with a ``response_format`` gets an
    object of its schema, always well formed (a MALFORMED prediction is judged wrong)."""
    fmt = body.get("response_format")
    if fmt is None:
        return video_rule(body)
    text = body["messages"][-1]["content"]
    gold = re.search(r"Correct Answer: (.*)\n", text).group(1).strip().lower()
    preds = re.findall(r"Predicted Answer(?: to Question \d)?: (.*)\n", text)
    right = all(p.strip().lower() == gold for p in preds)
    props = fmt["json_schema"]["schema"]["properties"]
    reply = {"pred": "yes" if right else "no", "score": 5 if right else 1} if "pred" in props else {}
    reply = reply or {"score": 4 if right else 2}
    return {"choices": [{"message": {"content": json.dumps(reply)}}]}


def _install_stand_in(site: Path) -> Path:
    site.mkdir()
    (site / "vlmm_stand_in.py").write_text(STAND_IN)
    info = site / "vlmm_stand_in-0.0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: vlmm-stand-in\nVersion: 0.0.0\n")
    (info / "entry_points.txt").write_text(
        "[polyrlaif.domains]\nvideo_lmm = vlmm_stand_in:DOMAIN\nvideo_lmm_text = vlmm_stand_in:TEXT_DOMAIN\n"
    )
    return site


def _polyrlaif(site: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "polyrlaif.core.cli", *args],
        capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(site)},
    )  # fmt: skip


def _json(path: Path, data: object) -> str:
    path.write_text(json.dumps(data))
    return str(path)


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_eval_videoqa_with_predictions_and_a_judge_endpoint(tmp_path: Path, rule_judge) -> None:
    from polyrlaif.domains.video_lmm.videoqa import VideoQAEvaluator

    url, state = rule_judge
    state.reply = video_rule
    q = _json(tmp_path / "Q.json", QUESTIONS)
    p = tmp_path / "P.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in PREDICTIONS))
    out = tmp_path / "O.json"
    args = [
        "eval", "--domain", "video_lmm", "--benchmark", "videoqa", "--predictions", str(p),
        "--annotations", q, "--output", str(out), "--opt", "judge_backend=openai",
        "--opt", "judge_model=rule", "--opt", f"judge_base_url={url}",
    ]  # fmt: skip
    site = _install_stand_in(tmp_path / "site")
    res = _polyrlaif(site, *args)
    assert res.returncode == 0, res.stderr[-3000:]

    metrics = json.loads(out.read_text())
    # judged: juggling (yes, 5), blue (no, 1), two (yes, 5); the malformed reply fails and is left out
    assert metrics["accuracy"] == pytest.approx(2 / 3) and metrics["score"] == pytest.approx(11 / 3)
    assert metrics["judge_failures"] == 1 == metrics["judge_failures/unparseable"]
    assert metrics["n_scored"] == 3 and metrics["n_questions"] == 4 and metrics["skipped"] == 0
    assert metrics["judged_by"].startswith("video_chatgpt[qa]:openai:rule@")
    items = _rows(tmp_path / "O" / "items.jsonl")
    assert [(r["id"], r["correct"], r["score"]) for r in items] == [
        ("v_a_0", True, 5), ("v_a_1", False, 1), ("v_b_0", True, 5), ("v_b_1", None, None),
    ]  # fmt: skip
    again = VideoQAEvaluator.aggregate(items)
    assert {m: again[m] for m in VideoQAEvaluator.metrics} == {
        m: metrics[m] for m in VideoQAEvaluator.metrics
    }
    assert json.loads((tmp_path / "O" / "benchmark.json").read_text())["benchmark"] == "videoqa"
    assert "95% interval" in res.stdout and "judge failed on 1 question(s)" in res.stderr

    served = state.requests  # a rerun replays the judge's answers from O/judge_cache.sqlite
    assert _polyrlaif(site, *args).returncode == 0 and state.requests == served


def test_the_videoqa_judge_is_sent_its_reply_schema_and_a_refusal_falls_back(
    tmp_path: Path, rule_judge, monkeypatch, caplog
) -> None:
    from polyrlaif.domains.video_lmm.prompts import QA_PROMPT

    url, state = rule_judge
    state.reply = structured_video_rule
    monkeypatch.syspath_prepend(str(_install_stand_in(tmp_path / "site")))
    q = _json(tmp_path / "Q.json", QUESTIONS)
    p = tmp_path / "P.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in PREDICTIONS))

    def run(out: Path, *opts: str) -> dict:
        argv = [
            "eval", "--domain", "video_lmm", "--benchmark", "videoqa", "--predictions", str(p),
            "--annotations", q, "--output", str(out), "--opt", "judge_backend=openai",
            "--opt", "judge_model=rule", "--opt", f"judge_base_url={url}", *opts,
        ]  # fmt: skip
        assert main(argv) == 0
        return json.loads(out.read_text())

    # a server that honours response_format answers the schema's object: nothing is unparseable
    metrics = run(tmp_path / "honoured.json")
    fmt = state.payloads[0]["response_format"]
    assert (
        fmt["json_schema"]["name"] == "video_chatgpt_qa"
        and fmt["json_schema"]["schema"]
        == {
            "type": "object",
            "properties": {
                "pred": {"type": "string", "enum": ["yes", "no"]},
                "score": {"type": "integer", "minimum": 0, "maximum": 5},
            },
            "required": ["pred", "score"],
            "additionalProperties": False,
        }
        == QA_PROMPT.json_schema()
    )
    assert state.payloads[0]["messages"][0] == {"role": "system", "content": QA_PROMPT.system}
    assert state.requests == 4 and metrics["judge_failures"] == 0
    assert (metrics["judge_answers"], metrics["judge_unparseable"], metrics["judge_unparseable_rate"]) == (
        4,
        0,
        0,
    )
    assert metrics["accuracy"] == 0.5 and metrics["score"] == 3.0  # MALFORMED: judged wrong (no, 1)

    # one that refuses it: asked again plainly (logged once), the free text parsed, the junk counted
    state.refuse_response_format, state.payloads[:] = True, []
    with caplog.at_level("WARNING", logger="polyrlaif"):
        metrics = run(tmp_path / "refused.json")
    plain = [b for b in state.payloads if "response_format" not in b]
    assert len(plain) == 4 and len(state.payloads) - len(plain) >= 1
    assert caplog.text.count("refused response_format") == 1
    assert (
        metrics["judge_failures"]
        == 1
        == metrics["judge_failures/unparseable"]
        == metrics["judge_unparseable"]
    )
    assert metrics["judge_answers"] == 4 and metrics["judge_unparseable_rate"] == 0.25
    assert metrics["accuracy"] == pytest.approx(2 / 3)

    # structured output on: a refusal is each question's failure, not a parse of anything
    metrics = run(tmp_path / "strict.json", "--opt", "judge_structured_output=on")
    assert metrics["judge_failures/structured_output_rejected"] == 4 and metrics["judge_answers"] == 0


def test_eval_videochatgpt_from_its_own_files(tmp_path: Path, rule_judge) -> None:
    url, state = rule_judge
    state.reply = video_rule
    gt, preds = tmp_path / "gt", tmp_path / "preds"
    gt.mkdir(), preds.mkdir()
    generic = [
        {"video_name": "v_a", "Q": "What happens?", "A": "A man juggles."},
        {"video_name": "v_b", "Q": "Who is there?", "A": "Two kids."},
    ]
    temporal = [{"video_name": "v_b", "Q": "What happens after the jump?", "A": "They fall."}]
    consistency = [{"video_name": "v_a", "Q1": "What is he doing?", "Q2": "What is shown?", "A": "Juggling."}]
    _json(gt / "generic_qa.json", generic)
    _json(gt / "temporal_qa.json", temporal)
    _json(gt / "consistency_qa.json", consistency)
    _json(
        preds / "generic_pred.json",
        [{**generic[0], "pred": "a man juggles."}, {**generic[1], "pred": "One."}],
    )
    _json(preds / "temporal_pred.json", [{**temporal[0], "pred": "They fall."}])
    _json(preds / "consistency_pred.json", [{**consistency[0], "pred1": "Juggling.", "pred2": "Dancing."}])
    out = tmp_path / "O.json"
    res = _polyrlaif(
        _install_stand_in(tmp_path / "site"), "eval", "--domain", "video_lmm", "--benchmark", "videochatgpt",
        "--predictions", str(preds), "--annotations", str(gt), "--output", str(out),
        "--opt", "judge_backend=openai", "--opt", "judge_model=rule", "--opt", f"judge_base_url={url}",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]

    metrics = json.loads(out.read_text())
    for generic_aspect in ("correctness", "detail_orientation", "contextual_understanding"):
        assert metrics[generic_aspect] == 3.0  # one right (4), one wrong (2)
    assert metrics["temporal_understanding"] == 4.0 and metrics["consistency"] == 2.0
    assert metrics["average"] == pytest.approx((3 + 3 + 3 + 4 + 2) / 5) and metrics["judge_failures"] == 0
    assert state.requests == 3 * 2 + 1 + 1
    items = _rows(tmp_path / "O" / "items.jsonl")
    assert [r["id"] for r in items] == [
        "generic/v_a_0",
        "generic/v_b_0",
        "temporal/v_b_0",
        "consistency/v_a_0",
    ]
    assert items[0]["correctness"] == 4 and items[1]["correctness"] == 2


def test_eval_generates_with_a_model_and_videos(tmp_path: Path, tiny_lm_path: str, monkeypatch) -> None:
    av = pytest.importorskip("av")
    videos = tmp_path / "videos"
    videos.mkdir()
    with av.open(str(videos / "v_a.mp4"), "w") as container:
        stream = container.add_stream("mpeg4", rate=4)
        stream.width = stream.height = 32
        stream.pix_fmt = "yuv420p"
        for i in range(3):
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), 50 * i, np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    monkeypatch.syspath_prepend(str(_install_stand_in(tmp_path / "site")))
    out = tmp_path / "O.json"
    argv = [
        "eval", "--domain", "video_lmm_text", "--benchmark", "videoqa", "--model", tiny_lm_path,
        "--videos", str(videos), "--annotations", _json(tmp_path / "Q.json", QUESTIONS), "--device", "cpu",
        "--max-new-tokens", "6", "--output", str(out),
    ]  # fmt: skip
    assert main(argv) == 0

    metrics = json.loads(out.read_text())
    assert metrics["judged_by"] == "exact_match" and metrics["n_questions"] == 2 and metrics["skipped"] == 2
    assert [r["id"] for r in _rows(tmp_path / "O" / "skipped.jsonl")] == ["v_b_0", "v_b_1"]
    assert [r["key"] for r in _rows(tmp_path / "O" / "generations.jsonl")] == ["v_a_0", "v_a_1"]


def test_videos_fills_the_videos_option_and_is_refused_where_there_is_none(tmp_path: Path, capsys) -> None:
    from polyrlaif.core.cli import build_parser
    from polyrlaif.core.eval_command import eval_options as _eval_options
    from polyrlaif.domains.video_lmm.videoqa import VideoQAEvaluator

    base = ["eval", "--domain", "video_lmm", "--benchmark", "videoqa", "--videos", "clips"]
    opts = _eval_options(
        build_parser().parse_args([*base, "--opt", "judge_backend=openai"]), VideoQAEvaluator
    )
    assert (opts.videos, opts.judge_backend) == ("clips", "openai")
    with pytest.raises(ValueError, match="--videos and --opt videos=... name the same option"):
        _eval_options(build_parser().parse_args([*base, "--opt", "videos=x"]), VideoQAEvaluator)
    with pytest.raises(
        ValueError, match="judge_backend must be one of none, openai, transformers, got 'gpt'"
    ):
        _eval_options(build_parser().parse_args([*base, "--opt", "judge_backend=gpt"]), VideoQAEvaluator)

    args = ["eval", "--domain", "code", "--benchmark", "humaneval", "--output", str(tmp_path / "o")]
    assert main([*args, "--videos", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "benchmark 'humaneval' of domain 'code' does not take --videos" in err and "Traceback" not in err


def test_a_bad_annotation_file_is_named_without_a_traceback(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(_install_stand_in(tmp_path / "site")))
    q = _json(tmp_path / "Q.json", [QUESTIONS[0], {"question_id": "x", "answer": "y", "video_name": "z"}])
    p = tmp_path / "P.jsonl"
    p.write_text(json.dumps({"id": "v_a_0", "prediction": "x"}) + "\n")
    argv = ["eval", "--domain", "video_lmm", "--benchmark", "videoqa", "--annotations", q]
    assert main([*argv, "--predictions", str(p), "--output", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert f"{q}: index 1: missing field 'question' (or 'Q')" in err and "Traceback" not in err
