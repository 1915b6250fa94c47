"""Which migrations a release applied, read from its artifact without importing them — and which of those
declare `irreversible = True`: after such a revision the previous release cannot run on the schema, so
rolling the code back also means restoring the database from the release's proven backup."""

from __future__ import annotations

import ast
import tarfile
from dataclasses import dataclass
from pathlib import Path

VERSIONS = "source/app/migrations/versions/"


@dataclass(frozen=True)
class Revision:
    revision: str
    down_revision: str | None
    irreversible: bool


def _constant(tree: ast.Module, name: str) -> object:
    for node in tree.body:
        targets = (
            node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        )
        if any(isinstance(t, ast.Name) and t.id == name for t in targets) and node.value is not None:
            return ast.literal_eval(node.value)
    return None


def revisions(artifact: Path) -> dict[str, Revision]:
    found: dict[str, Revision] = {}
    with tarfile.open(artifact) as archive:
        for member in archive.getmembers():
            if not (member.isfile() and member.name.startswith(VERSIONS) and member.name.endswith(".py")):
                continue
            handle = archive.extractfile(member)
            assert handle is not None
            tree = ast.parse(handle.read().decode(), filename=member.name)
            revision = _constant(tree, "revision")
            if isinstance(revision, str):
                down = _constant(tree, "down_revision")
                found[revision] = Revision(
                    revision, down if isinstance(down, str) else None, _constant(tree, "irreversible") is True
                )
    return found


def applied_between(known: dict[str, Revision], before: str | None, after: str | None) -> list[Revision]:
    """The revisions that took the schema from `before` to `after`, oldest first."""
    chain: list[Revision] = []
    current = after
    while current is not None and current != before:
        revision = known.get(current)
        if revision is None:
            raise ValueError(f"revision {current} is not in the artifact")
        chain.append(revision)
        current = revision.down_revision
    return list(reversed(chain))
