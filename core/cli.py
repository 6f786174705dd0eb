"""The ``polyrlaif`` command. Verbs: train, feedback, eval, verify, domains.

Nothing heavy is imported at module level, so ``polyrlaif --help`` never imports torch.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from pathlib import Path

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every verb."""
    p = argparse.ArgumentParser(
        prog="polyrlaif",
        description="Reinforcement learning from AI feedback across modalities.",
    )
    sub = p.add_subparsers(dest="verb", required=True, metavar="VERB")

    for verb, text in (
        ("train", "full RLAIF rounds: sample, verify, judge, pair, optimise, evaluate"),
        ("feedback", "sample, verify and judge, then build pairs, and stop there"),
    ):
        s = sub.add_parser(verb, help=text, description=text)
        s.add_argument("--config", required=True, help="YAML file, or a packaged name such as code/demo")
        s.add_argument("overrides", nargs="*", help="dotted overrides, e.g. optim.lr=1e-5 sampling.n=8")

    e = sub.add_parser("eval", help="run a benchmark on a model")
    e.add_argument("--domain", required=True)
    e.add_argument("--benchmark", required=True)
    e.add_argument("--model", default=None, help="alias, hub id or local path")
    e.add_argument(
        "--output",
        default=None,
        help="output directory (default runs/eval/<domain>-<benchmark>); a path ending in .json gets the "
        "metrics, and the per-item files go to the directory of the same name without .json",
    )
    e.add_argument("--predictions", default=None, help="score these predictions (JSONL) instead of a model's")
    e.add_argument("--annotations", default=None, help="ground truth file the benchmark reads")
    e.add_argument("--images", default=None, help="directory the benchmark's image paths are relative to")
    e.add_argument("--corpus", default=None, help="documents (JSONL) an agent benchmark searches")
    e.add_argument("--limit", type=int, default=None, help="first N problems only")
    e.add_argument("--samples", type=int, default=1, help="samples per problem (pass@k needs k <= samples)")
    e.add_argument("--temperature", type=float, default=0.0)
    e.add_argument("--max-new-tokens", type=int, default=384)
    e.add_argument("--batch-size", type=int, default=8)
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--dtype", default="auto")
    e.add_argument("--device", default="auto")
    e.add_argument(
        "--opt",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="evaluator option, e.g. --opt timeout_s=5 --opt workers=2 (values parsed as JSON when possible)",
    )

    v = sub.add_parser("verify", help="run a domain's deterministic verifier over a JSONL file")
    v.add_argument("--domain", required=True)
    v.add_argument("--input", required=True)
    v.add_argument("--output", required=True)
    v.add_argument("--timeout", type=float, default=10.0, help="seconds per program")
    v.add_argument("--workers", type=int, default=2)
    v.add_argument(
        "--unsafe-no-isolation",
        action="store_true",
        help="run without Linux namespaces (only where the kernel refuses them; untrusted code can "
        "then reach the network and the file system)",
    )

    sub.add_parser("domains", help="list the registered domains and their benchmarks")
    return p


def _parse_opt(items: list[str]) -> dict:
    out = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep:
            raise ValueError(f"--opt expects KEY=VALUE, got {item!r}")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def _cmd_domains() -> int:
    from polyrlaif.core.registry import get_domain, list_domains

    names = list_domains()
    if not names:
        print("no domains installed")
        return 0
    for name in names:
        d = get_domain(name)
        print(f"{name:22s} {d.description}")
        print(f"{'':22s} benchmarks: {', '.join(sorted(d.benchmarks)) or '(none)'}")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from polyrlaif.core.registry import get_benchmark, get_domain, load_object
    from polyrlaif.evaluation.tables import markdown_table

    domain = get_domain(args.domain)
    evaluator = get_benchmark(domain, args.benchmark)(**_parse_opt(args.opt))
    target = Path(args.output or f"runs/eval/{args.domain}-{args.benchmark}")
    out = target.with_suffix("") if target.suffix == ".json" else target
    files = {
        "predictions": args.predictions,
        "annotations": args.annotations,
        "image_root": args.images,
        "corpus": args.corpus,
    }
    files = {k: v for k, v in files.items() if v is not None}
    if args.predictions and args.model:
        raise ValueError("give either --model (generate, then score) or --predictions (score), not both")
    params = inspect.signature(evaluator.evaluate).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    unsupported = [k for k in files if k not in params and not takes_any]
    if unsupported:
        flags = ", ".join("--" + {"image_root": "images"}.get(k, k) for k in unsupported)
        raise ValueError(f"benchmark {args.benchmark!r} of domain {args.domain!r} does not take {flags}")
    policy = None
    if args.model:
        adapter = load_object(domain.adapter)
        policy = adapter.load(args.model, dtype=args.dtype, device=args.device, batch_size=args.batch_size)
    metrics = evaluator.evaluate(
        policy,
        output_dir=out,
        limit=args.limit,
        samples=args.samples,
        temperature=args.temperature,
        max_new_tokens=args.max_new_tokens,
        seed=args.seed,
        batch_size=args.batch_size,
        **files,
    )
    rows = [{"metric": k, "value": v} for k, v in metrics.items()]
    print(markdown_table(rows))
    written = [out / "metrics.json", out / "metrics.md"]
    if target.suffix == ".json":
        from polyrlaif.core.io import atomic_write_json

        atomic_write_json(target, metrics)
        written.insert(0, target)
    print(f"\nwritten: {', '.join(map(str, written))}")
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from polyrlaif.core.registry import get_domain, load_object

    domain = get_domain(args.domain)
    if not domain.verify_file:
        raise KeyError(f"domain {args.domain!r} has no file verifier")
    counts = load_object(domain.verify_file)(
        args.input,
        args.output,
        timeout=args.timeout,
        workers=args.workers,
        unsafe_no_isolation=args.unsafe_no_isolation,
    )
    print(json.dumps(counts, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``polyrlaif`` console script."""
    args = build_parser().parse_args(argv)
    try:
        if args.verb == "domains":
            return _cmd_domains()
        if args.verb == "eval":
            return _cmd_eval(args)
        if args.verb == "verify":
            return _cmd_verify(args)
        from polyrlaif.core.config import load_config
        from polyrlaif.core.pipeline import run_feedback, run_train

        cfg = load_config(args.config, args.overrides)
        if args.verb == "train":
            run_train(cfg)
        else:
            run_feedback(cfg)
        return 0
    except KeyError as exc:  # unknown domain / benchmark / backend: the message lists the valid names
        print(f"polyrlaif: error: {exc.args[0]}", file=sys.stderr)
        return 2
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"polyrlaif: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
