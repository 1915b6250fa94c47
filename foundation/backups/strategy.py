"""Where an environment keeps its backups: the one way in for the release engine, `fab backup` / `fab restore` and
the checks.

    backups = for_environment(env, fleet, db_url, state)
    taken = backups.take()                  # dumped and proven (restored into a scratch database, rows counted)
    run.record["backup"] = taken.record()
    backups.restore(taken.id, sha256=taken.sha256)   # over the live database; or into="new_db"
    backups.list()                          # what is kept, newest first
    backups.verify()                        # every kept backup's file against its manifest
    backups.prove(backups.list()[0].id)     # the newest restores into a scratch database, counts equal

An environment with `backup_host:` (the lab) keeps them on that database host, where its `golive-backup` program
(foundation/backups/on_host.py) does all of this, the dump staying there; any other on the controller, through
`db_url`, in the state folder (StateLayout.backups). Both run the same code (foundation/backups/dumps) with the same
counting rule and answer the same summaries.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from foundation.backups import dumps, on_host
from foundation.backups.taken import Taken
from foundation.environment import Environment
from foundation.fleet import Fleet
from foundation.state import StateLayout
from foundation.transport import Transport

# What a failing backup operation raises, wherever it runs; BackupNotFound, NoDatabase aside.
FAILURES = (dumps.BackupUnusable, dumps.ToolMissing, on_host.HostBackupFailed)


class NoDatabase(Exception):
    """The controller was given no database to take, prove or restore backups with."""


class Backups(Protocol):
    @property
    def where(self) -> str:
        """Who takes them, for a person: "on the controller", "on db"."""
        ...

    @property
    def place(self) -> str:
        """Where they are kept, for a person: the controller's folder, "golive-backup's folder on db"."""
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

    def list(self) -> list[Taken]:
        """Every backup kept, newest first (from their manifests: no file is read)."""
        ...

    def find(self, backup_id: str) -> Taken:
        """The kept backup `backup_id`; BackupNotFound naming the newest ones (or what is no backup id)."""
        ...

    def verify(self, *backup_ids: str) -> dict[str, str | None]:
        """Each named backup (every kept one when none is named): what is wrong with its file (missing, not the
        one its manifest's sha256 names), None when nothing is."""
        ...

    def prove(self, backup_id: str, *, sha256: str | None = None) -> Taken:
        """The kept backup restored into a scratch database, every table's row count compared with its own; the
        scratch database dropped again. Raises one of FAILURES when it does not restore so."""
        ...


@dataclass(frozen=True)
class OnController:
    db_url: str | None
    folder: Path

    @property
    def where(self) -> str:
        return "on the controller"

    @property
    def place(self) -> str:
        return str(self.folder)

    def _url(self) -> str:
        if self.db_url is None:
            raise NoDatabase(
                f"no database given: the backups in {self.folder} can be listed, not taken, proven or restored"
            )
        return self.db_url

    def take(self) -> Taken:
        url = self._url()
        backup = dumps.take(url, self.folder)
        dumps.prove(backup, url)
        return Taken.from_summary(backup.summary())

    def restore(
        self, backup_id: str, *, sha256: str | None = None, into: str | None = None, keep_replaced: bool = True
    ) -> dict[str, Any]:
        found = dumps.find(self.folder, backup_id, sha256=sha256)
        return dumps.restore(found, self._url(), into=into, keep_replaced=keep_replaced)

    def list(self) -> list[Taken]:
        return [Taken.from_summary(backup.summary()) for backup in dumps.list_backups(self.folder)]

    def find(self, backup_id: str) -> Taken:
        return Taken.from_summary(dumps.find(self.folder, backup_id).summary())

    def verify(self, *backup_ids: str) -> dict[str, str | None]:
        return dumps.verify(self.folder, backup_ids)

    def prove(self, backup_id: str, *, sha256: str | None = None) -> Taken:
        found = dumps.find(self.folder, backup_id, sha256=sha256)
        dumps.prove(found, self._url())
        return Taken.from_summary(found.summary())


@dataclass(frozen=True)
class OnHost:
    transport: Transport

    @property
    def where(self) -> str:
        return f"on {self.transport.host}"

    @property
    def place(self) -> str:
        return f"golive-backup's folder on {self.transport.host}"

    def take(self) -> Taken:
        return on_host.take(self.transport)

    def restore(
        self, backup_id: str, *, sha256: str | None = None, into: str | None = None, keep_replaced: bool = True
    ) -> dict[str, Any]:
        return on_host.restore(self.transport, backup_id, sha256=sha256, into=into, keep_replaced=keep_replaced)

    def list(self) -> list[Taken]:
        return on_host.listed(self.transport)

    def find(self, backup_id: str) -> Taken:
        return dumps.pick(self.list(), backup_id, self.place)

    def verify(self, *backup_ids: str) -> dict[str, str | None]:
        return on_host.verify(self.transport, backup_ids)

    def prove(self, backup_id: str, *, sha256: str | None = None) -> Taken:
        return on_host.prove(self.transport, backup_id, sha256=sha256)


def for_environment(env: Environment, fleet: Fleet, db_url: str | None, state: StateLayout) -> Backups:
    """On the environment's backup_host when it names one, else on the controller (in its state folder)."""
    if env.backup_host:
        return OnHost(fleet.transports[env.backup_host])
    return OnController(db_url, state.backups(env.name))
