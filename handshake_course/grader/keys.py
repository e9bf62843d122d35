"""Answer keys that must not stand in plain text in student material: multiple-choice letters,
counter names and the mystery kernels of the time-machine exercise are stored as salted hashes.

A key is ``digest(exercise, question, normalised answer)``. Checking an answer hashes it the same
way; nothing turns a digest back into the answer except trying the few candidates, which is what
``resolve`` does for the exhibits that need to know their own kernel. (A learner who reads this
package and tries every option can of course find a key; so could one who simply calls ``check``
with each option. The keys only keep the answers out of plain sight.)
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

SALT = "handshake-course:answer-key:v1"


def digest(exercise: str, question: str, answer: str) -> str:
    """The salted key of one normalised answer."""
    text = f"{SALT}:{exercise}:{question}:{answer}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def matches(exercise: str, question: str, answer: str, key: str) -> bool:
    return digest(exercise, question, answer) == key


def resolve(exercise: str, question: str, key: str, candidates: Iterable[str]) -> str:
    """The candidate whose digest is ``key`` (used by exhibits built on a hidden choice)."""
    for candidate in candidates:
        if matches(exercise, question, candidate, key):
            return candidate
    raise LookupError(f"no candidate matches the key of {exercise} {question}")
