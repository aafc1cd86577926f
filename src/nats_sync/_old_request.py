"""Requests the old way (nats.go's ``UseOldRequestStyle``): each request
subscribes a unique inbox of its own, auto-unsubscribed after one message and
unsubscribed when the request ends, instead of sharing the client's one
wildcard response subscription."""

from __future__ import annotations

from typing import Protocol

from nats_core import HeadersInput, request_refusal
from nats_core.errors import (
    ConnectionClosedError,
    ConnectionDrainingError,
    NatsTimeoutError,
    NoRespondersError,
    SubscriptionClosedError,
)

from ._msg import Msg
from ._subscription import Subscription

__all__ = ["old_style_request"]


class _Requester(Protocol):
    """What a request needs of the client."""

    def new_inbox(self) -> str: ...

    def subscribe(
        self, subject: str, queue: str = "", cb: None = None, max_msgs: int = 0
    ) -> Subscription: ...

    def publish(
        self,
        subject: str,
        payload: bytes = b"",
        reply: str = "",
        headers: HeadersInput | None = None,
    ) -> None: ...


def old_style_request(
    client: _Requester,
    subject: str,
    payload: bytes,
    timeout: float,
    headers: HeadersInput | None,
) -> Msg:
    """Publish a request with a fresh inbox as its reply subject and wait up to
    ``timeout`` seconds for the one reply; the inbox subscription never outlives
    the call."""
    inbox = client.new_inbox()
    try:
        sub = client.subscribe(inbox, max_msgs=1)
    except (ConnectionClosedError, ConnectionDrainingError) as exc:
        raise request_refusal(exc) from None  # says request, as the shared-inbox one
    try:
        client.publish(subject, payload, reply=inbox, headers=headers)
        try:
            msg = sub.next_msg(timeout=timeout)
        except NatsTimeoutError:
            raise NatsTimeoutError(
                f"no reply to the request on {subject!r} within {timeout} s"
            ) from None
        except SubscriptionClosedError:
            raise ConnectionClosedError("the connection was closed") from None
    finally:
        sub.unsubscribe()
    if msg.is_no_responders:
        raise NoRespondersError(subject)
    return msg
