"""Judges on a tiny local causal LM, answer parsing, the sqlite cache, and reward callables.

The tiny model (``tiny_lm_path`` in conftest) has random weights: its text is garbage, so rubric and
pairwise answers must come back as counted failures with reasons; its yes/no probabilities must
equal a softmax computed here, one unpadded prompt at a time, from the model's own logits.
"""

from __future__ import annotations

import math
import subprocess
import sys
import threading

import pytest

from polyrlaif.core.io import sha256_text
from polyrlaif.core.judges import (
    JudgeCache,
    PairwiseJudge,
    PointwiseJudge,
    RewardFnJudge,
    Rubric,
    TransformersBackend,
    YesNoJudge,
    as_judge,
    judge_as_reward_fn,
    parse_preference,
    parse_rubric_answer,
    render_context,
)
from polyrlaif.core.records import Candidate, PromptRecord

RUBRIC = Rubric("quality", (("correctness", "is it right"), ("code_quality", "is it clean")), 1, 5)


def _data(texts: dict[str, list[str]], meta: dict[str, dict] | None = None):
    prompts = {
        pid: PromptRecord(prompt_id=pid, text=f"Task {pid}", meta=(meta or {}).get(pid, {})) for pid in texts
    }
    cands = [
        Candidate(candidate_id=f"{pid}/{i}", prompt_id=pid, text=t)
        for pid, ts in texts.items()
        for i, t in enumerate(ts)
    ]
    return prompts, cands


@pytest.fixture(scope="module")
def backend(tiny_lm_path):
    return TransformersBackend(tiny_lm_path, device="cpu", dtype="float32", batch_size=4)


def _manual_p_yes(path: str, conv: list[dict], yes_ids: list[int], no_ids: list[int]) -> float:
    """Independent reference: one prompt, no padding, plain softmax over the last logits."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    text = tok.apply_chat_template(conv, add_generation_prompt=True, tokenize=False)
    ids = tok(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logits = model(ids).logits[0, -1].double()
    probs = torch.softmax(logits, -1)
    p_yes, p_no = probs[yes_ids].sum().item(), probs[no_ids].sum().item()
    return p_yes / (p_yes + p_no)


def test_transformers_yes_no_matches_manual_softmax(tiny_lm_path, backend):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_lm_path)
    # prompts of different lengths, so the batch is left-padded
    convs = [
        [{"role": "user", "content": "Is 2 + 2 = 4?"}],
        [{"role": "user", "content": "Is the capital of France Paris? Answer briefly and correctly."}],
        [{"role": "user", "content": "def add(a, b):\n    return a + b\nIs this correct?"}],
    ]

    def singles(word: str) -> list[int]:
        enc = [tok.encode(v, add_special_tokens=False) for v in (word, " " + word)]
        return sorted({e[0] for e in enc if len(e) == 1})

    # "The" / "def" are whole tokens in the tiny vocabulary
    got = backend.yes_no(convs, yes=("The",), no=("def",))
    for conv, y in zip(convs, got, strict=True):
        assert y.ok and 0.0 <= y.p_yes <= 1.0 and 0.0 < y.mass <= 1.0
        want = _manual_p_yes(tiny_lm_path, conv, singles("The"), singles("def"))
        assert y.p_yes == pytest.approx(want, abs=1e-5)

    # "Yes" / "No" are several byte-level pieces here: the first pieces are used, the shared "Ġ" dropped
    firsts = {w: tok.encode(w, add_special_tokens=False)[0] for w in ("Yes", " Yes", "yes", " yes")}
    nfirsts = {w: tok.encode(w, add_special_tokens=False)[0] for w in ("No", " No", "no", " no")}
    shared = set(firsts.values()) & set(nfirsts.values())
    yes_ids = sorted(set(firsts.values()) - shared)
    no_ids = sorted(set(nfirsts.values()) - shared)
    got = backend.yes_no(convs)
    for conv, y in zip(convs, got, strict=True):
        assert y.p_yes == pytest.approx(_manual_p_yes(tiny_lm_path, conv, yes_ids, no_ids), abs=1e-5)


def test_transformers_backend_loads_lazily_and_generates(tiny_lm_path):
    b = TransformersBackend(tiny_lm_path, device="cpu", batch_size=2)
    assert b._model is None and b.name == f"transformers:{tiny_lm_path}"
    convs = [[{"role": "user", "content": t}] for t in ("Hello", "Write a Python function.", "Why?")]
    out = b.complete(convs, max_new_tokens=6)
    assert b._model is not None
    assert len(out) == 3 and all(o.ok and isinstance(o.text, str) for o in out)
    # greedy decoding is deterministic, and batching (with padding) does not change the answer
    alone = b.complete(convs[1:2], max_new_tokens=6)
    assert alone[0].text == out[1].text


def test_pointwise_on_random_model_records_unparseable_failures(backend):
    prompts, cands = _data({"p": ["def f(): pass", "print(1)"], "q": ["The answer is 4."]})
    judge = PointwiseJudge(backend, RUBRIC, max_new_tokens=12, progress=False)
    out = judge.judge(prompts, cands, [{"tests": "1/2 passed"}, {}, {"reference": "4"}])
    assert [j.candidate_id for j in out] == ["p/0", "p/1", "q/0"]
    for j, c, ctx in zip(out, cands, [{"tests": "1/2 passed"}, {}, {"reference": "4"}], strict=True):
        assert j.score is None and j.failure.startswith("unparseable: no score for correctness")
        assert j.judge_prompt_hash == sha256_text(judge.render(prompts[c.prompt_id], c, ctx))
        assert j.context == ctx and j.judge_id.startswith("pointwise[quality]:transformers:")
    assert judge.stats.failures == {"unparseable": 3} and judge.stats.calls == 3


def test_pairwise_and_yesno_judges_on_tiny_model(backend):
    prompts, cands = _data({"p": ["one", "two", "three"]})
    pw = PairwiseJudge(backend, max_new_tokens=4, progress=False)
    out = pw.judge(prompts, cands)
    # garbage verdicts: every order that does not parse is a counted failure, never a silent tie
    assert pw.stats.calls == 6 and pw.stats.failed_pairs == 3 and pw.stats.pairs == 0
    assert pw.stats.failures == {"unparseable": 6, "all_comparisons_failed": 3}
    want = "all_comparisons_failed: unparseable (2 comparisons)"
    assert all(j.score is None and j.failure == want for j in out)
    assert all(v["failure"].startswith("unparseable: ") for v in out[0].scores["vs"].values())

    yn = YesNoJudge(backend, yes=("The",), no=("def",), progress=False)
    js = yn.judge(prompts, cands)
    direct = backend.yes_no([[{"role": "user", "content": yn.render(prompts["p"], c, {})}] for c in cands],
                            yes=("The",), no=("def",))
    assert [j.score for j in js] == pytest.approx([d.p_yes for d in direct])
    assert all(0.0 <= j.score <= 1.0 and j.kind == "yesno" for j in js)


def test_parse_rubric_answer_variants():
    r = RUBRIC
    for text in [
        "correctness: 4\ncode_quality: 2\nrationale: fine",
        "**Correctness**: 4/5\n- **Code Quality** = 2\nRationale: fine",
        "1. CORRECTNESS - 4\n2. code quality score: 2.0\nrationale: fine",
    ]:
        p = parse_rubric_answer(text, r)
        assert p.scores == {"correctness": 4.0, "code_quality": 2.0} and not p.missing
        assert p.rationale == "fine"
    p = parse_rubric_answer("correctness of this code is high: 3 / 5 overall", r)
    assert p.missing == ["correctness", "code_quality"]
    bad = parse_rubric_answer("correctness: 9\ncode quality: 0", r)
    assert bad.out_of_range == ["correctness=9", "code_quality=0"]
    one = Rubric("single", (("helpfulness", "helps"),), 1, 10)
    assert parse_rubric_answer("Score: 7", one).scores == {"helpfulness": 7.0}
    with pytest.raises(ValueError, match="unique"):
        Rubric("dup", (("a", "x"), ("A", "y")))
    assert Rubric.from_dict({"name": "r", "criteria": {"a": "x"}, "scale_max": 3}).criteria == (("a", "x"),)


def test_parse_preference_variants():
    cases = {
        "A": "A", "B.\nbecause": "B", "B\nIt is longer.": "B", "[[A]]": "A", "[[C]]": "tie",
        "Response B is better.": "B", "The better response is A.": "A", "I think B is better": "B",
        "Winner: **B**": "B", "A lot of words": None, "a": None, "": None, "tie": "tie",
    }
    assert {t: parse_preference(t) for t in cases} == cases


def test_render_context_is_readable():
    text = render_context({"test_results": "2/3 passed", "log": "line1\nline2", "cases": [1, 2], "n": 3})
    assert text.splitlines() == [
        "test results: 2/3 passed", "log:", "  line1", "  line2",
        "cases:", "  [", "    1,", "    2", "  ]", "n: 3",
    ]
    assert render_context({}) == render_context(None) == "(none)"


def test_cache_is_thread_safe_and_persistent(tmp_path):
    path = tmp_path / "sub" / "cache.sqlite"
    cache = JudgeCache(path)

    def work(t: int) -> None:
        for i in range(25):
            cache.put("judge", f"{t}-{i}", {"text": f"answer {t} {i}"})

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    cache.close()
    again = JudgeCache(path)
    assert len(again) == 100
    assert again.get("judge", "3-24") == {"text": "answer 3 24"}
    assert again.get("other-judge", "3-24") is None  # keyed by judge id too
    assert len(again.get_many("judge", [f"1-{i}" for i in range(30)])) == 25


def test_reward_callable_works_as_judge():
    prompts, cands = _data({"p": ["abc", "abcdef"], "q": ["xy"]}, meta={"p": {"answer": "abc"}, "q": {}})
    seen = {}

    def exact_match(prompts, completions, answer, **kwargs):
        seen.update(prompts=prompts, answer=answer, kwargs=sorted(kwargs))
        return [1.0 if a is not None and c == a else (None if a is None else 0.0)
                for c, a in zip(completions, answer, strict=True)]

    judge = as_judge(exact_match)
    assert isinstance(judge, RewardFnJudge) and judge.judge_id == "reward:exact_match"
    out = judge.judge(prompts, cands, [{"k": 1}, {"k": 2}, {"k": 3}])
    assert [j.score for j in out] == [1.0, 0.0, None]
    assert out[2].failure.startswith("reward_none") and judge.stats.failures == {"reward_none": 1}
    assert seen["prompts"] == ["Task p", "Task p", "Task q"] and seen["answer"] == ["abc", "abc", None]
    assert seen["kwargs"] == ["context"]
    assert all(j.kind == "reward" and j.judge_prompt_hash for j in out)

    def no_kwargs(prompts, completions):  # columns it does not accept are not passed
        return [len(c) for c in completions]

    assert [j.score for j in RewardFnJudge(no_kwargs).judge(prompts, cands)] == [3.0, 6.0, 2.0]
    broken = RewardFnJudge(lambda p, c, **k: [1.0], name="short")
    assert all(j.failure.startswith("reward_error: returned 1 values") for j in broken.judge(prompts, cands))
    boom = RewardFnJudge(lambda p, c, **k: 1 / 0, name="boom")
    assert all("ZeroDivisionError" in j.failure for j in boom.judge(prompts, cands))
    assert as_judge(judge) is judge
    with pytest.raises(TypeError):
        as_judge(42)


def test_judge_as_reward_fn_round_trip():
    calls = []

    def length(prompts, completions, **kw):
        calls.append((prompts, completions, kw))
        return [float(len(c)) if c != "fail" else None for c in completions]

    reward = judge_as_reward_fn(RewardFnJudge(length, name="len"), context_keys=("ref",))
    assert reward.__name__ == "len"
    out = reward(["p1", "p1", "p2"], ["ab", "fail", "abcd"], ref=["x", "x", "y"], trainer_state=object())
    assert out == [2.0, None, 4.0]
    prompts, completions, kw = calls[0]
    assert prompts == ["p1", "p1", "p2"] and kw["ref"] == ["x", "x", "y"] and "trainer_state" not in kw
    assert kw["context"] == [{"ref": "x"}, {"ref": "x"}, {"ref": "y"}]

    # conversational TRL format: chat prompts, completions as assistant turns
    conv = [[{"role": "user", "content": "hi"}]] * 2
    turns = [[{"role": "assistant", "content": "hello"}], [{"role": "assistant", "content": "yo"}]]
    out = reward(conv, turns)
    assert out == [5.0, 2.0] and calls[-1][0] == ["hi", "hi"]


def test_import_loads_no_heavy_modules():
    code = (
        "import sys, polyrlaif.core.judges\n"
        "print(sorted(m for m in ('torch', 'transformers', 'httpx') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_yes_no_probability_is_a_ratio_of_masses():
    from polyrlaif.core.judges.backends import yes_no_from_top_logprobs

    top = [{"token": " Yes", "logprob": math.log(0.3)}, {"token": "no", "logprob": math.log(0.1)},
           {"token": "Maybe", "logprob": math.log(0.5)}]
    y = yes_no_from_top_logprobs(top, ("Yes", "yes"), ("No", "no"))
    assert y.p_yes == pytest.approx(0.75) and y.mass == pytest.approx(0.4)
    assert yes_no_from_top_logprobs(top[2:], ("Yes",), ("No",)).error.startswith("no_yes_no_tokens")


def test_choices_match_a_manual_softmax_and_yes_no(tiny_lm_path, backend):
    """One forward pass reads every word: each word's probability is its mass over the words' total,
    computed here alone and unpadded; for two words it is exactly the yes/no read."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from polyrlaif.core.judges.next_token import choice_token_ids

    words = ("The", "def", "return")
    convs = [[{"role": "user", "content": q}] for q in ("Write a function.", "Is 2 + 2 = 4?")]
    tok = AutoTokenizer.from_pretrained(tiny_lm_path)
    model = AutoModelForCausalLM.from_pretrained(tiny_lm_path, dtype=torch.float32).eval()
    ids = choice_token_ids(tok, [[w] for w in words])
    out = backend.choices(convs, words=words)
    for conv, o in zip(convs, out, strict=True):
        text = tok.apply_chat_template(conv, add_generation_prompt=True, tokenize=False)
        with torch.no_grad():
            logits = model(tok(text, return_tensors="pt", add_special_tokens=False)["input_ids"]).logits
        probs = torch.softmax(logits[0, -1].double(), -1)
        masses = [probs[i].sum().item() for i in ids]
        assert o.ok and sum(o.probs.values()) == pytest.approx(1.0)
        assert [o.probs[w] for w in words] == pytest.approx([m / sum(masses) for m in masses], abs=1e-5)
    two = backend.choices(convs, words=("The", "def"))
    yes_no = backend.yes_no(convs, yes=("The",), no=("def",))
    assert [c.probs["The"] for c in two] == pytest.approx([y.p_yes for y in yes_no], abs=1e-6)
    assert backend.choices(convs, words=("The", "The"))[0].error.startswith("bad_choice_tokens")


@pytest.mark.parametrize(
    ("attention", "row_tokens", "window"), [("sdpa", 1024, None), ("eager", 160, None), ("sdpa", 1024, 4)]
)
def test_yes_no_packs_shared_task_prompts(tiny_lm_path, attention, row_tokens, window):
    """Judge prompts for one task and several responses are packed with the task computed once (or,
    where a dense mask does not apply, padded): p(yes) is each prompt's own, run alone."""
    from transformers import AutoTokenizer

    from polyrlaif.core.judges.backends import yes_no_token_ids
    from polyrlaif.core.packed_lm import group_by_prefix

    task = "Write a function that returns the sum of two numbers and explain why it is correct. " * 2
    responses = ("def add(a, b): return a + b", "The answer is 4", "no", "def f(x):\n    pass")
    convs = [[{"role": "user", "content": f"{task}\nResponse: {r}\nIs it correct?"}] for r in responses]
    convs.append([{"role": "user", "content": "Is the capital of France Paris?"}])
    b = TransformersBackend(tiny_lm_path, device="cpu", dtype="float32", batch_size=8, row_tokens=row_tokens)
    b._ensure_loaded()
    b._model.set_attn_implementation(attention)
    b._model.config.sliding_window = window  # Llama has no window; a set one sends yes_no to padding
    tok = AutoTokenizer.from_pretrained(tiny_lm_path)
    ids = tok(b._texts(convs), add_special_tokens=False)["input_ids"]
    assert [len(m) for _, m in group_by_prefix(ids, max_tokens=row_tokens)][0] >= 2
    yes_ids, no_ids = yes_no_token_ids(tok, ("The",), ("def",))
    for conv, y in zip(convs, b.yes_no(convs, yes=("The",), no=("def",)), strict=True):
        assert y.p_yes == pytest.approx(_manual_p_yes(tiny_lm_path, conv, yes_ids, no_ids), abs=1e-5)
