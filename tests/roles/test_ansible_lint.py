"""playbooks/ and roles/ pass ansible-lint's production profile (.ansible-lint); no lab needed."""

import pytest

from tests.support.lab import ansible_run


@pytest.mark.slow
@pytest.mark.timeout(900)  # 25 s alone; a crowded suite has taken 300 s: a hang guard, not a speed limit
def test_ansible_lint_production_profile_passes():
    run = ansible_run.run([str(ansible_run.BIN / "ansible-lint"), "--profile", "production"], timeout=600)
    assert run.returncode == 0, run.tail(40)
    assert "Profile 'production' was required, and it passed" in run.output, run.tail(5)
