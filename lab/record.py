"""The running lab's record (/var/lib/golive-lab/lab.json): which checkout brought it up and which image
its hosts boot from. There is one lab per machine: its addresses and bridge are fixed."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from lab.errors import LabError
from lab.layout import Layout


@dataclass(frozen=True)
class Record:
    state: str  # the owning checkout's state/lab
    image: str  # cache key
    image_root: str


def load(layout: Layout) -> Record | None:
    try:
        return Record(**json.loads(layout.record.read_text()))
    except FileNotFoundError:
        return None
    except (ValueError, TypeError) as exc:
        raise LabError(f"{layout.record} is unreadable ({exc}); `fab lab.down` removes it with the lab") from None


def save(layout: Layout, record: Record) -> None:
    layout.record.parent.mkdir(parents=True, exist_ok=True)
    layout.record.write_text(json.dumps(asdict(record), indent=2) + "\n")


def owner_layout(layout: Layout, record: Record | None) -> Layout:
    """The layout of whoever owns the running lab (its pid files and keys live in its checkout)."""
    if record is None or Path(record.state) == layout.state:
        return layout
    return replace(layout, state=Path(record.state))


def refuse_foreign(layout: Layout, record: Record | None) -> None:
    if record is not None and Path(record.state) != layout.state:
        raise LabError(
            f"the lab on this machine was brought up from another checkout ({record.state}); use it from there, "
            f"or take it down (`fab lab.down` from either checkout) first"
        )
