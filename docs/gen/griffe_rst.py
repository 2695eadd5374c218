"""Griffe extension for the API reference: the package's docstrings use reST roles
(``:class:`~obesity_risk.x.Y```, ``:func:`f```), which Markdown would show as raw text; they are
rendered as code spans naming the object (``Y``, ``f``)."""

from __future__ import annotations

import re

import griffe

_ROLE = re.compile(r":(?:py:)?[a-z]+:`~?([^`]+)`")


class RstRoles(griffe.Extension):
    """Rewrite reST roles in every docstring as Markdown code spans."""

    def on_object(self, *, obj: griffe.Object, **kwargs: object) -> None:
        """Called by griffe for every module, class, function and attribute it loads."""
        if obj.docstring is not None and ":`" in obj.docstring.value:
            obj.docstring.value = _ROLE.sub(
                lambda m: "`" + m.group(1).rsplit(".", 1)[-1] + "`", obj.docstring.value
            )
