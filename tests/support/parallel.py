"""Running the suite on several xdist workers (`make test`: `-n N`; pyproject's addopts: `--dist loadgroup
--no-loadscope-reorder`): what must share a worker shares one, and what waits longest starts first.

Groups (a group goes whole to one worker, its tests in collection order):
- `lab`: every test marked `lab`. They share ONE lab on this machine (fixed bridge, addresses and state/lab), booted
  and converged once and used in turn (tests/support/lab/).
- a module's own group for every test of a module that has a module- or class-scoped fixture of its own (a released
  local environment, a Prometheus, a built wheelhouse …): set up once, on one worker, rather than once per worker.
- `pytest.mark.xdist_group(NAME)` for what shares a fixed port or path.
- testinfra's checks (tests/roles/hosts, run by the lab's converge test) one group per host: each host's checks in
  turn (some drain an upstream, start a unit), different hosts side by side.
Tests in no group go one by one to whichever worker is free. Session-scoped fixtures (the embedded PostgreSQL, the
simulators, the service) start once per worker.

Order (units are handed out in collection order): the lab group first, since its chain (boot, converge, releases,
monitoring) is the longest; in it, the tests that take the lab down and up before the first converge, which starts
from bare hosts; then groups and tests marked slow (the longest waits start early); then the rest. A plain
`pytest tests/x` (no -n) runs everything in this one process, in the same order.

Priority: the lab's chain is the run's critical path and the other workers have slack, so on a machine with fewer
cores than busy processes the lab should not wait for them. Every worker starts at a lower CPU priority
(WORKER_NICE); the one that runs the lab tests (root: they need it anyway) returns to normal as they start, and
whatever it starts — `fab lab.up`, the guests, ansible, the releases — inherits that. It also leaves the run's
session for one of its own: where the kernel groups processes by session for scheduling (autogroup,
/proc/sys/kernel/sched_autogroup_enabled, on in Debian's kernels) nice orders processes within a session only,
and the whole run is one session, so the lab's controller side (ansible-playbook and its forks, fab, testinfra)
shared one session's CPU with every other worker and its children; a session of its own weighs as much as theirs.

How the groups reach xdist: xdist's own loadgroup appends `@group` to each test's node id in the workers, which
pytest 9.2's structured node ids silently ignore (pytest-dev/pytest-xdist#1386: every test then goes its own way).
So each worker writes the groups it collected to a file the controller names (`pytest_configure_node`), and the
controller schedules with them (`pytest_xdist_make_scheduler`: xdist's load-scope scheduling, by these groups)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

LAB_GROUP = "lab"
# The lab's own life cycle runs before anything else uses the lab: booting (which leaves it up, bare) and then
# the converge from scratch. Every other lab test needs a converged lab and comes after, in collection order.
LAB_FIRST = ("tests/lab/test_boot_lifecycle.py", "tests/roles/test_converge.py")
GROUPS_FILE = "golive_groups_file"  # workerinput key: where a worker writes {node id: group}
# A third of the CPU weight of normal priority: behind the lab's chain, never starved by it. A run inside the lab's
# chain (testinfra) sets PYTEST_WORKER_NICE=0 to keep its workers at the chain's priority.
WORKER_NICE = int(os.environ.get("PYTEST_WORKER_NICE", "5"))


def group_of(item: pytest.Item) -> str | None:
    explicit = item.get_closest_marker("xdist_group")
    if explicit is not None:
        return str(explicit.args[0] if explicit.args else explicit.kwargs.get("name", "default"))
    if item.get_closest_marker("lab") is not None:
        return LAB_GROUP
    host = getattr(getattr(item, "callspec", None), "params", {}).get("_testinfra_host")
    if host is not None:
        return f"host {host.backend.get_hostname()}"
    if _has_module_fixture(item):
        return item.nodeid.split("::", 1)[0]
    return None


def _has_module_fixture(item: pytest.Item) -> bool:
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    for name in info.names_closure:
        for definition in info.name2fixturedefs.get(name, ()):
            # baseid: where the fixture was defined ("" for a plugin's, such as testinfra's `host`)
            if definition.scope in ("module", "class", "package") and definition.baseid:
                return True
    return False


def _rank(item: pytest.Item, group: str | None, slow_groups: set[str]) -> tuple[int, int]:
    if group == LAB_GROUP:
        path = item.nodeid.split("::", 1)[0]
        return (0, LAB_FIRST.index(path) if path in LAB_FIRST else len(LAB_FIRST))
    if group in slow_groups or (group is None and item.get_closest_marker("slow") is not None):
        return (1, 0)
    return (2, 0)


@pytest.hookimpl(tryfirst=True)  # node ids as collected, before any other plugin renames or reorders them
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    groups = {item: group_of(item) for item in items}
    slow_groups = {group for item, group in groups.items() if group and item.get_closest_marker("slow")}
    position = {item: index for index, item in enumerate(items)}
    items.sort(key=lambda item: (*_rank(item, groups[item], slow_groups), position[item]))
    target = getattr(config, "workerinput", {}).get(GROUPS_FILE)
    if target:  # an xdist worker: every worker collects the same tests, so any one's file will do
        draft = Path(f"{target}.{os.getpid()}")
        draft.write_text(json.dumps({item.nodeid: group for item, group in groups.items() if group}))
        draft.replace(target)


@pytest.hookimpl(tryfirst=True)  # before its fixtures boot or converge anything
def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("lab") is None:
        return
    if os.getpriority(os.PRIO_PROCESS, 0) > 0:
        with contextlib.suppress(PermissionError):  # not root: the lab does not run here anyway
            os.setpriority(os.PRIO_PROCESS, 0, 0)
    # Refused to a process group leader (a pytest started from an interactive shell; a second lab test): it keeps
    # the session it has.
    with contextlib.suppress(PermissionError):
        os.setsid()


# --- the controller's side (xdist) -----------------------------------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    if _grouping(config):
        config.stash[_FOLDER] = Path(tempfile.mkdtemp(prefix="golive-xdist-"))
    if getattr(config, "workerinput", {}).get(GROUPS_FILE) and os.getpriority(os.PRIO_PROCESS, 0) < WORKER_NICE:
        os.setpriority(os.PRIO_PROCESS, 0, WORKER_NICE)


def pytest_unconfigure(config: pytest.Config) -> None:
    folder = config.stash.get(_FOLDER, None)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    folder = node.config.stash.get(_FOLDER, None)
    if folder is not None:
        node.workerinput[GROUPS_FILE] = str(folder / "groups.json")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    folder = config.stash.get(_FOLDER, None)
    if folder is None:
        return None
    from xdist.scheduler import LoadScopeScheduling  # noqa: PLC0415 (xdist is there: it calls this hook)

    class GroupScheduling(LoadScopeScheduling):
        """Load-scope scheduling whose scope is the test's group (its own node id when it has none)."""

        _groups: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self._groups is None:  # read once every worker has collected (and so written the file)
                self._groups = json.loads((folder / "groups.json").read_text())
            plain, at, suffix = nodeid.rpartition("@")
            if at and "]" not in suffix:  # an xdist that does rename grouped tests: `<id>@<group>`
                return self._groups.get(plain, suffix)
            return self._groups.get(nodeid, nodeid)

    return GroupScheduling(config, log)


_FOLDER = pytest.StashKey[Path]()


def _grouping(config: pytest.Config) -> bool:
    """The controller of an xdist run asked to group (`--dist loadgroup`): not a worker, not a serial run."""
    if hasattr(config, "workerinput"):
        return False
    numprocesses = getattr(config.option, "numprocesses", None)
    return bool(numprocesses) and getattr(config.option, "dist", "no") == "loadgroup"
