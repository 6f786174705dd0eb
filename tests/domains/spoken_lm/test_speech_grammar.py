"""The spoken story world's text side: the story grammar, pseudo-words, ungrammatical variants, config.

None of these need espeak-ng.
"""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from polyrlaif.datasets.speech import (
    CHARACTERS,
    INCOHERENT_KINDS,
    SCENES,
    SpeechWorldConfig,
    all_combos,
    all_sentences,
    frequency_band,
    heldout_combos,
    pseudo_word,
    sample_story,
    tokens,
    ungrammatical_variants,
    vocabulary,
)
from polyrlaif.datasets.speech.zerospeech import lexical_words

GRAMMATICAL = {s for c, p in all_combos() for s in all_sentences(c, p)}


def _stories(seed: int, n: int = 300, kinds=INCOHERENT_KINDS):
    return [sample_story(random.Random(f"{seed}/{i}"), f"s{i}", all_combos(), kinds) for i in range(n)]


def test_same_stream_gives_the_same_story_and_other_streams_differ():
    assert _stories(0, 50) == _stories(0, 50)
    assert [s.text for s in _stories(0, 50)] != [s.text for s in _stories(1, 50)]


def test_a_story_has_two_or_three_context_sentences_and_every_sentence_is_grammatical():
    for s in _stories(0):
        assert 2 <= len(s.context) <= 3
        assert s.context[0].startswith(("One day", "In the morning", s.character))
        assert s.scene in s.context[0] and s.character in s.context[0]
        assert set(s.context) | {s.coherent} <= set(all_sentences(s.character, s.scene))
        if s.incoherent_kind != "object":  # reads well on its own, StoryCloze-style
            assert s.incoherent in GRAMMATICAL
        assert s.incoherent not in all_sentences(s.character, s.scene)


def test_incoherent_endings_contradict_the_context_in_the_way_their_kind_says():
    obj = {sc.place: sc.obj for sc in SCENES}
    seen = set()
    for s in _stories(0):
        seen.add(s.incoherent_kind)
        assert s.coherent != s.incoherent
        bad = set(tokens(s.incoherent))
        if s.incoherent_kind in ("place", "object"):
            assert obj[s.scene] not in bad and bad & (set(obj.values()) - {obj[s.scene]})
        else:  # character: the other pronoun, or another name, with the same action
            pron = CHARACTERS[s.character]
            assert s.character.lower() not in bad or pron not in bad
            assert (
                (pron == "he" and "she" in bad)
                or (pron == "she" and "he" in bad)
                or (bad & {c.lower() for c in CHARACTERS} - {s.character.lower()})
            )
    assert seen == set(INCOHERENT_KINDS)
    assert {s.incoherent_kind for s in _stories(0, kinds=("place",))} == {"place"}


def test_vocabulary_is_small_and_covers_every_story():
    vocab = set(vocabulary())
    assert 60 <= len(vocab) <= 120
    for s in _stories(3):
        assert set(tokens(s.text)) | set(tokens(s.incoherent)) <= vocab


def test_heldout_combos_cover_every_scene_and_character_once():
    held = heldout_combos(0, 8)
    assert held == heldout_combos(0, 8) and held != heldout_combos(1, 8)
    assert sorted(p for _, p in held) == sorted(sc.place for sc in SCENES)
    assert sorted(c for c, _ in held) == sorted(CHARACTERS)
    assert set(held) < set(heldout_combos(0, 12))
    with pytest.raises(ValueError, match="64|63"):
        heldout_combos(0, 64)


def test_ungrammatical_variants_are_never_sentences_of_the_grammar():
    kinds = set()
    for sentence in sorted(GRAMMATICAL):
        for kind, subtype, bad in ungrammatical_variants(sentence):
            kinds.add((kind, subtype))
            assert bad not in GRAMMATICAL, (sentence, subtype, bad)
            assert bad != sentence
    assert len(kinds) == 6
    assert ("agreement", "was_were", "The trees was tall.") in ungrammatical_variants("The trees were tall.")
    assert ("word_order", "subject_verb", "Went Tom to the park.") in ungrammatical_variants(
        "Tom went to the park."
    )


def test_pseudo_words_keep_the_shape_and_leave_the_vocabulary():
    vocab = set(vocabulary())
    words = lexical_words(vocab)
    assert len(words) >= 60
    for i, word in enumerate(words):
        fake = pseudo_word(word, random.Random(i), vocab)
        assert fake not in vocab and len(fake) == len(word)
        assert sum(a != b for a, b in zip(word, fake, strict=True)) == 1
    assert pseudo_word("kitchen", random.Random(0), vocab) == pseudo_word("kitchen", random.Random(0), vocab)


def test_frequency_bands_follow_zerospeech():
    assert [frequency_band(n) for n in (0, 1, 5, 6, 20, 21, 100, 101)] == [
        "oov",
        "1-5",
        "1-5",
        "6-20",
        "6-20",
        "21-100",
        "21-100",
        ">100",
    ]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"voices": ()}, "voices"),
        ({"voices": ("en-us", "-x")}, "voices"),
        ({"voices": ("en-us", "en-us")}, "voices"),
        ({"train_stories": 0}, "train_stories"),
        ({"prompt_stories": -1}, "prompt_stories"),
        ({"corpus_voices": 7}, "corpus_voices"),
        ({"zerospeech_voices": 0}, "zerospeech_voices"),
        ({"heldout_combos": 64}, "heldout_combos"),
        ({"incoherent_kinds": ("place", "weather")}, "incoherent_kinds"),
        ({"speed_jitter": 0.9}, "speed_jitter"),
        ({"pitch_jitter": 60}, "pitch_jitter"),
        ({"sample_rate": 100}, "sample_rate"),
        ({"storycloze": 1000}, "storycloze"),
        ({"swuggy_words": 500}, "swuggy_words"),
        ({"sblimp_pairs": 5000}, "sblimp_pairs"),
    ],
)
def test_config_validation_names_the_bad_field(change, field):
    with pytest.raises(ValueError, match=f"SpeechWorldConfig.{field}"):
        replace(SpeechWorldConfig(), **change).validate()


def test_config_hash_follows_the_settings():
    base = SpeechWorldConfig()
    base.validate()
    assert base.config_hash() == SpeechWorldConfig().config_hash()
    assert base.config_hash() != replace(base, seed=1).config_hash()
    assert base.normalized()["voices"] == list(base.voices)
