"""The one error tree of pynats, rooted at :class:`NatsError`.

Errors fall in three families:

* :class:`LocalProtocolError`: the caller misused the API (a bad subject, a
  payload over ``max_payload``, a ``str`` payload, a call the connection's
  state does not allow).
* :class:`RemoteProtocolError`: the server sent bytes that are not NATS.
* :class:`ServerError`: the server sent ``-ERR``; subclasses say which kind and
  :attr:`ServerError.fatal` says whether the server closes the connection.
* :class:`TransportError`: the byte stream failed (reset, broken pipe, TLS);
  :class:`ConnectError` when dialing a server failed. Both clients raise these
  same classes.

Each class also derives from the builtin exception a Python program would
catch for it, so ``except NatsError`` and the builtin both work:

* :class:`TypeError`: :class:`BadPayloadError` (a ``str`` or other non-bytes payload),
  :class:`ConfigTypeError` (an option or argument of the wrong type; also a
  :class:`ConfigError`).
* :class:`ValueError`: :class:`ConfigError` (bad options), :class:`BadSubjectError`,
  :class:`BadHeaderError`, :class:`MaxPayloadError`.
* :class:`TimeoutError`: :class:`NatsTimeoutError`.
* :class:`ConnectionError` (an :class:`OSError`): :class:`NotConnectedError` and
  :class:`ConnectionClosedError`, :class:`ConnectionReconnectingError`,
  :class:`TransportError` and :class:`ConnectError`.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationExpiredError",
    "AuthorizationError",
    "BadHeaderError",
    "BadPayloadError",
    "BadSubjectError",
    "ConfigError",
    "ConfigTypeError",
    "ConnectError",
    "ConnectionClosedError",
    "ConnectionDrainingError",
    "ConnectionReconnectingError",
    "HeadersNotSupportedError",
    "LocalProtocolError",
    "MaxAccountConnectionsExceededError",
    "MaxConnectionsExceededError",
    "MaxPayloadError",
    "MaxSubscriptionsExceededError",
    "NatsError",
    "NatsTimeoutError",
    "NoRespondersError",
    "NotConnectedError",
    "PermissionsError",
    "ReconnectBufferFullError",
    "RemoteProtocolError",
    "SecureConnectionWantedError",
    "ServerError",
    "SlowConsumerError",
    "StaleConnectionError",
    "SubscriptionClosedError",
    "TransportError",
    "classify_server_error",
]


class NatsError(Exception):
    """Root of every error pynats raises."""


class LocalProtocolError(NatsError):
    """The API was used in a way NATS does not allow; nothing was sent."""


class ConfigError(LocalProtocolError, ValueError):
    """An option, argument, URL or credential given to the client is not valid."""


class ConfigTypeError(ConfigError, TypeError):
    """An option or argument is of the wrong type (``max_reconnect_attempts="x"``,
    a ``ConsumerConfig`` where a ``StreamConfig`` goes): a :class:`TypeError`,
    and a :class:`ConfigError` like every other bad option."""


class BadSubjectError(LocalProtocolError, ValueError):
    """A subject, reply subject or queue name is not valid."""


class BadHeaderError(LocalProtocolError, ValueError):
    """A header key or value cannot be sent (CR/LF, colon, empty key...)."""


class BadPayloadError(LocalProtocolError, TypeError):
    """A payload is not bytes (a ``str``: encode it first); nothing was sent."""


class HeadersNotSupportedError(LocalProtocolError):
    """The server does not support message headers (its INFO says ``headers: false``)."""


class MaxPayloadError(LocalProtocolError, ValueError):
    """A message is larger than the server's ``max_payload``."""


class NotConnectedError(LocalProtocolError, ConnectionError):
    """The call needs a live connection and there is none (also a :class:`ConnectionError`)."""


class ConnectionClosedError(NotConnectedError):
    """The connection was closed; create a new client."""


class ConnectionDrainingError(LocalProtocolError):
    """The connection is draining and takes no new work."""


class ConnectionReconnectingError(NatsError, ConnectionError):
    """The connection was lost while the call waited; it may be retried (also a
    :class:`ConnectionError`)."""


class ReconnectBufferFullError(NatsError):
    """A publish made while reconnecting did not fit in the reconnect buffer."""


class SubscriptionClosedError(NatsError):
    """The subscription was unsubscribed, drained, or closed by the server."""


class SlowConsumerError(NatsError):
    """A subscription's pending limits were reached and messages were dropped."""

    def __init__(self, message: str, *, sid: int, subject: str, dropped: int) -> None:
        super().__init__(message)
        self.sid = sid
        self.subject = subject
        self.dropped = dropped


class NatsTimeoutError(NatsError, TimeoutError):
    """A call did not complete in time."""


class SecureConnectionWantedError(NatsError):
    """The client requires TLS (a ``tls://`` or ``wss://`` URL, or a TLS option)
    but the server offers none."""


class NoRespondersError(NatsError):
    """A request reached no subscriber (the server answered with status 503)."""

    def __init__(self, subject: str) -> None:
        super().__init__(f"no responders are listening on {subject!r}")
        self.subject = subject


class TransportError(NatsError, ConnectionError):
    """The byte stream to the server failed (reset, broken, closed under us); a
    :class:`ConnectionError`, so an :class:`OSError` too."""


class ConnectError(TransportError):
    """Dialing a server failed (refused, unreachable, TLS handshake...)."""


class RemoteProtocolError(NatsError):
    """The server sent bytes that do not parse as the NATS protocol."""


class ServerError(NatsError):
    """The server sent ``-ERR``.

    ``text`` is the server's message; ``fatal`` is true when the server closes
    the connection after it.
    """

    fatal: bool = True

    def __init__(self, text: str, *, fatal: bool | None = None) -> None:
        super().__init__(text)
        self.text = text
        if fatal is not None:
            self.fatal = fatal


class AuthorizationError(ServerError):
    """The server refused the credentials (authorization violation)."""


class AuthenticationExpiredError(AuthorizationError):
    """The user's or account's credentials expired or were revoked."""


class StaleConnectionError(ServerError):
    """The connection stopped answering PINGs."""


class MaxConnectionsExceededError(ServerError):
    """The server (or the account) has as many connections as its
    ``max_connections`` allows and refused this one (nats.go's
    ``ErrMaxConnectionsExceeded``); the server closes the connection."""


class MaxAccountConnectionsExceededError(MaxConnectionsExceededError):
    """The account's limit of active connections is reached
    ("maximum account active connections exceeded")."""


class MaxSubscriptionsExceededError(ServerError):
    """The connection has as many subscriptions as the server's (or the
    account's) ``max_subscriptions`` allows; the new one was refused and the
    connection stays open (nats.go's ``ErrMaxSubscriptionsExceeded``)."""

    fatal = False


class PermissionsError(ServerError):
    """A publish or subscribe was denied; the connection stays open.

    ``operation`` is ``"publish"`` or ``"subscribe"`` and ``subject`` the
    subject the server named.
    """

    fatal = False

    def __init__(
        self, text: str, *, operation: str, subject: str, queue: str | None = None
    ) -> None:
        super().__init__(text, fatal=False)
        self.operation = operation
        self.subject = subject
        self.queue = queue


_NON_FATAL = ("invalid subject", "invalid publish subject", "maximum subscriptions exceeded")


def classify_server_error(text: str) -> ServerError:
    """Turn the text of a ``-ERR`` into the matching :class:`ServerError`."""
    low = text.lower()
    if low.startswith("permissions violation"):
        # Permissions Violation for Publish to "x" / for Subscription to "x" [using queue "q"]
        op = "publish" if " publish " in low else "subscribe"
        parts = text.split('"')
        subject = parts[1] if len(parts) > 1 else ""
        queue = parts[3] if len(parts) > 3 else None
        return PermissionsError(text, operation=op, subject=subject, queue=queue)
    if "authorization violation" in low:
        return AuthorizationError(text)
    if "expired" in low or "revoked" in low:
        return AuthenticationExpiredError(text)
    if "stale connection" in low:
        return StaleConnectionError(text)
    # nats-server: "maximum account active connections exceeded" (account limit),
    # "maximum connections exceeded" (server limit; both close the connection),
    # "Maximum Subscriptions Exceeded" (the SUB is refused, the connection stays).
    if "maximum account active connections exceeded" in low:
        return MaxAccountConnectionsExceededError(text)
    if "maximum connections exceeded" in low:
        return MaxConnectionsExceededError(text)
    if "maximum subscriptions exceeded" in low:
        return MaxSubscriptionsExceededError(text)
    return ServerError(text, fatal=not any(low.startswith(p) for p in _NON_FATAL))
