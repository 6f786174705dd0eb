"""ObjectVocab: the object matcher behind CHAIR and AMBER, checked against the documented rules."""

from __future__ import annotations

import pytest

from polyrlaif.evaluation.hallucination.vocab import ObjectVocab, plural_forms, tokenize


@pytest.fixture(scope="module")
def coco() -> ObjectVocab:
    return ObjectVocab.coco()


def test_tokenize_splits_hyphens_and_punctuation_and_drops_possessive():
    assert tokenize("The dog's T-shirt, (blue).") == ["the", "dog", "t", "shirt", "blue"]
    assert tokenize("Don\u2019t") == ["don't"]


@pytest.mark.parametrize(
    ("word", "forms"),
    [
        ("dog", ["dogs"]),
        ("bus", ["buses", "busses"]),  # irregular table
        ("box", ["boxes"]),
        ("sandwich", ["sandwiches"]),
        ("puppy", ["puppies"]),
        ("toy", ["toys"]),  # vowel + y: regular +s
        ("knife", ["knives"]),  # irregular table
        ("shelf", ["shelfs", "shelves"]),  # f -> ves as an extra form
        ("policeman", ["policemans", "policemen"]),
        ("person", ["people", "persons"]),
        ("broccoli", []),  # NO_PLURAL
        ("giraffe", ["giraffes"]),  # -ffe is not an f/fe -> ves word
    ],
)
def test_plural_forms(word, forms):
    assert plural_forms(word) == forms


@pytest.mark.parametrize(
    ("text", "objects"),
    [
        # synonyms
        ("A puppy on a sofa.", {"dog", "couch"}),
        ("A kitten and a fridge", {"cat", "refrigerator"}),
        # derived and irregular plurals
        ("Two dogs.", {"dog"}),
        ("Many people with knives", {"person", "knife"}),
        ("Three children and some mice", {"person", "mouse"}),
        ("policemen near buses", {"person", "bus"}),
        # compound names: longest match first
        ("A hot dog on a plate.", {"hot dog"}),
        ("two hot dogs", {"hot dog"}),
        ("a teddy bear", {"teddy bear"}),
        ("He swings a baseball bat", {"baseball bat"}),
        ("a cell phone", {"cell phone"}),
        ("a catcher's mitt", {"baseball glove"}),  # not the catcher (person): the phrase consumes it
        # phrases that name another category, or none
        ("A dog bed", {"bed"}),
        ("The bus stop is empty.", set()),
        ("a glass of orange juice", set()),
        ("baby elephants", {"elephant"}),
        ("a microwave oven", {"microwave"}),
        ("the tv remote", {"remote"}),
        ("train tracks", set()),
        # ambiguous modifiers
        ("an orange cat", {"cat"}),
        ("an orange and an apple", {"orange", "apple"}),
        ("an orange, a banana", {"orange", "banana"}),  # the comma: "orange" is not a modifier here
        ("oranges", {"orange"}),
        # possessives and hyphens
        ("the dog's collar", {"dog"}),
        ("a T.V. screen", {"tv"}),
        ("a Hot-Dog stand", {"hot dog"}),
    ],
)
def test_coco_objects(coco, text, objects):
    assert coco.objects(text) == objects


def test_hot_dog_is_not_a_dog_and_teddy_bear_not_a_bear(coco):
    found = coco.objects("A dog eats a hot dog next to a teddy bear and a bear.")
    assert found == {"dog", "hot dog", "teddy bear", "bear"}
    assert coco.objects("a hot dog") & {"dog"} == set()
    assert coco.objects("a teddy bear") & {"bear"} == set()


def test_find_reports_words_and_spans(coco):
    text = "Two hot dogs, a puppy's bowl."
    mentions = coco.find(text)
    # tokens: two(0) hot(1) dogs(2) a(3) puppy(4) bowl(5)
    assert [(m.category, m.words, m.span) for m in mentions] == [
        ("hot dog", ("hot", "dogs"), (1, 3)),
        ("dog", ("puppy",), (4, 5)),
        ("bowl", ("bowl",), (5, 6)),
    ]
    assert text[slice(*mentions[0].char_span)] == "hot dogs"
    assert text[slice(*mentions[1].char_span)] == "puppy"


def test_from_coco_categories_equals_coco(coco):
    from polyrlaif.evaluation.hallucination.coco_synonyms import COCO_CATEGORIES

    built = ObjectVocab.from_categories([{"id": c["id"], "name": c["name"]} for c in COCO_CATEGORIES])
    text = "A man, a puppy, hot dogs, a dog bed and an orange cat at the bus stop."
    assert built.objects(text) == coco.objects(text) == {"person", "dog", "hot dog", "bed", "cat"}


def test_from_categories_uses_given_synonyms_only():
    vocab = ObjectVocab.from_categories(
        [{"id": 1, "name": "dog", "synonyms": ["hound"]}, {"id": 2, "name": "widget"}]
    )
    assert vocab.categories == ("dog", "widget")
    assert vocab.objects("two hounds and some widgets") == {"dog", "widget"}
    assert vocab.objects("a puppy") == set()  # the COCO synonym is not used: the list was given


def test_coco_name_without_synonyms_key_gets_coco_synonyms():
    vocab = ObjectVocab.from_categories([{"id": 18, "name": "dog"}])
    assert vocab.objects("a puppy") == {"dog"}


def test_custom_vocab_borrows_coco_compound_rules():
    # An AMBER-like vocabulary: plain words, no synonyms, no "hot dog" or "teddy bear" category.
    vocab = ObjectVocab.from_categories(
        [{"id": i, "name": w, "synonyms": []} for i, w in enumerate(["dog", "bear", "table", "bus"])]
    )
    assert vocab.objects("a hot dog and a teddy bear") == set()
    assert vocab.objects("a polar bear on the dining table") == {"bear", "table"}
    assert vocab.objects("waiting at the bus stop") == set()
    assert vocab.objects("dogs and buses") == {"dog", "bus"}


def test_duplicate_or_nameless_categories_are_errors():
    with pytest.raises(ValueError, match="listed twice"):
        ObjectVocab.from_categories([{"id": 1, "name": "dog"}, {"id": 2, "name": "dog"}])
    with pytest.raises(ValueError, match=r"categories\[0\].*'name'"):
        ObjectVocab.from_categories([{"id": 1}])
