"""A throwaway local environment for the release engine's integration tests (test_local_release.py).

Everything lives under one short folder in /tmp (Unix-socket paths stay short): a git repository that is a
copy of the working tree (the versions released are real commits of it, and the engine code under test is
that copy's), the environment's root (embedded PostgreSQL, supervisord, the simulator, the releases) and the
controller's state (artifact cache, audit log, backups). Releases go through the real CLI:
`fab -r <copy> release --env <environment file>`. Nothing of a developer's own `state/` is touched; a
wheelhouse already built there is hard-linked into the test's cache (read only) to spare a download.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import yaml

from foundation.admin_client import FlagClient, admin_key
from foundation.audit import AuditLog
from foundation.environment import Environment, load_environment
from foundation.instance_endpoints import InstanceEndpoints
from foundation.repository import REPO_ROOT
from foundation.state import StateLayout
from release import local_env, lock
from tests.support.machine_bound import with_machine_bound_advisory
from tests.support.processes import free_port

FAB = Path(sys.executable).parent / "fab"
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "golive tests",
    "GIT_AUTHOR_EMAIL": "tests@golive.invalid",
    "GIT_COMMITTER_NAME": "golive tests",
    "GIT_COMMITTER_EMAIL": "tests@golive.invalid",
}


def short_tmp(prefix: str = "gl-") -> Path:
    """A fresh folder directly under /tmp: supervisord's and PostgreSQL's sockets need short paths."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))


# --- the versions ---------------------------------------------------------------------------------------


class VersionRepo:
    """A git repository holding a copy of the working tree as its first commit (tag v1); later versions are
    commits on top of a tag, each tagged. Its checkout stays on v1's branch (main)."""

    def __init__(self, path: Path):
        self.path = path

    @classmethod
    def copy_of(cls, source: Path, dest: Path) -> VersionRepo:
        listed = subprocess.run(
            ["git", "-C", str(source), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            capture_output=True,
            check=True,
        ).stdout.decode()
        dest.mkdir(parents=True)
        for name in sorted({name for name in listed.split("\0") if name}):
            origin = source / name
            if not (origin.is_file() or origin.is_symlink()):
                continue  # tracked but deleted in the working tree
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, target, follow_symlinks=False)
        repo = cls(dest)
        repo.git("init", "-q", "-b", "main")
        repo.git("add", "-A")
        repo.git("commit", "-q", "-m", "v1: a copy of the working tree")
        repo.git("tag", "v1")
        return repo

    def git(self, *args: str) -> str:
        result = subprocess.run(
            ["git", "-C", str(self.path), *args],
            capture_output=True,
            text=True,
            env={**os.environ, **GIT_IDENTITY},
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout.strip()

    def version(self, tag: str, changes: dict[str, str | None], *, base: str = "v1") -> str:
        """Commits `changes` ({path: new content, or None to delete}) on top of `base` as tag `tag`."""
        self.git("checkout", "-q", "-B", f"version-{tag}", base)
        try:
            for name, content in changes.items():
                path = self.path / name
                if content is None:
                    path.unlink()
                else:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text(content)
            self.git("add", "-A")
            self.git("commit", "-q", "-m", f"{tag}")
            self.git("tag", tag)
        finally:
            self.git("checkout", "-q", "main")
        return self.sha(tag)

    def sha(self, ref: str) -> str:
        return self.git("rev-parse", f"{ref}^{{commit}}")

    def read(self, name: str, ref: str = "v1") -> str:
        return self.git("show", f"{ref}:{name}")


def add_column_migration(revision: str, down_revision: str, column: str) -> str:
    """An expand-only migration: a nullable column on payments, with its downgrade and its verify step."""
    return f'''"""Adds payments.{column} (integration test).

Revision ID: {revision}
Revises: {down_revision}
"""

from alembic import op
from sqlalchemy.engine import Connection

from app.migrations.checks import require_columns

revision = "{revision}"
down_revision = "{down_revision}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE payments ADD COLUMN {column} text")


def downgrade() -> None:
    op.execute("ALTER TABLE payments DROP COLUMN {column}")


def verify(connection: Connection) -> None:
    require_columns(connection, "payments", {{"{column}"}})
'''


def broken_migration(revision: str, down_revision: str) -> str:
    """A migration whose SQL PostgreSQL refuses: it adds a column first, so a half-applied migration would show."""
    return f'''"""A broken migration (integration test): invalid SQL after a valid statement.

Revision ID: {revision}
Revises: {down_revision}
"""

from alembic import op
from sqlalchemy.engine import Connection

revision = "{revision}"
down_revision = "{down_revision}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE payments ADD COLUMN half_applied text")
    op.execute("ALTER TABLE payments ADD COLUMN THIS IS NOT SQL")


def downgrade() -> None:
    op.execute("ALTER TABLE payments DROP COLUMN half_applied")


def verify(connection: Connection) -> None:
    pass
'''


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"expected exactly one {old!r}"
    return text.replace(old, new)


# --- the environment ----------------------------------------------------------------------------------


def write_environment(path: Path, root: Path, **overrides: Any) -> dict[str, Any]:
    """A copy of release/environments/local.yml with its own root, free loopback ports, short timings and the
    checks that measure this machine advisory."""
    raw = yaml.safe_load((REPO_ROOT / "release" / "environments" / "local.yml").read_text())
    web1, web2, simulator, chain = free_port(), free_port(), free_port(), free_port()
    while len({web1, web2, simulator, chain}) < 4:
        web2, simulator, chain = free_port(), free_port(), free_port()
    raw.update(
        name="proof",
        description="integration tests of the release engine (throwaway)",
        root=str(root),
        instances=[{"name": "web1", "port": web1}, {"name": "web2", "port": web2}],
        entry_url=f"http://127.0.0.1:{web1}",
        simulator_port=simulator,
        chain_port=chain,
        lock_ttl_seconds=6,
        # An instance imports the whole service before it answers: on a machine this suite starves that took 21 s
        # (a rollback failed at 20). Only a release that never answers waits all of it.
        health_timeout_seconds=60,
        gates={
            "window_seconds": 3,
            "min_requests": 10,
            "min_payments": 3,
            "max_error_rate": 0.01,
            "max_p95_seconds": 2.0,
            "min_payment_success": 0.95,
        },
        inconclusive="hold",
        synthetic_traffic={"enabled": True, "rate_per_second": 4},
        checks=with_machine_bound_advisory(raw.get("checks", {})),  # it runs beside the rest of the suite
    )
    raw.update(overrides)
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return raw


def derive_environment(path: Path, raw: dict[str, Any], **overrides: Any) -> Path:
    """Another description of the same environment (same root and ports), e.g. with other gate settings."""
    path.write_text(yaml.safe_dump({**raw, **overrides}, sort_keys=False))
    return path


@dataclass
class FabResult:
    args: tuple[str, ...]
    code: int
    output: str
    seconds: float

    def __str__(self) -> str:
        return f"fab {' '.join(self.args)} -> exit {self.code} in {self.seconds:.1f} s\n{self.output}"


class Fab:
    """The real CLI, run from the copy (`fab -r <copy>`, cwd there) against the test environment file."""

    def __init__(self, repo: Path, state: Path, env_file: Path):
        self.repo, self.state, self.env_file = repo, state, env_file

    def environ(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("GOLIVE_")}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        env.update(GOLIVE_RELEASE_STATE=str(self.state), PYTHONUNBUFFERED="1", COLUMNS="160", NO_COLOR="1")
        env["TERM"] = "dumb"
        return env

    def command(self, task: str, *args: str, env_file: Path | None = None) -> list[str]:
        return [str(FAB), "-r", str(self.repo), task, "--env", str(env_file or self.env_file), *args]

    def run(self, task: str, *args: str, env_file: Path | None = None, timeout: float = 600) -> FabResult:
        command = self.command(task, *args, env_file=env_file)
        started = time.monotonic()
        completed = subprocess.run(
            command,
            cwd=self.repo,
            env=self.environ(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )
        result = FabResult((task, *args), completed.returncode, completed.stdout, time.monotonic() - started)
        print(result)  # shown by pytest when a test fails
        return result

    def start(self, task: str, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command(task, *args),
            cwd=self.repo,
            env=self.environ(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )


class LocalStage:
    """The test environment as the tests inspect it: links, instances, schema, lock, audit log."""

    def __init__(self, env_file: Path, state: Path):
        self.env_file = env_file
        self.state = state

    @property
    def env(self) -> Environment:
        return load_environment(str(self.env_file))

    @property
    def root(self) -> Path:
        return self.env.root

    def db_url(self) -> str:
        return local_env.database_url(local_env.LocalPaths(self.root))

    @contextlib.contextmanager
    def db(self) -> Iterator[psycopg.Connection]:
        with psycopg.connect(self.db_url(), autocommit=True) as conn:
            yield conn

    # -- the layout --
    def link(self, name: str) -> str | None:
        path = self.root / name
        return os.readlink(path).rsplit("/", 1)[-1] if path.is_symlink() else None

    def current(self) -> str | None:
        return self.link("current")

    def previous(self) -> str | None:
        return self.link("previous")

    def releases(self) -> list[str]:
        folder = self.root / "releases"
        return sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) if folder.is_dir() else []

    # -- the instances --
    def instance_urls(self) -> list[str]:
        return InstanceEndpoints(self.env).urls()  # local: no forward to close

    def versions(self) -> list[dict[str, Any]]:
        """What every instance answers on /api/version (plus its /api/health status code)."""
        answers = []
        for url in self.instance_urls():
            try:
                version = httpx.get(f"{url}/api/version", timeout=5).json()
                version["health"] = httpx.get(f"{url}/api/health", timeout=5).status_code
            except (httpx.HTTPError, ValueError) as exc:
                version = {"release_id": None, "health": None, "error": type(exc).__name__}
            answers.append({"url": url, **version})
        return answers

    def serving(self) -> set[str | None]:
        """The release ids the instances answer as (one element when the fleet is consistent)."""
        return {answer["release_id"] for answer in self.versions()}

    def assert_consistent(self, release_id: str | None = None) -> str:
        """Every instance healthy and answering as one release, the one `current` points to."""
        answers = self.versions()
        expected = release_id or self.current()
        assert expected is not None, "no current release"
        for answer in answers:
            assert answer["health"] == 200, answers
            assert answer["release_id"] == expected, answers
        assert self.current() == expected
        return expected

    def supervisor_pids(self) -> dict[str, int]:
        """The PID supervisord reports for each instance (0 when it is not running)."""
        paths = local_env.LocalPaths(self.root)
        pids = {}
        for instance in self.env.instances:
            out = local_env.supervisorctl(paths, "pid", instance.name, check=False).stdout.strip()
            pids[instance.name] = int(out) if out.isdigit() else 0
        return pids

    # -- the database --
    def schema_revision(self) -> str | None:
        with self.db() as conn:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        return row[0] if row else None

    def columns(self, table: str) -> set[str]:
        with self.db() as conn:
            rows = conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = %s",
                (table,),
            ).fetchall()
        return {row[0] for row in rows}

    def lock_holder(self) -> lock.Lease | None:
        with self.db() as conn:
            lock.ensure_schema(conn)
            return lock.current(conn, self.env.name)

    def flag(self, feature: str) -> tuple[bool, int] | None:
        with self.db() as conn:
            row = conn.execute(
                "SELECT enabled, percentage FROM feature_flags WHERE feature = %s", (feature,)
            ).fetchone()
        return (bool(row[0]), int(row[1])) if row else None

    def set_flag(self, feature: str, *, enabled: bool, percentage: int) -> dict[str, Any]:
        """Through the service's admin API, with the key the release tooling keeps for this environment."""
        env = self.env
        client = FlagClient(env.entry_url, admin_key(env, self.db_url(), StateLayout(self.state)), verify=False)
        return client.set(feature, enabled=enabled, percentage=percentage)

    # -- the audit log --
    @property
    def audit(self) -> AuditLog:
        return AuditLog(StateLayout(self.state).audit_log(self.env.name))

    def audit_entries(self) -> list[dict[str, Any]]:
        return self.audit.entries()

    def simulator(self, **config: Any) -> dict[str, Any]:
        url = f"http://127.0.0.1:{self.env.simulator_port}/__sim__/config"
        response = httpx.post(url, json=config, timeout=10)
        response.raise_for_status()
        return response.json()


def output_until(process: subprocess.Popen[str], marker: str, timeout: float) -> list[str]:
    """The lines `process` prints up to and including the first holding `marker` (AssertionError after
    `timeout` seconds or when it exits first). The rest of its output stays in the pipe."""
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
            if marker in line:
                return
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"no {marker!r} within {timeout:.0f} s:\n{''.join(seen)}") from None
        if line is None:
            raise AssertionError(f"exited before {marker!r}:\n{''.join(seen)}")
        seen.append(line)
        if marker in line:
            return seen


# --- the controller's cache ------------------------------------------------------------------------------


def seed_wheelhouses(cache: Path, source: Path | None = None) -> int:
    """Hard-links complete wheelhouses of `source` (default: the developer's own releases'; or the run's: the
    `shared_wheelhouses` fixture, tests/support/wheelhouses.py) into the test's artifact cache (read only: nothing
    there is changed). The build checks a wheelhouse is complete before using it."""
    source = source or StateLayout.default().artifacts / "wheelhouses"
    if not source.is_dir():
        return 0
    seeded = 0
    for wheelhouse in source.iterdir():
        if wheelhouse.name.startswith(".") or not (wheelhouse / "requirements.txt").is_file():
            continue
        target = cache / "wheelhouses" / wheelhouse.name
        if target.exists():
            continue
        draft = target.with_name(f".seed-{wheelhouse.name[:12]}")
        try:
            shutil.copytree(wheelhouse, draft, copy_function=_link_or_copy)
            draft.rename(target)
            seeded += 1
        except OSError:
            shutil.rmtree(draft, ignore_errors=True)
    return seeded


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


# --- leaving nothing behind ---------------------------------------------------------------------------


def processes_under(base: Path) -> dict[int, str]:
    """Processes (other than this one) whose command line or working directory lies under `base`."""
    found = {}
    prefix = str(base)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if prefix in cmdline or cwd.startswith(prefix):
            found[int(entry.name)] = cmdline or f"(cwd {cwd})"
    return found


def _pid_file(path: Path) -> int | None:
    try:
        first = path.read_text().split()[0]
    except (OSError, IndexError):
        return None
    return int(first) if first.isdigit() else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is gone for our purposes.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except (OSError, IndexError):
        return False


def bring_down(stage: LocalStage, base: Path) -> list[str]:
    """Stops the test environment through release.local_env.down, then checks by PID (the PID files under the
    root, and every process under `base`) that nothing is left; kills (by PID) and reports whatever was."""
    env = stage.env
    paths = local_env.LocalPaths(env.root)
    known = {
        pid
        for pid in (_pid_file(paths.root / "supervisord.pid"), _pid_file(paths.pg / "postmaster.pid"))
        if pid is not None
    }
    if local_env.supervisor_running(paths):
        known |= {pid for pid in stage.supervisor_pids().values() if pid}
    known |= set(processes_under(base))
    local_env.down(env, progress=lambda line: print(f"local.down: {line}"))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(_alive(pid) for pid in known):
        time.sleep(0.2)
    leftovers = [f"{pid}" for pid in known if _alive(pid)]
    leftovers += [f"{pid} {cmd}" for pid, cmd in processes_under(base).items() if _alive(pid)]
    for entry in leftovers:
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(entry.split()[0]), signal.SIGKILL)
    return leftovers
