"""Task specs for the ``parsing`` family: reading small text formats such as key-value lists, integer
ranges, version numbers, query strings, durations, IPv4 addresses and hex colours. Each function returns
one family's :class:`~polyrlaif.datasets.code_tasks.build.TaskSpec` list; ``build.all_specs``
puts the families in order, and the builder renders and checks them. Calls are argument source text: the
first ``n_examples`` become docstring examples, so they are short, and the edge cases come after.
"""

from __future__ import annotations

import functools

from polyrlaif.datasets.code_tasks.build import TaskSpec

__all__ = ["parsing"]


def parsing() -> list[TaskSpec]:
    """Tasks that parse small text formats: key-values, ranges, versions, query strings, IPv4."""
    t = functools.partial(TaskSpec, "parsing")
    return [
        t(
            "parse_key_values",
            "(text: str) -> Dict[str, int]",
            "medium",
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
            ["'a=1;b=2'", "''", "'x=-5'", "'k=1;k=3'", "'one=1;two=2;three=3'"],
        ),
        t(
            "parse_int_list",
            "(text: str) -> List[int]",
            "easy",
            "text is a comma-separated list of integers, possibly with spaces around them, like '1, 2,3'. "
            "Return the integers as a list. An empty or blank string gives an empty list.",
            """
          return [int(part) for part in text.split(",") if part.strip()]
          """,
            ["'1, 2,3'", "''", "'  '", "'-4'", "'10 , 20 , -30'"],
        ),
        t(
            "clock_to_seconds",
            "(clock: str) -> int",
            "easy",
            "clock is a duration written as 'HH:MM:SS'. Return the total number of seconds.",
            """
          hours, minutes, seconds = (int(p) for p in clock.split(":"))
          return hours * 3600 + minutes * 60 + seconds
          """,
            ["'01:02:03'", "'00:00:00'", "'00:01:00'", "'10:00:59'", "'99:59:59'"],
        ),
        t(
            "expand_ranges",
            "(spec: str) -> List[int]",
            "medium",
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
            ["'1-3,5'", "'7'", "''", "'0-0,2-4'", "'10,9,8-9'"],
        ),
        t(
            "compare_versions",
            "(a: str, b: str) -> int",
            "medium",
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
            ["'1.2.10', '1.2.9'", "'1.0', '1'", "'0.9', '1.0'", "'2', '2.0.1'", "'3.4.5', '3.4.5'"],
        ),
        t(
            "extract_integers",
            "(text: str) -> List[int]",
            "medium",
            "Return every maximal run of decimal digits in text, converted to an integer, in the order "
            "they appear. Signs and dots are not part of the numbers.",
            r"""
          import re

          return [int(m) for m in re.findall(r"\d+", text)]
          """,
            ["'abc 12 de 3f45'", "'no numbers'", "''", "'-7 and 3.14'", "'007'"],
        ),
        t(
            "parse_query_string",
            "(query: str) -> Dict[str, str]",
            "medium",
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
            ["'a=1&b=two'", "''", "'flag'", "'x=1&x=2'", "'k=&v=3'"],
        ),
        t(
            "evaluate_plus_minus",
            "(expr: str) -> int",
            "medium",
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
            ["'12+3-4'", "'7'", "'0-10'", "'100-1-1-1'", "'5+5+5'"],
        ),
        t(
            "box_volume",
            "(dims: str) -> int",
            "easy",
            "dims gives the size of a box as three positive integers joined by 'x', like '3x4x5'. Return "
            "the volume of the box.",
            """
          a, b, c = (int(p) for p in dims.split("x"))
          return a * b * c
          """,
            ["'3x4x5'", "'1x1x1'", "'10x2x7'", "'2x2x2'"],
        ),
        t(
            "is_valid_ipv4",
            "(address: str) -> bool",
            "medium",
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
            [
                "'192.168.0.1'",
                "'256.1.1.1'",
                "'1.2.3'",
                "'01.2.3.4'",
                "'0.0.0.0'",
                "'1.2.3.a'",
                "'255.255.255.255'",
            ],
        ),
        t(
            "hex_color_to_rgb",
            "(color: str) -> Tuple[int, int, int]",
            "medium",
            "color is a colour like '#ff8000': '#' followed by three two-digit hexadecimal numbers. Return "
            "the three numbers as a tuple (red, green, blue).",
            """
          return (int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16))
          """,
            ["'#ff8000'", "'#000000'", "'#FFFFFF'", "'#0a0b0c'"],
        ),
        t(
            "duration_to_minutes",
            "(text: str) -> int",
            "medium",
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
            ["'2h30m'", "'45m'", "'3h'", "'0h5m'", "'10h0m'"],
        ),
    ]
