"""The system account's monitoring API: $SYS subjects, request bodies, typed answers.

The sample answers follow the JSON shapes of nats-server's monitor.go and
events.go (Varz, Connz, Routez, Gatewayz, Leafz, Subsz, JSInfo, Accountz,
HealthStatus, ServerStatsMsg, ServerAPIResponse), written by hand.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from nats_core import Headers, Msg
from nats_core.errors import ConfigError
from nats_core.jetstream.models import APIStats
from nats_core.system import (
    CONN_CLOSED,
    Accountz,
    Connz,
    Gatewayz,
    Healthz,
    InvalidServerResponseError,
    Jsz,
    Leafz,
    Routez,
    ServerAPIError,
    ServerAPIResponse,
    ServerEndpoint,
    Statsz,
    Subsz,
    SysServerInfo,
    Varz,
    data_model,
    parse_server_response,
    ping_subject,
    server_request,
    server_subject,
)

SID = "NDJWE4SOUJOJT2TY5Y2YQEOAHGAK5VIGXTGKWJSFHVCII4ITI3LBHBUV"
SERVER = {
    "name": "n1",
    "host": "0.0.0.0",
    "id": SID,
    "cluster": "east",
    "ver": "2.14.0",
    "tags": ["az:1"],
    "jetstream": True,
    "flags": 3,
    "seq": 42,
    "time": "2026-05-01T10:00:00.123456789Z",
    "new_server_field": 1,
}
NOW = "2026-05-01T10:00:00.5Z"
T_NOW = datetime(2026, 5, 1, 10, 0, 0, 500000, tzinfo=UTC)


def envelope(data: dict[str, Any], key: str = "data") -> bytes:
    return json.dumps({"server": SERVER, key: data}).encode()


def reply(body: bytes, headers: Headers | None = None) -> Msg:
    return Msg("_INBOX.sys.1", "", body, headers, 1)


# --------------------------------------------------------------- subjects


def test_subjects() -> None:
    assert ping_subject("VARZ") == "$SYS.REQ.SERVER.PING.VARZ"
    assert ping_subject("connz") == "$SYS.REQ.SERVER.PING.CONNZ"
    assert ping_subject(ServerEndpoint.HEALTHZ) == "$SYS.REQ.SERVER.PING.HEALTHZ"
    assert server_subject("JSZ", SID) == f"$SYS.REQ.SERVER.{SID}.JSZ"
    every = {k.value for k in ServerEndpoint}
    assert every == {
        "VARZ",
        "CONNZ",
        "ROUTEZ",
        "GATEWAYZ",
        "LEAFZ",
        "SUBSZ",
        "JSZ",
        "ACCOUNTZ",
        "HEALTHZ",
        "STATSZ",
        "IDZ",
    }


@pytest.mark.parametrize("bad", ["", "a.b", "*", ">", "a b"])
def test_server_subject_needs_one_token(bad: str) -> None:
    with pytest.raises(ConfigError, match="server id"):
        server_subject("VARZ", bad)


def test_unknown_kind() -> None:
    with pytest.raises(ConfigError, match="unknown server endpoint 'PINGZ'"):
        ping_subject("PINGZ")


# ---------------------------------------------------------------- requests


def test_request_without_options_has_an_empty_body() -> None:
    req = server_request("VARZ")
    assert (req.subject, req.payload, req.headers, req.kind) == (
        "$SYS.REQ.SERVER.PING.VARZ",
        b"",
        None,
        ServerEndpoint.VARZ,
    )
    assert server_request("IDZ", server_id=SID).subject == f"$SYS.REQ.SERVER.{SID}.IDZ"


def test_connz_options_and_filters_in_one_flat_body() -> None:
    req = server_request(
        "CONNZ",
        sort="bytes_to",
        auth=True,
        subscriptions=True,
        offset=10,
        limit=5,
        state=CONN_CLOSED,
        account="A",
        user="bob",
        filter_subject="orders.>",
        cid=None,  # None: left to the server
        cluster="east",
        tags=("az:1",),
        exact_match=True,
    )
    assert json.loads(req.payload) == {
        "sort": "bytes_to",
        "auth": True,
        "subscriptions": True,
        "offset": 10,
        "limit": 5,
        "state": 1,
        "acc": "A",
        "user": "bob",
        "filter_subject": "orders.>",
        "cluster": "east",
        "tags": ["az:1"],
        "exact_match": True,
    }


def test_other_kinds_options() -> None:
    body = json.loads(server_request("HEALTHZ", js_enabled_only=True, details=True).payload)
    assert body == {"js-enabled-only": True, "details": True}
    body = json.loads(
        server_request("JSZ", accounts=True, streams=True, consumer=True, config=True).payload
    )
    assert body == {"accounts": True, "streams": True, "consumer": True, "config": True}
    body = json.loads(server_request("SUBSZ", subscriptions=True, test="a.b", limit=3).payload)
    assert body == {"subscriptions": True, "test": "a.b", "limit": 3}
    assert json.loads(server_request("LEAFZ", account="A").payload) == {"account": "A"}
    assert json.loads(server_request("ACCOUNTZ", account="A").payload) == {"account": "A"}
    assert json.loads(server_request("GATEWAYZ", account_name="A").payload) == {"account_name": "A"}
    assert json.loads(server_request("ROUTEZ", subscriptions_detail=True).payload) == {
        "subscriptions_detail": True
    }
    assert json.loads(server_request("STATSZ", server_name="n1").payload) == {"server_name": "n1"}


@pytest.mark.parametrize(
    ("kind", "options", "match"),
    [
        ("VARZ", {"limit": 1}, "VARZ takes no option 'limit'"),
        ("CONNZ", {"acc": "A"}, "CONNZ takes no option 'acc'"),
        ("IDZ", {"cluster": "east"}, "IDZ takes no option 'cluster'"),
        ("CONNZ", {"sort": "size"}, "option sort"),
        ("CONNZ", {"state": 3}, "option state"),
        ("CONNZ", {"limit": -1}, "option limit"),
        ("CONNZ", {"limit": True}, "option limit"),
        ("CONNZ", {"auth": 1}, "option auth"),
        ("JSZ", {"account": 1}, "option account"),
        ("VARZ", {"tags": "az:1"}, "option tags"),
    ],
)
def test_bad_options(kind: str, options: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        server_request(kind, **options)


def test_gzip_asks_with_accept_encoding() -> None:
    req = server_request("CONNZ", gzip=True)
    assert req.headers is not None and req.headers["Accept-Encoding"] == "gzip"


# ---------------------------------------------------------------- answers


def test_server_info_of_every_answer() -> None:
    res = parse_server_response(envelope({"server_id": SID}), "VARZ")
    srv = res.server
    assert isinstance(srv, SysServerInfo)
    assert (srv.name, srv.id, srv.cluster, srv.ver, srv.tags) == (
        "n1",
        SID,
        "east",
        "2.14.0",
        ["az:1"],
    )
    assert srv.jetstream is True and srv.flags == 3 and srv.seq == 42
    assert srv.time == datetime(2026, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)
    assert srv.extra == {"new_server_field": 1}
    assert res.raw["server"]["name"] == "n1"


def test_varz() -> None:
    data = {
        "server_id": SID,
        "server_name": "n1",
        "version": "2.14.0",
        "go": "go1.24",
        "host": "0.0.0.0",
        "port": 4222,
        "max_payload": 1048576,
        "ping_interval": 120000000000,
        "jetstream": {"config": {"max_memory": 1}},
        "start": "2026-05-01T09:00:00Z",
        "now": NOW,
        "uptime": "1h0m0s",
        "mem": 1000,
        "cores": 8,
        "cpu": 1.5,
        "connections": 3,
        "total_connections": 10,
        "routes": 2,
        "leafnodes": 0,
        "in_msgs": 5,
        "out_msgs": 6,
        "in_bytes": 7,
        "out_bytes": 8,
        "slow_consumers": 0,
        "subscriptions": 44,
        "system_account": "$SYS",
    }
    res = parse_server_response(envelope(data), Varz)
    v = res.data
    assert isinstance(v, Varz) and res.kind is ServerEndpoint.VARZ
    assert (v.server_name, v.version, v.port, v.cpu, v.subscriptions) == (
        "n1",
        "2.14.0",
        4222,
        1.5,
        44,
    )
    assert v.now == T_NOW and v.jetstream == {"config": {"max_memory": 1}}
    assert v.extra == {"go": "go1.24", "ping_interval": 120000000000}


def test_connz() -> None:
    conn = {
        "cid": 5,
        "kind": "Client",
        "type": "nats",
        "ip": "127.0.0.1",
        "port": 50000,
        "start": "2026-05-01T09:59:00Z",
        "last_activity": NOW,
        "rtt": "1.2ms",
        "uptime": "1m0s",
        "idle": "0s",
        "pending_bytes": 0,
        "in_msgs": 1,
        "out_msgs": 2,
        "in_bytes": 3,
        "out_bytes": 4,
        "subscriptions": 1,
        "name": "app",
        "lang": "python3",
        "version": "0.1.0",
        "authorized_user": "bob",
        "account": "A",
        "subscriptions_list": ["orders.>"],
    }
    data = {
        "server_id": SID,
        "now": NOW,
        "num_connections": 1,
        "total": 1,
        "offset": 0,
        "limit": 1024,
        "connections": [conn],
    }
    c = parse_server_response(envelope(data), Connz).data
    assert (c.num_connections, c.total, c.limit) == (1, 1, 1024)
    assert c.connections is not None
    (ci,) = c.connections
    assert (ci.cid, ci.name, ci.account, ci.rtt, ci.subscriptions_list) == (
        5,
        "app",
        "A",
        "1.2ms",
        ["orders.>"],
    )
    assert ci.extra == {"kind": "Client", "type": "nats", "lang": "python3"}


def test_routez_gatewayz_leafz() -> None:
    routez = {
        "server_id": SID,
        "server_name": "n1",
        "now": NOW,
        "num_routes": 1,
        "routes": [
            {
                "rid": 7,
                "remote_id": "NB",
                "remote_name": "n2",
                "did_solicit": True,
                "ip": "10.0.0.2",
                "port": 6222,
                "pending_size": 0,
                "in_msgs": 1,
                "out_msgs": 1,
                "in_bytes": 1,
                "out_bytes": 1,
                "subscriptions": 3,
                "compression": "s2_auto",
            }
        ],
        "import": {"allow": ["a"]},
    }
    r = parse_server_response(envelope(routez), Routez).data
    assert r.routes is not None and r.routes[0].remote_name == "n2"
    assert r.extra == {"import": {"allow": ["a"]}}
    gatewayz = {
        "server_id": SID,
        "now": NOW,
        "name": "east",
        "outbound_gateways": {"west": {"configured": True, "connection": {"cid": 9}}},
        "inbound_gateways": {"west": [{"configured": False}]},
    }
    g = parse_server_response(envelope(gatewayz), Gatewayz).data
    assert g.name == "east" and g.outbound_gateways is not None
    assert g.outbound_gateways["west"]["connection"]["cid"] == 9
    leafz = {
        "server_id": SID,
        "now": NOW,
        "leafnodes": 1,
        "leafs": [{"id": 3, "name": "leaf1", "account": "A", "ip": "10.0.0.3", "port": 7422}],
    }
    lz = parse_server_response(envelope(leafz), Leafz).data
    assert lz.leafnodes == 1 and lz.leafs is not None and lz.leafs[0].name == "leaf1"


def test_subsz() -> None:
    data = {
        "server_id": SID,
        "now": NOW,
        "num_subscriptions": 10,
        "num_cache": 2,
        "num_inserts": 10,
        "num_removes": 0,
        "num_matches": 4,
        "cache_hit_rate": 0.5,
        "max_fanout": 1,
        "avg_fanout": 1,
        "total": 1,
        "offset": 0,
        "limit": 1024,
        "subscriptions_list": [
            {"account": "A", "subject": "a.b", "qgroup": "q", "sid": "1", "msgs": 3, "cid": 5}
        ],
    }
    s = parse_server_response(envelope(data), Subsz).data
    assert s.cache_hit_rate == 0.5 and s.avg_fanout == 1.0 and isinstance(s.avg_fanout, float)
    assert s.subscriptions_list is not None
    assert (s.subscriptions_list[0].subject, s.subscriptions_list[0].qgroup) == ("a.b", "q")


def test_jsz() -> None:
    data = {
        "server_id": SID,
        "now": NOW,
        "config": {"max_memory": 1, "store_dir": "/tmp"},
        "memory": 10,
        "storage": 20,
        "reserved_memory": 0,
        "reserved_storage": 0,
        "accounts": 1,
        "ha_assets": 2,
        "api": {"level": 4, "total": 100, "errors": 1},
        "streams": 2,
        "consumers": 3,
        "messages": 40,
        "bytes": 50,
        "meta_cluster": {"name": "east", "leader": "n1", "cluster_size": 3},
        "account_details": [
            {
                "name": "A",
                "id": "A",
                "memory": 1,
                "storage": 2,
                "api": {"total": 5, "errors": 0},
                "stream_detail": [{"name": "ORDERS"}],
            }
        ],
        "total": 1,
    }
    j = parse_server_response(envelope(data), Jsz).data
    assert isinstance(j.api, APIStats) and j.api.level == 4 and j.api.total == 100
    assert (j.streams, j.consumers, j.messages, j.bytes) == (2, 3, 40, 50)
    assert j.meta_cluster == {"name": "east", "leader": "n1", "cluster_size": 3}
    assert j.account_details is not None
    assert j.account_details[0].name == "A"
    assert j.account_details[0].stream_detail == [{"name": "ORDERS"}]
    assert j.disabled is False


def test_accountz() -> None:
    names = parse_server_response(
        envelope({"server_id": SID, "now": NOW, "system_account": "$SYS", "accounts": ["A"]}),
        Accountz,
    ).data
    assert names.accounts == ["A"] and names.system_account == "$SYS"
    detail = parse_server_response(
        envelope({"server_id": SID, "now": NOW, "account_detail": {"account_name": "A"}}),
        Accountz,
    ).data
    assert detail.account_detail == {"account_name": "A"}


def test_healthz() -> None:
    ok = parse_server_response(envelope({"status": "ok"}), Healthz).data
    assert ok.ok and ok.errors is None
    bad = {
        "status": "unavailable",
        "status_code": 503,
        "errors": [{"type": "STREAM", "account": "A", "stream": "S", "error": "not current"}],
    }
    h = parse_server_response(envelope(bad), Healthz).data
    assert not h.ok and h.status_code == 503 and h.errors is not None
    assert (h.errors[0].type, h.errors[0].stream) == ("STREAM", "S")


def test_statsz_uses_its_own_key() -> None:
    statsz = {
        "start": "2026-05-01T09:00:00Z",
        "mem": 1,
        "cores": 2,
        "cpu": 0,
        "connections": 3,
        "total_connections": 4,
        "active_accounts": 1,
        "subscriptions": 5,
        "sent": {"msgs": 6, "bytes": 7, "routes": {"msgs": 1, "bytes": 1}},
        "received": {"msgs": 8, "bytes": 9},
        "slow_consumers": 0,
        "active_servers": 3,
    }
    res = parse_server_response(envelope(statsz, key="statsz"), Statsz)
    st = res.data
    assert st.sent is not None and (st.sent.msgs, st.sent.bytes) == (6, 7)
    assert st.sent.extra == {"routes": {"msgs": 1, "bytes": 1}}
    assert st.cpu == 0.0 and st.extra == {"active_servers": 3}


def test_idz_is_bare() -> None:
    body = json.dumps({"name": "n1", "host": "0.0.0.0", "id": SID}).encode()
    res = parse_server_response(body, "IDZ")
    assert res.kind is ServerEndpoint.IDZ and res.server.id == SID and res.data.id == SID
    typed: ServerAPIResponse[SysServerInfo] = parse_server_response(body, SysServerInfo)
    assert typed.data.name == "n1"


def test_data_model() -> None:
    assert data_model("connz") is Connz
    assert data_model(ServerEndpoint.STATSZ) is Statsz
    with pytest.raises(ConfigError):
        parse_server_response(b"{}", APIStats)


# ------------------------------------------------------- errors, encodings


def test_error_answer_raises_with_the_server() -> None:
    body = json.dumps(
        {
            "server": SERVER,
            "error": {"code": 400, "description": "invalid character 'x' looking for value"},
        }
    ).encode()
    with pytest.raises(ServerAPIError) as info:
        parse_server_response(body, "CONNZ")
    err = info.value
    assert err.code == 400 and err.err_code == 0 and "invalid character" in err.description
    assert err.server is not None and err.server.name == "n1"
    assert "400" in str(err) and "n1" in str(err)


def test_error_answer_without_server() -> None:
    body = json.dumps({"error": {"code": 500, "err_code": 10039, "description": "boom"}}).encode()
    with pytest.raises(ServerAPIError) as info:
        parse_server_response(body, "JSZ")
    assert info.value.code == 500 and info.value.err_code == 10039
    assert str(info.value) == "system api error 500: boom"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        json.dumps({"server": SERVER}).encode(),  # no data
        json.dumps({"server": SERVER, "data": [1]}).encode(),
        json.dumps({"server": SERVER, "error": "boom"}).encode(),
    ],
)
def test_unreadable_answers(body: bytes) -> None:
    with pytest.raises(InvalidServerResponseError):
        parse_server_response(body, "VARZ")


def test_statsz_data_key_is_not_data() -> None:
    with pytest.raises(InvalidServerResponseError, match="no data"):
        parse_server_response(envelope({"mem": 1}), "STATSZ")


def test_a_status_message_is_not_an_answer() -> None:
    with pytest.raises(InvalidServerResponseError, match="503"):
        parse_server_response(reply(b"", Headers(status=503)), "VARZ")


def test_gzip_answer_is_inflated() -> None:
    body = envelope({"status": "ok"})
    msg = reply(gzip.compress(body), Headers({"Content-Encoding": "gzip"}))
    assert parse_server_response(msg, Healthz).data.ok
    identity = reply(body, Headers({"Content-Encoding": "identity"}))
    assert parse_server_response(identity, Healthz).data.ok
    assert parse_server_response(reply(body), Healthz).data.ok


def test_bad_or_unknown_compression() -> None:
    cut = gzip.compress(envelope({"status": "ok"}))[:-12]
    with pytest.raises(InvalidServerResponseError, match="cut short"):
        parse_server_response(reply(cut, Headers({"Content-Encoding": "gzip"})), Healthz)
    with pytest.raises(InvalidServerResponseError, match="inflate"):
        parse_server_response(reply(b"garbage", Headers({"Content-Encoding": "gzip"})), Healthz)
    with pytest.raises(InvalidServerResponseError, match="snappy"):
        parse_server_response(reply(b"x", Headers({"Content-Encoding": "snappy"})), Healthz)
