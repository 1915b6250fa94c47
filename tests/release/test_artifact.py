"""The release artifact: versions from git (clean, dirty, refs), the build and its cache, corruption, the schema
head, and (slow) the real repository's artifact installing offline into a fresh venv."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from foundation.files import sha256_of
from foundation.repository import REPO_ROOT
from release.build import artifact

DEPENDENCY = "six==1.16.0"
WHEEL = "six-1.16.0-py2.py3-none-any.whl"

PYPROJECT = """\
[project]
name = "throwaway"
version = "0.1.0"
dependencies = [{dependencies}]

[project.optional-dependencies]
test = ["pytest>=8"]
"""


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def write(repo: Path, path: str, text: str) -> None:
    (repo / path).parent.mkdir(parents=True, exist_ok=True)
    (repo / path).write_text(text)


def commit(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def make_repo(root: Path, dependencies: str = f'"{DEPENDENCY}"') -> Path:
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    write(root, "pyproject.toml", PYPROJECT.format(dependencies=dependencies))
    write(root, "app/__init__.py", 'GREETING = "one"\n')
    write(root, "app/migrations/__init__.py", "")
    write(root, "app/migrations/versions/__init__.py", "")
    write(root, "app/migrations/versions/0001_x.py", 'revision = "0001"\ndown_revision = None\n')
    write(
        root,
        "app/migrations/versions/0002_y.py",
        '"""Adds y."""\nrevision: str = "0002"\ndown_revision: str | None = "0001"\n',
    )
    write(root, "simulators/__init__.py", "")
    commit(root, "one")
    git(root, "tag", "v1")
    return root


def state(repo: Path) -> tuple[str, str, str]:
    """What a build must not change: status, stash list and the working tree's file contents."""
    contents = "".join(f"{path}:{(repo / path).read_text()}" for path in sorted(git(repo, "ls-files").splitlines()))
    return git(repo, "status", "--porcelain"), git(repo, "stash", "list"), contents


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo")


@pytest.fixture(scope="module")
def seeded_wheelhouses(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real build's wheelhouse cache, copied into each test's cache (so most tests need no pip)."""
    root = tmp_path_factory.mktemp("seed")
    cache = root / "cache"
    artifact.build(make_repo(root / "repo"), None, cache)
    return cache / "wheelhouses"


@pytest.fixture
def cache(tmp_path: Path, seeded_wheelhouses: Path) -> Path:
    cache_dir = tmp_path / "cache"
    shutil.copytree(seeded_wheelhouses, cache_dir / "wheelhouses")
    return cache_dir


def no_pip(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args, **_kwargs):
        raise AssertionError("pip was called")

    monkeypatch.setattr(artifact, "_pip", refuse)


def members(path: Path) -> list[str]:
    with tarfile.open(path) as tar:
        return tar.getnames()


def read_member(path: Path, name: str) -> str:
    with tarfile.open(path) as tar:
        handle = tar.extractfile(name)
        assert handle is not None
        return handle.read().decode()


def leftovers(cache_dir: Path) -> list[str]:
    """Anything in the cache that is neither an artifact, its checksum, the wheelhouses nor the lock."""
    allowed = re.compile(r"^(golive-.+\.tar\.gz(\.sha256)?|wheelhouses|\.lock)$")
    found = [path.name for path in cache_dir.iterdir() if not allowed.match(path.name)]
    found += [path.name for path in (cache_dir / "wheelhouses").iterdir() if path.name.startswith(".")]
    return found


# --- versions -----------------------------------------------------------------------------------------------


def test_clean_versions_resolve_from_any_ref(repo: Path) -> None:
    first = git(repo, "rev-parse", "HEAD")
    expected = artifact.ResolvedVersion(git_sha=first, version=first[:12], dirty=False)
    for ref in (None, "HEAD", "main", "v1", first, first[:7]):
        assert artifact.resolve_version(repo, ref) == expected

    write(repo, "app/__init__.py", 'GREETING = "two"\n')
    second = commit(repo, "two")
    assert artifact.resolve_version(repo, None).version == second[:12]
    assert artifact.resolve_version(repo, "v1") == expected
    assert artifact.resolve_version(repo, "HEAD~1") == expected


def test_unknown_versions_are_named(repo: Path, tmp_path: Path) -> None:
    for ref in ("no-such-tag", "deadbeefdeadbeef", "v1:app", "--all", ""):
        with pytest.raises(artifact.UnknownVersion, match=re.escape(repr(ref))):
            artifact.resolve_version(repo, ref)
    with pytest.raises(artifact.UnknownVersion, match="not a git repository"):
        artifact.resolve_version(tmp_path / "nowhere", None)
    with pytest.raises(artifact.UnknownVersion, match="no-such-tag"):
        artifact.build(repo, "no-such-tag", tmp_path / "cache")


def test_dirty_versions_follow_the_changes_and_leave_the_tree_alone(repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD")
    write(repo, "untracked.txt", "not part of any version")
    assert artifact.resolve_version(repo, None).dirty is False  # untracked files don't count

    write(repo, "app/__init__.py", 'GREETING = "changed"\n')
    before = state(repo)
    dirty = artifact.resolve_version(repo, None)
    assert state(repo) == before
    assert dirty.dirty and dirty.git_sha == head
    assert re.fullmatch(rf"{head[:12]}-dirty-[0-9a-f]{{8}}", dirty.version)
    assert artifact.resolve_version(repo, None) == dirty  # same changes, same version

    write(repo, "app/__init__.py", 'GREETING = "changed again"\n')
    again = artifact.resolve_version(repo, None)
    assert again.dirty and again.version != dirty.version

    git(repo, "add", "app/__init__.py")  # staged changes count as well
    assert artifact.resolve_version(repo, None) == again
    write(repo, "app/new.py", "x = 1\n")
    git(repo, "add", "app/new.py")
    assert artifact.resolve_version(repo, None).version != again.version

    git(repo, "reset", "-q", "--hard")
    assert artifact.resolve_version(repo, None) == artifact.ResolvedVersion(head, head[:12], False)
    assert artifact.resolve_version(repo, "HEAD").dirty is False


# --- schema head ----------------------------------------------------------------------------------------------


def test_schema_head_is_read_without_importing() -> None:
    sources = {
        "__init__.py": "",
        "0001_a.py": 'import does_not_exist\nrevision = "0001"\ndown_revision = None\n',
        "0002_b.py": 'revision: str = "0002"\ndown_revision: str | None = "0001"\n',
        "0003_c.py": 'revision = "0003"\ndown_revision = "0001"\n',
        "0004_merge.py": 'revision = "0004"\ndown_revision = ("0002", "0003")\n',
    }
    assert artifact.schema_head(sources) == "0004"
    assert artifact.schema_head({k: v for k, v in sources.items() if k < "0003"}) == "0002"


@pytest.mark.parametrize(
    ("sources", "problem"),
    [
        ({"__init__.py": ""}, "no Alembic revisions"),
        (
            {"a.py": 'revision = "a"\ndown_revision = None\n', "b.py": 'revision = "b"\ndown_revision = None\n'},
            r"2 heads \(a, b\)",
        ),
        ({"a.py": 'revision = "a"\ndown_revision = "zz"\n'}, "revises zz, which does not exist"),
        ({"a.py": 'revision = "a"\n'}, "a.py: no down_revision"),
        ({"a.py": "revision = make_id()\ndown_revision = None\n"}, "cannot read the revision of migration a.py"),
        ({"a.py": 'revision = "a"\ndown_revision = "a"\n'}, "0 heads"),
    ],
)
def test_schema_head_problems_are_named(sources: dict[str, str], problem: str) -> None:
    with pytest.raises(artifact.ArtifactBuildFailed, match=problem):
        artifact.schema_head(sources)


# --- building ---------------------------------------------------------------------------------------------------


def test_build_makes_a_complete_artifact(repo: Path, tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    said: list[str] = []
    built = artifact.build(repo, None, cache_dir, progress=said.append)
    head = git(repo, "rev-parse", "HEAD")

    assert built.path == cache_dir / f"golive-{head[:12]}.tar.gz"
    assert (built.version, built.git_sha, built.schema_head, built.python) == (head[:12], head, "0002", "3.11")
    assert built.size == built.path.stat().st_size
    assert (cache_dir / f"golive-{head[:12]}.tar.gz.sha256").read_text() == f"{built.sha256}  {built.path.name}\n"
    assert built.requirements_hash == artifact.requirements_hash([DEPENDENCY], "3.11")
    assert artifact.load(built.path) == built

    names = members(built.path)
    assert names[0] == "manifest.json"
    tracked = git(repo, "ls-files").splitlines()
    assert {f"source/{path}" for path in tracked} <= set(names)
    assert f"wheelhouse/{WHEEL}" in names
    assert "requirements.txt" in names
    assert read_member(built.path, "requirements.txt") == f"{DEPENDENCY}\n"  # the test extra is not there

    manifest = json.loads(read_member(built.path, "manifest.json"))
    assert manifest["version"] == built.version and manifest["git_sha"] == head and manifest["dirty"] is False
    assert manifest["schema_head"] == "0002" and manifest["python"] == "3.11"
    assert manifest["requirements_hash"] == built.requirements_hash
    assert manifest["files"] == len(tracked) and manifest["wheels"] == 1
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", manifest["built_at"])

    assert said[0] == "resolving the working tree"
    assert any(line.startswith("wheelhouse built (1 wheels") for line in said)
    assert any(line.startswith("packing ") for line in said)
    assert leftovers(cache_dir) == []


def test_dirty_build_contains_the_changes(repo: Path, cache: Path) -> None:
    write(repo, "app/__init__.py", 'GREETING = "uncommitted"\n')
    write(repo, "scratch.txt", "untracked: not shipped")
    before = state(repo)

    built = artifact.build(repo, None, cache)

    assert state(repo) == before
    assert "-dirty-" in built.version and built.git_sha == git(repo, "rev-parse", "HEAD")
    assert read_member(built.path, "source/app/__init__.py") == 'GREETING = "uncommitted"\n'
    assert "source/scratch.txt" not in members(built.path)
    assert json.loads(read_member(built.path, "manifest.json"))["dirty"] is True
    # An explicit ref ignores the working tree.
    clean = artifact.build(repo, "HEAD", cache)
    assert read_member(clean.path, "source/app/__init__.py") == 'GREETING = "one"\n'


def test_each_version_has_its_own_schema_head(repo: Path, cache: Path) -> None:
    write(repo, "app/migrations/versions/0003_z.py", 'revision = "0003"\ndown_revision = "0002"\n')
    commit(repo, "three")
    assert artifact.build(repo, None, cache).schema_head == "0003"
    assert artifact.build(repo, "v1", cache).schema_head == "0002"


def test_cached_builds_return_at_once(repo: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = artifact.build(repo, None, cache)
    no_pip(monkeypatch)

    said: list[str] = []
    started = time.monotonic()
    again = artifact.build(repo, None, cache, progress=said.append)
    assert time.monotonic() - started < 2
    assert again == first
    assert said[-1].startswith("artifact cached")

    # New code, same dependencies: the wheelhouse comes from the cache.
    write(repo, "app/__init__.py", 'GREETING = "two"\n')
    commit(repo, "two")
    said.clear()
    second = artifact.build(repo, None, cache, progress=said.append)
    assert second.version != first.version and second.requirements_hash == first.requirements_hash
    assert "wheelhouse cached (1 wheels)" in said


def test_new_dependencies_need_a_new_wheelhouse(repo: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(repo, "pyproject.toml", PYPROJECT.format(dependencies=f'"{DEPENDENCY}", "idna>=3"'))
    commit(repo, "more dependencies")

    def offline(args: list[str], *, offline: bool, what: str) -> None:
        raise artifact.ArtifactBuildFailed(f"{what}: no network in this test")

    monkeypatch.setattr(artifact, "_pip", offline)
    with pytest.raises(artifact.ArtifactBuildFailed, match="pip download of the runtime dependencies failed"):
        artifact.build(repo, None, cache)
    assert not list(cache.glob("golive-*"))
    assert leftovers(cache) == []


def test_failed_pip_leaves_nothing(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", dependencies='"six==999.0.0"')
    cache_dir = tmp_path / "cache"
    with pytest.raises(artifact.ArtifactBuildFailed, match=r"pip download .* failed: .*six==999\.0\.0"):
        artifact.build(repo, None, cache_dir)
    assert not list(cache_dir.glob("golive-*"))
    assert leftovers(cache_dir) == []
    assert list((cache_dir / "wheelhouses").iterdir()) == []


def test_version_without_migrations_is_refused(repo: Path, cache: Path) -> None:
    git(repo, "rm", "-q", "app/migrations/versions/0001_x.py", "app/migrations/versions/0002_y.py")
    commit(repo, "no migrations")
    with pytest.raises(artifact.ArtifactBuildFailed, match="no Alembic revisions"):
        artifact.build(repo, None, cache)
    assert not list(cache.glob("golive-*"))
    assert leftovers(cache) == []


def test_unknown_python_is_refused(repo: Path, cache: Path) -> None:
    with pytest.raises(artifact.ArtifactBuildFailed, match="python must be"):
        artifact.build(repo, None, cache, python="cp311")


# --- corruption ---------------------------------------------------------------------------------------------


def flip_byte(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def test_corrupt_artifact_is_detected_and_rebuilt(repo: Path, cache: Path, tmp_path: Path) -> None:
    built = artifact.build(repo, None, cache)
    artifact.verify(built.path, built.sha256)
    artifact.verify(built.path, built.sha256.upper())

    flip_byte(built.path, built.size // 2)
    with pytest.raises(artifact.ArtifactCorrupt, match=f"{built.path.name}: sha256 is [0-9a-f]{{64}}, expected"):
        artifact.verify(built.path, built.sha256)
    with pytest.raises(artifact.ArtifactCorrupt, match="sha256 is"):
        artifact.load(built.path)

    said: list[str] = []
    rebuilt = artifact.build(repo, None, cache, progress=said.append)
    assert any(line.startswith("cached artifact unusable") for line in said)
    assert artifact.load(rebuilt.path) == rebuilt
    assert rebuilt.version == built.version

    with pytest.raises(artifact.ArtifactCorrupt, match=r"expected 0{64}"):
        artifact.verify(rebuilt.path, "0" * 64)
    with pytest.raises(artifact.ArtifactCorrupt, match="is missing"):
        artifact.verify(tmp_path / "golive-nothing.tar.gz", "0" * 64)

    checksum = rebuilt.path.with_name(rebuilt.path.name + ".sha256")
    checksum.unlink()
    with pytest.raises(artifact.ArtifactCorrupt, match=r"checksum file .* is missing"):
        artifact.load(rebuilt.path)

    not_an_artifact = tmp_path / "golive-x.tar.gz"
    not_an_artifact.write_bytes(b"not a tarball")
    not_an_artifact.with_name(not_an_artifact.name + ".sha256").write_text(
        sha256_of(not_an_artifact) + "  golive-x.tar.gz\n"
    )
    with pytest.raises(artifact.ArtifactCorrupt, match="cannot read its manifest"):
        artifact.load(not_an_artifact)


# --- the real repository (slow) ---------------------------------------------------------------------------------


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, check=True, capture_output=True, text=True, timeout=600, **kwargs)


@pytest.mark.slow
@pytest.mark.timeout(900)  # a cold build resolves and downloads every wheel; a hang guard, not a speed limit
def test_real_repository_installs_offline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """HEAD of this repository: built cold and warm, then installed as a host does, without any index."""
    cache_dir = tmp_path / "cache"
    timings: dict[str, float] = {}
    say: Callable[[str], None] = lambda _line: None  # noqa: E731

    started = time.monotonic()
    built = artifact.build(REPO_ROOT, "HEAD", cache_dir, progress=say)
    timings["cold"] = time.monotonic() - started
    started = time.monotonic()
    said: list[str] = []
    assert artifact.build(REPO_ROOT, "HEAD", cache_dir, progress=said.append) == built
    timings["warm"] = time.monotonic() - started
    assert any(line.startswith("artifact cached") for line in said), said  # not built again

    unpacked = tmp_path / "release"
    unpacked.mkdir()
    with tarfile.open(built.path) as tar:
        tar.extractall(unpacked, filter="data")
    requirements = (unpacked / "requirements.txt").read_text().split()
    pinned = {line.split("==")[0].lower().replace("_", "-") for line in requirements}
    assert {"fastapi", "uvicorn", "psycopg", "psycopg-binary", "alembic", "sqlalchemy", "pycryptodome"} <= pinned
    assert not {"pytest", "fabric", "pgserver", "ruff"} & pinned  # extras are not runtime dependencies
    assert all(re.fullmatch(r"[A-Za-z0-9_.]+==[^=\s]+", line) for line in requirements)

    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    offline = {key: value for key, value in os.environ.items() if not key.startswith(("PIP_", "PYTHON"))}
    offline["PIP_CONFIG_FILE"] = os.devnull  # no configured index or find-links: the wheelhouse alone
    run(
        [
            str(venv / "bin" / "pip"),
            "install",
            "--no-index",
            "--find-links",
            str(unpacked / "wheelhouse"),
            "-r",
            str(unpacked / "requirements.txt"),
        ],
        env=offline,
    )
    imported = run(
        [str(venv / "bin" / "python"), "-c", "import fastapi, psycopg, app, app.main; print(app.__file__)"],
        env={**offline, "PYTHONPATH": str(unpacked / "source")},
        cwd=tmp_path,
    )
    assert imported.stdout.strip() == str(unpacked / "source" / "app" / "__init__.py")
    # Alembic itself, in the installed venv, agrees with the head read from the files.
    head = run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import sys; from alembic.script import ScriptDirectory;"
            " print(ScriptDirectory(sys.argv[1]).get_current_head())",
            str(unpacked / "source" / "app" / "migrations"),
        ],
        env={**offline, "PYTHONPATH": str(unpacked / "source")},
        cwd=tmp_path,
    )
    assert head.stdout.strip() == built.schema_head
    frozen = run([str(venv / "bin" / "pip"), "freeze"], env=offline).stdout.lower().replace("_", "-")
    for line in requirements:
        assert line.lower().replace("_", "-") in frozen

    with capsys.disabled():
        print(
            f"\n[artifact] {built.path.name}: {built.size / 1e6:.1f} MB, {len(requirements)} wheels, "
            f"cold {timings['cold']:.1f} s, warm {timings['warm']:.2f} s"
        )
