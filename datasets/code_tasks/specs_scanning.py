"""Task specs for the families that scan a sequence once: ``counting`` (words, signs, pairs, multiples and
frequencies) and ``windows`` (sliding-window sums and maxima, longest increasing or unique runs). Each
function returns one family's :class:`~polyrlaif.datasets.code_tasks.build.TaskSpec` list;
``build.all_specs`` puts the families in order, and the builder renders and checks them. Calls
are argument source text: the first ``n_examples`` become docstring examples, so they are short, and the
edge cases come after.
"""

from __future__ import annotations

import functools

from polyrlaif.datasets.code_tasks.build import TaskSpec

__all__ = ["counting", "windows"]


def counting() -> list[TaskSpec]:
    """Tasks that count things in lists and strings: words, signs, pairs, multiples, frequencies."""
    t = functools.partial(TaskSpec, "counting")
    return [
        t(
            "count_words",
            "(text: str) -> int",
            "easy",
            "Return the number of words in text, where words are separated by whitespace.",
            """
          return len(text.split())
          """,
            ["'hello world'", "''", "'  one  '", "'a b c d'", "'tab\\tseparated words'"],
        ),
        t(
            "count_negatives",
            "(nums: List[int]) -> int",
            "easy",
            "Return how many numbers in nums are negative.",
            """
          return sum(1 for x in nums if x < 0)
          """,
            ["[-1, 2, -3]", "[]", "[0, 1]", "[-5, -5]", "[4, -1, 0, 9]"],
        ),
        t(
            "count_greater_than",
            "(nums: List[int], limit: int) -> int",
            "easy",
            "Return how many numbers in nums are strictly greater than limit.",
            """
          return sum(1 for x in nums if x > limit)
          """,
            ["[1, 5, 10], 4", "[], 3", "[3, 3], 3", "[-1, 0, 1], -1", "[9, 8, 7], 0"],
        ),
        t(
            "count_char",
            "(s: str, ch: str) -> int",
            "easy",
            "Return how many times the character ch occurs in s.",
            """
          return s.count(ch)
          """,
            ["'banana', 'a'", "'hello', 'z'", "'', 'x'", "'aAaA', 'A'", "'  ', ' '"],
        ),
        t(
            "count_distinct_values",
            "(nums: List[int]) -> int",
            "easy",
            "Return the number of different values in nums.",
            """
          return len(set(nums))
          """,
            ["[1, 2, 2, 3]", "[]", "[7, 7, 7]", "[-1, 1]", "[0, 1, 0, 1, 2]"],
        ),
        t(
            "count_digit_chars",
            "(s: str) -> int",
            "easy",
            "Return how many characters of s are decimal digits.",
            """
          return sum(1 for c in s if c.isdigit())
          """,
            ["'abc123'", "'no digits'", "''", "'2024-01-05'", "'7'"],
        ),
        t(
            "count_pairs_with_sum",
            "(nums: List[int], target: int) -> int",
            "medium",
            "Return the number of index pairs (i, j) with i < j such that nums[i] + nums[j] == target.",
            """
          count = 0
          for i in range(len(nums)):
              for j in range(i + 1, len(nums)):
                  if nums[i] + nums[j] == target:
                      count += 1
          return count
          """,
            ["[1, 2, 3, 4], 5", "[1, 1, 1], 2", "[], 0", "[5], 10", "[0, -1, 1, 2], 1", "[3, 3, 3, 3], 7"],
        ),
        t(
            "most_frequent_value",
            "(nums: List[int]) -> int",
            "medium",
            "Return the value that occurs most often in nums. If several values occur equally often, "
            "return the smallest of them. nums is not empty.",
            """
          counts = {}
          for x in nums:
              counts[x] = counts.get(x, 0) + 1
          return min(counts, key=lambda x: (-counts[x], x))
          """,
            ["[1, 3, 3, 2]", "[4, 4, 1, 1]", "[7]", "[-1, -1, 5, 5, 5]", "[9, 8, 9, 8, 0]"],
        ),
        t(
            "count_multiples_between",
            "(lo: int, hi: int, k: int) -> int",
            "easy",
            "Return how many integers x with lo <= x <= hi are divisible by k. k is positive.",
            """
          return sum(1 for x in range(lo, hi + 1) if x % k == 0)
          """,
            ["1, 10, 3", "5, 5, 5", "10, 1, 2", "-6, 6, 4", "0, 0, 7", "1, 4, 5"],
        ),
        t(
            "count_equal_neighbours",
            "(nums: List[int]) -> int",
            "easy",
            "Return how many positions i satisfy nums[i] == nums[i + 1].",
            """
          return sum(1 for a, b in zip(nums, nums[1:]) if a == b)
          """,
            ["[1, 1, 2, 2, 2]", "[1, 2, 3]", "[]", "[5]", "[0, 0]"],
        ),
        t(
            "count_capitalized_words",
            "(text: str) -> int",
            "easy",
            "Return how many whitespace-separated words in text start with an upper-case letter.",
            """
          return sum(1 for w in text.split() if w[0].isupper())
          """,
            ["'Hello there World'", "'all lower'", "''", "'ABC def Ghi'", "'1st Place'"],
        ),
        t(
            "count_odd_length_words",
            "(text: str) -> int",
            "easy",
            "Return how many whitespace-separated words in text have an odd number of characters.",
            """
          return sum(1 for w in text.split() if len(w) % 2 == 1)
          """,
            ["'a bb ccc'", "'even word'", "''", "'x'", "'one three seven'"],
        ),
        t(
            "count_sign_changes",
            "(nums: List[int]) -> int",
            "medium",
            "Ignore the zeros in nums, then return how many neighbouring pairs of the remaining numbers "
            "have different signs.",
            """
          signs = [x > 0 for x in nums if x != 0]
          return sum(1 for a, b in zip(signs, signs[1:]) if a != b)
          """,
            ["[1, -2, 3]", "[1, 0, -1, 0, -5]", "[]", "[0, 0]", "[2, 3, 4]", "[-1, 1, -1, 1]"],
        ),
    ]


def windows() -> list[TaskSpec]:
    """Tasks on sliding windows and runs: window sums and maxima, longest increasing or unique runs."""
    t = functools.partial(TaskSpec, "windows")
    return [
        t(
            "max_window_sum",
            "(nums: List[int], k: int) -> int",
            "medium",
            "Return the largest sum of k consecutive elements of nums. 1 <= k <= len(nums).",
            """
          current = best = sum(nums[:k])
          for i in range(k, len(nums)):
              current += nums[i] - nums[i - k]
              best = max(best, current)
          return best
          """,
            ["[1, 4, 2, 10, 2], 2", "[5], 1", "[-1, -2, -3], 2", "[3, 3, 3], 3", "[1, -1, 5, -2, 4], 3"],
        ),
        t(
            "moving_average",
            "(nums: List[int], k: int) -> List[float]",
            "medium",
            "Return the average of every run of k consecutive elements of nums, from left to right, each "
            "rounded to 2 decimal places with round(). Return [] when nums has fewer than k elements.",
            """
          return [round(sum(nums[i:i + k]) / k, 2) for i in range(len(nums) - k + 1)]
          """,
            ["[1, 2, 3, 4], 2", "[1, 2], 3", "[5, 5, 5], 3", "[1, 2, 4], 3", "[10, 0, 5], 1"],
        ),
        t(
            "window_maxima",
            "(nums: List[int], k: int) -> List[int]",
            "medium",
            "Return the maximum of every run of k consecutive elements of nums, from left to right. "
            "Return [] when nums has fewer than k elements. k is positive.",
            """
          return [max(nums[i:i + k]) for i in range(len(nums) - k + 1)]
          """,
            ["[1, 3, -1, -3, 5, 3], 3", "[4, 2], 1", "[], 2", "[2, 2], 3", "[9, 8, 7, 6], 2"],
        ),
        t(
            "longest_unique_substring",
            "(s: str) -> int",
            "medium",
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
            ["'abcabcbb'", "'bbbb'", "''", "'pwwkew'", "'abcdef'", "'abba'"],
        ),
        t(
            "count_windows_at_least",
            "(nums: List[int], k: int, target: int) -> int",
            "medium",
            "Return how many runs of k consecutive elements of nums have a sum of at least target. k is "
            "positive.",
            """
          return sum(1 for i in range(len(nums) - k + 1) if sum(nums[i:i + k]) >= target)
          """,
            [
                "[1, 2, 3, 4], 2, 5",
                "[1, 1], 3, 0",
                "[5, 5, 5], 1, 5",
                "[0, 0, 0], 2, 1",
                "[3, -1, 4, 1], 2, 3",
            ],
        ),
        t(
            "longest_increasing_run",
            "(nums: List[int]) -> int",
            "easy",
            "Return the length of the longest run of consecutive elements of nums in which each element is "
            "strictly larger than the one before. Return 0 for an empty list.",
            """
          best = current = 0
          for i, x in enumerate(nums):
              current = current + 1 if i > 0 and x > nums[i - 1] else 1
              best = max(best, current)
          return best
          """,
            ["[1, 2, 5, 3, 4]", "[5, 4, 3]", "[]", "[1, 1, 1]", "[1, 2, 3, 4]"],
        ),
        t(
            "min_window_sum",
            "(nums: List[int], k: int) -> int",
            "medium",
            "Return the smallest sum of k consecutive elements of nums. 1 <= k <= len(nums).",
            """
          return min(sum(nums[i:i + k]) for i in range(len(nums) - k + 1))
          """,
            ["[4, 2, 1, 7], 2", "[3], 1", "[-1, 5, -3], 1", "[2, 2, 2], 3", "[5, -5, 5, -5], 3"],
        ),
        t(
            "distinct_per_window",
            "(nums: List[int], k: int) -> List[int]",
            "medium",
            "Return the number of distinct values in every run of k consecutive elements of nums, from "
            "left to right. k is positive; return [] when nums has fewer than k elements.",
            """
          return [len(set(nums[i:i + k])) for i in range(len(nums) - k + 1)]
          """,
            ["[1, 2, 1, 3, 3], 3", "[1, 1], 2", "[], 1", "[4, 5, 6], 1", "[7, 8, 7, 8], 2"],
        ),
        t(
            "window_sums",
            "(nums: List[int], k: int) -> List[int]",
            "easy",
            "Return the sums of every run of k consecutive elements of nums, from left to right. k is "
            "positive; return [] when nums has fewer than k elements.",
            """
          return [sum(nums[i:i + k]) for i in range(len(nums) - k + 1)]
          """,
            ["[1, 2, 3, 4], 2", "[1, 2], 3", "[5], 1", "[1, -1, 1, -1], 2"],
        ),
        t(
            "three_evens_in_a_row",
            "(nums: List[int]) -> bool",
            "easy",
            "Return True if nums contains three even numbers next to each other.",
            """
          return any(all(x % 2 == 0 for x in nums[i:i + 3]) for i in range(len(nums) - 2))
          """,
            ["[1, 2, 4, 6, 7]", "[2, 4, 1, 6]", "[]", "[0, 0, 0]", "[2, 2]"],
        ),
        t(
            "shortest_run_with_sum",
            "(nums: List[int], target: int) -> int",
            "medium",
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
            [
                "[2, 3, 1, 2, 4, 3], 7",
                "[1, 1, 1], 5",
                "[], 1",
                "[10], 5",
                "[1, 4, 4], 4",
                "[1, 2, 3, 4, 5], 11",
            ],
        ),
    ]
