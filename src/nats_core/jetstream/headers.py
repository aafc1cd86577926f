"""The ``Nats-*`` header names of JetStream, in one place.

Publish options (ADR-1, ADR-43), direct get replies (ADR-31), counters
(ADR-49), atomic batch publish (ADR-50) and message schedules (ADR-51). The
names are those of nats-server 2.14 (``server/stream.go``); header keys are
matched exactly, as the server writes them. The publish options are the same
objects as in :mod:`~nats_core.jetstream.publish`.
"""

from __future__ import annotations

from .publish import (
    EXPECTED_LAST_MSG_ID,
    EXPECTED_LAST_SEQ,
    EXPECTED_LAST_SUBJECT_SEQ,
    EXPECTED_LAST_SUBJECT_SEQ_SUBJECT,
    EXPECTED_STREAM,
    MSG_ID,
    MSG_ROLLUP,
    MSG_TTL,
)

__all__ = [
    "BATCH_COMMIT",
    "BATCH_COMMIT_EOB",
    "BATCH_ID",
    "BATCH_SEQUENCE",
    "COUNTER_INCR",
    "COUNTER_SOURCES",
    "EXPECTED_LAST_MSG_ID",
    "EXPECTED_LAST_SEQ",
    "EXPECTED_LAST_SUBJECT_SEQ",
    "EXPECTED_LAST_SUBJECT_SEQ_SUBJECT",
    "EXPECTED_STREAM",
    "LAST_SEQUENCE",
    "MARKER_REASON",
    "MSG_ID",
    "MSG_ROLLUP",
    "MSG_TTL",
    "NUM_PENDING",
    "PIN_ID",
    "REQUIRED_API_LEVEL",
    "SCHEDULE",
    "SCHEDULER",
    "SCHEDULE_NEXT",
    "SCHEDULE_NEXT_PURGE",
    "SCHEDULE_ROLLUP",
    "SCHEDULE_SOURCE",
    "SCHEDULE_TARGET",
    "SCHEDULE_TIME_ZONE",
    "SCHEDULE_TTL",
    "SEQUENCE",
    "STREAM",
    "STREAM_SOURCE",
    "SUBJECT",
    "TIME_STAMP",
    "UP_TO_SEQUENCE",
]

# -- direct get replies (ADR-31)
STREAM = "Nats-Stream"
SUBJECT = "Nats-Subject"
SEQUENCE = "Nats-Sequence"
TIME_STAMP = "Nats-Time-Stamp"
NUM_PENDING = "Nats-Num-Pending"
"""Batch get: messages still matching after this one (absent before server 2.11)."""
LAST_SEQUENCE = "Nats-Last-Sequence"
"""Batch get: stream sequence of the previous message sent (0 on the first)."""
UP_TO_SEQUENCE = "Nats-UpTo-Sequence"
"""Multi-subject get's end marker: the stream sequence the answer is valid up to."""

# -- other stored-message headers
MARKER_REASON = "Nats-Marker-Reason"
STREAM_SOURCE = "Nats-Stream-Source"
PIN_ID = "Nats-Pin-Id"
REQUIRED_API_LEVEL = "Nats-Required-Api-Level"

# -- counters (ADR-49, server 2.12+)
COUNTER_INCR = "Nats-Incr"
COUNTER_SOURCES = "Nats-Counter-Sources"

# -- atomic batch publish (ADR-50, server 2.12+)
BATCH_ID = "Nats-Batch-Id"
BATCH_SEQUENCE = "Nats-Batch-Sequence"
BATCH_COMMIT = "Nats-Batch-Commit"
BATCH_COMMIT_EOB = "eob"
"""``Nats-Batch-Commit`` value that commits without storing that message (2.14+)."""

# -- message schedules (ADR-51, server 2.12+; Source, Time-Zone, Rollup 2.14+)
SCHEDULE = "Nats-Schedule"
SCHEDULE_TARGET = "Nats-Schedule-Target"
SCHEDULE_TTL = "Nats-Schedule-TTL"
SCHEDULE_SOURCE = "Nats-Schedule-Source"
SCHEDULE_TIME_ZONE = "Nats-Schedule-Time-Zone"
SCHEDULE_ROLLUP = "Nats-Schedule-Rollup"
SCHEDULER = "Nats-Scheduler"
"""On a produced message: the subject of the schedule that produced it."""
SCHEDULE_NEXT = "Nats-Schedule-Next"
"""On a produced message: the next fire time, or ``purge`` for a one-shot schedule."""
SCHEDULE_NEXT_PURGE = "purge"
