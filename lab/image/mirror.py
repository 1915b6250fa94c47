"""Which Debian mirror the image is built from: the machine's own (from its apt sources) when the machine
runs Debian, Debian's CDN otherwise; GOLIVE_LAB_MIRROR overrides."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEFAULT_SECURITY = "http://deb.debian.org/debian-security"


@dataclass(frozen=True)
class Source:
    uri: str
    suites: tuple[str, ...]


@dataclass(frozen=True)
class Mirrors:
    archive: str
    security: str


def parse_one_line(text: str) -> list[Source]:
    """`deb [options] URI suite component...` lines (sources.list format)."""
    found = []
    for raw in text.splitlines():
        words = raw.split("#", 1)[0].split()
        if not words or words[0] != "deb":
            continue
        words = words[1:]
        if words and words[0].startswith("["):
            while words and not words[0].endswith("]"):
                words = words[1:]
            words = words[1:]
        if len(words) >= 2:
            found.append(Source(words[0], (words[1],)))
    return found


def parse_deb822(text: str) -> list[Source]:
    """Stanzas of `Types:`, `URIs:`, `Suites:` (the .sources format)."""
    found = []
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        for raw in stanza.splitlines():
            if raw.startswith("#") or ":" not in raw or raw[:1].isspace():
                continue
            name, value = raw.split(":", 1)
            fields[name.strip().lower()] = value.strip()
        if "deb" not in fields.get("types", "").split() or fields.get("enabled", "yes").lower() == "no":
            continue
        suites = tuple(fields.get("suites", "").split())
        found.extend(Source(uri, suites) for uri in fields.get("uris", "").split())
    return found


def choose(sources: list[Source], machine_is_debian: bool) -> Mirrors:
    """The first archive and security URIs among the machine's sources (Debian's CDN when absent)."""
    if not machine_is_debian:
        return Mirrors(DEFAULT_MIRROR, DEFAULT_SECURITY)
    web = [s for s in sources if s.uri.startswith(("http://", "https://"))]
    security = next((s.uri for s in web if any(x.endswith("-security") for x in s.suites)), DEFAULT_SECURITY)
    archive = next(
        (s.uri for s in web if s.uri != security and not any(x.endswith("-security") for x in s.suites)),
        DEFAULT_MIRROR,
    )
    return Mirrors(archive.rstrip("/"), security.rstrip("/"))


def machine_sources(etc: Path = Path("/etc/apt")) -> list[Source]:
    found = []
    if (etc / "sources.list").exists():
        found.extend(parse_one_line((etc / "sources.list").read_text()))
    for path in sorted((etc / "sources.list.d").glob("*.list")):
        found.extend(parse_one_line(path.read_text()))
    for path in sorted((etc / "sources.list.d").glob("*.sources")):
        found.extend(parse_deb822(path.read_text()))
    return found


def machine_is_debian(os_release: Path = Path("/etc/os-release")) -> bool:
    if not os_release.exists():
        return False
    return any(line.strip() in ("ID=debian", 'ID="debian"') for line in os_release.read_text().splitlines())


def discover(override: str | None = None) -> Mirrors:
    if override:
        return Mirrors(override.rstrip("/"), DEFAULT_SECURITY)
    return choose(machine_sources(), machine_is_debian())
