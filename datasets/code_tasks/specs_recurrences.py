"""Task specs for the families built on recurrences: ``sequences`` (generating arithmetic, geometric,
Fibonacci and look-and-say sequences) and ``dynamic_programming`` (coins, subsequences, edit distance,
grid paths and decodings). Each function returns one family's
:class:`~polyrlaif.datasets.code_tasks.build.TaskSpec` list; ``build.all_specs`` puts the
families in order, and the builder renders and checks them. Calls are argument source text: the first
``n_examples`` become docstring examples, so they are short, and the edge cases come after.
"""

from __future__ import annotations

import functools

from polyrlaif.datasets.code_tasks.build import TaskSpec

__all__ = ["sequences", "dynamic_programming"]


def sequences() -> list[TaskSpec]:
    """Tasks that generate sequences: arithmetic, geometric, Fibonacci, triangular, look-and-say."""
    t = functools.partial(TaskSpec, "sequences")
    return [
        t(
            "arithmetic_sequence",
            "(start: int, step: int, n: int) -> List[int]",
            "easy",
            "Return the first n terms of the arithmetic sequence that begins at start and grows by step "
            "each time.",
            """
          return [start + i * step for i in range(n)]
          """,
            ["1, 3, 4", "5, 0, 3", "0, 1, 0", "10, -4, 4"],
        ),
        t(
            "geometric_sequence",
            "(start: int, ratio: int, n: int) -> List[int]",
            "easy",
            "Return the first n terms of the geometric sequence that begins at start, where each term is "
            "ratio times the one before.",
            """
          return [start * ratio ** i for i in range(n)]
          """,
            ["1, 2, 5", "3, 10, 3", "7, 5, 0", "2, -1, 4"],
        ),
        t(
            "squares_up_to",
            "(limit: int) -> List[int]",
            "easy",
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
            ["20", "0", "1", "16", "50"],
        ),
        t(
            "first_multiples",
            "(k: int, n: int) -> List[int]",
            "easy",
            "Return the first n positive multiples of k: k, 2k, 3k, and so on.",
            """
          return [k * i for i in range(1, n + 1)]
          """,
            ["3, 4", "7, 0", "1, 5", "-2, 3"],
        ),
        t(
            "first_fibonacci",
            "(n: int) -> List[int]",
            "medium",
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
            ["7", "0", "1", "2", "10"],
        ),
        t(
            "triangular_numbers",
            "(n: int) -> List[int]",
            "easy",
            "Return the first n triangular numbers 1, 3, 6, 10, ..., where the k-th one is 1 + 2 + ... + k.",
            """
          return [k * (k + 1) // 2 for k in range(1, n + 1)]
          """,
            ["4", "0", "1", "6"],
        ),
        t(
            "look_and_say_next",
            "(s: str) -> str",
            "medium",
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
            ["'1211'", "'1'", "'11'", "'21'", "'111221'", "'3333333333'"],
        ),
        t(
            "powers_of_two_up_to",
            "(limit: int) -> List[int]",
            "easy",
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
            ["10", "0", "1", "64", "100"],
        ),
        t(
            "countdown_list",
            "(n: int) -> List[int]",
            "easy",
            "Return the list [n, n - 1, ..., 1]; return [] when n is 0 or negative.",
            """
          return list(range(n, 0, -1))
          """,
            ["5", "0", "1", "-3", "3"],
        ),
        t(
            "alternating_signs",
            "(n: int) -> List[int]",
            "easy",
            "Return the list 1, -2, 3, -4, ... of length n: the numbers 1 to n where the even ones are "
            "negated.",
            """
          return [k if k % 2 else -k for k in range(1, n + 1)]
          """,
            ["4", "0", "1", "7"],
        ),
    ]


def dynamic_programming() -> list[TaskSpec]:
    """Tasks solved by dynamic programming: coins, subsequences, edit distance, grid paths."""
    t = functools.partial(TaskSpec, "dynamic_programming")
    return [
        t(
            "count_stair_climbs",
            "(n: int) -> int",
            "medium",
            "Return the number of ways to climb a staircase of n steps when each move climbs 1 or 2 "
            "steps. There is one way to climb 0 steps.",
            """
          a, b = 1, 1
          for _ in range(n):
              a, b = b, a + b
          return a
          """,
            ["3", "0", "1", "5", "10"],
        ),
        t(
            "min_coins",
            "(coins: List[int], amount: int) -> int",
            "medium",
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
            ["[1, 2, 5], 11", "[2], 3", "[1], 0", "[3, 7], 14", "[5, 10], 1", "[1, 3, 4], 6"],
        ),
        t(
            "coin_combinations",
            "(coins: List[int], amount: int) -> int",
            "medium",
            "Return how many different combinations of coins (values from coins, each usable any number of "
            "times, order not mattering) add up to amount. There is one way to make 0.",
            """
          ways = [1] + [0] * amount
          for c in coins:
              for a in range(c, amount + 1):
                  ways[a] += ways[a - c]
          return ways[amount]
          """,
            ["[1, 2, 5], 5", "[2], 3", "[7], 0", "[1], 4", "[2, 3], 7"],
        ),
        t(
            "largest_subarray_sum",
            "(nums: List[int]) -> int",
            "medium",
            "Return the largest possible sum of a non-empty run of consecutive elements of the non-empty "
            "list nums.",
            """
          best = current = nums[0]
          for x in nums[1:]:
              current = max(x, current + x)
              best = max(best, current)
          return best
          """,
            ["[-2, 1, -3, 4, -1, 2, 1, -5, 4]", "[-3, -1, -2]", "[5]", "[1, 2, 3]", "[2, -10, 3]"],
        ),
        t(
            "lcs_length",
            "(a: str, b: str) -> int",
            "medium",
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
            ["'abcde', 'ace'", "'abc', 'def'", "'', 'abc'", "'abc', 'abc'", "'axbycz', 'abc'"],
        ),
        t(
            "edit_distance",
            "(a: str, b: str) -> int",
            "medium",
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
            ["'kitten', 'sitting'", "'', 'abc'", "'same', 'same'", "'abc', ''", "'flaw', 'lawn'"],
        ),
        t(
            "max_non_adjacent_sum",
            "(nums: List[int]) -> int",
            "medium",
            "nums holds non-negative integers. Return the largest sum of elements of nums such that no two "
            "chosen elements are next to each other. Return 0 for an empty list.",
            """
          take, skip = 0, 0
          for x in nums:
              take, skip = skip + x, max(take, skip)
          return max(take, skip)
          """,
            ["[2, 7, 9, 3, 1]", "[]", "[5]", "[1, 2, 3, 1]", "[4, 1, 1, 4]"],
        ),
        t(
            "count_grid_paths",
            "(rows: int, cols: int) -> int",
            "medium",
            "Return the number of paths from the top-left cell to the bottom-right cell of a grid with "
            "rows rows and cols columns, moving only right or down. rows and cols are positive.",
            """
          ways = [1] * cols
          for _ in range(rows - 1):
              for j in range(1, cols):
                  ways[j] += ways[j - 1]
          return ways[-1]
          """,
            ["2, 2", "3, 7", "1, 1", "1, 5", "3, 3"],
        ),
        t(
            "lis_length",
            "(nums: List[int]) -> int",
            "medium",
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
            ["[10, 9, 2, 5, 3, 7, 101, 18]", "[3, 3, 3]", "[]", "[1, 2, 3]", "[5, 1, 6, 2, 7]"],
        ),
        t(
            "min_grid_path_sum",
            "(grid: List[List[int]]) -> int",
            "medium",
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
            [
                "[[1, 3, 1], [1, 5, 1], [4, 2, 1]]",
                "[[5]]",
                "[[1, 2, 3]]",
                "[[1], [2], [3]]",
                "[[1, 9], [1, 1]]",
            ],
        ),
        t(
            "can_split_equal",
            "(nums: List[int]) -> bool",
            "medium",
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
            ["[1, 5, 11, 5]", "[1, 2, 5]", "[]", "[2, 2]", "[3, 1, 1, 2, 2, 1]", "[7]"],
        ),
        t(
            "pascal_row",
            "(n: int) -> List[int]",
            "easy",
            "Return row n of Pascal's triangle, where row 0 is [1] and row 1 is [1, 1].",
            """
          row = [1]
          for _ in range(n):
              row = [a + b for a, b in zip([0] + row, row + [0])]
          return row
          """,
            ["3", "0", "1", "5"],
        ),
        t(
            "count_decodings",
            "(digits: str) -> int",
            "medium",
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
            ["'12'", "'226'", "'0'", "'10'", "'1111'", "'301'"],
        ),
    ]
