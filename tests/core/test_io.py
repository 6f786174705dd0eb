"""Atomic writes, precise JSONL errors and resumable stages."""

import json

import pytest

from polyrlaif.core.io import InputError, StageWriter, atomic_write_jsonl, iter_jsonl, read_jsonl


def test_malformed_line_names_file_and_line(tmp_path):
    p = tmp_path / "in.jsonl"
    p.write_text('{"a": 1}\n\n{"a": 2,\n')
    with pytest.raises(InputError, match=r"in\.jsonl:3: malformed JSON"):
        read_jsonl(p)


def test_missing_field_is_named(tmp_path):
    p = tmp_path / "in.jsonl"
    p.write_text('{"task_id": "x"}\n{"prompt": "y"}\n')
    with pytest.raises(InputError, match=r"in\.jsonl:2: missing field\(s\) 'task_id'"):
        list(iter_jsonl(p, required=["task_id"]))


def test_non_object_row(tmp_path):
    p = tmp_path / "in.jsonl"
    p.write_text("[1, 2]\n")
    with pytest.raises(InputError, match=":1: expected a JSON object"):
        read_jsonl(p)


def test_atomic_write_keeps_old_file_when_rows_fail(tmp_path):
    p = tmp_path / "out.jsonl"
    atomic_write_jsonl(p, [{"a": 1}])

    def rows():
        yield {"a": 2}
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        atomic_write_jsonl(p, rows())
    assert read_jsonl(p) == [{"a": 1}]
    assert [f.name for f in tmp_path.iterdir()] == ["out.jsonl"]  # no temp files left behind


def test_stage_resume_after_crash_gives_identical_artifact(tmp_path):
    items = [{"id": f"k{i}", "v": i * i} for i in range(10)]
    batches = [items[i : i + 3] for i in range(0, 10, 3)]

    def run(path, crash_after=None):
        stage = StageWriter(path, key="id")
        calls = 0
        for b, batch in enumerate(batches):
            if all(r["id"] in stage.finished_keys for r in batch):
                continue
            if crash_after is not None and b == crash_after:
                raise KeyboardInterrupt
            calls += 1
            stage.append(batch)
        stage.finish(order=[r["id"] for r in items])
        return calls

    clean = tmp_path / "clean.jsonl"
    run(clean)
    crashed = tmp_path / "crashed.jsonl"
    with pytest.raises(KeyboardInterrupt):
        run(crashed, crash_after=2)
    assert not crashed.exists() and crashed.with_name("crashed.jsonl.partial").exists()
    # a torn final line from the crash is tolerated
    with crashed.with_name("crashed.jsonl.partial").open("a") as fh:
        fh.write('{"id": "k9", "v"')
    redone = run(crashed)
    assert redone == 2  # only the two unfinished batches
    assert crashed.read_bytes() == clean.read_bytes()
    assert StageWriter(crashed, key="id").done


def test_stage_rows_roundtrip(tmp_path):
    stage = StageWriter(tmp_path / "s.jsonl", key="id")
    stage.append([{"id": 1, "x": "é"}])
    stage.finish()
    assert json.loads((tmp_path / "s.jsonl").read_text()) == {"id": 1, "x": "é"}


def test_a_partial_torn_inside_a_multibyte_character_resumes(tmp_path):
    from polyrlaif.core.io import StageWriter

    stage = StageWriter(tmp_path / "c.jsonl", key="k")
    stage.append([{"k": 1, "text": "naïve café"}, {"k": 2, "text": "日本語"}])
    whole = stage.partial.read_bytes()
    cut = whole.index("本".encode()) + 1  # the crash lands inside a three-byte character
    stage.partial.write_bytes(whole[:cut])
    again = StageWriter(tmp_path / "c.jsonl", key="k")
    assert again.finished_keys == {1}
    again.append([{"k": 2, "text": "日本語"}])
    again.finish()
    assert [r["text"] for r in again.rows()] == ["naïve café", "日本語"]


def test_a_partial_damaged_before_its_end_is_named(tmp_path):
    from polyrlaif.core.io import InputError, StageWriter

    partial = tmp_path / "c.jsonl.partial"
    partial.write_bytes(b'{"k": 1}\n\xff\xfe{"k": 2\n{"k": 3}\n')
    with pytest.raises(InputError, match=r"c.jsonl.partial:2: damaged line before the end"):
        StageWriter(tmp_path / "c.jsonl", key="k")


def test_drop_reopens_a_finished_stage_for_the_rows_it_picks(tmp_path):
    from polyrlaif.core.io import StageWriter

    stage = StageWriter(tmp_path / "j.jsonl", key="k")
    stage.append([{"k": 1, "failure": None}, {"k": 2, "failure": "connection: refused"}])
    stage.finish()
    assert stage.drop(lambda r: bool(r["failure"])) == 1
    assert not stage.done and stage.finished_keys == {1}
    again = StageWriter(tmp_path / "j.jsonl", key="k")  # a later run sees the same
    assert again.finished_keys == {1}


def test_non_utf8_lines_name_file_and_line(tmp_path):
    from polyrlaif.core.io import InputError, read_jsonl

    path = tmp_path / "rows.jsonl"
    path.write_bytes(b'{"a": 1}\n{"a": "caf\xe9"}\n')
    with pytest.raises(InputError, match=r"rows.jsonl:2: not UTF-8 text \(invalid continuation byte"):
        read_jsonl(path)


def test_read_json_names_the_line_of_a_bad_byte_or_a_syntax_error(tmp_path):
    from polyrlaif.core.io import InputError, read_json

    path = tmp_path / "ann.json"
    path.write_bytes(b'{"images": [\n  {"file_name": "caf\xe9.png"}\n]}')
    with pytest.raises(InputError, match=r"ann.json:2: not UTF-8 text \(invalid continuation byte at col"):
        read_json(path)
    path.write_text('{"images": [\n  {"id": 1,}\n]}')
    with pytest.raises(InputError, match=r"ann.json:2: malformed JSON"):
        read_json(path)
