"""The kinds of graded question, and how each turns an answer into points and feedback.

A question never stores its answer in plain text: a number is computed from the kernel model when
it is checked (``expected`` is a function), a multiple-choice letter or a counter name is compared
with a salted hash (``keys``), a function is called on inputs the grader chooses and compared with
the model's closed forms, and tuning settings are replayed in ``simulate()``.

Every question scores *plain data* (what ``probe`` produces): the notebook's ``check()`` turns the
learner's objects into plain data in the kernel, and the autograder collects the same plain data
from the executed notebook, so both score through the same code.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..course import syllabus
from ..model import ERAS, VERSIONS
from . import keys, probe

CORRECT, PARTLY, WRONG, UNANSWERED, ERROR = "correct", "partly correct", "wrong", "not answered yet", "error"

LESSONS: Mapping[str, tuple[str, str]] = {lesson.number: (lesson.topic, lesson.notebook) for lesson in syllabus.LESSONS}
"""Lesson number -> (topic, notebook in notebooks/), for the "re-read" pointers in feedback."""


@dataclass(frozen=True)
class Ref:
    """Where in the course a question's topic is taught."""

    lesson: str
    section: str

    def __str__(self) -> str:
        topic, notebook = LESSONS[self.lesson]
        return f"Re-read lesson {self.lesson} ({topic}, notebooks/{notebook}), section \u201c{self.section}\u201d."


@dataclass(frozen=True)
class Verdict:
    """Points and feedback for one answer."""

    points: int
    status: str
    message: str


@dataclass(frozen=True)
class Feedback:
    """What ``check()`` prints and the autograder records for one question."""

    exercise: str
    question: str
    points: int
    max_points: int
    status: str
    message: str

    @property
    def full_marks(self) -> bool:
        return self.points == self.max_points

    @property
    def line(self) -> str:
        unit = "point" if self.max_points == 1 else "points"
        message = self.message[:1].upper() + self.message[1:]
        return f"{self.exercise} {self.question}: {self.points}/{self.max_points} {unit} - {self.status}. {message}"

    def __str__(self) -> str:
        return self.line

    def _ipython_display_(self) -> None:
        """check() already printed the line; show nothing more when it ends a cell."""


def unanswered(text: str) -> Verdict:
    return Verdict(0, UNANSWERED, text)


def is_missing(value: Any) -> bool:
    return isinstance(value, dict) and bool(value.get("__missing__"))


def shown(value: Any) -> str:
    """A short rendering of a learner's value for feedback."""
    if isinstance(value, dict) and "__unserialisable__" in value:
        return f"a {value['__unserialisable__']} object"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def as_number(value: Any) -> float | None:
    """A number from an int or a float; None for anything else (a string such as "129" included:
    an answer is the number itself, as the kernel would compute it)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def same(got: Any, expected: Any, tol: float) -> bool:
    """Plain data equal up to ``tol`` for numbers (tuples and lists alike)."""
    if isinstance(expected, (list, tuple)):
        return isinstance(got, list) and len(got) == len(expected) and all(
            same(g, e, tol) for g, e in zip(got, expected, strict=True))
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        return isinstance(got, (int, float)) and not isinstance(got, bool) and abs(got - expected) <= tol
    return got == expected


@dataclass(frozen=True, kw_only=True)
class Question:
    """One graded question: ``id`` (q1...), its points and the lesson section behind it."""

    id: str
    points: int
    ref: Ref

    def request(self) -> dict[str, Any]:
        """What the autograder's probe collects from the executed notebook."""
        raise NotImplementedError

    def from_object(self, answer: Any) -> Any:
        """Turn the object a notebook passes to check() into the plain data the probe collects."""
        raise NotImplementedError

    def score(self, exercise: str, plain: Any) -> Verdict:
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class ValueQuestion(Question):
    """A question answered by one variable of the notebook."""

    name: str

    def request(self) -> dict[str, Any]:
        return {"names": [self.name]}

    def from_object(self, answer: Any) -> Any:
        return {self.name: probe.to_plain(answer)}

    def score(self, exercise: str, plain: Any) -> Verdict:
        value = plain.get(self.name, probe.MISSING) if isinstance(plain, dict) else probe.MISSING
        if is_missing(value):
            return unanswered(f"the notebook defines no variable `{self.name}`: keep its answer cell and fill it in.")
        if value is None:
            return unanswered(f"`{self.name}` is still None: replace None with your answer.")
        return self.judge(exercise, value)

    def judge(self, exercise: str, value: Any) -> Verdict:
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class Number(ValueQuestion):
    """A number the learner predicts; ``expected()`` computes it from the model at check time.
    ``hint(answer, expected)`` may name a known misconception (without giving the answer)."""

    expected: Callable[[], float]
    tol: float = 0.0
    unit: str = ""
    hint: Callable[[float, float], str | None] | None = None

    def judge(self, exercise: str, value: Any) -> Verdict:
        got = as_number(value)
        if got is None:
            kind = " (a string: write the number without quotes)" if isinstance(value, str) else ""
            return Verdict(0, WRONG, f"`{self.name}` should be a number{self.unit_text()}; it is {shown(value)}{kind}.")
        expected = float(self.expected())
        if abs(got - expected) <= self.tol + 1e-9:
            return Verdict(self.points, CORRECT, "Well done.")
        why = self.hint(got, expected) if self.hint else None
        why = why[:1].upper() + why[1:] if why else None
        text = f"{shown(value)} is not what the kernel does here."
        return Verdict(0, WRONG, " ".join(filter(None, (text, why, str(self.ref)))))

    def unit_text(self) -> str:
        return f" ({self.unit})" if self.unit else ""


def letter(value: Any) -> str | None:
    """The option letter: "b", " B ", "B)" and "(b)" all mean B."""
    if not isinstance(value, str):
        return None
    text = value.strip().strip("().:").strip().upper()
    return text if len(text) == 1 and text.isalpha() else None


def version_name(value: Any) -> str | None:
    """The modelled version named: "3.10", "Linux 3.10" and "v3.10.108" all name 3.10."""
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        return None
    text = str(value).strip().lower().removeprefix("linux").strip().removeprefix("v")
    for v in VERSIONS:
        if text == v or text.startswith(v + "."):
            return v
    return None


def counter_name(value: Any) -> str | None:
    """A counter's normalised name: "TcpExtListenOverflows", "ListenOverflows" and "listen overflows" agree."""
    if not isinstance(value, str):
        return None
    text = re.sub(r"[^a-z0-9]", "", value.lower())
    for prefix in ("tcpext", "tcp"):
        text = text.removeprefix(prefix)
    return text or None


@dataclass(frozen=True, kw_only=True)
class Choice(ValueQuestion):
    """Multiple choice: a letter among ``options``, checked against a salted hash."""

    key: str
    options: str = "ABCD"

    def judge(self, exercise: str, value: Any) -> Verdict:
        choice = letter(value)
        if choice is None or choice not in self.options:
            return Verdict(0, WRONG, f"answer with one letter among {', '.join(self.options)}; got {shown(value)}.")
        if keys.matches(exercise, self.id, choice, self.key):
            return Verdict(self.points, CORRECT, "Well done.")
        return Verdict(0, WRONG, f"{choice} is not the best answer. {self.ref}")


@dataclass(frozen=True, kw_only=True)
class Version(ValueQuestion):
    """Name the kernel version (one of the eras the course compares, ERAS), checked against a salted hash."""

    key: str

    def judge(self, exercise: str, value: Any) -> Verdict:
        version = version_name(value)
        if version not in ERAS:
            return Verdict(0, WRONG, f"answer with one of {', '.join(map(repr, ERAS))}; got {shown(value)}.")
        if keys.matches(exercise, self.id, version, self.key):
            return Verdict(self.points, CORRECT, "Well done.")
        return Verdict(0, WRONG, f"this trace was not made by {version}. {self.ref}")


@dataclass(frozen=True, kw_only=True)
class CounterName(ValueQuestion):
    """Name an nstat counter. Accepted names are computed from the model (``accepted``) or stored
    as salted hashes of their normalised form (``keys``)."""

    accepted: Callable[[], Iterable[str]] | None = None
    keys: tuple[str, ...] = ()

    def judge(self, exercise: str, value: Any) -> Verdict:
        name = counter_name(value)
        if name is None:
            return Verdict(0, WRONG, f"answer with a counter name such as 'TcpExtTCPTimeouts'; got {shown(value)}.")
        good = {counter_name(c) for c in self.accepted()} if self.accepted else set()
        if name in good or any(keys.matches(exercise, self.id, name, k) for k in self.keys):
            return Verdict(self.points, CORRECT, "Well done.")
        return Verdict(0, WRONG, f"{shown(value)} is not the counter that moves here. {self.ref}")


@dataclass(frozen=True)
class Group:
    """Inputs a function question tries together, worth ``points`` if every one is right.
    ``expected(*args)`` computes the right output from the model."""

    label: str
    points: int
    cases: tuple[tuple[Any, ...], ...]
    expected: Callable[..., Any]
    hint: str


@dataclass(frozen=True, kw_only=True)
class Function(Question):
    """Write a function that reproduces a kernel rule; it is called on the grader's inputs."""

    name: str
    groups: tuple[Group, ...]
    tol: float = 1e-6
    seconds: float = probe.CALL_TIME_LIMIT

    def calls(self) -> list[list[Any]]:
        return [list(args) for g in self.groups for args in g.cases]

    def request(self) -> dict[str, Any]:
        return {"function": self.name, "calls": self.calls(), "seconds": self.seconds}

    def from_object(self, answer: Any) -> Any:
        return probe.call_all(probe.MISSING if answer is None else answer, self.calls(), self.seconds)

    def score(self, exercise: str, plain: Any) -> Verdict:
        if not isinstance(plain, dict) or plain.get("missing"):
            return unanswered(f"the notebook defines no function `{self.name}`: keep its answer cell and fill it in.")
        if "not_callable" in plain:
            return Verdict(0, WRONG, f"`{self.name}` should be a function; it is a {plain['not_callable']}.")
        results: list[Any] = plain.get("results") or []
        if not results or "unanswered" in results[0]:
            return unanswered(f"`{self.name}` still raises NotImplementedError: write its body.")
        points, notes, first = 0, [], 0
        for group in self.groups:
            problem = self.first_problem(group, results[first:first + len(group.cases)])
            first += len(group.cases)
            if problem is None:
                points += group.points
            else:
                notes.append(f"{group.label}: {problem} {group.hint}")
        if not notes:
            return Verdict(points, CORRECT, "Well done: right on every input the grader tried.")
        status = PARTLY if points else WRONG
        return Verdict(points, status, " ".join(notes) + f" {self.ref}")

    def first_problem(self, group: Group, results: Sequence[Any]) -> str | None:
        """What went wrong on the group's first failing input, or None if all are right."""
        for args, outcome in zip(group.cases, list(results) + [None] * (len(group.cases) - len(results)),
                                 strict=True):
            call = f"{self.name}({', '.join(map(repr, args))})"
            if outcome is None:
                return f"{call} was not tried (an earlier call failed)."
            if "timeout" in outcome:
                return f"{call} ran longer than {outcome['timeout']:g} s."
            if "unanswered" in outcome:
                return f"{call} raised NotImplementedError."
            if "error" in outcome:
                return f"{call} raised {outcome['error']}."
            if not same(outcome["ok"], probe.to_plain(group.expected(*args)), self.tol):
                return f"{call} returned {shown(outcome['ok'])}, which is not what the kernel does."
        return None


@dataclass(frozen=True, kw_only=True)
class Replay(Question):
    """Settings the learner chooses, graded by replaying them in the model: ``judge(settings)``
    returns a Verdict. Every name must be answered."""

    names: tuple[str, ...]
    judge: Callable[[dict[str, Any]], Verdict]

    def request(self) -> dict[str, Any]:
        return {"names": list(self.names)}

    def from_object(self, answer: Any) -> Any:
        if not isinstance(answer, Mapping):
            return {n: probe.unserialisable(answer) for n in self.names}
        return {n: probe.to_plain(answer[n]) if n in answer else probe.MISSING for n in self.names}

    def score(self, exercise: str, plain: Any) -> Verdict:
        values = plain if isinstance(plain, dict) else {}
        missing = [n for n in self.names if is_missing(values.get(n, probe.MISSING))]
        if missing:
            return unanswered(f"the notebook defines no {', '.join(f'`{n}`' for n in missing)}.")
        empty = [n for n in self.names if values[n] is None]
        if empty:
            return unanswered(f"{', '.join(f'`{n}`' for n in empty)} still None: choose a value for each.")
        return self.judge(dict(values))


@dataclass(frozen=True)
class Exercise:
    """One graded notebook: exercises/source/<slug>/<slug>.ipynb."""

    id: str
    slug: str
    questions: tuple[Question, ...]

    @property
    def max_points(self) -> int:
        return sum(q.points for q in self.questions)

    def question(self, qid: str) -> Question:
        for q in self.questions:
            if q.id == qid:
                return q
        raise ValueError(f"{self.id} has no question {qid!r}; it has {', '.join(q.id for q in self.questions)}")

    def feedback(self, question: Question, verdict: Verdict) -> Feedback:
        return Feedback(self.id, question.id, verdict.points, question.points, verdict.status, verdict.message)
