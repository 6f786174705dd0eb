"""``polyrlaif eval`` builds each benchmark's typed options and request: unknown options and flags are named
errors, an unset ``--max-new-tokens`` leaves the benchmark's own default, and every registered evaluator
declares what the core reads (``Options``, ``metrics`` with directions, ``max_new_tokens``)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from polyrlaif.core import registry
from polyrlaif.core.benchmarks import declared_metrics, option_names, resolve_max_new_tokens
from polyrlaif.core.cli import main
from polyrlaif.core.protocols import BenchmarkEvaluator
from polyrlaif.core.registry import get_benchmark, get_domain, list_domains

FIXTURES = Path(__file__).parents[1] / "domains" / "vision_hallucination" / "fixtures"


def _registered() -> list[tuple[str, str]]:
    return [(d, b) for d in list_domains() for b in sorted(get_domain(d).benchmarks)]


def test_every_domain_with_benchmarks_is_covered() -> None:
    assert {"code", "vision_hallucination", "search_agent"} <= {d for d, _ in _registered()}


@pytest.mark.parametrize(("domain", "bench"), _registered())
def test_every_evaluator_declares_options_metrics_and_budget(domain: str, bench: str) -> None:
    cls = get_benchmark(get_domain(domain), bench)
    assert cls.name == bench
    assert isinstance(cls.Options, type) and dataclasses.is_dataclass(cls.Options)
    assert option_names(cls) and isinstance(cls.Options(), cls.Options)  # every option has a default
    metrics = declared_metrics(cls)
    assert metrics and set(metrics.values()) <= {"higher", "lower"}
    assert not [k for k in metrics if k.startswith("n_")]  # counts are reported, not declared
    assert type(cls.max_new_tokens) is int and cls.max_new_tokens >= 0  # 0: the benchmark draws media
    assert isinstance(cls(), BenchmarkEvaluator)  # constructed with no arguments
    assert resolve_max_new_tokens(cls, None) == cls.max_new_tokens
    assert resolve_max_new_tokens(cls, 7) == 7


def _eval(*args: str) -> int:
    return main(["eval", *args])


def test_unknown_opt_exits_2_and_lists_the_options(tmp_path: Path, capsys) -> None:
    out = tmp_path / "o"
    assert (
        _eval("--domain", "code", "--benchmark", "humaneval", "--opt", "unknown=1", "--output", str(out)) == 2
    )
    err = capsys.readouterr().err
    assert "'humaneval' does not take option(s) ['unknown']" in err
    assert "it takes: timeout_s, workers, unsafe_no_isolation, ks" in err
    assert "Traceback" not in err and not out.exists()

    assert _eval("--domain", "search_agent", "--benchmark", "qa", "--opt", "max_turn=2") == 2
    err = capsys.readouterr().err
    assert "['max_turn']" in err and "max_turns" in err and "corpus" in err


def test_bad_option_values_and_flags_are_named(tmp_path: Path, capsys) -> None:
    code = ["--domain", "code", "--benchmark", "humaneval", "--output", str(tmp_path / "o")]
    assert _eval(*code, "--opt", "workers=0") == 2
    assert "workers must be >= 1, got 0" in capsys.readouterr().err
    assert _eval(*code, "--opt", "timeout_s=soon") == 2  # a string where a number belongs
    err = capsys.readouterr().err
    assert "bad option value" in err and "Traceback" not in err
    assert _eval(*code, "--opt", "noequals") == 2
    assert "--opt expects KEY=VALUE" in capsys.readouterr().err
    assert _eval(*code, "--annotations", "a.json") == 2
    assert "benchmark 'humaneval' of domain 'code' does not take --annotations" in capsys.readouterr().err
    qa = ["--domain", "search_agent", "--benchmark", "qa", "--output", str(tmp_path / "o")]
    assert _eval(*qa, "--images", "imgs", "--predictions", "p.jsonl") == 2
    assert "does not take --images" in capsys.readouterr().err
    assert _eval(*qa, "--predictions", "p.jsonl", "--opt", "predictions=q.jsonl") == 2
    assert "--predictions and --opt predictions" in capsys.readouterr().err


class RecordingPolicy:
    """Answers every request with one caption and records the generation budget it was given."""

    model_id = model_path = "recording"

    def __init__(self) -> None:
        self.budgets: list[int] = []

    def generate(
        self,
        conversations: Sequence[list[dict]],
        *,
        n: int = 1,
        temperature: float = 0.0,
        top_p: float = 1.0,
        max_new_tokens: int = 256,
        seed: int = 0,
    ) -> list[list[str]]:
        self.budgets.append(max_new_tokens)
        return [["A dog on a sofa."] * n for _ in conversations]


@pytest.fixture()
def recording(monkeypatch) -> RecordingPolicy:
    """``eval --model`` loads this policy through the domain's adapter."""
    policy = RecordingPolicy()

    class Adapter:
        def load(self, model: str, **kwargs) -> RecordingPolicy:
            return policy

    real = registry.load_object
    adapter = get_domain("vision_hallucination").adapter
    monkeypatch.setattr(registry, "load_object", lambda t: Adapter() if t == adapter else real(t))
    return policy


def test_chair_generates_with_its_own_budget_unless_told(tmp_path: Path, recording, capsys) -> None:
    ann = str(FIXTURES / "coco_instances.json")
    chair = ["--domain", "vision_hallucination", "--benchmark", "chair", "--model", "m", "--annotations", ann]
    assert _eval(*chair, "--output", str(tmp_path / "chair.json")) == 0
    assert recording.budgets and set(recording.budgets) == {64}  # the CLI no longer forces 384
    gens = [json.loads(x) for x in (tmp_path / "chair" / "generations.jsonl").read_text().splitlines()]
    assert {g["settings"]["max_new_tokens"] for g in gens} == {64}
    written = capsys.readouterr().out.split("written: ")[1].strip().split(", ")
    assert written == [
        str(tmp_path / "chair.json"),
        *(str(tmp_path / "chair" / f) for f in ("metrics.json", "metrics.md", "items.jsonl")),
    ]

    recording.budgets.clear()
    assert _eval(*chair, "--max-new-tokens", "7", "--output", str(tmp_path / "seven")) == 0
    assert set(recording.budgets) == {7}
    written = capsys.readouterr().out.split("written: ")[1].strip().split(", ")
    assert written == [str(tmp_path / "seven" / f) for f in ("metrics.json", "metrics.md", "items.jsonl")]
