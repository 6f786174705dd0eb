"""Rows and utterances of the spoken story world's files, one function per part of the world.

Each item (a story, a word pair, a sentence pair) draws from its own :class:`random.Random` stream
named by (seed, part, index), so one file never depends on another or on the order of writing. Each
function returns the rows of its index file(s) and the :class:`Utterance` s to synthesise. See
:mod:`polyrlaif.datasets.speech.world` for the layout and the row formats.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from polyrlaif.datasets.speech import grammar as g
from polyrlaif.datasets.speech import zerospeech as zs

if TYPE_CHECKING:
    from polyrlaif.datasets.speech.world import SpeechWorldConfig

__all__ = [
    "Utterance",
    "cloze_rows",
    "corpus_rows",
    "item_rng",
    "lexical_rows",
    "prompt_rows",
    "sblimp_candidates",
    "syntactic_rows",
]


@dataclass(frozen=True)
class Utterance:
    """One WAV file to synthesise: ``path`` relative to the world's directory."""

    path: str
    text: str
    voice: str
    speed: int | None
    pitch: int | None


def item_rng(cfg: SpeechWorldConfig, part: str, i: int) -> random.Random:
    """The random stream of item ``i`` of ``part``."""
    return random.Random(f"polyrlaif-speech/{cfg.seed}/{part}/{i}")


def _voicings(rng: random.Random, cfg: SpeechWorldConfig, k: int) -> list[tuple[str, int | None, int | None]]:
    """``k`` distinct voices, each with its speed (words per minute) and pitch, jittered."""
    out = []
    for voice in rng.sample(list(cfg.voices), k):
        speed = (
            round(175 * (1 + rng.uniform(-cfg.speed_jitter, cfg.speed_jitter))) if cfg.speed_jitter else None
        )
        pitch = 50 + rng.randint(-cfg.pitch_jitter, cfg.pitch_jitter) if cfg.pitch_jitter else None
        out.append((voice, speed, pitch))
    return out


def _story_row(story: g.Story, split: str) -> dict:
    return {
        "story_id": story.story_id,
        "split": split,
        "character": story.character,
        "scene": story.scene,
        "context": list(story.context),
        "coherent": story.coherent,
        "incoherent": story.incoherent,
        "incoherent_kind": story.incoherent_kind,
    }


def corpus_rows(cfg: SpeechWorldConfig, combos: Sequence[tuple[str, str]]) -> tuple[list, list, list]:
    """(corpus rows, story rows, utterances): ``train_stories`` stories, 1-``corpus_voices`` voices each."""
    rows, stories, utts = [], [], []
    for i in range(1, cfg.train_stories + 1):
        rng = item_rng(cfg, "train", i)
        story = g.sample_story(rng, f"train_{i:05d}", combos, cfg.incoherent_kinds)
        stories.append(_story_row(story, "train"))
        for j, (voice, speed, pitch) in enumerate(_voicings(rng, cfg, rng.randint(1, cfg.corpus_voices)), 1):
            audio = f"corpus/{story.story_id}_{j}.wav"
            rows.append({"audio": audio, "text": story.text, "voice": voice, "story_id": story.story_id})
            utts.append(Utterance(audio, story.text, voice, speed, pitch))
    return rows, stories, utts


def prompt_rows(cfg: SpeechWorldConfig, combos: Sequence[tuple[str, str]]) -> tuple[list, list, list]:
    """(prompt rows, story rows, utterances): the context of ``prompt_stories`` stories, one voice each."""
    rows, stories, utts = [], [], []
    for i in range(1, cfg.prompt_stories + 1):
        rng = item_rng(cfg, "prompt", i)
        story = g.sample_story(rng, f"prompt_{i:05d}", combos, cfg.incoherent_kinds)
        stories.append(_story_row(story, "prompt"))
        (voice, speed, pitch) = _voicings(rng, cfg, 1)[0]
        pid = f"prompt_{i:05d}"
        audio = f"prompts/{pid}.wav"
        rows.append(
            {
                "prompt_id": pid,
                "audio": audio,
                "text": story.prompt,
                "voice": voice,
                "story_id": story.story_id,
            }
        )
        utts.append(Utterance(audio, story.prompt, voice, speed, pitch))
    return rows, stories, utts


def _topic_ending(rng: random.Random, scene: str) -> str:
    """tSC's wrong ending: an ending of another scene about a random character."""
    other = rng.choice([s for s in g.SCENES if s.place != scene])
    name = rng.choice(list(g.CHARACTERS))
    use_name = rng.random() < 0.5
    return g.render(rng.choice(other.endings), name, subject=name if use_name else None, obj=other.obj)


def cloze_rows(cfg: SpeechWorldConfig, combos: Sequence[tuple[str, str]]) -> tuple[dict, list, list]:
    """({"sSC": rows, "tSC": rows, "prompts": rows}, story rows, utterances) for ``storycloze`` distinct
    held-out stories.

    Both versions of an item are spoken by the same voice at the same speed and pitch, so they
    differ only in their ending. Each story's opening (its context sentences) is also spoken on its own
    by that voice: the held-out prompts of the semantic-score benchmark.
    """
    index: dict[str, list] = {"sSC": [], "tSC": [], "prompts": []}
    stories, utts, seen = [], [], set()
    for i in range(1, cfg.storycloze + 1):
        rng = item_rng(cfg, "cloze", i)
        for _ in range(200):  # distinct stories; validate() keeps at least half the space free
            story = g.sample_story(rng, f"cloze_{i:05d}", combos, cfg.incoherent_kinds)
            if story.text not in seen:
                break
        else:
            raise ValueError(f"no new held-out story for storycloze item {i}; lower storycloze")
        seen.add(story.text)
        stories.append(_story_row(story, "storycloze"))
        (voice, speed, pitch) = _voicings(rng, cfg, 1)[0]
        wrong = {
            "sSC": (story.incoherent, story.incoherent_kind),
            "tSC": (_topic_ending(rng, story.scene), "topic"),
        }
        for task, (ending, kind) in wrong.items():
            base = f"storycloze/{task}/{i:05d}"
            texts = {"correct": story.text, "incorrect": f"{story.prompt} {ending}"}
            row = {"id": f"{i:05d}", "story_id": story.story_id, "voice": voice, "kind": kind}
            row |= {label: f"{base}_{label}.wav" for label in texts}
            row |= {"prompt": story.prompt, "correct_ending": story.coherent, "incorrect_ending": ending}
            row |= {f"{label}_text": text for label, text in texts.items()}
            index[task].append(row)
            utts += [
                Utterance(f"{base}_{label}.wav", text, voice, speed, pitch) for label, text in texts.items()
            ]
        opening = f"storycloze/prompts/{i:05d}.wav"
        index["prompts"].append(
            {"prompt_id": f"heldout_{i:05d}", "audio": opening, "text": story.prompt, "voice": voice,
             "story_id": story.story_id}
        )  # fmt: skip
        utts.append(Utterance(opening, story.prompt, voice, speed, pitch))
    return index, stories, utts


def lexical_rows(
    cfg: SpeechWorldConfig, counts: Counter, phones: Callable[[str, str], str]
) -> tuple[list[dict], list[Utterance]]:
    """(lexical gold rows, utterances): ``swuggy_words`` (word, pseudo-word) pairs.

    Args:
        cfg: the world's config.
        counts: word -> occurrences in the corpus transcripts (the ``frequency`` column).
        phones: ``(word, language) -> phoneme string``.
    """
    vocab = set(g.vocabulary())
    words = zs.lexical_words(vocab)
    random.Random(f"polyrlaif-speech/{cfg.seed}/lexical").shuffle(words)
    rows, utts, taken, used = [], [], set(), set()
    i = 0
    for word in words:
        if i == cfg.swuggy_words:
            break
        rng = item_rng(cfg, "lexical", i + 1)
        try:
            fake = zs.pseudo_word(word, rng, vocab | used, phones=lambda w: phones(w, "en-us"))
        except ValueError:
            continue  # every one-letter change is a word or sounds the same: take the next word
        i += 1
        used.add(fake)
        for voice, speed, pitch in _voicings(rng, cfg, cfg.zerospeech_voices):
            lang = voice.partition("+")[0]
            for text, correct in ((word, 1), (fake, 0)):
                name = zs.random_filename(rng, taken)
                rows.append(
                    {"id": i, "filename": name, "voice": voice, "frequency": counts[word], "word": text,
                     "phones": phones(text, lang), "correct": correct}
                )  # fmt: skip
                utts.append(Utterance(f"zerospeech/lexical/dev/{name}.wav", text, voice, speed, pitch))
    if i < cfg.swuggy_words:
        raise ValueError(f"only {i} words have a pseudo-word, fewer than swuggy_words={cfg.swuggy_words}")
    return rows, utts


def sblimp_candidates(combos: Sequence[tuple[str, str]]) -> dict[str, list[tuple[str, str, str]]]:
    """subtype -> sorted distinct (type, sentence, ungrammatical variant) from the sentences of ``combos``."""
    out: dict[str, set] = {s: set() for s in zs.SYNTACTIC_SUBTYPES}
    for character, place in combos:
        for sentence in g.all_sentences(character, place):
            for kind, subtype, bad in zs.ungrammatical_variants(sentence):
                out[subtype].add((kind, sentence, bad))
    return {s: sorted(v) for s, v in out.items()}


def syntactic_rows(
    cfg: SpeechWorldConfig, combos: Sequence[tuple[str, str]]
) -> tuple[list[dict], list[Utterance]]:
    """(syntactic gold rows, utterances): ``sblimp_pairs`` pairs from held-out sentences, subtypes in turn."""
    rng = random.Random(f"polyrlaif-speech/{cfg.seed}/syntactic")
    pools = sblimp_candidates(combos)
    for pool in pools.values():
        rng.shuffle(pool)
    pairs: list[tuple[str, str, str, str]] = []
    while len(pairs) < cfg.sblimp_pairs and any(pools.values()):
        for subtype, pool in pools.items():
            if pool and len(pairs) < cfg.sblimp_pairs:
                kind, good, bad = pool.pop()
                pairs.append((kind, subtype, good, bad))
    rows, utts, taken = [], [], set()
    for i, (kind, subtype, good, bad) in enumerate(pairs, 1):
        item = item_rng(cfg, "syntactic", i)
        for voice, speed, pitch in _voicings(item, cfg, cfg.zerospeech_voices):
            for text, correct in ((good, 1), (bad, 0)):
                name = zs.random_filename(item, taken)
                rows.append(
                    {"id": i, "voice": voice, "type": kind, "subtype": subtype, "transcription": text,
                     "filename": name, "correct": correct}
                )  # fmt: skip
                utts.append(Utterance(f"zerospeech/syntactic/dev/{name}.wav", text, voice, speed, pitch))
    return rows, utts
