"""SSH keys generated per lab: the client key root logs in with, and one host key per host (pinned in the
lab's known_hosts, so StrictHostKeyChecking stays on)."""

from __future__ import annotations

from pathlib import Path

from lab.layout import Layout
from lab.plan import HOSTS
from lab.shell import run


def keygen_command(path: Path, comment: str) -> list[str]:
    return ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)]


def ensure_key(path: Path, comment: str) -> None:
    """Creates the key pair unless both halves exist (a lone half is replaced)."""
    public = path.with_name(path.name + ".pub")
    if path.exists() and public.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    path.unlink(missing_ok=True)
    public.unlink(missing_ok=True)
    run(keygen_command(path, comment), f"generating {path.name}")


def ensure_all(layout: Layout) -> dict[str, str]:
    """The lab's client key and every host key; returns each host's public key."""
    ensure_key(layout.key, "golive-lab")
    public = {}
    for host in HOSTS:
        path = layout.host_key(host.name)
        ensure_key(path, f"root@{host.name}")
        public[host.name] = path.with_name(path.name + ".pub").read_text().strip()
    return public
