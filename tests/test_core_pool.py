"""Server URLs, the server pool and the reconnect policy."""

from __future__ import annotations

import random

import pytest

from nats_core import ServerAddress, ServerPool, parse_url
from nats_core.errors import LocalProtocolError

# ------------------------------------------------------------------ parse_url


@pytest.mark.parametrize(
    ("url", "scheme", "host", "port"),
    [
        ("nats://example.com:4333", "nats", "example.com", 4333),
        ("nats://example.com", "nats", "example.com", 4222),
        ("tls://example.com", "tls", "example.com", 4222),
        ("ws://example.com", "ws", "example.com", 80),
        ("wss://example.com", "wss", "example.com", 443),
        ("ws://example.com:8080", "ws", "example.com", 8080),
        ("example.com", "nats", "example.com", 4222),
        ("example.com:5000", "nats", "example.com", 5000),
        ("  nats://padded:1  ", "nats", "padded", 1),
        ("NATS://Upper:4222", "nats", "upper", 4222),
        ("nats://127.0.0.1:4222", "nats", "127.0.0.1", 4222),
        ("nats://[::1]:4222", "nats", "::1", 4222),
        ("[::1]:4223", "nats", "::1", 4223),
        ("tls://[fe80::1]", "tls", "fe80::1", 4222),
    ],
)
def test_parse_url(url: str, scheme: str, host: str, port: int) -> None:
    s = parse_url(url)
    assert (s.scheme, s.host, s.port) == (scheme, host, port)
    assert s.username is None
    assert s.password is None
    assert not s.discovered


def test_ipv6_url_and_hostport_keep_brackets() -> None:
    s = parse_url("nats://[::1]:4222")
    assert s.url == "nats://[::1]:4222"
    assert s.hostport == "[::1]:4222"


def test_tls_and_websocket_flags() -> None:
    assert [parse_url(f"{sch}://h").tls for sch in ("nats", "tls", "ws", "wss")] == [
        False,
        True,
        False,
        True,
    ]
    assert [parse_url(f"{sch}://h").websocket for sch in ("nats", "tls", "ws", "wss")] == [
        False,
        False,
        True,
        True,
    ]


def test_parse_url_credentials() -> None:
    s = parse_url("nats://us%3Aer:p%40ss@host:4222")
    assert (s.username, s.password) == ("us:er", "p@ss")
    t = parse_url("nats://token@host")
    assert (t.username, t.password) == ("token", None)
    e = parse_url("nats://user:@host")
    assert (e.username, e.password) == ("user", "")


def test_default_scheme_for_discovered_urls() -> None:
    s = parse_url("10.0.0.1:4222", discovered=True, default_scheme="tls")
    assert s.scheme == "tls"
    assert s.discovered


def test_repr_and_url_hide_credentials() -> None:
    s = parse_url("nats://alice:hunter2@host:4222")
    for text in (repr(s), s.url, s.hostport, str(s)):
        assert "hunter2" not in text
        assert "alice" not in text
    assert repr(s) == "ServerAddress('nats://host:4222' (with credentials))"
    assert repr(parse_url("nats://host")) == "ServerAddress('nats://host:4222')"


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("http://host:80", "scheme must be nats, tls, ws or wss, not 'http'"),
        ("unix:///tmp/sock", "scheme must be"),
        ("nats://", "no host"),
        ("nats://:4222", "no host"),
        ("nats://host:notaport", "invalid server URL"),
        ("nats://host:99999", "invalid server URL"),
        ("nats://[::1:4222", "invalid server URL"),
    ],
)
def test_bad_urls(url: str, match: str) -> None:
    with pytest.raises(LocalProtocolError, match=match) as info:
        parse_url(url)
    assert repr(url) in str(info.value)


def test_non_string_url() -> None:
    with pytest.raises(LocalProtocolError):
        parse_url(None)  # type: ignore[arg-type]


# ----------------------------------------------------------------------- pool

URLS = [f"nats://s{i}:4222" for i in range(8)]


def hosts(pool: ServerPool) -> list[str]:
    return [s.host for s in pool.servers]


def test_no_randomize_keeps_order() -> None:
    pool = ServerPool(URLS, randomize=False)
    assert hosts(pool) == [f"s{i}" for i in range(8)]
    assert len(pool) == 8


def test_shuffle_is_deterministic_with_a_seeded_rng() -> None:
    a = ServerPool(URLS, rng=random.Random(42))
    b = ServerPool(URLS, rng=random.Random(42))
    assert hosts(a) == hosts(b)
    expected = [f"s{i}" for i in range(8)]
    random.Random(42).shuffle(expected)
    assert hosts(a) == expected
    assert hosts(a) != [f"s{i}" for i in range(8)]  # seed 42 does move them
    assert sorted(hosts(a)) == sorted(f"s{i}" for i in range(8))


def test_comma_separated_string() -> None:
    pool = ServerPool("nats://a:1, nats://b:2,", randomize=False)  # type: ignore[arg-type]
    assert hosts(pool) == ["a", "b"]


@pytest.mark.parametrize("urls", [[], "", " , "])
def test_empty_pool_refused(urls: list[str]) -> None:
    with pytest.raises(LocalProtocolError, match="no server URL"):
        ServerPool(urls)


def test_bad_url_in_pool_refused() -> None:
    with pytest.raises(LocalProtocolError, match="'http://x'"):
        ServerPool(["nats://ok", "http://x"])


def test_first_and_next_server_rotate() -> None:
    pool = ServerPool(["nats://a", "nats://b", "nats://c"], randomize=False)
    assert pool.first_server().host == "a"
    seen = []
    for _ in range(6):
        s = pool.next_server()
        assert s is not None
        seen.append(s.host)
    assert seen == ["b", "c", "a", "b", "c", "a"]
    assert pool.current is not None
    assert pool.current.host == "a"


def test_next_server_without_first() -> None:
    pool = ServerPool(["nats://a", "nats://b"], randomize=False)
    s = pool.next_server()
    assert s is not None
    assert s.host == "a"


def test_exhausted_servers_are_dropped() -> None:
    pool = ServerPool(["nats://a", "nats://b"], randomize=False, max_reconnect_attempts=2)
    a = pool.first_server()
    a.reconnects = 2  # the adapter counts failed attempts
    b = pool.next_server()
    assert b is not None
    assert b.host == "b"
    assert hosts(pool) == ["b"]
    b.reconnects = 1
    assert pool.next_server() is b  # one attempt left
    b.reconnects = 2
    assert pool.next_server() is None
    assert pool.current is None
    assert len(pool) == 0


def test_unlimited_reconnect_attempts() -> None:
    pool = ServerPool(["nats://a"], max_reconnect_attempts=-1)
    a = pool.first_server()
    a.reconnects = 10**6
    assert pool.next_server() is a


def test_repeated_auth_errors_drop_a_server() -> None:
    pool = ServerPool(["nats://a", "nats://b"], randomize=False)
    a = pool.first_server()
    a.auth_errors = 2
    assert pool.next_server() is not None
    assert hosts(pool) == ["b"]


def test_update_discovered_adds_and_removes() -> None:
    pool = ServerPool(["nats://seed:4222"], randomize=False)
    pool.first_server()
    added, removed = pool.update_discovered(["10.0.0.1:4222", "10.0.0.2:4222"], tls=False)
    assert added == ["10.0.0.1:4222", "10.0.0.2:4222"]
    assert removed == []
    assert [s.hostport for s in pool.servers] == ["seed:4222", "10.0.0.1:4222", "10.0.0.2:4222"]
    assert [s.scheme for s in pool.servers[1:]] == ["nats", "nats"]
    assert all(s.discovered for s in pool.servers[1:])
    # Same list again: nothing changes.
    assert pool.update_discovered(["10.0.0.1:4222", "10.0.0.2:4222"], tls=False) == ([], [])
    # The cluster shrinks: discovered servers go; configured ones stay.
    added, removed = pool.update_discovered(["10.0.0.2:4222"], tls=False)
    assert (added, removed) == ([], ["10.0.0.1:4222"])
    assert [s.hostport for s in pool.servers] == ["seed:4222", "10.0.0.2:4222"]
    # An empty list (a server that does not advertise) changes nothing, as in nats.go.
    assert pool.update_discovered([], tls=False) == ([], [])
    assert [s.hostport for s in pool.servers] == ["seed:4222", "10.0.0.2:4222"]


def test_update_discovered_keeps_the_current_server() -> None:
    pool = ServerPool(["nats://seed:4222"], randomize=False)
    pool.update_discovered(["10.0.0.1:4222"], tls=False)
    pool.first_server()
    cur = pool.next_server()
    assert cur is not None
    assert cur.hostport == "10.0.0.1:4222"
    assert pool.update_discovered(["10.0.0.7:4222"], tls=False) == (["10.0.0.7:4222"], [])
    assert cur in pool.servers


def test_update_discovered_tls_and_aliases_and_junk() -> None:
    pool = ServerPool(["nats://localhost:4222"], randomize=False)
    added, _ = pool.update_discovered(
        ["127.0.0.1:4222", "[::1]:4222", "nats://[bad", "h:99999", "10.0.0.5:4222"], tls=True
    )
    # Loopback aliases of a configured server and invalid URLs are skipped.
    assert added == ["10.0.0.5:4222"]
    assert pool.servers[-1].scheme == "tls"


@pytest.mark.parametrize(
    "urls",
    [["tls://a:4222", "nats://b:4222", "c:4222"], ["nats://b:4222", "wss://a:443", "ws://d"]],
)
def test_one_tls_url_makes_every_server_tls(urls: list[str]) -> None:
    pool = ServerPool(urls, randomize=False)
    assert pool.secure
    assert {s.scheme for s in pool.servers} <= {"tls", "wss"}
    assert [s.websocket for s in pool.servers] == [u.startswith("ws") for u in urls]


@pytest.mark.parametrize("advertised", ["nats://10.0.0.7:4222", "10.0.0.7:4222"])
def test_a_secure_pool_never_takes_a_plain_discovered_server(advertised: str) -> None:
    # The TLS downgrade: a server advertising nats:// must not lead to a plain dial.
    pool = ServerPool(["tls://a:4222"], randomize=False)
    pool.update_discovered([advertised], tls=False)
    assert [s.url for s in pool.servers] == ["tls://a:4222", "tls://10.0.0.7:4222"]
    ws = ServerPool(["wss://a"], randomize=False)
    ws.update_discovered(["ws://10.0.0.7:8080", "10.0.0.8:8080"], tls=False, websocket=True)
    assert [s.scheme for s in ws.servers] == ["wss", "wss", "wss"]


def test_mark_secure_upgrades_the_pool_and_later_discoveries() -> None:
    pool = ServerPool(["nats://a", "ws://b"], randomize=False)
    pool.update_discovered(["nats://c:4222"], tls=False)
    assert not pool.secure and pool.servers[-1].scheme == "nats"
    pool.mark_secure()
    assert [s.scheme for s in pool.servers] == ["tls", "wss", "tls"]
    pool.update_discovered(["nats://c:4222", "nats://d:4222"], tls=False)
    assert pool.servers[-1].url == "tls://d:4222"


def test_update_discovered_ignored() -> None:
    pool = ServerPool(["nats://a"], ignore_discovered=True)
    assert pool.update_discovered(["10.0.0.1:4222"], tls=False) == ([], [])
    assert len(pool) == 1


def test_update_discovered_shuffles_new_servers_with_the_rng() -> None:
    urls = [f"10.0.0.{i}:4222" for i in range(10)]
    a = ServerPool(["nats://seed"], rng=random.Random(3))
    b = ServerPool(["nats://seed"], rng=random.Random(3))
    a.update_discovered(urls, tls=False)
    b.update_discovered(urls, tls=False)
    assert [s.hostport for s in a.servers] == [s.hostport for s in b.servers]
    assert [s.hostport for s in a.servers[1:]] != urls  # shuffled
    assert sorted(s.hostport for s in a.servers[1:]) == sorted(urls)


# The reconnect policy (next_reconnect) is tested in test_core_reconnect.py.


def test_server_address_is_compared_by_identity() -> None:
    a = parse_url("nats://h")
    b = parse_url("nats://h")
    assert a != b
    assert a == a
    assert isinstance(a, ServerAddress)
