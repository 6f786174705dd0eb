"""An empty answer is a failed answer: the judge gives it the lowest p(yes) without asking the model, and
the online reward ranks it below every other answer of its batch, so neither a pair nor a GRPO group can
prefer saying nothing (the synthetic run collapsed to empty answers when a learned reward could)."""

from __future__ import annotations

from polyrlaif.core.records import Candidate, PromptRecord


def _judge(monkeypatch, ask):
    """A ContextAwareJudge whose model call is ``ask``: what is under test is which answers reach the
    model and how an empty one is scored, not the model itself."""
    from polyrlaif.domains.video_lmm.judge import ContextAwareJudge

    monkeypatch.setattr(ContextAwareJudge, "_ask_yes_no", ask)
    monkeypatch.setattr(ContextAwareJudge, "__init__", lambda self, *a, **k: None)
    monkeypatch.setattr(ContextAwareJudge, "judge_id", "j")
    judge = ContextAwareJudge()
    judge.use_context, judge.template = True, "{description} {question} {answer}"
    judge.stats = judge._new_stats()
    return judge


def test_the_judge_scores_an_empty_answer_lowest_and_counts_it(monkeypatch) -> None:
    asked: list[str] = []

    class Answer:
        def __init__(self, text: str) -> None:
            self.raw, self.error, self.cached, self.prompt_hash = {"p_yes": 0.3}, None, False, text

    def ask(self, texts, **kwargs):
        asked.extend(texts)
        return [Answer(t) for t in texts]

    judge = _judge(monkeypatch, ask)
    prompts = {"p": PromptRecord("p", "which way did it move?", meta={"description": "it moved left"})}
    cands = [Candidate("p/0", "p", "left"), Candidate("p/1", "p", "  "), Candidate("p/2", "p", "")]
    out = judge.judge(prompts, cands)
    assert [j.score for j in out] == [0.3, 0.0, 0.0]
    assert all(j.ok for j in out)
    assert len(asked) == 2 and all("left" in t for t in asked)  # only the real answer, with and without
    assert judge.stats.as_dict()["empty_answers"] == 2
    assert judge.stats.as_dict()["context_comparisons"] == 0  # empties are not compared for flips


def test_only_empty_answers_are_not_sent_to_the_model(monkeypatch) -> None:
    def ask(self, texts, **kwargs):
        raise AssertionError("nothing to ask")

    judge = _judge(monkeypatch, ask)
    out = judge.judge({"p": PromptRecord("p", "q?")}, [Candidate("p/0", "p", "")])
    assert [j.score for j in out] == [0.0]


def test_the_online_reward_ranks_empty_answers_below_every_other() -> None:
    from polyrlaif.domains.video_lmm.online import empty_answers_last

    def said(c) -> str:
        if isinstance(c, str):
            return c
        content = c[0]["content"]
        return content if isinstance(content, str) else "".join(p["text"] for p in content)

    def reward(prompts, completions, **columns):  # a reward model that loves saying nothing
        return [9.0 if not said(c).strip() else float(i) for i, c in enumerate(completions)]

    reward.stats = "kept"
    fn = empty_answers_last(reward)
    conv = [[{"role": "assistant", "content": t}] for t in ["left", "", "right", " "]]
    assert fn(["q"] * 4, conv) == [0.0, -1.0, 2.0, -1.0]
    assert fn(["q"], ["up"]) == [0.0] and fn(["q"], [""]) == [None]
    parts = [[{"role": "assistant", "content": [{"type": "text", "text": "up"}]}], [{"content": []}]]
    assert fn(["q"] * 2, parts) == [0.0, -1.0]
    assert fn.empty_answers == 4 and fn.stats == "kept" and fn.__name__ == "reward"


def test_an_answer_outside_the_prompts_answer_words_fails_like_an_empty_one(monkeypatch) -> None:
    from polyrlaif.domains.video_lmm.judge import ContextAwareJudge, answer_failure
    from polyrlaif.domains.video_lmm.online import empty_answers_last

    assert answer_failure("  ") == "empty" and answer_failure("Yellow.", ["red", "yellow"]) is None
    assert answer_failure("circle", ["red", "yellow"]) == "off_vocabulary"
    assert answer_failure("circle") is None

    class Answer:
        raw, error, cached, prompt_hash = {"p_yes": 0.4}, None, False, "h"

    monkeypatch.setattr(ContextAwareJudge, "_ask_yes_no", lambda self, texts, **k: [Answer() for _ in texts])
    monkeypatch.setattr(ContextAwareJudge, "__init__", lambda self, *a, **k: None)
    monkeypatch.setattr(ContextAwareJudge, "judge_id", "j")
    judge = ContextAwareJudge()
    judge.use_context, judge.template = True, "{description} {question} {answer}"
    judge.stats = judge._new_stats()
    prompts = {"p": PromptRecord("p", "what colour?", meta={"description": "d", "answers": ["red", "blue"]})}
    out = judge.judge(prompts, [Candidate("p/0", "p", "Red"), Candidate("p/1", "p", "circle")])
    assert [j.score for j in out] == [0.4, 0.0]
    assert judge.stats.as_dict()["off_vocabulary_answers"] == 1

    fn = empty_answers_last(lambda prompts, completions, **c: [5.0, 1.0, 2.0])
    # the column from the rows: the second row has no answer words, so "circle" is an answer there
    assert fn(["q"] * 3, ["circle", "circle", "red"], answers=[["red"], [], ["red"]]) == [0.0, 1.0, 2.0]
