"""Subject, reply-subject and queue-name validation."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nats_core import (
    check_publish_subject,
    check_queue,
    check_subscribe_subject,
    is_valid_publish_subject,
    is_valid_subscribe_subject,
)
from nats_core.errors import BadSubjectError, LocalProtocolError

VALID_PUBLISH = [
    "a",
    "foo.bar",
    "a.b.c.d",
    "_INBOX.abc.1",
    "$JS.API.INFO",
    "caf\u00e9.\u65e5",
    "a*b",
    "a>",
]
VALID_SUBSCRIBE_ONLY = ["*", ">", "foo.*", "foo.>", "*.*.>", "a.*.c"]
INVALID_ANYWHERE = [
    "",
    ".",
    "a.",
    ".a",
    "a..b",
    "a b",
    "a\tb",
    "a\rb",
    "a\nb",
    "a\x00b",
    "a\fb",
    "a\vb",
    " a",
    "a ",
    ">.a",
    "a.>.b",
]
NOT_STRINGS = [None, b"foo", 1, ["a"]]


@pytest.mark.parametrize("subject", VALID_PUBLISH)
def test_valid_publish_subjects(subject: str) -> None:
    assert is_valid_publish_subject(subject)
    assert is_valid_subscribe_subject(subject)
    assert check_publish_subject(subject) == subject
    assert check_subscribe_subject(subject) == subject


@pytest.mark.parametrize("subject", VALID_SUBSCRIBE_ONLY)
def test_wildcards_are_for_subscribing_only(subject: str) -> None:
    assert is_valid_subscribe_subject(subject)
    assert check_subscribe_subject(subject) == subject
    assert not is_valid_publish_subject(subject)
    with pytest.raises(BadSubjectError, match="wildcard") as info:
        check_publish_subject(subject)
    assert repr(subject) in str(info.value)


@pytest.mark.parametrize("subject", INVALID_ANYWHERE + NOT_STRINGS)
def test_invalid_subjects(subject: object) -> None:
    assert not is_valid_publish_subject(subject)
    assert not is_valid_subscribe_subject(subject)
    with pytest.raises(BadSubjectError) as pub:
        check_publish_subject(subject)
    with pytest.raises(BadSubjectError) as sub:
        check_subscribe_subject(subject)
    # The message names the offending value so the user can find it.
    assert repr(subject) in str(pub.value)
    assert repr(subject) in str(sub.value)


def test_gt_only_last() -> None:
    with pytest.raises(BadSubjectError, match="'>' may only be the last token"):
        check_subscribe_subject("a.>.b")


def test_error_names_what_was_checked() -> None:
    with pytest.raises(BadSubjectError, match="invalid reply subject 'a b'"):
        check_publish_subject("a b", "reply subject")


def test_bad_subject_error_is_a_value_error_and_local() -> None:
    with pytest.raises(ValueError):
        check_publish_subject("")
    assert issubclass(BadSubjectError, LocalProtocolError)


@pytest.mark.parametrize("queue", ["workers", "q.1", "caf\u00e9", "*", ">"])
def test_valid_queues(queue: str) -> None:
    assert check_queue(queue) == queue


@pytest.mark.parametrize("queue", ["", "a b", "a\tb", "a\nb", " ", None, b"q", 3])
def test_invalid_queues(queue: object) -> None:
    with pytest.raises(BadSubjectError, match="invalid queue group") as info:
        check_queue(queue)
    assert repr(queue) in str(info.value)


token = st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters=". \t\r\n\f\v\x00"), min_size=1
)


@given(st.lists(token, min_size=1, max_size=5))
@settings(max_examples=150, deadline=None)
def test_literal_tokens_are_valid(tokens: list[str]) -> None:
    subject = ".".join(tokens)
    literal = all(t not in ("*", ">") for t in tokens)
    assert is_valid_publish_subject(subject) == literal
    gt_inside = ">" in tokens[:-1]
    assert is_valid_subscribe_subject(subject) == (not gt_inside)


@given(st.text(), st.sampled_from([" ", "\t", "\r", "\n", "\x00"]), st.text())
@settings(max_examples=100, deadline=None)
def test_whitespace_is_never_valid(before: str, ws: str, after: str) -> None:
    subject = before + ws + after
    assert not is_valid_publish_subject(subject)
    assert not is_valid_subscribe_subject(subject)
