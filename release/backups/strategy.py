"""Where the controller takes and restores an environment's backups: the one way in for the release engine and
`fab backup` / `fab restore`.

    backups = for_environment(env, fleet, db_url, state)
    taken = backups.take()                  # dumped and proven (restored into a scratch database, rows counted)
    run.record["backup"] = taken.record()
    backups.restore(taken.id, sha256=taken.sha256)   # over the live database; or into="new_db"

An environment with `backup_host:` (the lab) has them taken on that database host by its `golive-backup`
program (release/backups/on_host.py), the dump staying there; any other on the controller, through `db_url`,
into the state folder (StateLayout.backups). Both run the same code (foundation/backups/dumps.py) with the same counting
rule and answer the same summary.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from foundation.backups import dumps
from foundation.environment import Environment
from foundation.fleet import Fleet
from foundation.state import StateLayout
from foundation.transport import Transport
from release.backups import on_host
from release.backups.taken import Taken


class Backups(Protocol):
    @property
    def where(self) -> str:
        """Where the backups are, for a person: "on the controller", "on db"."""
        ...

    def take(self) -> Taken:
        """A new backup, proven by a restore into a scratch database with every table's row count compared."""
        ...

    def restore(
        self, backup_id: str, *, sha256: str | None = None, into: str | None = None, keep_replaced: bool = True
    ) -> dict[str, Any]:
        """Over the live database in one transaction, what it held dumped first unless keep_replaced=False; or
        into a new database. With `sha256`, refused unless the backup is the one recorded. The answer: id,
        sha256, tables, rows, into, replaced (the id of the dump of what was replaced)."""
        ...


@dataclass(frozen=True)
class OnController:
    db_url: str
    folder: Path

    @property
    def where(self) -> str:
        return "on the controller"

    def take(self) -> Taken:
        backup = dumps.take(self.db_url, self.folder)
        dumps.prove(backup, self.db_url)
        return Taken.from_summary(backup.summary())

    def restore(
        self, backup_id: str, *, sha256: str | None = None, into: str | None = None, keep_replaced: bool = True
    ) -> dict[str, Any]:
        found = dumps.find(self.folder, backup_id, sha256=sha256)
        return dumps.restore(found, self.db_url, into=into, keep_replaced=keep_replaced)


@dataclass(frozen=True)
class OnHost:
    transport: Transport

    @property
    def where(self) -> str:
        return f"on {self.transport.host}"

    def take(self) -> Taken:
        return on_host.take(self.transport)

    def restore(
        self, backup_id: str, *, sha256: str | None = None, into: str | None = None, keep_replaced: bool = True
    ) -> dict[str, Any]:
        return on_host.restore(self.transport, backup_id, sha256=sha256, into=into, keep_replaced=keep_replaced)


def for_environment(env: Environment, fleet: Fleet, db_url: str, state: StateLayout) -> Backups:
    if env.backup_host:
        return OnHost(fleet.transports[env.backup_host])
    return OnController(db_url, state.backups(env.name))
