"""Text side of the ZeroSpeech 2021 style sets: pseudo-words (sWUGGY) and ungrammatical variants (sBLIMP).

Both follow the ZeroSpeech 2021 ``gold.csv`` files (``lexical/dev/gold.csv``,
``syntactic/dev/gold.csv``) as the challenge's evaluation code (``zerospeech2021/lexical.py``,
``syntactic.py``) reads them: one row per spoken file, ``filename`` without the ``.wav`` suffix,
``correct`` 1 for the word or sentence and 0 for its foil, the two rows of a pair sharing ``id`` and
``voice``, and the foil rows in the same (id, voice) order as the correct rows (the evaluation pairs
the k-th correct row with the k-th foil row). ``frequency`` is an integer count (the evaluation
bands it into ``oov``, ``1-5``, ``6-20``, ``21-100``, ``>100``; :func:`frequency_band` does the same).

A pseudo-word changes one letter of a word of the grammar (a vowel for a vowel, a lone consonant for
a consonant), so it keeps the word's shape, as WUGGY's do; it is never a word of the grammar and
espeak-ng pronounces it differently. An ungrammatical variant breaks one rule of the grammar:

===========  ===============  ===========================================================
type         subtype          change
===========  ===============  ===========================================================
agreement    was_were         "The trees were tall." -> "The trees was tall."
case         subject_pronoun  "She took her new kite." -> "Her took her new kite."
case         possessive       "She took her new kite." -> "She took she new kite."
word_order   det_noun         "Tom went to the park." -> "Tom went to park the."
word_order   subject_verb     "Tom went to the park." -> "Went Tom to the park."
determiner   missing_article  "Tom went to the park." -> "Tom went to park."
===========  ===============  ===========================================================
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Callable, Iterable

from polyrlaif.datasets.speech.grammar import CHARACTERS

__all__ = [
    "LEXICAL_COLUMNS",
    "SYNTACTIC_COLUMNS",
    "SYNTACTIC_SUBTYPES",
    "frequency_band",
    "gold_csv",
    "lexical_words",
    "pseudo_word",
    "random_filename",
    "ungrammatical_variants",
]

LEXICAL_COLUMNS: tuple[str, ...] = ("id", "filename", "voice", "frequency", "word", "phones", "correct")
SYNTACTIC_COLUMNS: tuple[str, ...] = (
    "id",
    "voice",
    "type",
    "subtype",
    "transcription",
    "filename",
    "correct",
)

_VOWELS = "aeiou"
_CONSONANTS = "bdfgklmnprstv"
_FINAL_CONSONANTS = "bdgklmnpst"
_NAMES = {n.lower(): n for n in CHARACTERS}
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def lexical_words(vocabulary: Iterable[str]) -> list[str]:
    """The words a sWUGGY pair may test: of three letters or more, with a letter to change; sorted."""
    return sorted(w for w in vocabulary if len(w) >= 3 and w.isalpha() and _changeable(w))


def _changeable(word: str) -> list[int]:
    """Positions a pseudo-word may change: vowels, and consonants standing alone between vowels or edges.

    Consonants in clusters and digraphs (``nd``, ``sh``, ``ck``) stay, so the result keeps the word's
    syllable shape and stays pronounceable.
    """
    vowel = [c in _VOWELS or c == "y" for c in word]
    out = []
    for i, c in enumerate(word):
        if c in _VOWELS:
            out.append(i)
        elif c.isalpha() and c not in "yw":
            left = i == 0 or vowel[i - 1]
            right = i == len(word) - 1 or vowel[i + 1]
            if left and right:
                out.append(i)
    return out


def pseudo_word(
    word: str, rng: random.Random, forbidden: set[str], phones: Callable[[str], str] | None = None
) -> str:
    """A pseudo-word one letter away from ``word``: a vowel for a vowel, or a lone consonant for another.

    Like WUGGY's, it keeps the word's length and syllable shape. It is no word of the grammar, though it
    may be an English word the grammar lacks ("road" from "read"): for a model that only ever heard
    this world, that is as new as any invented word.

    Args:
        word: a lower-case word.
        rng: the item's random stream.
        forbidden: strings it must not be (the grammar's words).
        phones: optional pronunciation function; the pseudo-word must sound different from ``word``.

    Raises:
        ValueError: no such pseudo-word was found.
    """
    reference = phones(word) if phones is not None else None
    positions = _changeable(word)
    for _ in range(200 if positions else 0):
        letters = list(word)
        i = rng.choice(positions)
        if letters[i] in _VOWELS:
            pool = _VOWELS
        else:
            pool = _FINAL_CONSONANTS if i == len(word) - 1 else _CONSONANTS
        letters[i] = rng.choice([c for c in pool if c != letters[i]])
        cand = "".join(letters)
        if cand in forbidden or cand == word:
            continue
        if phones is not None and phones(cand) == reference:
            continue
        return cand
    raise ValueError(f"no pseudo-word found for {word!r}")


def frequency_band(count: int) -> str:
    """ZeroSpeech 2021's band of a corpus count: ``oov``, ``1-5``, ``6-20``, ``21-100`` or ``>100``."""
    for upper, band in ((1, "oov"), (6, "1-5"), (21, "6-20"), (101, "21-100")):
        if count < upper:
            return band
    return ">100"


def random_filename(rng: random.Random, taken: set[str], length: int = 10) -> str:
    """A fresh random name of letters, added to ``taken`` (ZeroSpeech's file names hide the label so)."""
    while True:
        name = "".join(rng.choice(_LETTERS) for _ in range(length))
        if name not in taken:
            taken.add(name)
            return name


# ---------------------------------------------------------------- ungrammatical variants


def _words(sentence: str) -> list[str]:
    """Lower-cased words (names keep their capital), without the final full stop."""
    return [w if w in CHARACTERS else w.lower() for w in sentence.rstrip(".").split()]


def _sentence(words: list[str]) -> str:
    first = words[0]
    return " ".join([first[:1].upper() + first[1:], *words[1:]]) + "."


def _was_were(w: list[str]) -> list[str] | None:
    for i, x in enumerate(w):
        if x in ("was", "were"):
            return [*w[:i], "were" if x == "was" else "was", *w[i + 1 :]]
    return None


def _subject_pronoun(w: list[str]) -> list[str] | None:
    swap = {"he": "him", "she": "her"}
    return [swap[w[0]], *w[1:]] if w[0] in swap else None


def _possessive(w: list[str]) -> list[str] | None:
    swap = {"his": "him", "her": "she"}
    for i, x in enumerate(w[1:], 1):
        if x in swap:
            return [*w[:i], swap[x], *w[i + 1 :]]
    return None


def _det_noun(w: list[str]) -> list[str] | None:
    for i, x in enumerate(w[:-1]):
        if x == "the":
            return [*w[:i], w[i + 1], "the", *w[i + 2 :]]
    return None


def _subject_verb(w: list[str]) -> list[str] | None:
    if len(w) > 2 and (w[0] in CHARACTERS or w[0] in ("he", "she")):
        return [w[1], w[0], *w[2:]]
    return None


def _missing_article(w: list[str]) -> list[str] | None:
    for i, x in enumerate(w[1:], 1):
        if x in ("the", "a"):
            return [*w[:i], *w[i + 1 :]]
    return None


SYNTACTIC_SUBTYPES: dict[str, tuple[str, Callable[[list[str]], list[str] | None]]] = {
    "was_were": ("agreement", _was_were),
    "subject_pronoun": ("case", _subject_pronoun),
    "possessive": ("case", _possessive),
    "det_noun": ("word_order", _det_noun),
    "subject_verb": ("word_order", _subject_verb),
    "missing_article": ("determiner", _missing_article),
}
"""subtype -> (type, the change on a word list, None where it does not apply)."""


def ungrammatical_variants(sentence: str) -> list[tuple[str, str, str]]:
    """Every ``(type, subtype, ungrammatical sentence)`` the rules make of ``sentence``."""
    words = _words(sentence)
    out = []
    for subtype, (kind, change) in SYNTACTIC_SUBTYPES.items():
        changed = change(words)
        if changed is not None:
            out.append((kind, subtype, _sentence(changed)))
    return out


def gold_csv(rows: Iterable[dict], columns: tuple[str, ...]) -> bytes:
    """Rows as a ZeroSpeech ``gold.csv`` (header ``columns``, ``\\n`` line ends, UTF-8)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n", extrasaction="raise")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8")
