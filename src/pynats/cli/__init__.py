"""The ``pynats`` command: NATS tools, an embedded server, a demo and benchmarks.

It needs the ``cli`` extra (click and rich): ``pip install 'pynats[cli]'``. Without
it, ``pynats`` prints that hint and exits 1. ``pynats --help`` lists the commands;
``src/pynats/cli/_common.py`` says how to add a command group.
"""

from __future__ import annotations

import importlib
import signal
import sys
from collections.abc import Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import click

__all__ = ["GROUPS", "build", "main"]

#: The modules of ``pynats.cli`` whose ``register(root)`` adds commands, in order.
#: Adding a command group is one line here (see ``_common``'s docstring).
GROUPS: tuple[str, ...] = (
    "core",  # pub, sub, request, reply
    "server",  # pynats server: run an embedded nats-server
    "demo",
    "bench",
    "stream",  # stream add/ls/info/edit/rm/purge/get/view
    "consumer",  # consumer add/ls/info/rm/next/pause/resume
    "kv",  # kv add/ls/status/put/get/create/update/del/purge/history/keys/watch/rm
    "object",  # object add/ls/status/put/get/info/rm/watch/seal
    "micro",  # micro ls/info/stats/ping
    "server_checks",  # server ping/info/check (after "server")
    "misc",  # rtt, events
    "context",  # context add/ls/select/show/rm
)

HINT = "pynats: the pynats command needs its extra: pip install 'pynats[cli]'"


class Terminated(BaseException):
    """Raised in the main thread by SIGTERM (exit code 143)."""


def build() -> click.Group:
    """The root command group with every group of :data:`GROUPS` registered."""
    import click

    from . import _common

    try:
        from importlib.metadata import version

        ver = version("pynats")
    except Exception:
        ver = "unknown"

    @click.group(
        cls=_common.NatsGroup,
        context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    )
    @click.version_option(ver, "--version", prog_name="pynats", message="%(prog)s %(version)s")
    def root() -> None:
        """NATS from the command line: publish, subscribe, request, reply, run a
        server, and see the pynats client at work (demo, bench).

        The connection options below are accepted before or after the subcommand.
        """

    root.params.extend(_common._global_options())
    for name in GROUPS:
        module: Any = importlib.import_module(f"{__name__}.{name}")
        module.register(root)
    return root


def _on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once: the cleanup runs undisturbed
    raise Terminated


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pynats`` command; returns the exit code."""
    try:
        import click
        import rich  # noqa: F401
    except ImportError:
        print(HINT, file=sys.stderr)
        return 1
    import nats_sync

    from . import _common

    args = list(sys.argv[1:] if argv is None else argv)
    previous: Any = None
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread
        pass
    try:
        root = build()
        with root.make_context("pynats", args) as ctx:
            rv = root.invoke(ctx)
            if _common.gave_up(ctx):
                return 1
        return rv if isinstance(rv, int) else 0
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except click.exceptions.Abort:
        return 130
    except KeyboardInterrupt:
        _newline_on_terminal()
        return 130
    except Terminated:
        return 143
    except (nats_sync.NatsError, TimeoutError) as e:
        _common.info(str(e) or type(e).__name__)
        return 1
    except BrokenPipeError:
        return 1
    except OSError as e:
        _common.info(f"{e.strerror or e}" + (f": {e.filename}" if e.filename else ""))
        return 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        try:
            sys.stdout.flush()
        except (OSError, ValueError):
            pass


def _newline_on_terminal() -> None:
    if sys.stderr.isatty():
        sys.stderr.write("\n")
