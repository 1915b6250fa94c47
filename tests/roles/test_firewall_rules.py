"""roles/firewall opens a port to everyone only when its rule says `from_anywhere`: a port whose sources come out
empty (a peer group the inventory lacks, an address list nobody filled in) stays closed. The ruleset is rendered
by Ansible's own templating from the role's template and the playbooks' group_vars."""

from __future__ import annotations

from typing import Any

import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from foundation.repository import REPO_ROOT

ROLE = REPO_ROOT / "roles" / "firewall"
GROUP_VARS = REPO_ROOT / "playbooks" / "group_vars"


def _variables(**overrides: Any) -> dict[str, Any]:
    loader = DataLoader()
    variables = loader.load_from_file(str(ROLE / "defaults" / "main.yml"), trusted_as_template=True)
    return {**variables, "ansible_managed": "test", "firewall_ssh_sources": ["198.18.0.1"], **overrides}


def render(**overrides: Any) -> list[str]:
    variables = _variables(**overrides)
    template = (ROLE / "templates" / "nftables.conf.j2").read_text()
    text = Templar(loader=DataLoader(), variables=variables).template(trust_as_template(template))
    return [line.strip() for line in text.splitlines()]


def group_rules(group: str, **addresses: list[str]) -> list[dict[str, Any]]:
    """The group's firewall_allowed_tcp as the playbooks' group_vars compute it from the given address lists."""
    loader = DataLoader()
    variables: dict[str, Any] = {**_variables(), **addresses}
    variables |= loader.load_from_file(str(GROUP_VARS / f"{group}.yml"), trusted_as_template=True)
    templar = Templar(loader=loader, variables=variables)
    return templar.template(trust_as_template("{{ firewall_allowed_tcp }}"))


def test_the_balancer_is_open_to_everyone_because_its_rules_say_so():
    lines = render(firewall_allowed_tcp=group_rules("lb"))
    assert "tcp dport 80 accept" in lines and "tcp dport 443 accept" in lines


def test_a_port_whose_sources_come_out_empty_stays_closed():
    ports = {"golive_prometheus_port": 9090, "golive_alertmanager_port": 9093, "golive_journal_remote_port": 19532}
    rules = group_rules(
        "monitoring", golive_controller_addresses=[], golive_all_addresses=["198.18.0.11"], **ports
    )  # fmt: skip
    lines = render(firewall_allowed_tcp=rules)
    assert not any(line.startswith(("tcp dport 9090", "tcp dport 9093")) for line in lines), lines
    assert "# port 9090: its sources are empty here, so it stays closed" in " ".join(lines)
    assert "tcp dport 19532 ip saddr { 198.18.0.11 } accept" in lines


def test_sources_open_a_port_to_them_alone():
    lines = render(firewall_allowed_tcp=[{"port": 8000, "sources": ["198.18.0.10", "198.18.0.1"]}])
    assert "tcp dport 8000 ip saddr { 198.18.0.10, 198.18.0.1 } accept" in lines
    assert "tcp dport 8000 accept" not in lines


def test_a_rule_with_both_from_anywhere_and_sources_is_refused_naming_its_port():
    task = next(
        task
        for task in yaml.safe_load((ROLE / "tasks" / "preflight.yml").read_text())
        if "firewall_ambiguous" in task.get("vars", {})
    )
    rules = [{"port": 443, "from_anywhere": True}, {"port": 8000, "from_anywhere": True, "sources": ["10.0.0.0/8"]}]
    variables = _variables(firewall_allowed_tcp=rules)
    templar = Templar(loader=DataLoader(), variables=variables)
    assert templar.template(trust_as_template(task["vars"]["firewall_ambiguous"])) == [8000]  # 443 says one thing
