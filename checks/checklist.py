"""The deployment checklist (shared/deployment-checklist.md) read as data: every `- [ ]` box with the
headings above it. The catalogue (checks/catalogue.yml) must hold one entry per box, text for text."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
ENV_VAR = "GOLIVE_CHECKLIST"
_BOX = re.compile(r"^- \[[ xX]\] (?P<text>.+?)\s*$")
_HEADING = re.compile(r"^(?P<level>#{2,4}) (?P<title>.+?)\s*$")
_BOLD = re.compile(r"^\*\*(?P<title>.+?):?\*\*:?\s*$")


@dataclass(frozen=True)
class Box:
    part: str  # "Pre-Deployment Preparation"
    section: str  # "1. Code Quality and Testing"
    group: str  # "M-Pesa Payment Flow", "First 24 Hours" or ""
    text: str
    line: int

    @property
    def where(self) -> str:
        return " / ".join(name for name in (self.part, self.section, self.group) if name)


# The source document, kept in the repository (a clone has no ../shared): tests/checks/test_catalogue.py fails
# when it differs from the shared original beside the repository.
VENDORED = Path(__file__).with_name("deployment-checklist.md")


def default_path() -> Path:
    """GOLIVE_CHECKLIST, else the repository's copy of shared/deployment-checklist.md."""
    configured = os.environ.get(ENV_VAR)
    return Path(configured) if configured else VENDORED


def shared_original() -> Path | None:
    """shared/deployment-checklist.md beside the repository (worktrees: further up), where there is one."""
    for base in REPO_ROOT.parents:
        candidate = base / "shared" / "deployment-checklist.md"
        if candidate.is_file():
            return candidate
    return None


def _clean(title: str) -> str:
    return title.replace("✅", "").strip()


def parse(text: str) -> list[Box]:
    boxes: list[Box] = []
    part = section = group = ""
    fenced = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        if line.startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            continue
        if heading := _HEADING.match(line):
            level, title = len(heading["level"]), _clean(heading["title"])
            if level == 2:
                part, section, group = title, "", ""
            elif level == 3:
                section, group = title, ""
            else:
                group = title
        elif bold := _BOLD.match(line):
            group = _clean(bold["title"])
        elif box := _BOX.match(line):
            boxes.append(Box(part, section, group, box["text"], number))
    return boxes


def load(path: Path | None = None) -> list[Box]:
    return parse((path or default_path()).read_text(encoding="utf-8"))
