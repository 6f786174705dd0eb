"""The static API-usage check: what it flags, what it leaves alone, and that it never runs code."""

from __future__ import annotations

import sys

import pytest

from polyrlaif.core.records import Candidate
from polyrlaif.domains.code.api_usage import ApiUsageVerifier, check_api_usage, safe_stdlib_modules


@pytest.mark.parametrize(
    ("code", "unresolved"),
    [
        ("import math\nmath.sqroot(2)\n", ["math.sqroot"]),
        ("import os\nos.path.joinn('a', 'b')\nos.path.join('a')\n", ["os.path.joinn"]),
        ("from collections import OrderedDic\n", ["collections.OrderedDic"]),
        ("import math as m\nx = m.pii\n", ["math.pii"]),  # plain loads count too, through an alias
        ("from os import path\npath.existz('x')\n", ["os.path.existz"]),
        ("import itertools\nitertools.chain.from_iterablee([])\n", ["itertools.chain.from_iterablee"]),
        (
            "import xml.etree.ElementTree as ET\nET.fromstringg('<a/>')\n",
            ["xml.etree.ElementTree.fromstringg"],
        ),
        ("import no_such_module_polyrlaif\n", ["no_such_module_polyrlaif"]),
        ("from no_such_module_polyrlaif import x\n", ["no_such_module_polyrlaif"]),
        ("import json.no_such_sub\n", ["json.no_such_sub"]),
    ],
)
def test_flags_what_does_not_exist(code: str, unresolved: list[str]) -> None:
    report = check_api_usage(code)
    assert report.unresolved == unresolved
    assert not report.ok


def test_correct_code_passes_and_counts_checks() -> None:
    code = (
        "import math, os.path\n"
        "from collections import OrderedDict, Counter\n"
        "import concurrent.futures\n"
        "def f(xs):\n"
        "    d = OrderedDict.fromkeys(xs)\n"
        "    ex = concurrent.futures.ThreadPoolExecutor\n"
        "    return math.sqrt(len(d)) + len(os.path.join('a', 'b')) + Counter(xs).most_common(1)[0][1]\n"
    )
    report = check_api_usage(code)
    assert report.ok, report
    assert report.imports == ["math", "os.path", "collections", "concurrent.futures"]
    # 2 from-names + OrderedDict.fromkeys, concurrent.futures.ThreadPoolExecutor, math.sqrt, os.path.join
    assert report.calls_checked == 6


def test_rebound_names_and_guarded_imports_are_not_flagged() -> None:
    code = (
        "import math\n"
        "def f(math):\n"  # a parameter shadows the module
        "    return math.whatever\n"
        "try:\n"
        "    import no_such_module_polyrlaif as fast\n"
        "except ImportError:\n"
        "    fast = None\n"
        "import string\n"
        "string.my_extra = 1\n"  # attributes the code sets itself exist when it runs
        "print(string.my_extra)\n"
    )
    report = check_api_usage(code)
    assert report.unresolved == []
    assert "no_such_module_polyrlaif" in report.imports


def test_parse_error_is_reported() -> None:
    report = check_api_usage("def f(:\n    pass\n")
    assert report.parse_error is not None and "line 1" in report.parse_error
    assert not report.ok


def test_third_party_modules_are_located_not_imported(tmp_path, monkeypatch) -> None:
    """A package outside the allowlist is found on disk but its code never runs."""
    pkg = tmp_path / "sidefx_pkg_polyrlaif"
    pkg.mkdir()
    marker = tmp_path / "imported.txt"
    (pkg / "__init__.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    (pkg / "sub.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    report = check_api_usage(
        "import sidefx_pkg_polyrlaif.sub\nimport sidefx_pkg_polyrlaif.nosub\n"
        "sidefx_pkg_polyrlaif.anything_at_all()\n"
    )
    assert report.unresolved == ["sidefx_pkg_polyrlaif.nosub"]
    assert report.unchecked == ["sidefx_pkg_polyrlaif.sub"]
    assert report.calls_checked == 0
    assert not marker.exists()
    assert "sidefx_pkg_polyrlaif" not in sys.modules


def test_side_effect_stdlib_modules_are_never_imported() -> None:
    assert {"antigravity", "this", "tkinter", "turtle", "idlelib"}.isdisjoint(safe_stdlib_modules())
    assert {"math", "os", "collections", "itertools"} <= safe_stdlib_modules()
    was_loaded = "this" in sys.modules
    report = check_api_usage("import this\nthis.s\n")
    assert report.ok and report.calls_checked == 0
    assert ("this" in sys.modules) == was_loaded


def test_candidate_code_is_never_executed(tmp_path) -> None:
    marker = tmp_path / "ran.txt"
    report = check_api_usage(f"open({str(marker)!r}, 'w').write('x')\nimport math\nmath.sqrt(4)\n")
    assert report.ok
    assert not marker.exists()


def test_verifier_judgments() -> None:
    cands = [
        Candidate(
            "c0",
            "p",
            "```python\nimport math\nmath.sqroot(2)\n```",
            meta={"code": "import math\nmath.sqroot(2)"},
        ),
        Candidate("c1", "p", "import math\nprint(math.sqrt(2))\n"),  # no meta: the text is the code
        Candidate("c2", "p", "def broken(:\n"),
    ]
    got = ApiUsageVerifier().verify({}, cands)
    assert [j.candidate_id for j in got] == ["c0", "c1", "c2"]
    assert all(j.judge_id == "api_usage" and j.kind == "verifier" for j in got)
    assert got[0].score == 0.0 and got[0].scores["unresolved"] == ["math.sqroot"] and got[0].ok
    assert got[1].score == 1.0 and got[1].scores["unresolved"] == [] and got[1].scores["calls_checked"] == 1
    # a syntax error is the candidate's defect, not a failure of the check: no score, no failure
    assert got[2].score is None and got[2].failure is None and "does not parse" in got[2].rationale
    assert got[2].scores["parse_error"] and got[0].scores["parse_error"] is None
