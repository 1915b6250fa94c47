"""foundation/backups/dumps is shipped to the db host as it is (roles/backups copies its modules; a launcher puts
their folder on sys.path): each module imports only the standard library, psycopg, cryptography, boto3/botocore
(Debian 12's python3-psycopg, python3-cryptography, python3-boto3) and its siblings — relatively, so the folder works
under any name, and never the package above it. The program run from such a copy:
tests/foundation/test_backup_program.py."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from tests.support.backup_program import PACKAGE

ALLOWED = frozenset(sys.stdlib_module_names) | {"__future__", "psycopg", "cryptography", "boto3", "botocore"}


def import_problems(source: str, siblings: set[str]) -> list[str]:
    """What a module imports that the db host would not have, one line each."""
    problems = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            problems.extend(f"import {alias.name}" for alias in node.names if alias.name.split(".")[0] not in ALLOWED)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            if (node.module or "").split(".")[0] not in ALLOWED:
                problems.append(f"from {node.module} import ...")
        elif isinstance(node, ast.ImportFrom):
            dots = "." * node.level
            names = [node.module.split(".")[0]] if node.module else [alias.name for alias in node.names]
            if node.level != 1:
                problems.append(f"from {dots}{node.module or ''} import ... (outside the package)")
            problems.extend(f"from {dots}{name} (no such sibling)" for name in names if name not in siblings)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name | ast.Attribute):
            called = node.func.id if isinstance(node.func, ast.Name) else node.func.attr
            if called in ("__import__", "import_module"):
                problems.append(f"{called}(...): an import this test cannot see")
    return problems


def siblings() -> set[str]:
    return {path.stem for path in PACKAGE.glob("*.py")}


@pytest.mark.parametrize("module", sorted(PACKAGE.glob("*.py")), ids=lambda path: path.name)
def test_a_module_imports_only_the_standard_library_psycopg_and_its_siblings(module: Path) -> None:
    assert import_problems(module.read_text(), siblings()) == []


def test_the_package_is_one_folder_of_modules() -> None:
    """The role copies PACKAGE/*.py: a subpackage or a data file would not arrive."""
    assert {path.name for path in PACKAGE.iterdir()} - {"__pycache__"} == {f"{name}.py" for name in siblings()}
    assert {"__init__", "program"} <= siblings()


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("import yaml", "import yaml"),
        ("from foundation.files import sha256_of", "from foundation.files import ..."),
        ("from .. import strategy", "from .. import ... (outside the package)"),
        ("from ..taken import Taken", "from ..taken import ... (outside the package)"),
        ("from foundation.backups.dumps import tools", "from foundation.backups.dumps import ..."),
        ("from .nothing import x", "from .nothing (no such sibling)"),
        ("from . import nothing", "from .nothing (no such sibling)"),
        ("importlib.import_module('yaml')", "import_module(...): an import this test cannot see"),
    ],
)
def test_what_the_db_host_would_lack_is_named(source: str, problem: str) -> None:
    assert problem in import_problems(source, {"tools", "errors"})


def test_the_standard_library_psycopg_and_siblings_pass() -> None:
    source = "import json\nimport psycopg\nfrom psycopg import sql\nfrom . import tools\nfrom .errors import X\n"
    assert import_problems(source, {"tools", "errors"}) == []
