"""Task specs for the collection families: ``dicts`` (building and querying dictionaries: frequencies,
grouping, inverting, merging counts) and ``sets`` (unions, intersections, subsets, Jaccard index). Each
function returns one family's :class:`~polyrlaif.datasets.code_tasks.build.TaskSpec` list;
``build.all_specs`` puts the families in order, and the builder renders and checks them. Calls
are argument source text: the first ``n_examples`` become docstring examples, so they are short, and the
edge cases come after.
"""

from __future__ import annotations

import functools

from polyrlaif.datasets.code_tasks.build import TaskSpec

__all__ = ["dicts", "sets"]


def dicts() -> list[TaskSpec]:
    """Tasks that build or query dictionaries: frequencies, grouping, inverting, merging counts."""
    t = functools.partial(TaskSpec, "dicts")
    return [
        t(
            "char_frequencies",
            "(s: str) -> Dict[str, int]",
            "easy",
            "Return a dictionary that maps each character of s to the number of times it occurs in s.",
            """
          counts = {}
          for c in s:
              counts[c] = counts.get(c, 0) + 1
          return counts
          """,
            ["'hello'", "''", "'aaa'", "'abab'", "'a b'"],
            n_examples=1,
        ),
        t(
            "word_length_map",
            "(words: List[str]) -> Dict[str, int]",
            "easy",
            "Return a dictionary that maps each word in words to its length.",
            """
          return {w: len(w) for w in words}
          """,
            ["['hi', 'there']", "[]", "['a', 'a']", "['', 'xyz']"],
        ),
        t(
            "invert_dict",
            "(d: Dict[str, int]) -> Dict[int, str]",
            "easy",
            "Return a new dictionary with the keys and values of d swapped. The values of d are all "
            "different.",
            """
          return {v: k for k, v in d.items()}
          """,
            ["{'a': 1, 'b': 2}", "{}", "{'x': -5}", "{'one': 1, 'two': 2, 'three': 3}"],
        ),
        t(
            "group_by_first_letter",
            "(words: List[str]) -> Dict[str, List[str]]",
            "medium",
            "Group words by their first letter: return a dictionary that maps each first letter to the "
            "list of words starting with it, in their original order. All words are non-empty.",
            """
          groups = {}
          for w in words:
              groups.setdefault(w[0], []).append(w)
          return groups
          """,
            ["['apple', 'bob', 'avocado']", "[]", "['x']", "['cat', 'car', 'dog', 'cow']"],
            n_examples=1,
        ),
        t(
            "group_by_length",
            "(words: List[str]) -> Dict[int, List[str]]",
            "medium",
            "Return a dictionary that maps each word length to the list of words in words with that "
            "length, in their original order.",
            """
          groups = {}
          for w in words:
              groups.setdefault(len(w), []).append(w)
          return groups
          """,
            ["['a', 'bb', 'c']", "[]", "['one', 'two', 'three']", "['', 'x', '']"],
            n_examples=1,
        ),
        t(
            "merge_counts",
            "(a: Dict[str, int], b: Dict[str, int]) -> Dict[str, int]",
            "medium",
            "Return a new dictionary with every key of a and b. A key that is in both maps to the sum of "
            "its two values. Neither input is changed.",
            """
          result = dict(a)
          for k, v in b.items():
              result[k] = result.get(k, 0) + v
          return result
          """,
            [
                "{'x': 1, 'y': 2}, {'y': 3, 'z': 4}",
                "{}, {}",
                "{'a': 1}, {}",
                "{}, {'b': 2}",
                "{'k': -1}, {'k': 1}",
            ],
            n_examples=1,
        ),
        t(
            "first_positions",
            "(words: List[str]) -> Dict[str, int]",
            "medium",
            "Return a dictionary that maps each word of words to the index of its first occurrence.",
            """
          positions = {}
          for i, w in enumerate(words):
              if w not in positions:
                  positions[w] = i
          return positions
          """,
            ["['a', 'b', 'a', 'c']", "[]", "['x', 'x', 'x']", "['p', 'q', 'r']"],
        ),
        t(
            "keys_with_value",
            "(d: Dict[str, int], value: int) -> List[str]",
            "easy",
            "Return the alphabetically sorted list of the keys of d whose value equals value.",
            """
          return sorted(k for k, v in d.items() if v == value)
          """,
            ["{'b': 1, 'a': 1, 'c': 2}, 1", "{'a': 1}, 5", "{}, 0", "{'z': 3, 'y': 3, 'x': 3}, 3"],
        ),
        t(
            "dict_from_lists",
            "(keys: List[str], values: List[int]) -> Dict[str, int]",
            "easy",
            "Return a dictionary that maps keys[i] to values[i]. The lists have the same length; if a key "
            "repeats, its last value wins.",
            """
          return dict(zip(keys, values))
          """,
            ["['a', 'b'], [1, 2]", "[], []", "['k', 'k'], [1, 2]", "['x'], [0]"],
        ),
        t(
            "key_with_largest_value",
            "(d: Dict[str, int]) -> str",
            "medium",
            "Return the key of d with the largest value. If several keys share the largest value, return "
            "the alphabetically smallest of them. d is not empty.",
            """
          best = max(d.values())
          return min(k for k, v in d.items() if v == best)
          """,
            ["{'a': 1, 'b': 3, 'c': 2}", "{'y': 5, 'x': 5}", "{'only': -1}", "{'m': 0, 'n': -2}"],
        ),
        t(
            "filter_min_value",
            "(d: Dict[str, int], minimum: int) -> Dict[str, int]",
            "easy",
            "Return a new dictionary with only those items of d whose value is at least minimum.",
            """
          return {k: v for k, v in d.items() if v >= minimum}
          """,
            ["{'a': 1, 'b': 5, 'c': 3}, 3", "{}, 0", "{'x': 1}, 2", "{'p': -1, 'q': 0}, -1"],
        ),
        t(
            "parity_counts",
            "(nums: List[int]) -> Dict[str, int]",
            "easy",
            "Return a dictionary {'even': e, 'odd': o} where e is how many numbers in nums are even and "
            "o is how many are odd.",
            """
          even = sum(1 for x in nums if x % 2 == 0)
          return {"even": even, "odd": len(nums) - even}
          """,
            ["[1, 2, 3]", "[]", "[0, 2, 4]", "[-1, -3]"],
        ),
        t(
            "totals_by_name",
            "(items: List[Tuple[str, int]]) -> Dict[str, int]",
            "medium",
            "items is a list of (name, amount) pairs. Return a dictionary that maps each name to the sum "
            "of its amounts.",
            """
          totals = {}
          for name, amount in items:
              totals[name] = totals.get(name, 0) + amount
          return totals
          """,
            ["[('ann', 3), ('bob', 1), ('ann', 2)]", "[]", "[('x', 0)]", "[('a', 5), ('a', -5), ('b', 1)]"],
            n_examples=1,
        ),
    ]


def sets() -> list[TaskSpec]:
    """Tasks on set relations: unions, intersections, subsets, Jaccard index, pangrams."""
    t = functools.partial(TaskSpec, "sets")
    two = "(a: List[int], b: List[int])"
    return [
        t(
            "common_to_all_three",
            "(a: List[int], b: List[int], c: List[int]) -> List[int]",
            "easy",
            "Return the ascending list of the distinct values that occur in all three lists a, b and c.",
            """
          return sorted(set(a) & set(b) & set(c))
          """,
            ["[1, 2, 3], [2, 3, 4], [3, 2, 9]", "[1], [2], [3]", "[], [1], [1]", "[5, 5], [5], [5, 6]"],
        ),
        t(
            "in_exactly_one",
            f"{two} -> List[int]",
            "easy",
            "Return the ascending list of the distinct values that occur in exactly one of a and b.",
            """
          return sorted(set(a) ^ set(b))
          """,
            ["[1, 2, 3], [2, 3, 4]", "[], []", "[1, 1], []", "[5, 6], [6, 5]", "[0, 9], [9, 7]"],
        ),
        t(
            "only_in_first",
            f"{two} -> List[int]",
            "easy",
            "Return the ascending list of the distinct values of a that do not occur in b.",
            """
          return sorted(set(a) - set(b))
          """,
            ["[1, 2, 3, 3], [2]", "[], [1]", "[4, 5], []", "[7, 8], [8, 7]"],
        ),
        t(
            "sorted_union",
            f"{two} -> List[int]",
            "easy",
            "Return the ascending list of the distinct values that occur in a or b (or both).",
            """
          return sorted(set(a) | set(b))
          """,
            ["[3, 1], [2, 3]", "[], []", "[5, 5], []", "[-1], [1, -1]"],
        ),
        t(
            "is_subset_of",
            f"{two} -> bool",
            "easy",
            "Return True if every value that occurs in a also occurs in b.",
            """
          return set(a) <= set(b)
          """,
            ["[1, 2], [2, 3, 1]", "[1, 4], [1, 2]", "[], []", "[], [5]", "[3, 3], [3]", "[1], []"],
        ),
        t(
            "jaccard_index",
            f"{two} -> float",
            "medium",
            "Return the Jaccard index of the sets of values of a and b: the size of their intersection "
            "divided by the size of their union. Return 1.0 when both lists are empty.",
            """
          sa, sb = set(a), set(b)
          if not sa and not sb:
              return 1.0
          return len(sa & sb) / len(sa | sb)
          """,
            ["[1, 2, 3], [2, 3, 4]", "[1], [2]", "[], []", "[1, 1, 2], [2, 1]", "[1, 2, 3, 4], [4]"],
        ),
        t(
            "shared_characters",
            "(s: str, t: str) -> str",
            "easy",
            "Return, in alphabetical order and without repeats, the characters that occur in both s and t.",
            """
          return "".join(sorted(set(s) & set(t)))
          """,
            ["'hello', 'world'", "'abc', 'xyz'", "'', 'abc'", "'banana', 'band'"],
        ),
        t(
            "missing_letters",
            "(text: str) -> str",
            "easy",
            "Return, in alphabetical order, the lowercase letters 'a' to 'z' that do not occur in text, "
            "ignoring case.",
            """
          present = set(text.lower())
          return "".join(c for c in "abcdefghijklmnopqrstuvwxyz" if c not in present)
          """,
            [
                "'The quick brown fox jumps over the lazy dog'",
                "'abcdefghijklmnopqrstuvwxy'",
                "''",
                "'AEIOU bcd'",
            ],
            n_examples=1,
        ),
        t(
            "is_pangram",
            "(text: str) -> bool",
            "easy",
            "Return True if every letter from 'a' to 'z' occurs in text at least once, ignoring case.",
            """
          return set("abcdefghijklmnopqrstuvwxyz") <= set(text.lower())
          """,
            [
                "'The quick brown fox jumps over the lazy dog'",
                "'Hello world'",
                "''",
                "'ABCDEFGHIJKLMNOPQRSTUVWXYZ'",
                "'abcdefghijklmnopqrstuvwxy'",
            ],
        ),
        t(
            "have_nothing_in_common",
            f"{two} -> bool",
            "easy",
            "Return True if no value occurs in both a and b.",
            """
          return not set(a) & set(b)
          """,
            ["[1, 2], [3, 4]", "[1, 2], [2, 5]", "[], []", "[7], [7]", "[1, 1, 1], [0]"],
        ),
        t(
            "count_distinct_overall",
            "(lists: List[List[int]]) -> int",
            "easy",
            "Return how many different values occur across all the lists in lists.",
            """
          return len({x for lst in lists for x in lst})
          """,
            ["[[1, 2], [2, 3]]", "[]", "[[], []]", "[[5, 5, 5]]", "[[1], [2], [3], [1]]"],
        ),
        t(
            "in_at_least_two",
            "(lists: List[List[int]]) -> List[int]",
            "medium",
            "Return the ascending list of the values that occur in at least two of the lists (a value "
            "repeated inside one list counts for that list only once).",
            """
          counts = {}
          for lst in lists:
              for x in set(lst):
                  counts[x] = counts.get(x, 0) + 1
          return sorted(x for x, c in counts.items() if c >= 2)
          """,
            ["[[1, 2], [2, 3], [3, 4]]", "[[1, 1], [2]]", "[]", "[[5], [5], [5]]", "[[1, 2, 3], [9, 3, 1]]"],
        ),
    ]
