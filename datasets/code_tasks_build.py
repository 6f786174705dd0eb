"""Build ``data/code_tasks.jsonl``: the `code` domain's own programming tasks, in HumanEval's schema.

Each task is written here once, as a :class:`TaskSpec`: a signature, a one-paragraph description, the
reference body and a handful of calls. The builder runs the reference body on those calls and writes
the docstring examples (the first calls) and the ``check(candidate)`` asserts (all calls) from the
values it returns, so the examples, the tests and the solution cannot disagree. Then every task is
run once (the reference must pass, a ``pass`` stub must fail) and the train / heldout split is
assigned, stratified by family. Most of this file is the specs themselves: it is data, one family
per function, each family being a few parameterised variations on a theme.

Run it once after editing a spec; the data file is committed::

    python -m polyrlaif.datasets.code_tasks_build
"""

from __future__ import annotations

import argparse
import copy
import functools
import hashlib
import re
import textwrap
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "DATA_PATH", "HELDOUT_FRACTION", "TaskSpec", "all_specs", "assign_splits", "build_rows", "main", "render",
]

DATA_PATH = Path(__file__).with_name("data") / "code_tasks.jsonl"
HELDOUT_FRACTION = 0.2
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



# ----------------------------------------------------------------------------------------------------
# The specs. Calls are argument source text; the first ``n_examples`` become docstring examples, so
# they are kept short and readable, and the edge cases (empty input, ties, boundaries) come after.
# ----------------------------------------------------------------------------------------------------


def _strings() -> list[TaskSpec]:
    t = functools.partial(TaskSpec, "strings")
    return [
        t("reverse_words", "(s: str) -> str", "easy",
          "Return the words of s in reverse order, joined by single spaces. Words are separated by "
          "whitespace.",
          """
          return " ".join(s.split()[::-1])
          """,
          ["'hello big world'", "'one'", "''", "'  a   b '", "'x y z w'"]),
        t("capitalize_each_word", "(s: str) -> str", "easy",
          "Return s with the first letter of every word (words are separated by single spaces) changed "
          "to upper case. The rest of each word stays as it is.",
          """
          return " ".join(w[:1].upper() + w[1:] for w in s.split(" "))
          """,
          ["'hello world'", "'a bC d'", "''", "'already Fine'", "'mIxEd case'", "'x'"]),
        t("remove_char", "(s: str, ch: str) -> str", "easy",
          "Return s with every occurrence of the character ch removed.",
          """
          return s.replace(ch, "")
          """,
          ["'banana', 'a'", "'hello', 'z'", "'', 'a'", "'aaa', 'a'", "'Mississippi', 's'"]),
        t("swap_first_last", "(s: str) -> str", "easy",
          "Return s with its first and last characters swapped. A string shorter than two characters "
          "is returned unchanged.",
          """
          if len(s) < 2:
              return s
          return s[-1] + s[1:-1] + s[0]
          """,
          ["'hello'", "'ab'", "'a'", "''", "'python'"]),
        t("repeat_each_char", "(s: str, k: int) -> str", "easy",
          "Return a string in which every character of s is repeated k times in a row.",
          """
          return "".join(c * k for c in s)
          """,
          ["'abc', 2", "'xy', 3", "'', 5", "'hi', 1", "'z', 0"]),
        t("alternate_case", "(s: str) -> str", "easy",
          "Return s with the characters at even indexes in upper case and the characters at odd "
          "indexes in lower case.",
          """
          return "".join(c.upper() if i % 2 == 0 else c.lower() for i, c in enumerate(s))
          """,
          ["'hello'", "'ABCD'", "''", "'a b c'", "'x'"]),
        t("mask_all_but_last", "(s: str, k: int) -> str", "easy",
          "Replace every character of s except the last k characters with '#'. A string with at most k "
          "characters is returned unchanged.",
          """
          if len(s) <= k:
              return s
          return "#" * (len(s) - k) + s[len(s) - k:]
          """,
          ["'1234567890', 4", "'abc', 5", "'secret', 0", "'', 2", "'abcd', 4", "'ab', 1"]),
        t("middle_chars", "(s: str) -> str", "easy",
          "Return the middle character of s if its length is odd, or the middle two characters if its "
          "length is even. Return an empty string for an empty input.",
          """
          n = len(s)
          if n == 0:
              return ""
          if n % 2 == 1:
              return s[n // 2]
          return s[n // 2 - 1:n // 2 + 1]
          """,
          ["'abc'", "'abcd'", "'a'", "''", "'testing'", "'middle'"]),
        t("interleave_strings", "(a: str, b: str) -> str", "medium",
          "Merge two strings by taking one character from each in turn, starting with a. When one "
          "string runs out, append the rest of the other one.",
          """
          out = []
          for i in range(max(len(a), len(b))):
              if i < len(a):
                  out.append(a[i])
              if i < len(b):
                  out.append(b[i])
          return "".join(out)
          """,
          ["'abc', 'XYZ'", "'ab', 'WXYZ'", "'', 'xyz'", "'hello', ''", "'a', 'b'"]),
        t("is_rotation", "(a: str, b: str) -> bool", "medium",
          "Return True if b can be obtained from a by a rotation, that is by moving some prefix of a to "
          "its end (possibly the empty prefix). Otherwise return False.",
          """
          return len(a) == len(b) and b in a + a
          """,
          ["'waterbottle', 'erbottlewat'", "'abc', 'acb'", "'', ''", "'ab', 'aba'", "'aaab', 'abaa'",
           "'abcd', 'dabc'"]),
        t("longest_common_prefix", "(words: List[str]) -> str", "medium",
          "Return the longest string that is a prefix of every word in words. Return an empty string "
          "for an empty list.",
          """
          if not words:
              return ""
          prefix = words[0]
          for w in words[1:]:
              while not w.startswith(prefix):
                  prefix = prefix[:-1]
          return prefix
          """,
          ["['flower', 'flow', 'flight']", "['dog', 'car']", "[]", "['same', 'same']", "['prefix']",
           "['ab', 'abc', 'a']"]),
        t("camel_to_snake", "(name: str) -> str", "medium",
          "Convert a camelCase or PascalCase identifier to snake_case: put '_' before every upper-case "
          "letter that is not the first character, then lower-case the whole string.",
          """
          out = []
          for i, c in enumerate(name):
              if c.isupper() and i > 0:
                  out.append("_")
              out.append(c.lower())
          return "".join(out)
          """,
          ["'camelCase'", "'PascalCaseName'", "'lower'", "''", "'aB'", "'getX'"]),
        t("snake_to_camel", "(name: str) -> str", "medium",
          "Convert a snake_case identifier to camelCase: remove each '_' and upper-case the letter that "
          "followed it. The first word stays as it is.",
          """
          parts = name.split("_")
          return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])
          """,
          ["'snake_case_name'", "'word'", "''", "'a_b_c'", "'get_x'"]),
    ]


def _list_arithmetic() -> list[TaskSpec]:
    t = functools.partial(TaskSpec, "list_arithmetic")
    specs = [
        t("sum_of_evens", "(nums: List[int]) -> int", "easy",
          "Return the sum of the even numbers in nums.",
          """
          return sum(x for x in nums if x % 2 == 0)
          """,
          ["[1, 2, 3, 4]", "[1, 3, 5]", "[]", "[-2, 7, 10]", "[0, 0, 6]"]),
        t("sum_of_odds", "(nums: List[int]) -> int", "easy",
          "Return the sum of the odd numbers in nums.",
          """
          return sum(x for x in nums if x % 2 != 0)
          """,
          ["[1, 2, 3, 4]", "[2, 4]", "[]", "[-3, 7, 10]", "[5]"]),
        t("product_of_list", "(nums: List[int]) -> int", "easy",
          "Return the product of all numbers in nums. The product of an empty list is 1.",
          """
          result = 1
          for x in nums:
              result *= x
          return result
          """,
          ["[1, 2, 3, 4]", "[]", "[5]", "[-2, 3]", "[7, 0, 9]"]),
        t("sum_of_cubes", "(nums: List[int]) -> int", "easy",
          "Return the sum of the cubes of the numbers in nums.",
          """
          return sum(x ** 3 for x in nums)
          """,
          ["[1, 2, 3]", "[]", "[-2, 2]", "[4]", "[0, -1]"]),
        t("list_average", "(nums: List[float]) -> float", "easy",
          "Return the arithmetic mean of nums, or 0.0 if the list is empty.",
          """
          if not nums:
              return 0.0
          return sum(nums) / len(nums)
          """,
          ["[1.0, 2.0, 3.0]", "[]", "[5.5]", "[-1.0, 1.0]", "[2.0, 3.0]"]),
        t("spread_of_values", "(nums: List[int]) -> int", "easy",
          "Return the difference between the largest and the smallest number in nums, or 0 for an "
          "empty list.",
          """
          if not nums:
              return 0
          return max(nums) - min(nums)
          """,
          ["[3, 9, 1]", "[4]", "[]", "[-5, 5]", "[2, 2, 2]"]),
        t("running_totals", "(nums: List[int]) -> List[int]", "easy",
          "Return the running totals of nums: element i of the result is nums[0] + ... + nums[i].",
          """
          out = []
          total = 0
          for x in nums:
              total += x
              out.append(total)
          return out
          """,
          ["[1, 2, 3]", "[]", "[5]", "[3, -3, 3]", "[0, 0, 1]"]),
        t("neighbour_differences", "(nums: List[int]) -> List[int]", "easy",
          "Return the list of nums[i + 1] - nums[i] for every pair of neighbours in nums.",
          """
          return [b - a for a, b in zip(nums, nums[1:])]
          """,
          ["[1, 4, 9, 16]", "[5, 3, 8]", "[]", "[7]", "[2, 2]"]),
        t("elementwise_sum", "(a: List[int], b: List[int]) -> List[int]", "easy",
          "Return the list whose i-th element is a[i] + b[i]. The two lists have the same length.",
          """
          return [x + y for x, y in zip(a, b)]
          """,
          ["[1, 2, 3], [10, 20, 30]", "[], []", "[-1], [1]", "[5, 5], [0, -5]"]),
        t("dot_product", "(a: List[int], b: List[int]) -> int", "easy",
          "Return the dot product of a and b (the sum of a[i] * b[i]). The lists have the same length.",
          """
          return sum(x * y for x, y in zip(a, b))
          """,
          ["[1, 2, 3], [4, 5, 6]", "[], []", "[2], [-3]", "[1, 0, 1], [0, 9, 0]", "[-1, -2], [-3, -4]"]),
        t("sum_above", "(nums: List[int], limit: int) -> int", "easy",
          "Return the sum of the numbers in nums that are strictly greater than limit.",
          """
          return sum(x for x in nums if x > limit)
          """,
          ["[1, 5, 10], 4", "[1, 2], 5", "[], 0", "[3, 3, 4], 3", "[-1, -5, 2], -2"]),
        t("clamp_all", "(nums: List[int], lo: int, hi: int) -> List[int]", "easy",
          "Return a new list in which every number of nums below lo is replaced by lo and every number "
          "above hi is replaced by hi. lo is not greater than hi.",
          """
          return [min(max(x, lo), hi) for x in nums]
          """,
          ["[1, 5, 10], 2, 8", "[], 0, 1", "[-3, 0, 3], -1, 1", "[4, 4], 4, 4", "[7], 0, 10"]),
    ]
    for k in (3, 5, 7):
        specs.append(t(
            f"sum_multiples_of_{k}", "(nums: List[int]) -> int", "easy",
            f"Return the sum of the numbers in nums that are divisible by {k}.",
            f"""
            return sum(x for x in nums if x % {k} == 0)
            """,
            [f"[1, {k}, {2 * k}, {k + 1}]", f"[{k + 1}]", "[]", f"[-{k}, 0, {k * k}]", f"[{3 * k}, 2, 1]"]))
    return specs


def _counting() -> list[TaskSpec]:
    t = functools.partial(TaskSpec, "counting")
    return [
        t("count_words", "(text: str) -> int", "easy",
          "Return the number of words in text, where words are separated by whitespace.",
          """
          return len(text.split())
          """,
          ["'hello world'", "''", "'  one  '", "'a b c d'", "'tab\\tseparated words'"]),
        t("count_negatives", "(nums: List[int]) -> int", "easy",
          "Return how many numbers in nums are negative.",
          """
          return sum(1 for x in nums if x < 0)
          """,
          ["[-1, 2, -3]", "[]", "[0, 1]", "[-5, -5]", "[4, -1, 0, 9]"]),
        t("count_greater_than", "(nums: List[int], limit: int) -> int", "easy",
          "Return how many numbers in nums are strictly greater than limit.",
          """
          return sum(1 for x in nums if x > limit)
          """,
          ["[1, 5, 10], 4", "[], 3", "[3, 3], 3", "[-1, 0, 1], -1", "[9, 8, 7], 0"]),
        t("count_char", "(s: str, ch: str) -> int", "easy",
          "Return how many times the character ch occurs in s.",
          """
          return s.count(ch)
          """,
          ["'banana', 'a'", "'hello', 'z'", "'', 'x'", "'aAaA', 'A'", "'  ', ' '"]),
        t("count_distinct_values", "(nums: List[int]) -> int", "easy",
          "Return the number of different values in nums.",
          """
          return len(set(nums))
          """,
          ["[1, 2, 2, 3]", "[]", "[7, 7, 7]", "[-1, 1]", "[0, 1, 0, 1, 2]"]),
        t("count_digit_chars", "(s: str) -> int", "easy",
          "Return how many characters of s are decimal digits.",
          """
          return sum(1 for c in s if c.isdigit())
          """,
          ["'abc123'", "'no digits'", "''", "'2024-01-05'", "'7'"]),
        t("count_pairs_with_sum", "(nums: List[int], target: int) -> int", "medium",
          "Return the number of index pairs (i, j) with i < j such that nums[i] + nums[j] == target.",
          """
          count = 0
          for i in range(len(nums)):
              for j in range(i + 1, len(nums)):
                  if nums[i] + nums[j] == target:
                      count += 1
          return count
          """,
          ["[1, 2, 3, 4], 5", "[1, 1, 1], 2", "[], 0", "[5], 10", "[0, -1, 1, 2], 1", "[3, 3, 3, 3], 7"]),
        t("most_frequent_value", "(nums: List[int]) -> int", "medium",
          "Return the value that occurs most often in nums. If several values occur equally often, "
          "return the smallest of them. nums is not empty.",
          """
          counts = {}
          for x in nums:
              counts[x] = counts.get(x, 0) + 1
          return min(counts, key=lambda x: (-counts[x], x))
          """,
          ["[1, 3, 3, 2]", "[4, 4, 1, 1]", "[7]", "[-1, -1, 5, 5, 5]", "[9, 8, 9, 8, 0]"]),
        t("count_multiples_between", "(lo: int, hi: int, k: int) -> int", "easy",
          "Return how many integers x with lo <= x <= hi are divisible by k. k is positive.",
          """
          return sum(1 for x in range(lo, hi + 1) if x % k == 0)
          """,
          ["1, 10, 3", "5, 5, 5", "10, 1, 2", "-6, 6, 4", "0, 0, 7", "1, 4, 5"]),
        t("count_equal_neighbours", "(nums: List[int]) -> int", "easy",
          "Return how many positions i satisfy nums[i] == nums[i + 1].",
          """
          return sum(1 for a, b in zip(nums, nums[1:]) if a == b)
          """,
          ["[1, 1, 2, 2, 2]", "[1, 2, 3]", "[]", "[5]", "[0, 0]"]),
        t("count_capitalized_words", "(text: str) -> int", "easy",
          "Return how many whitespace-separated words in text start with an upper-case letter.",
          """
          return sum(1 for w in text.split() if w[0].isupper())
          """,
          ["'Hello there World'", "'all lower'", "''", "'ABC def Ghi'", "'1st Place'"]),
        t("count_odd_length_words", "(text: str) -> int", "easy",
          "Return how many whitespace-separated words in text have an odd number of characters.",
          """
          return sum(1 for w in text.split() if len(w) % 2 == 1)
          """,
          ["'a bb ccc'", "'even word'", "''", "'x'", "'one three seven'"]),
        t("count_sign_changes", "(nums: List[int]) -> int", "medium",
          "Ignore the zeros in nums, then return how many neighbouring pairs of the remaining numbers "
          "have different signs.",
          """
          signs = [x > 0 for x in nums if x != 0]
          return sum(1 for a, b in zip(signs, signs[1:]) if a != b)
          """,
          ["[1, -2, 3]", "[1, 0, -1, 0, -5]", "[]", "[0, 0]", "[2, 3, 4]", "[-1, 1, -1, 1]"]),
    ]


def _searching() -> list[TaskSpec]:
    t = functools.partial(TaskSpec, "searching")
    return [
        t("first_negative_index", "(nums: List[int]) -> int", "easy",
          "Return the index of the first negative number in nums, or -1 if there is none.",
          """
          for i, x in enumerate(nums):
              if x < 0:
                  return i
          return -1
          """,
          ["[3, -1, -2]", "[1, 2]", "[]", "[-7]", "[0, 0, 5, -5]"]),
        t("last_index_of", "(nums: List[int], x: int) -> int", "easy",
          "Return the index of the last occurrence of x in nums, or -1 if x does not occur.",
          """
          for i in range(len(nums) - 1, -1, -1):
              if nums[i] == x:
                  return i
          return -1
          """,
          ["[1, 2, 1, 3], 1", "[1, 2], 5", "[], 0", "[4], 4", "[7, 7, 7], 7"]),
        t("binary_search", "(nums: List[int], x: int) -> int", "medium",
          "nums is sorted in ascending order and has no repeated values. Return the index of x in nums, "
          "or -1 if x is not in nums.",
          """
          lo, hi = 0, len(nums) - 1
          while lo <= hi:
              mid = (lo + hi) // 2
              if nums[mid] == x:
                  return mid
              if nums[mid] < x:
                  lo = mid + 1
              else:
                  hi = mid - 1
          return -1
          """,
          ["[1, 3, 5, 7], 5", "[1, 3, 5, 7], 4", "[], 1", "[2], 2", "[-5, 0, 5, 10, 15], -5",
           "[-5, 0, 5, 10, 15], 15", "[1, 2], 3"]),
        t("index_of_max", "(nums: List[int]) -> int", "easy",
          "Return the index of the largest value in nums. If the largest value occurs more than once, "
          "return its first index. Return -1 for an empty list.",
          """
          if not nums:
              return -1
          return nums.index(max(nums))
          """,
          ["[3, 9, 2]", "[5, 5, 1]", "[]", "[-3, -1, -1]", "[0]"]),
        t("first_repeated_value", "(nums: List[int]) -> int", "medium",
          "Return the first value of nums whose second occurrence comes earliest when reading the list "
          "from left to right. Return -1 if all values are different.",
          """
          seen = set()
          for x in nums:
              if x in seen:
                  return x
              seen.add(x)
          return -1
          """,
          ["[2, 5, 1, 5, 2]", "[1, 2, 3]", "[]", "[4, 4]", "[3, 1, 2, 1, 3]"]),
        t("find_missing_number", "(nums: List[int]) -> int", "medium",
          "nums contains n different numbers taken from 0, 1, ..., n, so exactly one number of that "
          "range is missing. Return it.",
          """
          n = len(nums)
          return n * (n + 1) // 2 - sum(nums)
          """,
          ["[3, 0, 1]", "[0, 1]", "[]", "[1]", "[0]", "[5, 4, 2, 1, 0]"]),
        t("second_largest_distinct", "(nums: List[int]) -> Optional[int]", "medium",
          "Return the second largest of the different values in nums, or None if nums has fewer than "
          "two different values.",
          """
          values = sorted(set(nums))
          if len(values) < 2:
              return None
          return values[-2]
          """,
          ["[4, 1, 9, 9]", "[3, 3]", "[]", "[-1, -2]", "[10, 20, 30, 20]"]),
        t("closest_value", "(nums: List[int], target: int) -> int", "medium",
          "Return the number in nums that is closest to target. If two numbers are equally close, "
          "return the smaller one. nums is not empty.",
          """
          return min(nums, key=lambda x: (abs(x - target), x))
          """,
          ["[1, 5, 9], 6", "[1, 5, 9], 7", "[4], 100", "[-3, 3], 0", "[10, 20, 30], 26", "[2, 2], 2"]),
        t("indexes_of", "(nums: List[int], x: int) -> List[int]", "easy",
          "Return the list of all indexes at which x occurs in nums.",
          """
          return [i for i, v in enumerate(nums) if v == x]
          """,
          ["[1, 2, 1, 3, 1], 1", "[1, 2], 5", "[], 0", "[6], 6"]),
        t("first_unique_char_index", "(s: str) -> int", "medium",
          "Return the index of the first character of s that occurs exactly once in s, or -1 if every "
          "character repeats.",
          """
          for i, c in enumerate(s):
              if s.count(c) == 1:
                  return i
          return -1
          """,
          ["'leetcode'", "'aabb'", "''", "'abcab'", "'z'"]),
        t("has_repeated_value", "(nums: List[int]) -> bool", "easy",
          "Return True if some value occurs more than once in nums, otherwise False.",
          """
          return len(set(nums)) < len(nums)
          """,
          ["[1, 2, 3, 1]", "[1, 2, 3]", "[]", "[0, 0]", "[5]"]),
        t("find_pair_with_sum", "(nums: List[int], target: int) -> Tuple[int, int]", "medium",
          "Return a pair of indexes (i, j) with i < j and nums[i] + nums[j] == target. Choose the "
          "smallest possible i, and for that i the smallest j. Return (-1, -1) if there is no such pair.",
          """
          for i in range(len(nums)):
              for j in range(i + 1, len(nums)):
                  if nums[i] + nums[j] == target:
                      return (i, j)
          return (-1, -1)
          """,
          ["[2, 7, 11, 15], 9", "[1, 2], 5", "[], 0", "[3, 3, 3], 6", "[1, 4, 2, 3], 5"]),
    ]


def _sorting() -> list[TaskSpec]:
    t = functools.partial(TaskSpec, "sorting")
    return [
        t("sort_by_length", "(words: List[str]) -> List[str]", "easy",
          "Return words sorted by length, shortest first. Words of the same length keep their original "
          "order.",
          """
          return sorted(words, key=len)
          """,
          ["['ccc', 'a', 'bb']", "['to', 'be', 'or']", "[]", "['long', 'x', 'mid', 'y']"]),
        t("sort_descending", "(nums: List[int]) -> List[int]", "easy",
          "Return the numbers of nums sorted from largest to smallest.",
          """
          return sorted(nums, reverse=True)
          """,
          ["[3, 1, 2]", "[]", "[5, 5, -1]", "[0]", "[-2, -8, 4]"]),
        t("sort_by_last_char", "(words: List[str]) -> List[str]", "medium",
          "Return words sorted by their last character. Words that end with the same character keep "
          "their original order. All words are non-empty.",
          """
          return sorted(words, key=lambda w: w[-1])
          """,
          ["['cab', 'bca', 'abc']", "['zz', 'az']", "[]", "['hat', 'bus', 'ant', 'ski']"]),
        t("sort_by_absolute_value", "(nums: List[int]) -> List[int]", "easy",
          "Return nums sorted by absolute value. Numbers with the same absolute value keep their "
          "original order.",
          """
          return sorted(nums, key=abs)
          """,
          ["[-5, 2, -1]", "[3, -3, 0]", "[]", "[-10, 9, -8]", "[7]"]),
        t("evens_then_odds", "(nums: List[int]) -> List[int]", "medium",
          "Return the even numbers of nums in ascending order, followed by the odd numbers of nums in "
          "ascending order.",
          """
          return sorted(x for x in nums if x % 2 == 0) + sorted(x for x in nums if x % 2 != 0)
          """,
          ["[5, 2, 3, 8]", "[1, 3]", "[]", "[4, -2, -1, 0]", "[9, 7, 6]"]),
        t("sort_pairs_by_second", "(pairs: List[Tuple[str, int]]) -> List[Tuple[str, int]]", "easy",
          "Return pairs sorted by their second element in ascending order. Pairs with the same second "
          "element keep their original order.",
          """
          return sorted(pairs, key=lambda p: p[1])
          """,
          ["[('a', 3), ('b', 1), ('c', 2)]", "[('x', 0), ('y', 0)]", "[]",
           "[('k', -1), ('j', 5), ('i', -2)]"],
          n_examples=1),
        t("sort_ignoring_case", "(words: List[str]) -> List[str]", "easy",
          "Return words sorted alphabetically, ignoring the difference between upper and lower case. "
          "Words that compare equal keep their original order.",
          """
          return sorted(words, key=str.lower)
          """,
          ["['banana', 'Apple', 'cherry']", "['b', 'B', 'a']", "[]", "['Zed', 'alpha', 'Mid']"]),
        t("sort_by_frequency", "(nums: List[int]) -> List[int]", "medium",
          "Return nums sorted so that values that occur more often come first; values that occur "
          "equally often are in ascending order. Every occurrence is kept.",
          """
          counts = {}
          for x in nums:
              counts[x] = counts.get(x, 0) + 1
          return sorted(nums, key=lambda x: (-counts[x], x))
          """,
          ["[1, 2, 2, 3, 3, 3]", "[4, 1, 4, 1]", "[]", "[5]", "[2, 1, 3, 1]"]),
        t("merge_sorted_lists", "(a: List[int], b: List[int]) -> List[int]", "medium",
          "a and b are sorted in ascending order. Return one ascending list containing all elements of "
          "both.",
          """
          i = j = 0
          out = []
          while i < len(a) and j < len(b):
              if a[i] <= b[j]:
                  out.append(a[i])
                  i += 1
              else:
                  out.append(b[j])
                  j += 1
          return out + a[i:] + b[j:]
          """,
          ["[1, 4, 6], [2, 3, 7]", "[], [1, 2]", "[], []", "[5], [5]", "[-3, 0], [-5, 10, 20]"]),
        t("kth_smallest", "(nums: List[int], k: int) -> int", "easy",
          "Return the k-th smallest element of nums, where k = 1 means the smallest. Repeated values "
          "count separately. 1 <= k <= len(nums).",
          """
          return sorted(nums)[k - 1]
          """,
          ["[7, 1, 5], 2", "[3, 3, 1], 3", "[9], 1", "[4, 2, 2, 8], 2", "[-1, -6, 0], 1"]),
        t("count_inversions", "(nums: List[int]) -> int", "medium",
          "Return the number of index pairs (i, j) with i < j and nums[i] > nums[j].",
          """
          return sum(1 for i in range(len(nums)) for j in range(i + 1, len(nums)) if nums[i] > nums[j])
          """,
          ["[2, 4, 1, 3, 5]", "[1, 2, 3]", "[]", "[3, 2, 1]", "[1, 1, 1]"]),
        t("is_non_increasing", "(nums: List[int]) -> bool", "easy",
          "Return True if every element of nums is greater than or equal to the element after it.",
          """
          return all(a >= b for a, b in zip(nums, nums[1:]))
          """,
          ["[5, 3, 3, 1]", "[1, 2]", "[]", "[4]", "[9, 8, 9]"]),
    ]


def _number_theory() -> list[TaskSpec]:
    t = functools.partial(TaskSpec, "number_theory")
    return [
        t("sum_of_digits", "(n: int) -> int", "easy",
          "Return the sum of the decimal digits of the non-negative integer n.",
          """
          return sum(int(d) for d in str(n))
          """,
          ["123", "0", "9", "1005", "99999"]),
        t("gcd_of_list", "(nums: List[int]) -> int", "medium",
          "Return the greatest common divisor of all numbers in nums. The numbers are positive and the "
          "list is not empty.",
          """
          def gcd(a, b):
              while b:
                  a, b = b, a % b
              return a

          result = nums[0]
          for x in nums[1:]:
              result = gcd(result, x)
          return result
          """,
          ["[12, 18, 24]", "[7, 13]", "[5]", "[100, 75, 50]", "[6, 6]"]),
        t("least_common_multiple", "(a: int, b: int) -> int", "easy",
          "Return the least common multiple of the positive integers a and b.",
          """
          x, y = a, b
          while y:
              x, y = y, x % y
          return a * b // x
          """,
          ["4, 6", "3, 5", "1, 1", "12, 12", "21, 6"]),
        t("is_perfect_number", "(n: int) -> bool", "medium",
          "A perfect number equals the sum of its divisors that are smaller than itself, like "
          "6 = 1 + 2 + 3. Return True if the positive integer n is perfect.",
          """
          return n > 1 and sum(d for d in range(1, n) if n % d == 0) == n
          """,
          ["6", "8", "1", "28", "496", "12"]),
        t("count_divisors", "(n: int) -> int", "easy",
          "Return the number of positive divisors of the positive integer n.",
          """
          return sum(1 for d in range(1, n + 1) if n % d == 0)
          """,
          ["6", "1", "7", "36", "100"]),
        t("sum_of_proper_divisors", "(n: int) -> int", "medium",
          "Return the sum of the positive divisors of the positive integer n that are smaller than n.",
          """
          return sum(d for d in range(1, n) if n % d == 0)
          """,
          ["12", "1", "13", "28", "16"]),
        t("nth_prime", "(n: int) -> int", "medium",
          "Return the n-th prime number, counting from nth_prime(1) == 2. n is positive.",
          """
          count = 0
          candidate = 1
          while count < n:
              candidate += 1
              if all(candidate % d for d in range(2, int(candidate ** 0.5) + 1)):
                  count += 1
          return candidate
          """,
          ["1", "4", "2", "10", "25"]),
        t("is_armstrong_number", "(n: int) -> bool", "medium",
          "An Armstrong number equals the sum of its digits each raised to the power of the number of "
          "digits, like 153 = 1**3 + 5**3 + 3**3. Return True if the non-negative integer n is one.",
          """
          digits = str(n)
          return sum(int(d) ** len(digits) for d in digits) == n
          """,
          ["153", "154", "0", "9474", "10", "370"]),
        t("reverse_digits", "(n: int) -> int", "easy",
          "Return the integer whose decimal digits are those of n in reverse order, keeping the sign of "
          "n. Leading zeros of the result disappear.",
          """
          sign = -1 if n < 0 else 1
          return sign * int(str(abs(n))[::-1])
          """,
          ["123", "-45", "0", "1200", "7"]),
        t("is_power_of_three", "(n: int) -> bool", "easy",
          "Return True if n is a power of three (1, 3, 9, 27, ...), otherwise False.",
          """
          if n < 1:
              return False
          while n % 3 == 0:
              n //= 3
          return n == 1
          """,
          ["27", "12", "1", "0", "-3", "243"]),
        t("digital_root", "(n: int) -> int", "medium",
          "Replace the non-negative integer n by the sum of its decimal digits, again and again, until a "
          "single digit remains. Return that digit.",
          """
          while n >= 10:
              n = sum(int(d) for d in str(n))
          return n
          """,
          ["38", "0", "5", "99999", "1000000"]),
        t("count_primes_below", "(n: int) -> int", "medium",
          "Return how many prime numbers are smaller than n.",
          """
          return sum(1 for k in range(2, n) if all(k % d for d in range(2, int(k ** 0.5) + 1)))
          """,
          ["10", "2", "0", "3", "30", "100"]),
        t("collatz_steps", "(n: int) -> int", "medium",
          "Starting from the positive integer n, repeatedly replace n by n // 2 when it is even and by "
          "3 * n + 1 when it is odd. Return how many replacements it takes to reach 1.",
          """
          steps = 0
          while n != 1:
              n = n // 2 if n % 2 == 0 else 3 * n + 1
              steps += 1
          return steps
          """,
          ["6", "1", "2", "7", "27"]),
        t("is_palindrome_number", "(n: int) -> bool", "easy",
          "Return True if the decimal digits of the non-negative integer n read the same forwards and "
          "backwards.",
          """
          return str(n) == str(n)[::-1]
          """,
          ["121", "123", "0", "10", "1221"]),
        t("are_coprime", "(a: int, b: int) -> bool", "easy",
          "Return True if the positive integers a and b have no common divisor greater than 1.",
          """
          while b:
              a, b = b, a % b
          return a == 1
          """,
          ["8, 15", "6, 9", "1, 1", "7, 7", "14, 25"]),
    ]


def _dicts() -> list[TaskSpec]:
    t = functools.partial(TaskSpec, "dicts")
    return [
        t("char_frequencies", "(s: str) -> Dict[str, int]", "easy",
          "Return a dictionary that maps each character of s to the number of times it occurs in s.",
          """
          counts = {}
          for c in s:
              counts[c] = counts.get(c, 0) + 1
          return counts
          """,
          ["'hello'", "''", "'aaa'", "'abab'", "'a b'"], n_examples=1),
        t("word_length_map", "(words: List[str]) -> Dict[str, int]", "easy",
          "Return a dictionary that maps each word in words to its length.",
          """
          return {w: len(w) for w in words}
          """,
          ["['hi', 'there']", "[]", "['a', 'a']", "['', 'xyz']"]),
        t("invert_dict", "(d: Dict[str, int]) -> Dict[int, str]", "easy",
          "Return a new dictionary with the keys and values of d swapped. The values of d are all "
          "different.",
          """
          return {v: k for k, v in d.items()}
          """,
          ["{'a': 1, 'b': 2}", "{}", "{'x': -5}", "{'one': 1, 'two': 2, 'three': 3}"]),
        t("group_by_first_letter", "(words: List[str]) -> Dict[str, List[str]]", "medium",
          "Group words by their first letter: return a dictionary that maps each first letter to the "
          "list of words starting with it, in their original order. All words are non-empty.",
          """
          groups = {}
          for w in words:
              groups.setdefault(w[0], []).append(w)
          return groups
          """,
          ["['apple', 'bob', 'avocado']", "[]", "['x']", "['cat', 'car', 'dog', 'cow']"], n_examples=1),
        t("group_by_length", "(words: List[str]) -> Dict[int, List[str]]", "medium",
          "Return a dictionary that maps each word length to the list of words in words with that "
          "length, in their original order.",
          """
          groups = {}
          for w in words:
              groups.setdefault(len(w), []).append(w)
          return groups
          """,
          ["['a', 'bb', 'c']", "[]", "['one', 'two', 'three']", "['', 'x', '']"], n_examples=1),
        t("merge_counts", "(a: Dict[str, int], b: Dict[str, int]) -> Dict[str, int]", "medium",
          "Return a new dictionary with every key of a and b. A key that is in both maps to the sum of "
          "its two values. Neither input is changed.",
          """
          result = dict(a)
          for k, v in b.items():
              result[k] = result.get(k, 0) + v
          return result
          """,
          ["{'x': 1, 'y': 2}, {'y': 3, 'z': 4}", "{}, {}", "{'a': 1}, {}", "{}, {'b': 2}",
           "{'k': -1}, {'k': 1}"], n_examples=1),
        t("first_positions", "(words: List[str]) -> Dict[str, int]", "medium",
          "Return a dictionary that maps each word of words to the index of its first occurrence.",
          """
          positions = {}
          for i, w in enumerate(words):
              if w not in positions:
                  positions[w] = i
          return positions
          """,
          ["['a', 'b', 'a', 'c']", "[]", "['x', 'x', 'x']", "['p', 'q', 'r']"]),
        t("keys_with_value", "(d: Dict[str, int], value: int) -> List[str]", "easy",
          "Return the alphabetically sorted list of the keys of d whose value equals value.",
          """
          return sorted(k for k, v in d.items() if v == value)
          """,
          ["{'b': 1, 'a': 1, 'c': 2}, 1", "{'a': 1}, 5", "{}, 0", "{'z': 3, 'y': 3, 'x': 3}, 3"]),
        t("dict_from_lists", "(keys: List[str], values: List[int]) -> Dict[str, int]", "easy",
          "Return a dictionary that maps keys[i] to values[i]. The lists have the same length; if a key "
          "repeats, its last value wins.",
          """
          return dict(zip(keys, values))
          """,
          ["['a', 'b'], [1, 2]", "[], []", "['k', 'k'], [1, 2]", "['x'], [0]"]),
        t("key_with_largest_value", "(d: Dict[str, int]) -> str", "medium",
          "Return the key of d with the largest value. If several keys share the largest value, return "
          "the alphabetically smallest of them. d is not empty.",
          """
          best = max(d.values())
          return min(k for k, v in d.items() if v == best)
          """,
          ["{'a': 1, 'b': 3, 'c': 2}", "{'y': 5, 'x': 5}", "{'only': -1}", "{'m': 0, 'n': -2}"]),
        t("filter_min_value", "(d: Dict[str, int], minimum: int) -> Dict[str, int]", "easy",
          "Return a new dictionary with only those items of d whose value is at least minimum.",
          """
          return {k: v for k, v in d.items() if v >= minimum}
          """,
          ["{'a': 1, 'b': 5, 'c': 3}, 3", "{}, 0", "{'x': 1}, 2", "{'p': -1, 'q': 0}, -1"]),
        t("parity_counts", "(nums: List[int]) -> Dict[str, int]", "easy",
          "Return a dictionary {'even': e, 'odd': o} where e is how many numbers in nums are even and "
          "o is how many are odd.",
          """
          even = sum(1 for x in nums if x % 2 == 0)
          return {"even": even, "odd": len(nums) - even}
          """,
          ["[1, 2, 3]", "[]", "[0, 2, 4]", "[-1, -3]"]),
        t("totals_by_name", "(items: List[Tuple[str, int]]) -> Dict[str, int]", "medium",
          "items is a list of (name, amount) pairs. Return a dictionary that maps each name to the sum "
          "of its amounts.",
          """
          totals = {}
          for name, amount in items:
              totals[name] = totals.get(name, 0) + amount
          return totals
          """,
          ["[('ann', 3), ('bob', 1), ('ann', 2)]", "[]", "[('x', 0)]", "[('a', 5), ('a', -5), ('b', 1)]"],
          n_examples=1),
    ]


def _parsing() -> list[TaskSpec]:
    t = functools.partial(TaskSpec, "parsing")
    return [
        t("parse_key_values", "(text: str) -> Dict[str, int]", "medium",
          "text holds items of the form key=value separated by ';', where every value is an integer, "
          "like 'a=1;b=2'. Return the dictionary of those items; a key that repeats keeps its last value. "
          "An empty string gives an empty dictionary.",
          """
          result = {}
          for item in text.split(";"):
              if item:
                  key, value = item.split("=", 1)
                  result[key] = int(value)
          return result
          """,
          ["'a=1;b=2'", "''", "'x=-5'", "'k=1;k=3'", "'one=1;two=2;three=3'"]),
        t("parse_int_list", "(text: str) -> List[int]", "easy",
          "text is a comma-separated list of integers, possibly with spaces around them, like '1, 2,3'. "
          "Return the integers as a list. An empty or blank string gives an empty list.",
          """
          return [int(part) for part in text.split(",") if part.strip()]
          """,
          ["'1, 2,3'", "''", "'  '", "'-4'", "'10 , 20 , -30'"]),
        t("clock_to_seconds", "(clock: str) -> int", "easy",
          "clock is a duration written as 'HH:MM:SS'. Return the total number of seconds.",
          """
          hours, minutes, seconds = (int(p) for p in clock.split(":"))
          return hours * 3600 + minutes * 60 + seconds
          """,
          ["'01:02:03'", "'00:00:00'", "'00:01:00'", "'10:00:59'", "'99:59:59'"]),
        t("expand_ranges", "(spec: str) -> List[int]", "medium",
          "spec is a comma-separated list of non-negative integers and inclusive ranges 'a-b' with "
          "a <= b, like '1-3,5'. Return all the numbers it names, in order.",
          """
          out = []
          for part in spec.split(","):
              if "-" in part:
                  lo, hi = part.split("-")
                  out.extend(range(int(lo), int(hi) + 1))
              elif part:
                  out.append(int(part))
          return out
          """,
          ["'1-3,5'", "'7'", "''", "'0-0,2-4'", "'10,9,8-9'"]),
        t("compare_versions", "(a: str, b: str) -> int", "medium",
          "Compare two version strings made of integers separated by dots, like '1.10.2', part by part "
          "as numbers; a missing part counts as 0. Return -1 if a is lower, 1 if a is higher and 0 if "
          "they are equal.",
          """
          pa = [int(p) for p in a.split(".")]
          pb = [int(p) for p in b.split(".")]
          n = max(len(pa), len(pb))
          pa += [0] * (n - len(pa))
          pb += [0] * (n - len(pb))
          return (pa > pb) - (pa < pb)
          """,
          ["'1.2.10', '1.2.9'", "'1.0', '1'", "'0.9', '1.0'", "'2', '2.0.1'", "'3.4.5', '3.4.5'"]),
        t("extract_integers", "(text: str) -> List[int]", "medium",
          "Return every maximal run of decimal digits in text, converted to an integer, in the order "
          "they appear. Signs and dots are not part of the numbers.",
          r"""
          import re

          return [int(m) for m in re.findall(r"\d+", text)]
          """,
          ["'abc 12 de 3f45'", "'no numbers'", "''", "'-7 and 3.14'", "'007'"]),
        t("parse_query_string", "(query: str) -> Dict[str, str]", "medium",
          "query looks like 'a=1&b=two'. Return a dictionary from each name to its value, both as "
          "strings. An item without '=' maps to an empty string; an empty query gives an empty "
          "dictionary.",
          """
          result = {}
          for item in query.split("&"):
              if not item:
                  continue
              key, _, value = item.partition("=")
              result[key] = value
          return result
          """,
          ["'a=1&b=two'", "''", "'flag'", "'x=1&x=2'", "'k=&v=3'"]),
        t("evaluate_plus_minus", "(expr: str) -> int", "medium",
          "expr is made of non-negative integers joined by '+' and '-' signs, without spaces or "
          "parentheses, like '12+3-4'. Return its value.",
          """
          total = 0
          number = 0
          sign = 1
          for c in expr:
              if c.isdigit():
                  number = number * 10 + int(c)
              else:
                  total += sign * number
                  number = 0
                  sign = 1 if c == "+" else -1
          return total + sign * number
          """,
          ["'12+3-4'", "'7'", "'0-10'", "'100-1-1-1'", "'5+5+5'"]),
        t("box_volume", "(dims: str) -> int", "easy",
          "dims gives the size of a box as three positive integers joined by 'x', like '3x4x5'. Return "
          "the volume of the box.",
          """
          a, b, c = (int(p) for p in dims.split("x"))
          return a * b * c
          """,
          ["'3x4x5'", "'1x1x1'", "'10x2x7'", "'2x2x2'"]),
        t("is_valid_ipv4", "(address: str) -> bool", "medium",
          "Return True if address is made of exactly four decimal numbers from 0 to 255 separated by "
          "dots, where no number has a leading zero (except '0' itself).",
          """
          parts = address.split(".")
          if len(parts) != 4:
              return False
          for p in parts:
              if not p.isdigit() or int(p) > 255 or (len(p) > 1 and p[0] == "0"):
                  return False
          return True
          """,
          ["'192.168.0.1'", "'256.1.1.1'", "'1.2.3'", "'01.2.3.4'", "'0.0.0.0'", "'1.2.3.a'",
           "'255.255.255.255'"]),
        t("hex_color_to_rgb", "(color: str) -> Tuple[int, int, int]", "medium",
          "color is a colour like '#ff8000': '#' followed by three two-digit hexadecimal numbers. Return "
          "the three numbers as a tuple (red, green, blue).",
          """
          return (int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16))
          """,
          ["'#ff8000'", "'#000000'", "'#FFFFFF'", "'#0a0b0c'"]),
        t("duration_to_minutes", "(text: str) -> int", "medium",
          "text is a duration like '2h30m', '45m' or '3h': an optional number of hours followed by 'h' "
          "and then an optional number of minutes followed by 'm' (at least one of the two is present). "
          "Return the total number of minutes.",
          """
          hours = 0
          if "h" in text:
              head, text = text.split("h")
              hours = int(head)
          minutes = int(text[:-1]) if text else 0
          return hours * 60 + minutes
          """,
          ["'2h30m'", "'45m'", "'3h'", "'0h5m'", "'10h0m'"]),
    ]


def _matrices() -> list[TaskSpec]:
    t = functools.partial(TaskSpec, "matrices")
    grid = "(m: List[List[int]])"
    return [
        t("transpose_matrix", f"{grid} -> List[List[int]]", "easy",
          "Return the transpose of the rectangular matrix m (rows become columns). The transpose of an "
          "empty matrix is [].",
          """
          return [list(row) for row in zip(*m)]
          """,
          ["[[1, 2, 3], [4, 5, 6]]", "[]", "[[7]]", "[[1], [2], [3]]"], n_examples=1),
        t("matrix_trace", f"{grid} -> int", "easy",
          "Return the sum of the main diagonal m[0][0] + m[1][1] + ... of the square matrix m.",
          """
          return sum(m[i][i] for i in range(len(m)))
          """,
          ["[[1, 2], [3, 4]]", "[[5]]", "[]", "[[1, 0, 0], [0, -2, 0], [9, 9, 3]]"]),
        t("row_sums", f"{grid} -> List[int]", "easy",
          "Return the list of the sums of the rows of the matrix m.",
          """
          return [sum(row) for row in m]
          """,
          ["[[1, 2], [3, 4]]", "[]", "[[5, -5, 1]]", "[[], [1]]"]),
        t("column_sums", f"{grid} -> List[int]", "easy",
          "Return the list of the sums of the columns of the rectangular matrix m, which has at least "
          "one row.",
          """
          return [sum(col) for col in zip(*m)]
          """,
          ["[[1, 2], [3, 4]]", "[[5, -5, 1]]", "[[1], [2], [3]]", "[[0, 0], [0, 1]]"]),
        t("add_matrices", "(a: List[List[int]], b: List[List[int]]) -> List[List[int]]", "easy",
          "Return the element-wise sum of the matrices a and b, which have the same shape.",
          """
          return [[x + y for x, y in zip(ra, rb)] for ra, rb in zip(a, b)]
          """,
          ["[[1, 2], [3, 4]], [[10, 20], [30, 40]]", "[], []", "[[1]], [[-1]]", "[[1, 2, 3]], [[0, 0, 1]]"],
          n_examples=1),
        t("multiply_matrices", "(a: List[List[int]], b: List[List[int]]) -> List[List[int]]", "medium",
          "Return the matrix product of a and b. a has as many columns as b has rows, and both have at "
          "least one row and one column.",
          """
          return [[sum(a[i][k] * b[k][j] for k in range(len(b))) for j in range(len(b[0]))]
                  for i in range(len(a))]
          """,
          ["[[1, 2], [3, 4]], [[5, 6], [7, 8]]", "[[2]], [[3]]", "[[1, 2, 3]], [[1], [1], [1]]",
           "[[1], [2]], [[3, 4]]", "[[1, 0], [0, 1]], [[9, 8], [7, 6]]"], n_examples=1),
        t("is_symmetric", f"{grid} -> bool", "medium",
          "Return True if the square matrix m is equal to its transpose, that is m[i][j] == m[j][i] for "
          "all i and j.",
          """
          n = len(m)
          return all(m[i][j] == m[j][i] for i in range(n) for j in range(n))
          """,
          ["[[1, 2], [2, 1]]", "[[1, 2], [3, 1]]", "[]", "[[4]]", "[[1, 7, 3], [7, 4, 5], [3, 5, 6]]"]),
        t("rotate_clockwise", f"{grid} -> List[List[int]]", "medium",
          "Return the square matrix m rotated by 90 degrees clockwise.",
          """
          return [list(row) for row in zip(*m[::-1])]
          """,
          ["[[1, 2], [3, 4]]", "[[1]]", "[]", "[[1, 2, 3], [4, 5, 6], [7, 8, 9]]"], n_examples=1),
        t("flatten_matrix", f"{grid} -> List[int]", "easy",
          "Return all entries of the matrix m in one list, row by row.",
          """
          return [x for row in m for x in row]
          """,
          ["[[1, 2], [3, 4]]", "[]", "[[5], [], [6, 7]]", "[[0]]"]),
        t("spiral_order", f"{grid} -> List[int]", "medium",
          "Return the entries of the rectangular matrix m in clockwise spiral order, starting at the "
          "top-left corner and going right first.",
          """
          out = []
          rows = [list(r) for r in m]
          while rows:
              out.extend(rows.pop(0))
              rows = [list(r) for r in zip(*rows)][::-1]
          return out
          """,
          ["[[1, 2, 3], [4, 5, 6], [7, 8, 9]]", "[[1, 2], [3, 4]]", "[]", "[[1, 2, 3, 4]]",
           "[[1], [2], [3]]", "[[1, 2, 3], [4, 5, 6]]"], n_examples=1),
        t("identity_matrix", "(n: int) -> List[List[int]]", "easy",
          "Return the n by n identity matrix: 1 on the main diagonal and 0 everywhere else.",
          """
          return [[1 if i == j else 0 for j in range(n)] for i in range(n)]
          """,
          ["2", "0", "1", "3"], n_examples=1),
        t("diagonal_difference", f"{grid} -> int", "medium",
          "Return the absolute difference between the sum of the main diagonal and the sum of the "
          "other diagonal (from top-right to bottom-left) of the square matrix m.",
          """
          n = len(m)
          return abs(sum(m[i][i] for i in range(n)) - sum(m[i][n - 1 - i] for i in range(n)))
          """,
          ["[[1, 2], [3, 4]]", "[[5]]", "[]", "[[11, 2, 4], [4, 5, 6], [10, 8, -12]]"]),
        t("row_maxima", f"{grid} -> List[int]", "easy",
          "Return the largest entry of each row of the matrix m. Every row is non-empty.",
          """
          return [max(row) for row in m]
          """,
          ["[[1, 5], [7, 2]]", "[]", "[[-3, -1, -2]]", "[[4], [4], [0, 9]]"]),
    ]


def _intervals() -> list[TaskSpec]:
    t = functools.partial(TaskSpec, "intervals")
    many = "intervals: List[Tuple[int, int]]"
    merge_body = """
          merged = []
          for start, end in sorted(intervals):
              if merged and start <= merged[-1][1]:
                  merged[-1] = (merged[-1][0], max(merged[-1][1], end))
              else:
                  merged.append((start, end))
          return merged
          """
    return [
        t("merge_intervals", f"({many}) -> List[Tuple[int, int]]", "medium",
          "Each interval (start, end) is closed, with start <= end. Merge every group of intervals that "
          "overlap or touch (share an end point) and return the result sorted by start.",
          merge_body,
          ["[(1, 3), (2, 6), (8, 10)]", "[(1, 4), (4, 5)]", "[]", "[(5, 6), (1, 2)]", "[(1, 10), (2, 3)]"]),
        t("intervals_overlap", "(a: Tuple[int, int], b: Tuple[int, int]) -> bool", "easy",
          "a and b are closed intervals (start, end) with start <= end. Return True if they have at "
          "least one point in common.",
          """
          return a[0] <= b[1] and b[0] <= a[1]
          """,
          ["(1, 5), (4, 8)", "(1, 2), (3, 4)", "(1, 3), (3, 5)", "(0, 10), (2, 3)", "(6, 7), (1, 5)"]),
        t("covered_length", f"({many}) -> int", "medium",
          "Each interval (start, end) covers the stretch from start to end, a length of end - start. "
          "Return the total length covered by at least one interval, counting overlaps once.",
          """
          total = 0
          current_end = None
          for start, end in sorted(intervals):
              if current_end is None or start > current_end:
                  total += end - start
                  current_end = end
              elif end > current_end:
                  total += end - current_end
                  current_end = end
          return total
          """,
          ["[(1, 4), (2, 6)]", "[(0, 1), (5, 7)]", "[]", "[(0, 10), (2, 3)]", "[(3, 3)]",
           "[(1, 2), (2, 3)]"]),
        t("intersect_intervals", "(a: Tuple[int, int], b: Tuple[int, int]) -> Optional[Tuple[int, int]]",
          "medium",
          "Return the intersection of the closed intervals a and b as a tuple (start, end), or None if "
          "they have no point in common.",
          """
          start, end = max(a[0], b[0]), min(a[1], b[1])
          if start > end:
              return None
          return (start, end)
          """,
          ["(1, 5), (3, 8)", "(1, 2), (5, 6)", "(0, 10), (2, 3)", "(4, 4), (4, 9)", "(7, 9), (1, 7)"]),
        t("in_any_interval", f"({many}, x: int) -> bool", "easy",
          "Return True if x lies in at least one of the closed intervals (start, end).",
          """
          return any(start <= x <= end for start, end in intervals)
          """,
          ["[(1, 3), (6, 9)], 7", "[(1, 3), (6, 9)], 4", "[], 0", "[(2, 2)], 2", "[(0, 5)], 5"]),
        t("count_containing", f"({many}, x: int) -> int", "easy",
          "Return how many of the closed intervals (start, end) contain x.",
          """
          return sum(1 for start, end in intervals if start <= x <= end)
          """,
          ["[(1, 5), (2, 3), (4, 9)], 4", "[(1, 2)], 3", "[], 1", "[(0, 0), (0, 1)], 0"]),
        t("max_overlap", f"({many}) -> int", "medium",
          "Return the largest number of the closed intervals (start, end) that all contain one common "
          "point. Return 0 for an empty list.",
          """
          best = 0
          for point, _ in intervals:
              best = max(best, sum(1 for s, e in intervals if s <= point <= e))
          return best
          """,
          ["[(1, 4), (2, 5), (7, 8)]", "[(1, 2), (3, 4)]", "[]", "[(1, 3), (3, 5), (3, 3)]",
           "[(0, 10), (1, 2), (3, 4), (5, 6)]"]),
        t("insert_interval", f"({many}, new: Tuple[int, int]) -> List[Tuple[int, int]]", "medium",
          "intervals are closed, sorted by start and do not overlap. Insert the interval new, merging it "
          "with every interval it overlaps or touches, and return the sorted result.",
          merge_body.replace("sorted(intervals)", "sorted(intervals + [new])"),
          ["[(1, 3), (6, 9)], (2, 5)", "[], (4, 8)", "[(1, 2), (8, 9)], (4, 5)", "[(1, 2), (3, 4)], (2, 3)",
           "[(5, 6)], (1, 2)"]),
        t("interval_gaps", f"({many}) -> List[Tuple[int, int]]", "medium",
          "Merge the closed intervals (start, end) that overlap or touch, then return the gaps between "
          "consecutive merged intervals as (end of one, start of the next) pairs, in order.",
          """
          merged = []
          for start, end in sorted(intervals):
              if merged and start <= merged[-1][1]:
                  merged[-1] = (merged[-1][0], max(merged[-1][1], end))
              else:
                  merged.append((start, end))
          return [(a[1], b[0]) for a, b in zip(merged, merged[1:])]
          """,
          ["[(1, 3), (6, 8)]", "[(1, 5), (2, 3)]", "[]", "[(10, 12), (1, 2), (4, 6)]", "[(1, 2), (2, 4)]"]),
        t("interval_lengths", f"({many}) -> List[int]", "easy",
          "Return the list of the lengths end - start of the intervals (start, end).",
          """
          return [end - start for start, end in intervals]
          """,
          ["[(1, 4), (2, 2)]", "[]", "[(-3, 3)]", "[(0, 1), (5, 10)]"]),
        t("shift_intervals", f"({many}, delta: int) -> List[Tuple[int, int]]", "easy",
          "Return the intervals (start, end) with delta added to both ends of each.",
          """
          return [(start + delta, end + delta) for start, end in intervals]
          """,
          ["[(1, 4), (6, 7)], 2", "[], 5", "[(0, 0)], -3", "[(5, 9)], 0"]),
    ]


def _calendar() -> list[TaskSpec]:
    t = functools.partial(TaskSpec, "calendar")
    leap = "(year % 4 == 0 and year % 100 != 0) or year % 400 == 0"
    return [
        t("is_leap_year", "(year: int) -> bool", "easy",
          "Return True if year is a leap year in the Gregorian calendar: divisible by 4, except years "
          "divisible by 100 that are not divisible by 400.",
          f"""
          return {leap}
          """,
          ["2024", "2023", "1900", "2000", "2100"]),
        t("days_in_month", "(year: int, month: int) -> int", "easy",
          "Return the number of days in the given month (1 = January, ..., 12 = December) of the given "
          "year, taking leap years into account for February.",
          f"""
          if month == 2:
              return 29 if {leap} else 28
          return 30 if month in (4, 6, 9, 11) else 31
          """,
          ["2023, 1", "2024, 2", "2023, 2", "1900, 2", "2021, 4", "2021, 12"]),
        t("day_of_year", "(year: int, month: int, day: int) -> int", "medium",
          "Return the position of the given date within its year, where January 1st is day 1. Use the "
          "Gregorian leap year rule.",
          f"""
          lengths = [31, 29 if {leap} else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
          return sum(lengths[:month - 1]) + day
          """,
          ["2023, 3, 1", "2024, 3, 1", "2023, 1, 1", "2024, 12, 31", "2023, 12, 31", "1900, 3, 1"]),
        t("minutes_between", "(start: str, end: str) -> int", "easy",
          "start and end are times 'HH:MM' on the same day and end is not earlier than start. Return the "
          "number of minutes from start to end.",
          """
          h1, m1 = (int(p) for p in start.split(":"))
          h2, m2 = (int(p) for p in end.split(":"))
          return (h2 * 60 + m2) - (h1 * 60 + m1)
          """,
          ["'09:30', '11:15'", "'00:00', '23:59'", "'12:00', '12:00'", "'08:45', '09:05'"]),
        t("add_minutes", "(clock: str, minutes: int) -> str", "medium",
          "clock is a 24-hour time 'HH:MM'. Return the time that is minutes later (minutes >= 0), "
          "also as 'HH:MM', wrapping around midnight.",
          """
          h, m = (int(p) for p in clock.split(":"))
          total = (h * 60 + m + minutes) % (24 * 60)
          return f"{total // 60:02d}:{total % 60:02d}"
          """,
          ["'10:15', 30", "'23:50', 20", "'00:00', 0", "'12:00', 1440", "'09:59', 1", "'22:00', 3000"]),
        t("weekday_after", "(day: str, n: int) -> str", "easy",
          "day is one of 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'. Return the name of the day "
          "that comes n days later (n >= 0).",
          """
          days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
          return days[(days.index(day) + n) % 7]
          """,
          ["'Mon', 3", "'Sat', 2", "'Wed', 0", "'Sun', 7", "'Fri', 100"]),
        t("seconds_to_clock", "(seconds: int) -> str", "easy",
          "Format a number of seconds from 0 to 359999 as 'HH:MM:SS', with two digits in each field.",
          """
          return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
          """,
          ["3725", "0", "59", "86399", "359999"]),
        t("to_24_hour_clock", "(clock: str) -> str", "medium",
          "clock is a 12-hour time like '07:15 PM' or '12:05 AM' (12 AM is midnight, 12 PM is noon). "
          "Return the same time on the 24-hour clock as 'HH:MM'.",
          """
          time_part, period = clock.split()
          h, m = (int(p) for p in time_part.split(":"))
          h = h % 12 + (12 if period == "PM" else 0)
          return f"{h:02d}:{m:02d}"
          """,
          ["'07:15 PM'", "'12:05 AM'", "'12:30 PM'", "'01:00 AM'", "'11:59 PM'"]),
        t("days_in_year", "(year: int) -> int", "easy",
          "Return 366 if year is a leap year in the Gregorian calendar and 365 otherwise.",
          f"""
          return 366 if {leap} else 365
          """,
          ["2024", "2023", "1900", "2000"]),
        t("weeks_and_days", "(days: int) -> Tuple[int, int]", "easy",
          "Split a non-negative number of days into whole weeks and the days left over; return "
          "(weeks, days).",
          """
          return (days // 7, days % 7)
          """,
          ["10", "0", "7", "6", "365"]),
        t("count_leap_years", "(start: int, end: int) -> int", "medium",
          "Return how many Gregorian leap years there are from start to end, both included. Return 0 "
          "if start > end.",
          """
          return sum(1 for y in range(start, end + 1) if (y % 4 == 0 and y % 100 != 0) or y % 400 == 0)
          """,
          ["2000, 2010", "2001, 2003", "1896, 1904", "2024, 2024", "2010, 2000", "1600, 2000"]),
        t("next_date", "(year: int, month: int, day: int) -> Tuple[int, int, int]", "medium",
          "Return the date of the day after the given valid Gregorian date, as (year, month, day).",
          f"""
          lengths = [31, 29 if {leap} else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
          if day < lengths[month - 1]:
              return (year, month, day + 1)
          if month < 12:
              return (year, month + 1, 1)
          return (year + 1, 1, 1)
          """,
          ["2023, 5, 9", "2023, 12, 31", "2024, 2, 28", "2023, 2, 28", "2023, 4, 30", "1900, 2, 28"]),
        t("quarter_of_month", "(month: int) -> int", "easy",
          "Return the quarter of the year (1 to 4) that month belongs to, where month 1 is January and "
          "month 12 is December.",
          """
          return (month - 1) // 3 + 1
          """,
          ["2", "7", "1", "12", "3", "10"]),
    ]


def _run_length() -> list[TaskSpec]:
    t = functools.partial(TaskSpec, "run_length")
    return [
        t("rle_encode", "(s: str) -> str", "medium",
          "Run-length encode s: every run of one repeated character becomes that character followed by "
          "the length of the run, so 'aaabcc' becomes 'a3b1c2'.",
          """
          out = []
          i = 0
          while i < len(s):
              j = i
              while j < len(s) and s[j] == s[i]:
                  j += 1
              out.append(f"{s[i]}{j - i}")
              i = j
          return "".join(out)
          """,
          ["'aaabcc'", "'abc'", "''", "'zzzzzzzzzzzz'", "'aabaa'"]),
        t("rle_decode", "(code: str) -> str", "medium",
          "Decode a run-length code such as 'a3b1c2', where every letter is followed by its positive "
          "count (which may have several digits), into 'aaabcc'.",
          """
          out = []
          i = 0
          while i < len(code):
              ch = code[i]
              j = i + 1
              while j < len(code) and code[j].isdigit():
                  j += 1
              out.append(ch * int(code[i + 1:j]))
              i = j
          return "".join(out)
          """,
          ["'a3b1c2'", "'x1'", "''", "'b12'", "'a1b1a1'"]),
        t("run_pairs", "(nums: List[int]) -> List[Tuple[int, int]]", "medium",
          "Return a list of (value, length) pairs, one for each run of equal neighbouring values in "
          "nums, in order.",
          """
          pairs = []
          for x in nums:
              if pairs and pairs[-1][0] == x:
                  pairs[-1] = (x, pairs[-1][1] + 1)
              else:
                  pairs.append((x, 1))
          return pairs
          """,
          ["[1, 1, 2, 3, 3, 3]", "[]", "[5]", "[4, 4, 4, 4]", "[1, 2, 1]"]),
        t("longest_run_length", "(nums: List[int]) -> int", "easy",
          "Return the length of the longest run of equal consecutive values in nums, or 0 for an empty "
          "list.",
          """
          best = 0
          current = 0
          for i, x in enumerate(nums):
              current = current + 1 if i > 0 and nums[i - 1] == x else 1
              best = max(best, current)
          return best
          """,
          ["[1, 1, 2, 2, 2, 3]", "[]", "[7]", "[1, 2, 3]", "[4, 4, 1, 4, 4]"]),
        t("collapse_repeats", "(s: str) -> str", "easy",
          "Return s with every run of equal adjacent characters shortened to a single character.",
          """
          return "".join(c for i, c in enumerate(s) if i == 0 or s[i - 1] != c)
          """,
          ["'aaabccdd'", "'abc'", "''", "'zzzz'", "'abba'"]),
        t("rle_encode_short", "(s: str) -> str", "medium",
          "Run-length encode s, but write the count only for runs longer than one character: 'aaabcc' "
          "becomes 'a3bc2'.",
          """
          out = []
          i = 0
          while i < len(s):
              j = i
              while j < len(s) and s[j] == s[i]:
                  j += 1
              out.append(s[i] + (str(j - i) if j - i > 1 else ""))
              i = j
          return "".join(out)
          """,
          ["'aaabcc'", "'abc'", "''", "'wwwwwwwwwwww'", "'aabaa'"]),
        t("expand_pairs", "(pairs: List[Tuple[str, int]]) -> str", "easy",
          "pairs holds (character, count) pairs. Return the string made of each character repeated its "
          "count times, in order.",
          """
          return "".join(ch * count for ch, count in pairs)
          """,
          ["[('a', 3), ('b', 1)]", "[]", "[('x', 0), ('y', 2)]", "[('z', 5)]"]),
        t("run_start_indexes", "(nums: List[int]) -> List[int]", "easy",
          "Return the indexes in nums at which a new run of equal values starts (index 0 always starts "
          "a run when nums is not empty).",
          """
          return [i for i in range(len(nums)) if i == 0 or nums[i] != nums[i - 1]]
          """,
          ["[1, 1, 2, 2, 2, 3]", "[]", "[5, 5]", "[1, 2, 3]"]),
        t("count_runs", "(s: str) -> int", "easy",
          "Return the number of runs of equal adjacent characters in s.",
          """
          return sum(1 for i in range(len(s)) if i == 0 or s[i] != s[i - 1])
          """,
          ["'aabccc'", "''", "'a'", "'abab'", "'zzzz'"]),
        t("longest_run_char", "(s: str) -> str", "medium",
          "Return the character that forms the longest run of equal adjacent characters in s. If "
          "several runs are equally long, the first one wins. Return '' for an empty string.",
          """
          best_char, best_len = "", 0
          i = 0
          while i < len(s):
              j = i
              while j < len(s) and s[j] == s[i]:
                  j += 1
              if j - i > best_len:
                  best_char, best_len = s[i], j - i
              i = j
          return best_char
          """,
          ["'aabbbc'", "'abc'", "''", "'xxyyy'", "'qqppp qqqq'"]),
    ]


def _bits() -> list[TaskSpec]:
    t = functools.partial(TaskSpec, "bits")
    specs = [
        t("count_set_bits", "(n: int) -> int", "easy",
          "Return the number of 1 bits in the binary representation of the non-negative integer n.",
          """
          return bin(n).count("1")
          """,
          ["5", "0", "255", "1024", "7"]),
        t("is_power_of_two", "(n: int) -> bool", "easy",
          "Return True if n is a power of two (1, 2, 4, 8, ...). n may be zero or negative.",
          """
          return n > 0 and n & (n - 1) == 0
          """,
          ["8", "6", "1", "0", "-4", "1024"]),
        t("get_bit", "(n: int, i: int) -> int", "easy",
          "Return bit i (0 or 1) of the non-negative integer n, where bit 0 is the least significant.",
          """
          return (n >> i) & 1
          """,
          ["5, 0", "5, 1", "0, 3", "8, 3", "8, 4"]),
        t("hamming_distance", "(a: int, b: int) -> int", "easy",
          "Return the number of bit positions in which the non-negative integers a and b differ.",
          """
          return bin(a ^ b).count("1")
          """,
          ["1, 4", "3, 1", "0, 0", "255, 0", "7, 7"]),
        t("lowest_set_bit", "(n: int) -> int", "medium",
          "Return the value of the lowest 1 bit of the positive integer n; for example 12 (binary "
          "1100) gives 4.",
          """
          return n & -n
          """,
          ["12", "1", "8", "7", "40"]),
        t("reverse_byte", "(n: int) -> int", "medium",
          "n is between 0 and 255. Write n as 8 binary digits, reverse their order and return the "
          "number they form.",
          """
          return int(format(n, "08b")[::-1], 2)
          """,
          ["1", "6", "0", "255", "128", "19"]),
        t("to_binary_string", "(n: int) -> str", "easy",
          "Return the binary representation of the non-negative integer n as a string of 0s and 1s, "
          "without any prefix.",
          """
          return bin(n)[2:]
          """,
          ["5", "0", "1", "255", "16"]),
        t("bit_parity", "(n: int) -> int", "easy",
          "Return 1 if the non-negative integer n has an odd number of 1 bits and 0 otherwise.",
          """
          return bin(n).count("1") % 2
          """,
          ["7", "3", "0", "1", "1023"]),
        t("find_single", "(nums: List[int]) -> int", "medium",
          "Every value in nums occurs exactly twice except one, which occurs once. Return that value.",
          """
          result = 0
          for x in nums:
              result ^= x
          return result
          """,
          ["[2, 3, 2]", "[7]", "[1, 4, 5, 1, 5]", "[0, 9, 9]", "[-3, 6, 6]"]),
        t("gray_code", "(n: int) -> List[int]", "medium",
          "Return the n-bit Gray code sequence as a list of 2**n integers, where element i is "
          "i ^ (i >> 1) (i XOR i shifted right by one).",
          """
          return [i ^ (i >> 1) for i in range(2 ** n)]
          """,
          ["2", "0", "1", "3"]),
        t("binary_to_int", "(bits: str) -> int", "easy",
          "bits is a non-empty string of '0' and '1' characters. Return the number it represents in "
          "binary.",
          """
          return int(bits, 2)
          """,
          ["'101'", "'0'", "'1'", "'11111111'", "'0010'"]),
    ]
    for name, verb, expr in (("set_bit", "set to 1", "n | (1 << i)"),
                             ("clear_bit", "set to 0", "n & ~(1 << i)"),
                             ("toggle_bit", "flipped", "n ^ (1 << i)")):
        specs.append(t(
            name, "(n: int, i: int) -> int", "easy",
            f"Return the non-negative integer n with bit i {verb}, where bit 0 is the least significant "
            "bit.",
            f"""
            return {expr}
            """,
            ["5, 1", "5, 0", "0, 3", "8, 3", "15, 4"]))
    return specs


def _brackets() -> list[TaskSpec]:
    t = functools.partial(TaskSpec, "brackets")
    return [
        t("brackets_balanced", "(s: str) -> bool", "medium",
          "Return True if the brackets '()', '[]' and '{}' in s are balanced and properly nested. Other "
          "characters are ignored.",
          """
          pairs = {")": "(", "]": "[", "}": "{"}
          stack = []
          for c in s:
              if c in "([{":
                  stack.append(c)
              elif c in pairs:
                  if not stack or stack.pop() != pairs[c]:
                      return False
          return not stack
          """,
          ["'([]{})'", "'([)]'", "''", "'a(b)c'", "'(('", "'}{'", "'{[()()]}'"]),
        t("max_paren_depth", "(s: str) -> int", "medium",
          "s is a string in which the parentheses '(' and ')' are balanced; other characters are "
          "ignored. Return the greatest nesting depth of the parentheses.",
          """
          depth = best = 0
          for c in s:
              if c == "(":
                  depth += 1
                  best = max(best, depth)
              elif c == ")":
                  depth -= 1
          return best
          """,
          ["'(a(b)c)'", "'()()'", "''", "'((()))'", "'x(y)(z(w))'"]),
        t("min_parens_to_add", "(s: str) -> int", "medium",
          "s contains only '(' and ')'. Return the smallest number of parentheses that must be inserted "
          "to make s balanced.",
          """
          open_count = inserts = 0
          for c in s:
              if c == "(":
                  open_count += 1
              elif open_count:
                  open_count -= 1
              else:
                  inserts += 1
          return inserts + open_count
          """,
          ["'(()'", "'())('", "''", "'()'", "')))'", "'(()())'"]),
        t("eval_rpn", "(tokens: List[str]) -> int", "medium",
          "tokens is an expression in reverse Polish notation: integers and the operators '+', '-' and "
          "'*'. Each operator applies to the two values before it. Return the value of the expression.",
          """
          stack = []
          for tok in tokens:
              if tok in ("+", "-", "*"):
                  b = stack.pop()
                  a = stack.pop()
                  stack.append(a + b if tok == "+" else a - b if tok == "-" else a * b)
              else:
                  stack.append(int(tok))
          return stack[-1]
          """,
          ["['2', '3', '+']", "['5', '1', '2', '+', '4', '*', '+', '3', '-']", "['7']", "['4', '10', '-']",
           "['-2', '3', '*']"]),
        t("remove_adjacent_pairs", "(s: str) -> str", "medium",
          "Repeatedly delete two adjacent equal characters from s until no two adjacent characters are "
          "equal, and return what remains. For example 'abbaca' becomes 'ca'.",
          """
          stack = []
          for c in s:
              if stack and stack[-1] == c:
                  stack.pop()
              else:
                  stack.append(c)
          return "".join(stack)
          """,
          ["'abbaca'", "'aa'", "''", "'abc'", "'aabccbd'"]),
        t("apply_backspaces", "(s: str) -> str", "medium",
          "In s the character '#' is a backspace: it deletes the nearest character before it that has "
          "not been deleted yet, if there is one. Return the text that remains.",
          """
          out = []
          for c in s:
              if c == "#":
                  if out:
                      out.pop()
              else:
                  out.append(c)
          return "".join(out)
          """,
          ["'ab#c'", "'a##b'", "''", "'###'", "'abc#d##'"]),
        t("next_greater_elements", "(nums: List[int]) -> List[int]", "medium",
          "For each element of nums, find the first element to its right that is strictly larger. "
          "Return these values as a list, using -1 where there is no such element.",
          """
          result = [-1] * len(nums)
          stack = []
          for i, x in enumerate(nums):
              while stack and nums[stack[-1]] < x:
                  result[stack.pop()] = x
              stack.append(i)
          return result
          """,
          ["[2, 1, 3]", "[5, 4, 3]", "[]", "[1, 1, 2]", "[4, 5, 2, 25]"]),
        t("matching_paren_index", "(s: str, i: int) -> int", "medium",
          "s contains balanced parentheses and s[i] is '('. Return the index of the ')' that closes it.",
          """
          depth = 0
          for j in range(i, len(s)):
              if s[j] == "(":
                  depth += 1
              elif s[j] == ")":
                  depth -= 1
                  if depth == 0:
                      return j
          return -1
          """,
          ["'(())', 0", "'(())', 1", "'()()', 2", "'a(b(c)d)e', 1", "'((()))', 2"]),
        t("count_top_level_groups", "(s: str) -> int", "medium",
          "s is a balanced string of '(' and ')'. Return the number of top-level groups; for example "
          "'()(())()' has 3.",
          """
          depth = groups = 0
          for c in s:
              if c == "(":
                  if depth == 0:
                      groups += 1
                  depth += 1
              else:
                  depth -= 1
          return groups
          """,
          ["'()(())()'", "'((()))'", "''", "'()'", "'(()())(())'"]),
        t("strip_outer_parens", "(s: str) -> str", "medium",
          "s is a balanced string of '(' and ')'. Remove the outermost pair of parentheses of every "
          "top-level group and return the rest; for example '(()())(())' becomes '()()()'.",
          """
          out = []
          depth = 0
          for c in s:
              if c == "(":
                  if depth > 0:
                      out.append(c)
                  depth += 1
              else:
                  depth -= 1
                  if depth > 0:
                      out.append(c)
          return "".join(out)
          """,
          ["'(()())(())'", "'()()'", "''", "'((()))'", "'(())()'"]),
        t("simplify_path", "(path: str) -> str", "medium",
          "path is an absolute Unix-style path. Return its simplified form: '.' means the current "
          "directory, '..' goes up one level (never above '/'), repeated slashes count as one, and the "
          "result starts with '/' and has no trailing slash.",
          """
          parts = []
          for part in path.split("/"):
              if part == "..":
                  if parts:
                      parts.pop()
              elif part and part != ".":
                  parts.append(part)
          return "/" + "/".join(parts)
          """,
          ["'/a/./b/../c/'", "'/../'", "'/'", "'//home//user'", "'/a/b/c/../../d'"]),
        t("run_stack_commands", "(commands: List[str]) -> List[int]", "easy",
          "Start with an empty stack and run the commands in order: 'push X' pushes the integer X and "
          "'pop' removes the top value (doing nothing if the stack is empty). Return the final stack "
          "from bottom to top.",
          """
          stack = []
          for cmd in commands:
              if cmd == "pop":
                  if stack:
                      stack.pop()
              else:
                  stack.append(int(cmd.split()[1]))
          return stack
          """,
          ["['push 1', 'push 2', 'pop', 'push 3']", "[]", "['pop']", "['push -5']",
           "['push 1', 'pop', 'pop']"],
          n_examples=1),
    ]


def _windows() -> list[TaskSpec]:
    t = functools.partial(TaskSpec, "windows")
    return [
        t("max_window_sum", "(nums: List[int], k: int) -> int", "medium",
          "Return the largest sum of k consecutive elements of nums. 1 <= k <= len(nums).",
          """
          current = best = sum(nums[:k])
          for i in range(k, len(nums)):
              current += nums[i] - nums[i - k]
              best = max(best, current)
          return best
          """,
          ["[1, 4, 2, 10, 2], 2", "[5], 1", "[-1, -2, -3], 2", "[3, 3, 3], 3", "[1, -1, 5, -2, 4], 3"]),
        t("moving_average", "(nums: List[int], k: int) -> List[float]", "medium",
          "Return the average of every run of k consecutive elements of nums, from left to right, each "
          "rounded to 2 decimal places with round(). Return [] when nums has fewer than k elements.",
          """
          return [round(sum(nums[i:i + k]) / k, 2) for i in range(len(nums) - k + 1)]
          """,
          ["[1, 2, 3, 4], 2", "[1, 2], 3", "[5, 5, 5], 3", "[1, 2, 4], 3", "[10, 0, 5], 1"]),
        t("window_maxima", "(nums: List[int], k: int) -> List[int]", "medium",
          "Return the maximum of every run of k consecutive elements of nums, from left to right. "
          "Return [] when nums has fewer than k elements. k is positive.",
          """
          return [max(nums[i:i + k]) for i in range(len(nums) - k + 1)]
          """,
          ["[1, 3, -1, -3, 5, 3], 3", "[4, 2], 1", "[], 2", "[2, 2], 3", "[9, 8, 7, 6], 2"]),
        t("longest_unique_substring", "(s: str) -> int", "medium",
          "Return the length of the longest substring of s (a run of consecutive characters) in which "
          "no character repeats.",
          """
          last = {}
          start = best = 0
          for i, c in enumerate(s):
              if c in last and last[c] >= start:
                  start = last[c] + 1
              last[c] = i
              best = max(best, i - start + 1)
          return best
          """,
          ["'abcabcbb'", "'bbbb'", "''", "'pwwkew'", "'abcdef'", "'abba'"]),
        t("count_windows_at_least", "(nums: List[int], k: int, target: int) -> int", "medium",
          "Return how many runs of k consecutive elements of nums have a sum of at least target. k is "
          "positive.",
          """
          return sum(1 for i in range(len(nums) - k + 1) if sum(nums[i:i + k]) >= target)
          """,
          ["[1, 2, 3, 4], 2, 5", "[1, 1], 3, 0", "[5, 5, 5], 1, 5", "[0, 0, 0], 2, 1",
           "[3, -1, 4, 1], 2, 3"]),
        t("longest_increasing_run", "(nums: List[int]) -> int", "easy",
          "Return the length of the longest run of consecutive elements of nums in which each element is "
          "strictly larger than the one before. Return 0 for an empty list.",
          """
          best = current = 0
          for i, x in enumerate(nums):
              current = current + 1 if i > 0 and x > nums[i - 1] else 1
              best = max(best, current)
          return best
          """,
          ["[1, 2, 5, 3, 4]", "[5, 4, 3]", "[]", "[1, 1, 1]", "[1, 2, 3, 4]"]),
        t("min_window_sum", "(nums: List[int], k: int) -> int", "medium",
          "Return the smallest sum of k consecutive elements of nums. 1 <= k <= len(nums).",
          """
          return min(sum(nums[i:i + k]) for i in range(len(nums) - k + 1))
          """,
          ["[4, 2, 1, 7], 2", "[3], 1", "[-1, 5, -3], 1", "[2, 2, 2], 3", "[5, -5, 5, -5], 3"]),
        t("distinct_per_window", "(nums: List[int], k: int) -> List[int]", "medium",
          "Return the number of distinct values in every run of k consecutive elements of nums, from "
          "left to right. k is positive; return [] when nums has fewer than k elements.",
          """
          return [len(set(nums[i:i + k])) for i in range(len(nums) - k + 1)]
          """,
          ["[1, 2, 1, 3, 3], 3", "[1, 1], 2", "[], 1", "[4, 5, 6], 1", "[7, 8, 7, 8], 2"]),
        t("window_sums", "(nums: List[int], k: int) -> List[int]", "easy",
          "Return the sums of every run of k consecutive elements of nums, from left to right. k is "
          "positive; return [] when nums has fewer than k elements.",
          """
          return [sum(nums[i:i + k]) for i in range(len(nums) - k + 1)]
          """,
          ["[1, 2, 3, 4], 2", "[1, 2], 3", "[5], 1", "[1, -1, 1, -1], 2"]),
        t("three_evens_in_a_row", "(nums: List[int]) -> bool", "easy",
          "Return True if nums contains three even numbers next to each other.",
          """
          return any(all(x % 2 == 0 for x in nums[i:i + 3]) for i in range(len(nums) - 2))
          """,
          ["[1, 2, 4, 6, 7]", "[2, 4, 1, 6]", "[]", "[0, 0, 0]", "[2, 2]"]),
        t("shortest_run_with_sum", "(nums: List[int], target: int) -> int", "medium",
          "nums holds positive integers. Return the length of the shortest run of consecutive elements "
          "whose sum is at least target, or 0 if no run reaches target.",
          """
          best = 0
          total = start = 0
          for end, x in enumerate(nums):
              total += x
              while total >= target and start <= end:
                  length = end - start + 1
                  best = length if best == 0 else min(best, length)
                  total -= nums[start]
                  start += 1
          return best
          """,
          ["[2, 3, 1, 2, 4, 3], 7", "[1, 1, 1], 5", "[], 1", "[10], 5", "[1, 4, 4], 4",
           "[1, 2, 3, 4, 5], 11"]),
    ]


def _dynamic_programming() -> list[TaskSpec]:
    t = functools.partial(TaskSpec, "dynamic_programming")
    return [
        t("count_stair_climbs", "(n: int) -> int", "medium",
          "Return the number of ways to climb a staircase of n steps when each move climbs 1 or 2 "
          "steps. There is one way to climb 0 steps.",
          """
          a, b = 1, 1
          for _ in range(n):
              a, b = b, a + b
          return a
          """,
          ["3", "0", "1", "5", "10"]),
        t("min_coins", "(coins: List[int], amount: int) -> int", "medium",
          "Return the smallest number of coins with values from coins (each value can be used any number "
          "of times) that add up to amount, or -1 if it cannot be done.",
          """
          best = [0] + [-1] * amount
          for a in range(1, amount + 1):
              options = [best[a - c] for c in coins if c <= a and best[a - c] >= 0]
              if options:
                  best[a] = min(options) + 1
          return best[amount]
          """,
          ["[1, 2, 5], 11", "[2], 3", "[1], 0", "[3, 7], 14", "[5, 10], 1", "[1, 3, 4], 6"]),
        t("coin_combinations", "(coins: List[int], amount: int) -> int", "medium",
          "Return how many different combinations of coins (values from coins, each usable any number of "
          "times, order not mattering) add up to amount. There is one way to make 0.",
          """
          ways = [1] + [0] * amount
          for c in coins:
              for a in range(c, amount + 1):
                  ways[a] += ways[a - c]
          return ways[amount]
          """,
          ["[1, 2, 5], 5", "[2], 3", "[7], 0", "[1], 4", "[2, 3], 7"]),
        t("largest_subarray_sum", "(nums: List[int]) -> int", "medium",
          "Return the largest possible sum of a non-empty run of consecutive elements of the non-empty "
          "list nums.",
          """
          best = current = nums[0]
          for x in nums[1:]:
              current = max(x, current + x)
              best = max(best, current)
          return best
          """,
          ["[-2, 1, -3, 4, -1, 2, 1, -5, 4]", "[-3, -1, -2]", "[5]", "[1, 2, 3]", "[2, -10, 3]"]),
        t("lcs_length", "(a: str, b: str) -> int", "medium",
          "Return the length of the longest common subsequence of a and b (characters in the same "
          "order, not necessarily adjacent).",
          """
          prev = [0] * (len(b) + 1)
          for ca in a:
              cur = [0]
              for j, cb in enumerate(b):
                  cur.append(prev[j] + 1 if ca == cb else max(prev[j + 1], cur[j]))
              prev = cur
          return prev[-1]
          """,
          ["'abcde', 'ace'", "'abc', 'def'", "'', 'abc'", "'abc', 'abc'", "'axbycz', 'abc'"]),
        t("edit_distance", "(a: str, b: str) -> int", "medium",
          "Return the smallest number of single-character insertions, deletions and substitutions that "
          "turn a into b.",
          """
          prev = list(range(len(b) + 1))
          for i, ca in enumerate(a, 1):
              cur = [i]
              for j, cb in enumerate(b, 1):
                  cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
              prev = cur
          return prev[-1]
          """,
          ["'kitten', 'sitting'", "'', 'abc'", "'same', 'same'", "'abc', ''", "'flaw', 'lawn'"]),
        t("max_non_adjacent_sum", "(nums: List[int]) -> int", "medium",
          "nums holds non-negative integers. Return the largest sum of elements of nums such that no two "
          "chosen elements are next to each other. Return 0 for an empty list.",
          """
          take, skip = 0, 0
          for x in nums:
              take, skip = skip + x, max(take, skip)
          return max(take, skip)
          """,
          ["[2, 7, 9, 3, 1]", "[]", "[5]", "[1, 2, 3, 1]", "[4, 1, 1, 4]"]),
        t("count_grid_paths", "(rows: int, cols: int) -> int", "medium",
          "Return the number of paths from the top-left cell to the bottom-right cell of a grid with "
          "rows rows and cols columns, moving only right or down. rows and cols are positive.",
          """
          ways = [1] * cols
          for _ in range(rows - 1):
              for j in range(1, cols):
                  ways[j] += ways[j - 1]
          return ways[-1]
          """,
          ["2, 2", "3, 7", "1, 1", "1, 5", "3, 3"]),
        t("lis_length", "(nums: List[int]) -> int", "medium",
          "Return the length of the longest strictly increasing subsequence of nums (elements in their "
          "original order, not necessarily adjacent).",
          """
          best = [1] * len(nums)
          for i in range(len(nums)):
              for j in range(i):
                  if nums[j] < nums[i]:
                      best[i] = max(best[i], best[j] + 1)
          return max(best, default=0)
          """,
          ["[10, 9, 2, 5, 3, 7, 101, 18]", "[3, 3, 3]", "[]", "[1, 2, 3]", "[5, 1, 6, 2, 7]"]),
        t("min_grid_path_sum", "(grid: List[List[int]]) -> int", "medium",
          "grid is a non-empty rectangle of non-negative integers. Return the smallest sum of the cells "
          "on a path from the top-left cell to the bottom-right cell that only moves right or down.",
          """
          rows, cols = len(grid), len(grid[0])
          cost = [[0] * cols for _ in range(rows)]
          for i in range(rows):
              for j in range(cols):
                  if i == 0 and j == 0:
                      best = 0
                  elif i == 0:
                      best = cost[i][j - 1]
                  elif j == 0:
                      best = cost[i - 1][j]
                  else:
                      best = min(cost[i - 1][j], cost[i][j - 1])
                  cost[i][j] = best + grid[i][j]
          return cost[-1][-1]
          """,
          ["[[1, 3, 1], [1, 5, 1], [4, 2, 1]]", "[[5]]", "[[1, 2, 3]]", "[[1], [2], [3]]",
           "[[1, 9], [1, 1]]"]),
        t("can_split_equal", "(nums: List[int]) -> bool", "medium",
          "nums holds non-negative integers. Return True if nums can be divided into two groups (every "
          "element in exactly one group) with equal sums.",
          """
          total = sum(nums)
          if total % 2:
              return False
          reachable = {0}
          for x in nums:
              reachable |= {r + x for r in reachable}
          return total // 2 in reachable
          """,
          ["[1, 5, 11, 5]", "[1, 2, 5]", "[]", "[2, 2]", "[3, 1, 1, 2, 2, 1]", "[7]"]),
        t("pascal_row", "(n: int) -> List[int]", "easy",
          "Return row n of Pascal's triangle, where row 0 is [1] and row 1 is [1, 1].",
          """
          row = [1]
          for _ in range(n):
              row = [a + b for a, b in zip([0] + row, row + [0])]
          return row
          """,
          ["3", "0", "1", "5"]),
        t("count_decodings", "(digits: str) -> int", "medium",
          "Letters are coded as numbers 'A' = 1, ..., 'Z' = 26 and written one after another. Return "
          "how many ways the non-empty string of digits can be decoded, for example '12' as 'AB' or 'L'.",
          """
          prev, cur = 1, 1 if digits[0] != "0" else 0
          for i in range(1, len(digits)):
              nxt = cur if digits[i] != "0" else 0
              if 10 <= int(digits[i - 1:i + 1]) <= 26:
                  nxt += prev
              prev, cur = cur, nxt
          return cur
          """,
          ["'12'", "'226'", "'0'", "'10'", "'1111'", "'301'"]),
    ]


def _geometry() -> list[TaskSpec]:
    t = functools.partial(TaskSpec, "geometry")
    two = "(p: Tuple[int, int], q: Tuple[int, int])"
    pts = "points: List[Tuple[int, int]]"
    return [
        t("manhattan_distance", f"{two} -> int", "easy",
          "Return the Manhattan distance |x1 - x2| + |y1 - y2| between the points p = (x1, y1) and "
          "q = (x2, y2).",
          """
          return abs(p[0] - q[0]) + abs(p[1] - q[1])
          """,
          ["(1, 2), (4, 6)", "(0, 0), (0, 0)", "(-1, -1), (1, 1)", "(5, 0), (2, 0)"]),
        t("squared_distance", f"{two} -> int", "easy",
          "Return the square of the straight-line distance between the integer points p and q.",
          """
          return (p[0] - q[0]) ** 2 + (p[1] - q[1]) ** 2
          """,
          ["(0, 0), (3, 4)", "(1, 1), (1, 1)", "(-2, 0), (2, 0)", "(1, 2), (2, 1)"]),
        t("chebyshev_distance", f"{two} -> int", "easy",
          "Return the Chebyshev distance between p and q: the larger of |x1 - x2| and |y1 - y2|.",
          """
          return max(abs(p[0] - q[0]), abs(p[1] - q[1]))
          """,
          ["(1, 2), (4, 6)", "(0, 0), (0, 0)", "(-3, 1), (3, 2)", "(2, 9), (2, 1)"]),
        t("quadrant_of", "(x: int, y: int) -> int", "easy",
          "Return the quadrant (1, 2, 3 or 4, counter-clockwise starting from x > 0, y > 0) that the "
          "point (x, y) lies in, or 0 if the point is on an axis.",
          """
          if x == 0 or y == 0:
              return 0
          if x > 0:
              return 1 if y > 0 else 4
          return 2 if y > 0 else 3
          """,
          ["3, 4", "-3, 4", "-1, -1", "2, -5", "0, 7", "4, 0"]),
        t("polygon_double_area", f"({pts}) -> int", "medium",
          "points are the corners of a simple polygon in order (clockwise or counter-clockwise). Return "
          "twice its area, which is a non-negative integer (use the shoelace formula).",
          """
          total = 0
          for i in range(len(points)):
              x1, y1 = points[i]
              x2, y2 = points[(i + 1) % len(points)]
              total += x1 * y2 - x2 * y1
          return abs(total)
          """,
          ["[(0, 0), (4, 0), (4, 3)]", "[(0, 0), (2, 0), (2, 2), (0, 2)]", "[(0, 0), (0, 2), (2, 2), (2, 0)]",
           "[(1, 1), (2, 2), (3, 3)]", "[(0, 0), (5, 0), (5, 1), (1, 1), (1, 4), (0, 4)]"]),
        t("are_collinear", "(p: Tuple[int, int], q: Tuple[int, int], r: Tuple[int, int]) -> bool", "medium",
          "Return True if the three integer points p, q and r lie on one straight line.",
          """
          return (q[0] - p[0]) * (r[1] - p[1]) == (q[1] - p[1]) * (r[0] - p[0])
          """,
          ["(0, 0), (1, 1), (3, 3)", "(0, 0), (1, 2), (2, 1)", "(1, 1), (1, 1), (5, 7)",
           "(0, 5), (1, 5), (9, 5)", "(2, 0), (2, 4), (3, 9)"]),
        t("bounding_box", f"({pts}) -> Tuple[int, int, int, int]", "easy",
          "Return (min_x, min_y, max_x, max_y), the smallest axis-aligned box around points. points is "
          "not empty.",
          """
          xs = [x for x, _ in points]
          ys = [y for _, y in points]
          return (min(xs), min(ys), max(xs), max(ys))
          """,
          ["[(1, 5), (3, 2), (-1, 4)]", "[(0, 0)]", "[(2, 2), (2, 3)]", "[(-5, -5), (5, 5), (0, 9)]"]),
        t("closest_to_origin", f"({pts}) -> Tuple[int, int]", "medium",
          "Return the point of points that is closest to (0, 0). If several points are equally close, "
          "return the one that comes first. points is not empty.",
          """
          return min(points, key=lambda p: p[0] * p[0] + p[1] * p[1])
          """,
          ["[(3, 4), (1, 1), (5, 0)]", "[(2, 0), (0, 2)]", "[(7, 7)]", "[(-1, 0), (3, 3), (0, 1)]",
           "[(10, 0), (6, 8), (-9, 1)]"]),
        t("rectangle_overlap_area",
          "(a: Tuple[int, int, int, int], b: Tuple[int, int, int, int]) -> int", "medium",
          "Each rectangle is (x1, y1, x2, y2) with x1 < x2 and y1 < y2, the corners of an axis-aligned "
          "rectangle. Return the area of the overlap of a and b (0 if they do not overlap).",
          """
          width = min(a[2], b[2]) - max(a[0], b[0])
          height = min(a[3], b[3]) - max(a[1], b[1])
          return max(width, 0) * max(height, 0)
          """,
          ["(0, 0, 2, 2), (1, 1, 3, 3)", "(0, 0, 1, 1), (2, 2, 3, 3)", "(0, 0, 10, 10), (2, 3, 4, 5)",
           "(0, 0, 2, 2), (2, 0, 4, 2)", "(-3, -3, 0, 0), (-1, -5, 5, -2)"]),
        t("count_in_circle", f"({pts}, r: int) -> int", "medium",
          "Return how many of points lie inside or on the circle of radius r centred at (0, 0).",
          """
          return sum(1 for x, y in points if x * x + y * y <= r * r)
          """,
          ["[(1, 1), (3, 4), (5, 5)], 5", "[], 3", "[(0, 0)], 0", "[(2, 0), (0, -2), (2, 2)], 2"]),
        t("has_right_angle", "(p: Tuple[int, int], q: Tuple[int, int], r: Tuple[int, int]) -> bool", "medium",
          "p, q and r are three different integer points that are not on one line. Return True if the "
          "triangle they form has a right angle.",
          """
          def d2(a, b):
              return (a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2

          s = sorted([d2(p, q), d2(q, r), d2(p, r)])
          return s[0] + s[1] == s[2]
          """,
          ["(0, 0), (3, 0), (0, 4)", "(0, 0), (4, 0), (1, 3)", "(0, 0), (2, 1), (1, 3)",
           "(0, 0), (2, 0), (1, 5)", "(1, 1), (4, 1), (1, 5)", "(0, 0), (1, 1), (2, 0)"]),
        t("rectangle_perimeter", "(x1: int, y1: int, x2: int, y2: int) -> int", "easy",
          "Return the perimeter of the axis-aligned rectangle with opposite corners (x1, y1) and "
          "(x2, y2), given in any order.",
          """
          return 2 * (abs(x2 - x1) + abs(y2 - y1))
          """,
          ["0, 0, 3, 2", "3, 2, 0, 0", "1, 1, 1, 1", "-2, 5, 2, -5"]),
        t("walk_grid", "(start: Tuple[int, int], moves: str) -> Tuple[int, int]", "easy",
          "Starting at the point start, follow moves, where 'U' adds 1 to y, 'D' subtracts 1 from y, "
          "'R' adds 1 to x and 'L' subtracts 1 from x. Return the final point.",
          """
          x, y = start
          for m in moves:
              if m == "U":
                  y += 1
              elif m == "D":
                  y -= 1
              elif m == "R":
                  x += 1
              elif m == "L":
                  x -= 1
          return (x, y)
          """,
          ["(0, 0), 'UUR'", "(5, 5), ''", "(1, 2), 'LLDD'", "(0, 0), 'UDLR'", "(-3, 0), 'RRRRRU'"]),
    ]


def _sets() -> list[TaskSpec]:
    t = functools.partial(TaskSpec, "sets")
    two = "(a: List[int], b: List[int])"
    return [
        t("common_to_all_three", "(a: List[int], b: List[int], c: List[int]) -> List[int]", "easy",
          "Return the ascending list of the distinct values that occur in all three lists a, b and c.",
          """
          return sorted(set(a) & set(b) & set(c))
          """,
          ["[1, 2, 3], [2, 3, 4], [3, 2, 9]", "[1], [2], [3]", "[], [1], [1]", "[5, 5], [5], [5, 6]"]),
        t("in_exactly_one", f"{two} -> List[int]", "easy",
          "Return the ascending list of the distinct values that occur in exactly one of a and b.",
          """
          return sorted(set(a) ^ set(b))
          """,
          ["[1, 2, 3], [2, 3, 4]", "[], []", "[1, 1], []", "[5, 6], [6, 5]", "[0, 9], [9, 7]"]),
        t("only_in_first", f"{two} -> List[int]", "easy",
          "Return the ascending list of the distinct values of a that do not occur in b.",
          """
          return sorted(set(a) - set(b))
          """,
          ["[1, 2, 3, 3], [2]", "[], [1]", "[4, 5], []", "[7, 8], [8, 7]"]),
        t("sorted_union", f"{two} -> List[int]", "easy",
          "Return the ascending list of the distinct values that occur in a or b (or both).",
          """
          return sorted(set(a) | set(b))
          """,
          ["[3, 1], [2, 3]", "[], []", "[5, 5], []", "[-1], [1, -1]"]),
        t("is_subset_of", f"{two} -> bool", "easy",
          "Return True if every value that occurs in a also occurs in b.",
          """
          return set(a) <= set(b)
          """,
          ["[1, 2], [2, 3, 1]", "[1, 4], [1, 2]", "[], []", "[], [5]", "[3, 3], [3]", "[1], []"]),
        t("jaccard_index", f"{two} -> float", "medium",
          "Return the Jaccard index of the sets of values of a and b: the size of their intersection "
          "divided by the size of their union. Return 1.0 when both lists are empty.",
          """
          sa, sb = set(a), set(b)
          if not sa and not sb:
              return 1.0
          return len(sa & sb) / len(sa | sb)
          """,
          ["[1, 2, 3], [2, 3, 4]", "[1], [2]", "[], []", "[1, 1, 2], [2, 1]", "[1, 2, 3, 4], [4]"]),
        t("shared_characters", "(s: str, t: str) -> str", "easy",
          "Return, in alphabetical order and without repeats, the characters that occur in both s and t.",
          """
          return "".join(sorted(set(s) & set(t)))
          """,
          ["'hello', 'world'", "'abc', 'xyz'", "'', 'abc'", "'banana', 'band'"]),
        t("missing_letters", "(text: str) -> str", "easy",
          "Return, in alphabetical order, the lowercase letters 'a' to 'z' that do not occur in text, "
          "ignoring case.",
          """
          present = set(text.lower())
          return "".join(c for c in "abcdefghijklmnopqrstuvwxyz" if c not in present)
          """,
          ["'The quick brown fox jumps over the lazy dog'", "'abcdefghijklmnopqrstuvwxy'", "''",
           "'AEIOU bcd'"], n_examples=1),
        t("is_pangram", "(text: str) -> bool", "easy",
          "Return True if every letter from 'a' to 'z' occurs in text at least once, ignoring case.",
          """
          return set("abcdefghijklmnopqrstuvwxyz") <= set(text.lower())
          """,
          ["'The quick brown fox jumps over the lazy dog'", "'Hello world'", "''",
           "'ABCDEFGHIJKLMNOPQRSTUVWXYZ'", "'abcdefghijklmnopqrstuvwxy'"]),
        t("have_nothing_in_common", f"{two} -> bool", "easy",
          "Return True if no value occurs in both a and b.",
          """
          return not set(a) & set(b)
          """,
          ["[1, 2], [3, 4]", "[1, 2], [2, 5]", "[], []", "[7], [7]", "[1, 1, 1], [0]"]),
        t("count_distinct_overall", "(lists: List[List[int]]) -> int", "easy",
          "Return how many different values occur across all the lists in lists.",
          """
          return len({x for lst in lists for x in lst})
          """,
          ["[[1, 2], [2, 3]]", "[]", "[[], []]", "[[5, 5, 5]]", "[[1], [2], [3], [1]]"]),
        t("in_at_least_two", "(lists: List[List[int]]) -> List[int]", "medium",
          "Return the ascending list of the values that occur in at least two of the lists (a value "
          "repeated inside one list counts for that list only once).",
          """
          counts = {}
          for lst in lists:
              for x in set(lst):
                  counts[x] = counts.get(x, 0) + 1
          return sorted(x for x, c in counts.items() if c >= 2)
          """,
          ["[[1, 2], [2, 3], [3, 4]]", "[[1, 1], [2]]", "[]", "[[5], [5], [5]]", "[[1, 2, 3], [9, 3, 1]]"]),
    ]


def _formatting() -> list[TaskSpec]:
    t = functools.partial(TaskSpec, "formatting")
    return [
        t("pad_left", "(s: str, width: int, fill: str) -> str", "easy",
          "Return s padded on the left with the character fill until it is width characters long. A "
          "string that is already at least width long is returned unchanged.",
          """
          return fill * max(width - len(s), 0) + s
          """,
          ["'42', 5, '0'", "'hello', 3, '*'", "'', 2, '-'", "'ab', 2, 'x'"]),
        t("thousands_separators", "(n: int) -> str", "medium",
          "Return the integer n written with a comma between every group of three digits, counted from "
          "the right, like '1,234,567'. A negative number keeps its '-' sign in front.",
          """
          digits = str(abs(n))
          groups = []
          while digits:
              groups.append(digits[-3:])
              digits = digits[:-3]
          return ("-" if n < 0 else "") + ",".join(reversed(groups))
          """,
          ["1234567", "999", "0", "-1000", "100000", "1000000000"]),
        t("wrap_words", "(text: str, width: int) -> List[str]", "medium",
          "Split text into whitespace-separated words and lay them out greedily on lines of at most "
          "width characters, joining the words of a line with single spaces. A word longer than width "
          "gets a line of its own. Return the list of lines.",
          """
          lines = []
          current = ""
          for word in text.split():
              if not current:
                  current = word
              elif len(current) + 1 + len(word) <= width:
                  current += " " + word
              else:
                  lines.append(current)
                  current = word
          if current:
              lines.append(current)
          return lines
          """,
          ["'the quick brown fox', 10", "'', 5", "'abc', 1", "'a b c d', 3", "'one   two', 20",
           "'tiny enormousword x', 5"]),
        t("percent_string", "(part: int, whole: int) -> str", "medium",
          "Return part / whole as a percentage with exactly one digit after the decimal point followed "
          "by '%', like '12.5%'. whole is positive.",
          """
          return f"{100 * part / whole:.1f}%"
          """,
          ["1, 8", "1, 3", "2, 3", "0, 5", "5, 5", "7, 4"]),
        t("title_case_minor_words", "(text: str) -> str", "medium",
          "text is lower case with words separated by single spaces. Capitalise the first letter of every "
          "word except the minor words 'a', 'an', 'the', 'of', 'and' and 'in', which stay lower case "
          "unless they are the first word.",
          """
          minor = {"a", "an", "the", "of", "and", "in"}
          words = text.split(" ")
          return " ".join(w if i > 0 and w in minor else w[:1].upper() + w[1:] for i, w in enumerate(words))
          """,
          ["'the lord of the rings'", "'war and peace'", "''", "'a tale in time'", "'python'"]),
        t("join_with_and", "(items: List[str]) -> str", "medium",
          "Join items into an English list: [] gives '', one item gives the item, two items give "
          "'x and y', and more give 'x, y and z' (commas between all but the last two).",
          """
          if not items:
              return ""
          if len(items) == 1:
              return items[0]
          return ", ".join(items[:-1]) + " and " + items[-1]
          """,
          ["['red', 'green', 'blue']", "['tea', 'cake']", "[]", "['solo']", "['a', 'b', 'c', 'd']"]),
        t("format_phone_number", "(digits: str) -> str", "easy",
          "digits is a string of exactly 10 digits. Return it formatted as '(ddd) ddd-dddd'.",
          """
          return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
          """,
          ["'5551234567'", "'0000000000'", "'1234567890'", "'9876543210'"]),
        t("truncate_with_ellipsis", "(s: str, n: int) -> str", "easy",
          "If s is longer than n characters, return its first n characters followed by '...'. Otherwise "
          "return s unchanged.",
          """
          return s[:n] + "..." if len(s) > n else s
          """,
          ["'hello world', 5", "'short', 10", "'', 0", "'abc', 3", "'abcd', 0"]),
        t("zero_pad_number", "(n: int, width: int) -> str", "easy",
          "Return the non-negative integer n as a string with leading zeros added until it has at least "
          "width digits.",
          """
          return str(n).zfill(width)
          """,
          ["42, 5", "12345, 3", "0, 1", "7, 0", "5, 3"]),
        t("ordinal_string", "(n: int) -> str", "medium",
          "Return the non-negative integer n followed by its English ordinal suffix: 'st', 'nd' or 'rd' "
          "for numbers ending in 1, 2 or 3, except that numbers ending in 11, 12 or 13 take 'th', as do "
          "all others. For example 1 -> '1st', 12 -> '12th', 23 -> '23rd'.",
          """
          if n % 100 in (11, 12, 13):
              suffix = "th"
          else:
              suffix = {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
          return f"{n}{suffix}"
          """,
          ["1", "12", "2", "3", "11", "23", "104", "111"]),
        t("pluralize", "(count: int, word: str) -> str", "easy",
          "Return the count followed by a space and the word, adding an 's' to the word unless count is "
          "exactly 1.",
          """
          return f"{count} {word}" if count == 1 else f"{count} {word}s"
          """,
          ["1, 'apple'", "3, 'cat'", "0, 'dog'", "-1, 'degree'"]),
        t("format_table_row", "(cells: List[str], width: int) -> str", "medium",
          "Pad every cell on the right with spaces to width characters (longer cells are kept whole) "
          "and join the cells with ' | '.",
          """
          return " | ".join(c.ljust(width) for c in cells)
          """,
          ["['a', 'bb'], 3", "[], 4", "['long cell'], 4", "['x', 'y', 'z'], 1"]),
    ]


def _ciphers() -> list[TaskSpec]:
    t = functools.partial(TaskSpec, "ciphers")
    shift_body = """
          out = []
          for c in text:
              if "a" <= c <= "z":
                  out.append(chr((ord(c) - ord("a") + {k}) % 26 + ord("a")))
              else:
                  out.append(c)
          return "".join(out)
          """
    return [
        t("caesar_shift", "(text: str, k: int) -> str", "medium",
          "Shift every lower-case letter of text k places forward in the alphabet, wrapping around from "
          "'z' to 'a'. k is non-negative and may be larger than 26. Other characters stay the same.",
          shift_body.replace("{k}", "k"),
          ["'abc xyz', 2", "'hello', 0", "'', 5", "'zebra!', 27", "'Mixed Case', 1"]),
        t("rot13", "(text: str) -> str", "medium",
          "Apply ROT13 to the lower-case letters of text: shift each one 13 places forward in the "
          "alphabet, wrapping around from 'z' to 'a'. Other characters stay the same.",
          shift_body.replace("{k}", "13"),
          ["'hello'", "'uryyb'", "''", "'a-z 0'", "'Nope'"]),
        t("atbash", "(text: str) -> str", "medium",
          "Replace each lower-case letter of text by its mirror in the alphabet ('a' <-> 'z', "
          "'b' <-> 'y', and so on). Other characters stay the same.",
          """
          return "".join(chr(ord("a") + ord("z") - ord(c)) if "a" <= c <= "z" else c for c in text)
          """,
          ["'abc'", "'wizard'", "''", "'m n'", "'Hi!'"]),
        t("reverse_each_word", "(text: str) -> str", "easy",
          "Reverse the characters of every word of text, keeping the words in their places. Words are "
          "separated by single spaces.",
          """
          return " ".join(w[::-1] for w in text.split(" "))
          """,
          ["'hello world'", "'abc'", "''", "'a bc def'"]),
        t("char_codes", "(s: str) -> List[int]", "easy",
          "Return the list of the Unicode code points (ord values) of the characters of s.",
          """
          return [ord(c) for c in s]
          """,
          ["'AB'", "''", "'a z'", "'09'"]),
        t("from_char_codes", "(codes: List[int]) -> str", "easy",
          "Return the string whose characters have the given Unicode code points (chr values).",
          """
          return "".join(chr(c) for c in codes)
          """,
          ["[72, 105]", "[]", "[97, 32, 122]", "[48]"]),
        t("letter_positions", "(word: str) -> List[int]", "easy",
          "word is made of lower-case letters. Return the position of each letter in the alphabet, "
          "where 'a' is 1 and 'z' is 26.",
          """
          return [ord(c) - ord("a") + 1 for c in word]
          """,
          ["'abc'", "''", "'z'", "'hello'"]),
        t("pig_latin_word", "(word: str) -> str", "medium",
          "Translate a non-empty lower-case word to Pig Latin: if it starts with a vowel (a, e, i, o, "
          "u), add 'way' to the end; otherwise move all the consonants before the first vowel to the "
          "end and add 'ay'. A word without vowels just gets 'ay' added.",
          """
          vowels = "aeiou"
          if word[0] in vowels:
              return word + "way"
          for i, c in enumerate(word):
              if c in vowels:
                  return word[i:] + word[:i] + "ay"
          return word + "ay"
          """,
          ["'apple'", "'string'", "'pig'", "'rhythm'", "'egg'", "'chair'"]),
        t("swap_adjacent_chars", "(s: str) -> str", "easy",
          "Swap the characters of s in pairs: the first with the second, the third with the fourth, and "
          "so on. With an odd length, the last character stays where it is.",
          """
          chars = list(s)
          for i in range(0, len(chars) - 1, 2):
              chars[i], chars[i + 1] = chars[i + 1], chars[i]
          return "".join(chars)
          """,
          ["'abcd'", "'abcde'", "''", "'x'", "'hello world'"]),
        t("vowels_to_digits", "(text: str) -> str", "easy",
          "Replace every lower-case vowel in text by its position in 'aeiou' (a -> 1, e -> 2, i -> 3, "
          "o -> 4, u -> 5). Other characters stay the same.",
          """
          return "".join(str("aeiou".index(c) + 1) if c in "aeiou" else c for c in text)
          """,
          ["'hello'", "'sky'", "''", "'audio'", "'Under'"]),
        t("shift_digits", "(text: str, k: int) -> str", "easy",
          "Add k to every decimal digit of text, keeping only the last digit of the result (so 9 + 2 "
          "gives 1). k is non-negative. Other characters stay the same.",
          """
          return "".join(str((int(c) + k) % 10) if c.isdigit() else c for c in text)
          """,
          ["'a19', 2", "'no digits', 3", "'', 1", "'0000', 10", "'2024-12', 5"]),
    ]


def _sequences() -> list[TaskSpec]:
    t = functools.partial(TaskSpec, "sequences")
    return [
        t("arithmetic_sequence", "(start: int, step: int, n: int) -> List[int]", "easy",
          "Return the first n terms of the arithmetic sequence that begins at start and grows by step "
          "each time.",
          """
          return [start + i * step for i in range(n)]
          """,
          ["1, 3, 4", "5, 0, 3", "0, 1, 0", "10, -4, 4"]),
        t("geometric_sequence", "(start: int, ratio: int, n: int) -> List[int]", "easy",
          "Return the first n terms of the geometric sequence that begins at start, where each term is "
          "ratio times the one before.",
          """
          return [start * ratio ** i for i in range(n)]
          """,
          ["1, 2, 5", "3, 10, 3", "7, 5, 0", "2, -1, 4"]),
        t("squares_up_to", "(limit: int) -> List[int]", "easy",
          "Return, in ascending order, the squares of the positive integers (1, 4, 9, ...) that are less "
          "than or equal to limit.",
          """
          out = []
          k = 1
          while k * k <= limit:
              out.append(k * k)
              k += 1
          return out
          """,
          ["20", "0", "1", "16", "50"]),
        t("first_multiples", "(k: int, n: int) -> List[int]", "easy",
          "Return the first n positive multiples of k: k, 2k, 3k, and so on.",
          """
          return [k * i for i in range(1, n + 1)]
          """,
          ["3, 4", "7, 0", "1, 5", "-2, 3"]),
        t("first_fibonacci", "(n: int) -> List[int]", "medium",
          "Return the first n Fibonacci numbers, starting 0, 1, 1, 2, 3, ... (each number after the "
          "first two is the sum of the two before it).",
          """
          out = []
          a, b = 0, 1
          for _ in range(n):
              out.append(a)
              a, b = b, a + b
          return out
          """,
          ["7", "0", "1", "2", "10"]),
        t("triangular_numbers", "(n: int) -> List[int]", "easy",
          "Return the first n triangular numbers 1, 3, 6, 10, ..., where the k-th one is 1 + 2 + ... + k.",
          """
          return [k * (k + 1) // 2 for k in range(1, n + 1)]
          """,
          ["4", "0", "1", "6"]),
        t("look_and_say_next", "(s: str) -> str", "medium",
          "s is a non-empty string of digits. Return the next term of the look-and-say sequence: read s "
          "aloud as runs of equal digits, writing each run as its length followed by the digit. For "
          "example '1211' is one 1, one 2, two 1s, so the next term is '111221'.",
          """
          out = []
          i = 0
          while i < len(s):
              j = i
              while j < len(s) and s[j] == s[i]:
                  j += 1
              out.append(f"{j - i}{s[i]}")
              i = j
          return "".join(out)
          """,
          ["'1211'", "'1'", "'11'", "'21'", "'111221'", "'3333333333'"]),
        t("powers_of_two_up_to", "(limit: int) -> List[int]", "easy",
          "Return the powers of two 1, 2, 4, 8, ... that are less than or equal to limit, in ascending "
          "order.",
          """
          out = []
          p = 1
          while p <= limit:
              out.append(p)
              p *= 2
          return out
          """,
          ["10", "0", "1", "64", "100"]),
        t("countdown_list", "(n: int) -> List[int]", "easy",
          "Return the list [n, n - 1, ..., 1]; return [] when n is 0 or negative.",
          """
          return list(range(n, 0, -1))
          """,
          ["5", "0", "1", "-3", "3"]),
        t("alternating_signs", "(n: int) -> List[int]", "easy",
          "Return the list 1, -2, 3, -4, ... of length n: the numbers 1 to n where the even ones are "
          "negated.",
          """
          return [k if k % 2 else -k for k in range(1, n + 1)]
          """,
          ["4", "0", "1", "7"]),
    ]


def _list_ops() -> list[TaskSpec]:
    t = functools.partial(TaskSpec, "list_ops")
    return [
        t("rotate_left", "(nums: List[int], k: int) -> List[int]", "easy",
          "Return nums rotated k places to the left, so that the element at index k comes first. k is "
          "non-negative and may exceed the length; an empty list stays empty.",
          """
          if not nums:
              return []
          k %= len(nums)
          return nums[k:] + nums[:k]
          """,
          ["[1, 2, 3, 4, 5], 2", "[1, 2, 3], 0", "[], 3", "[1, 2, 3], 4", "[9], 100"]),
        t("chunk_list", "(nums: List[int], size: int) -> List[List[int]]", "easy",
          "Split nums into consecutive chunks of size elements each (size is positive); the last chunk "
          "may be shorter.",
          """
          return [nums[i:i + size] for i in range(0, len(nums), size)]
          """,
          ["[1, 2, 3, 4, 5], 2", "[], 3", "[1, 2, 3], 3", "[1, 2], 5", "[4, 5, 6], 1"]),
        t("flatten_once", "(lists: List[List[int]]) -> List[int]", "easy",
          "Return one list with the elements of all the inner lists of lists, in order.",
          """
          return [x for inner in lists for x in inner]
          """,
          ["[[1, 2], [3], [4, 5]]", "[]", "[[], []]", "[[7]]"]),
        t("remove_value", "(nums: List[int], x: int) -> List[int]", "easy",
          "Return a new list with every occurrence of x removed from nums.",
          """
          return [v for v in nums if v != x]
          """,
          ["[1, 2, 1, 3], 1", "[1, 2], 5", "[], 0", "[4, 4], 4"]),
        t("interleave_lists", "(a: List[int], b: List[int]) -> List[int]", "medium",
          "Return a list that takes elements alternately from a and b, starting with a. When one list "
          "runs out, the rest of the other follows.",
          """
          out = []
          for i in range(max(len(a), len(b))):
              if i < len(a):
                  out.append(a[i])
              if i < len(b):
                  out.append(b[i])
          return out
          """,
          ["[1, 2, 3], [10, 20, 30]", "[1], [5, 6, 7]", "[], []", "[4, 5], []"]),
        t("dedupe_keep_first", "(nums: List[int]) -> List[int]", "easy",
          "Return nums without repeated values: keep the first occurrence of each value and drop the "
          "later ones, preserving the order.",
          """
          seen = set()
          out = []
          for x in nums:
              if x not in seen:
                  seen.add(x)
                  out.append(x)
          return out
          """,
          ["[3, 1, 3, 2, 1]", "[]", "[5, 5, 5]", "[1, 2, 3]"]),
        t("zeros_to_end", "(nums: List[int]) -> List[int]", "easy",
          "Return nums with all zeros moved to the end, keeping the other elements in their original "
          "order.",
          """
          return [x for x in nums if x != 0] + [0] * nums.count(0)
          """,
          ["[0, 1, 0, 3, 12]", "[]", "[0, 0]", "[4, 5]", "[1, 0]"]),
        t("split_on_value", "(nums: List[int], sep: int) -> List[List[int]]", "medium",
          "Split nums at every occurrence of sep, like str.split does for strings, and return the "
          "pieces; sep itself is dropped and empty pieces are kept. For example [1, 0, 2, 3, 0] with "
          "sep 0 gives [[1], [2, 3], []].",
          """
          pieces = [[]]
          for x in nums:
              if x == sep:
                  pieces.append([])
              else:
                  pieces[-1].append(x)
          return pieces
          """,
          ["[1, 0, 2, 3, 0], 0", "[], 5", "[5], 5", "[1, 2], 9", "[7, 7], 7"]),
        t("last_n_items", "(nums: List[int], n: int) -> List[int]", "easy",
          "Return the last n elements of nums (the whole list if it has fewer than n elements, and [] "
          "when n is 0).",
          """
          return nums[max(len(nums) - n, 0):]
          """,
          ["[1, 2, 3, 4], 2", "[1, 2], 5", "[1, 2, 3], 0", "[], 1", "[9, 8], 2"]),
        t("every_other", "(nums: List[int]) -> List[int]", "easy",
          "Return the elements of nums at even indexes (0, 2, 4, ...).",
          """
          return nums[::2]
          """,
          ["[1, 2, 3, 4, 5]", "[]", "[7]", "[1, 2]"]),
        t("swap_pairs", "(nums: List[int]) -> List[int]", "easy",
          "Return nums with neighbouring elements swapped in pairs: the first with the second, the third "
          "with the fourth, and so on. With an odd length, the last element stays in place.",
          """
          out = list(nums)
          for i in range(0, len(out) - 1, 2):
              out[i], out[i + 1] = out[i + 1], out[i]
          return out
          """,
          ["[1, 2, 3, 4]", "[1, 2, 3]", "[]", "[5]"]),
        t("zip_to_pairs", "(a: List[int], b: List[str]) -> List[Tuple[int, str]]", "easy",
          "Return the list of pairs (a[i], b[i]); when the lists have different lengths, stop at the end "
          "of the shorter one.",
          """
          return list(zip(a, b))
          """,
          ["[1, 2, 3], ['a', 'b', 'c']", "[], ['x']", "[1, 2], ['p']", "[5], ['q', 'r']"]),
    ]


def all_specs() -> list[TaskSpec]:
    """Every task spec, family by family."""
    families = (
        _strings, _list_arithmetic, _counting, _searching, _sorting, _number_theory, _dicts, _parsing,
        _matrices, _intervals, _calendar, _run_length, _bits, _brackets, _windows, _dynamic_programming,
        _geometry, _sets, _formatting, _ciphers, _sequences, _list_ops,
    )
    return [spec for family in families for spec in family()]


if __name__ == "__main__":
    main()
