"""The packaged fictional world: well formed, answerable by retrieval, and validated on load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from polyrlaif.core.io import InputError
from polyrlaif.datasets.qa.fictional import corpus_path, load_questions, questions_path


def test_packaged_files_have_the_advertised_size(documents, questions) -> None:
    assert corpus_path().is_file() and questions_path().is_file()
    assert 55 <= len(documents) <= 70
    assert 35 <= len(questions) <= 50
    hops = [q.hops for q in questions]
    assert hops.count(1) >= 15 and hops.count(2) >= 15 and set(hops) == {1, 2}


def test_every_question_is_answerable_from_its_supporting_documents(documents, questions) -> None:
    by_id = {d.id: d for d in documents}
    for q in questions:
        assert len(set(q.supporting_ids)) == len(q.supporting_ids), q.id
        for doc_id in q.supporting_ids:
            assert doc_id in by_id, f"{q.id}: supporting id {doc_id} is not in the corpus"
        for answer in q.answers:
            assert any(answer in by_id[d].text for d in q.supporting_ids), (
                f"{q.id}: {answer!r} not in support"
            )


def test_two_hop_questions_need_both_documents(documents, questions) -> None:
    # The canonical answer must not be in the first hop's document, or the second hop is pointless.
    by_id = {d.id: d for d in documents}
    for q in (q for q in questions if q.hops == 2):
        assert q.answers[0] not in by_id[q.supporting_ids[0]].text, q.id


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


GOOD = {"id": "q1", "question": "Who?", "answers": ["Ann"], "supporting_ids": ["d1"]}


@pytest.mark.parametrize(
    ("bad", "where", "what"),
    [
        ({**GOOD, "id": "q2", "answers": []}, ":2:answers", "non-empty list"),
        ({"id": "q2", "question": "Who?", "supporting_ids": ["d1"]}, ":2:answers", "missing field"),
        ({**GOOD, "id": "q2", "answers": ["Ann", 3]}, ":2:answers[1]", "non-empty string"),
        ({**GOOD, "id": "q2", "supporting_ids": "d1"}, ":2:supporting_ids", "non-empty list"),
        ({**GOOD, "id": "q2", "question": ""}, ":2:question", "non-empty string"),
        (GOOD, ":2:id", "duplicate id 'q1'"),
    ],
)
def test_bad_questions_name_file_line_and_field(tmp_path: Path, bad: dict, where: str, what: str) -> None:
    path = _write(tmp_path / "q.jsonl", [GOOD, bad])
    with pytest.raises(InputError) as info:
        load_questions(path)
    assert f"{path}{where}" in str(info.value)
    assert what in str(info.value)


def test_loads_a_valid_file(tmp_path: Path) -> None:
    (q,) = load_questions(_write(tmp_path / "q.jsonl", [GOOD]))
    assert (q.id, q.answers, q.supporting_ids, q.hops) == ("q1", ("Ann",), ("d1",), 1)
