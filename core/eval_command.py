"""``polyrlaif eval``: its arguments, the benchmark options they fill, and the command itself.

polyrlaif eval --domain code --benchmark humaneval --model smollm2-135m-instruct --limit 20
polyrlaif eval --domain text_to_image --benchmark clipscore --predictions P.jsonl --images DIR ...
"""

from __future__ import annotations

import argparse
import inspect
import json
import logging
import re
from pathlib import Path
from typing import Any

__all__ = [
    "FILE_FLAGS",
    "add_eval_parser",
    "default_eval_dir",
    "eval_options",
    "parse_opt",
    "run_eval",
    "run_policy_kwargs",
]

log = logging.getLogger(__name__)


def run_policy_kwargs(adapter: Any, model: str) -> dict[str, Any]:
    """How the run that trained ``model`` loaded its policies (``adapter.policy_kwargs`` of the run's
    ``config.yaml``, e.g. a video model's frames per video), when the model lies inside a run folder; else
    nothing. A model trained on 16 frames is then not evaluated on the adapter's default of 8."""
    if not hasattr(adapter, "policy_kwargs"):
        return {}
    path = Path(model)
    for parent in [path, *path.parents][:5] if path.exists() else []:
        if (parent / "config.yaml").is_file() and (parent / "round_0").is_dir():  # a run's own folder
            from polyrlaif.core.config import load_config

            got = adapter.policy_kwargs(load_config(parent))
            log.info("eval: %s lies in the run %s: loading it with %s", model, parent, got)
            return got
    return {}


def add_eval_parser(sub: Any) -> None:
    """Add the ``eval`` verb to the CLI's subparsers."""
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
        help="frames per video the --model reads (video domains; default: the model.num_frames of the run "
        "folder the model lies in, else the domain adapter's)",
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


def parse_opt(items: list[str]) -> dict[str, Any]:
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
FILE_FLAGS = {
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


def eval_options(args: argparse.Namespace, evaluator_cls: Any) -> Any:
    """The benchmark's ``Options`` from the file flags and ``--opt``; a name it lacks is an error."""
    from polyrlaif.core.benchmarks import make_options, option_names

    fields = set(option_names(evaluator_cls))
    given = {flag: getattr(args, flag) for flag in FILE_FLAGS if getattr(args, flag) is not None}
    unsupported = [flag for flag in given if FILE_FLAGS[flag] not in fields]
    if unsupported:
        flags = ", ".join(_flag(flag) for flag in unsupported)
        raise ValueError(f"benchmark {args.benchmark!r} of domain {args.domain!r} does not take {flags}")
    values = parse_opt(args.opt)
    for flag in given:
        if FILE_FLAGS[flag] in values:
            field = FILE_FLAGS[flag]
            raise ValueError(f"{_flag(flag)} and --opt {field}=... name the same option; give one")
    values.update({FILE_FLAGS[flag]: value for flag, value in given.items()})
    try:
        return make_options(evaluator_cls, values, where="--opt")
    except TypeError as exc:  # a value of the wrong type, met by the options' own checks
        raise ValueError(f"benchmark {args.benchmark!r}: bad option value: {exc}") from None


def default_eval_dir(args: argparse.Namespace) -> Path:
    """``runs/eval/<domain>-<benchmark>/<what was evaluated>``: one folder per model (or predictions
    file), so evaluating a second model on a benchmark never meets the first one's outputs."""

    source = args.model or args.predictions or "no-model"
    slug = re.sub(r"[^A-Za-z0-9._-]+", "--", str(source).removeprefix("./")).strip("-.") or "model"
    return Path("runs/eval") / f"{args.domain}-{args.benchmark}" / slug


def run_eval(args: argparse.Namespace) -> int:
    """``polyrlaif eval``: generate (with ``--model``) or read predictions, score, print and write."""
    from polyrlaif.core.protocols import EvalRequest
    from polyrlaif.core.registry import get_benchmark, get_domain, load_object
    from polyrlaif.evaluation.tables import markdown_table

    domain = get_domain(args.domain)
    evaluator_cls = get_benchmark(domain, args.benchmark)
    if args.predictions and args.model:
        raise ValueError("give either --model (generate, then score) or --predictions (score), not both")
    options = eval_options(args, evaluator_cls)
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
        kwargs = {**run_policy_kwargs(adapter, args.model), **frames}
        policy = adapter.load(
            args.model, dtype=args.dtype, device=args.device, batch_size=args.batch_size, **kwargs
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
