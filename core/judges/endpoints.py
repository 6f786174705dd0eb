"""Judge endpoints a run depends on, checked before any work: the OpenAI-compatible base URLs its
judges call, and a check that each answers at all."""

from __future__ import annotations

from typing import Any

__all__ = ["check_judge_endpoints", "judge_endpoints"]


def judge_endpoints(judges: Any) -> list[str]:
    """The base URLs of the OpenAI-compatible endpoints the judges call (a judge's ``backend``, or the
    backend of the judge it wraps)."""
    urls: list[str] = []
    for judge in judges:
        if getattr(judge, "members", None):  # an ensemble: its members' endpoints
            urls += [u for u in judge_endpoints(judge.members) if u not in urls]
        for obj in (judge, *(getattr(judge, a, None) for a in ("judge", "inner", "base"))):
            backend = getattr(obj, "backend", None)
            if str(getattr(backend, "name", "")).startswith("openai:") and backend.base_url not in urls:
                urls.append(backend.base_url)
    return urls


def check_judge_endpoints(cfg: Any, feedback: Any) -> None:
    """Before any sampling or evaluation: stop if an endpoint a judge calls does not answer at all.

    Any HTTP answer (even an error status) counts as up; a refused, dropped or timed-out connection
    stops the run with the endpoint and what to do, instead of after a round's sampling.

    Raises:
        RuntimeError: naming the endpoint and the settings that point at it.
    """
    import httpx

    for url in judge_endpoints(feedback.judges):
        try:
            httpx.get(f"{url}/models", timeout=min(10.0, cfg.judge.timeout_s))
        except httpx.HTTPError as exc:
            raise RuntimeError(
                f"the judge endpoint {url} does not answer ({type(exc).__name__}: {exc}); nothing was "
                f"sampled. Start the judge endpoint (judge.base_url={cfg.judge.base_url}, "
                f"judge.model={cfg.judge.model}) or point judge.backend/judge.base_url at a running one"
            ) from None
