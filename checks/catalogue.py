"""The catalogue (checks/catalogue.yml) as data: one Item per checklist box, loaded and validated."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CATALOGUE = Path(__file__).resolve().parent / "catalogue.yml"
PHASES = ("pre-deploy", "deploy", "post-deploy", "go-live", "rollback", "success-criteria", "post-launch")
KEYS = {"id", "section", "text", "phase", "check", "args", "required", "signoff", "machine", "why", "not_applicable"}


class CatalogueInvalid(Exception):
    pass


@dataclass(frozen=True)
class Item:
    id: str
    section: str
    text: str
    phase: str
    check: str | None = None  # automated: a registered check's name
    args: dict[str, Any] = field(default_factory=dict)
    required: bool = True  # a failure stops a release / makes `fab check` exit non-zero
    signoff: str | None = None  # manual: the role that signs
    machine: bool = False  # manual but a machine could check it (counts against the automated share)
    why: str = ""
    not_applicable: str | None = None  # the box does not apply to this service, and why

    @property
    def kind(self) -> str:
        if self.check:
            return "automated"
        return "not applicable" if self.not_applicable else "manual"


def _item(raw: dict[str, Any], known_checks: set[str] | None) -> Item:
    where = raw.get("id", "?")
    unknown = set(raw) - KEYS
    if unknown:
        raise CatalogueInvalid(f"{where}: unknown keys {', '.join(sorted(unknown))}")
    for key in ("id", "section", "text", "phase"):
        if not raw.get(key):
            raise CatalogueInvalid(f"{where}: '{key}' is missing")
    if raw["phase"] not in PHASES:
        raise CatalogueInvalid(f"{where}: phase {raw['phase']!r} is not one of {', '.join(PHASES)}")
    kinds = [key for key in ("check", "signoff", "not_applicable") if raw.get(key)]
    if len(kinds) != 1:
        raise CatalogueInvalid(f"{where}: needs exactly one of check, signoff, not_applicable (has {kinds or 'none'})")
    if raw.get("signoff") and not raw.get("why"):
        raise CatalogueInvalid(f"{where}: a manual box says why a machine does not check it ('why')")
    if raw.get("required") is False and not raw.get("why"):
        raise CatalogueInvalid(f"{where}: an advisory check says why it is not required ('why')")
    if raw.get("check") and known_checks is not None and raw["check"] not in known_checks:
        raise CatalogueInvalid(f"{where}: no check named {raw['check']!r} (checks/registry.py)")
    return Item(
        id=str(raw["id"]),
        section=str(raw["section"]),
        text=str(raw["text"]),
        phase=str(raw["phase"]),
        check=raw.get("check"),
        args=dict(raw.get("args") or {}),
        required=bool(raw.get("required", True)),
        signoff=raw.get("signoff"),
        machine=bool(raw.get("machine", False)),
        why=str(raw.get("why", "")),
        not_applicable=raw.get("not_applicable"),
    )


def parse(raw: Any, known_checks: set[str] | None = None) -> list[Item]:
    if not isinstance(raw, list):
        raise CatalogueInvalid("the catalogue is a list of entries")
    items = [_item(entry, known_checks) for entry in raw]
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise CatalogueInvalid(f"{item.id}: id used twice")
        seen.add(item.id)
    return items


def load(path: Path = CATALOGUE, known_checks: set[str] | None = None) -> list[Item]:
    return parse(yaml.safe_load(path.read_text(encoding="utf-8")), known_checks)


def for_phase(items: list[Item], phase: str) -> list[Item]:
    if phase == "all":
        return list(items)
    if phase not in PHASES:
        raise CatalogueInvalid(f"unknown phase {phase!r}; known: {', '.join(PHASES)}, all")
    return [item for item in items if item.phase == phase]


@dataclass(frozen=True)
class Share:
    automated: int
    machine_manual: int  # manual boxes a machine could check (not automated yet)
    person: int  # boxes only a person can tick
    not_applicable: int

    @property
    def machine_checkable(self) -> int:
        return self.automated + self.machine_manual

    @property
    def ratio(self) -> float:
        return self.automated / self.machine_checkable if self.machine_checkable else 1.0

    def describe(self) -> str:
        total = self.automated + self.machine_manual + self.person + self.not_applicable
        return (
            f"{self.automated} of {self.machine_checkable} machine-checkable boxes automated ({self.ratio:.1%}); "
            f"{self.person} need a person's sign-off, {self.not_applicable} not applicable; {total} boxes"
        )


def share(items: list[Item]) -> Share:
    return Share(
        automated=sum(1 for i in items if i.kind == "automated"),
        machine_manual=sum(1 for i in items if i.kind == "manual" and i.machine),
        person=sum(1 for i in items if i.kind == "manual" and not i.machine),
        not_applicable=sum(1 for i in items if i.kind == "not applicable"),
    )


def mismatches(boxes: list[Any], items: list[Item]) -> list[str]:
    """How the catalogue differs from the checklist's boxes (checks.checklist.Box), in checklist order: a box
    without an entry, an entry whose text or section drifted, an entry for no box. Empty when they agree."""
    problems = []
    by_text = {item.text: item for item in items}
    matched: set[str] = set()
    for box in boxes:
        item = by_text.get(box.text)
        if item is None:
            problems.append(f"line {box.line}: no catalogue entry for box {box.text!r} ({box.where})")
            continue
        matched.add(item.id)
        if item.section != box.where:
            problems.append(f"{item.id}: section {item.section!r}, the checklist says {box.where!r}")
    problems += [f"{item.id}: {item.text!r} is not a box of the checklist" for item in items if item.id not in matched]
    return problems
