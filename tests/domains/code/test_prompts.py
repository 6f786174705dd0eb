"""Code extraction from model responses and HumanEval program layout."""

import subprocess
import sys

from polyrlaif.domains.code.prompts import build_messages, build_program, extract_code

PROMPT = 'import math\n\n\ndef hyp(a: float, b: float) -> float:\n    """Hypotenuse."""\n'
TEST = "def check(candidate):\n    assert candidate(3, 4) == 5\n"


def test_extract_prefers_block_with_def():
    text = "Here:\n```\nprint('x')\n```\nand\n```python\ndef f():\n    return 1\n```\nbye"
    assert extract_code(text) == "def f():\n    return 1"


def test_extract_unterminated_fence_and_no_fence():
    assert extract_code("```python\ndef f():\n    return 2\n") == "def f():\n    return 2"
    assert extract_code("    return 3\n") == "    return 3"


def _run(program):
    return subprocess.run([sys.executable, "-c", program], capture_output=True, timeout=30).returncode


def test_program_with_full_function_keeps_prompt_imports():
    completion = "def hyp(a, b):\n    return math.sqrt(a * a + b * b)\n"
    assert _run(build_program(PROMPT, completion, TEST, "hyp")) == 0
    wrong = "def hyp(a, b):\n    return a + b\n"
    assert _run(build_program(PROMPT, wrong, TEST, "hyp")) != 0


def test_program_with_body_completion():
    assert _run(build_program(PROMPT, "    return math.hypot(a, b)\n", TEST, "hyp")) == 0


def test_messages_carry_the_prompt():
    msgs = build_messages(PROMPT)
    assert msgs[0]["role"] == "system" and "def hyp" in msgs[1]["content"]
