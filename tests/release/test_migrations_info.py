"""Reading the revisions a release applies from its artifact, and spotting the irreversible ones."""

from __future__ import annotations

import io
import tarfile

import pytest

from release.build.migrations import applied_between, revisions

FILES = {
    "0001_a.py": 'revision = "0001"\ndown_revision = None\n',
    "0002_b.py": 'revision = "0002"\ndown_revision = "0001"\n',
    "0003_c.py": 'revision: str = "0003"\ndown_revision = "0002"\nirreversible = True\n',
    "__init__.py": "",
}


@pytest.fixture
def artifact(tmp_path):
    path = tmp_path / "golive-x.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for name, text in FILES.items():
            data = text.encode()
            info = tarfile.TarInfo(f"source/app/migrations/versions/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def test_revisions_and_their_irreversibility(artifact):
    known = revisions(artifact)
    assert set(known) == {"0001", "0002", "0003"}
    assert [r.irreversible for r in (known["0001"], known["0002"], known["0003"])] == [False, False, True]


def test_applied_between(artifact):
    known = revisions(artifact)
    assert [r.revision for r in applied_between(known, "0001", "0003")] == ["0002", "0003"]
    assert [r.revision for r in applied_between(known, None, "0002")] == ["0001", "0002"]
    assert applied_between(known, "0003", "0003") == []
    with pytest.raises(ValueError, match="0009 is not in the artifact"):
        applied_between(known, "0001", "0009")
