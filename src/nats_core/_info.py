"""The server's INFO block as a typed object."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["ServerInfo"]


@dataclass(slots=True)
class ServerInfo:
    """Fields of the server's INFO. ``raw`` keeps everything, newer fields included."""

    server_id: str = ""
    server_name: str = ""
    version: str = ""
    proto: int = 0
    host: str = ""
    port: int = 0
    headers: bool = False
    max_payload: int = 1024 * 1024
    jetstream: bool = False
    auth_required: bool = False
    tls_required: bool = False
    tls_available: bool = False
    tls_verify: bool = False
    nonce: str = ""
    client_id: int = 0
    client_ip: str = ""
    connect_urls: list[str] = field(default_factory=list)
    ws_connect_urls: list[str] = field(default_factory=list)
    ldm: bool = False
    domain: str = ""
    cluster: str = ""
    raw: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ServerInfo:
        """Build from the parsed INFO JSON; unknown or mistyped fields stay in ``raw``."""
        info = cls(raw=d)
        for name, kind in _FIELDS.items():
            v = d.get(name)
            if v is None:
                continue
            if kind is list:
                if isinstance(v, list):
                    setattr(info, name, [str(x) for x in v])
            elif kind is int:
                if isinstance(v, int) and not isinstance(v, bool):
                    setattr(info, name, v)
            elif isinstance(v, kind):
                setattr(info, name, v)
        return info


_FIELDS: dict[str, type] = {
    "server_id": str,
    "server_name": str,
    "version": str,
    "proto": int,
    "host": str,
    "port": int,
    "headers": bool,
    "max_payload": int,
    "jetstream": bool,
    "auth_required": bool,
    "tls_required": bool,
    "tls_available": bool,
    "tls_verify": bool,
    "nonce": str,
    "client_id": int,
    "client_ip": str,
    "connect_urls": list,
    "ws_connect_urls": list,
    "ldm": bool,
    "domain": str,
    "cluster": str,
}
