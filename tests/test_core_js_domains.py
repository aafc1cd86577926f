"""Key-Value subjects across JetStream domains and API prefixes (sans-IO).

A context with a domain or an API prefix writes a bucket's keys to
``<api prefix>.$KV.<bucket>.<key>``: a leaf node connection between JetStream
domains carries that, not ``$KV.>``. Reads and watches keep the stream's
subjects. A mirror bucket reads its origin's subjects and writes to its origin
(through the mirror's external API prefix when it has one). Object Store
subjects are the same in every domain (nats.go prefixes none of them either)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from nats_core.jetstream import (
    ExternalStream,
    InvalidNameError,
    JSApi,
    KeyValueOp,
    StoredMsg,
    StreamSource,
    parse_metadata,
)
from nats_core.jetstream.api import DEFAULT_API_PREFIX
from nats_core.jetstream.kv import (
    KeyValueError,
    KeyValueSubjects,
    entry_from_msg,
    entry_from_stored,
    kv_put_prefix,
    kv_subject,
    kv_subjects,
)
from nats_core.jetstream.objectstore import chunk_subject, meta_subject

# ------------------------------------------------------------ the put prefix


@pytest.mark.parametrize("api", [None, "", DEFAULT_API_PREFIX, DEFAULT_API_PREFIX + "."])
def test_the_default_api_writes_to_the_stream_subjects(api: str | None) -> None:
    assert kv_put_prefix("cfg", api) == "$KV.cfg."
    assert kv_put_prefix("cfg", JSApi().prefix) == "$KV.cfg."


@pytest.mark.parametrize("domain", ["hub", "leaf", "edge-1"])
def test_a_domain_writes_through_its_api_prefix(domain: str) -> None:
    api = JSApi(domain=domain)
    assert kv_put_prefix("cfg", api.prefix) == f"$JS.{domain}.API.$KV.cfg."
    # the same subject as the domain's API subject of the key's stored subject
    assert kv_subjects("cfg", api.prefix).put("a.b") == api.subject(kv_subject("cfg", "a.b"))


@pytest.mark.parametrize("prefix", ["$JS.other.API", "$JS.other.API.", "imported.js"])
def test_a_custom_api_prefix_writes_through_it(prefix: str) -> None:
    clean = prefix.rstrip(".")
    assert kv_put_prefix("cfg", prefix) == f"{clean}.$KV.cfg."
    assert kv_put_prefix("cfg", JSApi(prefix).prefix) == f"{clean}.$KV.cfg."


# ----------------------------------------------------- reads and writes apart


def test_reads_keep_the_stream_subjects_in_every_domain() -> None:
    for api in (None, JSApi(domain="leaf").prefix, "$JS.other.API"):
        subjects = kv_subjects("cfg", api)
        assert subjects.prefix == "$KV.cfg."
        assert subjects.key("color") == kv_subject("cfg", "color") == "$KV.cfg.color"
        assert subjects.key(">") == "$KV.cfg.>"  # watch patterns too
        assert subjects.key_of("$KV.cfg.a.b") == "a.b"
    local, remote = kv_subjects("cfg"), kv_subjects("cfg", "$JS.leaf.API")
    assert local.put("color") == local.key("color") == "$KV.cfg.color"
    assert remote.put("color") == "$JS.leaf.API.$KV.cfg.color"
    assert remote.put_prefix == "$JS.leaf.API.$KV.cfg."


def test_subjects_of_another_bucket_are_not_keys() -> None:
    subjects = kv_subjects("cfg", "$JS.leaf.API")
    with pytest.raises(KeyValueError, match="not in bucket 'cfg'"):
        subjects.key_of("$KV.other.color")
    with pytest.raises(KeyValueError):
        subjects.key_of("$JS.leaf.API.$KV.cfg.color")  # a write subject is never stored


def test_bucket_names_are_checked() -> None:
    with pytest.raises(InvalidNameError):
        kv_subjects("a.b", "$JS.leaf.API")
    assert kv_subjects("ok_-9") == KeyValueSubjects("ok_-9", "$KV.ok_-9.", "$KV.ok_-9.")


# ------------------------------------------------------------------- mirrors


def test_a_local_mirror_reads_and_writes_its_origin() -> None:
    for name in ("KV_orig", "orig"):
        mirror = StreamSource(name=name)
        subjects = kv_subjects("copy", mirror=mirror)
        assert subjects.bucket == "copy"
        assert subjects.prefix == "$KV.orig."
        assert subjects.put_prefix == "$KV.orig."
        # through a domain: the origin of that domain, as nats.go
        via = kv_subjects("copy", "$JS.hub.API", mirror=mirror)
        assert via.put("k") == "$JS.hub.API.$KV.orig.k"
        assert via.key("k") == "$KV.orig.k"


def test_a_mirror_of_another_domain_writes_through_its_external_api() -> None:
    mirror = StreamSource(name="KV_orig", external=ExternalStream(api="$JS.hub.API"))
    for api in (None, "$JS.leaf.API", "$JS.other.API"):  # the context's prefix is not used
        subjects = kv_subjects("copy", api, mirror=mirror)
        assert subjects.put("k") == "$JS.hub.API.$KV.orig.k"
        assert subjects.key("k") == "$KV.orig.k"
    dotted = StreamSource(name="orig", external=ExternalStream(api="$JS.hub.API."))
    assert kv_put_prefix("copy", mirror=dotted) == "$JS.hub.API.$KV.orig."
    # an external block without an API prefix (a deliver prefix only) changes nothing
    deliver_only = StreamSource(name="orig", external=ExternalStream(deliver="dlv"))
    assert kv_put_prefix("copy", "$JS.leaf.API", mirror=deliver_only) == "$JS.leaf.API.$KV.orig."


def test_entries_of_a_mirror_name_the_mirror_and_the_origin_key() -> None:
    subjects = kv_subjects("copy", mirror=StreamSource(name="KV_orig"))
    stored = StoredMsg(
        subject="$KV.orig.a.b", seq=7, data=b"v", time=datetime(2024, 1, 1, tzinfo=UTC)
    )
    entry = entry_from_stored("copy", stored, subjects)
    assert (entry.bucket, entry.key, entry.value, entry.revision) == ("copy", "a.b", b"v", 7)
    with pytest.raises(KeyValueError):
        entry_from_stored("copy", stored)  # without the subjects: $KV.copy. expected

    meta = parse_metadata("$JS.ACK.KV_copy.oc_1.1.9.3.1700000000000000000.2")
    delivered = SimpleNamespace(subject="$KV.orig.x", data=b"", headers=None, metadata=meta)
    got = entry_from_msg("copy", delivered, subjects)
    assert (got.bucket, got.key, got.revision, got.delta) == ("copy", "x", 9, 2)
    assert got.operation is KeyValueOp.PUT


def test_entries_without_subjects_read_the_bucket_itself() -> None:
    stored = StoredMsg(subject="$KV.cfg.k", seq=1, data=b"v")
    assert entry_from_stored("cfg", stored).key == "k"
    assert entry_from_stored("cfg", stored, kv_subjects("cfg", "$JS.leaf.API")).key == "k"


# -------------------------------------------------------------- object store


def test_object_store_subjects_have_no_domain_prefix() -> None:
    """nats.go publishes chunks and metadata to ``$O.<bucket>...`` whatever the
    context's domain; leaf node connections carry those between domains."""
    assert chunk_subject("files", "NUID") == "$O.files.C.NUID"
    assert meta_subject("files", "a.txt") == "$O.files.M.YS50eHQ="
