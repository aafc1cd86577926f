"""Every state of a NATS connection, every transition between them, and what
each state allows.

Everything that moves the connection from one state to another lives in
:data:`TRANSITIONS`; an input the table lacks for the current state is a
:class:`~nats_core.errors.LocalProtocolError` naming both. Which user commands
a state refuses (and with which error) lives in :data:`REFUSED`, and the
groups of states the connection and the adapters ask about (:data:`LIVE`,
:data:`DRAINING`, :data:`ENDING`) are defined here too, so every rule that
depends on the state is in this one file.
"""

from __future__ import annotations

from enum import Enum

from .errors import ConnectionClosedError, ConnectionDrainingError, LocalProtocolError

__all__ = [
    "DRAINING",
    "ENDING",
    "LIVE",
    "REFUSED",
    "TRANSITIONS",
    "Command",
    "Input",
    "State",
    "check_command",
    "next_state",
    "refusal",
    "request_refusal",
]


class State(Enum):
    """Where a :class:`~nats_core.Connection` is."""

    #: No transport: before the first dial, or between a loss and a reconnect.
    DISCONNECTED = "disconnected"
    #: Transport open, waiting for the server's INFO.
    AWAITING_INFO = "awaiting_info"
    #: INFO asked for TLS; waiting for the adapter to upgrade the transport.
    TLS_WANTED = "tls_wanted"
    #: CONNECT and PING sent; waiting for the PONG that confirms them.
    CONNECT_SENT = "connect_sent"
    #: Usable.
    CONNECTED = "connected"
    #: Draining: subscriptions are being drained; publishes still go out.
    DRAINING_SUBS = "draining_subs"
    #: Draining: subscriptions are done; the last publishes are being flushed.
    DRAINING_PUBS = "draining_pubs"
    #: Finished for good.
    CLOSED = "closed"


class Input(Enum):
    """What can move the state machine."""

    CONNECTION_MADE = "connection_made"
    INFO = "info"
    INFO_TLS = "info_tls"
    TLS_STARTED = "tls_started"
    HANDSHAKE_PONG = "handshake_pong"
    CONNECTION_LOST = "connection_lost"
    DRAIN = "drain"
    DRAIN_PUBS = "drain_pubs"
    CLOSE = "close"


S, I = State, Input  # noqa: E741

TRANSITIONS: dict[tuple[State, Input], State] = {
    (S.DISCONNECTED, I.CONNECTION_MADE): S.AWAITING_INFO,
    (S.AWAITING_INFO, I.INFO): S.CONNECT_SENT,
    (S.AWAITING_INFO, I.INFO_TLS): S.TLS_WANTED,
    (S.TLS_WANTED, I.TLS_STARTED): S.CONNECT_SENT,
    (S.CONNECT_SENT, I.HANDSHAKE_PONG): S.CONNECTED,
    (S.AWAITING_INFO, I.CONNECTION_LOST): S.DISCONNECTED,
    (S.TLS_WANTED, I.CONNECTION_LOST): S.DISCONNECTED,
    (S.CONNECT_SENT, I.CONNECTION_LOST): S.DISCONNECTED,
    (S.CONNECTED, I.CONNECTION_LOST): S.DISCONNECTED,
    (S.DISCONNECTED, I.CONNECTION_LOST): S.DISCONNECTED,
    (S.CONNECTED, I.DRAIN): S.DRAINING_SUBS,
    (S.DRAINING_SUBS, I.DRAIN_PUBS): S.DRAINING_PUBS,
    # A drain cannot finish without a transport: the connection closes.
    (S.DRAINING_SUBS, I.CONNECTION_LOST): S.CLOSED,
    (S.DRAINING_PUBS, I.CONNECTION_LOST): S.CLOSED,
    (S.CLOSED, I.CONNECTION_LOST): S.CLOSED,
    **{(s, I.CLOSE): S.CLOSED for s in State},
}


def next_state(state: State, event: Input) -> State:
    """The state after ``event`` in ``state``, or a LocalProtocolError naming both."""
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise LocalProtocolError(
            f"cannot handle {event.value!r} while the connection is {state.value!r}"
        ) from None


# ----------------------------------------------------------- groups of states

#: A transport past its handshake: commands go on the wire at once (elsewhere,
#: short of CLOSED, publishes wait in the reconnect buffer and SUBs are sent
#: again on the next connection).
LIVE = frozenset({S.CONNECTED, S.DRAINING_SUBS, S.DRAINING_PUBS})
#: A drain is under way.
DRAINING = frozenset({S.DRAINING_SUBS, S.DRAINING_PUBS})
#: The connection is ending: closed, or draining towards closed (no reconnect).
ENDING = frozenset({S.CLOSED, *DRAINING})


# ------------------------------------------------------- commands per state


class Command(Enum):
    """The user commands whose permission depends on the state."""

    PUBLISH = "publish"
    #: A request: a publish whose reply comes to the shared inbox subscription.
    REQUEST = "request"
    SUBSCRIBE = "subscribe"
    UNSUBSCRIBE = "unsubscribe"
    FLUSH = "flush"


C = Command

#: The commands a state refuses, and the error they get; every other
#: (state, command) pair is allowed.
REFUSED: dict[tuple[State, Command], type[LocalProtocolError]] = {
    **{(S.CLOSED, c): ConnectionClosedError for c in Command},
    (S.DRAINING_SUBS, C.SUBSCRIBE): ConnectionDrainingError,
    (S.DRAINING_PUBS, C.SUBSCRIBE): ConnectionDrainingError,
    (S.DRAINING_PUBS, C.PUBLISH): ConnectionDrainingError,
    # The inbox subscription is being drained too: a reply could not arrive.
    (S.DRAINING_SUBS, C.REQUEST): ConnectionDrainingError,
    (S.DRAINING_PUBS, C.REQUEST): ConnectionDrainingError,
}


def refusal(state: State, command: Command) -> LocalProtocolError | None:
    """The error :data:`REFUSED` names when ``state`` refuses ``command``, with
    its message (``None``: allowed)."""
    error = REFUSED.get((state, command))
    if error is None:
        return None
    why = "closed" if state is S.CLOSED else "draining"
    return error(f"the connection is {why}; cannot {command.value}")


def check_command(state: State, command: Command) -> None:
    """Raise the error :data:`REFUSED` names when ``state`` refuses ``command``."""
    error = refusal(state, command)
    if error is not None:
        raise error


def request_refusal(error: LocalProtocolError) -> LocalProtocolError:
    """The error for a request whose own inbox subscription (an old-style
    request, a request many) was refused with ``error``: the same class,
    saying ``cannot request`` as the shared-inbox request does."""
    if isinstance(error, ConnectionClosedError):
        return refusal(S.CLOSED, C.REQUEST) or error
    if isinstance(error, ConnectionDrainingError):
        return refusal(S.DRAINING_SUBS, C.REQUEST) or error
    return error
