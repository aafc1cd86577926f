"""Request many (ADR-47) for the async client: one request, the replies as
they come, until the end :class:`nats_core.request_many.RequestMany` decides.

Hand-written, the source of truth: run ``python scripts/unasync.py`` after editing.
The end conditions (timeout, stall, max_msgs, sentinel, status replies) live
in the core; this module only subscribes, publishes and waits.
"""

from __future__ import annotations

from datetime import timedelta
from types import TracebackType
from typing import Protocol, Self

from nats_core import HeadersInput, request_refusal
from nats_core.errors import (
    ConnectionClosedError,
    ConnectionDrainingError,
    NatsTimeoutError,
    SubscriptionClosedError,
)
from nats_core.request_many import ReplyVerdict, RequestMany, RequestManyEnd, Sentinel

from ._compat import now
from ._msg import Msg
from ._subscription import Subscription

__all__ = ["Replies", "RequestManyClient"]


class RequestManyClient(Protocol):
    """What a request-many needs of its client."""

    def new_inbox(self) -> str: ...

    async def subscribe(self, subject: str) -> Subscription: ...

    async def publish(
        self,
        subject: str,
        payload: bytes = b"",
        reply: str = "",
        headers: HeadersInput | None = None,
    ) -> None: ...


class Replies:
    """The replies to one request (from ``nc.request_many(...)``), as an async
    iterator: ``async with nc.request_many("svc", b"") as replies: async for
    msg in replies: ...``.

    The request is published on entering the block (or at the first
    ``__anext__``). Iteration ends at the first of the total ``timeout``, the
    ``stall`` gap after a reply, ``max_msgs`` replies, or a ``sentinel``
    reply (see :class:`nats_core.request_many.RequestMany`); :attr:`reason`
    says which. A 503 (nobody listens) raises
    :class:`~nats_core.errors.NoRespondersError`, another status
    :class:`~nats_core.request_many.ReplyStatusError`, a connection closed
    before the end :class:`~nats_core.errors.ConnectionClosedError`.

    The inbox subscription ends with the request, with the block, or with
    :meth:`close` (call it when breaking out of a loop outside a block).
    """

    def __init__(
        self,
        nc: RequestManyClient,
        subject: str,
        payload: bytes = b"",
        *,
        headers: HeadersInput | None = None,
        timeout: timedelta | float = 1.0,
        max_msgs: int | None = None,
        stall: timedelta | float | None = None,
        sentinel: Sentinel | bool | None = None,
    ) -> None:
        self._nc = nc
        self.subject = subject
        self._payload = payload
        self._headers = headers
        self._args = (timeout, max_msgs, stall, sentinel)
        # Checked now, so a bad option fails at the call; made again on start.
        self._rm = self._machine(0.0)
        self._sub: Subscription | None = None
        self._started = False
        self._closed = False

    def __repr__(self) -> str:
        return (
            f"<Replies subject={self.subject!r} received={self._rm.received} reason={self.reason}>"
        )

    def _machine(self, start: float) -> RequestMany:
        timeout, max_msgs, stall, sentinel = self._args
        return RequestMany(
            timeout=timeout,
            now=start,
            max_msgs=max_msgs,
            stall=stall,
            sentinel=sentinel,
            subject=self.subject,
        )

    @property
    def reason(self) -> RequestManyEnd | None:
        """Why the request ended (``None`` while it runs)."""
        return self._rm.reason if self._rm.done else None

    @property
    def received(self) -> int:
        """How many replies were given so far."""
        return self._rm.received

    async def _start(self) -> None:
        if self._started:
            return
        self._started = True
        nc = self._nc
        inbox = nc.new_inbox()
        try:
            self._sub = await nc.subscribe(inbox)
        except (ConnectionClosedError, ConnectionDrainingError) as exc:
            raise request_refusal(exc) from None  # says request, as nc.request does
        self._rm = self._machine(now())
        try:
            await nc.publish(self.subject, self._payload, inbox, self._headers)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """End the request now and unsubscribe its inbox (idempotent)."""
        self._rm.cancel()
        self._closed = True
        sub, self._sub = self._sub, None
        if sub is not None:
            try:
                await sub.unsubscribe()
            except ConnectionClosedError:
                pass

    async def _end(self) -> None:
        """The request is over: unsubscribe, then raise the status it ended on."""
        sub, self._sub = self._sub, None
        self._closed = True
        if sub is not None:
            try:
                await sub.unsubscribe()
            except ConnectionClosedError:
                pass
        if self._rm.error is not None:
            raise self._rm.error

    async def __aenter__(self) -> Self:
        await self._start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Msg:
        await self._start()
        rm = self._rm
        rm.resume(now())  # the time spent on the last reply is not counted
        while not rm.done:
            sub = self._sub
            deadline = rm.deadline
            if sub is None or deadline is None:  # closed
                break
            try:
                msg = await sub.next_msg(timeout=max(0.0, deadline - now()))
            except NatsTimeoutError:
                rm.expired(now())
                continue
            except SubscriptionClosedError:
                if self._closed or rm.done:
                    break
                rm.cancel()
                self._sub = None
                self._closed = True
                raise ConnectionClosedError(
                    f"the connection closed before the replies to {self.subject!r} ended "
                    f"({rm.received} received)"
                ) from None
            verdict = rm.on_reply(msg, now())
            if verdict is ReplyVerdict.YIELD:
                return msg
            if verdict is ReplyVerdict.END_AFTER:
                await self._end()
                return msg
        await self._end()
        raise StopAsyncIteration

    async def collect(self) -> list[Msg]:
        """Every reply, in a list (the request is closed afterwards)."""
        out: list[Msg] = []
        try:
            async for msg in self:
                out.append(msg)
        finally:
            await self.close()
        return out
