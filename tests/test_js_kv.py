"""Key-Value buckets, sans-IO: the bucket's stream configuration and the checks of
bucket names and keys. (Against a real nats-server: tests/test_js_kv_anyio.py, and
tests/test_js_kv_sync.py generated from it.)"""

from __future__ import annotations

from datetime import timedelta

import pytest

from nats_core.jetstream import (
    InvalidNameError,
    InvalidOptionError,
    KeyValueConfig,
    StorageType,
)
from nats_core.jetstream.kv import check_key, kv_stream_config

# ------------------------------------------------------------------ sans-IO


def test_bucket_stream_config() -> None:
    sc = kv_stream_config(KeyValueConfig("cfg", history=5, ttl=60, storage="memory"))
    assert sc.name == "KV_cfg"
    assert sc.subjects == ["$KV.cfg.>"]
    assert sc.max_msgs_per_subject == 5
    assert sc.max_age == timedelta(seconds=60)
    assert sc.duplicate_window == timedelta(seconds=60)  # min(2 min, ttl)
    assert sc.storage is StorageType.MEMORY
    assert sc.allow_rollup_hdrs and sc.deny_delete and sc.allow_direct
    assert kv_stream_config(KeyValueConfig("b")).duplicate_window == timedelta(minutes=2)


@pytest.mark.parametrize("history", [0, 65])
def test_history_out_of_range(history: int) -> None:
    with pytest.raises(InvalidOptionError, match="history"):
        kv_stream_config(KeyValueConfig("b", history=history))


@pytest.mark.parametrize("bucket", ["", "a.b", "a b", "a*", "ä"])
def test_bad_bucket_names(bucket: str) -> None:
    with pytest.raises(InvalidNameError, match="bucket"):
        kv_stream_config(KeyValueConfig(bucket))


@pytest.mark.parametrize("key", ["", ".a", "a.", "a..b", "a b", "a*", "a>", "_kv.x", "ä"])
def test_bad_keys(key: str) -> None:
    with pytest.raises(InvalidNameError, match="key"):
        check_key(key)


def test_watch_patterns_allow_wildcards() -> None:
    assert check_key("a.*.c", wildcards=True) == "a.*.c"
    assert check_key(">", wildcards=True) == ">"
    with pytest.raises(InvalidNameError):
        check_key("a..b", wildcards=True)
