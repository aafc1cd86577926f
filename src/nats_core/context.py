"""Connection contexts shared with the ``nats`` CLI (ADR-21), sans-IO.

A context is a named set of connection settings in a JSON file; the CLI (and
jsm.go's ``natscontext``, which it uses) keeps them under
``$XDG_CONFIG_HOME/nats`` (``~/.config/nats`` when unset)::

    nats/context.txt            the selected context's name
    nats/context/<name>.json    one context

This module does no I/O: the adapter finds the paths here
(:func:`config_dir`, :func:`context_path`, :func:`selected_context_path`),
reads the files, and hands their text to :func:`parse_selected_context` and
:func:`parse_context`. :meth:`NatsContext.connect_options` maps a context to
``connect()`` keyword options and :func:`merge_connect_options` lets the
caller's own options win::

    env = dict(os.environ)
    name = resolve_context_name(None, read_or_none(selected_context_path(env)))
    ctx = parse_context(read(context_path(name, env)), name, env=env)
    nc = connect(**merge_connect_options(ctx.connect_options(env), user_kwargs))

As in jsm.go, ``~`` and ``$VAR`` are expanded in the path fields (``creds``,
``nkey``, ``cert``, ``key``, ``ca``) when ``env`` is given; secrets may be
written as ``env://NAME`` or ``data:;base64,...`` references, and paths as
``file://`` ones. Fields this client cannot honour (``nsc`` without
``creds``, ``socks_proxy``, the Windows certificate store, ``op://``
secrets) are a :class:`~nats_core.errors.ConfigError` rather than silently
ignored; unknown fields are kept in ``extra`` and ignored.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ._client_options import parse_credentials
from .errors import ConfigError

__all__ = [
    "DEFAULT_URL",
    "NatsContext",
    "check_context_name",
    "config_dir",
    "context_path",
    "known_contexts",
    "merge_connect_options",
    "parse_context",
    "parse_selected_context",
    "resolve_context_name",
    "selected_context_path",
]

#: The server a context without ``url`` connects to (ADR-21).
DEFAULT_URL = "nats://localhost:4222"

_STR_FIELDS = (
    "description",
    "url",
    "user",
    "password",
    "token",
    "creds",
    "nkey",
    "user_jwt",
    "user_seed",
    "cert",
    "key",
    "ca",
    "nsc",
    "jetstream_domain",
    "jetstream_api_prefix",
    "jetstream_event_prefix",
    "inbox_prefix",
    "socks_proxy",
    "color_scheme",
    "windows_cert_store",
    "windows_cert_match_by",
    "windows_cert_match",
)
_PATH_FIELDS = ("creds", "nkey", "cert", "key", "ca")
_VAR = re.compile(r"\$\{([^}]*)\}|\$([A-Za-z0-9_]+)")

#: connect() options that authenticate: an explicit one replaces all of the context's.
_AUTH_OPTIONS = frozenset(
    {
        "user",
        "password",
        "token",
        "user_credentials",
        "nkeys_seed",
        "nkeys_seed_str",
        "nkey_seed",
        "user_jwt",
        "signature_cb",
        "nkey_public",
    }
)
_TLS_FILE_OPTIONS = frozenset({"tls_cert_file", "tls_key_file", "tls_ca_file"})


# ------------------------------------------------------------------ names


def check_context_name(name: str) -> str:
    """``name`` when it can name a context: not empty, no ``..``, no ``/`` or ``\\``."""
    if not isinstance(name, str) or not name:
        raise ConfigError("a context name must not be empty")
    if ".." in name or "/" in name or "\\" in name:
        raise ConfigError(f"invalid context name {name!r}: no '..', '/' or '\\'")
    return name


def parse_selected_context(text: str | bytes | None) -> str | None:
    """The name in ``context.txt`` (spaces and newlines trimmed), or ``None``
    when the file is missing (``None``) or empty."""
    if text is None:
        return None
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    name = text.strip()
    if not name:
        return None
    try:
        return check_context_name(name)
    except ConfigError as e:
        raise ConfigError(f"the selected context (context.txt): {e}") from None


def resolve_context_name(name: str | None, selected_text: str | bytes | None) -> str | None:
    """The context to load: ``name`` when given, else the selected one (the
    text of ``context.txt``, or ``None``), else ``None`` (no context: the
    defaults, as the CLI does)."""
    if name:
        return check_context_name(name)
    return parse_selected_context(selected_text)


# ------------------------------------------------------------------ paths


def _join(*parts: str) -> str:
    out = parts[0]
    for p in parts[1:]:
        out = out.rstrip("/") + "/" + p
    return out


def config_dir(env: Mapping[str, str], home: str | None = None) -> str:
    """``$XDG_CONFIG_HOME/nats``, or ``<home>/.config/nats`` when it is unset or
    empty (``home`` defaults to ``env["HOME"]``)."""
    xdg = env.get("XDG_CONFIG_HOME")
    if xdg:
        return _join(xdg, "nats")
    home = home or env.get("HOME")
    if not home:
        raise ConfigError("cannot find the nats config directory: neither XDG_CONFIG_HOME nor HOME")
    return _join(home, ".config", "nats")


def context_path(name: str, env: Mapping[str, str], home: str | None = None) -> str:
    """The file of context ``name``: ``<config dir>/context/<name>.json``."""
    return _join(config_dir(env, home), "context", check_context_name(name) + ".json")


def selected_context_path(env: Mapping[str, str], home: str | None = None) -> str:
    """The file holding the selected context's name: ``<config dir>/context.txt``."""
    return _join(config_dir(env, home), "context.txt")


def known_contexts(filenames: Iterable[str]) -> list[str]:
    """The context names among the file names of ``<config dir>/context``
    (``<name>.json`` with a valid name), sorted."""
    names = []
    for f in filenames:
        if f.endswith(".json") and len(f) > 5:
            name = f[:-5]
            if ".." not in name and "/" not in name and "\\" not in name:
                names.append(name)
    return sorted(names)


# ------------------------------------------------------------------ expansion


def _expand(value: str, env: Mapping[str, str], home: str | None) -> str:
    """``$VAR`` / ``${VAR}`` from ``env`` (unset: empty, as Go's
    ``os.ExpandEnv``), then a leading ``~`` to ``home``."""
    value = _VAR.sub(lambda m: env.get(m.group(1) or m.group(2), ""), value)
    home = home or env.get("HOME")
    if home and (value == "~" or value.startswith("~/")):
        value = home + value[1:]
    return value


def _scheme(value: str) -> str:
    low = value[:8].lower()
    for scheme in ("file://", "env://", "op://", "nsc://"):
        if low.startswith(scheme):
            return scheme[:-3]
    return "data" if low.startswith("data:") else ""


# ------------------------------------------------------------------ context


def _no_signature(nonce: bytes) -> bytes:
    """A bearer JWT needs no signature (what jsm.go sends for ``user_jwt`` alone)."""
    return b""


@dataclass(frozen=True, slots=True)
class NatsContext:
    """One context: the JSON keys of ADR-21 (and jsm.go), strings unless noted.

    ``name`` is the context's name (its file name). Secrets are hidden from
    ``repr``. Unknown keys are kept in ``extra``.
    """

    name: str = ""
    description: str = ""
    #: Comma-separated server URLs; :data:`DEFAULT_URL` when empty.
    url: str = ""
    user: str = ""
    password: str = field(default="", repr=False)
    token: str = field(default="", repr=False)
    #: Path of a ``.creds`` file.
    creds: str = ""
    #: Path of an NKey seed file.
    nkey: str = ""
    user_jwt: str = field(default="", repr=False)
    user_seed: str = field(default="", repr=False)
    cert: str = ""
    key: str = ""
    ca: str = ""
    #: TLS handshake before the server's INFO.
    tls_first: bool = False
    #: ``nsc://operator/account/user`` lookup (needs the ``nsc`` tool).
    nsc: str = ""
    jetstream_domain: str = ""
    jetstream_api_prefix: str = ""
    jetstream_event_prefix: str = ""
    inbox_prefix: str = ""
    socks_proxy: str = ""
    color_scheme: str = ""
    windows_cert_store: str = ""
    windows_cert_match_by: str = ""
    windows_cert_match: str = ""
    windows_ca_certs_match: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def servers(self) -> str:
        """The server URLs to connect to (``url``, or :data:`DEFAULT_URL`)."""
        return self.url or DEFAULT_URL

    def _what(self) -> str:
        return f"context {self.name!r}" if self.name else "the context"

    def _literal(self, fld: str, env: Mapping[str, str] | None) -> str:
        """A secret: as written, or resolved from ``env://NAME`` / ``data:``."""
        value: str = getattr(self, fld)
        scheme = _scheme(value)
        if not scheme:
            return value
        if scheme in ("env", "data"):
            return self._content(fld, value, scheme, env).rstrip("\r\n")
        raise ConfigError(
            f"{self._what()}: {fld} refers to {scheme}://..., which this client "
            "cannot resolve; give the value, an env:// or a data: reference"
        )

    def _content(self, fld: str, value: str, scheme: str, env: Mapping[str, str] | None) -> str:
        if scheme == "env":
            var = value[6:]
            found = (env or {}).get(var) if var else None
            if not found:
                raise ConfigError(f"{self._what()}: {fld} names env://{var}, which is not set")
            return found
        header, sep, payload = value[5:].partition(",")
        if not sep or "base64" not in [p.strip() for p in header.split(";")]:
            raise ConfigError(f"{self._what()}: {fld} is a data: reference without ';base64,'")
        try:
            return base64.b64decode(payload, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise ConfigError(f"{self._what()}: {fld} holds invalid base64 data") from None

    def _file(self, fld: str, env: Mapping[str, str] | None) -> tuple[str, str]:
        """(``"path"``, a path) or (``"content"``, the text) for a file field."""
        value: str = getattr(self, fld)
        scheme = _scheme(value)
        if not scheme:
            return "path", value
        if scheme == "file":
            return "path", value[7:]
        if scheme in ("env", "data"):
            return "content", self._content(fld, value, scheme, env)
        raise ConfigError(
            f"{self._what()}: {fld} refers to {scheme}://..., which this client "
            "cannot resolve; give a path"
        )

    def connect_options(self, env: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The ``connect()`` keyword options of this context (``servers`` too).

        Authentication as jsm.go: ``user`` (with ``password``), else ``creds``,
        else ``nkey``, else ``user_jwt`` (with ``user_seed``, or alone as a
        bearer JWT); ``token`` is added when set. ``cert`` and ``key`` are used
        together; ``ca`` makes TLS required. ``env`` resolves ``env://``
        references. Raises :class:`ConfigError` naming the context and the
        field for what this client cannot honour.
        """
        for unsupported in ("socks_proxy", "windows_cert_store"):
            if getattr(self, unsupported):
                raise ConfigError(
                    f"{self._what()}: {unsupported} is not supported by this client; "
                    "remove it from the context or connect without the context"
                )
        opts: dict[str, Any] = {"servers": self.servers}
        if self.user:
            opts["user"] = self.user
            if self.password:
                opts["password"] = self._literal("password", env)
        elif self.creds:
            kind, value = self._file("creds", env)
            if kind == "path":
                opts["user_credentials"] = value
            else:
                try:
                    jwt, seed = parse_credentials(value)
                except ConfigError as e:
                    raise ConfigError(f"{self._what()}: creds: {e}") from None
                opts["user_jwt"], opts["nkeys_seed_str"] = jwt, seed.decode()
        elif self.nkey:
            kind, value = self._file("nkey", env)
            if kind == "path":
                opts["nkeys_seed"] = value
            else:
                opts["nkeys_seed_str"] = value.strip()
        elif self.user_jwt:
            opts["user_jwt"] = self._literal("user_jwt", env)
            if self.user_seed:
                opts["nkeys_seed_str"] = self._literal("user_seed", env)
            else:
                opts["signature_cb"] = _no_signature
        elif self.nsc:
            raise ConfigError(
                f"{self._what()}: nsc lookups need the nsc tool, which this client does not "
                "run; set creds (and url) in the context"
            )
        if self.token:
            opts["token"] = self._literal("token", env)
        if self.cert and self.key:
            opts["tls_cert_file"] = self._file_path("cert", env)
            opts["tls_key_file"] = self._file_path("key", env)
        if self.ca:
            opts["tls_ca_file"] = self._file_path("ca", env)
        if self.tls_first:
            opts["tls_handshake_first"] = True
        if self.inbox_prefix:
            opts["inbox_prefix"] = self.inbox_prefix
        return opts

    def _file_path(self, fld: str, env: Mapping[str, str] | None) -> str:
        kind, value = self._file(fld, env)
        if kind != "path":
            raise ConfigError(f"{self._what()}: {fld} must be a path (TLS files are read as files)")
        return value

    def jetstream_options(self) -> dict[str, str]:
        """The ``jetstream()`` options: ``domain``, else ``api_prefix`` (the
        CLI's order), or none."""
        if self.jetstream_domain:
            return {"domain": self.jetstream_domain}
        if self.jetstream_api_prefix:
            return {"api_prefix": self.jetstream_api_prefix}
        return {}


def parse_context(
    text: str | bytes,
    name: str = "",
    *,
    env: Mapping[str, str] | None = None,
    home: str | None = None,
) -> NatsContext:
    """Parse the JSON text of context ``name`` (the file's name without
    ``.json``).

    With ``env`` (the environment), ``$VAR`` and a leading ``~`` (``home``,
    default ``env["HOME"]``) are expanded in ``creds``, ``nkey``, ``cert``,
    ``key`` and ``ca``, as jsm.go does; without it the fields stay as written.
    Raises :class:`ConfigError` naming the context when the text is not a
    JSON object or a known field has the wrong type.
    """
    if name:
        check_context_name(name)
    what = f"context {name!r}" if name else "the context"
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        obj = json.loads(text)
    except (UnicodeDecodeError, ValueError) as e:
        raise ConfigError(f"{what} is not valid JSON: {e}") from None
    if not isinstance(obj, dict):
        raise ConfigError(f"{what} is not a JSON object")
    kwargs: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in obj.items():
        if key in _STR_FIELDS:
            if value is None:
                continue
            if not isinstance(value, str):
                kind = type(value).__name__  # never the value: it may be a secret
                raise ConfigError(f"{what}: field {key!r} must be a string, not {kind}")
            if env is not None and key in _PATH_FIELDS:
                value = _expand_path(value, env, home)
            kwargs[key] = value
        elif key == "tls_first":
            if value is not None and not isinstance(value, bool):
                raise ConfigError(f"{what}: field 'tls_first' must be true or false")
            kwargs[key] = bool(value)
        elif key == "windows_ca_certs_match":
            if value is not None and not (
                isinstance(value, list) and all(isinstance(v, str) for v in value)
            ):
                raise ConfigError(f"{what}: field {key!r} must be a list of strings")
            kwargs[key] = tuple(value or ())
        elif key == "name":
            if not name and isinstance(value, str):
                name = value  # the CLI writes the name when it renders a context
        else:
            extra[key] = value
    return NatsContext(name=name, extra=extra, **kwargs)


def _expand_path(value: str, env: Mapping[str, str], home: str | None) -> str:
    if _scheme(value) == "file":
        return value[:7] + _expand(value[7:], env, home)
    if _scheme(value):
        return value
    return _expand(value, env, home)


def merge_connect_options(
    context_options: Mapping[str, Any], explicit: Mapping[str, Any]
) -> dict[str, Any]:
    """The options to connect with: the context's, overridden by the caller's
    ``explicit`` ones (``None`` values count as not given).

    An explicit authentication option (user, token, credentials, NKey, JWT...)
    replaces all of the context's authentication; an explicit ``tls`` (an SSL
    context) replaces its TLS files.
    """
    given = {k: v for k, v in explicit.items() if v is not None}
    out = dict(context_options)
    if _AUTH_OPTIONS.intersection(given):
        out = {k: v for k, v in out.items() if k not in _AUTH_OPTIONS}
    if "tls" in given:
        out = {k: v for k, v in out.items() if k not in _TLS_FILE_OPTIONS}
    out.update(given)
    return out
