"""Transcribing a continuation after its prompt (``TranscriptVerifier(with_prompt=True)``): a real tiny
unit-to-text model, trained here on whole two-sentence "stories" only, reads a second sentence alone as
the start of a story, and in context gives its words."""

from __future__ import annotations

import pytest

from polyrlaif.core.records import Candidate, PromptRecord
from polyrlaif.domains.spoken_lm.judge import TranscriptVerifier, after_prompt, sentences

OPENINGS = {"<u1> <u2> <u3>": "Anna went to the park.", "<u4> <u5> <u6>": "Ben went to the lake."}
ENDINGS = {"<u7> <u8>": "She flew the kite.", "<u9> <u10>": "He caught the fish."}


@pytest.fixture(scope="module")
def transcriber(tmp_path_factory):
    from polyrlaif.core.trainers.trl_sft import SFTExample, SFTSettings, sft_train
    from polyrlaif.domains.spoken_lm.adapter import TRANSCRIBER_TEMPLATE, build_tiny_unit_lm

    stories = [(f"{a} {b}", f"{x} {y}") for a, x in OPENINGS.items() for b, y in ENDINGS.items()]
    pairs = stories + list(OPENINGS.items())  # whole stories and openings, as the world trains it
    words = sorted({w for _, text in pairs for w in text.split()})
    out = tmp_path_factory.mktemp("transcriber")
    tokens = [f"<u{i}>" for i in range(11)] + words
    init = build_tiny_unit_lm(out / "init", tokens, seed=0, hidden=64, chat_template=TRANSCRIBER_TEMPLATE)
    examples = [SFTExample([{"role": "user", "content": u}], text) for u, text in pairs]
    return sft_train(str(init), examples, out, SFTSettings(epochs=150, lr=3e-3, batch_size=6)).model_path


def test_a_continuation_is_transcribed_after_its_prompt(transcriber):
    prompts, cands = {}, []
    for i, (units, said) in enumerate(OPENINGS.items()):
        prompts[f"p{i}"] = PromptRecord(prompt_id=f"p{i}", text=units, meta={"transcript": said})
        cands += [Candidate(f"p{i}/{j}", f"p{i}", ending) for j, ending in enumerate(ENDINGS)]
    # trained with the end-of-sequence token after each transcript (as the world's transcriber is), it
    # stops after the words it heard instead of running on to max_new_tokens
    heard = TranscriptVerifier(transcriber, with_prompt=True, max_new_tokens=24).verify(prompts, cands)
    assert [j.scores["transcript"] for j in heard] == list(ENDINGS.values()) * 2
    alone = TranscriptVerifier(transcriber, max_new_tokens=24).verify(prompts, cands)
    firsts = [sentences(j.scores["transcript"])[0] for j in alone]
    assert all(" went to the " in first for first in firsts), firsts  # a made-up story's opening


def test_a_prompt_without_a_transcript_is_refused():
    prompts = {"p": PromptRecord(prompt_id="p", text="<u1>")}
    with pytest.raises(ValueError, match="prompt p: no meta\\['transcript'\\]"):
        TranscriptVerifier("unused", with_prompt=True).verify(prompts, [Candidate("p/0", "p", "<u7>")])


def test_sentences_split_after_end_marks():
    assert sentences("A b. C d!  E f? g") == ["A b.", "C d!", "E f?", "g"]


def test_cut_prompts_and_in_context_transcription_are_refused_together():
    from polyrlaif.domains.spoken_lm.config import SpokenLMConfig

    with pytest.raises(ValueError, match="transcribe_with_prompt needs whole prompts"):
        SpokenLMConfig(prompt_seconds=2.0)
    assert SpokenLMConfig(prompt_seconds=2.0, transcribe_with_prompt=False).prompt_seconds == 2.0


def test_the_continuation_is_what_follows_the_prompts_sentences_or_words():
    prompt = "Anna went to the park. It was a nice day."
    said = "Anna went to the park. It was nice day. She flew the kite."  # a word wrong in the prompt
    assert after_prompt(said, prompt) == "She flew the kite."
    # no full stops from the transcriber: the prompt's word count says where the continuation starts
    said = "anna went to the park it was a nice day she flew the kite"
    assert after_prompt(said, prompt) == "she flew the kite"
    assert after_prompt("Anna went to the park.", prompt) == ""
