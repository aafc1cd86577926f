"""Types of the parser's optional C fast path (see _speedups.c)."""

from typing import Any

def scan_msgs(
    buf: bytes, pos: int, out: list[Any], msg_class: type, client: Any, cap: int
) -> int: ...
def pub_frame(sb: bytes, payload: bytes) -> bytes: ...
