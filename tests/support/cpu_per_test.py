"""`pytest --cpu-per-test FILE`: one JSON line per test in FILE — its node id, its worker, when it began, its wall
seconds and the CPU seconds its worker and the children it waited for spent on it (fixtures set up for it
included). What a lab guest or a daemon that left the worker's tree spends is not there: `python -m
bench.suite_cpu` sees those. Summed by `python -m bench.cpu_by_test FILE`."""

from __future__ import annotations

import json
import os
import resource
import time
from collections.abc import Iterator

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--cpu-per-test",
        metavar="FILE",
        help="append a JSON line per test to FILE: wall and CPU seconds, the worker's and its reaped children's",
    )


def _cpu() -> tuple[float, float]:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    target = item.config.getoption("cpu_per_test")
    if not target:
        yield
        return
    (own, children), started, began = _cpu(), time.monotonic(), time.time()
    yield
    (own_after, children_after), wall = _cpu(), time.monotonic() - started
    line = {
        "test": item.nodeid,
        "wall": round(wall, 2),
        "self": round(own_after - own, 2),
        "children": round(children_after - children, 2),
        "worker": os.environ.get("PYTEST_XDIST_WORKER", "main"),
        "began": round(began, 2),  # epoch seconds: with `wall`, where the test sat on its worker's timeline
    }
    with open(target, "a", encoding="utf-8") as out:  # one short write per line: workers may share the file
        out.write(json.dumps(line) + "\n")
