"""Open-domain QA question files: every format maps to the same record, is auto-detected, and fails loudly."""

from __future__ import annotations

import gzip
import json
import logging
import re
from pathlib import Path

import pytest

from polyrlaif.core.io import InputError
from polyrlaif.datasets.qa.fictional import load_questions, questions_path
from polyrlaif.datasets.qa.loaders import FORMATS, QAQuestion, detect_format, load_qa

DATA = Path(__file__).with_name("data") / "qa"
# One small file per format, rows as the datasets ship them (HotpotQA and 2Wiki as one JSON array).
FILES = {
    "nq": "nq.jsonl",
    "hotpotqa": "hotpotqa.json",
    "2wiki": "2wiki.json",
    "musique": "musique.jsonl",
    "bamboogle": "bamboogle.jsonl",
    "flashrag": "flashrag.jsonl",
    "fictional": "fictional.jsonl",
}
DROP = object()  # in a patch: remove the field


def _rows(fmt: str) -> list[dict]:
    text = (DATA / FILES[fmt]).read_text(encoding="utf-8")
    return (
        json.loads(text) if FILES[fmt].endswith(".json") else [json.loads(line) for line in text.splitlines()]
    )


def _paragraph(idx: int, title: str, supporting: bool) -> dict:
    return {"idx": idx, "title": title, "paragraph_text": f"About {title}.", "is_supporting": supporting}


NQ_OUT = [
    QAQuestion("nq-1", "who got the first nobel prize in physics", ("Wilhelm Conrad Röntgen",)),
    QAQuestion(
        "nq-2", "when was the last time anyone was on the moon", ("14 December 1972 UTC", "December 1972")
    ),
    QAQuestion("nq-3", "how many episodes are in chicago fire season 4", ("23",)),
]
HOTPOTQA_OUT = [
    QAQuestion(
        "5a8b57f25542995d1e6f1371",
        "Were Scott Derrickson and Ed Wood of the same nationality?",
        ("yes",),
        ("Scott Derrickson", "Ed Wood"),
    ),
    QAQuestion(
        "5a8c7595554299585d9e36b6",
        "What government position was held by the woman who portrayed Corliss Archer in the film "
        "Kiss and Tell?",
        ("Chief of Protocol",),
        ("Kiss and Tell (1945 film)", "Shirley Temple"),  # a title cited twice is one supporting id
    ),
]
TWOWIKI_OUT = [
    QAQuestion(
        "8813f87c0bdd11eba7f7acde48001122",
        "Who is the mother of the director of film Polish-Russian War (Film)?",
        ("Małgorzata Braunek", "Malgorzata Braunek"),
        ("Polish-Russian War (film)", "Xawery Żuławski"),
    ),
    QAQuestion(
        "028eaef60bdb11eba7f7acde48001122",
        "Which film came out first, Blind Shaft or The Mask Of Fu Manchu?",
        ("The Mask Of Fu Manchu",),
        ("Blind Shaft", "The Mask of Fu Manchu"),
    ),
]
MUSIQUE_OUT = [
    QAQuestion(  # supporting ids in the decomposition's order, not the paragraphs'
        "2hop__460946_294723",
        "Who is the spouse of the Green performer?",
        ("Miquette Giraudy", "Giraudy"),
        ("Green (Steve Hillage album)", "Miquette Giraudy"),
    ),
    QAQuestion(
        "2hop__252311_366220",
        "In what year did the club that won the 1973 Copa Libertadores win it again?",
        ("1974",),
        ("1974 Copa Libertadores",),
    ),
]
BAMBOOGLE_OUT = [
    QAQuestion(
        "bamboogle-1",
        "Who was president of the United States in the year that Citibank was founded?",
        ("james madison",),
    ),
    QAQuestion(
        "bamboogle-2",
        "What rocket was the first spacecraft that ever approached Uranus launched on?",
        ("Titan IIIE",),
    ),
]
FLASHRAG_OUT = [
    QAQuestion("test_0", "who got the first nobel prize in physics?", ("Wilhelm Conrad Röntgen",)),
    QAQuestion(
        "5a8b57f25542995d1e6f1371",
        "Were Scott Derrickson and Ed Wood of the same nationality?",
        ("yes",),
        ("Scott Derrickson", "Ed Wood"),
    ),
]
FICTIONAL_OUT = [
    QAQuestion("fh-1", "Who founded Veshan?", ("Ilsa Marr", "Marr"), ("d7",)),
    QAQuestion("fh-2", "When did Aldmere fall?", ("1841",)),
]

# (format, expected questions, what auto-detection calls it)
CASES = [
    ("nq", NQ_OUT, "nq"),
    ("hotpotqa", HOTPOTQA_OUT, "hotpotqa"),
    ("2wiki", TWOWIKI_OUT, "hotpotqa"),
    ("musique", MUSIQUE_OUT, "musique"),
    ("bamboogle", BAMBOOGLE_OUT, "bamboogle"),
    ("flashrag", FLASHRAG_OUT, "flashrag"),
    ("fictional", FICTIONAL_OUT, "fictional"),
]


def _jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_every_format_is_listed_once() -> None:
    assert FORMATS == ("auto", "fictional", "nq", "hotpotqa", "2wiki", "musique", "bamboogle", "flashrag")
    assert [case[0] for case in CASES] == list(FILES)
    assert set(FILES) == set(FORMATS[1:])


@pytest.mark.parametrize(("fmt", "expected", "detected"), CASES, ids=[c[0] for c in CASES])
def test_each_format_maps_fields_and_is_auto_detected(fmt: str, expected: list, detected: str) -> None:
    path = DATA / FILES[fmt]
    assert load_qa(path, fmt) == expected
    assert detect_format(_rows(fmt)[0]) == detected
    assert load_qa(path) == expected


def test_lower_case_bamboogle_and_generic_answer_rows(tmp_path: Path) -> None:
    rows = [
        {"question": "Who wrote Dune?", "answer": "Frank Herbert"},
        {"question": "Dune year?", "answer": 1965},
    ]
    path = _jsonl(tmp_path / "generic.jsonl", rows)
    assert detect_format(rows[0]) == "bamboogle"
    assert load_qa(path) == [
        QAQuestion("bamboogle-1", "Who wrote Dune?", ("Frank Herbert",)),
        QAQuestion("bamboogle-2", "Dune year?", ("1965",)),
    ]


def test_hotpotqa_in_hugging_face_form(tmp_path: Path) -> None:
    # `datasets.load_dataset("hotpot_qa").to_json()` writes `id` and a columnar supporting_facts.
    row = {
        "id": "5a8b57f25542995d1e6f1371",
        "question": "Were Scott Derrickson and Ed Wood of the same nationality?",
        "answer": "yes",
        "supporting_facts": {"title": ["Scott Derrickson", "Ed Wood"], "sent_id": [0, 0]},
    }
    assert load_qa(_jsonl(tmp_path / "hf.jsonl", [row])) == HOTPOTQA_OUT[:1]


def test_packaged_fictional_questions_load_as_qa_questions() -> None:
    expected = load_questions()
    loaded = load_qa(questions_path())
    assert [(q.id, q.question, q.answers, q.supporting_ids, q.hops) for q in loaded] == [
        (q.id, q.question, q.answers, q.supporting_ids, q.hops) for q in expected
    ]


def test_a_qa_question_scores_like_a_fictional_question() -> None:
    from polyrlaif.domains.search_agent.agent import Trajectory
    from polyrlaif.domains.search_agent.verifier import ExactMatchReward

    question = load_qa(DATA / FILES["nq"])[1]
    assert question.hops == 0 and MUSIQUE_OUT[0].hops == 2
    reward = ExactMatchReward()
    assert reward(Trajectory(question.id, question.question, answer="december 1972"), question) == 1.0
    assert reward(Trajectory(question.id, question.question, answer="1969"), question) == 0.0


def test_answers_are_stripped_deduplicated_and_numbers_become_strings(tmp_path: Path) -> None:
    row = {
        "id": "q",
        "question": " Which? ",
        "golden_answers": [" Paris ", "Paris", "", "paris", 1987, 1987.0, 2.5],
    }
    [question] = load_qa(_jsonl(tmp_path / "a.jsonl", [row]))
    assert question.question == "Which?"
    assert question.answers == ("Paris", "paris", "1987", "2.5")


def test_pretty_printed_json_array_and_limit(tmp_path: Path) -> None:
    path = tmp_path / "hotpot_dev_distractor_v1.json"
    path.write_text(json.dumps(_rows("hotpotqa"), indent=2), encoding="utf-8")
    assert load_qa(path) == HOTPOTQA_OUT
    assert load_qa(path, "2wiki", limit=1) == HOTPOTQA_OUT[:1]


def test_json_array_errors_name_the_record_position(tmp_path: Path) -> None:
    first, second = _rows("hotpotqa")
    path = tmp_path / "dev.json"
    path.write_text(json.dumps([first, {**second, "answer": ""}]), encoding="utf-8")
    with pytest.raises(InputError, match=r"dev\.json:2:answer: no non-empty answer"):
        load_qa(path)
    path.write_text(json.dumps([first, "oops"]), encoding="utf-8")
    with pytest.raises(InputError, match=r"dev\.json:2: expected a JSON object, got str"):
        load_qa(path)
    path.write_text('[\n  {"_id": "a",\n  "question": }\n]', encoding="utf-8")
    with pytest.raises(InputError, match=r"dev\.json:3: malformed JSON"):
        load_qa(path)


@pytest.mark.parametrize(("fmt", "suffix"), [("musique", ".jsonl.gz"), ("hotpotqa", ".json.gz")])
def test_gzipped_files(tmp_path: Path, fmt: str, suffix: str) -> None:
    path = tmp_path / f"{fmt}{suffix}"
    path.write_bytes(gzip.compress((DATA / FILES[fmt]).read_bytes()))
    assert load_qa(path) == dict((c[0], c[1]) for c in CASES)[fmt]


def test_broken_gzip_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "nq.jsonl.gz"
    path.write_bytes(b"not gzip at all")
    with pytest.raises(InputError, match=r"nq\.jsonl\.gz: cannot read"):
        load_qa(path)


@pytest.mark.parametrize(
    ("fmt", "patch", "where", "what"),
    [
        ("nq", {"answer": []}, ":2:answer", "no non-empty answer"),
        ("nq", {"answer": ["  ", ""]}, ":2:answer", "no non-empty answer"),
        ("nq", {"answer": [True]}, ":2:answer[0]", "expected a string or a number"),
        ("nq", {"question": DROP}, ":2:question", "missing field"),
        ("nq", {"question": ""}, ":2:question", "non-empty string"),
        ("nq", {"id": "nq-1"}, ":2:id", "duplicate id 'nq-1' (first on line 1)"),
        ("hotpotqa", {"answer": None}, ":2:answer", "no non-empty answer"),
        ("hotpotqa", {"supporting_facts": [[None, 0]]}, ":2:supporting_facts[0]", "non-empty title"),
        ("musique", {"answer": ""}, ":2:answer", "no non-empty answer"),
        ("musique", {"paragraphs": [{"idx": 0, "is_supporting": True}]}, ":2:paragraphs[0].title", "title"),
        ("bamboogle", {"Answer": " "}, ":2:Answer", "no non-empty answer"),
        ("flashrag", {"golden_answers": []}, ":2:golden_answers", "no non-empty answer"),
        ("flashrag", {"id": DROP}, ":2:id", "missing field"),
        ("fictional", {"answers": DROP}, ":2:answers", "missing field"),
    ],
)
def test_bad_rows_name_file_line_and_field(
    tmp_path: Path, fmt: str, patch: dict, where: str, what: str
) -> None:
    first, second = _rows(fmt)[:2]
    second = {k: v for k, v in {**second, **patch}.items() if v is not DROP}
    path = _jsonl(tmp_path / "q.jsonl", [first, second])
    with pytest.raises(InputError) as info:
        load_qa(path, fmt)
    assert str(info.value).startswith(f"{path}{where}: "), str(info.value)
    assert what in str(info.value)


def test_duplicate_id_names_both_lines(tmp_path: Path) -> None:
    first, second = _rows("musique")
    path = _jsonl(tmp_path / "m.jsonl", [first, second, {**second, "id": first["id"]}])
    with pytest.raises(InputError) as info:
        load_qa(path)
    assert str(info.value) == f"{path}:3:id: duplicate id '2hop__460946_294723' (first on line 1)"


def test_unknown_shape_names_file_line_and_the_formats(tmp_path: Path) -> None:
    path = _lines(tmp_path / "x.jsonl", ["", json.dumps({"query": "q?", "response": "a"})])
    with pytest.raises(InputError) as info:
        load_qa(path)
    message = str(info.value)
    assert message.startswith(
        f"{path}:2: cannot tell the question format from the keys ['query', 'response']"
    )
    assert message.endswith(
        "pass format= one of fictional, nq, hotpotqa, 2wiki, musique, bamboogle, flashrag"
    )
    assert detect_format({"query": "q?"}) is None


def test_an_explicit_format_that_does_not_fit_names_the_missing_field() -> None:
    path = DATA / FILES["flashrag"]
    with pytest.raises(InputError, match=rf"^{re.escape(str(path))}:1:answer: missing field$"):
        load_qa(path, "nq")


@pytest.mark.parametrize("content", ["", "\n  \n", "[]\n"], ids=["empty", "blank-lines", "empty-array"])
def test_no_questions(tmp_path: Path, content: str) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_qa(path)
    assert str(info.value) == f"{path}: no questions"


def test_missing_file_and_malformed_line(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.jsonl: no such file"):
        load_qa(tmp_path / "nope.jsonl")
    path = _lines(tmp_path / "q.jsonl", [json.dumps(_rows("nq")[0]), '{"question": "q?", "answer": ['])
    with pytest.raises(InputError, match=rf"^{re.escape(str(path))}:2: malformed JSON"):
        load_qa(path)


def test_limit_keeps_the_first_questions_and_stops_reading(tmp_path: Path) -> None:
    path = _lines(tmp_path / "nq.jsonl", [json.dumps(r) for r in _rows("nq")] + ["not json"])
    assert load_qa(path, limit=2) == NQ_OUT[:2]
    assert load_qa(path, limit=3) == NQ_OUT
    with pytest.raises(InputError, match=":4: malformed JSON"):
        load_qa(path, limit=4)


def test_bad_arguments_are_value_errors() -> None:
    path = DATA / FILES["nq"]
    with pytest.raises(ValueError, match="unknown QA format 'triviaqa'"):
        load_qa(path, "triviaqa")
    with pytest.raises(ValueError, match="limit must be >= 1"):
        load_qa(path, limit=0)


def _unanswerable(row: dict, new_id: str) -> dict:
    return {**row, "id": new_id, "answerable": False, "paragraphs": [_paragraph(0, "Nile", False)]}


def test_musique_unanswerable_rows_are_skipped_and_counted(tmp_path: Path, caplog) -> None:
    first, second = _rows("musique")
    rows = [first, _unanswerable(first, "u1"), _unanswerable(second, "u2"), second]
    path = _jsonl(tmp_path / "musique_full_v1.0_dev.jsonl", rows)
    with caplog.at_level(logging.INFO, logger="polyrlaif.datasets.qa.loaders"):
        assert load_qa(path) == MUSIQUE_OUT
    assert f"{path}: skipped 2 question(s) marked unanswerable" in caplog.messages
    assert load_qa(path, limit=2) == MUSIQUE_OUT


def test_musique_unanswerable_rows_are_errors_when_not_skipped(tmp_path: Path) -> None:
    first, second = _rows("musique")
    path = _jsonl(tmp_path / "m.jsonl", [first, _unanswerable(second, "u2")])
    with pytest.raises(InputError) as info:
        load_qa(path, "musique", skip_unanswerable=False)
    assert str(info.value) == f"{path}:2:answerable: the question is marked unanswerable"


def test_a_file_of_only_unanswerable_rows_has_no_questions(tmp_path: Path) -> None:
    path = _jsonl(
        tmp_path / "m.jsonl", [_unanswerable(row, f"u{i}") for i, row in enumerate(_rows("musique"))]
    )
    with pytest.raises(InputError) as info:
        load_qa(path)
    assert str(info.value) == f"{path}: no questions (2 unanswerable skipped)"
