"""Task specs for the encoding families: ``ciphers`` (character-by-character transforms such as Caesar
shifts, ROT13 and Atbash) and ``run_length`` (run-length encoding, decoding and questions about runs of
equal items). Each function returns one family's :class:`~polyrlaif.datasets.code_tasks.build.TaskSpec`
list; ``build.all_specs`` puts the families in order, and the builder renders and checks them.
Calls are argument source text: the first ``n_examples`` become docstring examples, so they are short, and
the edge cases come after.
"""

from __future__ import annotations

import functools

from polyrlaif.datasets.code_tasks.build import TaskSpec

__all__ = ["ciphers", "run_length"]


def ciphers() -> list[TaskSpec]:
    """Tasks that encode text character by character: Caesar shifts, ROT13, Atbash, character codes."""
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
        t(
            "caesar_shift",
            "(text: str, k: int) -> str",
            "medium",
            "Shift every lower-case letter of text k places forward in the alphabet, wrapping around from "
            "'z' to 'a'. k is non-negative and may be larger than 26. Other characters stay the same.",
            shift_body.replace("{k}", "k"),
            ["'abc xyz', 2", "'hello', 0", "'', 5", "'zebra!', 27", "'Mixed Case', 1"],
        ),
        t(
            "rot13",
            "(text: str) -> str",
            "medium",
            "Apply ROT13 to the lower-case letters of text: shift each one 13 places forward in the "
            "alphabet, wrapping around from 'z' to 'a'. Other characters stay the same.",
            shift_body.replace("{k}", "13"),
            ["'hello'", "'uryyb'", "''", "'a-z 0'", "'Nope'"],
        ),
        t(
            "atbash",
            "(text: str) -> str",
            "medium",
            "Replace each lower-case letter of text by its mirror in the alphabet ('a' <-> 'z', "
            "'b' <-> 'y', and so on). Other characters stay the same.",
            """
          return "".join(chr(ord("a") + ord("z") - ord(c)) if "a" <= c <= "z" else c for c in text)
          """,
            ["'abc'", "'wizard'", "''", "'m n'", "'Hi!'"],
        ),
        t(
            "reverse_each_word",
            "(text: str) -> str",
            "easy",
            "Reverse the characters of every word of text, keeping the words in their places. Words are "
            "separated by single spaces.",
            """
          return " ".join(w[::-1] for w in text.split(" "))
          """,
            ["'hello world'", "'abc'", "''", "'a bc def'"],
        ),
        t(
            "char_codes",
            "(s: str) -> List[int]",
            "easy",
            "Return the list of the Unicode code points (ord values) of the characters of s.",
            """
          return [ord(c) for c in s]
          """,
            ["'AB'", "''", "'a z'", "'09'"],
        ),
        t(
            "from_char_codes",
            "(codes: List[int]) -> str",
            "easy",
            "Return the string whose characters have the given Unicode code points (chr values).",
            """
          return "".join(chr(c) for c in codes)
          """,
            ["[72, 105]", "[]", "[97, 32, 122]", "[48]"],
        ),
        t(
            "letter_positions",
            "(word: str) -> List[int]",
            "easy",
            "word is made of lower-case letters. Return the position of each letter in the alphabet, "
            "where 'a' is 1 and 'z' is 26.",
            """
          return [ord(c) - ord("a") + 1 for c in word]
          """,
            ["'abc'", "''", "'z'", "'hello'"],
        ),
        t(
            "pig_latin_word",
            "(word: str) -> str",
            "medium",
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
            ["'apple'", "'string'", "'pig'", "'rhythm'", "'egg'", "'chair'"],
        ),
        t(
            "swap_adjacent_chars",
            "(s: str) -> str",
            "easy",
            "Swap the characters of s in pairs: the first with the second, the third with the fourth, and "
            "so on. With an odd length, the last character stays where it is.",
            """
          chars = list(s)
          for i in range(0, len(chars) - 1, 2):
              chars[i], chars[i + 1] = chars[i + 1], chars[i]
          return "".join(chars)
          """,
            ["'abcd'", "'abcde'", "''", "'x'", "'hello world'"],
        ),
        t(
            "vowels_to_digits",
            "(text: str) -> str",
            "easy",
            "Replace every lower-case vowel in text by its position in 'aeiou' (a -> 1, e -> 2, i -> 3, "
            "o -> 4, u -> 5). Other characters stay the same.",
            """
          return "".join(str("aeiou".index(c) + 1) if c in "aeiou" else c for c in text)
          """,
            ["'hello'", "'sky'", "''", "'audio'", "'Under'"],
        ),
        t(
            "shift_digits",
            "(text: str, k: int) -> str",
            "easy",
            "Add k to every decimal digit of text, keeping only the last digit of the result (so 9 + 2 "
            "gives 1). k is non-negative. Other characters stay the same.",
            """
          return "".join(str((int(c) + k) % 10) if c.isdigit() else c for c in text)
          """,
            ["'a19', 2", "'no digits', 3", "'', 1", "'0000', 10", "'2024-12', 5"],
        ),
    ]


def run_length() -> list[TaskSpec]:
    """Tasks on runs of equal items: run-length encoding and decoding, run counts and positions."""
    t = functools.partial(TaskSpec, "run_length")
    return [
        t(
            "rle_encode",
            "(s: str) -> str",
            "medium",
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
            ["'aaabcc'", "'abc'", "''", "'zzzzzzzzzzzz'", "'aabaa'"],
        ),
        t(
            "rle_decode",
            "(code: str) -> str",
            "medium",
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
            ["'a3b1c2'", "'x1'", "''", "'b12'", "'a1b1a1'"],
        ),
        t(
            "run_pairs",
            "(nums: List[int]) -> List[Tuple[int, int]]",
            "medium",
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
            ["[1, 1, 2, 3, 3, 3]", "[]", "[5]", "[4, 4, 4, 4]", "[1, 2, 1]"],
        ),
        t(
            "longest_run_length",
            "(nums: List[int]) -> int",
            "easy",
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
            ["[1, 1, 2, 2, 2, 3]", "[]", "[7]", "[1, 2, 3]", "[4, 4, 1, 4, 4]"],
        ),
        t(
            "collapse_repeats",
            "(s: str) -> str",
            "easy",
            "Return s with every run of equal adjacent characters shortened to a single character.",
            """
          return "".join(c for i, c in enumerate(s) if i == 0 or s[i - 1] != c)
          """,
            ["'aaabccdd'", "'abc'", "''", "'zzzz'", "'abba'"],
        ),
        t(
            "rle_encode_short",
            "(s: str) -> str",
            "medium",
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
            ["'aaabcc'", "'abc'", "''", "'wwwwwwwwwwww'", "'aabaa'"],
        ),
        t(
            "expand_pairs",
            "(pairs: List[Tuple[str, int]]) -> str",
            "easy",
            "pairs holds (character, count) pairs. Return the string made of each character repeated its "
            "count times, in order.",
            """
          return "".join(ch * count for ch, count in pairs)
          """,
            ["[('a', 3), ('b', 1)]", "[]", "[('x', 0), ('y', 2)]", "[('z', 5)]"],
        ),
        t(
            "run_start_indexes",
            "(nums: List[int]) -> List[int]",
            "easy",
            "Return the indexes in nums at which a new run of equal values starts (index 0 always starts "
            "a run when nums is not empty).",
            """
          return [i for i in range(len(nums)) if i == 0 or nums[i] != nums[i - 1]]
          """,
            ["[1, 1, 2, 2, 2, 3]", "[]", "[5, 5]", "[1, 2, 3]"],
        ),
        t(
            "count_runs",
            "(s: str) -> int",
            "easy",
            "Return the number of runs of equal adjacent characters in s.",
            """
          return sum(1 for i in range(len(s)) if i == 0 or s[i] != s[i - 1])
          """,
            ["'aabccc'", "''", "'a'", "'abab'", "'zzzz'"],
        ),
        t(
            "longest_run_char",
            "(s: str) -> str",
            "medium",
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
            ["'aabbbc'", "'abc'", "''", "'xxyyy'", "'qqppp qqqq'"],
        ),
    ]
