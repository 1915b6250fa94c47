"""A failed image build leaves nothing in the cache but its log, and says where that log is."""

from __future__ import annotations

import pytest

from lab.errors import LabError
from lab.image import build
from lab.mounts import mounted_under

pytestmark = [pytest.mark.lab]


def test_a_failed_build_caches_nothing(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GOLIVE_LAB_MIRROR", "http://127.0.0.1:9/debian")  # nothing listens on port 9
    lines: list[str] = []
    with pytest.raises(LabError) as failure:
        build.ensure(tmp_path, lines.append)
    message = str(failure.value)
    assert "building the base image failed (nothing cached; full log:" in message and "debootstrap" in message
    assert [entry.name for entry in tmp_path.iterdir()] == [f"failed-build-{build.current_key()}.log"]
    assert mounted_under(tmp_path) == []
    assert any("building it from http://127.0.0.1:9/debian" in line for line in lines)
