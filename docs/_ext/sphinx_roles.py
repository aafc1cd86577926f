"""A griffe extension for the docs site: Sphinx roles in docstrings become links.

The sources write ``:class:`Msg` ``, ``:meth:`~nats_sync.Client.publish` `` and the
like. Each becomes an optional autorefs cross reference: a link when the target is
rendered somewhere on the site, plain code otherwise (never a warning). Names are
resolved in the scope of the object that holds the docstring, as Sphinx does.
"""

from __future__ import annotations

import html
import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|meth|func|attr|data|mod|exc|obj|const):`([^`]+)`")


def _target(obj: griffe.Object, text: str) -> str:
    name = text.lstrip(".")
    head, _, rest = name.partition(".")
    scope: griffe.Object | None = obj if obj.is_class or obj.is_module else obj.parent
    while scope is not None:
        try:
            path = scope.resolve(head)
        except Exception:
            path = None
        if path:
            return f"{path}.{rest}" if rest else path
        scope = scope.parent
    return name


def _replace(obj: griffe.Object, match: re.Match[str]) -> str:
    text = match.group(1).strip()
    if "<" in text and text.endswith(">"):  # :meth:`title <target>`
        title, _, target = text[:-1].partition("<")
        title, target = title.strip(), target.strip()
    else:
        target = text
        title = text.lstrip("~").lstrip(".")
        if text.startswith("~"):
            title = title.rsplit(".", 1)[-1]
        target = target.lstrip("~")
    identifier = _target(obj, target)
    return (
        f'<autoref identifier="{html.escape(identifier)}" optional>'
        f"<code>{html.escape(title)}</code></autoref>"
    )


class SphinxRoles(griffe.Extension):
    """Rewrite Sphinx cross-reference roles into optional autorefs links."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        docstring = obj.docstring
        if docstring is not None and ":`" in docstring.value:
            docstring.value = _ROLE.sub(lambda m: _replace(obj, m), docstring.value)

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        self.on_object(obj=pkg)
