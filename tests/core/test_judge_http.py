"""Judge modes over a real OpenAI-compatible HTTP server on 127.0.0.1 (the ``server`` fixture of
tests/core/conftest.py: rubric scores from the response length, a preference for the longer response
with a configurable position bias, yes/no top-logprobs with a known P(yes), failures and delays on
request)."""

from __future__ import annotations

import socket
import time

import pytest

from polyrlaif.core.io import sha256_text
from polyrlaif.core.judges import (
    JudgeCache,
    OpenAIBackend,
    PairwiseJudge,
    PointwiseJudge,
    Rubric,
    YesNoJudge,
    judge_as_reward_fn,
)
from polyrlaif.core.records import Candidate, PromptRecord

RUBRIC = Rubric("quality", (("correctness", "is it right"), ("clarity", "is it clear")), 1, 10)


def _backend(url: str, **kw) -> OpenAIBackend:
    kw = {"timeout_s": 5, "retries": 2, "concurrency": 4, "backoff_s": 0.01, **kw}
    return OpenAIBackend(url, "fake-judge", **kw)


def _data(texts: dict[str, list[str]]) -> tuple[dict[str, PromptRecord], list[Candidate]]:
    prompts = {pid: PromptRecord(prompt_id=pid, text=f"Task {pid}: explain.") for pid in texts}
    cands = [
        Candidate(candidate_id=f"{pid}/{i}", prompt_id=pid, text=t)
        for pid, ts in texts.items()
        for i, t in enumerate(ts)
    ]
    return prompts, cands


def test_pointwise_parses_normalises_and_records_failures(server):
    texts = ["short", "a" * 35, "b" * 95, "GARBLE here", "OFFSCALE x"]
    prompts, cands = _data({"p": texts})
    ctxs = [{"test_results": "3/5 passed", "notes": "line one\nline two"}] + [{}] * 4
    judge = PointwiseJudge(_backend(server.url), RUBRIC, progress=False)
    out = judge.judge(prompts, cands, ctxs)

    assert [j.candidate_id for j in out] == [c.candidate_id for c in cands]
    for j, t in zip(out[:3], texts[:3], strict=True):
        c = max(1, min(10, 1 + len(t) // 10))
        assert j.ok and j.kind == "pointwise"
        assert j.scores == {"correctness": c, "clarity": 11 - c}
        assert j.score == pytest.approx(((c - 1) / 9 + (10 - c) / 9) / 2)
        assert j.rationale == "judged by length."
    assert out[3].score is None and out[3].failure.startswith("unparseable: ")
    assert "rather not grade" in out[3].failure
    assert out[4].score is None and out[4].failure.startswith("out_of_range: correctness=42")
    assert judge.stats.failures == {"unparseable": 1, "out_of_range": 1}
    assert judge.stats.calls == 5 and judge.stats.judgments == 5

    # the context reached the judge rendered readably, and the hash is that of the exact text sent
    sent = {sha256_text(p["messages"][0]["content"]): p["messages"][0]["content"] for p in server.payloads}
    first = sent[out[0].judge_prompt_hash]
    assert "test results: 3/5 passed" in first and "notes:\n  line one\n  line two" in first
    assert out[0].context == ctxs[0]
    assert "<context>\n(none)\n</context>" in sent[out[1].judge_prompt_hash]
    assert first == judge.render(prompts["p"], cands[0], ctxs[0])


def test_pairwise_both_orders_measure_position_bias(server):
    server.bias_within = 5  # close lengths: the server always prefers whatever is shown first
    texts = ["x" * 10, "y" * 12, "z" * 30, "w" * 60]
    prompts, cands = _data({"p": texts, "alone": ["only one"]})
    judge = PairwiseJudge(_backend(server.url), progress=False)
    out = judge.judge(prompts, cands)

    assert server.requests == 12  # 6 pairs x 2 orders; the lone candidate costs nothing
    sent = [p["messages"][0]["content"] for p in server.payloads]
    shown = [(server.tag(t, "response_a"), server.tag(t, "response_b")) for t in sent]
    for a, b in [(texts[i], texts[k]) for i in range(4) for k in range(4) if i != k]:
        assert (a, b) in shown  # every pair in both orders
    # 10 vs 12 chars is within the bias window: each order picks its "A" -> inconsistent -> tie
    assert judge.stats.pairs == 6 and judge.stats.inconsistent == 1
    assert judge.stats.disagreement_rate == pytest.approx(1 / 6)
    assert judge.stats.as_dict()["disagreement_rate"] == pytest.approx(1 / 6)
    assert [j.score for j in out[:4]] == pytest.approx([0.5 / 3, 0.5 / 3, 2 / 3, 1.0])
    assert out[0].scores["vs"]["p/1"]["consistent"] is False and out[0].scores["ties"] == 1
    assert out[3].scores["wins"] == 3 and out[3].kind == "pairwise"
    assert out[4].score is None and out[4].failure.startswith("no_opponent")

    server.bias_within = -1  # no bias: both orders always agree
    judge2 = PairwiseJudge(_backend(server.url), progress=False)
    out2 = judge2.judge(prompts, cands[:4])
    assert judge2.stats.disagreement_rate == 0.0
    assert [j.score for j in out2] == pytest.approx([0.0, 1 / 3, 2 / 3, 1.0])


def test_pairwise_identical_texts_tie_without_a_call(server):
    server.bias_within = 100  # a fully position-biased judge
    prompts, cands = _data({"p": ["same", "same", "a longer one"]})
    judge = PairwiseJudge(_backend(server.url), progress=False)
    out = judge.judge(prompts, cands)
    # the identical pair is not asked, and the two "same" vs "a longer one" pairs render the very same
    # two prompts, which are asked once each
    assert server.requests == 2 and judge.stats.calls == 2
    assert out[0].scores["vs"]["p/1"] == {"verdicts": [], "hashes": [], "identical": True, "result": 0.5}
    assert judge.stats.pairs == 2 and judge.stats.disagreement_rate == 1.0
    assert [j.score for j in out] == pytest.approx([0.5, 0.5, 0.5])


def test_yes_no_reads_top_logprobs(server):
    texts = ["no", "a longer answer here", "NOLOGPROBS"]
    prompts, cands = _data({"p": texts})
    judge = YesNoJudge(_backend(server.url), progress=False)
    out = judge.judge(prompts, cands, [{"claim": "the sky is blue"}] * 3)
    for j, t in zip(out[:2], texts[:2], strict=True):
        assert j.score == pytest.approx(server.p_yes_rule(t)) and 0.0 <= j.score <= 1.0
        assert j.scores["mass"] == pytest.approx(0.9)
    assert out[2].score is None and out[2].failure.startswith("no_logprobs")
    assert judge.stats.failures == {"no_logprobs": 1}
    body = server.payloads[0]
    assert body["logprobs"] is True and body["top_logprobs"] == 20 and body["max_tokens"] == 1


def test_choices_read_every_word_from_one_request(server):
    """``choices``: one request per conversation, each word's variants summed (" yes" counts as yes) and
    normalised over the words; a word outside the top tokens gets 0; no logprobs is a counted reason."""
    backend = _backend(server.url)
    convs = [[{"role": "user", "content": f"<response>\n{r}\n</response>"}] for r in ("no", "a longer one")]
    convs.append([{"role": "user", "content": "<response>\nNOLOGPROBS\n</response>"}])
    out = backend.choices(convs, words=("yes", "no", "perhaps"))
    assert server.requests == 3
    for o, r in zip(out[:2], ("no", "a longer one"), strict=True):
        p = server.p_yes_rule(r)
        assert o.ok and o.probs == pytest.approx({"yes": p, "no": 1 - p, "perhaps": 0.0})
        assert o.mass == pytest.approx(0.3)  # only the lower-case variants are these words
    assert not out[2].ok and out[2].error.startswith("no_logprobs")


@pytest.mark.parametrize("status", [500, 429])
def test_retries_recover_from_transient_errors(server, status):
    server.fail_first, server.fail_status = 2, status
    backend = _backend(server.url, retries=3, concurrency=1)
    conv = [{"role": "user", "content": "<response>\nhello\n</response>"}]
    out = backend.complete([conv], max_new_tokens=8)
    assert out[0].ok and "Correctness" in out[0].text
    assert server.requests == 3 and backend.requests == 3


def test_retries_are_bounded_and_failures_are_values(server):
    server.fail_first = 10**6
    prompts, cands = _data({"p": ["one", "two"]})
    judge = PointwiseJudge(_backend(server.url, retries=2), RUBRIC, progress=False)
    out = judge.judge(prompts, cands)
    assert server.requests == 6  # (1 + 2 retries) x 2 candidates
    assert all(j.failure.startswith("http_500: ") and "after 3 attempt(s)" in j.failure for j in out)
    assert judge.stats.failures == {"http_500": 2}


def test_server_down_gives_connection_failures():
    with socket.socket() as s:  # a port that was free a moment ago and now has no listener
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    backend = _backend(f"http://127.0.0.1:{port}/v1", retries=2)
    prompts, cands = _data({"p": ["a", "b", "c"]})
    judge = YesNoJudge(backend, progress=False)
    t0 = time.monotonic()
    out = judge.judge(prompts, cands)
    assert time.monotonic() - t0 < 5
    assert backend.requests == 9
    assert all(j.score is None and j.failure.startswith("connection: ") for j in out)
    assert "after 3 attempt(s)" in out[0].failure
    assert judge.stats.failures == {"connection": 3}


def test_slow_server_times_out(server):
    server.delay_s = 1.5
    backend = _backend(server.url, timeout_s=0.2, retries=1)
    t0 = time.monotonic()
    out = backend.complete([[{"role": "user", "content": "hi"}]], max_new_tokens=4)
    elapsed = time.monotonic() - t0
    assert out[0].text is None and out[0].error.startswith("timeout: ")
    assert "after 2 attempt(s)" in out[0].error
    assert elapsed < 1.2  # two 0.2 s attempts, not the server's 1.5 s
    assert server.requests == 2


@pytest.mark.parametrize("concurrency", [1, 3])
def test_concurrency_is_bounded(server, concurrency):
    server.delay_s = 0.1
    backend = _backend(server.url, concurrency=concurrency)
    convs = [[{"role": "user", "content": f"<response>\n{i}\n</response>"}] for i in range(9)]
    out = backend.complete(convs, max_new_tokens=8)
    assert all(o.ok for o in out) and server.requests == 9
    assert server.max_in_flight <= concurrency
    assert server.max_in_flight >= min(concurrency, 2)  # and it does run requests side by side


def test_cache_replays_without_backend_calls(server, tmp_path):
    prompts, cands = _data({"p": ["short", "c" * 40, "GARBLE", "d" * 70]})
    path = tmp_path / "cache.sqlite"
    runs = []
    for _ in range(2):
        with JudgeCache(path) as cache:
            backend = _backend(server.url)
            judges = [
                PointwiseJudge(backend, RUBRIC, cache=cache, progress=False),
                PairwiseJudge(backend, cache=cache, progress=False),
                YesNoJudge(backend, cache=cache, progress=False),
            ]
            before = server.requests
            runs.append(([j.judge(prompts, cands) for j in judges], server.requests - before, judges))
    (first, calls1, judges1), (second, calls2, judges2) = runs
    assert calls1 == 4 + 12 + 4 and calls2 == 0
    for a_list, b_list in zip(first, second, strict=True):
        for a, b in zip(a_list, b_list, strict=True):
            assert not a.cached and b.cached
            assert {**a.to_dict(), "cached": True} == b.to_dict()
    assert [j.stats.cache_hits for j in judges2] == [4, 12, 4] and all(j.stats.calls == 0 for j in judges2)
    assert judges2[0].stats.failures == {"unparseable": 1}  # a stored unparseable answer fails the same way


def test_backend_errors_are_not_cached(server, tmp_path):
    prompts, cands = _data({"p": ["alpha", "beta"]})
    server.fail_first = 10**6
    cache = JudgeCache(tmp_path / "c.sqlite")
    judge = YesNoJudge(_backend(server.url, retries=0), cache=cache, progress=False)
    assert all(j.failure.startswith("http_500") for j in judge.judge(prompts, cands))
    assert len(cache) == 0
    server.fail_first = 0
    again = YesNoJudge(_backend(server.url, retries=0), cache=cache, progress=False).judge(prompts, cands)
    assert all(j.ok and not j.cached for j in again) and len(cache) == 2


def test_judge_id_is_stable_and_tracks_template_and_settings(server):
    b = _backend(server.url)
    ids = {PointwiseJudge(b, RUBRIC).judge_id for _ in range(2)}
    assert len(ids) == 1
    (jid,) = ids
    assert jid.startswith(f"pointwise[quality]:openai:fake-judge@{server.url}:")
    assert PointwiseJudge(b, RUBRIC, max_new_tokens=7).judge_id != jid
    assert PointwiseJudge(b, RUBRIC, template="{response} {context}").judge_id != jid
    with pytest.raises(ValueError, match="missing slot"):
        PairwiseJudge(b, template="{prompt} {response_a}")


def test_build_backend_from_config(server, monkeypatch):
    from polyrlaif.core.config import JudgeConfig
    from polyrlaif.core.judges import TransformersBackend, build_backend

    monkeypatch.setenv("POLYRLAIF_TEST_KEY", "sk-test")
    cfg = JudgeConfig(
        backend="openai",
        model="m",
        base_url=server.url,
        api_key_env="POLYRLAIF_TEST_KEY",
        timeout_s=3.0,
        retries=1,
        concurrency=2,
    )
    b = build_backend(cfg)
    assert isinstance(b, OpenAIBackend) and (b.timeout_s, b.retries, b.concurrency) == (3.0, 1, 2)
    assert b.complete([[{"role": "user", "content": "hi"}]], max_new_tokens=4)[0].ok
    assert server.auth == ["Bearer sk-test"] and server.payloads[0]["model"] == "m"
    local = build_backend(JudgeConfig(backend="transformers", model="some/model", batch_size=3))
    assert isinstance(local, TransformersBackend) and local.batch_size == 3 and local._model is None
    with pytest.raises(KeyError, match="valid: openai, sentence_transformers, transformers"):
        build_backend(JudgeConfig(backend="nope"))


def test_pairwise_judge_as_grpo_reward_function(server):
    reward = judge_as_reward_fn(PairwiseJudge(_backend(server.url), progress=False))
    prompts = ["Explain gravity."] * 3 + ["Explain light."] * 2
    completions = ["short", "a bit longer", "the longest answer of them all", "tiny", "somewhat longer"]
    rewards = reward(prompts, completions, trainer_state=object())
    # each prompt is its own group: win rates within the group only
    assert rewards == pytest.approx([0.0, 0.5, 1.0, 0.0, 1.0])
    assert server.requests == 2 * 3 + 2 * 1
    assert reward.__name__.startswith("pairwise_openai_fake_judge")


def test_a_video_reaches_the_endpoint_as_its_sampled_frames(server, tmp_path):
    """A conversation's video part goes out as ``num_frames`` PNG images, the middle frame of each equal
    segment, in order; without ``num_frames``, or with an unreadable video, that conversation fails with
    a reason naming the file and nothing is sent."""
    import base64
    import io

    import av
    import numpy as np
    from PIL import Image

    video = tmp_path / "clip.mp4"
    QUESTION = "Does it get brighter?\n<response>\nit gets brighter\n</response>"  # noqa: N806
    with av.open(str(video), "w") as container:  # 8 flat frames, each brighter than the last
        stream = container.add_stream("mpeg4", rate=8)
        stream.width = stream.height = 32
        stream.pix_fmt = "yuv420p"
        for i in range(8):
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), 20 + 25 * i, np.uint8), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    conv = [{"role": "user", "content": [{"type": "video", "path": str(video)},
                                         {"type": "text", "text": QUESTION}]}]  # fmt: skip
    backend = _backend(server.url, num_frames=4)
    assert backend.name.endswith(":4_frames")  # the frames shown are part of the judge's identity
    (got,) = backend.yes_no([conv])
    assert got.ok
    parts = server.payloads[-1]["messages"][0]["content"]
    images = [p["image_url"]["url"] for p in parts if p["type"] == "image_url"]
    assert len(images) == 4 and parts[-1] == {"type": "text", "text": QUESTION}
    means = []
    for url in images:
        assert url.startswith("data:image/png;base64,")
        img = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
        assert img.size == (32, 32)
        means.append(float(np.asarray(img).mean()))
    # frames 1, 3, 5, 7 of 8 (int((i + 0.5) * 8 / 4)): brightness 45, 95, 145, 195, give or take the codec
    assert (
        means == sorted(means)
        and means[0] == pytest.approx(45, abs=8)
        and means[-1] == pytest.approx(195, abs=8)
    )
    sent = len(server.payloads)
    (no_frames,) = _backend(server.url).yes_no([conv])
    (missing,) = backend.yes_no(
        [[{"role": "user", "content": [{"type": "video", "path": str(tmp_path / "gone.mp4")}]}]]
    )
    assert not no_frames.ok and no_frames.error.startswith("input_error") and "num_frames" in no_frames.error
    assert not missing.ok and "gone.mp4" in missing.error
    assert len(server.payloads) == sent  # neither was sent
