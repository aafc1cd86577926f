"""pynats: a NATS client for Python, plus helpers for running a local nats-server."""

from .server import NatsServer, free_port

__all__ = ["NatsServer", "free_port"]
__version__ = "0.1.0"
