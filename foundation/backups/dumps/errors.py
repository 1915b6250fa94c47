"""What can go wrong, by kind: golive-backup's exit status (program.py) and the controller's handling follow it."""

from __future__ import annotations


class BackupUnusable(Exception):
    """The backup cannot be trusted to restore: the message names the problem."""


class BackupFailed(BackupUnusable):
    """No backup could be taken (nothing is left behind)."""


class RestoreFailed(BackupUnusable):
    """A restore was refused or failed; the target was left as it was."""


class BackupNotFound(Exception):
    """No backup by that id (or not an id at all)."""


class ToolMissing(Exception):
    """A PostgreSQL client program could not be found."""
