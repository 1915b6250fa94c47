"""Releases onto the shared lab, for the tests that need one: a test asks for what it needs ("v2 deployed, v1 before
it") and gets it, released here when the lab does not already run it, whatever test ran before.

The versions are commits of a copy of the working tree (tests/release/local_harness.VersionRepo): v1 is the working
tree, v2 changes a file only, bad-web2 is v2 with a service that refuses to start on web2 alone (so web1 is switched,
healthy and undrained before web2 fails). They go out through the real CLI (`fab -r <copy> release --env <file>`)
with an environment file derived from release/environments/lab.yml (tests/support/lab/lab_state.lab_env_file) and one
controller state for the session (audit log, artifact cache: the run's wheelhouse linked in; the lab's stack outputs,
linked to the ones `fab lab.up` wrote)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from foundation.repository import REPO_ROOT
from foundation.state import StateLayout
from lab.outputs import ENVIRONMENT
from tests.release.local_harness import Fab, FabResult, VersionRepo, replace_once, seed_wheelhouses
from tests.support.lab.fab import ssh
from tests.support.lab.lab_state import LAYOUT, lab_env_file

RELEASED = 0
WEB_HOSTS = ("web1", "web2")
ROOT = "/srv/golive"


def link(host: str, name: str) -> str | None:
    """The release id `ROOT/<name>` (current, previous) points at on `host`, None when there is no such link."""
    target = ssh(host, f"readlink {ROOT}/{name} || true").strip()
    return target.rsplit("/", 1)[-1] or None


@dataclass
class LabReleases:
    repo: VersionRepo
    fab: Fab

    @classmethod
    def create(cls, base: Path, wheelhouses: Path) -> LabReleases:
        repo = VersionRepo.copy_of(REPO_ROOT, base / "repo")
        repo.version("v2", {"RELEASE_NOTES.txt": "v2: nothing but this file changes\n"})
        main = repo.read("app/main.py", "v2")
        repo.version(
            "bad-web2",
            {
                "app/main.py": replace_once(
                    main,
                    "    settings = settings or get_settings()\n",
                    "    settings = settings or get_settings()\n"
                    "    import socket  # noqa: PLC0415 (injected by tests/support/lab/releases.py)\n\n"
                    "    if socket.gethostname() == 'web2':\n"
                    "        raise RuntimeError('injected: this release cannot start on web2')\n",
                )
            },
            base="v2",
        )
        env_file = lab_env_file(base / "lab.yml", health_timeout_seconds=30)  # bad-web2 never answers: fail it sooner
        state = base / "state"
        state.mkdir()
        seed_wheelhouses(state / "artifacts", wheelhouses)
        outputs = StateLayout(state).stack_outputs(ENVIRONMENT)
        outputs.parent.mkdir(parents=True)
        outputs.symlink_to(LAYOUT.stack_outputs)
        return cls(repo, Fab(repo.path, state, env_file))

    def version(self, tag: str) -> str:
        """The release engine's version of a tag: the first 12 hex of its commit (the end of its release ids)."""
        return self.repo.sha(tag)[:12]

    def release(self, tag: str) -> FabResult:
        return self.fab.run("release", "--version", tag, timeout=900)

    def runs(self, tag: str, link_name: str = "current") -> bool:
        """Every web host's `link_name` is a release of `tag`."""
        ids = [link(host, link_name) for host in WEB_HOSTS]
        return all(found is not None and found.endswith(self.version(tag)) for found in ids)

    def deployed(self, tag: str, *, previous: str | None = None) -> None:
        """`tag` current on every web host (and `previous` the release before it, when given): released here when
        the lab does not run it already."""
        if self.runs(tag) and (previous is None or self.runs(previous, "previous")):
            return
        if previous is not None and not self.runs(previous):
            self._released(previous)
        self._released(tag)

    def any_deployed(self) -> None:
        """Some release running on the web hosts (v1 released when there is none)."""
        if not all(link(host, "current") for host in WEB_HOSTS):
            self._released("v1")

    def _released(self, tag: str) -> None:
        result = self.release(tag)
        assert result.code == RELEASED, result
        assert self.runs(tag), f"{tag} released, but not current on every web host:\n{result}"
