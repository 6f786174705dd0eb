"""Build ``code_tasks/code_tasks.jsonl``: the `code` domain's own programming tasks, in HumanEval's schema.

Each task is written once, as a :class:`TaskSpec`: a signature, a one-paragraph description, the
reference body and a handful of calls. The builder runs the reference body on those calls and writes
the docstring examples (the first calls) and the ``check(candidate)`` asserts (all calls) from the
values it returns, so the examples, the tests and the solution cannot disagree. Then every task is
run once (the reference must pass, a ``pass`` stub must fail) and the train / heldout split is
assigned, stratified by family. The specs themselves are data and live in the ``specs_*`` modules
beside this one, grouped by theme, one family per function, each family being a few parameterised
variations on a theme; :func:`all_specs` lists the families in order.

Run it once after editing a spec; the data file is committed::

    python -m polyrlaif.datasets.code_tasks.build
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import importlib
import re
import textwrap
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "DATA_PATH",
    "FAMILIES",
    "HELDOUT_FRACTION",
    "TaskSpec",
    "all_specs",
    "assign_splits",
    "build_rows",
    "main",
    "render",
]

DATA_PATH = Path(__file__).with_name("code_tasks.jsonl")
HELDOUT_FRACTION = 0.37  # the smallest fraction that holds out 100 tasks (see assign_splits)
MAX_HUMANEVAL_JACCARD = 0.6  # word-set Jaccard of a prompt against every HumanEval prompt stays below this
_TYPING_NAMES = ("Dict", "List", "Optional", "Tuple")
_WRAP = 96


@dataclass(frozen=True)
class TaskSpec:
    """One programming task before rendering.

    Attributes:
        family: task family, e.g. ``"strings"``; part of the task id.
        name: function name (the entry point).
        signature: parameters and return annotation, e.g. ``"(nums: List[int]) -> int"``.
        difficulty: ``"easy"`` or ``"medium"``.
        doc: the docstring's description, one paragraph, without examples.
        body: the reference function body, at any indentation (it is dedented).
        calls: argument lists as source text, e.g. ``"[1, 2], 3"``; 4 to 8 of them.
        n_examples: how many of the first calls become docstring examples.
    """

    family: str
    name: str
    signature: str
    difficulty: str
    doc: str
    body: str
    calls: Sequence[str] = field(default_factory=tuple)
    n_examples: int = 2


def _imports(signature: str) -> str:
    names = [n for n in _TYPING_NAMES if re.search(rf"\b{n}\[", signature)]
    return f"from typing import {', '.join(names)}\n\n\n" if names else ""


def _render_prompt(spec: TaskSpec, example_lines: list[str]) -> str:
    doc = textwrap.fill(
        " ".join(spec.doc.split()), width=_WRAP, initial_indent='    """', subsequent_indent="    "
    )
    examples = "".join(f"    {line}\n" for line in example_lines)
    return f'{_imports(spec.signature)}def {spec.name}{spec.signature}:\n{doc}\n{examples}    """\n'


def _assert_line(call: str, out: object) -> str:
    if isinstance(out, float):
        return f"    assert abs(candidate({call}) - {out!r}) < 1e-6\n"
    return f"    assert candidate({call}) == {out!r}\n"


def render(spec: TaskSpec) -> dict:
    """Render one spec into a HumanEval-schema row (without ``task_id`` and ``split``).

    Raises:
        ValueError: if the spec is malformed or its tests could not tell a right answer from a wrong one.
    """
    where = f"{spec.family}/{spec.name}"
    if spec.difficulty not in ("easy", "medium"):
        raise ValueError(f"{where}: difficulty {spec.difficulty!r}")
    if not 4 <= len(spec.calls) <= 8 or not 1 <= spec.n_examples <= 2:
        raise ValueError(f"{where}: needs 4-8 calls and 1-2 examples ({len(spec.calls)}/{spec.n_examples})")
    body = textwrap.indent(textwrap.dedent(spec.body).strip("\n") + "\n", "    ")
    stub_prompt = _render_prompt(spec, [])
    ns: dict = {}
    exec(compile(stub_prompt + body, f"<{where}>", "exec"), ns)  # noqa: S102 - our own reference code
    fn = ns[spec.name]
    outputs = []
    for call in spec.calls:
        args = eval(f"({call},)", {})  # noqa: S307 - literal arguments written in this package
        out = fn(*copy.deepcopy(args))
        if eval(repr(out), {}) != out:  # noqa: S307
            raise ValueError(f"{where}: output of ({call}) does not round-trip through repr: {out!r}")
        outputs.append(out)
    if len({repr(o) for o in outputs}) < 2 or all(o is None for o in outputs):
        raise ValueError(f"{where}: all calls give the same answer, a constant would pass")
    example_lines = []
    n = spec.n_examples
    for call, out in zip(spec.calls[:n], outputs[:n], strict=True):
        example_lines += [f">>> {spec.name}({call})", repr(out)]
    asserts = [_assert_line(c, o) for c, o in zip(spec.calls, outputs, strict=True)]
    test = "def check(candidate):\n" + "".join(asserts)
    return {
        "family": spec.family,
        "difficulty": spec.difficulty,
        "prompt": _render_prompt(spec, example_lines),
        "canonical_solution": body,
        "test": test,
        "entry_point": spec.name,
    }


def _self_check(row: dict) -> None:
    """The reference passes its tests, and a ``pass`` stub fails them (in this process: our own code)."""
    tail = f"\n{row['test']}\ncheck({row['entry_point']})\n"
    exec(row["prompt"] + row["canonical_solution"] + tail, {})  # noqa: S102
    try:
        exec(row["prompt"] + "    pass\n" + tail, {})  # noqa: S102
    except Exception:  # an AssertionError, or a TypeError from comparing None with a number
        return
    raise ValueError(f"{row['task_id']}: a `pass` stub passes the tests")


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def assign_splits(rows: list[dict], fraction: float = HELDOUT_FRACTION) -> None:
    """Set ``row["split"]`` in place, stratified by family and deterministic.

    Per family, the ``round(fraction * n)`` tasks with the smallest SHA-256 of their task id are held
    out (at least one in any family of five or more). Adding tasks to one family leaves the split of
    the others unchanged.
    """
    by_family: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_family[row["family"]].append(row)
    for members in by_family.values():
        n = len(members)
        k = max(round(fraction * n), 1 if n >= 5 else 0)
        ranked = sorted(members, key=lambda r: hashlib.sha256(r["task_id"].encode()).hexdigest())
        for i, row in enumerate(ranked):
            row["split"] = "heldout" if i < k else "train"


def build_rows(specs: Sequence[TaskSpec] | None = None) -> list[dict]:
    """Render, number, split and self-check every spec; rows come out in spec order.

    Raises:
        ValueError: on a duplicate entry point, a clash with a HumanEval entry point or a near-duplicate
            of a HumanEval prompt, or a task whose tests do not separate its reference from a stub.
    """
    from polyrlaif.datasets.code_tasks import TASK_FIELDS, load_humaneval

    specs = all_specs() if specs is None else specs
    humaneval = load_humaneval()
    humaneval_names = {t["entry_point"] for t in humaneval}
    humaneval_words = [(t["task_id"], _words(t["prompt"])) for t in humaneval]
    seen: set[str] = set()
    counters: dict[str, int] = defaultdict(int)
    rows = []
    for spec in specs:
        if spec.name in seen or spec.name in humaneval_names:
            raise ValueError(f"{spec.family}/{spec.name}: entry point reused (here or in HumanEval)")
        seen.add(spec.name)
        row = {"task_id": f"polyrlaif/{spec.family}/{counters[spec.family]}", **render(spec)}
        words = _words(row["prompt"])
        for he_id, he_words in humaneval_words:
            if len(words & he_words) / len(words | he_words) >= MAX_HUMANEVAL_JACCARD:
                raise ValueError(f"{row['task_id']}: prompt is a near-duplicate of {he_id}")
        counters[spec.family] += 1
        _self_check(row)
        rows.append(row)
    assign_splits(rows)
    return [{k: row[k] for k in TASK_FIELDS} for row in rows]


def main(argv: Sequence[str] | None = None) -> None:
    """Write the data file (atomically) and print a per-family summary."""
    from polyrlaif.core.io import atomic_write_jsonl

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DATA_PATH)
    args = parser.parse_args(argv)
    rows = build_rows()
    atomic_write_jsonl(args.output, rows)
    args.output.chmod(0o644)  # package data: readable by everyone (the atomic temp file starts as 0600)
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        counts[row["family"]][row["split"] == "heldout"] += 1
    for fam, (train, held) in counts.items():
        print(f"{fam:15s} train {train:3d} heldout {held:2d}")
    held = sum(c[1] for c in counts.values())
    print(f"{len(rows)} tasks, {len(counts)} families, {len(rows) - held} train, {held} heldout")
    print(f"wrote {args.output}")


# Every family as "<module suffix>:<function>" in datasets/code_tasks/specs_<suffix>.py. The order fixes the
# row order of the data file; task ids are numbered within a family, so appending a family changes no id.
FAMILIES = (
    "text:strings",
    "lists:list_arithmetic",
    "scanning:counting",
    "ordering:searching",
    "ordering:sorting",
    "numbers:number_theory",
    "collections:dicts",
    "parsing:parsing",
    "geometry:matrices",
    "time:intervals",
    "time:calendar",
    "encoding:run_length",
    "numbers:bits",
    "stacks:brackets",
    "scanning:windows",
    "recurrences:dynamic_programming",
    "geometry:geometry",
    "collections:sets",
    "text:formatting",
    "encoding:ciphers",
    "recurrences:sequences",
    "lists:list_ops",
)


def all_specs() -> list[TaskSpec]:
    """Every task spec, family by family, in :data:`FAMILIES` order."""
    specs: list[TaskSpec] = []
    for ref in FAMILIES:
        # Imported here, not at the top: the spec modules import TaskSpec from this one.
        suffix, name = ref.split(":")
        module = importlib.import_module(f"polyrlaif.datasets.code_tasks.specs_{suffix}")
        specs += getattr(module, name)()
    return specs


if __name__ == "__main__":
    main()
