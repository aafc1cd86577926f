"""URL text helpers that every layer may use (no other import of the core)."""

from __future__ import annotations

import re

__all__ = ["redact_url"]


def redact_url(url: str) -> str:
    """``url`` with any user, password or token replaced by ``***``."""
    return re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://)?[^/@]*@", r"\1***@", url)
