"""The packaged code tasks: enough of them, split sensibly, disjoint from HumanEval, and every reference
solution passes its own tests while a `pass` stub fails them (run in real subprocesses)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor

import pytest

from polyrlaif.core.io import InputError
from polyrlaif.datasets.code_tasks import (
    DATA_PATH,
    TASK_FIELDS,
    load_code_tasks,
    load_humaneval,
    read_tasks,
)

# Runs every program it is given, each in a fresh namespace, and prints one JSON status per program.
_RUNNER = r"""
import json, sys
results = []
for name, program in json.load(sys.stdin):
    try:
        exec(compile(program, name, "exec"), {"__name__": "__task__"})
        results.append([name, "passed", ""])
    except BaseException as exc:  # a test failure, or any error the candidate raises
        results.append([name, "failed", f"{type(exc).__name__}: {exc}"[:300]])
print(json.dumps(results))
"""


def _program(task: dict, body: str) -> str:
    return task["prompt"] + body + "\n" + task["test"] + f"\ncheck({task['entry_point']})\n"


def _run_batch(programs: list[tuple[str, str]]) -> dict[str, tuple[str, str]]:
    proc = subprocess.run(
        [sys.executable, "-c", _RUNNER], input=json.dumps(programs), capture_output=True, text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return {name: (status, detail) for name, status, detail in json.loads(proc.stdout)}


@pytest.fixture(scope="module")
def tasks() -> list[dict]:
    return load_code_tasks()


@pytest.fixture(scope="module")
def humaneval() -> list[dict]:
    return load_humaneval()


def test_counts_families_and_difficulty(tasks):
    assert len(tasks) >= 200
    families = Counter(t["family"] for t in tasks)
    assert len(families) >= 20
    difficulty = Counter(t["difficulty"] for t in tasks)
    assert difficulty["easy"] >= 0.3 * len(tasks) and difficulty["medium"] >= 0.3 * len(tasks)
    assert DATA_PATH.stat().st_size < 1_000_000


def test_split_is_stratified(tasks):
    heldout = load_code_tasks("heldout")
    train = load_code_tasks("train")
    # 100 held-out tasks: enough for a paired interval on the demo's before/after (configs/code/demo.yaml)
    assert len(heldout) >= 100
    assert len(heldout) + len(train) == len(tasks)
    assert 0.3 <= len(heldout) / len(tasks) <= 0.45
    splits_by_family = defaultdict(set)
    for t in tasks:
        splits_by_family[t["family"]].add(t["split"])
    sizes = Counter(t["family"] for t in tasks)
    for family, splits in splits_by_family.items():
        if sizes[family] >= 5:
            assert splits == {"train", "heldout"}, family


def test_ids_and_entry_points_unique(tasks):
    ids = [t["task_id"] for t in tasks]
    names = [t["entry_point"] for t in tasks]
    assert len(set(ids)) == len(ids)
    assert len(set(names)) == len(names)
    for t in tasks:
        assert re.fullmatch(rf"polyrlaif/{t['family']}/\d+", t["task_id"])


def test_humaneval_layout(tasks):
    for t in tasks:
        assert list(t) == list(TASK_FIELDS)
        prompt, name = t["prompt"], t["entry_point"]
        assert re.search(rf"^def {name}\(.*\) -> .+:$", prompt, re.MULTILINE), t["task_id"]
        assert prompt.endswith('    """\n') and f">>> {name}(" in prompt, t["task_id"]
        body_lines = [line for line in t["canonical_solution"].splitlines() if line.strip()]
        assert body_lines and all(line.startswith("    ") for line in body_lines), t["task_id"]
        assert t["test"].startswith("def check(candidate):\n")
        assert 4 <= t["test"].count("\n    assert ") <= 8, t["task_id"]


def test_disjoint_from_humaneval(tasks, humaneval):
    assert len(humaneval) == 164
    he_names = {h["entry_point"] for h in humaneval}
    assert not he_names & {t["entry_point"] for t in tasks}

    def words(text):
        return set(re.findall(r"\w+", text.lower()))

    he_words = [(h["task_id"], words(h["prompt"])) for h in humaneval]
    for t in tasks:
        ours = words(t["prompt"])
        for he_id, theirs in he_words:
            jaccard = len(ours & theirs) / len(ours | theirs)
            assert jaccard < 0.6, f"{t['task_id']} resembles {he_id} (Jaccard {jaccard:.2f})"


def test_reference_passes_and_stub_fails(tasks):
    by_family = defaultdict(list)
    for t in tasks:
        by_family[t["family"]].append(("ref:" + t["task_id"], _program(t, t["canonical_solution"])))
        by_family[t["family"]].append(("stub:" + t["task_id"], _program(t, "    pass\n")))
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = {}
        for batch in pool.map(_run_batch, by_family.values()):
            results.update(batch)
    assert len(results) == 2 * len(tasks)
    broken = {k: v[1] for k, v in results.items() if k.startswith("ref:") and v[0] != "passed"}
    weak = [k for k, v in results.items() if k.startswith("stub:") and v[0] != "failed"]
    assert not broken, broken
    assert not weak, weak


def test_runner_tells_wrong_answers_apart(tasks):
    """The subprocess harness itself: a plausible wrong body fails, the right one passes."""
    task = next(t for t in tasks if t["entry_point"] == "sum_of_evens")
    wrong = "    return sum(x for x in nums if x % 2 == 1)\n"
    right = task["canonical_solution"]
    results = _run_batch([("wrong", _program(task, wrong)), ("right", _program(task, right))])
    assert results["wrong"][0] == "failed" and "AssertionError" in results["wrong"][1]
    assert results["right"][0] == "passed"


def test_loader_filters(tasks):
    strings = load_code_tasks(families=["strings"])
    assert strings and {t["family"] for t in strings} == {"strings"}
    held_bits = load_code_tasks("heldout", families=["bits", "sets"])
    assert held_bits and all(t["split"] == "heldout" and t["family"] in ("bits", "sets") for t in held_bits)
    assert load_code_tasks("train", limit=5) == load_code_tasks("train")[:5]
    assert load_code_tasks(limit=0) == []
    fresh = load_code_tasks(limit=1)
    fresh[0]["prompt"] = "mutated"
    assert load_code_tasks(limit=1)[0]["prompt"] == tasks[0]["prompt"]


def test_loader_rejects_bad_arguments():
    with pytest.raises(ValueError, match="valid splits: train, heldout"):
        load_code_tasks("test")
    with pytest.raises(ValueError, match="valid families: .*strings"):
        load_code_tasks(families=["no_such_family"])
    with pytest.raises(ValueError, match="limit"):
        load_code_tasks(limit=-1)


def test_read_tasks_names_file_line_and_field(tmp_path, tasks):
    good = dict(tasks[0])
    path = tmp_path / "tasks.jsonl"

    def write(*rows):
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")

    write(good, {k: v for k, v in tasks[1].items() if k != "test"})
    with pytest.raises(InputError, match=rf"{re.escape(str(path))}:2:test: missing field"):
        read_tasks(path)
    write({**good, "split": "validation"})
    with pytest.raises(InputError, match=r":1:split: 'validation' is not one of train, heldout"):
        read_tasks(path)
    write(good, good)
    with pytest.raises(InputError, match=r":2:task_id: .* repeats line 1"):
        read_tasks(path)
    write({**good, "entry_point": "other_name"})
    with pytest.raises(InputError, match=r":1:prompt: does not define entry_point"):
        read_tasks(path)
    path.write_text(json.dumps(good) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(InputError, match=r":2: malformed JSON"):
        read_tasks(path)
    with pytest.raises(InputError, match="no such file"):
        read_tasks(tmp_path / "missing.jsonl")


def test_load_humaneval_schema(humaneval):
    assert all(list(h) == list(TASK_FIELDS) for h in humaneval)
    assert humaneval[0]["task_id"] == "HumanEval/0" and humaneval[0]["split"] == "test"
    assert load_humaneval(limit=3) == humaneval[:3]


def test_data_file_matches_generator(tasks):
    """The committed data is exactly what the generator produces (it was not hand-edited or stale)."""
    from polyrlaif.datasets.code_tasks.build import build_rows

    assert build_rows() == tasks
