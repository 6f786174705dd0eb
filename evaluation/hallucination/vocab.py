"""Find the objects a caption names: the matcher behind CHAIR and AMBER's object metrics.

:class:`ObjectVocab` turns a category table into a phrase table and scans text with it, following the
rules documented in :mod:`polyrlaif.evaluation.hallucination.coco_synonyms`:

1. text is cut into lowercase word tokens (punctuation and hyphens split words, a possessive ``'s`` is
   dropped) and, at each position, the longest known phrase wins and consumes its words;
2. some phrases name another category than the words they contain ("dog bed" is a bed), or none at all
   ("bus stop");
3. plurals are derived from the last word of every phrase (regular rules, :data:`IRREGULAR_PLURALS`,
   nothing for :data:`NO_PLURAL`);
4. a colour word that is also an object ("orange") names nothing when it directly precedes another
   phrase ("an orange cat" is a cat only).

A vocabulary that is not COCO's (AMBER's word list, say) still borrows COCO's phrase knowledge where it
matters: a COCO phrase or multi-word name is kept when one of its words is a term of the vocabulary that,
in COCO, names something else ("hot dog" holds "dog", "bus stop" holds "bus"). The phrase then names
its COCO category if the vocabulary has it, and nothing otherwise. So "hot dog" is never a dog and
"teddy bear" never a bear, whatever the vocabulary.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from polyrlaif.evaluation.hallucination.coco_synonyms import (
    AMBIGUOUS_MODIFIERS,
    COCO_CATEGORIES,
    COCO_CATEGORY_NAMES,
    COCO_PHRASES,
    COCO_SYNONYMS,
    IRREGULAR_PLURALS,
    NO_PLURAL,
)

__all__ = ["Mention", "ObjectVocab", "plural_forms", "tokenize"]

# A word is a run of letters or digits, possibly with inner apostrophes ("dog's", "don't").
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'"})
_VOWELS = frozenset("aeiou")

Phrase = tuple[str, ...]


@dataclass(frozen=True)
class Mention:
    """One object phrase found in a text.

    Attributes:
        category: the category the phrase names.
        words: the matched tokens, lowercase (``("hot", "dogs")``).
        span: token indices ``[start, end)`` in :func:`tokenize`'s output.
        char_span: character offsets ``[start, end)`` in the original text.
    """

    category: str
    words: tuple[str, ...]
    span: tuple[int, int]
    char_span: tuple[int, int]


def _tokens_with_offsets(text: str) -> list[tuple[str, int, int]]:
    out = []
    for m in _WORD.finditer(text.translate(_APOSTROPHES).lower()):
        word, end = m.group(), m.end()
        if word.endswith("'s"):
            word, end = word[:-2], end - 2
        out.append((word, m.start(), end))
    return out


def tokenize(text: str) -> list[str]:
    """Lowercase word tokens of ``text``: punctuation and hyphens split words, possessive ``'s`` is dropped.

    Example:
        ``tokenize("The dog's T-shirt.")`` is ``["the", "dog", "t", "shirt"]``.
    """
    return [w for w, _, _ in _tokens_with_offsets(text)]


def plural_forms(word: str) -> list[str]:
    """Plural forms of a singular ``word`` (rule 3 of :mod:`~.coco_synonyms`).

    Irregular words get their :data:`IRREGULAR_PLURALS` entry, words in :data:`NO_PLURAL` get nothing,
    and the rest get the regular plural plus the extra forms the rules allow (f/fe -> ves, -man -> -men,
    consonant + o -> oes).
    """
    if word in NO_PLURAL:
        return []
    if word in IRREGULAR_PLURALS:
        return list(IRREGULAR_PLURALS[word])
    if word.endswith(("s", "x", "z", "ch", "sh")):
        forms = [word + "es"]
    elif len(word) > 1 and word.endswith("y") and word[-2] not in _VOWELS:
        forms = [word[:-1] + "ies"]
    else:
        forms = [word + "s"]
    # Extra forms are only ever looked up, so an unused one ("roofs" and "rooves") does no harm.
    if word.endswith("fe") and not word.endswith("ffe"):
        forms.append(word[:-2] + "ves")
    elif word.endswith("f") and not word.endswith("ff"):
        forms.append(word[:-1] + "ves")
    if word.endswith("man"):
        forms.append(word[:-3] + "men")
    if len(word) > 1 and word.endswith("o") and word[-2] not in _VOWELS:
        forms.append(word + "es")
    return forms


def _with_plurals(phrase: Phrase) -> list[Phrase]:
    return [phrase] + [(*phrase[:-1], p) for p in plural_forms(phrase[-1])]


def _phrase(text: str) -> Phrase:
    words = tuple(tokenize(text))
    if not words:
        raise ValueError(f"object phrase {text!r} has no words")
    return words


def _coco_term_table() -> dict[Phrase, str]:
    """Every COCO name and synonym, with plurals, mapped to its COCO category."""
    table: dict[Phrase, str] = {}
    for name in COCO_CATEGORY_NAMES:
        for term in [name, *COCO_SYNONYMS[name]]:
            for form in _with_plurals(_phrase(term)):
                table.setdefault(form, name)
    return table


class ObjectVocab:
    """A longest-match object finder over a category table.

    Build it with :meth:`coco` or :meth:`from_categories`; then :meth:`find` lists the mentions in a
    text and :meth:`objects` the set of categories named.

    Args:
        terms: category -> the words and phrases naming it (the category name should be among them).
        phrases: phrase -> category or ``None``: phrases that consume their words and name that
            category, or nothing. Terms win over phrases spelled the same way.
        modifiers: object words that are also colour adjectives (rule 4).
    """

    def __init__(
        self,
        terms: Mapping[str, Iterable[str]],
        phrases: Mapping[str, str | None] | None = None,
        modifiers: Iterable[str] = AMBIGUOUS_MODIFIERS,
    ) -> None:
        self.categories: tuple[str, ...] = tuple(terms)
        table: dict[Phrase, str | None] = {}
        # Lowest priority first; later writes win: derived plurals of phrases, phrases, then the same
        # for terms, so that an explicit term is never shadowed by some other entry's plural.
        phrase_pairs = [(_phrase(text), target) for text, target in (phrases or {}).items()]
        term_pairs = [(_phrase(t), c) for c, ts in terms.items() for t in ts]
        for pairs in (phrase_pairs, term_pairs):
            for words, target in pairs:
                for form in _with_plurals(words)[1:]:
                    table[form] = target
            for words, target in pairs:
                table[words] = target
        unknown = {t for t in table.values() if t is not None} - set(self.categories)
        if unknown:
            raise ValueError(f"phrases map to unknown categories: {sorted(unknown)}")
        self._table = table
        self._max_len = max((len(k) for k in table), default=1)
        self._modifiers = frozenset(modifiers)

    @classmethod
    def coco(cls) -> ObjectVocab:
        """The 80 COCO categories with the full synonym and phrase tables of :mod:`~.coco_synonyms`."""
        return cls.from_categories(COCO_CATEGORIES)

    @classmethod
    def from_categories(cls, categories: Sequence[Mapping]) -> ObjectVocab:
        """Build a vocabulary from a COCO-format category list.

        Args:
            categories: ``[{"id": ..., "name": ..., "synonyms": [...]}, ...]``. A category with a
                ``synonyms`` list is named by its name and those synonyms only; one without is named by
                COCO's synonyms when its name is a COCO category, and by its name alone otherwise.

        Raises:
            ValueError: if a category has no ``name`` or a name is listed twice.
        """
        terms: dict[str, list[str]] = {}
        for i, cat in enumerate(categories):
            name = cat.get("name") if isinstance(cat, Mapping) else None
            if not isinstance(name, str) or not name.strip():
                raise ValueError(f"categories[{i}]: missing or empty field 'name'")
            name = name.strip()
            if name in terms:
                raise ValueError(f"categories[{i}]: category {name!r} is listed twice")
            if "synonyms" in cat and cat["synonyms"] is not None:
                synonyms = [str(s) for s in cat["synonyms"]]
            else:
                synonyms = list(COCO_SYNONYMS.get(name, []))
            terms[name] = [name, *synonyms]
        return cls(terms, _borrowed_phrases(terms))

    def find(self, text: str) -> list[Mention]:
        """Object mentions in ``text``, left to right, longest match first.

        Phrases that name nothing ("bus stop") consume their words but give no mention; a colour word
        in ``modifiers`` directly followed (only whitespace between) by another phrase gives none either.
        """
        toks = _tokens_with_offsets(text)
        words = [w for w, _, _ in toks]
        hits: list[tuple[int, int, str | None]] = []
        i = 0
        while i < len(words):
            for n in range(min(self._max_len, len(words) - i), 0, -1):
                key = tuple(words[i : i + n])
                if key in self._table:
                    hits.append((i, i + n, self._table[key]))
                    i += n
                    break
            else:
                i += 1
        mentions = []
        for k, (start, end, category) in enumerate(hits):
            if category is None:
                continue
            if end - start == 1 and words[start] in self._modifiers and k + 1 < len(hits):
                nxt = hits[k + 1][0]
                if nxt == end and not text[toks[end - 1][2] : toks[nxt][1]].strip():
                    continue  # "orange cat": a colour, not an orange
            mentions.append(
                Mention(category, tuple(words[start:end]), (start, end), (toks[start][1], toks[end - 1][2]))
            )
        return mentions

    def objects(self, text: str) -> set[str]:
        """The set of categories ``text`` names (each counted once however often it is mentioned)."""
        return {m.category for m in self.find(text)}

    def __contains__(self, category: object) -> bool:
        return category in self.categories

    def __repr__(self) -> str:
        return f"ObjectVocab({len(self.categories)} categories, {len(self._table)} phrases)"


def _borrowed_phrases(terms: Mapping[str, Sequence[str]]) -> dict[str, str | None]:
    """COCO phrase knowledge that bears on a vocabulary (see the module docstring).

    A COCO phrase (from :data:`COCO_PHRASES`, or a multi-word COCO name or synonym) meaning ``m`` is
    kept when one of its words is a single-word term of the vocabulary that COCO files under a category
    other than ``m``. A kept phrase names ``m`` if the vocabulary has that category, else nothing.
    """
    coco = _coco_term_table()
    single = {
        form[0] for ts in terms.values() for t in ts for form in _with_plurals(_phrase(t)) if len(form) == 1
    }
    candidates: dict[str, str | None] = dict(COCO_PHRASES)
    for name in COCO_CATEGORY_NAMES:
        for term in [name, *COCO_SYNONYMS[name]]:
            if len(_phrase(term)) > 1:
                candidates.setdefault(term, name)
    kept: dict[str, str | None] = {}
    for text, meaning in candidates.items():
        clash = any(
            w in single and coco.get((w,)) is not None and coco[(w,)] != meaning for w in _phrase(text)
        )
        if clash:
            kept[text] = meaning if meaning in terms else None
    return kept
