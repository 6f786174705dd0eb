"""Task specs for the text families: ``strings`` (word order, casing, masking, rotations, prefixes and
identifier styles) and ``formatting`` (values written out as text: padding, separators, wrapping, ordinals
and plurals). Each function returns one family's :class:`~polyrlaif.datasets.code_tasks.build.TaskSpec`
list; ``build.all_specs`` puts the families in order, and the builder renders and checks them.
Calls are argument source text: the first ``n_examples`` become docstring examples, so they are short, and
the edge cases come after.
"""

from __future__ import annotations

import functools

from polyrlaif.datasets.code_tasks.build import TaskSpec

__all__ = ["strings", "formatting"]


def strings() -> list[TaskSpec]:
    """Tasks on strings: word order, casing, masking, rotations, prefixes and identifier styles."""
    t = functools.partial(TaskSpec, "strings")
    return [
        t(
            "reverse_words",
            "(s: str) -> str",
            "easy",
            "Return the words of s in reverse order, joined by single spaces. Words are separated by "
            "whitespace.",
            """
          return " ".join(s.split()[::-1])
          """,
            ["'hello big world'", "'one'", "''", "'  a   b '", "'x y z w'"],
        ),
        t(
            "capitalize_each_word",
            "(s: str) -> str",
            "easy",
            "Return s with the first letter of every word (words are separated by single spaces) changed "
            "to upper case. The rest of each word stays as it is.",
            """
          return " ".join(w[:1].upper() + w[1:] for w in s.split(" "))
          """,
            ["'hello world'", "'a bC d'", "''", "'already Fine'", "'mIxEd case'", "'x'"],
        ),
        t(
            "remove_char",
            "(s: str, ch: str) -> str",
            "easy",
            "Return s with every occurrence of the character ch removed.",
            """
          return s.replace(ch, "")
          """,
            ["'banana', 'a'", "'hello', 'z'", "'', 'a'", "'aaa', 'a'", "'Mississippi', 's'"],
        ),
        t(
            "swap_first_last",
            "(s: str) -> str",
            "easy",
            "Return s with its first and last characters swapped. A string shorter than two characters "
            "is returned unchanged.",
            """
          if len(s) < 2:
              return s
          return s[-1] + s[1:-1] + s[0]
          """,
            ["'hello'", "'ab'", "'a'", "''", "'python'"],
        ),
        t(
            "repeat_each_char",
            "(s: str, k: int) -> str",
            "easy",
            "Return a string in which every character of s is repeated k times in a row.",
            """
          return "".join(c * k for c in s)
          """,
            ["'abc', 2", "'xy', 3", "'', 5", "'hi', 1", "'z', 0"],
        ),
        t(
            "alternate_case",
            "(s: str) -> str",
            "easy",
            "Return s with the characters at even indexes in upper case and the characters at odd "
            "indexes in lower case.",
            """
          return "".join(c.upper() if i % 2 == 0 else c.lower() for i, c in enumerate(s))
          """,
            ["'hello'", "'ABCD'", "''", "'a b c'", "'x'"],
        ),
        t(
            "mask_all_but_last",
            "(s: str, k: int) -> str",
            "easy",
            "Replace every character of s except the last k characters with '#'. A string with at most k "
            "characters is returned unchanged.",
            """
          if len(s) <= k:
              return s
          return "#" * (len(s) - k) + s[len(s) - k:]
          """,
            ["'1234567890', 4", "'abc', 5", "'secret', 0", "'', 2", "'abcd', 4", "'ab', 1"],
        ),
        t(
            "middle_chars",
            "(s: str) -> str",
            "easy",
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
            ["'abc'", "'abcd'", "'a'", "''", "'testing'", "'middle'"],
        ),
        t(
            "interleave_strings",
            "(a: str, b: str) -> str",
            "medium",
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
            ["'abc', 'XYZ'", "'ab', 'WXYZ'", "'', 'xyz'", "'hello', ''", "'a', 'b'"],
        ),
        t(
            "is_rotation",
            "(a: str, b: str) -> bool",
            "medium",
            "Return True if b can be obtained from a by a rotation, that is by moving some prefix of a to "
            "its end (possibly the empty prefix). Otherwise return False.",
            """
          return len(a) == len(b) and b in a + a
          """,
            [
                "'waterbottle', 'erbottlewat'",
                "'abc', 'acb'",
                "'', ''",
                "'ab', 'aba'",
                "'aaab', 'abaa'",
                "'abcd', 'dabc'",
            ],
        ),
        t(
            "longest_common_prefix",
            "(words: List[str]) -> str",
            "medium",
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
            [
                "['flower', 'flow', 'flight']",
                "['dog', 'car']",
                "[]",
                "['same', 'same']",
                "['prefix']",
                "['ab', 'abc', 'a']",
            ],
        ),
        t(
            "camel_to_snake",
            "(name: str) -> str",
            "medium",
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
            ["'camelCase'", "'PascalCaseName'", "'lower'", "''", "'aB'", "'getX'"],
        ),
        t(
            "snake_to_camel",
            "(name: str) -> str",
            "medium",
            "Convert a snake_case identifier to camelCase: remove each '_' and upper-case the letter that "
            "followed it. The first word stays as it is.",
            """
          parts = name.split("_")
          return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])
          """,
            ["'snake_case_name'", "'word'", "''", "'a_b_c'", "'get_x'"],
        ),
    ]


def formatting() -> list[TaskSpec]:
    """Tasks that format values as text: padding, separators, word wrapping, ordinals, plurals."""
    t = functools.partial(TaskSpec, "formatting")
    return [
        t(
            "pad_left",
            "(s: str, width: int, fill: str) -> str",
            "easy",
            "Return s padded on the left with the character fill until it is width characters long. A "
            "string that is already at least width long is returned unchanged.",
            """
          return fill * max(width - len(s), 0) + s
          """,
            ["'42', 5, '0'", "'hello', 3, '*'", "'', 2, '-'", "'ab', 2, 'x'"],
        ),
        t(
            "thousands_separators",
            "(n: int) -> str",
            "medium",
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
            ["1234567", "999", "0", "-1000", "100000", "1000000000"],
        ),
        t(
            "wrap_words",
            "(text: str, width: int) -> List[str]",
            "medium",
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
            [
                "'the quick brown fox', 10",
                "'', 5",
                "'abc', 1",
                "'a b c d', 3",
                "'one   two', 20",
                "'tiny enormousword x', 5",
            ],
        ),
        t(
            "percent_string",
            "(part: int, whole: int) -> str",
            "medium",
            "Return part / whole as a percentage with exactly one digit after the decimal point followed "
            "by '%', like '12.5%'. whole is positive.",
            """
          return f"{100 * part / whole:.1f}%"
          """,
            ["1, 8", "1, 3", "2, 3", "0, 5", "5, 5", "7, 4"],
        ),
        t(
            "title_case_minor_words",
            "(text: str) -> str",
            "medium",
            "text is lower case with words separated by single spaces. Capitalise the first letter of every "
            "word except the minor words 'a', 'an', 'the', 'of', 'and' and 'in', which stay lower case "
            "unless they are the first word.",
            """
          minor = {"a", "an", "the", "of", "and", "in"}
          words = text.split(" ")
          return " ".join(w if i > 0 and w in minor else w[:1].upper() + w[1:] for i, w in enumerate(words))
          """,
            ["'the lord of the rings'", "'war and peace'", "''", "'a tale in time'", "'python'"],
        ),
        t(
            "join_with_and",
            "(items: List[str]) -> str",
            "medium",
            "Join items into an English list: [] gives '', one item gives the item, two items give "
            "'x and y', and more give 'x, y and z' (commas between all but the last two).",
            """
          if not items:
              return ""
          if len(items) == 1:
              return items[0]
          return ", ".join(items[:-1]) + " and " + items[-1]
          """,
            ["['red', 'green', 'blue']", "['tea', 'cake']", "[]", "['solo']", "['a', 'b', 'c', 'd']"],
        ),
        t(
            "format_phone_number",
            "(digits: str) -> str",
            "easy",
            "digits is a string of exactly 10 digits. Return it formatted as '(ddd) ddd-dddd'.",
            """
          return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
          """,
            ["'5551234567'", "'0000000000'", "'1234567890'", "'9876543210'"],
        ),
        t(
            "truncate_with_ellipsis",
            "(s: str, n: int) -> str",
            "easy",
            "If s is longer than n characters, return its first n characters followed by '...'. Otherwise "
            "return s unchanged.",
            """
          return s[:n] + "..." if len(s) > n else s
          """,
            ["'hello world', 5", "'short', 10", "'', 0", "'abc', 3", "'abcd', 0"],
        ),
        t(
            "zero_pad_number",
            "(n: int, width: int) -> str",
            "easy",
            "Return the non-negative integer n as a string with leading zeros added until it has at least "
            "width digits.",
            """
          return str(n).zfill(width)
          """,
            ["42, 5", "12345, 3", "0, 1", "7, 0", "5, 3"],
        ),
        t(
            "ordinal_string",
            "(n: int) -> str",
            "medium",
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
            ["1", "12", "2", "3", "11", "23", "104", "111"],
        ),
        t(
            "pluralize",
            "(count: int, word: str) -> str",
            "easy",
            "Return the count followed by a space and the word, adding an 's' to the word unless count is "
            "exactly 1.",
            """
          return f"{count} {word}" if count == 1 else f"{count} {word}s"
          """,
            ["1, 'apple'", "3, 'cat'", "0, 'dog'", "-1, 'degree'"],
        ),
        t(
            "format_table_row",
            "(cells: List[str], width: int) -> str",
            "medium",
            "Pad every cell on the right with spaces to width characters (longer cells are kept whole) "
            "and join the cells with ' | '.",
            """
          return " | ".join(c.ljust(width) for c in cells)
          """,
            ["['a', 'bb'], 3", "[], 4", "['long cell'], 4", "['x', 'y', 'z'], 1"],
        ),
    ]
