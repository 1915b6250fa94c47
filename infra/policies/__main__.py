"""The policy pack's entry point (`pulumi preview --policy-pack infra/policies`). Constructing the
PolicyPack starts the analyzer's server, so nothing else may import this file."""

import sys
from pathlib import Path

# The CLI runs this file by path: make `infra.*` importable from the repository root.
if (root := str(Path(__file__).resolve().parents[2])) not in sys.path:
    sys.path.insert(0, root)

from pulumi_policy import EnforcementLevel, PolicyPack

from infra.policies.pack import PACK_NAME, POLICIES

PolicyPack(name=PACK_NAME, enforcement_level=EnforcementLevel.MANDATORY, policies=POLICIES)
