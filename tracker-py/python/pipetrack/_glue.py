"""``{name}`` interpolation from the caller's variables, like R's ``glue``.

``genter("Processing {state}")`` formats the text with the caller's local and
global variables (``str.format_map`` over a ``ChainMap`` of ``f_locals`` and
``f_globals``), so code ported from R keeps working; f-strings work as usual
and are simply passed through.

The rules, chosen so that data never breaks a script:

* a text without ``{`` is returned untouched (the common, fast path);
* a text is a template only when every replacement field is a *placeholder*:
  a Python identifier, optionally followed by ``.attr`` / ``[key]`` and a
  ``!conversion`` / ``:format_spec`` (``{state}``, ``{row.name}``,
  ``{n:,}``). A text with any other braces — a dict or JSON repr such as
  ``{'a': 1}``, ``{}``, an unbalanced brace — is taken literally, so an
  f-string that shows data is recorded as written;
* a placeholder naming no variable of the caller raises
  :class:`~pipetrack.InvalidInputError` naming it: a typo is a bug to fix,
  like a misspelled variable in the f-string it stands for. Write ``{{`` and
  ``}}`` for literal braces in a template.
"""

from __future__ import annotations

import functools
import string
import sys
from collections import ChainMap
from collections.abc import Mapping
from types import FrameType
from typing import Any

from pipetrack._errors import InvalidInputError

__all__ = ["fill", "interpolate"]

_FORMATTER = string.Formatter()


def _placeholder_root(field_name: str) -> str | None:
    """The variable name a replacement field starts with, or None when the
    field is not a placeholder (``'a'``, ``"a"``, an empty or numeric field)."""
    end = len(field_name)
    for index, char in enumerate(field_name):
        if char in ".[":
            end = index
            break
    root = field_name[:end]
    return root if root.isidentifier() else None


@functools.lru_cache(maxsize=1024)
def _template_roots(text: str) -> tuple[str, ...] | None:
    """The variable names a template's placeholders start with (empty for a
    text with only ``{{``/``}}`` escapes), or None when ``text`` is not a
    template. Cached: scripts format the same few texts in loops."""
    try:
        fields = [name for _, name, _, _ in _FORMATTER.parse(text) if name is not None]
    except ValueError:
        return None  # unbalanced braces
    roots = [_placeholder_root(name) for name in fields]
    if any(root is None for root in roots):
        return None
    return tuple(root for root in roots if root is not None)


def interpolate(text: str, depth: int = 0) -> str:
    """``text`` with its ``{name}`` placeholders filled from the variables of
    the caller of this function (``depth=0``) or of a frame ``depth`` levels
    above it (a wrapper passes ``depth=1`` to use its own caller's variables).

    Returns ``text`` itself when it holds no template (see the module rules).
    Raises :class:`~pipetrack.InvalidInputError` when a placeholder names no
    variable, or its format spec does not suit the value.
    """
    if "{" not in text and "}" not in text:
        return text
    frame: FrameType = sys._getframe(depth + 1)
    try:
        return fill(text, ChainMap(frame.f_locals, frame.f_globals))
    finally:
        del frame  # no reference cycle through the frame


def fill(text: str, scope: Mapping[str, Any]) -> str:
    """``text`` with its placeholders filled from ``scope`` (the rules of
    :func:`interpolate`)."""
    if "{" not in text and "}" not in text:
        return text
    roots = _template_roots(text)
    if roots is None:
        return text
    if not roots:
        return text.replace("{{", "{").replace("}}", "}")
    missing = sorted({root for root in roots if root not in scope})
    if missing:
        names = ", ".join(missing)
        raise InvalidInputError(
            f"{text!r} names {names}, but the caller has no such variable: "
            "define it, fix the name, or write {{ and }} for literal braces",
        )
    try:
        return text.format_map(scope)
    except (AttributeError, IndexError, KeyError, TypeError, ValueError) as err:
        raise InvalidInputError(f"cannot fill the placeholders of {text!r}: {err!r}") from None
