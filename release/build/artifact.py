"""Build once, install offline: one artifact per version of the service.

`cache_dir/golive-<version>.tar.gz` (and its `.sha256`) holds:

    manifest.json     version, git sha, dirty, schema head, requirements hash, python, built_at, files
    requirements.txt  every runtime dependency pinned name==version (the project's [project] dependencies
                      and all they need), installable with `pip install --no-index --find-links wheelhouse`
    source/           the tracked tree of that version (`git archive`)
    wheelhouse/       a wheel for every pinned dependency, for CPython <python> on manylinux x86_64

The wheelhouse is cached by its requirements hash under cache_dir/wheelhouses/<hash>/, so a new version of
the code with the same dependencies only packs. Everything is written in a temp folder inside cache_dir and
renamed into place: an artifact or a wheelhouse is either whole under its final name or not there.
"""

from __future__ import annotations

import ast
import fcntl
import hashlib
import io
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tarfile
import time
import tomllib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any

from foundation.files import first_line, sha256_of

__all__ = [
    "Artifact",
    "ArtifactBuildFailed",
    "ArtifactCorrupt",
    "ResolvedVersion",
    "UnknownVersion",
    "build",
    "load",
    "resolve_version",
    "schema_head",
    "verify",
]

MIGRATIONS = "app/migrations/versions"
PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_17_x86_64")
IMPLEMENTATION = "cp"
MANIFEST_FORMAT = 1
PIP_TIMEOUT_S = 900
_WHEEL_NAME = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+)(?:-\d[^-]*)?-[^-]+-[^-]+-[^-]+\.whl$")

Progress = Callable[[str], None]


class UnknownVersion(Exception):
    """The ref names no commit in the repository."""


class ArtifactCorrupt(Exception):
    """An artifact does not match its checksum, or is not an artifact at all."""


class ArtifactBuildFailed(Exception):
    """The artifact could not be built (nothing was left under its final name)."""


@dataclass(frozen=True)
class ResolvedVersion:
    git_sha: str  # the commit (for a dirty working tree: HEAD, which the changes are on)
    version: str  # 12 hex of the sha, or "<12 hex>-dirty-<8 hex identifying the working tree's changes>"
    dirty: bool


@dataclass(frozen=True)
class Artifact:
    path: Path
    sha256: str
    version: str
    git_sha: str
    schema_head: str
    requirements_hash: str
    python: str
    size: int


# --- versions -------------------------------------------------------------------------------------------------


def _git(repo: Path, *args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env=None if env is None else {**os.environ, **env},
    )


# `git stash create` writes a commit object (never a ref, never the tree): it needs an identity to do so.
_STASH_IDENTITY = {
    "GIT_AUTHOR_NAME": "golive release",
    "GIT_AUTHOR_EMAIL": "release@golive.invalid",
    "GIT_COMMITTER_NAME": "golive release",
    "GIT_COMMITTER_EMAIL": "release@golive.invalid",
}


def _resolve(repo: Path, ref: str | None) -> tuple[ResolvedVersion, str]:
    """The version, and the commit object whose tree is that version's source."""
    if _git(repo, "rev-parse", "--git-dir").returncode != 0:
        raise UnknownVersion(f"{repo} is not a git repository")
    if ref is not None:
        if not ref.strip() or ref.startswith("-"):
            raise UnknownVersion(f"unknown version {ref!r}: not a tag, branch or commit")
        result = _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
        if result.returncode != 0:
            raise UnknownVersion(f"unknown version {ref!r}: no tag, branch or commit of that name in {repo}")
        sha = result.stdout.strip()
        return ResolvedVersion(git_sha=sha, version=sha[:12], dirty=False), sha
    head = _git(repo, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    if head.returncode != 0:
        raise UnknownVersion(f"the working tree of {repo} has no commit yet")
    sha = head.stdout.strip()
    stash = _git(repo, "stash", "create", env=_STASH_IDENTITY)
    if stash.returncode != 0:
        raise ArtifactBuildFailed(f"git stash create failed in {repo}: {first_line(stash.stderr)}")
    snapshot = stash.stdout.strip()
    if not snapshot:
        return ResolvedVersion(git_sha=sha, version=sha[:12], dirty=False), sha
    # The tree of the snapshot is the working tree's tracked content: the same changes, the same id.
    tree = _git(repo, "rev-parse", "--verify", f"{snapshot}^{{tree}}")
    if tree.returncode != 0:
        raise ArtifactBuildFailed(f"cannot read the working tree snapshot {snapshot}: {first_line(tree.stderr)}")
    changes = hashlib.sha256(f"{sha} {tree.stdout.strip()}".encode()).hexdigest()[:8]
    return ResolvedVersion(git_sha=sha, version=f"{sha[:12]}-dirty-{changes}", dirty=True), snapshot


def resolve_version(repo: Path, ref: str | None) -> ResolvedVersion:
    """ref None: the working tree (its tracked files, uncommitted changes included; the tree is not touched).
    Otherwise a tag, branch or commit; UnknownVersion when it names none."""
    return _resolve(repo, ref)[0]


# --- what a version contains ------------------------------------------------------------------------------------


def _assigned(tree: ast.Module, name: str) -> tuple[bool, Any]:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return True, ast.literal_eval(node.value)
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id == name
            and node.value is not None
        ):
            return True, ast.literal_eval(node.value)
    return False, None


def schema_head(sources: Mapping[str, str]) -> str:
    """The newest Alembic revision among migration files ({file name: source text}), read without importing
    them: the one revision that no other revises. ArtifactBuildFailed when there is none, or several."""
    revises: dict[str, tuple[str, ...]] = {}
    for name, text in sorted(sources.items()):
        try:
            tree = ast.parse(text, filename=name)
            has_revision, revision = _assigned(tree, "revision")
            if not has_revision:
                continue
            has_down, down = _assigned(tree, "down_revision")
        except (SyntaxError, ValueError) as exc:
            raise ArtifactBuildFailed(f"cannot read the revision of migration {name}: {exc}") from exc
        if not isinstance(revision, str) or not revision:
            raise ArtifactBuildFailed(f"migration {name}: revision is not a string")
        if not has_down:
            raise ArtifactBuildFailed(f"migration {name}: no down_revision")
        downs = (down,) if isinstance(down, str) else tuple(down or ())
        if not all(isinstance(item, str) for item in downs):
            raise ArtifactBuildFailed(f"migration {name}: down_revision is not a string, a tuple of them, or None")
        if revision in revises:
            raise ArtifactBuildFailed(f"migration {name}: revision {revision} is defined twice")
        revises[revision] = downs
    if not revises:
        raise ArtifactBuildFailed(f"no Alembic revisions in {MIGRATIONS}")
    for revision, downs in revises.items():
        unknown = [down for down in downs if down not in revises]
        if unknown:
            raise ArtifactBuildFailed(f"revision {revision} revises {', '.join(unknown)}, which does not exist")
    revised = {down for downs in revises.values() for down in downs}
    heads = sorted(set(revises) - revised)
    if len(heads) != 1:
        raise ArtifactBuildFailed(f"the migrations have {len(heads)} heads ({', '.join(heads) or 'a cycle'})")
    return heads[0]


def _runtime_dependencies(pyproject: bytes) -> list[str]:
    try:
        project = tomllib.loads(pyproject.decode("utf-8")).get("project", {})
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ArtifactBuildFailed(f"cannot read pyproject.toml: {exc}") from exc
    dependencies = project.get("dependencies", [])
    if not isinstance(dependencies, list) or not all(isinstance(item, str) for item in dependencies):
        raise ArtifactBuildFailed("pyproject.toml: [project] dependencies is not a list of strings")
    return sorted(item.strip() for item in dependencies)


def requirements_hash(dependencies: list[str], python: str) -> str:
    """Names a wheelhouse: the sorted dependency specs, the Python version and the platform."""
    text = "\n".join([f"python {python}", f"platform {IMPLEMENTATION} {' '.join(PLATFORMS)}", *sorted(dependencies)])
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class _Source:
    archive: Path
    files: int
    dependencies: list[str]
    schema_head: str


def _read_source(repo: Path, commit: str, into: Path) -> _Source:
    archive = into / "source.tar"
    result = _git(repo, "archive", "--format=tar", "--prefix=source/", f"--output={archive}", commit)
    if result.returncode != 0:
        raise ArtifactBuildFailed(f"git archive {commit[:12]} failed: {first_line(result.stderr)}")
    pyproject: bytes | None = None
    migrations: dict[str, str] = {}
    files = 0
    with tarfile.open(archive, "r:") as tar:
        for member in tar:
            if not member.isreg():
                continue
            files += 1
            path = PurePosixPath(member.name).relative_to("source")
            if str(path) == "pyproject.toml":
                pyproject = _read_member(tar, member)
            elif str(path.parent) == MIGRATIONS and path.suffix == ".py":
                migrations[path.name] = _read_member(tar, member).decode("utf-8", errors="replace")
    if pyproject is None:
        raise ArtifactBuildFailed(f"version {commit[:12]} has no pyproject.toml")
    return _Source(archive, files, _runtime_dependencies(pyproject), schema_head(migrations))


def _read_member(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    handle = tar.extractfile(member)
    assert handle is not None
    return handle.read()


# --- the wheelhouse --------------------------------------------------------------------------------------------


def _pip_env(offline: bool) -> dict[str, str]:
    env = dict(os.environ)
    if offline:  # no configured find-links or index may stand in for the wheelhouse
        for name in [name for name in env if name.startswith("PIP_")]:
            del env[name]
        env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _pip(args: list[str], *, offline: bool, what: str) -> None:
    command = [sys.executable, "-m", "pip", *args, "--no-input", "--progress-bar", "off"]
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, check=False, timeout=PIP_TIMEOUT_S, env=_pip_env(offline)
        )
    except subprocess.TimeoutExpired as exc:
        raise ArtifactBuildFailed(f"{what}: pip took longer than {PIP_TIMEOUT_S} s") from exc
    if result.returncode != 0:
        errors = [line.strip() for line in result.stderr.splitlines() if line.strip().startswith("ERROR")]
        detail = errors[0] if errors else first_line(result.stderr[-2000:]) or f"pip exited {result.returncode}"
        raise ArtifactBuildFailed(f"{what}: {detail}")


def _target_args(python: str) -> list[str]:
    args = ["--only-binary=:all:", "--python-version", python, "--implementation", IMPLEMENTATION]
    for platform in PLATFORMS:
        args += ["--platform", platform]
    return args


def _pins(wheel_dir: Path) -> list[str]:
    pins = []
    for wheel in sorted(wheel_dir.glob("*.whl")):
        match = _WHEEL_NAME.match(wheel.name)
        if match is None:
            raise ArtifactBuildFailed(f"cannot read the name and version of {wheel.name}")
        pins.append(f"{match['name']}=={match['version']}")
    others = [path.name for path in wheel_dir.iterdir() if path.suffix != ".whl" and path.name != "requirements.txt"]
    if others:
        raise ArtifactBuildFailed(f"pip left files that are not wheels: {', '.join(sorted(others))}")
    return sorted(pins, key=str.lower)


def _complete(wheelhouse: Path) -> bool:
    """A wheelhouse whose requirements.txt names exactly the wheels it holds."""
    requirements = wheelhouse / "requirements.txt"
    if not requirements.is_file():
        return False
    try:
        return _pins(wheelhouse) == requirements.read_text(encoding="utf-8").split()
    except (ArtifactBuildFailed, OSError):
        return False


def _wheelhouse(cache_dir: Path, dependencies: list[str], python: str, progress: Progress) -> tuple[Path, str]:
    digest = requirements_hash(dependencies, python)
    root = cache_dir / "wheelhouses"
    final = root / digest
    if _complete(final):
        progress(f"wheelhouse cached ({len(list(final.glob('*.whl')))} wheels)")
        return final, digest
    if final.exists():
        progress("cached wheelhouse incomplete: building it again")
        shutil.rmtree(final)
    root.mkdir(parents=True, exist_ok=True)
    draft = root / f".draft-{digest[:12]}-{secrets.token_hex(4)}"
    draft.mkdir()
    try:
        if dependencies:
            progress(
                f"downloading wheels for {len(dependencies)} dependencies "
                f"(CPython {python}, manylinux x86_64): pip download"
            )
            wanted = draft / ".requirements.in"
            wanted.write_text("\n".join(dependencies) + "\n", encoding="utf-8")
            _pip(
                ["download", *_target_args(python), "--dest", str(draft), "-r", str(wanted)],
                offline=False,
                what="pip download of the runtime dependencies failed",
            )
            wanted.unlink()
        pins = _pins(draft)
        (draft / "requirements.txt").write_text("".join(f"{pin}\n" for pin in pins), encoding="utf-8")
        if pins:
            # Proof that the pins resolve from the wheelhouse alone, for the targets' Python and platform.
            _pip(
                [
                    "install",
                    "--dry-run",
                    "--ignore-installed",
                    "--no-index",
                    "--find-links",
                    str(draft),
                    *_target_args(python),
                    "--target",
                    str(draft / ".dry-run"),
                    "-r",
                    str(draft / "requirements.txt"),
                ],
                offline=True,
                what="the wheelhouse does not install offline",
            )
        shutil.rmtree(draft / ".dry-run", ignore_errors=True)
        os.rename(draft, final)
    finally:
        shutil.rmtree(draft, ignore_errors=True)
    size = sum(path.stat().st_size for path in final.glob("*.whl"))
    progress(f"wheelhouse built ({len(pins)} wheels, {_size(size)})")
    return final, digest


# --- packing ------------------------------------------------------------------------------------------------


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def _normalized(info: tarfile.TarInfo, mtime: float) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = int(mtime)
    if info.isreg():
        info.mode = 0o755 if info.mode & 0o100 else 0o644
    return info


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mtime: float) -> None:
    info = _normalized(tarfile.TarInfo(name), mtime)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def _pack(out: Path, manifest: dict[str, Any], requirements: bytes, source: Path, wheelhouse: Path) -> None:
    built = time.time()
    with tarfile.open(out, "w:gz", compresslevel=6) as tar:
        _add_bytes(tar, "manifest.json", json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n", built)
        _add_bytes(tar, "requirements.txt", requirements, built)
        with tarfile.open(source, "r:") as src:
            for member in src:
                stream: IO[bytes] | None = src.extractfile(member) if member.isreg() else None
                tar.addfile(_normalized(member, member.mtime), stream)
        info = _normalized(tarfile.TarInfo("wheelhouse"), built)
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(info)
        for wheel in sorted(wheelhouse.glob("*.whl")):
            tar.add(wheel, arcname=f"wheelhouse/{wheel.name}", filter=lambda item: _normalized(item, built))


@contextmanager
def _locked(cache_dir: Path) -> Iterator[None]:
    """One build at a time per cache (two controllers on one machine wait for each other)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    with (cache_dir / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _checksum_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def build(
    repo: Path, ref: str | None, cache_dir: Path, *, python: str = "3.11", progress: Progress | None = None
) -> Artifact:
    """The artifact of a version (ref None: the working tree), from the cache when it was built before."""
    say: Progress = progress or (lambda _message: None)
    if not re.fullmatch(r"3\.\d{1,2}", python):
        raise ArtifactBuildFailed(f"python must be a CPython 3 version like 3.11, not {python!r}")
    say(f"resolving {ref}" if ref is not None else "resolving the working tree")
    resolved, commit = _resolve(repo, ref)
    say(f"version {resolved.version}" + (" (uncommitted changes included)" if resolved.dirty else ""))
    final = cache_dir / f"golive-{resolved.version}.tar.gz"
    with _locked(cache_dir):
        if final.exists():
            try:
                cached = load(final)
            except ArtifactCorrupt as exc:
                say(f"cached artifact unusable ({exc}): building it again")
            else:
                if cached.python == python:
                    say(f"artifact cached ({_size(cached.size)})")
                    return cached
                say(f"cached artifact is for Python {cached.python}: building it again")
        draft = cache_dir / f".build-{secrets.token_hex(6)}"
        draft.mkdir()
        try:
            return _build(
                repo,
                resolved=resolved,
                commit=commit,
                cache_dir=cache_dir,
                draft=draft,
                final=final,
                python=python,
                say=say,
            )
        finally:
            shutil.rmtree(draft, ignore_errors=True)


def _build(
    repo: Path,
    *,
    resolved: ResolvedVersion,
    commit: str,
    cache_dir: Path,
    draft: Path,
    final: Path,
    python: str,
    say: Progress,
) -> Artifact:
    source = _read_source(repo, commit, draft)
    say(f"source: {source.files} files, schema head {source.schema_head}, {len(source.dependencies)} dependencies")
    wheelhouse, digest = _wheelhouse(cache_dir, source.dependencies, python, say)
    requirements = (wheelhouse / "requirements.txt").read_bytes()
    manifest = {
        "format": MANIFEST_FORMAT,
        "version": resolved.version,
        "git_sha": resolved.git_sha,
        "dirty": resolved.dirty,
        "schema_head": source.schema_head,
        "requirements_hash": digest,
        "python": python,
        "platforms": list(PLATFORMS),
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "files": source.files,
        "wheels": len(list(wheelhouse.glob("*.whl"))),
    }
    payload = source.archive.stat().st_size + sum(path.stat().st_size for path in wheelhouse.glob("*.whl"))
    say(f"packing {_size(payload)}")
    out = draft / final.name
    _pack(out, manifest, requirements, source.archive, wheelhouse)
    sha256 = sha256_of(out)
    checksum = draft / _checksum_path(final).name
    checksum.write_text(f"{sha256}  {final.name}\n", encoding="utf-8")
    _checksum_path(final).unlink(missing_ok=True)  # never an old checksum beside a new artifact
    os.replace(out, final)
    os.replace(checksum, _checksum_path(final))
    size = final.stat().st_size
    say(f"built {final.name} ({_size(size)}, sha256 {sha256[:16]}…)")
    return Artifact(
        path=final,
        sha256=sha256,
        version=resolved.version,
        git_sha=resolved.git_sha,
        schema_head=source.schema_head,
        requirements_hash=digest,
        python=python,
        size=size,
    )


# --- reading artifacts ------------------------------------------------------------------------------------


def verify(path: Path, expected_sha256: str) -> None:
    """ArtifactCorrupt unless the file exists and its sha256 is the expected one."""
    if not path.is_file():
        raise ArtifactCorrupt(f"artifact {path} is missing")
    expected = expected_sha256.strip().lower()
    actual = sha256_of(path)
    if actual != expected:
        raise ArtifactCorrupt(f"{path.name}: sha256 is {actual}, expected {expected}")


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        with tarfile.open(path, "r|gz") as tar:
            first = tar.next()
            if first is None or first.name != "manifest.json" or not first.isreg():
                raise ArtifactCorrupt(f"{path.name}: manifest.json is not its first entry")
            handle = tar.extractfile(first)
            assert handle is not None
            manifest = json.loads(handle.read())
    except (tarfile.TarError, OSError, EOFError, ValueError) as exc:
        raise ArtifactCorrupt(f"{path.name}: cannot read its manifest: {exc}") from exc
    missing = [
        key for key in ("version", "git_sha", "schema_head", "requirements_hash", "python") if key not in manifest
    ]
    if missing:
        raise ArtifactCorrupt(f"{path.name}: manifest lacks {', '.join(missing)}")
    return manifest


def load(path: Path) -> Artifact:
    """A built artifact, from its manifest, after checking it against its .sha256 file."""
    checksum = _checksum_path(path)
    if not path.is_file():
        raise ArtifactCorrupt(f"artifact {path} is missing")
    if not checksum.is_file():
        raise ArtifactCorrupt(f"{path.name}: its checksum file {checksum.name} is missing")
    words = checksum.read_text(encoding="utf-8", errors="replace").split()
    if not words or not re.fullmatch(r"[0-9a-f]{64}", words[0]):
        raise ArtifactCorrupt(f"{checksum.name} holds no sha256")
    verify(path, words[0])
    manifest = _read_manifest(path)
    return Artifact(
        path=path,
        sha256=words[0],
        version=str(manifest["version"]),
        git_sha=str(manifest["git_sha"]),
        schema_head=str(manifest["schema_head"]),
        requirements_hash=str(manifest["requirements_hash"]),
        python=str(manifest["python"]),
        size=path.stat().st_size,
    )
