"""Task specs for the ``brackets`` family: problems solved with a stack, such as balanced brackets,
nesting depth, reverse Polish notation, backspaces, path simplification and next greater elements. Each
function returns one family's :class:`~polyrlaif.datasets.code_tasks.build.TaskSpec` list;
``build.all_specs`` puts the families in order, and the builder renders and checks them. Calls
are argument source text: the first ``n_examples`` become docstring examples, so they are short, and the
edge cases come after.
"""

from __future__ import annotations

import functools

from polyrlaif.datasets.code_tasks.build import TaskSpec

__all__ = ["brackets"]


def brackets() -> list[TaskSpec]:
    """Tasks solved with a stack: balanced brackets, nesting depth, RPN, backspaces, paths."""
    t = functools.partial(TaskSpec, "brackets")
    return [
        t(
            "brackets_balanced",
            "(s: str) -> bool",
            "medium",
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
            ["'([]{})'", "'([)]'", "''", "'a(b)c'", "'(('", "'}{'", "'{[()()]}'"],
        ),
        t(
            "max_paren_depth",
            "(s: str) -> int",
            "medium",
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
            ["'(a(b)c)'", "'()()'", "''", "'((()))'", "'x(y)(z(w))'"],
        ),
        t(
            "min_parens_to_add",
            "(s: str) -> int",
            "medium",
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
            ["'(()'", "'())('", "''", "'()'", "')))'", "'(()())'"],
        ),
        t(
            "eval_rpn",
            "(tokens: List[str]) -> int",
            "medium",
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
            [
                "['2', '3', '+']",
                "['5', '1', '2', '+', '4', '*', '+', '3', '-']",
                "['7']",
                "['4', '10', '-']",
                "['-2', '3', '*']",
            ],
        ),
        t(
            "remove_adjacent_pairs",
            "(s: str) -> str",
            "medium",
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
            ["'abbaca'", "'aa'", "''", "'abc'", "'aabccbd'"],
        ),
        t(
            "apply_backspaces",
            "(s: str) -> str",
            "medium",
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
            ["'ab#c'", "'a##b'", "''", "'###'", "'abc#d##'"],
        ),
        t(
            "next_greater_elements",
            "(nums: List[int]) -> List[int]",
            "medium",
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
            ["[2, 1, 3]", "[5, 4, 3]", "[]", "[1, 1, 2]", "[4, 5, 2, 25]"],
        ),
        t(
            "matching_paren_index",
            "(s: str, i: int) -> int",
            "medium",
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
            ["'(())', 0", "'(())', 1", "'()()', 2", "'a(b(c)d)e', 1", "'((()))', 2"],
        ),
        t(
            "count_top_level_groups",
            "(s: str) -> int",
            "medium",
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
            ["'()(())()'", "'((()))'", "''", "'()'", "'(()())(())'"],
        ),
        t(
            "strip_outer_parens",
            "(s: str) -> str",
            "medium",
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
            ["'(()())(())'", "'()()'", "''", "'((()))'", "'(())()'"],
        ),
        t(
            "simplify_path",
            "(path: str) -> str",
            "medium",
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
            ["'/a/./b/../c/'", "'/../'", "'/'", "'//home//user'", "'/a/b/c/../../d'"],
        ),
        t(
            "run_stack_commands",
            "(commands: List[str]) -> List[int]",
            "easy",
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
            [
                "['push 1', 'push 2', 'pop', 'push 3']",
                "[]",
                "['pop']",
                "['push -5']",
                "['push 1', 'pop', 'pop']",
            ],
            n_examples=1,
        ),
    ]
