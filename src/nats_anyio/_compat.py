"""The concurrency shims the JetStream layer is written against (anyio flavour).

The JetStream modules (``_jetstream`` and the ``_js_*`` modules under it)
wait, sleep, lock, run background work and make futures only through the
names below. ``scripts/unasync.py`` turns them into their ``nats_sync``
twins, which import the same names from ``nats_sync._compat``: threads,
``time`` and :mod:`concurrent.futures` there.
"""

from __future__ import annotations

import functools
import logging
import sys
from asyncio import _get_running_loop as _running_loop
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar

import anyio
import anyio.lowlevel

from ._util import call_maybe_async

if TYPE_CHECKING:
    from ._client import BaseClient

__all__ = [
    "Event",
    "Future",
    "InvalidStateError",
    "Lister",
    "Listing",
    "Opening",
    "StateLock",
    "call_maybe_async",
    "clock",
    "lister",
    "now",
    "opens",
    "resolve",
    "sleep",
    "spawn",
]

log = logging.getLogger("nats_anyio.jetstream")

T = TypeVar("T")

Lister = AsyncIterator
"""What the listing calls return: ``async for info in js.list_streams()``."""

P = ParamSpec("P")


class Listing(AsyncIterator[T], Awaitable[list[T]]):
    """What a listing call decorated with :func:`lister` returns: an async
    iterator (``async for name in js.stream_names()``) that can also be awaited
    into a list (``names = await js.stream_names()``)."""

    __slots__ = ("_it",)

    def __init__(self, it: AsyncIterator[T]) -> None:
        self._it = it

    def __aiter__(self) -> Listing[T]:
        return self

    async def __anext__(self) -> T:
        return await self._it.__anext__()

    async def _all(self) -> list[T]:
        return [item async for item in self._it]

    def __await__(self) -> Generator[Any, None, list[T]]:
        return self._all().__await__()

    async def aclose(self) -> None:
        """Stop the listing early (an async generator's ``aclose``)."""
        close = getattr(self._it, "aclose", None)
        if close is not None:
            await close()


def lister(fn: Callable[P, AsyncIterator[T]]) -> Callable[P, Listing[T]]:
    """Make a listing call (an async generator) return a :class:`Listing`:
    iterate it with ``async for`` or ``await`` it into a list."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Listing[T]:
        return Listing(fn(*args, **kwargs))

    return wrapper


CM = TypeVar("CM", bound=AbstractAsyncContextManager[Any])


class Opening(Awaitable[CM], AbstractAsyncContextManager[CM]):
    """What a call decorated with :func:`opens` returns: await it for the value
    (``sub = await js.subscribe(...)``), or use it directly in ``async with``
    (``async with js.subscribe(...) as sub:``), which awaits the call, enters
    the value and exits it at the end of the block.

    The call runs (its coroutine is made) only when awaited or entered, so an
    :class:`Opening` dropped unused leaves no "never awaited" warning."""

    __slots__ = ("_args", "_fn", "_kwargs", "_value")

    def __init__(
        self, fn: Callable[..., Awaitable[CM]], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        self._fn = fn
        self._args = args
        self._kwargs = kwargs
        self._value: CM | None = None

    def __await__(self) -> Generator[Any, None, CM]:
        return self._open().__await__()

    async def _open(self) -> CM:
        return await self._fn(*self._args, **self._kwargs)

    async def __aenter__(self) -> CM:
        if self._value is not None:
            raise RuntimeError("this context is already entered")
        value = await self._open()
        await value.__aenter__()
        self._value = value
        return value

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        value, self._value = self._value, None
        if value is None:
            return None
        return await value.__aexit__(exc_type, exc, tb)


def opens(fn: Callable[P, Awaitable[CM]]) -> Callable[P, Opening[CM]]:
    """Make an ``async def`` that returns an async context manager (entered as
    itself) return an :class:`Opening`: ``await`` it, or use it directly in
    ``async with``."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Opening[CM]:
        return Opening(fn, args, kwargs)

    return wrapper


def now() -> float:
    """Seconds from the event loop's monotonic clock."""
    loop = _running_loop()  # asyncio's: its clock at once (anyio's lookup costs ~1 us)
    if loop is not None:
        return loop.time()
    return clock()()


def clock() -> Callable[[], float]:
    """The running event loop's clock, a function of no argument that :func:`now`
    calls: a loop that reads the clock for every message takes it once (asyncio's
    ``loop.time``, ``trio.current_time``; else anyio's lookup at every call)."""
    loop = _running_loop()
    if loop is not None:
        return loop.time
    trio = sys.modules.get("trio")
    if trio is not None:
        try:
            trio.current_time()  # raises RuntimeError outside trio.run
        except RuntimeError:
            pass
        else:
            current_time: Callable[[], float] = trio.current_time
            return current_time
    return anyio.current_time


async def sleep(seconds: float) -> None:
    """Sleep ``seconds`` (a checkpoint: cancellable)."""
    await anyio.sleep(seconds)


class Event:
    """A one-shot flag tasks wait for, with an optional timeout.

    The event loop's event is made by the first waiter (many flags are set, or
    dropped, with nobody waiting: making one costs a backend lookup)."""

    __slots__ = ("_event", "_set")

    def __init__(self) -> None:
        self._set = False
        self._event: anyio.Event | None = None

    def set(self) -> None:
        """Set the flag and wake every waiter."""
        self._set = True
        if self._event is not None:
            self._event.set()

    def is_set(self) -> bool:
        """True once :meth:`set` was called."""
        return self._set

    async def wait(self, timeout: float | None = None) -> bool:
        """Wait until set or ``timeout`` seconds passed; return whether it is set."""
        if self._set:
            await anyio.lowlevel.checkpoint()  # as waiting on a set anyio.Event does
            return True
        event = self._event
        if event is None:
            event = self._event = anyio.Event()
        if timeout is None:
            await event.wait()
        else:
            with anyio.move_on_after(max(timeout, 0.0)):
                await event.wait()
        return self._set


class StateLock:
    """Guards shared state in code with no ``await`` inside the guarded block.

    Tasks of one event loop cannot interleave there, so this lock does
    nothing; the thread flavour is a real :class:`threading.Lock`.
    """

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


class InvalidStateError(Exception):
    """The future is not done yet (``result()``), or already done (``set_result()``)."""


class Future(Generic[T]):
    """The outcome of an asynchronous operation: ``await fut`` gives the result
    (or raises the error); :meth:`done`, :meth:`result` and :meth:`exception`
    look without waiting."""

    # The event is made by the first waiter: most async publishes' futures are
    # resolved with nobody waiting (making one costs a backend lookup).
    __slots__ = ("_done", "_error", "_event", "_value")

    def __init__(self) -> None:
        self._done = False
        self._event: anyio.Event | None = None
        self._value: T | None = None
        self._error: BaseException | None = None

    def done(self) -> bool:
        """True once a result or an error is set."""
        return self._done

    def set_result(self, value: T) -> None:
        """Complete the future with ``value``."""
        if self._done:
            raise InvalidStateError("the future is already done")
        self._value = value
        self._done = True
        if self._event is not None:
            self._event.set()

    def set_exception(self, error: BaseException) -> None:
        """Complete the future with ``error``."""
        if self._done:
            raise InvalidStateError("the future is already done")
        self._error = error
        self._done = True
        if self._event is not None:
            self._event.set()

    def result(self) -> T:
        """The result now; raises the error, or :class:`InvalidStateError` when not done."""
        if not self._done:
            raise InvalidStateError("the future is not done yet")
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]

    def exception(self) -> BaseException | None:
        """The error now (``None`` on success); :class:`InvalidStateError` when not done."""
        if not self._done:
            raise InvalidStateError("the future is not done yet")
        return self._error

    async def wait(self, timeout: float | None = None) -> T:
        """Wait up to ``timeout`` seconds (None: forever) and return the result.

        Raises the operation's error, or :class:`TimeoutError` when it is not done in time.
        """
        if self._done:
            await anyio.lowlevel.checkpoint()  # as waiting on a set anyio.Event does
            return self.result()
        event = self._event
        if event is None:
            event = self._event = anyio.Event()
        if timeout is None:
            await event.wait()
        else:
            with anyio.move_on_after(timeout):
                await event.wait()
            if not self._done:
                raise TimeoutError(f"the future is not done after {timeout} s")
        return self.result()

    def __await__(self) -> Generator[Any, None, T]:
        return self.wait().__await__()

    def __repr__(self) -> str:
        if not self.done():
            return "<Future pending>"
        if self._error is not None:
            return f"<Future error={self._error!r}>"
        return f"<Future result={self._value!r}>"


def resolve(fut: Future[T], value: T | None, error: BaseException | None) -> None:
    """Complete ``fut`` with ``error`` or ``value``, unless it is already done."""
    if fut.done():
        return
    if error is not None:
        fut.set_exception(error)
    else:
        fut.set_result(value)  # type: ignore[arg-type]


def spawn(client: BaseClient, fn: Callable[..., Awaitable[object]], *args: Any, name: str) -> None:
    """Run ``fn(*args)`` in the background, in the client's task group.

    It ends when the client closes; an exception it lets out is logged, not
    raised into the client's tasks.
    """

    async def run() -> None:
        client._mark_own_task()
        try:
            await fn(*args)
        except Exception:
            log.exception("exception in background jetstream task %s", name)

    tg = client._tg
    if tg is None:
        raise RuntimeError("the client is not running")
    tg.start_soon(run, name=name)
