"""The image's cache key: a hash of everything that decides its contents."""

from __future__ import annotations

import hashlib
import json

# Bump when the build's Python side changes what ends up in the image.
BUILD_VERSION = 1


def cache_key(suite: str, architecture: str, packages: tuple[str, ...], provision_script: bytes) -> str:
    recipe = json.dumps(
        {"suite": suite, "arch": architecture, "packages": list(packages), "build": BUILD_VERSION},
        sort_keys=True,
    ).encode()
    return f"{suite}-{hashlib.sha256(recipe + provision_script).hexdigest()[:16]}"
