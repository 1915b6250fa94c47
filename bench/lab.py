"""Wall time of a cold `fab lab.up` (image cache removed: debootstrap + packages + boot), of a warm one
(cached image: boot only) and of `fab lab.down`.

    sudo .venv/bin/python -m bench.lab [--rounds 2] [--leave-down]

Needs what the lab needs (root, systemd-container, debootstrap) and network access to a Debian mirror
for the cold build. Takes the lab down first: whoever uses it loses its state (the lab's lock makes the
bench wait for a running converge). Leaves the lab up at the end unless --leave-down.
Time spent waiting for the lab lock (a converge holding it) is left out of the figures; an up that finds
the hosts already running (someone else brought the lab up in between) stops the bench.
Target (issue 5): warm lab.up <= 60 s.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime

from lab.image.build import current_key
from lab.layout import REPO, Layout

FAB = [sys.executable, "-m", "fabric"]
WARM_TARGET = 60.0


WAITED = re.compile(r"lab lock acquired after waiting ([0-9.]+) s")


def fab(*args: str, boots: bool = False, image: str | None = None) -> float:
    """Wall seconds of one fab command, less any time it spent waiting for the lab lock (someone converging)."""
    started = time.monotonic()
    env = {**os.environ, "COLUMNS": "200"}
    completed = subprocess.run([*FAB, *args], cwd=REPO, env=env, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    output = completed.stdout + completed.stderr
    if completed.returncode != 0:
        sys.exit(f"fab {' '.join(args)} exited {completed.returncode}:\n{output[-3000:]}")
    if boots and "booting lb, web1, web2, db, partners, monitoring" not in output:
        sys.exit(f"fab {' '.join(args)} did not boot every host (someone else brought the lab up?):\n{output}")
    if image is not None and f"base image {image}" not in output:
        sys.exit(f"fab {' '.join(args)}: expected the base image to be {image} (did packages.txt change?):\n{output}")
    waited = sum(float(found) for found in WAITED.findall(output))
    if waited:
        print(f"  (fab {' '.join(args)} waited {waited:.1f} s for the lab lock; not counted)")
    return seconds - waited


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="warm up/down rounds after the cold one")
    parser.add_argument("--leave-down", action="store_true", help="take the lab down at the end")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench.lab needs root, as the lab does")
    print(
        f"# bench.lab: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    fab("lab.down")
    image = Layout.default().cache / current_key()
    shutil.rmtree(image, ignore_errors=True)
    rows = [("cold (image built)", fab("lab.up", boots=True, image="built"), fab("lab.down"))]
    for number in range(1, args.rounds + 1):
        rows.append((f"warm {number}", fab("lab.up", boots=True, image="cached"), fab("lab.down")))
    if not args.leave_down:
        fab("lab.up")
    print("\n| lab.up | up (wall s) | down (wall s) |\n|---|---|---|")
    for name, up, down in rows:
        print(f"| {name} | {up:.1f} | {down:.1f} |")
    worst = max(up for name, up, _ in rows if name.startswith("warm")) if args.rounds else float("nan")
    verdict = "PASS" if worst <= WARM_TARGET else "FAIL"
    print(f"warm lab.up: worst {worst:.1f} s, target <= {WARM_TARGET:.0f} s: {verdict}")
    print("lab left " + ("down" if args.leave_down else "up"))


if __name__ == "__main__":
    main()
