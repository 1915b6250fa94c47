"""Which of the checklist's test boxes a test counts for ("All unit / integration / end-to-end tests passing"),
recorded in the JUnit report as the property `kind` (checks/testreports.py reads it):

- e2e: it takes a whole release end to end (marker `e2e`);
- integration: it runs against real parts — the lab's hosts (marker `lab`), PostgreSQL or a simulator (their
  session fixtures);
- unit: everything else.
"""

from __future__ import annotations

import pytest

REAL_PARTS = frozenset({"pg_server", "simulator", "chain_url"})


def kind(item: pytest.Item) -> str:
    if item.get_closest_marker("e2e"):
        return "e2e"
    if item.get_closest_marker("lab") or REAL_PARTS & set(getattr(item, "fixturenames", ())):
        return "integration"
    return "unit"
