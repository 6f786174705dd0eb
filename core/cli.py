"""The ``polyrlaif`` command. Verbs: train, feedback, eval, compare, seeds, curves, verify, serve, domains.

Nothing heavy is imported at module level, so ``polyrlaif --help`` never imports torch.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from polyrlaif.core.eval_command import add_eval_parser, run_eval

__all__ = ["main", "build_parser"]


#: What ``--config`` takes.
CONFIG_HELP = "YAML file, a run folder (its config.yaml), or a packaged name such as code/demo"


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
        s.add_argument("--config", required=True, help=CONFIG_HELP)
        s.add_argument("overrides", nargs="*", help="dotted overrides, e.g. optim.lr=1e-5 sampling.n=8")

    add_eval_parser(sub)

    a = sub.add_parser(
        "audit",
        help="probe the config's judges on the run's own candidates: position, verbosity, injection, "
        "sycophancy, length, consistency, agreement with a verifier that knows the truth",
        description="Writes audit.json, audit.md and audit.png (each probe with a 95%% bootstrap "
        "interval) to <run.output_dir>/audit. Reads the newest round's candidates; samples round 1's "
        "when there are none.",
    )
    a.add_argument("--config", required=True, help=CONFIG_HELP)
    a.add_argument("overrides", nargs="*", help="dotted overrides, e.g. judge.backend=openai")
    a.add_argument("--round", type=int, default=None, help="audit this round's candidates (default: newest)")
    a.add_argument("--limit", type=int, default=16, help="prompts audited (all their candidates)")
    a.add_argument("--repeats", type=int, default=2, help="extra judgments of each candidate (consistency)")
    a.add_argument("--output", default=None, help="folder for the audit (default: <run.output_dir>/audit)")
    a.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    a.add_argument("--poison", default="", help="rates, e.g. 0.01,0.05,0.1: poison the round's pairs and "
                   "measure the screens' recall and false positives (needs the round's pairs)")  # fmt: skip

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

    cu = sub.add_parser(
        "curves",
        help="arms of an experiment side by side: each metric per round, each run and each arm's mean",
        description="Per metric, each run's value per round with the 95%% interval it wrote (thin) and each "
        "arm's mean over its runs (thick), from the runs' metrics.json; the arm means as a table.",
    )
    cu.add_argument("--arm", action="append", required=True, help="NAME=RUN[,RUN...]; repeat for each arm")
    cu.add_argument(
        "--metric", action="append", required=True, help="e.g. semantic/on_topic_rate; repeatable"
    )
    cu.add_argument("--plot", default=None, help="also draw them to this PNG")

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

    st = sub.add_parser(
        "stages",
        help="list the shared stage cache (worlds, pretrained policies, judges), and prune what is unused",
        description="The cache is $POLYRLAIF_WORLDS, else <cache root>/worlds. A stage's last use is the "
        "last run that built or skipped it; a stage a run is building is never removed.",
    )
    st.add_argument("--root", default=None, help="the cache folder (default: the shared stage cache)")
    st.add_argument("--prune", action="store_true", help="remove unused and unfinished stages")
    st.add_argument("--older-than", type=float, default=30.0, help="days unused before --prune removes one")
    st.add_argument("--dry-run", action="store_true", help="with --prune: only say what would go")

    sub.add_parser("domains", help="list the registered domains and their benchmarks")
    return p


def _cmd_stages(args: argparse.Namespace) -> int:
    import time

    from polyrlaif.core.report import print_summary
    from polyrlaif.core.stage_cache import prune_stages, scan_stages
    from polyrlaif.core.stages import worlds_root

    root = Path(args.root) if args.root else worlds_root()
    if args.prune:
        removed, busy = prune_stages(root, older_than_days=args.older_than, dry_run=args.dry_run)
        verb = "would remove" if args.dry_run else "removed"
        freed = sum(s.size_bytes for s in removed) / 2**20
        for s in removed:
            print(f"{verb}: {s.path} ({s.size_bytes / 2**20:.1f} MiB{'' if s.finished else ', unfinished'})")
        for s in busy:
            print(f"kept (a run is building it): {s.path}")
        print(f"{verb} {len(removed)} stage(s), {freed:.1f} MiB, from {root}")
        return 0
    stages = scan_stages(root)
    now = time.time()
    rows = [
        {
            "domain": s.domain,
            "stage": s.name,
            "folder": s.path.name,
            "finished": "yes" if s.finished else "no",
            "MiB": f"{s.size_bytes / 2**20:.1f}",
            "built in": f"{s.built_seconds:.0f} s" if s.built_seconds is not None else "",
            "last used": f"{(now - s.last_used) / 86400:.1f} days ago",
        }
        for s in stages
    ]
    print_summary(f"stage cache {root}: {len(stages)} stage(s)", rows)
    return 0


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


def _cmd_curves(args: argparse.Namespace) -> int:
    from polyrlaif.core.curves import arm_curves, curve_rows, parse_arm, plot_curves
    from polyrlaif.core.report import print_summary

    arms = arm_curves([parse_arm(a) for a in args.arm], args.metric)
    print_summary("each arm's mean over its runs, per round", curve_rows(arms, args.metric))
    if args.plot:
        print(f"written: {plot_curves(arms, args.metric, args.plot)}")
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
            return run_eval(args)
        if args.verb == "verify":
            return _cmd_verify(args)
        if args.verb == "compare":
            return _cmd_compare(args)
        if args.verb == "seeds":
            return _cmd_seeds(args)
        if args.verb == "curves":
            return _cmd_curves(args)
        if args.verb == "stages":
            return _cmd_stages(args)
        if args.verb == "serve":
            from polyrlaif.core.serve import serve

            serve(args.model, host=args.host, port=args.port, name=args.name, dtype=args.dtype,
                  device=args.device, batch_size=args.batch_size)  # fmt: skip
            return 0
        from polyrlaif.core.config import load_config
        from polyrlaif.core.registry import RECIPES

        cfg = load_config(args.config, args.overrides)
        if args.verb == "audit":
            from polyrlaif.core.audit import audit

            rates = [float(x) for x in args.poison.split(",") if x.strip()]
            out = audit(cfg, round_idx=args.round, limit=args.limit, repeats=args.repeats,
                        output=args.output, seed=args.seed, poison=rates)  # fmt: skip
            print(f"audit written to {out / 'audit.md'}")
            return 0
        if args.verb == "train":
            from polyrlaif.core.config import config_dict
            from polyrlaif.core.log import log_file
            from polyrlaif.core.tracking import session
            from polyrlaif.core.trainers.distributed import ranks, release_workers, serve_training, shutdown

            if not ranks().main:  # under accelerate launch: rank 0 runs the recipe, this rank trains with it
                from polyrlaif.core.trainers.base import build_trainer

                serve_training(lambda name: build_trainer(cfg, name))
                shutdown()
                return 0
            out = Path(cfg.run.output_dir)
            try:
                with log_file(out / "train.log"), session(cfg.run.report_to, out, config_dict(cfg)):
                    RECIPES.get(cfg.run.mode)(cfg)  # the recipe of run.mode: preference, online or pairs
            finally:
                release_workers()
                shutdown()
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
