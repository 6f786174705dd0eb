"""Plain data across the boundary between a program's tests and the candidate's code.

Part of the sandbox worker (:mod:`.sandbox_worker`), imported as a top-level module. Calls and
results cross as frames (4-byte big-endian length, then JSON) whose values are plain data only:
``None``, booleans, ints, floats, complex numbers, strings, bytes, and lists, tuples, sets,
frozensets and dicts of those. Scalars are JSON scalars; every container is a one-key object
(``{"l": [...]}`` a list, ``"t"`` a tuple, ``"s"`` a set, ``"f"`` a frozenset, ``"d"`` a dict as
key-value pairs, ``"b"`` bytes as latin-1 text, ``"c"`` a complex number).

Only exact types count: a subclass of ``int`` or ``str`` (say, one whose ``__eq__`` is always true)
is not plain data. The encoder runs on the candidate's side, where the candidate may have replaced
it; what protects the tests is :func:`decode`, which builds fresh plain objects from JSON and refuses
anything else, whatever the other side sent.
"""

from __future__ import annotations

import json
import os
import struct

#: Largest frame either side accepts (a result, or a call's arguments).
MAX_FRAME = 64 * 2**20
_SCALARS = (type(None), bool, int, float, str)
_SEQUENCES = {list: "l", tuple: "t", set: "s", frozenset: "f"}
_BUILD = {"l": list, "t": tuple, "s": set, "f": frozenset}


class NotPlainData(TypeError):
    """A value that cannot cross: its message names the type found."""


class WireError(ValueError):
    """A frame that is not valid plain data (malformed, too large, too deep)."""


def to_wire(value: object) -> object:
    """``value`` as JSON-ready tagged data. Raises NotPlainData for anything but plain data."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind in _SEQUENCES:
        return {_SEQUENCES[kind]: [to_wire(v) for v in value]}
    if kind is dict:
        return {"d": [[to_wire(k), to_wire(v)] for k, v in value.items()]}
    if kind is bytes:
        return {"b": value.decode("latin-1")}
    if kind is complex:
        return {"c": [value.real, value.imag]}
    raise NotPlainData(f"a {kind.__module__}.{kind.__qualname__}")


def from_wire(data: object) -> object:
    """Fresh plain objects from tagged data; WireError for anything :func:`to_wire` cannot produce."""
    if type(data) in _SCALARS:
        return data
    if type(data) is list:
        raise WireError("a bare JSON array")
    if type(data) is not dict or len(data) != 1:
        raise WireError("not a tagged value")
    (tag, body), = data.items()
    try:
        if tag in _BUILD and type(body) is list:
            return _BUILD[tag](from_wire(v) for v in body)
        if tag == "d" and type(body) is list:
            return {from_wire(k): from_wire(v) for k, v in (_pair(p) for p in body)}
        if tag == "b" and type(body) is str:
            return body.encode("latin-1")
        if tag == "c" and type(body) is list and len(body) == 2 and all(type(x) is float for x in body):
            return complex(body[0], body[1])
    except (TypeError, UnicodeEncodeError) as exc:  # unhashable key or member, bytes out of range
        raise WireError(f"bad {tag!r} value: {exc}") from None
    raise WireError(f"unknown tag {tag!r}")


def _pair(item: object) -> list:
    if type(item) is not list or len(item) != 2:
        raise WireError("a dict entry that is not a pair")
    return item


def send(fd: int, message: dict) -> None:
    """Write one frame; ``message`` must already hold only wire data."""
    body = json.dumps(message).encode()
    if len(body) > MAX_FRAME:
        raise NotPlainData(f"a value of {len(body)} bytes (the limit is {MAX_FRAME})")
    data = memoryview(struct.pack(">I", len(body)) + body)
    while data:
        data = data[os.write(fd, data) :]


def recv(fd: int) -> dict | None:
    """Read one frame; ``None`` at end of file. Raises WireError for a malformed or oversized one."""
    head = _read_exact(fd, 4)
    if head is None:
        return None
    size = struct.unpack(">I", head)[0]
    if size > MAX_FRAME:
        raise WireError(f"a frame of {size} bytes (the limit is {MAX_FRAME})")
    body = _read_exact(fd, size)
    if body is None:
        return None
    try:
        message = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise WireError(f"malformed frame: {type(exc).__name__}") from None
    if type(message) is not dict:
        raise WireError("a frame that is not an object")
    return message


def decode(data: object) -> object:
    """:func:`from_wire`, with too deep a nesting reported as WireError."""
    try:
        return from_wire(data)
    except RecursionError:
        raise WireError("a value nested too deeply") from None


def _read_exact(fd: int, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        chunk = os.read(fd, min(n - len(buf), 1 << 20))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)
