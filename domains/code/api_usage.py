"""A Gorilla-style API-usage check: does the code import and call things that exist?

Code that calls ``math.sqroot`` or imports ``collections.OrderedDic`` fails its tests, but the unit
tests only say *that* it failed. This check says *why*, statically and in the main process, without
running the candidate's code (after the AST-based API checks of Gorilla, Patil et al. 2023):

* every ``import`` / ``from ... import`` is resolved with :func:`importlib.util.find_spec` on the
  top-level name and :class:`importlib.machinery.PathFinder` for submodules, neither of which
  executes a module;
* for standard-library modules on a safe allowlist (:func:`safe_stdlib_modules`: ``sys.stdlib_module_names``
  minus modules with import side effects, such as ``antigravity``, ``this``, ``tkinter`` or ``idlelib``),
  the module is imported and every attribute chain rooted at an imported name (``os.path.joinn``,
  ``m.sqroot(...)`` after ``import math as m``) and every ``from`` name is looked up;
* for any other module only its existence is checked: importing third-party code would run it.

Names that the code rebinds (``math = None``, a parameter called ``os``) are not checked, and imports
guarded by ``try: ... except ImportError`` are not flagged, so the check errs towards silence.
"""

from __future__ import annotations

import ast
import functools
import importlib
import importlib.machinery
import importlib.util
import inspect
import sys
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from polyrlaif.core.records import Candidate, Judgment, PromptRecord

__all__ = ["ApiUsageReport", "ApiUsageVerifier", "check_api_usage", "safe_stdlib_modules"]

#: Standard-library modules never imported by the check: they act on import (print, open a
#: browser, start a GUI toolkit, change the terminal or patch ``sys.modules``) or are test-only.
UNSAFE_STDLIB = frozenset(
    {
        "antigravity", "this", "__hello__", "__phello__", "tkinter", "_tkinter", "turtle",
        "turtledemo", "idlelib", "lib2to3", "distutils", "test", "readline", "rlcompleter",
        "ensurepip", "pydoc_data", "site",
    }
)  # fmt: skip

_IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}
_MISSING = object()


@functools.cache
def safe_stdlib_modules() -> frozenset[str]:
    """Top-level standard-library modules the check may import to resolve attributes."""
    names = getattr(sys, "stdlib_module_names", frozenset())
    return frozenset(n for n in names if n not in UNSAFE_STDLIB and not n.startswith(("_test", "xx", "_xx")))


@dataclass
class ApiUsageReport:
    """Result of :func:`check_api_usage`.

    Attributes:
        unresolved: imports and attribute references that do not exist, as dotted canonical names
            (``"math.sqroot"``, ``"collections.OrderedDic"``, ``"nosuchpkg"``), in order of appearance.
        imports: every module the code imports (dotted, absolute imports only), in order of appearance.
        calls_checked: attribute references (calls or plain loads) and ``from`` names that were looked
            up on an allowlisted module.
        unchecked: imported modules whose attributes were not looked up (not on the allowlist).
        parse_error: the ``SyntaxError`` message when the code does not parse; nothing else is
            checked then.
    """

    unresolved: list[str] = field(default_factory=list)
    imports: list[str] = field(default_factory=list)
    calls_checked: int = 0
    unchecked: list[str] = field(default_factory=list)
    parse_error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the code parses and every import and checked reference resolves."""
        return self.parse_error is None and not self.unresolved


# ----------------------------------------------------------------------------- module resolution


def _module_exists(name: str) -> bool:
    """Whether ``name`` (dotted) can be imported here.

    Allowlisted standard-library modules are imported (that is how ``os.path``, set up by its parent,
    is found); anything else is only located through the import system's finders, which never execute
    a module.
    """
    if _allowlisted(name):
        return _import_safe(name) is not None
    parts = name.split(".")
    try:
        spec = importlib.util.find_spec(parts[0])
    except (ImportError, ValueError):
        return False
    for i in range(1, len(parts)):
        locations = spec.submodule_search_locations if spec is not None else None
        if locations is None:  # not found, or a plain module, which has no submodules
            return False
        spec = importlib.machinery.PathFinder.find_spec(".".join(parts[: i + 1]), list(locations))
    return spec is not None


def _allowlisted(name: str) -> bool:
    return name.split(".")[0] in safe_stdlib_modules()


def _import_safe(name: str) -> Any:
    """Import an allowlisted module; ``None`` when it cannot be imported here."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # deprecated modules warn on import
            return importlib.import_module(name)
    except Exception:
        return None


def _lookup(obj: Any, owner: str, attr: str) -> Any:
    """``getattr`` that also finds a not-yet-imported submodule of an allowlisted package."""
    try:
        return getattr(obj, attr)
    except Exception:
        pass
    if inspect.ismodule(obj) and hasattr(obj, "__path__"):
        sub = _import_safe(f"{owner}.{attr}")
        if sub is not None:
            return sub
    return _MISSING


def _resolve(path: str) -> tuple[bool, str | None]:
    """Look up a dotted name rooted at an allowlisted module.

    Returns:
        ``(checked, first_missing)``: ``checked`` is False when the root could not be imported;
        ``first_missing`` is the shortest prefix of ``path`` that does not exist, or ``None``.
    """
    parts = path.split(".")
    obj = _import_safe(parts[0])
    if obj is None:
        return False, None
    for i in range(1, len(parts)):
        # Only modules and classes are inspected: an instance attribute (sys.stdout under pytest)
        # depends on this process, not on the API.
        if not (inspect.ismodule(obj) or inspect.isclass(obj)):
            return True, None
        obj = _lookup(obj, ".".join(parts[:i]), parts[i])
        if obj is _MISSING:
            return True, ".".join(parts[: i + 1])
    return True, None


# ----------------------------------------------------------------------------- AST walk


def _catches_import_error(node: ast.Try) -> bool:
    for handler in node.handlers:
        if handler.type is None:
            return True
        types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        if any(isinstance(t, ast.Name) and t.id in _IMPORT_ERRORS for t in types):
            return True
    return False


def _guarded_imports(tree: ast.AST) -> set[int]:
    """ids of import nodes inside a ``try`` body whose handlers catch ImportError."""
    guarded: set[int] = set()
    try_types = tuple(t for t in (ast.Try, getattr(ast, "TryStar", None)) if t is not None)
    for node in ast.walk(tree):
        if isinstance(node, try_types) and _catches_import_error(node):
            for stmt in node.body:
                guarded.update(id(n) for n in ast.walk(stmt) if isinstance(n, (ast.Import, ast.ImportFrom)))
    return guarded


def _rebound_names(tree: ast.AST) -> set[str]:
    """Names bound anywhere by something other than an import statement."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            names.add(node.rest)
    return names


def _attribute_chain(node: ast.Attribute) -> tuple[str, list[str]] | None:
    """``a.b.c`` -> ``("a", ["b", "c"])``; ``None`` when the chain is not rooted at a name."""
    attrs: list[str] = []
    cur: ast.expr = node
    while isinstance(cur, ast.Attribute):
        attrs.append(cur.attr)
        cur = cur.value
    if not isinstance(cur, ast.Name):
        return None
    return cur.id, attrs[::-1]


def check_api_usage(code: str) -> ApiUsageReport:
    """Statically check that the imports and module attribute references of ``code`` exist.

    Never executes ``code``; imports only allowlisted standard-library modules (see the module doc).

    Args:
        code: Python source.

    Returns:
        An :class:`ApiUsageReport`; ``parse_error`` is set when ``code`` is not valid Python.
    """
    report = ApiUsageReport()
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError) as exc:  # ValueError: null bytes in the source
        line = f" (line {exc.lineno})" if getattr(exc, "lineno", None) else ""
        report.parse_error = f"{type(exc).__name__}: {getattr(exc, 'msg', None) or exc}{line}"
        return report

    guarded = _guarded_imports(tree)
    bindings: dict[str, set[str]] = {}  # local name -> canonical dotted targets
    unresolved: dict[str, None] = {}
    imports: dict[str, None] = {}
    unchecked: dict[str, None] = {}

    def note_module(module: str, node: ast.AST) -> bool:
        imports[module] = None
        if _module_exists(module):
            if not _allowlisted(module):
                unchecked[module] = None
            return True
        if id(node) not in guarded:
            unresolved[module] = None
        return False

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found = note_module(alias.name, node)
                local = alias.asname or alias.name.split(".")[0]
                target = alias.name if alias.asname else alias.name.split(".")[0]
                bindings.setdefault(local, set()).add(target if found else "")
        elif isinstance(node, ast.ImportFrom):
            if node.level or not node.module:  # relative: nothing to resolve against
                for alias in node.names:
                    bindings.setdefault(alias.asname or alias.name, set()).add("")
                continue
            found = note_module(node.module, node)
            for alias in node.names:
                if alias.name == "*":
                    continue
                target = f"{node.module}.{alias.name}"
                bindings.setdefault(alias.asname or alias.name, set()).add(target if found else "")
                if found and _allowlisted(node.module):
                    checked, missing = _resolve(target)
                    report.calls_checked += int(checked)
                    if missing and id(node) not in guarded:
                        unresolved[missing] = None

    rebound = _rebound_names(tree)
    roots = {
        name: next(iter(targets))
        for name, targets in bindings.items()
        if len(targets) == 1 and "" not in targets and name not in rebound
    }
    # Attributes the code assigns itself (``math.tau2 = ...``) exist once it runs.
    stored = {
        ".".join([chain[0], *chain[1]])
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and not isinstance(node.ctx, ast.Load)
        if (chain := _attribute_chain(node)) is not None
    }
    inner = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute) or id(node) in inner or not isinstance(node.ctx, ast.Load):
            continue
        chain = _attribute_chain(node)
        if chain is None or chain[0] not in roots or not _allowlisted(roots[chain[0]]):
            continue
        local = ".".join([chain[0], *chain[1]])
        if any(local == s or local.startswith(s + ".") for s in stored):
            continue
        checked, missing = _resolve(".".join([roots[chain[0]], *chain[1]]))
        report.calls_checked += int(checked)
        if missing:
            unresolved[missing] = None

    report.unresolved = list(unresolved)
    report.imports = list(imports)
    report.unchecked = list(unchecked)
    return report


class ApiUsageVerifier:
    """:class:`~polyrlaif.core.protocols.Verifier` wrapping :func:`check_api_usage`.

    Score 1.0 when every import and checked reference resolves, 0.0 when some do not. Code that
    does not parse gets no score and no failure: that is the candidate's defect, not the check's
    (``scores["parse_error"]`` and the rationale say so, and the unit tests already fail it), so it is
    never counted among the round's judge failures. The code checked is ``candidate.meta["code"]``
    when the sampler extracted it, else the candidate's text.
    """

    name = "api_usage"
    #: advisory: what it flags lowers a score; it never holds a candidate back
    required = False

    def verify(self, prompts: Mapping[str, PromptRecord], candidates: Sequence[Candidate]) -> list[Judgment]:
        """One judgment per candidate (``kind="verifier"``, ``judge_id="api_usage"``)."""
        out = []
        for cand in candidates:
            report = check_api_usage(cand.meta.get("code", cand.text))
            parse_failed = report.parse_error is not None
            out.append(
                Judgment(
                    candidate_id=cand.candidate_id,
                    prompt_id=cand.prompt_id,
                    judge_id=self.name,
                    kind="verifier",
                    score=None if parse_failed else float(report.ok),
                    scores={
                        "unresolved": report.unresolved,
                        "imports": report.imports,
                        "unchecked": report.unchecked,
                        "calls_checked": report.calls_checked,
                        "parse_error": report.parse_error,
                    },
                    rationale=f"code does not parse: {report.parse_error}" if parse_failed else "",
                )
            )
        return out
