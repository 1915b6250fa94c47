"""Shell commands for a host's release layout (pure: they are built here and run by a transport).

<root>/releases/<id>/{source/, wheelhouse/, requirements.txt, manifest.json, release.env, venv -> ../../venvs/<hash>}
<root>/venvs/<requirements hash>/   dependencies, shared by releases with the same requirements
<root>/current -> releases/<id>      switched atomically (rename over the old link)
<root>/previous -> releases/<id>     what current was before the last switch
<root>/shared/golive.env             settings and secrets (0600), kept across releases

The layout but shared/ is the release's own (the deploy user's). What needs root — restarting a unit, migrating with
the settings, reading them — goes through one program, roles/app's golive-release, which the deploy user may run
under sudo and nothing else; the local environment runs the same program as its own user.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

STATE_MARKER = "--golive-state--"
HELPER = "/usr/local/sbin/golive-release"  # roles/app: app_release_helper


def q(value: object) -> str:
    return shlex.quote(str(value))


@dataclass(frozen=True)
class Layout:
    root: str
    python: str = "python3"  # the targets' interpreter (3.11 on Debian 12)
    helper: str = f"sudo -n {HELPER}"  # how the privileged steps are asked for (the local environment: directly)

    def release(self, release_id: str) -> str:
        return f"{self.root}/releases/{release_id}"

    @property
    def current(self) -> str:
        return f"{self.root}/current"

    @property
    def env_file(self) -> str:
        return f"{self.root}/shared/golive.env"


def read_state(layout: Layout) -> str:
    """Prints current, previous, the current version and every release (parsed by parse_state)."""
    r = q(layout.root)
    return (
        f"mkdir -p {r}/releases {r}/shared {r}/venvs; echo {STATE_MARKER}; "
        f"readlink {r}/current || echo -; readlink {r}/previous || echo -; "
        f"python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[\"version\"])' {r}/current/manifest.json "
        "2>/dev/null || echo -; "
        f"ls -1 {r}/releases | grep -v '^\\.' || true"
    )


def parse_state(output: str) -> tuple[str | None, str | None, str | None, tuple[str, ...]]:
    lines = output.split(STATE_MARKER, 1)[1].strip().splitlines()

    def release_of(link: str) -> str | None:
        return None if link == "-" else link.rstrip("/").rsplit("/", 1)[-1]

    current, previous, version = release_of(lines[0]), release_of(lines[1]), lines[2]
    return current, previous, (None if version == "-" else version), tuple(sorted(lines[3:]))


def unpack(layout: Layout, release_id: str, artifact: str) -> str:
    target = layout.release(release_id)
    draft = f"{layout.root}/releases/.{release_id}.partial"
    return (
        f"test -d {q(target)} || {{ rm -rf {q(draft)} && mkdir -p {q(draft)} && tar -xzf {q(artifact)} -C {q(draft)} "
        f"&& mv -T {q(draft)} {q(target)}; }}"
    )


def install(layout: Layout, release_id: str, requirements_hash: str, release_env: dict[str, str]) -> str:
    """Dependencies into a venv keyed by their hash (built once, offline, from the wheelhouse)."""
    release = layout.release(release_id)
    venv = f"{layout.root}/venvs/{requirements_hash}"
    draft = f"{venv}.partial"
    env_lines = "\\n".join(f"{key}={value}" for key, value in sorted(release_env.items()))
    return (
        f"test -x {q(venv)}/bin/python || {{ rm -rf {q(draft)} && {q(layout.python)} -m venv {q(draft)} && "
        f"{q(draft)}/bin/pip install --quiet --no-index --find-links {q(release)}/wheelhouse "
        f"-r {q(release)}/requirements.txt && mv -T {q(draft)} {q(venv)}; }} && "
        f"ln -sfn {q(venv)} {q(release)}/venv && printf '{env_lines}\\n' > {q(release)}/release.env"
    )


def switch(layout: Layout, release_id: str) -> str:
    """current -> releases/<id> by renaming a fresh link over it (atomic); the old target becomes previous."""
    r = q(layout.root)
    return (
        f"test -d {q(layout.release(release_id))} && "
        f'if [ -L {r}/current ] && [ "$(readlink {r}/current)" != releases/{q(release_id)} ]; then '
        f"cp -P {r}/current {r}/.previous.tmp && mv -T {r}/.previous.tmp {r}/previous; fi && "
        f"ln -sfn releases/{q(release_id)} {r}/.current.tmp && mv -T {r}/.current.tmp {r}/current"
    )


def set_previous(layout: Layout, release_id: str | None) -> str:
    """previous -> releases/<id> (renamed into place, atomic), or no previous link at all when None."""
    r = q(layout.root)
    if release_id is None:
        return f"rm -f {r}/previous"
    return f"ln -sfn releases/{q(release_id)} {r}/.previous.tmp && mv -T {r}/.previous.tmp {r}/previous"


def prune(layout: Layout, release_id: str) -> str:
    return f"rm -rf {q(layout.release(release_id))}"


def migrate(layout: Layout, release_id: str) -> str:
    """The release's migrations with the service's settings, as the service user."""
    return f"{layout.helper} migrate {q(release_id)}"


def settings(layout: Layout, *, stat: bool = False) -> str:
    """The service's settings file (secrets: never print it), or its mode and owner (`stat`)."""
    return f"{layout.helper} settings" + (" --stat" if stat else "")


def restart(
    layout: Layout,
    manager: str,
    instance: str,
    *,
    supervisorctl: str = "supervisorctl",
    supervisor_conf: str | None = None,
) -> str:
    if manager == "supervisord":
        return f"{supervisorctl} -c {q(supervisor_conf)} restart {q(instance)}"
    return f"{layout.helper} restart {q(instance)}"
