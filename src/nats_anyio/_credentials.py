"""Reading the credential files (``.creds``, NKey seed, token) for the core to
parse: before every (re)connect, so a rotated file is used at the next CONNECT."""

from __future__ import annotations

import os
from collections.abc import Callable

import anyio

from nats_core import ClientOptions, credential_paths

__all__ = ["read_credential_files"]


async def read_credential_files(opts: ClientOptions) -> Callable[[str], str]:
    """Read the credential files of ``opts`` (in a worker thread, the event loop
    goes on); return the ``read_text`` the core's ``apply_credentials`` takes,
    which gives what was read, or raises the ``OSError`` met reading it."""
    texts: dict[str, str | OSError] = {}
    for path in credential_paths(opts):
        try:
            texts[path] = await anyio.Path(os.path.expanduser(path)).read_text()
        except OSError as e:
            texts[path] = e

    def read_text(path: str) -> str:
        found = texts[path]
        if isinstance(found, OSError):
            raise found
        return found

    return read_text
