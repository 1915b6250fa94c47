"""`python -m simulators.chain`: parse the options, build the chain (token deployed, treasury funded), then
serve JSON-RPC and the /__chain__ control API with uvicorn."""

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path

from simulators.chain.keys import ENV_TREASURY_KEY, KeyProblem, resolve_treasury_key
from simulators.chain.settings import Settings
from simulators.serving import port_number, serve

MAX_CHAIN_ID = 2**53 - 1  # what JavaScript clients can hold; geth accepts up to 2**64-1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m simulators.chain",
        description=(
            "Ethereum JSON-RPC node for tests (eth-tester/py-evm behind HTTP) with a transaction pool that "
            "keeps stuck transactions, a USDT-like token (6 decimals, transfer returns nothing) deployed on "
            "start, and a /__chain__ control API to mine, stall mining, fail or delay RPC and fund accounts. "
            "See simulators/chain/README.md."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=port_number, default=8545, help="TCP port to listen on (default: %(default)s)")
    parser.add_argument(
        "--chain-id", type=_chain_id, default=31337, help="chain id (EIP-155) of the chain (default: %(default)s)"
    )
    parser.add_argument(
        "--block-time",
        type=_seconds,
        default=0,
        metavar="0|SECONDS",
        help="0: mine a block as soon as a transaction arrives (default); SECONDS: mine a block every SECONDS, "
        "empty or not, and transactions wait for it",
    )
    parser.add_argument(
        "--no-auto-mine",
        action="store_true",
        help="start with auto-mining off: transactions stay pending until POST /__chain__/mine "
        "(switch at run time with POST /__chain__/mining)",
    )
    parser.add_argument(
        "--treasury-key-file",
        type=Path,
        metavar="PATH",
        help=f"file holding the treasury's private key (hex): read if it exists (must be mode 0600), else a new "
        f"key is generated and written there with mode 0600. Alternatively set {ENV_TREASURY_KEY} (not both). "
        "With neither, a throwaway key is kept in memory only. The key is never printed or logged.",
    )
    parser.add_argument(
        "--treasury-usdt",
        type=_amount(6),
        default=_amount(6)("1000000"),
        metavar="AMOUNT",
        help="USDT minted to the treasury on start, in whole tokens, up to 6 decimals (default: 1000000)",
    )
    parser.add_argument(
        "--treasury-native",
        type=_amount(18),
        default=_amount(18)("1000"),
        metavar="AMOUNT",
        help="native coin (ETH) the treasury holds at genesis, up to 18 decimals (default: 1000)",
    )
    parser.add_argument("--token-name", default="Tether USD", help="the token's name() (default: %(default)s)")
    parser.add_argument("--token-symbol", default="USDT", help="the token's symbol() (default: %(default)s)")
    parser.add_argument(
        "--access-log", action="store_true", help="log one line per HTTP request to stderr (default: quiet)"
    )
    return parser


def settings_from_args(
    parser: argparse.ArgumentParser, args: argparse.Namespace, environ: Mapping[str, str]
) -> Settings:
    if len(args.token_name.encode()) > 64 or len(args.token_symbol.encode()) > 32:
        parser.error("--token-name is at most 64 bytes and --token-symbol at most 32")
    try:
        key, source = resolve_treasury_key(environ, args.treasury_key_file)
    except (KeyProblem, OSError) as error:
        parser.error(str(error))
    return Settings(
        host=args.host,
        port=args.port,
        chain_id=args.chain_id,
        block_time=args.block_time,
        auto_mine=not args.no_auto_mine,
        treasury_key=key,
        treasury_key_source=source,
        treasury_native_wei=args.treasury_native,
        treasury_usdt_units=args.treasury_usdt,
        token_name=args.token_name,
        token_symbol=args.token_symbol,
        access_log=args.access_log,
    )


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    parser = build_parser()
    settings = settings_from_args(parser, parser.parse_args(argv), os.environ if environ is None else environ)
    # Heavy imports after the options are checked, so --help and bad options answer at once.
    from simulators.chain.app import create_app  # noqa: PLC0415
    from simulators.chain.state import SimulatorState  # noqa: PLC0415

    state = SimulatorState(settings)
    info = state.info()
    mining = "off" if not settings.auto_mine else ("per transaction" if not settings.block_time else None)
    print(
        f"chain simulator: http://{settings.host}:{settings.port} chain id {settings.chain_id}, "
        f"mining {mining or f'every {settings.block_time:g} s'}; "
        f"token {info['token']['symbol']} at {info['token']['address']}; "
        f"treasury {info['treasury']['address']} (key {settings.treasury_key_source})",
        file=sys.stderr,
        flush=True,
    )
    serve(create_app(state), host=settings.host, port=settings.port, access_log=settings.access_log)
    return 0


def _chain_id(text: str) -> int:
    try:
        chain_id = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a whole number") from None
    if not 1 <= chain_id <= MAX_CHAIN_ID:
        raise argparse.ArgumentTypeError(f"must be 1..{MAX_CHAIN_ID}")
    return chain_id


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a number of seconds >= 0") from None
    if not 0 <= seconds <= 3600:
        raise argparse.ArgumentTypeError("must be 0 (a block per transaction) or seconds up to 3600")
    return int(seconds) if seconds.is_integer() else seconds


def _amount(decimals: int):
    def parse(text: str) -> int:
        try:
            value = Decimal(text) * 10**decimals
        except InvalidOperation:
            raise argparse.ArgumentTypeError("must be a decimal number") from None
        if not value.is_finite() or value < 0 or value != value.to_integral_value():
            raise argparse.ArgumentTypeError(f"must be a number >= 0 with at most {decimals} decimals")
        return int(value)

    return parse
