"""`golive_unfilled`: the release's rule for a setting nobody filled in (foundation/placeholders.py), for the converge.

`{{ values | golive_unfilled }}` lists every leaf of `values` (a mapping, nested ones and lists included) whose value
is empty or a placeholder, as `key (empty)` / `key (a placeholder)`: `app_settings.GOLIVE_DARAJA_SHORTCODE`,
`golive_controller_addresses[0]`. Keys only, never values. An empty list or mapping is a choice (no NTP servers, no
extra sysctls), not a hole; a null (`key:`) is empty.

Ansible loads this file beside the playbooks (playbooks/filter_plugins/); the repository it sits in goes first on
sys.path, so the rule imported is this checkout's own, whichever Python runs ansible-playbook."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

_REPO_ROOT = str(Path(__file__).resolve().parents[2])
if _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

from foundation.placeholders import unfilled  # noqa: E402  (needs the repository on sys.path)


def _leaves(value: Any, key: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, Mapping):
        for name, item in value.items():
            yield from _leaves(item, f"{key}.{name}" if key else str(name))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _leaves(item, f"{key}[{index}]")
    else:
        yield key, "" if value is None else str(value)


def golive_unfilled(values: Mapping[str, Any] | None) -> list[str]:
    """Every key of `values` (a loaded vars file, the service's settings) that is empty or a placeholder."""
    if values is not None and not isinstance(values, Mapping):
        raise TypeError(f"golive_unfilled takes a mapping of settings, not a {type(values).__name__}")
    return unfilled(dict(_leaves(values or {}, "")))


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"golive_unfilled": golive_unfilled}
