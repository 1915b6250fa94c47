"""What every fab command works with, built once per command: the environment, the controller's state folder and
its audit log, a reporter, and — only when a command needs it — the environment's database (release/database.py)
and a release engine given the deployment checks to run (the engine itself knows nothing of checks/)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

from checks import phases as check_phases
from foundation.audit import AuditLog
from foundation.environment import Environment, load_environment
from foundation.fleet import Fleet
from foundation.reporter import Reporter
from foundation.repository import REPO_ROOT
from foundation.state import StateLayout
from release.database import database_url
from release.engine import Engine


class Controller:
    def __init__(
        self,
        env: Environment,
        *,
        state: StateLayout | None = None,
        reporter: Reporter | None = None,
        repo: Path = REPO_ROOT,
        db_url: str | None = None,
    ):
        self.env = env
        self.state = state or StateLayout.default(repo)
        self.reporter = reporter or Reporter()
        self.repo = repo
        self.audit = AuditLog(self.state.audit_log(env.name))
        if db_url is not None:  # given (a test's database): the environment's own strategy is not used
            self.db_url = db_url

    @classmethod
    def of(cls, name: str) -> Controller:
        """By environment name (release/environments/<name>.yml) or a description file's path."""
        return cls(load_environment(name))

    @cached_property
    def db_url(self) -> str:
        return database_url(self.env, self.reporter)

    @cached_property
    def fleet(self) -> Fleet:
        return Fleet.of(self.env)

    @cached_property
    def engine(self) -> Engine:
        return Engine(
            self.env, self.db_url, reporter=self.reporter, repo=self.repo, state=self.state, run_checks=self.run_checks
        )

    def run_checks(self, phase: str, record: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[str]]:
        """A phase of the checklist (checks/) against this environment; its reports under the state folder.
        Returns its summary for an audit record and the ids of the boxes that block."""
        result, _, paths = check_phases.run(
            self.env,
            self.db_url,
            phase,
            repo=self.repo,
            state=self.state,
            record=record,
            progress=check_phases.progress_line(self.reporter.line),
        )
        return {**result.record(), "report": paths[0].name}, [outcome.item.id for outcome in result.blocking]
