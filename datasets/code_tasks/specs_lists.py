"""Task specs for the list families: ``list_arithmetic`` (sums, products, averages and running totals of
numbers) and ``list_ops`` (rearranging lists: rotation, chunking, flattening, interleaving and de-
duplication). Each function returns one family's :class:`~polyrlaif.datasets.code_tasks.build.TaskSpec`
list; ``build.all_specs`` puts the families in order, and the builder renders and checks them.
Calls are argument source text: the first ``n_examples`` become docstring examples, so they are short, and
the edge cases come after.
"""

from __future__ import annotations

import functools

from polyrlaif.datasets.code_tasks.build import TaskSpec

__all__ = ["list_arithmetic", "list_ops"]


def list_arithmetic() -> list[TaskSpec]:
    """Tasks that compute with lists of numbers: sums, products, averages, running totals."""
    t = functools.partial(TaskSpec, "list_arithmetic")
    specs = [
        t(
            "sum_of_evens",
            "(nums: List[int]) -> int",
            "easy",
            "Return the sum of the even numbers in nums.",
            """
          return sum(x for x in nums if x % 2 == 0)
          """,
            ["[1, 2, 3, 4]", "[1, 3, 5]", "[]", "[-2, 7, 10]", "[0, 0, 6]"],
        ),
        t(
            "sum_of_odds",
            "(nums: List[int]) -> int",
            "easy",
            "Return the sum of the odd numbers in nums.",
            """
          return sum(x for x in nums if x % 2 != 0)
          """,
            ["[1, 2, 3, 4]", "[2, 4]", "[]", "[-3, 7, 10]", "[5]"],
        ),
        t(
            "product_of_list",
            "(nums: List[int]) -> int",
            "easy",
            "Return the product of all numbers in nums. The product of an empty list is 1.",
            """
          result = 1
          for x in nums:
              result *= x
          return result
          """,
            ["[1, 2, 3, 4]", "[]", "[5]", "[-2, 3]", "[7, 0, 9]"],
        ),
        t(
            "sum_of_cubes",
            "(nums: List[int]) -> int",
            "easy",
            "Return the sum of the cubes of the numbers in nums.",
            """
          return sum(x ** 3 for x in nums)
          """,
            ["[1, 2, 3]", "[]", "[-2, 2]", "[4]", "[0, -1]"],
        ),
        t(
            "list_average",
            "(nums: List[float]) -> float",
            "easy",
            "Return the arithmetic mean of nums, or 0.0 if the list is empty.",
            """
          if not nums:
              return 0.0
          return sum(nums) / len(nums)
          """,
            ["[1.0, 2.0, 3.0]", "[]", "[5.5]", "[-1.0, 1.0]", "[2.0, 3.0]"],
        ),
        t(
            "spread_of_values",
            "(nums: List[int]) -> int",
            "easy",
            "Return the difference between the largest and the smallest number in nums, or 0 for an "
            "empty list.",
            """
          if not nums:
              return 0
          return max(nums) - min(nums)
          """,
            ["[3, 9, 1]", "[4]", "[]", "[-5, 5]", "[2, 2, 2]"],
        ),
        t(
            "running_totals",
            "(nums: List[int]) -> List[int]",
            "easy",
            "Return the running totals of nums: element i of the result is nums[0] + ... + nums[i].",
            """
          out = []
          total = 0
          for x in nums:
              total += x
              out.append(total)
          return out
          """,
            ["[1, 2, 3]", "[]", "[5]", "[3, -3, 3]", "[0, 0, 1]"],
        ),
        t(
            "neighbour_differences",
            "(nums: List[int]) -> List[int]",
            "easy",
            "Return the list of nums[i + 1] - nums[i] for every pair of neighbours in nums.",
            """
          return [b - a for a, b in zip(nums, nums[1:])]
          """,
            ["[1, 4, 9, 16]", "[5, 3, 8]", "[]", "[7]", "[2, 2]"],
        ),
        t(
            "elementwise_sum",
            "(a: List[int], b: List[int]) -> List[int]",
            "easy",
            "Return the list whose i-th element is a[i] + b[i]. The two lists have the same length.",
            """
          return [x + y for x, y in zip(a, b)]
          """,
            ["[1, 2, 3], [10, 20, 30]", "[], []", "[-1], [1]", "[5, 5], [0, -5]"],
        ),
        t(
            "dot_product",
            "(a: List[int], b: List[int]) -> int",
            "easy",
            "Return the dot product of a and b (the sum of a[i] * b[i]). The lists have the same length.",
            """
          return sum(x * y for x, y in zip(a, b))
          """,
            ["[1, 2, 3], [4, 5, 6]", "[], []", "[2], [-3]", "[1, 0, 1], [0, 9, 0]", "[-1, -2], [-3, -4]"],
        ),
        t(
            "sum_above",
            "(nums: List[int], limit: int) -> int",
            "easy",
            "Return the sum of the numbers in nums that are strictly greater than limit.",
            """
          return sum(x for x in nums if x > limit)
          """,
            ["[1, 5, 10], 4", "[1, 2], 5", "[], 0", "[3, 3, 4], 3", "[-1, -5, 2], -2"],
        ),
        t(
            "clamp_all",
            "(nums: List[int], lo: int, hi: int) -> List[int]",
            "easy",
            "Return a new list in which every number of nums below lo is replaced by lo and every number "
            "above hi is replaced by hi. lo is not greater than hi.",
            """
          return [min(max(x, lo), hi) for x in nums]
          """,
            ["[1, 5, 10], 2, 8", "[], 0, 1", "[-3, 0, 3], -1, 1", "[4, 4], 4, 4", "[7], 0, 10"],
        ),
    ]
    for k in (3, 5, 7):
        specs.append(
            t(
                f"sum_multiples_of_{k}",
                "(nums: List[int]) -> int",
                "easy",
                f"Return the sum of the numbers in nums that are divisible by {k}.",
                f"""
            return sum(x for x in nums if x % {k} == 0)
            """,
                [
                    f"[1, {k}, {2 * k}, {k + 1}]",
                    f"[{k + 1}]",
                    "[]",
                    f"[-{k}, 0, {k * k}]",
                    f"[{3 * k}, 2, 1]",
                ],
            )
        )
    return specs


def list_ops() -> list[TaskSpec]:
    """Tasks that rearrange lists: rotation, chunking, flattening, interleaving, de-duplication."""
    t = functools.partial(TaskSpec, "list_ops")
    return [
        t(
            "rotate_left",
            "(nums: List[int], k: int) -> List[int]",
            "easy",
            "Return nums rotated k places to the left, so that the element at index k comes first. k is "
            "non-negative and may exceed the length; an empty list stays empty.",
            """
          if not nums:
              return []
          k %= len(nums)
          return nums[k:] + nums[:k]
          """,
            ["[1, 2, 3, 4, 5], 2", "[1, 2, 3], 0", "[], 3", "[1, 2, 3], 4", "[9], 100"],
        ),
        t(
            "chunk_list",
            "(nums: List[int], size: int) -> List[List[int]]",
            "easy",
            "Split nums into consecutive chunks of size elements each (size is positive); the last chunk "
            "may be shorter.",
            """
          return [nums[i:i + size] for i in range(0, len(nums), size)]
          """,
            ["[1, 2, 3, 4, 5], 2", "[], 3", "[1, 2, 3], 3", "[1, 2], 5", "[4, 5, 6], 1"],
        ),
        t(
            "flatten_once",
            "(lists: List[List[int]]) -> List[int]",
            "easy",
            "Return one list with the elements of all the inner lists of lists, in order.",
            """
          return [x for inner in lists for x in inner]
          """,
            ["[[1, 2], [3], [4, 5]]", "[]", "[[], []]", "[[7]]"],
        ),
        t(
            "remove_value",
            "(nums: List[int], x: int) -> List[int]",
            "easy",
            "Return a new list with every occurrence of x removed from nums.",
            """
          return [v for v in nums if v != x]
          """,
            ["[1, 2, 1, 3], 1", "[1, 2], 5", "[], 0", "[4, 4], 4"],
        ),
        t(
            "interleave_lists",
            "(a: List[int], b: List[int]) -> List[int]",
            "medium",
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
            ["[1, 2, 3], [10, 20, 30]", "[1], [5, 6, 7]", "[], []", "[4, 5], []"],
        ),
        t(
            "dedupe_keep_first",
            "(nums: List[int]) -> List[int]",
            "easy",
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
            ["[3, 1, 3, 2, 1]", "[]", "[5, 5, 5]", "[1, 2, 3]"],
        ),
        t(
            "zeros_to_end",
            "(nums: List[int]) -> List[int]",
            "easy",
            "Return nums with all zeros moved to the end, keeping the other elements in their original "
            "order.",
            """
          return [x for x in nums if x != 0] + [0] * nums.count(0)
          """,
            ["[0, 1, 0, 3, 12]", "[]", "[0, 0]", "[4, 5]", "[1, 0]"],
        ),
        t(
            "split_on_value",
            "(nums: List[int], sep: int) -> List[List[int]]",
            "medium",
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
            ["[1, 0, 2, 3, 0], 0", "[], 5", "[5], 5", "[1, 2], 9", "[7, 7], 7"],
        ),
        t(
            "last_n_items",
            "(nums: List[int], n: int) -> List[int]",
            "easy",
            "Return the last n elements of nums (the whole list if it has fewer than n elements, and [] "
            "when n is 0).",
            """
          return nums[max(len(nums) - n, 0):]
          """,
            ["[1, 2, 3, 4], 2", "[1, 2], 5", "[1, 2, 3], 0", "[], 1", "[9, 8], 2"],
        ),
        t(
            "every_other",
            "(nums: List[int]) -> List[int]",
            "easy",
            "Return the elements of nums at even indexes (0, 2, 4, ...).",
            """
          return nums[::2]
          """,
            ["[1, 2, 3, 4, 5]", "[]", "[7]", "[1, 2]"],
        ),
        t(
            "swap_pairs",
            "(nums: List[int]) -> List[int]",
            "easy",
            "Return nums with neighbouring elements swapped in pairs: the first with the second, the third "
            "with the fourth, and so on. With an odd length, the last element stays in place.",
            """
          out = list(nums)
          for i in range(0, len(out) - 1, 2):
              out[i], out[i + 1] = out[i + 1], out[i]
          return out
          """,
            ["[1, 2, 3, 4]", "[1, 2, 3]", "[]", "[5]"],
        ),
        t(
            "zip_to_pairs",
            "(a: List[int], b: List[str]) -> List[Tuple[int, str]]",
            "easy",
            "Return the list of pairs (a[i], b[i]); when the lists have different lengths, stop at the end "
            "of the shorter one.",
            """
          return list(zip(a, b))
          """,
            ["[1, 2, 3], ['a', 'b', 'c']", "[], ['x']", "[1, 2], ['p']", "[5], ['q', 'r']"],
        ),
    ]
