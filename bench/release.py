"""Wall time of a warm `fab release --env local` per phase, and of `fab rollback --env local`.

    .venv/bin/python -m bench.release [--rounds 2] [--from HEAD~1] [--to HEAD]

Both versions are built (and released) once first, so the measured releases find their artifact in the
cache ("warm"). Each round releases --from, then rolls back to --to's release. Per-phase timings come from
the audit log the release writes. Targets (issue 4): release <= 60 s, rollback <= 10 s.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime

from foundation.audit import AuditLog
from foundation.repository import REPO_ROOT
from foundation.state import StateLayout
from release.plan import PHASES

FAB = [sys.executable, "-m", "fabric"]
TARGETS = {"release": 60.0, "rollback": 10.0}


def fab(*args: str) -> float:
    started = time.monotonic()
    completed = subprocess.run([*FAB, *args], cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        sys.exit(
            f"fab {' '.join(args)} exited {completed.returncode}:\n{completed.stdout[-3000:]}{completed.stderr[-2000:]}"
        )
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--from", dest="old", default="HEAD~1", help="version released in each round")
    parser.add_argument("--to", dest="new", default="HEAD", help="version the rollback returns to")
    args = parser.parse_args()
    audit = AuditLog(StateLayout.default().audit_log("local"))
    cores = os.cpu_count()
    print(
        f"# bench.release: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {cores} cores, "
        f"Python {platform.python_version()}"
    )
    print("warming up: building and releasing both versions once ...", flush=True)
    fab("local.up")
    fab("release", "--env", "local", "--version", args.new)
    fab("release", "--env", "local", "--version", args.old)
    fab("release", "--env", "local", "--version", args.new)
    rows = []
    for number in range(1, args.rounds + 1):
        release_seconds = fab("release", "--env", "local", "--version", args.old)
        phases = audit.last()["timings"]  # type: ignore[index]
        rollback_seconds = fab("rollback", "--env", "local", "--reason", "bench")
        rows.append((number, release_seconds, phases, rollback_seconds))
    names = [name for name in PHASES if name in rows[0][2]]
    print(f"\n| round | release (wall s) | {' | '.join(names)} | rollback (wall s) |")
    print(f"|---|---|{'---|' * len(names)}---|")
    for number, release_seconds, phases, rollback_seconds in rows:
        cells = " | ".join(f"{phases.get(name, 0):.1f}" for name in names)
        print(f"| {number} | {release_seconds:.1f} | {cells} | {rollback_seconds:.1f} |")
    worst_release = max(row[1] for row in rows)
    worst_rollback = max(row[3] for row in rows)
    for what, worst in (("release", worst_release), ("rollback", worst_rollback)):
        verdict = "PASS" if worst <= TARGETS[what] else "FAIL"
        print(f"{what}: worst {worst:.1f} s, target <= {TARGETS[what]:.0f} s: {verdict}")


if __name__ == "__main__":
    main()
