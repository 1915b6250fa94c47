"""The controller's own files, in one place: everything the tooling keeps on the machine it runs on lives under
one folder (`state/` in the repository, or GOLIVE_RELEASE_STATE), laid out here and nowhere else.

<root>/artifacts/                     built artifacts and the wheelhouse cache (shared by every environment)
<root>/<env>/audit.jsonl              the hash-chained audit log
<root>/<env>/backups/                 backups the controller took (id.dump + id.json)
<root>/<env>/release-api-key          the release tooling's admin key, where secrets are generated (0600)
<root>/<env>/known_hosts              its hosts' SSH keys, when its ssh_config names no known_hosts file
<root>/<env>/stack-outputs.json       the Pulumi stack's outputs the hosts come from (`fab infra.outputs`; the lab's
                                      from `fab lab.up`), and beside them inventory.ini, Ansible's inventory
<root>/checks/<env>/                  the checklist's reports (JSON + Markdown)
<root>/loadtests/<env>/<timestamp>/   load-test reports
<root>/reports/                       the test suite's evidence (junit.xml, coverage.xml)
<root>/tools/                         tools the tests fetch from Debian's packages (Prometheus' promtool, amtool)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from foundation.repository import REPO_ROOT

VARIABLE = "GOLIVE_RELEASE_STATE"


@dataclass(frozen=True)
class StateLayout:
    root: Path

    @classmethod
    def default(cls, repo: Path = REPO_ROOT) -> StateLayout:
        return cls(Path(os.environ.get(VARIABLE) or repo / "state"))

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def tools(self) -> Path:
        return self.root / "tools"

    def environment(self, env: str) -> Path:
        return self.root / env

    def audit_log(self, env: str) -> Path:
        return self.environment(env) / "audit.jsonl"

    def backups(self, env: str) -> Path:
        return self.environment(env) / "backups"

    def stack_outputs(self, env: str) -> Path:
        return self.environment(env) / "stack-outputs.json"

    def inventory(self, env: str) -> Path:
        return self.environment(env) / "inventory.ini"

    def admin_key(self, env: str) -> Path:
        return self.environment(env) / "release-api-key"

    def known_hosts(self, env: str) -> Path:
        return self.environment(env) / "known_hosts"

    def checks(self, env: str) -> Path:
        return self.root / "checks" / env

    def loadtests(self, env: str) -> Path:
        return self.root / "loadtests" / env
