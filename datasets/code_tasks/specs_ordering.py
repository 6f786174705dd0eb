"""Task specs for the ordering families: ``searching`` (finding an index or a value, binary search, pairs
with a given sum) and ``sorting`` (sorting by keys, merging sorted lists, k-th smallest, inversions). Each
function returns one family's :class:`~polyrlaif.datasets.code_tasks.build.TaskSpec` list;
``build.all_specs`` puts the families in order, and the builder renders and checks them. Calls
are argument source text: the first ``n_examples`` become docstring examples, so they are short, and the
edge cases come after.
"""

from __future__ import annotations

import functools

from polyrlaif.datasets.code_tasks.build import TaskSpec

__all__ = ["searching", "sorting"]


def searching() -> list[TaskSpec]:
    """Tasks that find an index or a value: binary search, missing numbers, pairs with a sum."""
    t = functools.partial(TaskSpec, "searching")
    return [
        t(
            "first_negative_index",
            "(nums: List[int]) -> int",
            "easy",
            "Return the index of the first negative number in nums, or -1 if there is none.",
            """
          for i, x in enumerate(nums):
              if x < 0:
                  return i
          return -1
          """,
            ["[3, -1, -2]", "[1, 2]", "[]", "[-7]", "[0, 0, 5, -5]"],
        ),
        t(
            "last_index_of",
            "(nums: List[int], x: int) -> int",
            "easy",
            "Return the index of the last occurrence of x in nums, or -1 if x does not occur.",
            """
          for i in range(len(nums) - 1, -1, -1):
              if nums[i] == x:
                  return i
          return -1
          """,
            ["[1, 2, 1, 3], 1", "[1, 2], 5", "[], 0", "[4], 4", "[7, 7, 7], 7"],
        ),
        t(
            "binary_search",
            "(nums: List[int], x: int) -> int",
            "medium",
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
            [
                "[1, 3, 5, 7], 5",
                "[1, 3, 5, 7], 4",
                "[], 1",
                "[2], 2",
                "[-5, 0, 5, 10, 15], -5",
                "[-5, 0, 5, 10, 15], 15",
                "[1, 2], 3",
            ],
        ),
        t(
            "index_of_max",
            "(nums: List[int]) -> int",
            "easy",
            "Return the index of the largest value in nums. If the largest value occurs more than once, "
            "return its first index. Return -1 for an empty list.",
            """
          if not nums:
              return -1
          return nums.index(max(nums))
          """,
            ["[3, 9, 2]", "[5, 5, 1]", "[]", "[-3, -1, -1]", "[0]"],
        ),
        t(
            "first_repeated_value",
            "(nums: List[int]) -> int",
            "medium",
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
            ["[2, 5, 1, 5, 2]", "[1, 2, 3]", "[]", "[4, 4]", "[3, 1, 2, 1, 3]"],
        ),
        t(
            "find_missing_number",
            "(nums: List[int]) -> int",
            "medium",
            "nums contains n different numbers taken from 0, 1, ..., n, so exactly one number of that "
            "range is missing. Return it.",
            """
          n = len(nums)
          return n * (n + 1) // 2 - sum(nums)
          """,
            ["[3, 0, 1]", "[0, 1]", "[]", "[1]", "[0]", "[5, 4, 2, 1, 0]"],
        ),
        t(
            "second_largest_distinct",
            "(nums: List[int]) -> Optional[int]",
            "medium",
            "Return the second largest of the different values in nums, or None if nums has fewer than "
            "two different values.",
            """
          values = sorted(set(nums))
          if len(values) < 2:
              return None
          return values[-2]
          """,
            ["[4, 1, 9, 9]", "[3, 3]", "[]", "[-1, -2]", "[10, 20, 30, 20]"],
        ),
        t(
            "closest_value",
            "(nums: List[int], target: int) -> int",
            "medium",
            "Return the number in nums that is closest to target. If two numbers are equally close, "
            "return the smaller one. nums is not empty.",
            """
          return min(nums, key=lambda x: (abs(x - target), x))
          """,
            ["[1, 5, 9], 6", "[1, 5, 9], 7", "[4], 100", "[-3, 3], 0", "[10, 20, 30], 26", "[2, 2], 2"],
        ),
        t(
            "indexes_of",
            "(nums: List[int], x: int) -> List[int]",
            "easy",
            "Return the list of all indexes at which x occurs in nums.",
            """
          return [i for i, v in enumerate(nums) if v == x]
          """,
            ["[1, 2, 1, 3, 1], 1", "[1, 2], 5", "[], 0", "[6], 6"],
        ),
        t(
            "first_unique_char_index",
            "(s: str) -> int",
            "medium",
            "Return the index of the first character of s that occurs exactly once in s, or -1 if every "
            "character repeats.",
            """
          for i, c in enumerate(s):
              if s.count(c) == 1:
                  return i
          return -1
          """,
            ["'leetcode'", "'aabb'", "''", "'abcab'", "'z'"],
        ),
        t(
            "has_repeated_value",
            "(nums: List[int]) -> bool",
            "easy",
            "Return True if some value occurs more than once in nums, otherwise False.",
            """
          return len(set(nums)) < len(nums)
          """,
            ["[1, 2, 3, 1]", "[1, 2, 3]", "[]", "[0, 0]", "[5]"],
        ),
        t(
            "find_pair_with_sum",
            "(nums: List[int], target: int) -> Tuple[int, int]",
            "medium",
            "Return a pair of indexes (i, j) with i < j and nums[i] + nums[j] == target. Choose the "
            "smallest possible i, and for that i the smallest j. Return (-1, -1) if there is no such pair.",
            """
          for i in range(len(nums)):
              for j in range(i + 1, len(nums)):
                  if nums[i] + nums[j] == target:
                      return (i, j)
          return (-1, -1)
          """,
            ["[2, 7, 11, 15], 9", "[1, 2], 5", "[], 0", "[3, 3, 3], 6", "[1, 4, 2, 3], 5"],
        ),
    ]


def sorting() -> list[TaskSpec]:
    """Tasks on ordering: sorting by keys, merging sorted lists, k-th smallest, inversions."""
    t = functools.partial(TaskSpec, "sorting")
    return [
        t(
            "sort_by_length",
            "(words: List[str]) -> List[str]",
            "easy",
            "Return words sorted by length, shortest first. Words of the same length keep their original "
            "order.",
            """
          return sorted(words, key=len)
          """,
            ["['ccc', 'a', 'bb']", "['to', 'be', 'or']", "[]", "['long', 'x', 'mid', 'y']"],
        ),
        t(
            "sort_descending",
            "(nums: List[int]) -> List[int]",
            "easy",
            "Return the numbers of nums sorted from largest to smallest.",
            """
          return sorted(nums, reverse=True)
          """,
            ["[3, 1, 2]", "[]", "[5, 5, -1]", "[0]", "[-2, -8, 4]"],
        ),
        t(
            "sort_by_last_char",
            "(words: List[str]) -> List[str]",
            "medium",
            "Return words sorted by their last character. Words that end with the same character keep "
            "their original order. All words are non-empty.",
            """
          return sorted(words, key=lambda w: w[-1])
          """,
            ["['cab', 'bca', 'abc']", "['zz', 'az']", "[]", "['hat', 'bus', 'ant', 'ski']"],
        ),
        t(
            "sort_by_absolute_value",
            "(nums: List[int]) -> List[int]",
            "easy",
            "Return nums sorted by absolute value. Numbers with the same absolute value keep their "
            "original order.",
            """
          return sorted(nums, key=abs)
          """,
            ["[-5, 2, -1]", "[3, -3, 0]", "[]", "[-10, 9, -8]", "[7]"],
        ),
        t(
            "evens_then_odds",
            "(nums: List[int]) -> List[int]",
            "medium",
            "Return the even numbers of nums in ascending order, followed by the odd numbers of nums in "
            "ascending order.",
            """
          return sorted(x for x in nums if x % 2 == 0) + sorted(x for x in nums if x % 2 != 0)
          """,
            ["[5, 2, 3, 8]", "[1, 3]", "[]", "[4, -2, -1, 0]", "[9, 7, 6]"],
        ),
        t(
            "sort_pairs_by_second",
            "(pairs: List[Tuple[str, int]]) -> List[Tuple[str, int]]",
            "easy",
            "Return pairs sorted by their second element in ascending order. Pairs with the same second "
            "element keep their original order.",
            """
          return sorted(pairs, key=lambda p: p[1])
          """,
            [
                "[('a', 3), ('b', 1), ('c', 2)]",
                "[('x', 0), ('y', 0)]",
                "[]",
                "[('k', -1), ('j', 5), ('i', -2)]",
            ],
            n_examples=1,
        ),
        t(
            "sort_ignoring_case",
            "(words: List[str]) -> List[str]",
            "easy",
            "Return words sorted alphabetically, ignoring the difference between upper and lower case. "
            "Words that compare equal keep their original order.",
            """
          return sorted(words, key=str.lower)
          """,
            ["['banana', 'Apple', 'cherry']", "['b', 'B', 'a']", "[]", "['Zed', 'alpha', 'Mid']"],
        ),
        t(
            "sort_by_frequency",
            "(nums: List[int]) -> List[int]",
            "medium",
            "Return nums sorted so that values that occur more often come first; values that occur "
            "equally often are in ascending order. Every occurrence is kept.",
            """
          counts = {}
          for x in nums:
              counts[x] = counts.get(x, 0) + 1
          return sorted(nums, key=lambda x: (-counts[x], x))
          """,
            ["[1, 2, 2, 3, 3, 3]", "[4, 1, 4, 1]", "[]", "[5]", "[2, 1, 3, 1]"],
        ),
        t(
            "merge_sorted_lists",
            "(a: List[int], b: List[int]) -> List[int]",
            "medium",
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
            ["[1, 4, 6], [2, 3, 7]", "[], [1, 2]", "[], []", "[5], [5]", "[-3, 0], [-5, 10, 20]"],
        ),
        t(
            "kth_smallest",
            "(nums: List[int], k: int) -> int",
            "easy",
            "Return the k-th smallest element of nums, where k = 1 means the smallest. Repeated values "
            "count separately. 1 <= k <= len(nums).",
            """
          return sorted(nums)[k - 1]
          """,
            ["[7, 1, 5], 2", "[3, 3, 1], 3", "[9], 1", "[4, 2, 2, 8], 2", "[-1, -6, 0], 1"],
        ),
        t(
            "count_inversions",
            "(nums: List[int]) -> int",
            "medium",
            "Return the number of index pairs (i, j) with i < j and nums[i] > nums[j].",
            """
          return sum(1 for i in range(len(nums)) for j in range(i + 1, len(nums)) if nums[i] > nums[j])
          """,
            ["[2, 4, 1, 3, 5]", "[1, 2, 3]", "[]", "[3, 2, 1]", "[1, 1, 1]"],
        ),
        t(
            "is_non_increasing",
            "(nums: List[int]) -> bool",
            "easy",
            "Return True if every element of nums is greater than or equal to the element after it.",
            """
          return all(a >= b for a, b in zip(nums, nums[1:]))
          """,
            ["[5, 3, 3, 1]", "[1, 2]", "[]", "[4]", "[9, 8, 9]"],
        ),
    ]
