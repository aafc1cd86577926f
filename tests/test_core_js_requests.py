"""JetStream API subjects, request builders and reply parsers (replies captured from
nats-server 2.14.0 and 2.9.10)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from nats_core import Headers, Msg
from nats_core._headers import decode_headers
from nats_core.errors import BadSubjectError
from nats_core.jetstream import (
    AckPolicy,
    APIError,
    ConsumerAlreadyExistsError,
    ConsumerConfig,
    ConsumerDoesNotExistError,
    ConsumerNotFoundError,
    DeliverPolicy,
    InvalidNameError,
    InvalidOptionError,
    InvalidResponseError,
    JetStreamNotEnabledError,
    JSApi,
    JSRequest,
    MsgNotFoundError,
    StreamConfig,
    StreamNameInUseError,
    StreamNotFoundError,
    validate_consumer_name,
    validate_name,
    validate_stream_name,
)
from nats_core.jetstream import requests as r

# ---------------------------------------------------------------- helpers


def body(req: JSRequest) -> Any:
    return json.loads(req.payload) if req.payload else None


def reply(data: str | bytes, hdr: str | None = None) -> Msg:
    raw = data.encode() if isinstance(data, str) else data
    headers = decode_headers(hdr.encode()) if hdr else None
    return Msg("_INBOX.abc.1", "", raw, headers, 1)


# --------------------------------------------------------------------- api


def test_api_default_subjects() -> None:
    a = JSApi()
    assert a.prefix == "$JS.API"
    assert a.info() == "$JS.API.INFO"
    assert a.stream_create("S") == "$JS.API.STREAM.CREATE.S"
    assert a.stream_update("S") == "$JS.API.STREAM.UPDATE.S"
    assert a.stream_info("S") == "$JS.API.STREAM.INFO.S"
    assert a.stream_delete("S") == "$JS.API.STREAM.DELETE.S"
    assert a.stream_purge("S") == "$JS.API.STREAM.PURGE.S"
    assert a.stream_names() == "$JS.API.STREAM.NAMES"
    assert a.stream_list() == "$JS.API.STREAM.LIST"
    assert a.stream_msg_get("S") == "$JS.API.STREAM.MSG.GET.S"
    assert a.stream_msg_delete("S") == "$JS.API.STREAM.MSG.DELETE.S"
    assert a.direct_get("S") == "$JS.API.DIRECT.GET.S"
    assert a.direct_get_last("S", "a.b.c") == "$JS.API.DIRECT.GET.S.a.b.c"
    assert a.consumer_create("S") == "$JS.API.CONSUMER.CREATE.S"
    assert a.consumer_create("S", "C") == "$JS.API.CONSUMER.CREATE.S.C"
    assert a.consumer_create("S", "C", "a.b") == "$JS.API.CONSUMER.CREATE.S.C.a.b"
    assert a.consumer_info("S", "C") == "$JS.API.CONSUMER.INFO.S.C"
    assert a.consumer_delete("S", "C") == "$JS.API.CONSUMER.DELETE.S.C"
    assert a.consumer_pause("S", "C") == "$JS.API.CONSUMER.PAUSE.S.C"
    assert a.consumer_unpin("S", "C") == "$JS.API.CONSUMER.UNPIN.S.C"
    assert a.consumer_names("S") == "$JS.API.CONSUMER.NAMES.S"
    assert a.consumer_list("S") == "$JS.API.CONSUMER.LIST.S"
    assert a.consumer_msg_next("S", "C") == "$JS.API.CONSUMER.MSG.NEXT.S.C"
    with pytest.raises(ValueError):
        a.consumer_create("S", None, "a.b")


def test_api_domain_and_prefix() -> None:
    d = JSApi(domain="hub")
    assert d.prefix == "$JS.hub.API" and d.domain == "hub"
    assert d.info() == "$JS.hub.API.INFO"
    assert d.consumer_msg_next("S", "C") == "$JS.hub.API.CONSUMER.MSG.NEXT.S.C"
    p = JSApi(prefix="$JS.other.API.")
    assert p.stream_info("S") == "$JS.other.API.STREAM.INFO.S"
    assert JSApi(domain="hub") == JSApi(prefix="$JS.hub.API")
    assert hash(JSApi()) == hash(JSApi("$JS.API"))
    assert "hub" in repr(d)
    with pytest.raises(ValueError, match="not both"):
        JSApi(prefix="x.API", domain="hub")
    with pytest.raises(ValueError, match="single token"):
        JSApi(domain="a.b")
    with pytest.raises(ValueError):
        JSApi(prefix="")


def test_builders_use_the_given_api() -> None:
    api = JSApi(domain="leaf")
    assert r.account_info(api=api).subject == "$JS.leaf.API.INFO"
    assert r.stream_info("S", api=api).subject == "$JS.leaf.API.STREAM.INFO.S"
    cfg = ConsumerConfig(durable_name="C")
    assert r.create_consumer("S", cfg, api=api).subject == "$JS.leaf.API.CONSUMER.CREATE.S.C"


# ------------------------------------------------------------------- names


@pytest.mark.parametrize("name", ["ORDERS", "a", "with-dash_and_underscore", "x" * 255, "ünï"])
def test_valid_names(name: str) -> None:
    assert validate_name(name) == name
    assert validate_stream_name(name) == name
    assert validate_consumer_name(name) == name


@pytest.mark.parametrize(
    "name",
    ["", "a.b", "a*", "a>", "a b", "a\tb", "a\nb", "a/b", "a\\b", "x" * 256, None, 5, "\x01"],
)
def test_invalid_names(name: Any) -> None:
    with pytest.raises(InvalidNameError) as info:
        validate_stream_name(name)
    assert isinstance(info.value, ValueError)
    assert "stream name" in str(info.value)


def test_invalid_name_message_names_the_value() -> None:
    with pytest.raises(InvalidNameError, match=r"invalid consumer name 'my\.consumer'"):
        validate_consumer_name("my.consumer")


@pytest.mark.parametrize(
    "build",
    [
        lambda: r.stream_info("a.b"),
        lambda: r.delete_stream("a b"),
        lambda: r.purge_stream("a*"),
        lambda: r.get_msg("", 1),
        lambda: r.direct_get("a/b", 1),
        lambda: r.delete_msg("a>", 1),
        lambda: r.add_stream(StreamConfig("a.b")),
        lambda: r.update_stream(StreamConfig("")),
        lambda: r.consumer_info("S", "c.d"),
        lambda: r.delete_consumer("S.x", "c"),
        lambda: r.consumer_names("S x"),
        lambda: r.consumer_list("S\\x"),
        lambda: r.pause_consumer("S", "c*", None),
        lambda: r.create_consumer("S", ConsumerConfig(durable_name="d.x")),
        lambda: r.create_consumer("S", ConsumerConfig(name="n>")),
    ],
)
def test_builders_validate_names(build: Any) -> None:
    with pytest.raises(InvalidNameError):
        build()


# ------------------------------------------------------------------ stream


def test_account_info() -> None:
    req = r.account_info()
    assert req == JSRequest("$JS.API.INFO", b"", None)
    info = r.parse_account_info(
        reply(
            '{"type":"io.nats.jetstream.api.v1.account_info_response","memory":0,"storage":206,'
            '"streams":1,"consumers":1,"limits":{"max_memory":-1,"max_storage":-1,'
            '"max_streams":-1,"max_consumers":-1},"api":{"total":16,"errors":4},"domain":"hub"}'
        )
    )
    assert info.storage == 206 and info.streams == 1 and info.domain == "hub"
    assert info.api.total == 16 and info.api.errors == 4
    assert info.extra == {}  # "type" is not kept


def test_add_and_update_stream() -> None:
    cfg = StreamConfig(
        "ORDERS", subjects=["orders.>"], max_age=timedelta(hours=1), allow_direct=True
    )
    req = r.add_stream(cfg)
    assert req.subject == "$JS.API.STREAM.CREATE.ORDERS"
    assert body(req) == {
        "name": "ORDERS",
        "subjects": ["orders.>"],
        "max_age": 3_600_000_000_000,
        "allow_direct": True,
    }
    upd = r.update_stream(cfg)
    assert upd.subject == "$JS.API.STREAM.UPDATE.ORDERS" and upd.payload == req.payload
    with pytest.raises(BadSubjectError):
        r.add_stream(StreamConfig("S", subjects=["bad subject"]))
    with pytest.raises(TypeError):
        r.add_stream({"name": "S"})  # type: ignore[arg-type]


STREAM_CREATE_214 = (
    '{"type":"io.nats.jetstream.api.v1.stream_create_response","config":{"name":"ORDERS",'
    '"subjects":["orders.\\u003e"],"retention":"limits","max_consumers":-1,"max_msgs":-1,'
    '"max_bytes":-1,"max_age":0,"max_msgs_per_subject":5,"max_msg_size":-1,"discard":"old",'
    '"storage":"file","num_replicas":1,"duplicate_window":120000000000,"compression":"none",'
    '"allow_direct":true,"mirror_direct":false,"sealed":false,"deny_delete":false,'
    '"deny_purge":false,"allow_rollup_hdrs":true,"consumer_limits":{},"allow_msg_ttl":true,'
    '"metadata":{"_nats.level":"4","_nats.req.level":"1","_nats.ver":"2.14.0","owner":"me"}},'
    '"created":"2026-11-27T07:45:47.387502638Z","state":{"messages":0,"bytes":0,"first_seq":0,'
    '"first_ts":"0001-01-01T00:00:00Z","last_seq":0,"last_ts":"0001-01-01T00:00:00Z",'
    '"consumer_count":0},"ts":"2026-11-27T07:45:47.389206649Z","did_create":true}'
)


def test_parse_stream_create_reply() -> None:
    info = r.parse_stream_info(reply(STREAM_CREATE_214))
    assert info.config.name == "ORDERS"
    assert info.state.first_ts is None
    assert info.extra == {"did_create": True}  # a newer field, kept


def test_parse_stream_info_errors() -> None:
    with pytest.raises(StreamNameInUseError):
        r.parse_stream_info(
            reply(
                '{"type":"io.nats.jetstream.api.v1.stream_create_response","error":{"code":400,'
                '"err_code":10058,"description":"stream name already in use with a different '
                'configuration"}}'
            )
        )
    with pytest.raises(StreamNotFoundError):
        r.parse_stream_info(
            reply(
                '{"type":"io.nats.jetstream.api.v1.stream_info_response","error":{"code":404,'
                '"err_code":10059,"description":"stream not found"},"total":0,"offset":0,'
                '"limit":0}'
            )
        )
    with pytest.raises(InvalidResponseError):
        r.parse_stream_info(reply('{"type":"io.nats.jetstream.api.v1.stream_info_response"}'))


def test_stream_info_requests() -> None:
    assert r.stream_info("S") == JSRequest("$JS.API.STREAM.INFO.S")
    req = r.stream_info("S", subjects_filter="orders.>", deleted_details=True, offset=100)
    assert body(req) == {"subjects_filter": "orders.>", "deleted_details": True, "offset": 100}
    with pytest.raises(InvalidOptionError):
        r.stream_info("S", offset=-1)
    with pytest.raises(BadSubjectError):
        r.stream_info("S", subjects_filter="")


def test_parse_stream_info_page() -> None:
    data = (
        '{"type":"io.nats.jetstream.api.v1.stream_info_response","total":3,"offset":0,'
        '"limit":2,"config":{"name":"S"},"state":{"messages":3,"num_subjects":3,'
        '"subjects":{"a":1,"b":2}}}'
    )
    info, paging = r.parse_stream_info_page(reply(data))
    assert info.state.subjects == {"a": 1, "b": 2}
    assert (paging.total, paging.offset, paging.limit) == (3, 0, 2)
    assert paging.next_offset(2) == 2
    assert r.Paging(3, 2, 2).next_offset(1) is None
    assert info.extra == {}


def test_delete_stream() -> None:
    assert r.delete_stream("S") == JSRequest("$JS.API.STREAM.DELETE.S")
    ok = '{"type":"io.nats.jetstream.api.v1.stream_delete_response","success":true}'
    assert r.parse_delete(reply(ok)) is True
    assert r.parse_delete(b'{"success":false}') is False


def test_purge_stream() -> None:
    assert r.purge_stream("S") == JSRequest("$JS.API.STREAM.PURGE.S")
    assert body(r.purge_stream("S", subject="a.>", seq=10)) == {"filter": "a.>", "seq": 10}
    assert body(r.purge_stream("S", keep=0)) == {"keep": 0}
    assert body(r.purge_stream("S", subject="a", keep=5)) == {"filter": "a", "keep": 5}
    with pytest.raises(InvalidOptionError, match="not both"):
        r.purge_stream("S", seq=1, keep=1)
    with pytest.raises(InvalidOptionError):
        r.purge_stream("S", seq=0)
    with pytest.raises(InvalidOptionError):
        r.purge_stream("S", keep=-1)
    purged = '{"type":"io.nats.jetstream.api.v1.stream_purge_response","success":true,"purged":2}'
    assert r.parse_purge(reply(purged)) == 2


def test_stream_names_and_list() -> None:
    req = r.stream_names()
    assert req.subject == "$JS.API.STREAM.NAMES" and body(req) == {"offset": 0}
    assert body(r.stream_names(offset=5, subject="orders.new")) == {
        "offset": 5,
        "subject": "orders.new",
    }
    page = r.parse_stream_names(
        reply(
            '{"type":"io.nats.jetstream.api.v1.stream_names_response","total":1,"offset":0,'
            '"limit":1024,"streams":["ORDERS"]}'
        )
    )
    assert page.names == ["ORDERS"] and page.next_offset() is None
    empty = r.parse_stream_names(b'{"total":0,"offset":0,"limit":1024,"streams":null}')
    assert empty.names == [] and empty.next_offset() is None
    more = r.parse_stream_names(b'{"total":3,"offset":0,"limit":2,"streams":["a","b"]}')
    assert more.next_offset() == 2

    lreq = r.stream_list(offset=256)
    assert lreq.subject == "$JS.API.STREAM.LIST" and body(lreq) == {"offset": 256}
    assert body(r.stream_list(subject="orders.*")) == {"offset": 0, "subject": "orders.*"}
    lst = r.parse_stream_list(
        reply(
            '{"type":"io.nats.jetstream.api.v1.stream_list_response","total":2,"offset":0,'
            '"limit":256,"streams":[{"config":{"name":"A"},"state":{"messages":1}},'
            '{"config":{"name":"B"},"state":{}}],"missing":["C"]}'
        )
    )
    assert [s.config.name for s in lst.streams] == ["A", "B"]
    assert lst.missing == ["C"] and lst.next_offset() is None


def test_find_stream_by_subject() -> None:
    req = r.find_stream_by_subject("orders.new")
    assert req.subject == "$JS.API.STREAM.NAMES"
    assert body(req) == {"offset": 0, "subject": "orders.new"}
    assert r.parse_find_stream(reply('{"total":1,"streams":["ORDERS"]}')) == "ORDERS"
    with pytest.raises(StreamNotFoundError, match=r"nothing\.here"):
        r.parse_find_stream(reply('{"total":0,"streams":null}'), "nothing.here")


# ---------------------------------------------------------------- messages


def test_get_msg_requests() -> None:
    assert r.get_msg("S", 5) == JSRequest("$JS.API.STREAM.MSG.GET.S", b'{"seq":5}')
    assert body(r.get_msg("S", last_by_subject="a.b")) == {"last_by_subj": "a.b"}
    assert body(r.get_msg("S", next_by_subject="a.*")) == {"next_by_subj": "a.*"}
    assert body(r.get_msg("S", 3, next_by_subject="a.*")) == {"seq": 3, "next_by_subj": "a.*"}
    with pytest.raises(InvalidOptionError):
        r.get_msg("S")
    with pytest.raises(InvalidOptionError):
        r.get_msg("S", 1, last_by_subject="a")
    with pytest.raises(InvalidOptionError):
        r.get_msg("S", 0)


def test_parse_stored_msg() -> None:
    data = (
        '{"type":"io.nats.jetstream.api.v1.stream_msg_get_response","message":{"subject":'
        '"orders.new","seq":1,"hdrs":"TkFUUy8xLjANCk5hdHMtTXNnLUlkOiBhMQ0KRm9vOiBiYXINCg0K",'
        '"data":"aGVsbG8=","time":"2026-11-27T07:45:47.390656323Z"}}'
    )
    msg = r.parse_stored_msg(reply(data))
    assert (msg.subject, msg.seq, msg.data) == ("orders.new", 1, b"hello")
    assert msg.headers is not None and msg.headers["Foo"] == "bar"
    no_data = r.parse_stored_msg(
        b'{"message":{"subject":"a","seq":2,"time":"2024-01-01T00:00:00Z"}}'
    )
    assert no_data.data == b"" and no_data.headers is None
    with pytest.raises(MsgNotFoundError):
        r.parse_stored_msg(
            reply(
                '{"type":"io.nats.jetstream.api.v1.stream_msg_get_response","error":{"code":404,'
                '"err_code":10037,"description":"no message found"}}'
            )
        )
    with pytest.raises(InvalidResponseError):
        r.parse_stored_msg(b"{}")


def test_direct_get_requests() -> None:
    assert r.direct_get("S", 1) == JSRequest("$JS.API.DIRECT.GET.S", b'{"seq":1}')
    # last by a literal subject: the subject form with an empty body
    assert r.direct_get("KV_b", last_by_subject="$KV.b.key") == JSRequest(
        "$JS.API.DIRECT.GET.KV_b.$KV.b.key"
    )
    # with wildcards it must go in the body
    wild = r.direct_get("S", last_by_subject="a.*")
    assert wild.subject == "$JS.API.DIRECT.GET.S" and body(wild) == {"last_by_subj": "a.*"}
    nxt = r.direct_get("S", 4, next_by_subject="a.b")
    assert body(nxt) == {"seq": 4, "next_by_subj": "a.b"}
    d = r.direct_get("S", last_by_subject="x", api=JSApi(domain="hub"))
    assert d.subject == "$JS.hub.API.DIRECT.GET.S.x"


DIRECT_GET_214 = (
    "NATS/1.0\r\nNats-Msg-Id: a1\r\nFoo: bar\r\nNats-Stream: ORDERS\r\nNats-Subject: orders.new"
    "\r\nNats-Sequence: 1\r\nNats-Time-Stamp: 2026-11-27T07:45:14.505860565Z\r\n\r\n"
)


def test_parse_direct_get() -> None:
    msg = r.parse_direct_get(reply(b"hello", DIRECT_GET_214))
    assert (msg.stream, msg.subject, msg.seq, msg.data) == ("ORDERS", "orders.new", 1, b"hello")
    assert msg.time == datetime(2026, 11, 27, 7, 45, 14, 505860, tzinfo=UTC)
    assert msg.headers is not None and msg.headers["Nats-Msg-Id"] == "a1"
    old_stamp = DIRECT_GET_214.replace(
        "2026-11-27T07:45:14.505860565Z", "2022-08-06 00:29:27.587861324 +0000 UTC"
    )
    assert r.parse_direct_get(reply(b"x", old_stamp)).time == datetime(
        2022, 8, 6, 0, 29, 27, 587861, tzinfo=UTC
    )


def test_parse_direct_get_statuses() -> None:
    with pytest.raises(MsgNotFoundError) as info:
        r.parse_direct_get(reply(b"", "NATS/1.0 404 Message Not Found\r\n\r\n"))
    assert info.value.code == 404 and info.value.description == "Message Not Found"
    with pytest.raises(APIError) as bad:
        r.parse_direct_get(reply(b"", "NATS/1.0 408 Bad Request\r\n\r\n"))
    assert bad.value.code == 408
    with pytest.raises(JetStreamNotEnabledError):
        r.parse_direct_get(reply(b"", "NATS/1.0 503\r\n\r\n"))


@pytest.mark.parametrize(
    "hdr",
    [
        None,
        "NATS/1.0\r\nNats-Subject: a\r\nNats-Sequence: 1\r\n"
        "Nats-Time-Stamp: 2024-01-01T00:00:00Z\r\n\r\n",
        "NATS/1.0\r\nNats-Stream: S\r\nNats-Subject: a\r\nNats-Sequence: x\r\n"
        "Nats-Time-Stamp: 2024-01-01T00:00:00Z\r\n\r\n",
        "NATS/1.0\r\nNats-Stream: S\r\nNats-Subject: a\r\nNats-Sequence: 1\r\n"
        "Nats-Time-Stamp: soon\r\n\r\n",
    ],
)
def test_parse_direct_get_malformed(hdr: str | None) -> None:
    with pytest.raises(InvalidResponseError):
        r.parse_direct_get(reply(b"x", hdr))


def test_delete_msg() -> None:
    req = r.delete_msg("S", 2)
    assert req.subject == "$JS.API.STREAM.MSG.DELETE.S"
    assert body(req) == {"seq": 2, "no_erase": True}
    assert body(r.delete_msg("S", 2, secure_erase=True)) == {"seq": 2}
    with pytest.raises(InvalidOptionError):
        r.delete_msg("S", 0)
    ok = '{"type":"io.nats.jetstream.api.v1.stream_msg_delete_response","success":true}'
    assert r.parse_delete(reply(ok)) is True


# --------------------------------------------------------------- consumers


def test_create_durable_with_single_literal_filter() -> None:
    cfg = ConsumerConfig(
        durable_name="proc", ack_policy=AckPolicy.EXPLICIT, filter_subject="orders.new"
    )
    req = r.create_consumer("ORDERS", cfg)
    assert req.subject == "$JS.API.CONSUMER.CREATE.ORDERS.proc.orders.new"
    assert body(req) == {
        "stream_name": "ORDERS",
        "config": {
            "durable_name": "proc",
            "ack_policy": "explicit",
            "filter_subject": "orders.new",
        },
        "action": "create",
    }


def test_consumer_create_subject_forms() -> None:
    wild = r.create_or_update_consumer("S", ConsumerConfig(name="c", filter_subject="a.*"))
    assert wild.subject == "$JS.API.CONSUMER.CREATE.S.c"  # wildcards never go in the subject
    assert "action" not in body(wild)
    multi = r.add_consumer("S", ConsumerConfig(name="c", filter_subjects=["a", "b"]))
    assert multi.subject == "$JS.API.CONSUMER.CREATE.S.c"
    plain = r.update_consumer("S", ConsumerConfig(durable_name="d"))
    assert plain.subject == "$JS.API.CONSUMER.CREATE.S.d" and body(plain)["action"] == "update"
    eph = r.create_consumer("S", ConsumerConfig(ack_policy=AckPolicy.NONE, filter_subject="x"))
    assert eph.subject == "$JS.API.CONSUMER.CREATE.S"
    assert body(eph)["config"] == {"ack_policy": "none", "filter_subject": "x"}
    same = r.create_consumer("S", ConsumerConfig(name="n", durable_name="n"))
    assert same.subject == "$JS.API.CONSUMER.CREATE.S.n"


def test_consumer_create_validation() -> None:
    with pytest.raises(InvalidOptionError, match="must be equal"):
        r.create_consumer("S", ConsumerConfig(name="a", durable_name="b"))
    with pytest.raises(InvalidOptionError, match="not both"):
        r.create_consumer("S", ConsumerConfig(name="a", filter_subject="x", filter_subjects=["y"]))
    with pytest.raises(InvalidOptionError, match="name"):
        r.update_consumer("S", ConsumerConfig(ack_policy=AckPolicy.NONE))
    with pytest.raises(InvalidOptionError):
        r.add_consumer("S", ConsumerConfig(name="a"), "upsert")
    with pytest.raises(BadSubjectError):
        r.create_consumer("S", ConsumerConfig(name="a", filter_subject="bad subject"))
    with pytest.raises(BadSubjectError):
        r.create_consumer("S", ConsumerConfig(name="a", filter_subjects=["ok", ""]))
    with pytest.raises(TypeError):
        r.create_consumer("S", {"name": "a"})  # type: ignore[arg-type]


CONSUMER_CREATE_214 = (
    '{"type":"io.nats.jetstream.api.v1.consumer_create_response","stream_name":"ORDERS",'
    '"name":"proc","created":"2026-11-27T07:45:14.509406796Z","config":{"durable_name":"proc",'
    '"name":"proc","deliver_policy":"all","ack_policy":"explicit","ack_wait":1000000000,'
    '"max_deliver":5,"backoff":[1000000000,2000000000],"filter_subject":"orders.new",'
    '"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"num_replicas":0,'
    '"metadata":{"_nats.level":"4","_nats.req.level":"0","_nats.ver":"2.14.0","k":"v"}},'
    '"delivered":{"consumer_seq":0,"stream_seq":0},"ack_floor":{"consumer_seq":0,'
    '"stream_seq":0},"num_ack_pending":0,"num_redelivered":0,"num_waiting":0,"num_pending":1,'
    '"ts":"2026-11-27T07:45:14.510720135Z"}'
)


def test_parse_consumer_info() -> None:
    info = r.parse_consumer_info(reply(CONSUMER_CREATE_214))
    assert info.name == "proc" and info.stream_name == "ORDERS"
    assert info.config.deliver_policy is DeliverPolicy.ALL
    assert info.config.backoff == [timedelta(seconds=1), timedelta(seconds=2)]
    assert info.num_pending == 1 and info.extra == {}
    with pytest.raises(InvalidResponseError):
        r.parse_consumer_info(b'{"type":"io.nats.jetstream.api.v1.consumer_create_response"}')


@pytest.mark.parametrize(
    ("error", "cls"),
    [
        (
            '{"code":400,"err_code":10148,"description":"consumer already exists"}',
            ConsumerAlreadyExistsError,
        ),
        (
            '{"code":400,"err_code":10149,"description":"consumer does not exist"}',
            ConsumerDoesNotExistError,
        ),
        ('{"code":404,"err_code":10014,"description":"consumer not found"}', ConsumerNotFoundError),
        ('{"code":500,"err_code":10012,"description":"ack policy can not be updated"}', APIError),
    ],
)
def test_parse_consumer_errors(error: str, cls: type[APIError]) -> None:
    data = '{"type":"io.nats.jetstream.api.v1.consumer_create_response","error":' + error + "}"
    with pytest.raises(cls):
        r.parse_consumer_info(reply(data))


def test_consumer_info_delete_names_list() -> None:
    assert r.consumer_info("S", "C") == JSRequest("$JS.API.CONSUMER.INFO.S.C")
    assert r.delete_consumer("S", "C") == JSRequest("$JS.API.CONSUMER.DELETE.S.C")
    names = r.consumer_names("S", offset=3)
    assert names.subject == "$JS.API.CONSUMER.NAMES.S" and body(names) == {"offset": 3}
    lst = r.consumer_list("S")
    assert lst.subject == "$JS.API.CONSUMER.LIST.S" and body(lst) == {"offset": 0}
    page = r.parse_consumer_names(
        reply(
            '{"type":"io.nats.jetstream.api.v1.consumer_names_response","total":2,"offset":0,'
            '"limit":1024,"consumers":["nope","proc"]}'
        )
    )
    assert page.names == ["nope", "proc"] and page.paging.total == 2
    lpage = r.parse_consumer_list(
        reply(
            '{"type":"io.nats.jetstream.api.v1.consumer_list_response","total":3,"offset":0,'
            '"limit":1,"consumers":[' + CONSUMER_CREATE_214 + "]}"
        )
    )
    assert [c.name for c in lpage.consumers] == ["proc"]
    assert lpage.next_offset() == 1 and lpage.missing == []
    assert r.parse_consumer_list(b'{"consumers":null}').consumers == []


def test_pause_consumer() -> None:
    until = datetime(2099, 1, 1, tzinfo=UTC)
    req = r.pause_consumer("S", "C", until)
    assert req.subject == "$JS.API.CONSUMER.PAUSE.S.C"
    assert body(req) == {"pause_until": "2099-01-01T00:00:00Z"}
    assert r.pause_consumer("S", "C", None).payload == b"{}"
    paused = r.parse_pause(
        reply(
            '{"type":"io.nats.jetstream.api.v1.consumer_pause_response","paused":true,'
            '"pause_until":"2099-01-01T00:00:00Z","pause_remaining":2275143285486600908}'
        )
    )
    assert paused.paused is True and paused.pause_until == until
    assert paused.pause_remaining is not None and paused.pause_remaining.days > 365 * 70
    resumed = r.parse_pause(
        reply(
            '{"type":"io.nats.jetstream.api.v1.consumer_pause_response","paused":false,'
            '"pause_until":"0001-01-01T00:00:00Z"}'
        )
    )
    assert resumed.paused is False and resumed.pause_until is None


def test_requests_have_no_headers_and_compact_json() -> None:
    req = r.create_consumer("S", ConsumerConfig(durable_name="d"))
    assert req.headers is None
    assert b" " not in req.payload


def test_parsers_accept_no_responders_as_jetstream_not_enabled() -> None:
    no_resp = Msg("_INBOX.x", "", b"", Headers(status=503), 1)
    for parse in (r.parse_account_info, r.parse_stream_info, r.parse_consumer_info):
        with pytest.raises(JetStreamNotEnabledError):
            parse(no_resp)
