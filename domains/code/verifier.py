"""Unit-test verification of code: the ``unit_tests`` verifier and ``polyrlaif verify --domain code``.

Both build HumanEval's program layout with :func:`~polyrlaif.domains.code.prompts.build_program`
(``prompt + completion + test + check(entry_point)``) and run it in the :class:`~.sandbox.Sandbox`.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from polyrlaif.core.io import InputError, atomic_write_jsonl, iter_jsonl
from polyrlaif.core.log import get_logger
from polyrlaif.core.records import Candidate, Judgment, PromptRecord
from polyrlaif.domains.code.prompts import build_program
from polyrlaif.domains.code.sandbox import STATUSES, Sandbox, SandboxResult, TestedCode

__all__ = [
    "CodeTestVerifier",
    "verify_file",
    "task_program",
    "tested_code",
    "is_stub",
    "check_run_settings",
    "REQUIRED_FIELDS",
    "IN_PROCESS_NOTICE",
]
_log = get_logger(__name__)

#: Fields every row of a ``verify`` input file must have (the HumanEval schema).
REQUIRED_FIELDS = ("task_id", "prompt", "completion", "test", "entry_point")
_TASK_META = ("prompt", "test", "entry_point")
#: The prompt ends inside a function (its last line is indented, or a ``def`` line): a stub to close.
_OPEN_STUB = re.compile(r"(^[ \t]+\S.*|^def .*:[ \t]*)\n*\Z", re.MULTILINE)


def is_stub(code: str) -> bool:
    """True when every function ``code`` defines has no statement beyond a docstring, ``pass`` or ``...``
    (code that does not parse, or defines no function, is not a stub: the tests judge it)."""
    import ast

    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    funcs = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]

    def empty(stmt: ast.stmt) -> bool:
        return isinstance(stmt, ast.Pass) or (
            isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
        )

    return bool(funcs) and all(all(empty(s) for s in f.body) for f in funcs)


def task_program(prompt: str, completion: str, test: str, entry_point: str) -> str:
    """HumanEval's program layout (:func:`~.prompts.build_program`) for any row.

    ``build_program`` closes the prompt's stub with an indented ``pass`` whenever the completion
    restates the function. A prompt that is empty, or holds only imports and helpers, has no stub to
    close, and that ``pass`` would be an IndentationError: such rows get the prompt, the completion
    and the tests as they are.
    """
    if _OPEN_STUB.search(prompt):
        return build_program(prompt, completion, test, entry_point)
    body = completion if completion.endswith("\n") else completion + "\n"
    return f"{prompt}{body}\n{test}\n\ncheck({entry_point})\n"


def tested_code(prompt: str, completion: str, test: str, entry_point: str) -> TestedCode:
    """The row as :class:`~.sandbox.TestedCode`: the candidate's program (the prompt and completion,
    laid out as :func:`task_program` does) apart from the tests, with the prompt as trusted context."""
    program = task_program(prompt, completion, "", entry_point)
    code = program[: program.rindex(f"\n\ncheck({entry_point})\n")]
    return TestedCode(code=code, test=test, entry_point=entry_point, context=prompt)


IN_PROCESS_NOTICE = (
    "in-process mode: the tests run in the candidate's own interpreter, so its code can forge a pass "
    "(through frames, gc or inspect), return objects that equal anything, or replace builtins the tests "
    "use; use it only for test suites that pass callables or check mutation, never as a training reward"
)


def check_run_settings(timeout: float, output: str | os.PathLike | None = None) -> None:
    """Refuse settings that could only fail after the programs ran.

    Raises:
        ValueError: ``timeout`` is not a finite number of seconds above 0.
        InputError: ``output`` is a directory, or lies under a file or an unwritable directory.
    """
    if not isinstance(timeout, int | float) or not math.isfinite(timeout) or timeout <= 0:
        raise ValueError(f"timeout must be a finite number of seconds above 0 (--timeout), got {timeout!r}")
    if output is None:
        return
    path = Path(output)
    if path.is_dir():
        raise InputError(f"output {path}: is a directory; name a file to write (--output)")
    parent = path.parent  # missing directories are created at write time: check the nearest that exists
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(f"output {path}: {parent} is not a directory (--output)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"output {path}: directory {parent} is not writable (--output)")


class CodeTestVerifier:
    """Runs each candidate's code against its task's unit tests, in the sandbox.

    The prompt's ``meta`` holds the task (``prompt``, ``test``, ``entry_point``); the candidate's
    ``meta["code"]`` the extracted completion (else its raw text). Score 1.0 when every test passed,
    0.0 otherwise; a sandbox failure, or a prompt without tests, gives ``score=None`` with ``failure``
    set. The sandbox pool starts on first use and stays warm until :meth:`close`.

    Args:
        timeout_s: wall-clock limit per program.
        workers: sandbox worker processes.
        unsafe_no_isolation: run without Linux namespaces (trusted code only).
        in_process: run each candidate and its tests in one interpreter (:data:`IN_PROCESS_NOTICE`
            says what that gives up); by default the tests run in a process of their own.
    """

    name = "unit_tests"
    #: the tests know whether the code is right: ``polyrlaif audit`` holds the judges to them
    ground_truth = True

    def __init__(
        self,
        timeout_s: float = 10.0,
        workers: int = 2,
        unsafe_no_isolation: bool = False,
        in_process: bool = False,
    ) -> None:
        self.timeout_s, self.workers, self.unsafe_no_isolation = timeout_s, workers, unsafe_no_isolation
        self.in_process = in_process
        if in_process:
            _log.warning(IN_PROCESS_NOTICE)
        self._sandbox: Sandbox | None = None

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the settings, not a started sandbox pool: a Ray worker starts its own."""
        return {**self.__dict__, "_sandbox": None}

    def sandbox(self) -> Sandbox:
        """The (started) sandbox pool this verifier runs programs in."""
        if self._sandbox is None:
            self._sandbox = Sandbox(
                workers=self.workers, timeout_s=self.timeout_s, unsafe_no_isolation=self.unsafe_no_isolation
            ).start()
        return self._sandbox

    def close(self) -> None:
        """Stop the sandbox workers."""
        if self._sandbox is not None:
            self._sandbox.close()
            self._sandbox = None

    def __enter__(self) -> CodeTestVerifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def verify(self, prompts: Mapping[str, PromptRecord], candidates: Sequence[Candidate]) -> list[Judgment]:
        """One judgment per candidate, in order. See the class docstring for scores and failures."""
        judgments: list[Judgment | None] = [None] * len(candidates)
        programs, slots = [], []
        for i, cand in enumerate(candidates):
            prompt = prompts.get(cand.prompt_id)
            missing = [k for k in _TASK_META if prompt is None or not isinstance(prompt.meta.get(k), str)]
            if missing:
                why = "unknown prompt" if prompt is None else f"prompt meta lacks {', '.join(missing)}"
                judgments[i] = self._judgment(cand, None, f"no unit tests for {cand.prompt_id!r}: {why}")
                continue
            code = cand.meta.get("code")
            if not isinstance(code, str):
                code = cand.text
            meta = prompt.meta
            build = task_program if self.in_process else tested_code
            programs.append(build(meta["prompt"], code, meta["test"], meta["entry_point"]))
            slots.append(i)
        if programs:
            for i, result in zip(slots, self.sandbox().run(programs, progress="unit tests"), strict=True):
                judgments[i] = self._judgment(candidates[i], result)
        return [j for j in judgments if j is not None]

    def _judgment(
        self, cand: Candidate, result: SandboxResult | None, failure: str | None = None
    ) -> Judgment:
        if result is None:
            return Judgment(
                candidate_id=cand.candidate_id,
                judge_id=self.name,
                kind="verifier",
                prompt_id=cand.prompt_id,
                failure=failure,
            )
        broken = result.status == "sandbox_error"
        tail = (result.output or result.detail)[-600:]
        return Judgment(
            candidate_id=cand.candidate_id,
            judge_id=self.name,
            kind="verifier",
            prompt_id=cand.prompt_id,
            score=None if broken else (1.0 if result.passed else 0.0),
            scores={
                "status": result.status,
                "duration_s": round(result.duration_s, 4),
                "passed": result.passed,
            },
            rationale=result.detail,
            context={"stderr_tail": tail},
            failure=f"sandbox_error: {result.detail}" if broken else None,
        )


def verify_file(
    input: str | os.PathLike,
    output: str | os.PathLike,
    *,
    timeout: float = 10.0,
    workers: int = 2,
    unsafe_no_isolation: bool = False,
    in_process: bool = False,
) -> dict[str, int]:
    """Run every row of a HumanEval-schema JSONL file and write the rows back with verdicts.

    Each output row is its input row plus ``passed`` (bool), ``status`` (one of
    :data:`~.sandbox.STATUSES`) and ``duration_s``, in input order. The output is written atomically
    once all rows are done, so a failed run never clobbers an existing file.

    Args:
        input: JSONL with ``task_id``, ``prompt``, ``completion``, ``test``, ``entry_point``.
        output: where to write the verdicts.
        timeout: wall-clock limit per program, in seconds.
        workers: programs run at once.
        unsafe_no_isolation: run without Linux namespaces (trusted code only).
        in_process: run each row's program and tests in one interpreter (weaker: see
            :data:`IN_PROCESS_NOTICE`, which is logged); by default the tests run in a process the
            candidate's code cannot touch, calling it across the boundary with plain data.

    Returns:
        Counts per status, plus ``total``.

    Raises:
        InputError: a malformed line, a missing field or a non-string field, naming ``file:line``;
            an ``output`` that is a directory or cannot be written. Checked before any program runs.
        ValueError: ``timeout`` is not a finite number above 0.
        IsolationUnavailable: the kernel refuses namespaces and ``unsafe_no_isolation`` is False.
    """
    check_run_settings(timeout, output)
    if in_process:
        _log.warning(IN_PROCESS_NOTICE)
    build = task_program if in_process else tested_code
    rows, programs = [], []
    for lineno, row in iter_jsonl(input, required=REQUIRED_FIELDS):
        bad = [f for f in REQUIRED_FIELDS[1:] if not isinstance(row[f], str)]
        if bad:
            raise InputError(f"{input}:{lineno}: field(s) {', '.join(map(repr, bad))} must be strings")
        rows.append(row)
        programs.append(build(row["prompt"], row["completion"], row["test"], row["entry_point"]))
    results: list[SandboxResult] = []
    if programs:
        with Sandbox(workers=workers, timeout_s=timeout, unsafe_no_isolation=unsafe_no_isolation) as sandbox:
            results = sandbox.run(programs, progress="verify")
    out_rows: list[dict[str, Any]] = [
        {**row, "passed": r.passed, "status": r.status, "duration_s": round(r.duration_s, 4)}
        for row, r in zip(rows, results, strict=True)
    ]
    atomic_write_jsonl(output, out_rows)
    counts = {status: sum(r.status == status for r in results) for status in STATUSES}
    counts["total"] = len(results)
    return counts
