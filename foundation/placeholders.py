"""The one rule for a setting nobody filled in: an empty value, or a placeholder left from a template or an example
(`CHANGE-ME`, `<your key>`, `TODO`, `changeme`). The release's preflight refuses on any (checks/settings.py); a
setting that should take its default is left out, not set empty. Only keys are ever named, never values."""

from __future__ import annotations

import re
from collections.abc import Mapping

# Anywhere in a value: change-me in its spellings, or an angle-bracketed hole.
_INSIDE = re.compile(r"change[-_ ]?me|<[^<>]+>", re.IGNORECASE)
# Only in capitals and as a word, so a random secret that happens to spell "todo" is not taken for one.
_MARKER = re.compile(r"\b(?:TODO|FIXME|TBD|XXX+)\b")
# The whole value, in any case.
_WHOLE = frozenset({"todo", "fixme", "tbd", "xxx", "placeholder", "replace-me", "replaceme", "none", "null", "..."})


def problem(value: str) -> str | None:
    """Why `value` is not filled in ("empty" or "a placeholder"), or None when it is."""
    text = value.strip()
    if not text:
        return "empty"
    if _INSIDE.search(text) or _MARKER.search(text) or text.lower() in _WHOLE:
        return "a placeholder"
    return None


def unfilled(values: Mapping[str, str]) -> list[str]:
    """Every key whose value is empty or a placeholder, as `KEY (empty)` / `KEY (a placeholder)`, in order."""
    return [f"{key} ({why})" for key, value in values.items() if (why := problem(value)) is not None]
