"""What runs inside the learner's kernel: turning answers into plain JSON data and calling the
learner's functions under a time limit.

Both ``check()`` (in the notebook) and the autograder (through a cell it injects after the
learner's cells) use these same functions, so a notebook's own feedback and the grade agree.
Only plain data leaves this module: numbers, strings, lists, dicts and None. An object that merely
*claims* to equal the right answer (a custom ``__eq__``) is reduced to what it is, or to a marker
naming its type. The autograder receives that data as the output of its own cell (a display of type
``ANSWER_TYPE``), so nothing is written to or read from a file.
"""

from __future__ import annotations

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

ANSWER_TYPE = "application/vnd.handshake-course.answer+json"
MAX_ITEMS = 10_000
MAX_TEXT = 10_000
MAX_DEPTH = 8
MAX_ANSWER = 2_000_000  # characters of JSON: a larger answer is not sent
CALL_TIME_LIMIT = 2.0  # seconds for one call of a learner's function

# Taken when this module is imported (the autograder imports it before the learner's first cell),
# so that a notebook that rebinds json.dumps or IPython's display does not break the collection of
# its answers.
_encode = json.JSONEncoder().encode
_decode = json.JSONDecoder().decode
try:
    from IPython.display import publish_display_data as _publish
except ImportError:  # outside IPython there is no grader to answer
    _publish = None


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


def answer(request: str, namespace: Mapping[str, Any]) -> Any:
    """The plain answer to ``request`` (JSON: {"names": [...]} for values, or {"function": name,
    "calls": [...], "seconds": s}) from ``namespace``."""
    spec = _decode(request)
    if "function" in spec:
        return call_all(namespace.get(spec["function"], MISSING), spec["calls"], spec["seconds"])
    return {name: to_plain(namespace[name]) if name in namespace else MISSING for name in spec["names"]}


def collect(request: str, nonce: str, namespace: Mapping[str, Any] | None = None) -> None:
    """The autograder's probe: answer ``request`` from ``namespace`` (by default the globals of the
    caller, i.e. the notebook's, so that the cell calling this names nothing the notebook could
    have rebound) and display {"nonce": nonce, "answer": ...} as ``ANSWER_TYPE``."""
    ns = sys._getframe(1).f_globals if namespace is None else namespace
    text = _encode({"nonce": nonce, "answer": answer(request, ns)})
    if len(text) > MAX_ANSWER:
        text = _encode({"nonce": nonce, "answer": None, "too_large": len(text)})
    if _publish is not None:
        _publish({ANSWER_TYPE: text}, metadata={})


def prepare(max_chars: int = 100_000) -> None:
    """Run by the autograder before the learner's first cell.

    * In Jupyter, ``exit()`` and ``quit()`` end the kernel a moment later; while grading they do
      nothing, so that an honest notebook that calls one loses none of the cells after it.
    * A message the kernel sends is cut to ``max_chars`` characters of output (a huge print or
      display of an honest notebook), so that it stays under the size the grader accepts at all
      (``runner.MAX_MESSAGE``) and the notebook's later output still arrives. The probe's own
      answer is not cut.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    shell.ask_exit = lambda: None  # what IPython's exit/quit (ZMQExitAutocall) call
    session = getattr(getattr(shell, "kernel", None), "session", None)
    if session is not None:
        session.send = _capped(session.send, max_chars)


def _cut_text(text: Any, limit: int) -> Any:
    if not isinstance(text, str) or len(text) <= limit:
        return text
    return text[:limit] + f"\n[the grader cut {len(text) - limit:,} more characters here]\n"


def cut(msg_type: str, content: dict[str, Any], limit: int) -> dict[str, Any]:
    """``content`` with no more than about ``limit`` characters of output."""
    if msg_type == "stream":
        return {**content, "text": _cut_text(content.get("text"), limit)}
    if msg_type in ("display_data", "update_display_data", "execute_result"):
        data = content.get("data")
        if not isinstance(data, dict) or ANSWER_TYPE in data:
            return content
        size = sum(len(v) if isinstance(v, str) else len(_encode(v)) for v in data.values())
        if size > limit:
            return {**content, "data": {"text/plain": f"[the grader cut a display of {size:,} characters]"}}
        return content
    if msg_type == "error" or (msg_type == "execute_reply" and "traceback" in content):
        trace = content.get("traceback")
        lines = [_cut_text(line, limit // 10) for line in trace[-20:]] if isinstance(trace, list) else trace
        return {**content, "evalue": _cut_text(content.get("evalue"), limit // 10), "traceback": lines}
    return content


def _capped(send: Callable[..., Any], limit: int) -> Callable[..., Any]:
    """``Session.send`` that cuts each message's output to ``limit`` characters."""

    def capped_send(stream: Any, msg_or_type: Any, content: Any = None, *args: Any, **kwargs: Any) -> Any:
        if isinstance(msg_or_type, dict) and isinstance(msg_or_type.get("content"), dict):
            msg_type = msg_or_type.get("header", {}).get("msg_type", msg_or_type.get("msg_type", ""))
            msg_or_type = {**msg_or_type, "content": cut(msg_type, msg_or_type["content"], limit)}
        elif isinstance(msg_or_type, str) and isinstance(content, dict):
            content = cut(msg_or_type, content, limit)
        return send(stream, msg_or_type, content, *args, **kwargs)

    return capped_send
