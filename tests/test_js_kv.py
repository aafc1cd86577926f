"""Key-Value buckets, sans-IO: the bucket's stream configuration and the checks of
bucket names and keys. (Against a real nats-server: tests/test_js_kv_anyio.py, and
tests/test_js_kv_sync.py generated from it.)"""

from __future__ import annotations

from datetime import timedelta

import pytest

from nats_core import Headers
from nats_core.jetstream import (
    InvalidNameError,
    InvalidOptionError,
    KeyValueConfig,
    KeyValueOp,
    StorageType,
)
from nats_core.jetstream.kv import (
    LimitMarkerTTLNotSupportedError,
    WatchStart,
    check_key,
    check_limit_markers,
    entry_from_stored,
    kv_headers,
    kv_stream_config,
    kv_subjects,
    status_from_info,
    watch_start,
)
from nats_core.jetstream.models import (
    DeliverPolicy,
    ExternalStream,
    Placement,
    RePublish,
    StoreCompression,
    StoredMsg,
    StreamInfo,
    StreamSource,
    StreamState,
    SubjectTransform,
)

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


# ------------------------------------- issue #14: TTLs, limit markers, mirrors, sources


def test_limit_marker_ttl_config() -> None:
    sc = kv_stream_config(KeyValueConfig("b", limit_marker_ttl=60))
    assert sc.allow_msg_ttl is True
    assert sc.subject_delete_marker_ttl == timedelta(seconds=60)
    plain = kv_stream_config(KeyValueConfig("b"))
    assert plain.allow_msg_ttl is None and plain.subject_delete_marker_ttl is None
    with pytest.raises(InvalidOptionError, match="limit_marker_ttl"):
        kv_stream_config(KeyValueConfig("b", limit_marker_ttl=0.5))
    check_limit_markers(KeyValueConfig("b"), None)  # no markers: any server
    check_limit_markers(KeyValueConfig("b", limit_marker_ttl=5), 1)
    with pytest.raises(LimitMarkerTTLNotSupportedError, match=r"2\.11"):
        check_limit_markers(KeyValueConfig("b", limit_marker_ttl=5), None)


def test_typed_bucket_options() -> None:
    cfg = KeyValueConfig(
        "b",
        placement=Placement(cluster="c1", tags=["ssd"]),
        republish=RePublish(src="$KV.b.>", dest="re.>"),
        compression=True,
        metadata={"k": "v"},
    )
    sc = kv_stream_config(cfg)
    assert sc.placement == Placement(cluster="c1", tags=["ssd"])
    assert sc.republish == RePublish(src="$KV.b.>", dest="re.>")
    assert sc.compression is StoreCompression.S2 and sc.metadata == {"k": "v"}
    body = sc.to_json()
    assert body["placement"]["cluster"] == "c1" and body["republish"]["dest"] == "re.>"


def test_mirror_config() -> None:
    origin = StreamSource(name="orig")
    sc = kv_stream_config(KeyValueConfig("m", mirror=origin))
    assert sc.mirror == StreamSource(name="KV_orig") and sc.mirror_direct is True
    assert sc.subjects is None
    assert origin.name == "orig"  # the caller's source is not changed
    sc = kv_stream_config(KeyValueConfig("m", mirror=StreamSource(name="KV_orig")))
    assert sc.mirror is not None and sc.mirror.name == "KV_orig"
    # The mirror reads its origin's subjects and writes to the origin.
    names = kv_subjects("m", mirror=sc.mirror)
    assert (names.key("k"), names.put("k")) == ("$KV.orig.k", "$KV.orig.k")
    ext = StreamSource(name="KV_orig", external=ExternalStream(api="$JS.hub.API"))
    names = kv_subjects("m", "$JS.leaf.API", mirror=ext)
    assert (names.key("k"), names.put("k")) == ("$KV.orig.k", "$JS.hub.API.$KV.orig.k")


def test_sources_config() -> None:
    sc = kv_stream_config(
        KeyValueConfig(
            "agg",
            sources=[
                StreamSource(name="a"),
                StreamSource(name="KV_b"),
                StreamSource(name="agg", external=ExternalStream(api="$JS.hub.API")),
                StreamSource(
                    name="ORDERS", subject_transforms=[SubjectTransform("orders.>", "$KV.agg.>")]
                ),
            ],
        )
    )
    assert sc.subjects == ["$KV.agg.>"]
    assert sc.sources is not None
    a, b, same, raw = sc.sources
    assert (a.name, b.name, same.name, raw.name) == ("KV_a", "KV_b", "KV_agg", "ORDERS")
    assert a.subject_transforms == [SubjectTransform("$KV.a.>", "$KV.agg.>")]
    assert b.subject_transforms == [SubjectTransform("$KV.b.>", "$KV.agg.>")]
    assert same.subject_transforms is None  # the same bucket in another domain: as it is
    assert raw.subject_transforms == [SubjectTransform("orders.>", "$KV.agg.>")]


def _stored(headers: dict[str, str] | None, subject: str = "$KV.b.k") -> StoredMsg:
    return StoredMsg(subject=subject, seq=7, data=b"", headers=Headers(headers or {}))


@pytest.mark.parametrize(
    ("headers", "op"),
    [
        (None, KeyValueOp.PUT),
        ({"KV-Operation": "DEL"}, KeyValueOp.DEL),
        ({"KV-Operation": "PURGE"}, KeyValueOp.PURGE),
        ({"Nats-Marker-Reason": "MaxAge", "Nats-TTL": "1m0s"}, KeyValueOp.PURGE),
        ({"Nats-Marker-Reason": "Purge"}, KeyValueOp.PURGE),
        ({"Nats-Marker-Reason": "Remove"}, KeyValueOp.DEL),
        ({"Nats-Marker-Reason": "Other"}, KeyValueOp.PUT),
        ({"KV-Operation": "DEL", "Nats-Marker-Reason": "MaxAge"}, KeyValueOp.DEL),  # KV wins
        ({"KV-Operation": "ODD", "Nats-Marker-Reason": "MaxAge"}, KeyValueOp.PUT),  # as nats.go
        ({"Other": "x"}, KeyValueOp.PUT),
    ],
)
def test_markers_read_as_operations(headers: dict[str, str] | None, op: KeyValueOp) -> None:
    entry = entry_from_stored("b", _stored(headers))
    assert (entry.key, entry.revision, entry.operation) == ("k", 7, op)


def test_write_headers() -> None:
    assert kv_headers() is None
    h = kv_headers(ttl=90, last=0)
    assert h is not None and dict(h.items()) == {
        "Nats-TTL": "1m30s",
        "Nats-Expected-Last-Subject-Sequence": "0",
    }
    h = kv_headers(KeyValueOp.PURGE, ttl=timedelta(hours=1))
    assert h is not None
    assert (h["KV-Operation"], h["Nats-Rollup"], h["Nats-TTL"]) == ("PURGE", "sub", "1h0m0s")
    h = kv_headers(KeyValueOp.DEL, last=3)
    assert h is not None and h["KV-Operation"] == "DEL" and "Nats-Rollup" not in h
    assert h["Nats-Expected-Last-Subject-Sequence"] == "3"
    assert kv_headers(ttl="never") is not None
    with pytest.raises(InvalidOptionError, match="delete"):
        kv_headers(KeyValueOp.DEL, ttl=5)
    with pytest.raises(InvalidOptionError, match="1 second"):
        kv_headers(ttl=0.5)
    with pytest.raises(InvalidOptionError, match="revision"):
        kv_headers(last=-1)


def test_watch_start() -> None:
    assert watch_start() == WatchStart(DeliverPolicy.LAST_PER_SUBJECT)
    assert watch_start(include_history=True) == WatchStart(DeliverPolicy.ALL)
    assert watch_start(updates_only=True) == WatchStart(DeliverPolicy.NEW)
    resumed = watch_start(include_history=True, updates_only=True, resume_from_revision=9)
    assert resumed == WatchStart(DeliverPolicy.BY_START_SEQUENCE, 9)
    for bad in (0, -1, True):
        with pytest.raises(InvalidOptionError, match="resume_from_revision"):
            watch_start(resume_from_revision=bad)


def test_status_reads_markers_and_config() -> None:
    sc = kv_stream_config(
        KeyValueConfig(
            "b",
            history=3,
            ttl=60,
            limit_marker_ttl=5,
            compression=True,
            mirror=StreamSource(name="o"),
            storage="memory",
        )
    )
    info = StreamInfo(config=sc, state=StreamState(messages=4, bytes=10))
    st = status_from_info("b", info)
    assert (st.values, st.bytes, st.history, st.ttl) == (4, 10, 3, timedelta(seconds=60))
    assert st.limit_marker_ttl == timedelta(seconds=5) and st.is_compressed
    cfg = st.config
    assert (cfg.bucket, cfg.history, cfg.ttl, cfg.limit_marker_ttl) == (
        "b",
        3,
        timedelta(seconds=60),
        timedelta(seconds=5),
    )
    assert cfg.mirror == StreamSource(name="o") and cfg.storage is StorageType.MEMORY
    assert kv_stream_config(cfg) == sc  # round trip
