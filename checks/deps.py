"""No known-vulnerable dependency: pip-audit over the service's runtime dependencies, pinned to the
versions installed here (what the release's wheelhouse is built from). A package the advisory source
could not answer for, or an unreachable source, gives "could not check" — never a silent pass."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement

from checks.context import Context
from checks.model import Result, failed, passed, unverified
from checks.registry import check

ROOT_DISTRIBUTION = "golive"


def _name(value: str) -> str:
    return value.lower().replace("_", "-").replace(".", "-")


def runtime_pins(root: str = ROOT_DISTRIBUTION) -> list[str]:
    """name==version of `root`'s runtime dependencies and theirs (no extras), as installed here."""
    pins: dict[str, str] = {}
    pending = [root]
    while pending:
        name = pending.pop()
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        for raw in dist.requires or []:
            requirement = Requirement(raw)
            if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
                continue
            key = _name(requirement.name)
            if key not in pins:
                try:
                    pins[key] = metadata.version(requirement.name)
                except metadata.PackageNotFoundError:
                    continue
                pending.append(requirement.name)
    return sorted(f"{name}=={version}" for name, version in pins.items())


def judge(report: dict[str, Any]) -> Result:
    """pip-audit's JSON report → a result (pure: unit-tested on pip-audit's format)."""
    dependencies = report.get("dependencies", [])
    vulnerable = [d for d in dependencies if d.get("vulns")]
    skipped = [d for d in dependencies if d.get("skip_reason")]
    if vulnerable:
        listed = ", ".join(
            f"{d['name']} {d.get('version', '?')} ({', '.join(v['id'] for v in d['vulns'])})" for d in vulnerable
        )
        return failed(f"{len(vulnerable)} vulnerable: {listed}", value=len(vulnerable))
    if skipped:
        names = ", ".join(d["name"] for d in skipped[:5])
        return unverified(
            f"could not check {len(skipped)} of {len(dependencies)} packages ({names}…): "
            f"the advisory source did not answer for them ({skipped[0]['skip_reason']})",
            value=len(skipped),
        )
    if not dependencies:
        return unverified("pip-audit audited nothing")
    return passed(f"{len(dependencies)} packages audited, no known vulnerability", value=0)


def audit(pins: list[str], env: dict[str, str] | None = None, timeout: float = 300) -> Result:
    with tempfile.TemporaryDirectory(prefix="golive-audit-") as tmp:
        requirements = Path(tmp) / "requirements.txt"
        requirements.write_text("\n".join(pins) + "\n")
        command = [
            sys.executable,
            "-m",
            "pip_audit",
            "--requirement",
            str(requirements),
            "--no-deps",
            "--disable-pip",
            "--format",
            "json",
            "--progress-spinner",
            "off",
        ]
        shown = f"pip-audit -r <{len(pins)} runtime pins> --no-deps --disable-pip --format json"
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, check=False)
        except subprocess.TimeoutExpired:
            return unverified(f"could not check: pip-audit did not finish within {timeout:.0f} s", shown)
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        if "No module named pip_audit" in done.stderr:
            return unverified("could not check: pip-audit is not installed (pip install '.[test]')", shown)
        return unverified(f"could not check: pip-audit exited {done.returncode}: {last[:300]}", shown)
    result = judge(report)
    return Result(result.status, result.detail, shown, result.value)


def artifact_pins(path: Path) -> list[str]:
    """The pins of a release artifact's wheelhouse (its requirements.txt): exactly what its hosts install."""
    with tarfile.open(path) as archive:
        member = archive.extractfile("requirements.txt")
        if member is None:
            return []
        return [line.strip() for line in member.read().decode().splitlines() if "==" in line]


def _deployed_artifact(ctx: Context) -> Path | None:
    try:
        release = ctx.last_release()
    except Exception:  # an unreadable audit log: fall back to the controller's pins
        return None
    name = ((release or {}).get("artifact") or {}).get("name")
    path = ctx.state.artifacts / str(name)
    return path if name and path.is_file() else None


@check("deps.vulnerabilities")
def vulnerabilities(ctx: Context, args: dict[str, Any]) -> Result:
    """The released artifact's pins when it is at hand (what runs), else this controller's installed runtime."""
    artifact = _deployed_artifact(ctx)
    pins = artifact_pins(artifact) if artifact else runtime_pins()
    if not pins:
        return unverified(f"could not check: {ROOT_DISTRIBUTION} is not installed here, so its pins are unknown")
    result = audit(pins)
    source = f"the wheelhouse of {artifact.name}" if artifact else "this controller's installed runtime"
    return Result(result.status, f"{result.detail} ({source})", result.command, result.value)
