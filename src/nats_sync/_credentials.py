"""Reading the credential files (``.creds``, NKey seed, token) for the core to
parse: before every (re)connect, so a rotated file is used at the next CONNECT."""

from __future__ import annotations

from pathlib import Path

__all__ = ["read_text"]


def read_text(path: str) -> str:
    """The text of the file at ``path`` (``~`` expanded)."""
    return Path(path).expanduser().read_text()
