"""The ``pynats`` command end to end against real servers: output, exit codes, bad
input, signals (subprocesses sent SIGTERM/SIGINT), templates, bytes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import nats_sync
from pynats.cli import main
from pynats.server import NatsServer, free_port

CMD = [sys.executable, "-m", "pynats.cli"]


@pytest.fixture(scope="module")
def srv() -> Iterator[NatsServer]:
    with NatsServer(jetstream=True) as server:
        yield server


@pytest.fixture(autouse=True)
def _no_ambient_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No $NATS_URL and no selected nats CLI context leak into the tests."""
    monkeypatch.delenv("NATS_URL", raising=False)
    monkeypatch.delenv("NATS_CONTEXT", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def run(
    *args: str, input: bytes | None = None, timeout: float = 20
) -> subprocess.CompletedProcess[bytes]:
    """``pynats ARGS`` in a subprocess."""
    return subprocess.run([*CMD, *args], input=input, capture_output=True, timeout=timeout)


def spawn(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*CMD, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL
    )


def wait_for(proc: subprocess.Popen[bytes], text: bytes, timeout: float = 10) -> bytes:
    """Read ``proc``'s stderr until a line contains ``text``; the lines read."""
    assert proc.stderr is not None
    seen = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        seen += line
        if text in line:
            return seen
        if not line and proc.poll() is not None:
            break
    raise AssertionError(f"{text!r} not seen; stderr so far: {seen!r}")


def finish(proc: subprocess.Popen[bytes], timeout: float = 10) -> tuple[bytes, bytes]:
    try:
        return proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# ------------------------------------------------------------------ the framework


def test_help_version_and_global_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in ("pub", "sub", "request", "reply", "server", "demo", "bench"):
        assert f"\n  {name} " in out
    for opt in (
        "--server",
        "--user",
        "--password",
        "--token",
        "--creds",
        "--nkey",
        "--tlscert",
        "--tlskey",
        "--tlsca",
        "--tlsfirst",
        "--context",
        "--timeout",
        "--js-domain",
    ):
        assert opt in out
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("pynats ")
    assert main(["pub", "--help"]) == 0
    assert "--js-domain" in capsys.readouterr().out  # global options after the subcommand


def test_bad_input_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pub", "x", "y", "--count", "-1"]) == 2
    assert "-1 is not in the range" in capsys.readouterr().err
    assert main(["nosuchcommand"]) == 2
    assert main(["pub", "x", "{{Nope}}"]) == 2
    assert "unknown template" in capsys.readouterr().err
    assert main(["pub", "x", "{{Random(5,2)}}"]) == 2
    assert main(["sub", "x", "--durable", "d"]) == 2
    assert main(["pub", "x", "y", "--sleep", "soon"]) == 2


def test_connection_refused_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"nats://127.0.0.1:{free_port()}"
    assert main(["pub", "x", "y", "-s", url, "--timeout", "1"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("pynats: cannot connect") and "\n" not in err


def test_global_options_before_or_after_and_nats_url(
    srv: NatsServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["-s", srv.url, "pub", "x", "a"]) == 0
    assert main(["pub", "x", "a", "--server", srv.url]) == 0
    monkeypatch.setenv("NATS_URL", srv.url)
    assert main(["pub", "x", "a"]) == 0
    assert "published 1 message(s) to x" in capsys.readouterr().out
    # --server wins over $NATS_URL; a subcommand's option over the root's
    bad = f"nats://127.0.0.1:{free_port()}"
    assert main(["pub", "x", "a", "-s", bad, "--timeout", "1"]) == 1
    assert main(["-s", bad, "pub", "x", "a", "-s", srv.url]) == 0


def test_clients_do_not_import_the_cli_libraries() -> None:
    code = (
        "import sys, nats_core, nats_sync, nats_anyio\n"
        "bad = [m for m in ('click', 'rich') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)


def test_hint_when_the_extra_is_missing(tmp_path: Path) -> None:
    for name in ("click", "rich"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("raise ImportError('not installed')\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    r = subprocess.run([*CMD, "--help"], capture_output=True, text=True, env=env, timeout=30)
    assert r.returncode == 1
    assert (
        r.stderr.strip() == "pynats: the pynats command needs its extra: pip install 'pynats[cli]'"
    )


# ------------------------------------------------------------------ core commands


def test_pub_sub_templates_headers_and_bytes(srv: NatsServer) -> None:
    sub = spawn("sub", "greet.*", "--count", "3", "-s", srv.url)
    wait_for(sub, b"listening on greet.*")
    r = run(
        "pub",
        "greet.joe",
        "hi {{Count}} {{Random(3,3)}} {{ID}}",
        "--count",
        "2",
        "-H",
        "K:{{Count}}",
        "-s",
        srv.url,
    )
    assert r.returncode == 0, r.stderr
    body = b"caf\xe9 \xff\x00 raw\n"
    r = run("pub", "greet.bin", "-s", srv.url, input=body)  # stdin, not UTF-8
    assert r.returncode == 0, r.stderr
    out, err = finish(sub)
    assert sub.returncode == 0, err
    text = out.decode("utf-8", "replace")
    assert '[#1] Received on "greet.joe"' in text and "K: 1" in text and "K: 2" in text
    lines = [ln for ln in text.splitlines() if ln.startswith("hi ")]
    assert [ln.split()[1] for ln in lines] == ["1", "2"]
    assert all(len(ln.split()[2]) == 3 and len(ln.split()[3]) == 22 for ln in lines)
    assert body in out  # the bytes as sent


def test_pub_file_sleep_and_raw_sub(srv: NatsServer, tmp_path: Path) -> None:
    f = tmp_path / "body"
    f.write_bytes(b"from a file {{Count}}")
    sub = spawn("sub", "raw.x", "--raw", "--count", "2", "-s", srv.url)
    wait_for(sub, b"listening")
    start = time.monotonic()
    r = run("pub", "raw.x", "--file", str(f), "--count", "2", "--sleep", "200ms", "-s", srv.url)
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - start >= 0.2
    out, _ = finish(sub)
    assert out == b"from a file 1\nfrom a file 2\n"


def test_sub_translate_headers_only_timestamps(srv: NatsServer) -> None:
    sub = spawn("sub", "tr.x", "--translate", "tr a-z A-Z", "--count", "1", "-s", srv.url)
    hdr = spawn("sub", "tr.x", "--headers-only", "--timestamps", "--count", "1", "-s", srv.url)
    wait_for(sub, b"listening")
    wait_for(hdr, b"listening")
    assert run("pub", "tr.x", "shout", "-H", "A:b", "-s", srv.url).returncode == 0
    out, _ = finish(sub)
    assert b"SHOUT" in out
    out, _ = finish(hdr)
    assert b"A: b" in out and b"shout" not in out
    assert b"[#1] 20" in out  # an ISO timestamp


def test_request_reply_command_echo_and_replies(srv: NatsServer) -> None:
    r1 = spawn("reply", "svc.cmd", "--command", "tr a-z A-Z", "--count", "1", "-s", srv.url)
    r2 = spawn("reply", "svc.many", "--echo", "-s", srv.url)
    r3 = spawn("reply", "svc.many", "second {{Count}}", "-s", srv.url)
    try:
        for p in (r1, r2, r3):
            wait_for(p, b"answering requests")
        r = run("request", "svc.cmd", "hello", "-s", srv.url)
        assert r.returncode == 0, r.stderr
        assert b"HELLO" in r.stdout
        r = run("request", "svc.many", "ping", "--replies", "2", "-H", "Who:me", "-s", srv.url)
        assert r.returncode == 0, r.stderr
        assert r.stdout.count(b"Received on") == 2
        assert b"second 1" in r.stdout and b"\nping\n" in r.stdout and b"Who: me" in r.stdout
        # fewer replies than asked within the timeout: exit 1, what came is printed
        r = run("request", "svc.many", "x", "--replies", "3", "--timeout", "300ms", "-s", srv.url)
        assert r.returncode == 1 and b"2 of 3 replies" in r.stderr
        finish(r1)
        assert r1.returncode == 0
    finally:
        for p in (r1, r2, r3):
            if p.poll() is None:
                p.kill()
                p.wait()


def test_request_without_responder_fails(
    srv: NatsServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["request", "nobody", "x", "--server", srv.url]) == 1
    assert "no responders" in capsys.readouterr().err


def test_jetstream_pub_and_sub_stream(srv: NatsServer) -> None:
    with nats_sync.connect(srv.url) as nc:
        js = nc.jetstream()
        js.create_stream(name="CLIJS", subjects=["clijs.>"])
    try:
        r = run("pub", "clijs.a", "m{{Count}}", "--count", "3", "--jetstream", "-s", srv.url)
        assert r.returncode == 0, r.stderr
        assert b"stored in stream CLIJS as sequence 3" in r.stdout
        r = run(
            "sub",
            "--stream",
            "CLIJS",
            "--durable",
            "reader",
            "--count",
            "2",
            "--raw",
            "-s",
            srv.url,
        )
        assert r.returncode == 0, r.stderr
        assert r.stdout == b"m1\nm2\n"
        r = run("sub", "--stream", "CLIJS", "--durable", "reader", "--count", "1", "-s", srv.url)
        assert b"m3" in r.stdout and b"stream sequence 3" in r.stdout  # acked ones are gone
        r = run("pub", "nostream.x", "y", "--jetstream", "-s", srv.url)
        assert r.returncode == 1 and r.stderr.count(b"\n") == 1
    finally:
        with nats_sync.connect(srv.url) as nc:
            nc.jetstream().delete_stream("CLIJS")


# ------------------------------------------------------------------ signals, lifecycle


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signals_end_sub_cleanly(srv: NatsServer, sig: signal.Signals, code: int) -> None:
    p = spawn("sub", "sig.x", "-s", srv.url)
    wait_for(p, b"listening")
    p.send_signal(sig)
    _, err = finish(p)
    assert p.returncode == code
    assert b"Traceback" not in err


def test_lifecycle_printed_on_reconnect() -> None:
    with NatsServer() as server:
        p = spawn("sub", "life.x", "-s", server.url)
        try:
            wait_for(p, b"listening")
            server.restart()
            seen = wait_for(p, b"reconnected to", timeout=15)
            assert b"disconnected" in seen
        finally:
            p.send_signal(signal.SIGTERM)
            finish(p)


# ------------------------------------------------------------------ pynats server


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_server_stops_on_signals_and_cleans_up(sig: signal.Signals, code: int) -> None:
    port = free_port()
    p = spawn("server", "--port", str(port), "--jetstream")
    assert p.stdout is not None
    line = p.stdout.readline().decode()
    assert f"listening on nats://127.0.0.1:{port}" in line
    store = Path(line.split("JetStream store ")[1].strip())
    assert store.is_dir()
    with nats_sync.connect(f"nats://127.0.0.1:{port}") as nc:
        assert nc.rtt() > 0
    p.send_signal(sig)
    _, err = finish(p)
    assert p.returncode == code
    assert b"Traceback" not in err
    assert not store.parent.exists()  # the temporary directory went


def test_server_port_taken_is_one_line(srv: NatsServer) -> None:
    r = run("server", "--port", str(srv.port))
    assert r.returncode == 1
    assert r.stderr.decode().strip().endswith("the port is already in use")
    assert b"Traceback" not in r.stderr and r.stderr.count(b"\n") == 1


def test_server_that_dies_is_reported() -> None:
    p = spawn("server", "--port", "0")
    wait_for(p, b"pid ")
    # kill its nats-server child
    children = Path(f"/proc/{p.pid}/task/{p.pid}/children").read_text().split()
    assert children, "no nats-server child"
    os.kill(int(children[0]), signal.SIGKILL)
    _, err = finish(p)
    assert p.returncode == 1
    assert b"nats-server exited unexpectedly" in err


# ------------------------------------------------------------------ demo, bench


def test_demo_against_a_given_server(srv: NatsServer, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(
        ["demo", "--server", srv.url, "--messages", "500", "--requests", "20", "--jobs", "30"]
    )
    out = capsys.readouterr().out
    assert rc == 0
    assert "started an embedded" not in out
    assert "got demo.orders.new: order 1" in out
    assert "30 jobs handled" in out
    assert "reply: echo: hello" in out
    assert "no responders" in out
    assert "stored in DEMO_ORDERS as sequence 3" in out
    assert "watch: color=green at revision 2" in out
    assert "1,048,576 bytes, identical" in out
    assert "call demo.greet: hello, you" in out
    assert "{" not in out  # readable, no dict reprs
    assert out.rstrip().endswith("done")


def test_demo_starts_its_own_server(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--messages", "100", "--requests", "5", "--jobs", "5"]) == 0
    out, err = capsys.readouterr()
    assert "started an embedded nats-server" in out and "identical" in out
    assert err == ""  # no lifecycle noise: the client closes before the server stops


def test_bench_validates_clients_and_sizes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--clients", "sync,nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown client(s) nope" in err and "sync,asyncio,trio,nats-py,nats.go" in err
    assert main(["bench", "--sizes", "16,big"]) == 2
    assert "payload sizes" in capsys.readouterr().err


def test_bench_tiny(srv: NatsServer, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(
        [
            "bench",
            "--server",
            srv.url,
            "--n",
            "300",
            "--r",
            "10",
            "--sizes",
            "16",
            "--clients",
            "sync,trio",
            "--parser",
            "--parser-count",
            "300",
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0
    head = next(ln for ln in out.splitlines() if ln.startswith("workload"))
    assert "/py" not in head and "/go" not in head  # no peers ran: no ratio columns
    for workload in ("pub", "pubsub", "reqrep"):
        line = next(ln for ln in out.splitlines() if ln.startswith(workload + " "))
        figures = line.split()[2:4]
        assert all(float(f.replace(",", "")) > 0 for f in figures), line
    assert "parser MSG" in out and "parser HMSG" in out


def test_framework_json_table_and_duration() -> None:
    import datetime as dt

    import click
    from click.testing import CliRunner

    from pynats.cli import _common as c

    @click.command(cls=c.NatsCommand)
    @c.json_option
    @click.option("--wait", type=c.Duration(), default=0.0)
    def show(wait: float) -> None:
        data = {"b": dt.timedelta(seconds=wait), "a": [b"x", dt.datetime(2024, 1, 2)]}
        c.emit(data, lambda: c.table(["name", "n"], [["one", 1]], right=["n"]))

    runner = CliRunner()
    r = runner.invoke(show, ["--json", "--wait", "250ms"])
    assert r.exit_code == 0, r.output
    assert r.output == '{\n  "a": [\n    "x",\n    "2024-01-02T00:00:00"\n  ],\n  "b": 0.25\n}\n'
    r = runner.invoke(show, ["--wait", "1m", "-s", "nats://x:1"])  # global options accepted
    assert r.exit_code == 0 and r.output.split() == ["name", "n", "one", "1"]
    assert runner.invoke(show, ["--wait", "-1"]).exit_code == 2
