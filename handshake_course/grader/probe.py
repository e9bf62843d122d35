"""What runs inside the learner's kernel: turning answers into plain JSON data and calling the
learner's functions under a time limit.

Both ``check()`` (in the notebook) and the autograder (through a cell it injects after the
learner's cells) use these same functions, so a notebook's own feedback and the grade agree.
Only plain data leaves this module: numbers, strings, lists, dicts and None. An object that merely
*claims* to equal the right answer (a custom ``__eq__``) is reduced to what it is, or to a marker
naming its type.
"""

from __future__ import annotations

import builtins
import json
import math
import numbers
import signal
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

MISSING: dict[str, Any] = {"__missing__": True}
"""The marker for a variable or function the notebook does not define."""

MAX_ITEMS = 10_000
MAX_TEXT = 10_000
MAX_DEPTH = 8
CALL_TIME_LIMIT = 2.0  # seconds for one call of a learner's function

# Taken when this module is imported (the autograder imports it before the learner's first cell),
# so that a notebook that rebinds json.dumps or open does not break the collection of its answers.
_encode = json.JSONEncoder().encode
_decode = json.JSONDecoder().decode
_open = builtins.open


class CallTimeout(BaseException):
    """A learner's function ran past its time limit (a BaseException, so `except Exception` in the
    learner's code cannot swallow it)."""


def unserialisable(value: Any) -> dict[str, str]:
    return {"__unserialisable__": type(value).__name__}


def to_plain(value: Any, depth: int = 0) -> Any:
    """``value`` as JSON data: bool, int, float, str, None, lists and str-keyed dicts. Numbers of
    any numeric type become int or float; tuples become lists; anything else becomes a marker."""
    if depth > MAX_DEPTH:
        return unserialisable(value)
    if value is None or isinstance(value, (bool, str)):
        return value[:MAX_TEXT] if isinstance(value, str) else value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return number if math.isfinite(number) else repr(number)
    if isinstance(value, (list, tuple)):
        return [to_plain(v, depth + 1) for v in list(value)[:MAX_ITEMS]]
    if isinstance(value, Mapping):
        return {str(k): to_plain(v, depth + 1) for k, v in list(value.items())[:MAX_ITEMS]}
    return unserialisable(value)


@contextmanager
def time_limit(seconds: float):
    """Raise CallTimeout in the block after ``seconds`` (main thread only; elsewhere no limit)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise CallTimeout()

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def describe_error(err: BaseException) -> str:
    text = str(err)
    return f"{type(err).__name__}: {text}"[:300] if text else type(err).__name__


def call(fn: Callable[..., Any], args: Sequence[Any], seconds: float = CALL_TIME_LIMIT) -> dict[str, Any]:
    """Call ``fn(*args)`` on fresh copies of the arguments: {"ok": plain result}, {"error": text},
    {"unanswered": True} for a NotImplementedError stub, or {"timeout": seconds}."""
    fresh = _decode(_encode(list(args)))
    try:
        with time_limit(seconds):
            result = fn(*fresh)
            plain = to_plain(result)
    except NotImplementedError:
        return {"unanswered": True}
    except CallTimeout:
        return {"timeout": seconds}
    except Exception as err:  # the learner's code may raise anything
        return {"error": describe_error(err)}
    return {"ok": plain}


def call_all(fn: Any, calls: Sequence[Sequence[Any]], seconds: float = CALL_TIME_LIMIT) -> dict[str, Any]:
    """Every call of a function question; stops early once the function is an unanswered stub."""
    if fn is None or isinstance(fn, dict) and fn.get("__missing__"):
        return {"missing": True}
    if not callable(fn):
        return {"not_callable": type(fn).__name__}
    results: list[dict[str, Any]] = []
    for args in calls:
        outcome = call(fn, args, seconds)
        results.append(outcome)
        if "unanswered" in outcome or "timeout" in outcome:
            break
    return {"results": results}


def collect(request: str, out_path: str, nonce: str, namespace: Mapping[str, Any] | None = None) -> None:
    """The autograder's probe: answer ``request`` (JSON: {"names": [...]} for values, or
    {"function": name, "calls": [...], "seconds": s}) from ``namespace`` (by default the globals of
    the caller, i.e. the notebook's, so that the cell calling this names nothing the notebook could
    have rebound), and write {"nonce": nonce, "answer": ...} to ``out_path``. Prints nothing."""
    ns = sys._getframe(1).f_globals if namespace is None else namespace
    spec = _decode(request)
    if "function" in spec:
        answer: Any = call_all(ns.get(spec["function"], MISSING), spec["calls"], spec["seconds"])
    else:
        answer = {name: to_plain(ns[name]) if name in ns else MISSING for name in spec["names"]}
    with _open(out_path, "w", encoding="utf-8") as out:
        out.write(_encode({"nonce": nonce, "answer": answer}))
