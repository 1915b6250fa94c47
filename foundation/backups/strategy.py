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
(foundation/backups/on_host.py) does all of this, sealing and shipping them as its settings say (roles/backups);
any other on the controller, through `db_url`, in the state folder (StateLayout.backups). Both run the same code
(foundation/backups/dumps: a Store) with the same counting rule and answer the same summaries.

On the controller, an environment whose stack outputs name a `backup_bucket` (staging, production) has every backup
sealed with the `vault_backup_key` of its secret source (foundation/secrets/) and, once proven, shipped to that bucket
through the usual AWS chain (AWS_ENDPOINT_URL_S3 points it at another S3 API); restores and proofs find the bucket's
too. Without a bucket the backups stay in the state folder, as the take's description says.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

from foundation.backups import dumps, on_host
from foundation.backups.taken import Taken
from foundation.environment import Environment
from foundation.fleet import Fleet
from foundation.secrets.resolve import secret, where
from foundation.secrets.source import SecretSource, SecretsUnavailable
from foundation.state import StateLayout
from foundation.transport import Transport

KEY_NAME = "vault_backup_key"  # in the environment's secret source (foundation/secrets/); roles/backups' backups_key
# What a failing backup operation raises, wherever it runs; BackupNotFound, NoDatabase aside.
FAILURES = (dumps.BackupUnusable, dumps.ToolMissing, dumps.KeyInvalid, on_host.HostBackupFailed)


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
    bucket: dumps.Bucket | None = None
    key: Callable[[], dumps.Key] | None = None  # the key backups are sealed with, read when first needed

    @property
    def where(self) -> str:
        return "on the controller"

    @property
    def place(self) -> str:
        return str(self.folder) + (f" and {self.bucket.describe()}" if self.bucket else "")

    @cached_property
    def store(self) -> dumps.Store:
        return dumps.Store(self.folder, self.key() if self.key else None, self.bucket)

    def _url(self) -> str:
        if self.db_url is None:
            raise NoDatabase(
                f"no database given: the backups in {self.place} can be listed, not taken, proven or restored"
            )
        return self.db_url

    def take(self) -> Taken:
        url = self._url()
        backup = self.store.take(url)
        self.store.prove(backup, url)
        return Taken.from_summary(backup.summary(), shipped=self.store.ship(backup))

    def restore(
        self, backup_id: str, *, sha256: str | None = None, into: str | None = None, keep_replaced: bool = True
    ) -> dict[str, Any]:
        url = self._url()
        with self.store.found(backup_id, sha256=sha256) as found:
            return self.store.restore(found, url, into=into, keep_replaced=keep_replaced)

    def list(self) -> list[Taken]:
        return [Taken.from_summary(backup.summary()) for backup in self.store.list()]

    def find(self, backup_id: str) -> Taken:
        return dumps.pick(self.list(), backup_id, self.place)

    def verify(self, *backup_ids: str) -> dict[str, str | None]:
        return self.store.verify(backup_ids)

    def prove(self, backup_id: str, *, sha256: str | None = None) -> Taken:
        url = self._url()
        with self.store.found(backup_id, sha256=sha256) as found:
            self.store.prove(found, url)
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
    """On the environment's backup_host when it names one, else on the controller (in its state folder; sealed
    and shipped when its stack outputs name a backup bucket)."""
    if env.backup_host:
        return OnHost(fleet.transports[env.backup_host])
    name = env.outputs.get("backup_bucket")
    if not name:
        return OnController(db_url, state.backups(env.name))
    bucket = dumps.Bucket(str(name), region=env.outputs.get("region") or None)
    key = lambda: vaulted_key(state.environment(env.name), env.secrets)  # noqa: E731 (read when first needed)
    return OnController(db_url, state.backups(env.name), bucket, key)


def vaulted_key(state: Path, source: SecretSource) -> dumps.Key:
    """The environment's backup key from its secret source (KEY_NAME; state: its state folder, for a vault file);
    KeyInvalid saying what is missing."""
    try:
        return dumps.key_from_text(secret(source, state, KEY_NAME), f"{where(source, state)} ({KEY_NAME})")
    except SecretsUnavailable as exc:
        raise dumps.KeyInvalid(f"backups shipped to a bucket are sealed with {KEY_NAME}: {exc}") from None
