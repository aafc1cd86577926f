"""Subject, reply-subject and queue-name validation (ADR-6, as nats-server checks)."""

from __future__ import annotations

from .errors import BadSubjectError

__all__ = [
    "check_publish_subject",
    "check_queue",
    "check_subscribe_subject",
    "is_valid_publish_subject",
    "is_valid_subscribe_subject",
]

_WS = (" ", "\t", "\r", "\n", "\f", "\v", "\x00")


def _has_ws(s: str) -> bool:
    return any(c in s for c in _WS)


def is_valid_subscribe_subject(subject: object) -> bool:
    """True for a subject a client may subscribe to (wildcards allowed)."""
    if not isinstance(subject, str) or not subject or _has_ws(subject):
        return False
    tokens = subject.split(".")
    last = len(tokens) - 1
    for i, tok in enumerate(tokens):
        if not tok:
            return False
        if tok == ">" and i != last:
            return False
    return True


def is_valid_publish_subject(subject: object) -> bool:
    """True for a literal subject a client may publish to (no wildcard tokens)."""
    if not isinstance(subject, str) or not subject or _has_ws(subject):
        return False
    return all(tok and tok != "*" and tok != ">" for tok in subject.split("."))


def check_publish_subject(subject: object, what: str = "subject") -> str:
    """Return ``subject`` or raise :class:`BadSubjectError` naming it."""
    if not is_valid_publish_subject(subject):
        raise BadSubjectError(
            f"invalid {what} {subject!r}: it must be non-empty dot-separated tokens "
            "with no whitespace and no wildcard tokens ('*' or '>')"
        )
    return subject  # type: ignore[return-value]


def check_subscribe_subject(subject: object) -> str:
    """Return ``subject`` or raise :class:`BadSubjectError` naming it."""
    if not is_valid_subscribe_subject(subject):
        raise BadSubjectError(
            f"invalid subscription subject {subject!r}: it must be non-empty dot-separated "
            "tokens with no whitespace; '>' may only be the last token"
        )
    return subject  # type: ignore[return-value]


def check_queue(queue: object) -> str:
    """Return ``queue`` or raise :class:`BadSubjectError` naming it."""
    if not isinstance(queue, str) or not queue or _has_ws(queue):
        raise BadSubjectError(
            f"invalid queue group {queue!r}: it must be a non-empty name without whitespace"
        )
    return queue
