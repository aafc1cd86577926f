"""The async client's connection callbacks: one dispatcher task runs them in
order (plain or async functions); errors go to ``error_cb`` or the log."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from nats_core import ClientState, ServerErrorEvent
from nats_core.errors import ServerError

from ._util import call_maybe_async

__all__ = ["CallbackDispatch"]

log = logging.getLogger("nats_anyio")

_CallbackItem = tuple[Callable[..., object], tuple[Any, ...]]


class CallbackDispatch(ClientState):
    """The dispatcher task and the hooks of :class:`~nats_core.ClientState` that feed it."""

    _cb_send: MemoryObjectSendStream[_CallbackItem | None]
    _cb_receive: MemoryObjectReceiveStream[_CallbackItem | None]
    _dispatch_done: anyio.Event
    _dispatcher: int | None
    _quiet: bool
    _server_error: ServerError | None

    def _mark_own_task(self) -> None:
        raise NotImplementedError

    async def _dispatch_loop(self) -> None:
        self._mark_own_task()
        self._dispatcher = anyio.get_current_task().id
        try:
            while True:
                item = await self._cb_receive.receive()
                if item is None:
                    return
                fn, args = item
                try:
                    await call_maybe_async(fn, *args)
                except Exception:
                    log.exception("exception in a NATS client callback %r", fn)
        finally:
            self._dispatch_done.set()

    def _close_callback_queue(self) -> None:
        """Close both ends of the callback queue (once no task uses them: the
        task group ended, or it never started); a callback queued later is dropped."""
        self._cb_send.close()
        self._cb_receive.close()

    def _callback(self, fn: Callable[..., object] | None, *args: Any) -> None:
        if fn is not None and not self._quiet:
            try:
                self._cb_send.send_nowait((fn, args))
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                pass

    def _on_server_error(self, ev: ServerErrorEvent) -> None:
        if ev.error.fatal:
            self._server_error = ev.error
        self._report_error(ev.error)

    def _report_error(self, err: BaseException) -> None:
        self.last_error = err
        self._lifecycle_error(err)
        cb = self._cbs.error_cb
        if cb is not None:
            self._callback(cb, err)
        elif not self._quiet:
            log.warning("nats: %s", err)

    def _error_cb(self) -> Callable[..., Any] | None:
        return self._cbs.error_cb

    def _wake_flusher(self) -> None:
        raise NotImplementedError

    def _unsubscribe_nowait(self, sub: Any) -> None:
        """Unsubscribe ``sub`` now, from the reader (a subscription that
        ``slow_consumer="error"`` ended); the UNSUB is written by the flusher."""
        conn = self._conn
        if sub.sid in conn.subscriptions and conn.unsubscribe(sub.sid, 0):
            self._subs.pop(sub.sid, None)
        self._wake_flusher()
