"""Object Store buckets, sans-IO: names, the bucket's stream and object metadata.
(Against a real nats-server: tests/test_js_objectstore_anyio.py, and
tests/test_js_objectstore_sync.py generated from it.)"""

from __future__ import annotations

from datetime import timedelta

import pytest

from nats_core.jetstream import InvalidNameError, ObjectInfo, ObjectStoreConfig
from nats_core.jetstream.objectstore import meta_subject, obj_stream_config

# ------------------------------------------------------------------ sans-IO


def test_names_config_and_metadata() -> None:
    sc = obj_stream_config(ObjectStoreConfig("files", ttl=60, storage="memory"))
    assert sc.name == "OBJ_files"
    assert sc.subjects == ["$O.files.C.>", "$O.files.M.>"]
    assert sc.max_age == timedelta(seconds=60)
    assert sc.allow_rollup_hdrs and sc.allow_direct
    assert meta_subject("files", "a/b c.txt") == "$O.files.M.YS9iIGMudHh0"
    assert meta_subject("files", "ab") == "$O.files.M.YWI="  # padded, as nats.go
    with pytest.raises(InvalidNameError):
        meta_subject("files", "")
    info = ObjectInfo("n", "files", "NUID", 3, 1, "SHA-256=x", metadata={"k": "v"})
    back = ObjectInfo.from_json(info.to_json())
    assert (back.name, back.nuid, back.size, back.chunks, back.metadata) == (
        "n",
        "NUID",
        3,
        1,
        {"k": "v"},
    )
