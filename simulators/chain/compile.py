"""`python -m simulators.chain.compile [--check]`: compiles contracts/TetherLikeToken.vy with vyper (installed
from PyPI as a Python package, nothing downloaded at run time) into contracts/TetherLikeToken.json."""

import argparse
import hashlib
import json
import sys
from collections.abc import Sequence
from typing import Any

from simulators.chain.token import TOKEN_ARTIFACT, TOKEN_SOURCE


class CompilerMissing(RuntimeError):
    pass


def compile_token() -> dict[str, Any]:
    """The artifact as a fresh compilation of the committed source makes it."""
    try:
        import vyper  # noqa: PLC0415 - optional: only the compile step and its test need the compiler
    except ImportError as error:
        raise CompilerMissing("vyper is not installed (pip install 'golive[chain]')") from error
    source = TOKEN_SOURCE.read_text()
    output = vyper.compile_code(source, output_formats=["abi", "bytecode", "bytecode_runtime"])
    return {
        "contractName": "TetherLikeToken",
        "source": f"simulators/chain/contracts/{TOKEN_SOURCE.name}",
        "sourceSha256": hashlib.sha256(source.encode()).hexdigest(),
        "compiler": f"vyper {vyper.__version__}",
        "regenerate": "python -m simulators.chain.compile",
        "abi": output["abi"],
        "bytecode": output["bytecode"],
        "deployedBytecode": output["bytecode_runtime"],
    }


def render(artifact: dict[str, Any]) -> str:
    return json.dumps(artifact, indent=2, sort_keys=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m simulators.chain.compile",
        description=f"Compile {TOKEN_SOURCE.name} with vyper and write {TOKEN_ARTIFACT.name} (ABI + bytecode).",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if the committed artifact differs from a fresh compilation",
    )
    args = parser.parse_args(argv)
    try:
        fresh = render(compile_token())
    except CompilerMissing as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.check:
        current = TOKEN_ARTIFACT.read_text() if TOKEN_ARTIFACT.exists() else ""
        if current != fresh:
            print(f"{TOKEN_ARTIFACT} is out of date: run python -m simulators.chain.compile", file=sys.stderr)
            return 1
        print(f"{TOKEN_ARTIFACT.name} is up to date")
        return 0
    TOKEN_ARTIFACT.write_text(fresh)
    print(f"wrote {TOKEN_ARTIFACT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
