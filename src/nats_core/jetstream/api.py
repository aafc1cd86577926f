"""JetStream API subjects (ADR-1): ``$JS.API.<...>``, or ``$JS.<domain>.API.<...>``.

:class:`JSApi` only builds subject strings; it validates nothing and sends
nothing. The request builders of :mod:`nats_core.jetstream.requests` validate
names before they call it.
"""

from __future__ import annotations

from .errors import InvalidOptionError

__all__ = ["DEFAULT_API_PREFIX", "JSApi"]

DEFAULT_API_PREFIX = "$JS.API"


class JSApi:
    """Subjects of the JetStream API under one prefix.

    ``JSApi()`` uses ``$JS.API``; ``JSApi(domain="hub")`` uses ``$JS.hub.API``
    (to reach the JetStream of another domain, for instance through a leaf
    node); ``JSApi(prefix="$JS.other.API")`` uses an imported API prefix. A
    prefix and a domain together are an error.
    """

    __slots__ = ("domain", "prefix")

    def __init__(self, prefix: str = DEFAULT_API_PREFIX, domain: str | None = None) -> None:
        prefix = prefix.rstrip(".")
        if domain:
            if prefix != DEFAULT_API_PREFIX:
                raise InvalidOptionError(
                    f"give either an api prefix ({prefix!r}) or a domain ({domain!r}), not both"
                )
            if any(c in domain for c in ".*> \t\r\n"):
                raise InvalidOptionError(
                    f"invalid jetstream domain {domain!r}: it must be a single token"
                )
            prefix = f"$JS.{domain}.API"
        if not prefix:
            raise InvalidOptionError("the jetstream api prefix must not be empty")
        self.prefix = prefix
        self.domain = domain or None

    def __repr__(self) -> str:
        return f"JSApi(prefix={self.prefix!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, JSApi) and other.prefix == self.prefix

    def __hash__(self) -> int:
        return hash(self.prefix)

    def subject(self, suffix: str) -> str:
        """``<prefix>.<suffix>``."""
        return f"{self.prefix}.{suffix}"

    # ----------------------------------------------------------- account
    def info(self) -> str:
        """``INFO``: account information."""
        return self.subject("INFO")

    # ----------------------------------------------------------- streams
    def stream_create(self, stream: str) -> str:
        """``STREAM.CREATE.<stream>``."""
        return self.subject(f"STREAM.CREATE.{stream}")

    def stream_update(self, stream: str) -> str:
        """``STREAM.UPDATE.<stream>``."""
        return self.subject(f"STREAM.UPDATE.{stream}")

    def stream_info(self, stream: str) -> str:
        """``STREAM.INFO.<stream>``."""
        return self.subject(f"STREAM.INFO.{stream}")

    def stream_delete(self, stream: str) -> str:
        """``STREAM.DELETE.<stream>``."""
        return self.subject(f"STREAM.DELETE.{stream}")

    def stream_purge(self, stream: str) -> str:
        """``STREAM.PURGE.<stream>``."""
        return self.subject(f"STREAM.PURGE.{stream}")

    def stream_names(self) -> str:
        """``STREAM.NAMES`` (the body may carry ``subject`` to filter and ``offset``)."""
        return self.subject("STREAM.NAMES")

    def stream_list(self) -> str:
        """``STREAM.LIST``: stream infos, paged by ``offset``."""
        return self.subject("STREAM.LIST")

    def stream_msg_get(self, stream: str) -> str:
        """``STREAM.MSG.GET.<stream>``: get a message through the stream leader."""
        return self.subject(f"STREAM.MSG.GET.{stream}")

    def stream_msg_delete(self, stream: str) -> str:
        """``STREAM.MSG.DELETE.<stream>``."""
        return self.subject(f"STREAM.MSG.DELETE.{stream}")

    # -------------------------------------------------------- direct get
    def direct_get(self, stream: str) -> str:
        """``DIRECT.GET.<stream>``: direct get with a JSON body (ADR-31)."""
        return self.subject(f"DIRECT.GET.{stream}")

    def direct_get_last(self, stream: str, subject: str) -> str:
        """``DIRECT.GET.<stream>.<subject>``: the last message on ``subject``, empty body."""
        return self.subject(f"DIRECT.GET.{stream}.{subject}")

    # --------------------------------------------------------- consumers
    def consumer_create(
        self, stream: str, consumer: str | None = None, filter_subject: str | None = None
    ) -> str:
        """``CONSUMER.CREATE.<stream>[.<consumer>[.<filter>]]``.

        Without ``consumer`` this is the ephemeral form; ``filter_subject`` is
        only for a consumer with a single filter.
        """
        if consumer is None:
            if filter_subject is not None:
                raise InvalidOptionError(
                    "a filter subject in the create subject needs a consumer name"
                )
            return self.subject(f"CONSUMER.CREATE.{stream}")
        if filter_subject:
            return self.subject(f"CONSUMER.CREATE.{stream}.{consumer}.{filter_subject}")
        return self.subject(f"CONSUMER.CREATE.{stream}.{consumer}")

    def consumer_info(self, stream: str, consumer: str) -> str:
        """``CONSUMER.INFO.<stream>.<consumer>``."""
        return self.subject(f"CONSUMER.INFO.{stream}.{consumer}")

    def consumer_delete(self, stream: str, consumer: str) -> str:
        """``CONSUMER.DELETE.<stream>.<consumer>``."""
        return self.subject(f"CONSUMER.DELETE.{stream}.{consumer}")

    def consumer_pause(self, stream: str, consumer: str) -> str:
        """``CONSUMER.PAUSE.<stream>.<consumer>`` (server 2.11+)."""
        return self.subject(f"CONSUMER.PAUSE.{stream}.{consumer}")

    def consumer_unpin(self, stream: str, consumer: str) -> str:
        """``CONSUMER.UNPIN.<stream>.<consumer>`` (priority groups, server 2.11+)."""
        return self.subject(f"CONSUMER.UNPIN.{stream}.{consumer}")

    def consumer_names(self, stream: str) -> str:
        """``CONSUMER.NAMES.<stream>``."""
        return self.subject(f"CONSUMER.NAMES.{stream}")

    def consumer_list(self, stream: str) -> str:
        """``CONSUMER.LIST.<stream>``."""
        return self.subject(f"CONSUMER.LIST.{stream}")

    def consumer_msg_next(self, stream: str, consumer: str) -> str:
        """``CONSUMER.MSG.NEXT.<stream>.<consumer>``: where pull requests go."""
        return self.subject(f"CONSUMER.MSG.NEXT.{stream}.{consumer}")
