"""The ``polyrlaif`` command. Verbs: train, feedback, eval, compare, seeds, verify, domains.

Nothing heavy is imported at module level, so ``polyrlaif --help`` never imports torch.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every verb."""
    p = argparse.ArgumentParser(
        prog="polyrlaif",
        description="Reinforcement learning from AI feedback across modalities.",
    )
    sub = p.add_subparsers(dest="verb", required=True, metavar="VERB")

    for verb, text in (
        ("train", "train by the recipe of run.mode: preference rounds, online RL, or a pairs file"),
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
        help="output directory (default runs/eval/<domain>-<benchmark>/<the model or predictions file, as a "
        "name>); a path ending in .json gets the metrics, and the per-item files go to the directory of the "
        "same name without .json",
    )
    e.add_argument("--predictions", default=None, help="score these predictions (JSONL) instead of a model's")
    e.add_argument("--annotations", default=None, help="ground truth file the benchmark reads")
    e.add_argument(
        "--images", default=None, help="directory the benchmark's image paths are relative to (image_root)"
    )
    e.add_argument("--corpus", default=None, help="documents (JSONL) an agent benchmark searches")
    e.add_argument(
        "--audio", default=None, help="directory of the audio files a spoken benchmark reads (audio)"
    )
    e.add_argument(
        "--videos", default=None, help="directory of the video files a video benchmark reads (videos)"
    )
    e.add_argument(
        "--clip-model",
        default=None,
        help="open_clip architecture, trained CLIP directory or config JSON a CLIP-scored benchmark uses",
    )
    e.add_argument(
        "--clip-pretrained", default=None, help="pretrained tag or local weights file of --clip-model"
    )
    e.add_argument("--limit", type=int, default=None, help="first N problems only")
    e.add_argument("--samples", type=int, default=1, help="samples per problem (pass@k needs k <= samples)")
    e.add_argument("--temperature", type=float, default=0.0)
    e.add_argument(
        "--max-new-tokens",
        type=int,
        default=None,
        help="generation budget per completion (default: the benchmark's own: 384 for code, 64 for chair)",
    )
    e.add_argument("--batch-size", type=int, default=8)
    e.add_argument(
        "--num-frames",
        type=int,
        default=None,
        help="frames per video the --model reads: the model.num_frames it was trained with (video domains; "
        "default: the domain adapter's)",
    )
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--dtype", default="auto")
    e.add_argument("--device", default="auto")
    e.add_argument(
        "--opt",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a field of the benchmark's options, e.g. --opt timeout_s=5 --opt workers=2 (values parsed as "
        "JSON when possible); an unknown name lists the ones the benchmark takes",
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
    v.add_argument(
        "--in-process",
        action="store_true",
        help="run each program and its tests in one interpreter (for test suites that pass callables or "
        "check mutation); weaker: the program can then forge a pass. By default the tests run in a "
        "process of their own and call the program with plain data",
    )

    c = sub.add_parser(
        "compare",
        help="paired comparison of two evaluations of the same items (run, round or eval folders)",
        description="For each benchmark both folders evaluated: each headline metric in A and B with its "
        "95%% bootstrap interval, and B - A over the items both evaluated (matched by id) with its "
        "paired-bootstrap interval and p-value. A run folder stands for its last round.",
    )
    c.add_argument("a", help="run folder, round folder (round_<k>) or evaluation folder")
    c.add_argument("b", help="the same, for the other side")
    c.add_argument("--seed", type=int, default=0, help="bootstrap seed")

    sd = sub.add_parser(
        "seeds",
        help="the spread of a learning claim over seeds: each run's change from its round 0",
        description="For runs of one config with different seeds: per benchmark and headline metric, each "
        "run's last round minus its round 0 (paired by item, 95%% paired-bootstrap interval, p-value), "
        "the mean over runs and how many runs' changes are significant.",
    )
    sd.add_argument("runs", nargs="+", help="run folders (each with round_0 and a later evaluated round)")
    sd.add_argument("--round", type=int, default=None, help="compare this round with round 0 (default: last)")
    sd.add_argument("--plot", default=None, help="also draw the spread to this PNG")
    sd.add_argument("--seed", type=int, default=0, help="bootstrap seed")

    sv = sub.add_parser(
        "serve",
        help="serve a chat causal LM over an OpenAI-compatible API (for CPUs; vLLM speaks the same API)",
        description="GET /v1/models and POST /v1/chat/completions over transformers, one request at a "
        "time: a policy server for model.serve, or a judge endpoint for judge.base_url.",
    )
    sv.add_argument("--model", required=True, help="alias, hub id or local directory")
    sv.add_argument("--port", type=int, default=8000)
    sv.add_argument("--host", default="127.0.0.1")
    sv.add_argument("--name", default=None, help="the model id clients send (default: --model)")
    sv.add_argument("--dtype", default="auto")
    sv.add_argument("--device", default="auto")
    sv.add_argument("--batch-size", type=int, default=8, help="completions decoded together")

    sub.add_parser("domains", help="list the registered domains and their benchmarks")
    return p


def _parse_opt(items: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` strings as a dict; a value is parsed as JSON when it is JSON, else kept as text."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--opt expects KEY=VALUE, got {item!r}")
        if key in out:
            raise ValueError(f"--opt {key} is given twice")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


#: ``polyrlaif eval`` option flags (argparse names) -> the benchmark ``Options`` field each fills.
_FILE_FLAGS = {
    "predictions": "predictions",
    "annotations": "annotations",
    "images": "image_root",
    "corpus": "corpus",
    "audio": "audio",
    "videos": "videos",
    "clip_model": "clip_model",
    "clip_pretrained": "clip_pretrained",
}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _eval_options(args: argparse.Namespace, evaluator_cls: Any) -> Any:
    """The benchmark's ``Options`` from the file flags and ``--opt``; a name it lacks is an error."""
    from polyrlaif.core.benchmarks import make_options, option_names

    fields = set(option_names(evaluator_cls))
    given = {flag: getattr(args, flag) for flag in _FILE_FLAGS if getattr(args, flag) is not None}
    unsupported = [flag for flag in given if _FILE_FLAGS[flag] not in fields]
    if unsupported:
        flags = ", ".join(_flag(flag) for flag in unsupported)
        raise ValueError(f"benchmark {args.benchmark!r} of domain {args.domain!r} does not take {flags}")
    values = _parse_opt(args.opt)
    for flag in given:
        if _FILE_FLAGS[flag] in values:
            field = _FILE_FLAGS[flag]
            raise ValueError(f"{_flag(flag)} and --opt {field}=... name the same option; give one")
    values.update({_FILE_FLAGS[flag]: value for flag, value in given.items()})
    try:
        return make_options(evaluator_cls, values, where="--opt")
    except TypeError as exc:  # a value of the wrong type, met by the options' own checks
        raise ValueError(f"benchmark {args.benchmark!r}: bad option value: {exc}") from None


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


def default_eval_dir(args: argparse.Namespace) -> Path:
    """``runs/eval/<domain>-<benchmark>/<what was evaluated>``: one folder per model (or predictions
    file), so evaluating a second model on a benchmark never meets the first one's outputs."""
    import re

    source = args.model or args.predictions or "no-model"
    slug = re.sub(r"[^A-Za-z0-9._-]+", "--", str(source).removeprefix("./")).strip("-.") or "model"
    return Path("runs/eval") / f"{args.domain}-{args.benchmark}" / slug


def _cmd_eval(args: argparse.Namespace) -> int:
    from polyrlaif.core.protocols import EvalRequest
    from polyrlaif.core.registry import get_benchmark, get_domain, load_object
    from polyrlaif.evaluation.tables import markdown_table

    domain = get_domain(args.domain)
    evaluator_cls = get_benchmark(domain, args.benchmark)
    if args.predictions and args.model:
        raise ValueError("give either --model (generate, then score) or --predictions (score), not both")
    options = _eval_options(args, evaluator_cls)
    target = Path(args.output) if args.output else default_eval_dir(args)
    out = target.with_suffix("") if target.suffix == ".json" else target
    request = EvalRequest(
        output_dir=out,
        limit=args.limit,
        samples=args.samples,
        temperature=args.temperature,
        max_new_tokens=args.max_new_tokens,  # None: the benchmark's own default
        seed=args.seed,
        batch_size=args.batch_size,
        options=options,
    )
    policy = None
    if args.model:
        adapter = load_object(domain.adapter)
        frames = {"num_frames": args.num_frames} if args.num_frames is not None else {}
        if frames and "num_frames" not in inspect.signature(adapter.load).parameters:
            raise ValueError(f"--num-frames: the {args.domain} domain's models read no video")
        policy = adapter.load(
            args.model, dtype=args.dtype, device=args.device, batch_size=args.batch_size, **frames
        )
    from polyrlaif.core.evidence import ITEMS_FILE, evaluation_intervals, run_benchmark

    metrics = run_benchmark(domain, args.benchmark, policy, request)
    intervals = evaluation_intervals(out, seed=args.seed) if (out / ITEMS_FILE).is_file() else {}
    rows = [
        {"metric": k, "value": v, **({"95% interval": f"[{intervals[k].low:.4g}, {intervals[k].high:.4g}]"}
                                     if k in intervals else {})}
        for k, v in metrics.items()
    ]  # fmt: skip
    print(markdown_table(rows))
    if target.suffix == ".json":
        from polyrlaif.core.io import atomic_write_json

        atomic_write_json(target, metrics)
    written = [p for p in (target, out / "metrics.json", out / "metrics.md", out / ITEMS_FILE) if p.is_file()]
    print(f"\nwritten: {', '.join(map(str, written)) or '(nothing)'}")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from polyrlaif.core.evidence import eval_dirs, evaluation_difference, evaluation_intervals
    from polyrlaif.core.report import print_summary

    left, right = eval_dirs(args.a), eval_dirs(args.b)
    common = [name for name in left if name in right]
    if not common:
        raise ValueError(
            f"{args.a} and {args.b} evaluated no benchmark in common ({sorted(left)} vs {sorted(right)})"
        )
    for name in common:
        ia = evaluation_intervals(left[name], seed=args.seed)
        ib = evaluation_intervals(right[name], seed=args.seed)
        diffs = evaluation_difference(left[name], right[name], seed=args.seed)
        rows = []
        for m, d in diffs.items():
            rows.append(
                {
                    "metric": m,
                    "A": f"{ia[m].value:.4g} [{ia[m].low:.3g}, {ia[m].high:.3g}]" if m in ia else "",
                    "B": f"{ib[m].value:.4g} [{ib[m].low:.3g}, {ib[m].high:.3g}]" if m in ib else "",
                    "B - A": f"{d.value:+.4g} [{d.low:+.3g}, {d.high:+.3g}]",
                    "p": f"{d.p_value:.2g}",
                    "significant": "yes" if d.significant else "no",
                    "items": d.n,
                }
            )
        print_summary(f"{name}: {left[name]} (A) vs {right[name]} (B)", rows)
    print("intervals: 95% bootstrap over items; B - A: paired bootstrap over the items both evaluated")
    return 0


def _cmd_seeds(args: argparse.Namespace) -> int:
    from polyrlaif.core.report import print_summary
    from polyrlaif.core.seeds import plot_seed_spread, seed_spread

    spreads = seed_spread(args.runs, round_idx=args.round, seed=args.seed)
    rows = []
    for s in spreads:
        row = {"metric": f"{s.benchmark}/{s.metric}"}
        for run, d in zip(s.runs, s.differences, strict=True):
            mark = " *" if d.significant else ""
            row[Path(run).name] = f"{d.value:+.3g} [{d.low:+.3g}, {d.high:+.3g}] p={d.p_value:.2g}{mark}"
        lo, hi = min(d.value for d in s.differences), max(d.value for d in s.differences)
        row["mean (range)"] = f"{s.mean:+.3g} ({lo:+.3g} to {hi:+.3g})"
        row["significant"] = f"{s.significant} of {len(s.runs)}"
        rows.append(row)
    print_summary("change from round 0, per run", rows)
    print("[low, high]: 95% paired-bootstrap interval over the items; * the interval excludes 0")
    if args.plot:
        print(f"written: {plot_seed_spread(spreads, args.plot)}")
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
        **({"in_process": True} if args.in_process else {}),  # domains without the option never see it
    )
    print(json.dumps(counts, indent=2))
    if not counts.get("total"):
        print(f"polyrlaif: {args.input} holds no rows: nothing was verified", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``polyrlaif`` console script."""
    args = build_parser().parse_args(argv)
    from polyrlaif.core.log import setup_logging

    setup_logging()
    try:
        if args.verb == "domains":
            return _cmd_domains()
        if args.verb == "eval":
            return _cmd_eval(args)
        if args.verb == "verify":
            return _cmd_verify(args)
        if args.verb == "compare":
            return _cmd_compare(args)
        if args.verb == "seeds":
            return _cmd_seeds(args)
        if args.verb == "serve":
            from polyrlaif.core.serve import serve

            serve(args.model, host=args.host, port=args.port, name=args.name, dtype=args.dtype,
                  device=args.device, batch_size=args.batch_size)  # fmt: skip
            return 0
        from polyrlaif.core.config import load_config
        from polyrlaif.core.registry import RECIPES

        cfg = load_config(args.config, args.overrides)
        if args.verb == "train":
            from polyrlaif.core.config import config_dict
            from polyrlaif.core.log import log_file
            from polyrlaif.core.tracking import session
            from polyrlaif.core.trainers.distributed import ranks, release_workers, serve_training

            if not ranks().main:  # under accelerate launch: rank 0 runs the recipe, this rank trains with it
                from polyrlaif.core.trainers.base import build_trainer

                serve_training(lambda: build_trainer(cfg))
                return 0
            out = Path(cfg.run.output_dir)
            try:
                with log_file(out / "train.log"), session(cfg.run.report_to, out, config_dict(cfg)):
                    RECIPES.get(cfg.run.mode)(cfg)  # the recipe of run.mode: preference, online or pairs
            finally:
                release_workers()
        else:
            from polyrlaif.core.feedback import run_feedback
            from polyrlaif.core.trainers.distributed import ranks

            if ranks().main:  # under a launcher the feedback stage is rank 0's alone: it trains nothing
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
