"""Backups proven by a restore: the one implementation, for the controller and for the database host.

The controller imports this package (foundation.backups.strategy, checks/, release/); roles/backups copies this very
folder to the db host and installs `golive-backup`, a launcher that puts the folder's parent on sys.path and calls
`program.main`, which reads its settings from /etc/golive-backup.json. So every module here imports nothing but the
standard library, psycopg 3, cryptography, boto3 (only when a bucket is set) and its siblings (relatively): the
controller's venv, or Debian 12's python3 (3.11) with python3-psycopg (3.1), python3-cryptography (38) and
python3-boto3 (1.26). tests/foundation/test_backup_package.py holds it to that.

    tools.py        the client programs: where they are (GOLIVE_PG_BIN, pgserver, /usr/lib/postgresql, PATH),
                    their version, their first error
    connection.py   a URL split into the tools' conninfo and a password that travels in a 0600 passfile; psycopg
    counting.py     the counting rule: which tables, their keys, every difference named
    sealing.py      a dump sealed with a secret key (AES-256-GCM in chunks), opened with every chunk checked
    backup.py       a backup: <id>.dump (or <id>.dump.sealed) and its manifest <id>.json, written whole, 0600;
                    its file checked
    taking.py       take: pg_dump -Fc inside an exported snapshot, rows counted in that same snapshot; sealed with
                    a key; keep N
    opening.py      a backup's dump for pg_restore: sealed ones opened into a private temporary file
    clearing.py     what a restore over the live database drops first, inside its transaction
    pipe.py         pg_restore's SQL through psql: one transaction, committed only when the whole dump was read
    scratch.py      databases beside the live one: created, dropped, taken in turns
    restoring.py    prove (into a scratch database, counts compared) and restore (over the live one, what it held
                    dumped first; or into a new database)
    catalogue.py    list, find (ids only, never paths), verify
    shipping.py     the backup bucket (S3 API): sealed backups shipped, listed, fetched back
    store.py        a folder, its key and its bucket: take, prove, ship, list, find, restore in one place
    metric.py       node_exporter's textfile metric of the newest whole backup
    settings.py     /etc/golive-backup.json, every wrong setting named
    program.py      golive-backup's command line and its JSON answers
"""

from .backup import DEFAULT_EXCLUDED, Backup
from .catalogue import find, list_backups, pick, verify
from .connection import Target, target, tool_env, tool_versions
from .errors import BackupFailed, BackupNotFound, BackupUnusable, RestoreFailed, ToolMissing
from .metric import METRIC, METRIC_FILE, write_metric
from .program import main
from .restoring import prove, restore
from .sealing import Key, KeyInvalid, SealBroken, key_from_text, read_key
from .shipping import Bucket, ShipFailed
from .store import Store
from .taking import take
from .tools import PG_BIN_VARIABLE, find_tool, tool_major

__all__ = [
    "DEFAULT_EXCLUDED",
    "METRIC",
    "METRIC_FILE",
    "PG_BIN_VARIABLE",
    "Backup",
    "BackupFailed",
    "BackupNotFound",
    "BackupUnusable",
    "Bucket",
    "Key",
    "KeyInvalid",
    "RestoreFailed",
    "SealBroken",
    "ShipFailed",
    "Store",
    "Target",
    "ToolMissing",
    "find",
    "find_tool",
    "key_from_text",
    "list_backups",
    "main",
    "pick",
    "prove",
    "read_key",
    "restore",
    "take",
    "target",
    "tool_env",
    "tool_major",
    "tool_versions",
    "verify",
    "write_metric",
]
