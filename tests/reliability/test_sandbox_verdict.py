"""The verdict cannot be forged (reliability issue, section 1).

Each attack is a wrong ``add`` (it subtracts) plus top-level code aimed at the harness: it finds the
verdict's secret through frames or ``inspect`` and writes a pass, patches the harness's own
functions found through ``gc``, returns an object equal to anything, or replaces the builtins and
modules the tests use. By default (the tests in a process of their own, calling the candidate with
plain data) none of them passes. The same rows in the in-process mode are the control: there every
attack does pass, so each probe is known to probe.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from polyrlaif.domains.code.sandbox import IsolationUnavailable
from polyrlaif.domains.code.verifier import verify_file

PROMPT = 'def add(a, b):\n    """Return a + b."""\n'
TEST = (
    "import math\n"
    "def check(candidate):\n"
    "    assert candidate(1, 2) == 3\n"
    "    assert math.isclose(candidate(2, 2), 4)\n"
    "    assert abs(candidate(5, 5) - 10) < 1e-9\n"
)
#: Only ``==`` checks, which an always-equal object is made to defeat.
TEST_EQ = "def check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(5, 5) == 10\n"
WRONG = "    return a - b\n"
#: Find the verdict's nonce in a caller's frame, write a pass where the verdict goes, and leave.
FORGE = """
import os, sys
def _forge(frames):
    for f in frames:
        nonce = f.f_locals.get("nonce")
        if isinstance(nonce, bytes) and len(nonce) == 32:
            for fd in range(3, 8):
                try:
                    os.write(fd, nonce + b' verdict passed ""\\n')
                except OSError:
                    pass
            os._exit(0)
"""
ATTACKS = {
    "frames": FORGE
    + (
        "def _walk():\n    f = sys._getframe()\n    while f:\n        yield f\n        f = f.f_back\n"
        "_forge(_walk())\n"
    ),
    "inspect": FORGE + "import inspect\n_forge(info.frame for info in inspect.stack())\n",
    "gc": (
        "import gc\n"
        "gc.unfreeze()  # the worker froze its heap: back into sight\n"
        "def _passed(exc):\n    return 'passed', ''\n"
        "for obj in gc.get_objects():\n"
        "    if type(obj).__name__ == 'function' and obj.__name__ == '_describe':\n"
        "        obj.__code__ = _passed.__code__\n"
    ),
    "always_equal": (
        "class _Any(float):\n"
        "    def __eq__(self, other):\n        return True\n"
        "    def __ne__(self, other):\n        return False\n"
        "    __hash__ = float.__hash__\n"
        "    def __sub__(self, other):\n        return 0.0\n"
        "_real = add\n"
        "def add(a, b):\n    return _Any(_real(a, b))\n"
    ),
    "builtins": (
        "import builtins, math\n"
        "math.isclose = lambda *a, **k: True\n"
        "builtins.abs = lambda x: 0\n"
        "_real = add\n"
        "def add(a, b):\n    return 3 if (a, b) == (1, 2) else _real(a, b)\n"
    ),
}


def run_rows(tmp_path: Path, in_process: bool) -> dict[str, dict]:
    rows = [
        {
            "task_id": name,
            "prompt": PROMPT,
            "completion": WRONG + code,
            "entry_point": "add",
            "test": TEST_EQ if name == "always_equal" else TEST,
        }
        for name, code in ATTACKS.items()
    ]
    rows.append(
        {
            "task_id": "honest",
            "prompt": PROMPT,
            "completion": "    return a + b\n",
            "test": TEST,
            "entry_point": "add",
        }
    )
    src, out = tmp_path / "in.jsonl", tmp_path / f"out-{in_process}.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    try:
        verify_file(src, out, timeout=10.0, workers=2, in_process=in_process)
    except IsolationUnavailable as exc:
        pytest.skip(f"namespaces unavailable here: {exc}")
    return {r["task_id"]: r for r in map(json.loads, out.read_text().splitlines())}


def test_no_attack_forges_a_pass_out_of_process(tmp_path, caplog):
    logging.getLogger("polyrlaif").addHandler(caplog.handler)  # seen even where the CLI's setup ran
    try:
        _check_attacks(tmp_path, caplog)
    finally:
        logging.getLogger("polyrlaif").removeHandler(caplog.handler)


def _check_attacks(tmp_path, caplog) -> None:
    got = run_rows(tmp_path, in_process=False)
    assert got["honest"]["status"] == "passed"
    assert {name: got[name]["passed"] for name in ATTACKS} == {name: False for name in ATTACKS}
    assert got["always_equal"]["status"] == "error"
    assert got["gc"]["status"] == got["builtins"]["status"] == "failed"
    # Control: in one interpreter every attack passes, which is why that mode is opt-in, and says so.
    control = run_rows(tmp_path, in_process=True)
    assert {name: control[name]["status"] for name in [*ATTACKS, "honest"]} == dict.fromkeys(
        [*ATTACKS, "honest"], "passed"
    )
    notices = [r.getMessage() for r in caplog.records if "in-process mode" in r.getMessage()]
    assert notices and "forge a pass" in notices[0]


def test_results_that_are_not_plain_data_are_errors_with_the_reason(sandbox):
    from polyrlaif.domains.code.sandbox import TestedCode

    test = "def check(candidate):\n    assert list(candidate(3)) == [0, 1, 2]\n"
    cases = {
        "generator": "def f(n):\n    return (i for i in range(n))\n",
        "int_subclass": "class I(int):\n    pass\ndef f(n):\n    return [I(i) for i in range(n)]\n",
        "self_containing": "def f(n):\n    x = []\n    x.append(x)\n    return x\n",
        "plain": "def f(n):\n    return (0, 1, 2)\n",
    }
    results = sandbox.run([TestedCode(code, test, "f") for code in cases.values()])
    got = dict(zip(cases, results, strict=True))
    assert got["plain"].status == "passed"
    for name in ("generator", "int_subclass", "self_containing"):
        assert got[name].status == "error", (name, got[name].detail)
        assert "not plain data" in got[name].detail
    assert "generator" in got["generator"].detail and "I" in got["int_subclass"].detail


def test_exceptions_cross_by_type_and_message_and_callables_need_in_process(sandbox):
    from polyrlaif.domains.code.sandbox import TestedCode

    raising = "def f(x):\n    if x < 0:\n        raise ValueError('negative: ' + str(x))\n    return x\n"
    test = (
        "def check(candidate):\n    assert candidate(2) == 2\n    try:\n        candidate(-1)\n"
        "    except ValueError as exc:\n        assert str(exc) == 'negative: -1'\n"
        "    else:\n        raise AssertionError('no ValueError')\n"
    )
    callable_test = "def check(candidate):\n    assert candidate(len) == len\n"
    jobs = [TestedCode(raising, test, "f"), TestedCode(raising, callable_test, "f")]
    crossing, needs_in_process = sandbox.run(jobs)
    assert crossing.status == "passed", crossing.detail + crossing.output
    assert needs_in_process.status == "sandbox_error"
    assert "builtin_function_or_method" in needs_in_process.detail and "in-process" in needs_in_process.detail


def test_humaneval_out_of_process_agrees_with_the_reference(sandbox):
    from polyrlaif.datasets.code_tasks import load_humaneval
    from polyrlaif.domains.code.verifier import tested_code

    tasks = load_humaneval()
    assert len(tasks) == 164
    jobs = [tested_code(t["prompt"], t["canonical_solution"], t["test"], t["entry_point"]) for t in tasks]
    jobs += [tested_code(t["prompt"], "    pass\n", t["test"], t["entry_point"]) for t in tasks]
    results = sandbox.run(jobs, timeout_s=10.0)
    pairs = zip(tasks, results[:164], strict=True)
    failed = [(t["task_id"], r.status, r.detail) for t, r in pairs if not r.passed]
    assert failed == []
    assert sum(not r.passed for r in results[164:]) >= 155
