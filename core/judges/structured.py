"""Structured judge answers: a JSON schema sent as ``response_format``, and a lenient reader of JSON answers.

An OpenAI-compatible server with structured output (vLLM, llama.cpp's server, Ollama, OpenAI) constrains
the judge's answer to the JSON schema a judge sends as ``response_format={"type": "json_schema", ...}``,
so a rubric score or a verdict is always there to read. ``judge.structured_output`` chooses:

* ``auto`` (default): send the schema; when the server rejects ``response_format`` (HTTP 400/422, or an
  error that names it), ask again without it, and ask every later question of the run without it too
  (remembered per endpoint, logged once). Answers are parsed as JSON, else as free text.
* ``on``: always send it; a rejection is a failure value (``structured_output_rejected: ...``).
* ``off``: never send it; free text is parsed as before.

A local ``transformers`` judge never constrains its decoding: its answers are free text, parsed.
A structured answer and a free-text one are different requests, so the judge cache keys them apart
(:func:`request_key`).
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any, Literal, get_args

from polyrlaif.core.io import sha256_text
from polyrlaif.core.log import get_logger

__all__ = [
    "STRUCTURED_MODES",
    "StructuredOutput",
    "StructuredSwitch",
    "json_schema_format",
    "read_json_fields",
    "request_key",
    "wants_structured",
]

log = get_logger(__name__)

StructuredOutput = Literal["auto", "on", "off"]
STRUCTURED_MODES: tuple[str, ...] = get_args(StructuredOutput)

#: Endpoints (``model@base_url``) that refused ``response_format`` in this process: asked plainly from
#: then on, whichever backend object talks to them (a run builds several: feedback, benchmarks).
_REFUSED: set[str] = set()
_REFUSED_LOCK = threading.Lock()

#: Words in an error body that say the request's structured-output part was the problem.
_NAMES_FORMAT = re.compile(r"response_format|json_schema|guided_json|grammar", re.IGNORECASE)


def json_schema_format(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """The ``response_format`` value that asks for an answer matching ``schema`` (OpenAI's form, which
    vLLM, llama.cpp's server and Ollama accept)."""
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": True}}


def request_key(prompt_hash: str, response_format: dict[str, Any] | None) -> str:
    """The judge cache key of one request: the prompt's hash for a plain request (as it always was), the
    prompt's hash with a digest of the ``response_format`` for a structured one."""
    if response_format is None:
        return prompt_hash
    digest = sha256_text(json.dumps(response_format, sort_keys=True))[:16]
    return sha256_text(f"{prompt_hash}\nresponse_format:{digest}")


class StructuredSwitch:
    """Whether a backend asks an endpoint for structured output now: the configured mode, and whether the
    endpoint has refused it before.

    Args:
        mode: ``auto``, ``on`` or ``off`` (``judge.structured_output``).
        endpoint: names the server and model (``model@base_url``); refusals are remembered under it.

    Raises:
        ValueError: an unknown mode, naming the valid ones.
    """

    def __init__(self, mode: str, endpoint: str) -> None:
        if mode not in STRUCTURED_MODES:
            raise ValueError(f"judge.structured_output: {mode!r} is not one of {', '.join(STRUCTURED_MODES)}")
        self.mode = mode
        self.endpoint = endpoint

    def requested(self) -> bool:
        """True when the next request should carry ``response_format``."""
        if self.mode == "off":
            return False
        return self.mode == "on" or self.endpoint not in _REFUSED

    @staticmethod
    def is_refusal(reason: str, detail: str) -> bool:
        """Whether a failed structured request looks refused for its ``response_format``: HTTP 400 or 422
        (what servers answer to a field they do not know), or an error body that names it."""
        return reason in ("http_400", "http_422") or bool(_NAMES_FORMAT.search(detail))

    def refuse(self, detail: str) -> None:
        """Remember that the endpoint refused ``response_format``; the first time, say so."""
        with _REFUSED_LOCK:
            first = self.endpoint not in _REFUSED
            _REFUSED.add(self.endpoint)
        if first:
            log.warning(
                f"{self.endpoint} refused response_format ({detail}); judging with plain prompts and "
                "parsing the free-text answers for the rest of the run (judge.structured_output=auto)"
            )


def wants_structured(backend: Any) -> bool:
    """True when ``backend`` takes ``response_format`` and asks for it now (an OpenAI-compatible backend
    whose mode and endpoint allow it); a local model never does."""
    switch = getattr(backend, "structured", None)
    return isinstance(switch, StructuredSwitch) and switch.requested()


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)
# one complete "key": value pair (a string, a number, true/false/null), for an answer cut short
_PAIR = re.compile(r'"([^"\\]{1,100})"\s*:\s*("(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?|true|false|null)')


def read_json_fields(text: str | None) -> dict[str, Any] | None:
    """The JSON object in a judge's answer, or ``None`` when there is none.

    Reads the whole answer, a fenced ```json block, or the span from the first ``{`` to the last ``}``.
    An object cut short (the answer ran out of tokens) gives the complete ``"key": value`` pairs before
    the cut, so scores written before a long rationale still count.
    """
    if not text or "{" not in text:
        return None
    fenced = _FENCE.search(text)
    body = fenced.group(1) if fenced else text
    start, end = body.find("{"), body.rfind("}")
    if start >= 0 and end > start:
        try:
            obj = json.loads(body[start : end + 1])
        except ValueError:
            obj = None
        if isinstance(obj, dict):
            return obj
    pairs: dict[str, Any] = {}
    for key, raw in _PAIR.findall(body[max(start, 0) :]):
        pairs.setdefault(key, json.loads(raw))
    return pairs or None
