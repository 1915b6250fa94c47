"""Reading ansible-playbook's PLAY RECAP (the converge tests decide idempotence from it)."""

import pytest

from tests.support.lab.ansible_run import recap

OUTPUT = """
PLAY [Baseline] ****
ok: [db]

PLAY RECAP *********************************************************************
db                         : ok=30   changed=0    unreachable=0    failed=0    skipped=7    rescued=0    ignored=0
lb                         : ok=42   changed=3    unreachable=0    failed=1    skipped=7    rescued=0    ignored=0
"""


def test_recap_counts_per_host():
    hosts = recap(OUTPUT)
    assert hosts["db"]["changed"] == 0 and hosts["db"]["ok"] == 30
    assert hosts["lb"] == {
        "ok": 42,
        "changed": 3,
        "unreachable": 0,
        "failed": 1,
        "skipped": 7,
        "rescued": 0,
        "ignored": 0,
    }


def test_no_recap_is_an_error():
    with pytest.raises(ValueError, match="no PLAY RECAP"):
        recap("ERROR! the playbook could not be parsed")
