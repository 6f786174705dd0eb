"""Task specs for the integer families: ``number_theory`` (digits, divisors, primes, gcd and lcm) and
``bits`` (the binary representation: set bits, parity, single-bit masks and Gray code). Each function
returns one family's :class:`~polyrlaif.datasets.code_tasks.build.TaskSpec` list;
``build.all_specs`` puts the families in order, and the builder renders and checks them. Calls
are argument source text: the first ``n_examples`` become docstring examples, so they are short, and the
edge cases come after.
"""

from __future__ import annotations

import functools

from polyrlaif.datasets.code_tasks.build import TaskSpec

__all__ = ["number_theory", "bits"]


def number_theory() -> list[TaskSpec]:
    """Tasks on integers: digits, divisors, primes, gcd and lcm, Collatz steps."""
    t = functools.partial(TaskSpec, "number_theory")
    return [
        t(
            "sum_of_digits",
            "(n: int) -> int",
            "easy",
            "Return the sum of the decimal digits of the non-negative integer n.",
            """
          return sum(int(d) for d in str(n))
          """,
            ["123", "0", "9", "1005", "99999"],
        ),
        t(
            "gcd_of_list",
            "(nums: List[int]) -> int",
            "medium",
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
            ["[12, 18, 24]", "[7, 13]", "[5]", "[100, 75, 50]", "[6, 6]"],
        ),
        t(
            "least_common_multiple",
            "(a: int, b: int) -> int",
            "easy",
            "Return the least common multiple of the positive integers a and b.",
            """
          x, y = a, b
          while y:
              x, y = y, x % y
          return a * b // x
          """,
            ["4, 6", "3, 5", "1, 1", "12, 12", "21, 6"],
        ),
        t(
            "is_perfect_number",
            "(n: int) -> bool",
            "medium",
            "A perfect number equals the sum of its divisors that are smaller than itself, like "
            "6 = 1 + 2 + 3. Return True if the positive integer n is perfect.",
            """
          return n > 1 and sum(d for d in range(1, n) if n % d == 0) == n
          """,
            ["6", "8", "1", "28", "496", "12"],
        ),
        t(
            "count_divisors",
            "(n: int) -> int",
            "easy",
            "Return the number of positive divisors of the positive integer n.",
            """
          return sum(1 for d in range(1, n + 1) if n % d == 0)
          """,
            ["6", "1", "7", "36", "100"],
        ),
        t(
            "sum_of_proper_divisors",
            "(n: int) -> int",
            "medium",
            "Return the sum of the positive divisors of the positive integer n that are smaller than n.",
            """
          return sum(d for d in range(1, n) if n % d == 0)
          """,
            ["12", "1", "13", "28", "16"],
        ),
        t(
            "nth_prime",
            "(n: int) -> int",
            "medium",
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
            ["1", "4", "2", "10", "25"],
        ),
        t(
            "is_armstrong_number",
            "(n: int) -> bool",
            "medium",
            "An Armstrong number equals the sum of its digits each raised to the power of the number of "
            "digits, like 153 = 1**3 + 5**3 + 3**3. Return True if the non-negative integer n is one.",
            """
          digits = str(n)
          return sum(int(d) ** len(digits) for d in digits) == n
          """,
            ["153", "154", "0", "9474", "10", "370"],
        ),
        t(
            "reverse_digits",
            "(n: int) -> int",
            "easy",
            "Return the integer whose decimal digits are those of n in reverse order, keeping the sign of "
            "n. Leading zeros of the result disappear.",
            """
          sign = -1 if n < 0 else 1
          return sign * int(str(abs(n))[::-1])
          """,
            ["123", "-45", "0", "1200", "7"],
        ),
        t(
            "is_power_of_three",
            "(n: int) -> bool",
            "easy",
            "Return True if n is a power of three (1, 3, 9, 27, ...), otherwise False.",
            """
          if n < 1:
              return False
          while n % 3 == 0:
              n //= 3
          return n == 1
          """,
            ["27", "12", "1", "0", "-3", "243"],
        ),
        t(
            "digital_root",
            "(n: int) -> int",
            "medium",
            "Replace the non-negative integer n by the sum of its decimal digits, again and again, until a "
            "single digit remains. Return that digit.",
            """
          while n >= 10:
              n = sum(int(d) for d in str(n))
          return n
          """,
            ["38", "0", "5", "99999", "1000000"],
        ),
        t(
            "count_primes_below",
            "(n: int) -> int",
            "medium",
            "Return how many prime numbers are smaller than n.",
            """
          return sum(1 for k in range(2, n) if all(k % d for d in range(2, int(k ** 0.5) + 1)))
          """,
            ["10", "2", "0", "3", "30", "100"],
        ),
        t(
            "collatz_steps",
            "(n: int) -> int",
            "medium",
            "Starting from the positive integer n, repeatedly replace n by n // 2 when it is even and by "
            "3 * n + 1 when it is odd. Return how many replacements it takes to reach 1.",
            """
          steps = 0
          while n != 1:
              n = n // 2 if n % 2 == 0 else 3 * n + 1
              steps += 1
          return steps
          """,
            ["6", "1", "2", "7", "27"],
        ),
        t(
            "is_palindrome_number",
            "(n: int) -> bool",
            "easy",
            "Return True if the decimal digits of the non-negative integer n read the same forwards and "
            "backwards.",
            """
          return str(n) == str(n)[::-1]
          """,
            ["121", "123", "0", "10", "1221"],
        ),
        t(
            "are_coprime",
            "(a: int, b: int) -> bool",
            "easy",
            "Return True if the positive integers a and b have no common divisor greater than 1.",
            """
          while b:
              a, b = b, a % b
          return a == 1
          """,
            ["8, 15", "6, 9", "1, 1", "7, 7", "14, 25"],
        ),
    ]


def bits() -> list[TaskSpec]:
    """Tasks on the binary representation of integers: set bits, parity, masks, Gray code."""
    t = functools.partial(TaskSpec, "bits")
    specs = [
        t(
            "count_set_bits",
            "(n: int) -> int",
            "easy",
            "Return the number of 1 bits in the binary representation of the non-negative integer n.",
            """
          return bin(n).count("1")
          """,
            ["5", "0", "255", "1024", "7"],
        ),
        t(
            "is_power_of_two",
            "(n: int) -> bool",
            "easy",
            "Return True if n is a power of two (1, 2, 4, 8, ...). n may be zero or negative.",
            """
          return n > 0 and n & (n - 1) == 0
          """,
            ["8", "6", "1", "0", "-4", "1024"],
        ),
        t(
            "get_bit",
            "(n: int, i: int) -> int",
            "easy",
            "Return bit i (0 or 1) of the non-negative integer n, where bit 0 is the least significant.",
            """
          return (n >> i) & 1
          """,
            ["5, 0", "5, 1", "0, 3", "8, 3", "8, 4"],
        ),
        t(
            "hamming_distance",
            "(a: int, b: int) -> int",
            "easy",
            "Return the number of bit positions in which the non-negative integers a and b differ.",
            """
          return bin(a ^ b).count("1")
          """,
            ["1, 4", "3, 1", "0, 0", "255, 0", "7, 7"],
        ),
        t(
            "lowest_set_bit",
            "(n: int) -> int",
            "medium",
            "Return the value of the lowest 1 bit of the positive integer n; for example 12 (binary "
            "1100) gives 4.",
            """
          return n & -n
          """,
            ["12", "1", "8", "7", "40"],
        ),
        t(
            "reverse_byte",
            "(n: int) -> int",
            "medium",
            "n is between 0 and 255. Write n as 8 binary digits, reverse their order and return the "
            "number they form.",
            """
          return int(format(n, "08b")[::-1], 2)
          """,
            ["1", "6", "0", "255", "128", "19"],
        ),
        t(
            "to_binary_string",
            "(n: int) -> str",
            "easy",
            "Return the binary representation of the non-negative integer n as a string of 0s and 1s, "
            "without any prefix.",
            """
          return bin(n)[2:]
          """,
            ["5", "0", "1", "255", "16"],
        ),
        t(
            "bit_parity",
            "(n: int) -> int",
            "easy",
            "Return 1 if the non-negative integer n has an odd number of 1 bits and 0 otherwise.",
            """
          return bin(n).count("1") % 2
          """,
            ["7", "3", "0", "1", "1023"],
        ),
        t(
            "find_single",
            "(nums: List[int]) -> int",
            "medium",
            "Every value in nums occurs exactly twice except one, which occurs once. Return that value.",
            """
          result = 0
          for x in nums:
              result ^= x
          return result
          """,
            ["[2, 3, 2]", "[7]", "[1, 4, 5, 1, 5]", "[0, 9, 9]", "[-3, 6, 6]"],
        ),
        t(
            "gray_code",
            "(n: int) -> List[int]",
            "medium",
            "Return the n-bit Gray code sequence as a list of 2**n integers, where element i is "
            "i ^ (i >> 1) (i XOR i shifted right by one).",
            """
          return [i ^ (i >> 1) for i in range(2 ** n)]
          """,
            ["2", "0", "1", "3"],
        ),
        t(
            "binary_to_int",
            "(bits: str) -> int",
            "easy",
            "bits is a non-empty string of '0' and '1' characters. Return the number it represents in "
            "binary.",
            """
          return int(bits, 2)
          """,
            ["'101'", "'0'", "'1'", "'11111111'", "'0010'"],
        ),
    ]
    for name, verb, expr in (
        ("set_bit", "set to 1", "n | (1 << i)"),
        ("clear_bit", "set to 0", "n & ~(1 << i)"),
        ("toggle_bit", "flipped", "n ^ (1 << i)"),
    ):
        specs.append(
            t(
                name,
                "(n: int, i: int) -> int",
                "easy",
                f"Return the non-negative integer n with bit i {verb}, where bit 0 is the least significant "
                "bit.",
                f"""
            return {expr}
            """,
                ["5, 1", "5, 0", "0, 3", "8, 3", "15, 4"],
            )
        )
    return specs
