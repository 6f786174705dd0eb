"""Both sides of an out-of-process verdict: the tests (:func:`run_tests`), the candidate (:func:`serve`).

Part of the sandbox worker (:mod:`.sandbox_worker`), imported as a top-level module. The program's
child runs the tests and clones the candidate into a PID namespace nested in its own: the candidate
cannot see, signal or trace the tests' process, and shares no memory with it. The tests get a proxy
for the entry point; each call crosses a socket as plain data (:mod:`sandbox_wire`), and so does
each result or exception (by type name and message). Whatever the candidate does to its own
builtins, modules, frames or garbage collector stays in its own process; the assertions, and the
verdict, live in the tests' process only.
"""

from __future__ import annotations

import builtins
import os
import sys
import traceback

import sandbox_wire as wire


class Violation(BaseException):
    """Stops the tests: the candidate broke the protocol. A BaseException, so ``except Exception`` in
    a test cannot swallow it; the reason is also kept in :data:`VIOLATIONS`, so nothing can."""


#: (status, detail) of the first protocol violation in this process; it decides the verdict.
VIOLATIONS: list[tuple[str, str]] = []


def run_tests(job: dict, sock: int) -> None:
    """Run the tests against the candidate served on ``sock``; return only if they all passed.

    Raises:
        Violation: the candidate (or the tests) broke the plain-data protocol; see VIOLATIONS.
        BaseException: whatever the tests raised (AssertionError: a test failed).
    """
    entry = job["entry_point"]
    try:
        hello = wire.recv(sock)
    except wire.WireError as exc:
        _violate("error", f"the candidate's process sent a malformed greeting ({exc})")
    if hello is None:
        _violate("error", "the candidate's process ended before the tests ran")
    if "setup_error" in hello:
        why = str(hello["setup_error"])[:400]
        _violate("sandbox_error", f"the candidate's process failed to set up: {why}")
    if "error" in hello:  # its code raised (or exited) before the tests ran
        _violate("oom" if hello.get("status") == "oom" else "error", str(hello["error"])[:500])
    ns: dict = {"__name__": "__tests__", "__builtins__": builtins}
    _exec_context(job.get("context") or "", ns)
    calls = [0]

    def candidate(*args: object, **kwargs: object) -> object:
        calls[0] += 1
        try:
            message = {"call": calls[0], "args": wire.to_wire(args), "kwargs": wire.to_wire(kwargs)}
            wire.send(sock, message)
        except wire.NotPlainData as exc:
            _violate("sandbox_error", f"the tests passed {exc} to {entry}(), which is not plain data: "
                     "this test suite needs the in-process mode")
        except OSError:
            _violate("error", f"the candidate's process ended before answering call {calls[0]} of {entry}()")
        return _answer(sock, entry, calls[0], ns)

    candidate.__name__ = candidate.__qualname__ = entry
    exec(compile(job["test"], "<tests>", "exec"), ns)
    ns[entry] = candidate
    check = ns.get("check")
    if not callable(check):
        _violate("sandbox_error", "the tests define no check(candidate) function")
    check(candidate)
    if VIOLATIONS:  # a test caught the Violation itself: the first reason still stands
        raise Violation(VIOLATIONS[0][1])


def _answer(sock: int, entry: str, call: int, ns: dict) -> object:
    try:
        reply = wire.recv(sock)
        if reply is None:
            _violate("error", f"the candidate's process ended during call {call} of {entry}()")
        if reply.get("id") != call:
            raise wire.WireError(f"an answer to call {reply.get('id')!r} for call {call}")
        if "ok" in reply:
            return wire.decode(reply["ok"])
        if "notplain" in reply:
            _violate("error", f"{entry}() returned {str(reply['notplain'])[:200]}, which is not plain data")
        if "raise" in reply:
            name, message = (str(x) for x in reply["raise"][:2])
        else:
            raise wire.WireError("an answer with neither a result nor an exception")
    except (wire.WireError, OSError, ValueError, TypeError, AttributeError) as exc:
        _violate("error", f"{entry}() answered call {call} with something that is not plain data ({exc})")
    raise _rebuild(name, message, ns)


def _rebuild(name: str, message: str, ns: dict) -> BaseException:
    """The candidate's exception, by type name and message, as an exception of this process.

    A name the tests or the task define, or a builtin exception, gives that class; any other name a
    fresh Exception subclass of that name (so ``except Exception`` and message checks behave).
    """
    for space in (ns, vars(builtins)):
        cls = space.get(name) if name.isidentifier() else None
        if isinstance(cls, type) and issubclass(cls, BaseException) and cls is not Violation:
            try:
                return cls(message)
            except Exception:  # noqa: BLE001 - a class that takes other arguments
                break
    return type(name if name.isidentifier() else "CandidateError", (Exception,), {})(message)


def _exec_context(context: str, ns: dict) -> None:
    """Run the task's own code (its imports and helpers; the stub is replaced by the proxy)."""
    for text in (context, context + "    pass\n"):
        try:
            code = compile(text, "<task>", "exec")
        except SyntaxError:
            continue
        exec(code, ns)
        return


def _violate(status: str, detail: str) -> None:
    VIOLATIONS.append((status, detail))
    raise Violation(detail)


def serve(job: dict, sock: int) -> None:
    """The candidate's side: run its code, then answer calls of the entry point until end of input."""
    ns: dict = {"__name__": "__candidate__", "__builtins__": builtins}
    entry, send, recv, exit_ = job["entry_point"], wire.send, wire.recv, os._exit
    try:
        exec(compile(job["code"], "<candidate>", "exec"), ns)
    except BaseException as exc:  # noqa: BLE001 - the tests' process reports it as the verdict
        traceback.print_exception(type(exc), exc, exc.__traceback__.tb_next if exc.__traceback__ else None)
        if isinstance(exc, SystemExit):
            send(sock, {"error": f"SystemExit({exc.code!r:.100}) before the tests finished"})
        else:
            status = "oom" if isinstance(exc, MemoryError) else "error"
            send(sock, {"error": _safe_str(exc), "status": status})
        exit_(0)
    send(sock, {"ready": True})
    while (call := recv(sock)) is not None:
        try:
            args, kwargs = wire.decode(call["args"]), wire.decode(call["kwargs"])
            result = ns[entry](*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - crosses as type name and message
            send(sock, {"id": call.get("call"), "raise": _exc_parts(exc)})
            continue
        try:
            reply = {"id": call["call"], "ok": wire.to_wire(result)}
        except (wire.NotPlainData, RecursionError) as exc:
            reply = {"id": call["call"], "notplain": str(exc) if isinstance(exc, wire.NotPlainData) else
                     "a structure that contains itself"}
        try:
            send(sock, reply)
        except wire.NotPlainData as exc:
            send(sock, {"id": call["call"], "notplain": str(exc)})
        sys.stdout.flush()
    exit_(0)


def _exc_parts(exc: BaseException) -> list[str]:
    try:
        return [type(exc).__name__, str(exc)[:2000]]
    except BaseException:  # noqa: BLE001 - a hostile __str__
        return [type(exc).__name__, "<unprintable>"]


def _safe_str(exc: BaseException) -> str:
    name, message = _exc_parts(exc)
    return f"{name}: {message}"[:500]
