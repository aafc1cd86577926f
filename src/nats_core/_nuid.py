"""NUID: fast unique identifiers (22 base-62 characters), as nats.go makes them."""

from __future__ import annotations

import random

__all__ = ["NUID"]

_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BASE = 62
_PREFIX_LEN = 12
_SEQ_LEN = 10
_MAX_SEQ = _BASE**_SEQ_LEN
_MIN_INC = 33
_MAX_INC = 333


class NUID:
    """A 12-character random prefix plus a 10-character sequence that steps by a
    random increment; the prefix is renewed when the sequence runs out.

    Randomness comes from the injected ``rng`` so tests and fuzzers can be
    deterministic.
    """

    __slots__ = ("_inc", "_prefix", "_rng", "_seq")

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._prefix = ""
        self._seq = 0
        self._inc = 0
        self._reset()

    def _reset(self) -> None:
        rng = self._rng
        self._prefix = "".join(_DIGITS[rng.randrange(_BASE)] for _ in range(_PREFIX_LEN))
        self._seq = rng.randrange(_MAX_SEQ)
        self._inc = _MIN_INC + rng.randrange(_MAX_INC - _MIN_INC)

    def next(self) -> str:
        """Return a new identifier."""
        self._seq += self._inc
        if self._seq >= _MAX_SEQ:
            self._reset()
        seq = self._seq
        chars = []
        for _ in range(_SEQ_LEN):
            seq, r = divmod(seq, _BASE)
            chars.append(_DIGITS[r])
        return self._prefix + "".join(reversed(chars))
