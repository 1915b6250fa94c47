"""The offline preview: each stack's resource graph (sorted JSON, secrets masked) and its stack outputs,
kept under version control so that every change to the infrastructure shows as a reviewable diff.

    python -m infra.snapshot            # compare the program with the committed files; exit 1 on a difference
    python -m infra.snapshot --update   # rewrite infra/snapshots/<stack>.json and infra/examples/<stack>-outputs.json

Both run the policy pack over the graph first and refuse (exit 1) when a policy is violated.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from collections import Counter
from pathlib import Path

from infra.offline import stackfiles
from infra.offline.policy_check import check
from infra.offline.recorder import Recorded, mask_secrets
from infra.offline.runner import StackRun, run_stack

INFRA = Path(__file__).resolve().parent
SNAPSHOTS = INFRA / "snapshots"
EXAMPLES = INFRA / "examples"
REFRESH = "python -m infra.snapshot --update"


def snapshot_path(stack: str) -> Path:
    return SNAPSHOTS / f"{stack}.json"


def outputs_path(stack: str) -> Path:
    return EXAMPLES / f"{stack}-outputs.json"


def _short(urn: str) -> str:
    """urn:pulumi:<stack>::golive::<type chain>::<name> -> <type chain>::<name> (the file names the stack)."""
    return urn.split("::", 2)[2] if urn.count("::") >= 3 else urn


def _resource(r: Recorded) -> dict:
    entry = {"urn": _short(r.urn), "type": r.type, "parent": _short(r.parent) if r.parent else None}
    if r.custom:
        entry["inputs"] = mask_secrets(r.inputs)
        entry["depends_on"] = sorted(_short(u) for u in r.dependencies)
    return entry


def counts(run: StackRun) -> dict:
    return {
        "resources": len(run.custom_resources),
        "components": len(run.resources) - len(run.custom_resources),
        "by_type": dict(sorted(Counter(r.type for r in run.custom_resources).items())),
    }


def render_snapshot(run: StackRun) -> str:
    document = {
        "stack": run.stack,
        "counts": counts(run),
        "resources": [_resource(r) for r in run.resources],
        "outputs": mask_secrets(run.outputs),
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def render_outputs(run: StackRun) -> str:
    """What `pulumi stack output --json` prints for the stack (keys sorted, as the CLI does)."""
    return json.dumps(run.outputs, indent=2, sort_keys=True) + "\n"


def rendered(run: StackRun) -> dict[Path, str]:
    return {snapshot_path(run.stack): render_snapshot(run), outputs_path(run.stack): render_outputs(run)}


def differences(files: dict[Path, str]) -> list[str]:
    """Unified diffs between the committed files and `files` (empty when they agree)."""
    diffs = []
    for path, text in files.items():
        committed = path.read_text() if path.exists() else ""
        if committed != text:
            name = str(path.relative_to(INFRA.parent) if path.is_relative_to(INFRA.parent) else path)
            diff = difflib.unified_diff(
                committed.splitlines(keepends=True), text.splitlines(keepends=True), f"{name} (committed)", name
            )
            diffs.append("".join(diff) or f"{name}: missing\n")
    return diffs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.snapshot", description=__doc__.split("\n\n")[0])
    parser.add_argument("--update", action="store_true", help="rewrite the committed snapshots")
    parser.add_argument("--stack", action="append", help="only this stack (repeatable); default: every stack file")
    args = parser.parse_args(argv)

    status = 0
    for stack in args.stack or stackfiles.stacks():
        run = run_stack(stack)
        c = counts(run)
        print(f"{stack}: {c['resources']} resources in {c['components']} components")
        violations = check(run.resources)
        if violations:
            print("\n".join(f"  policy violation: {v}" for v in violations))
            status = 1
            continue
        files = rendered(run)
        diffs = differences(files)
        if args.update:
            changed = [path for path, text in files.items() if not path.exists() or path.read_text() != text]
            for path in changed:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(files[path])
            print("  " + (f"updated: {', '.join(p.name for p in changed)}" if changed else "unchanged"))
        elif diffs:
            sys.stdout.write("".join(diffs))
            print(f"  {stack}: the program and the committed snapshot differ; review, then run {REFRESH}")
            status = 1
        else:
            print("  matches the committed snapshot")
    return status


if __name__ == "__main__":
    sys.exit(main())
