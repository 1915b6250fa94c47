"""Running the suite on several xdist workers (`make test`: `-n N`; pyproject's addopts: `--dist loadgroup
--no-loadscope-reorder`): what must share a worker shares one, and what waits longest starts first.

Groups (the `xdist_group` mark; xdist sends a whole group to one worker, in collection order):
- `lab`: every test marked `lab`. They share ONE lab on this machine (fixed bridge, addresses and state/lab), booted
  and converged once and used in turn (tests/support/lab/shared.py).
- a module's own group for every test of a module that has a module- or class-scoped fixture of its own (a released
  local environment, a Prometheus, a built wheelhouse …): set up once, on one worker, rather than once per worker.
- an explicit `pytest.mark.xdist_group(NAME)` for what shares a fixed port or path: kept as it is.
Tests in no group go one by one to whichever worker is free. Session-scoped fixtures (the embedded PostgreSQL, the
simulators, the service) start once per worker.

Order (the scheduler hands units out in collection order): the lab group first, since its chain (boot, converge,
releases, monitoring) is the longest; in it, the tests that take the lab down and up before the first converge, which
starts from bare hosts; then groups and tests marked slow (the longest waits start early); then the rest.
A plain `pytest tests/x` (no -n) runs everything in this process, in the same order."""

from __future__ import annotations

import pytest

LAB_GROUP = "lab"
# The lab's own life cycle runs before anything else uses the lab: booting (which leaves it up, bare) and then
# the converge from scratch. Every other lab test needs a converged lab and comes after, in collection order.
LAB_FIRST = ("tests/lab/test_boot_lifecycle.py", "tests/roles/test_converge.py")


def group_of(item: pytest.Item) -> str | None:
    explicit = item.get_closest_marker("xdist_group")
    if explicit is not None:
        return str(explicit.args[0] if explicit.args else explicit.kwargs.get("name", "default"))
    if item.get_closest_marker("lab") is not None:
        return LAB_GROUP
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


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the xdist_group marks into the node ids
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    groups = {item: group_of(item) for item in items}
    for item, group in groups.items():
        if group is not None and item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(group))
    slow_groups = {group for item, group in groups.items() if group and item.get_closest_marker("slow")}
    position = {item: index for index, item in enumerate(items)}
    items.sort(key=lambda item: (*_rank(item, groups[item], slow_groups), position[item]))
