"""`python -m simulators.daraja`: parse the options, then serve the simulator with uvicorn."""

import argparse
import ipaddress
import os
import re
import sys
from collections.abc import Mapping, Sequence

from simulators.daraja.app import create_app
from simulators.daraja.settings import SANDBOX_PASSKEY, SANDBOX_SHORTCODE, Settings
from simulators.serving import port_number, serve

ENV_CONSUMER_KEY = "GOLIVE_DARAJA_CONSUMER_KEY"
ENV_CONSUMER_SECRET = "GOLIVE_DARAJA_CONSUMER_SECRET"  # noqa: S105 - the variable name, not a secret
ENV_PASSKEY = "GOLIVE_DARAJA_PASSKEY"
ENV_SHORTCODE = "GOLIVE_DARAJA_SHORTCODE"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m simulators.daraja",
        description=(
            "Safaricom Daraja (M-Pesa STK push) simulator: OAuth, STK push, STK query and result callbacks, "
            "with a /__sim__ control API to switch scenarios and read what it received and sent. "
            "See simulators/daraja/README.md."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=port_number, default=8100, help="TCP port to listen on (default: %(default)s)")
    parser.add_argument(
        "--consumer-key",
        help=f"the OAuth consumer key clients must present (Basic auth); required, or set "
        f"{ENV_CONSUMER_KEY} (preferred: flags show in ps)",
    )
    parser.add_argument(
        "--consumer-secret",
        help=f"the OAuth consumer secret clients must present; required, or set {ENV_CONSUMER_SECRET}",
    )
    parser.add_argument(
        "--passkey",
        help=f"the Lipa na M-Pesa passkey the Password is built from (env {ENV_PASSKEY}; "
        "default: Safaricom's public sandbox passkey)",
    )
    parser.add_argument(
        "--shortcode",
        type=_shortcode,
        help=f"the only BusinessShortCode accepted, 5-7 digits (env {ENV_SHORTCODE}; default {SANDBOX_SHORTCODE})",
    )
    parser.add_argument(
        "--callback-delay",
        type=_non_negative_seconds,
        default=0.5,
        metavar="SECONDS",
        help="time from an accepted push to its result and callback; late callbacks take ten times this "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--callback-source",
        type=_ip_address,
        default="127.0.0.1",
        metavar="ADDRESS",
        help="local IP address callbacks are sent from, e.g. 127.0.0.2 to test a source-address allowlist "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--token-ttl",
        type=_positive_seconds,
        default=3599,
        metavar="SECONDS",
        help="lifetime of an access token (default: %(default)s)",
    )
    parser.add_argument(
        "--require-https-callback",
        action="store_true",
        help="production-like: reject a push whose CallBackURL is not https",
    )
    parser.add_argument(
        "--access-log", action="store_true", help="log one line per HTTP request to stderr (default: quiet)"
    )
    return parser


def settings_from_args(
    parser: argparse.ArgumentParser, args: argparse.Namespace, environ: Mapping[str, str]
) -> Settings:
    consumer_key = args.consumer_key or environ.get(ENV_CONSUMER_KEY, "")
    consumer_secret = args.consumer_secret or environ.get(ENV_CONSUMER_SECRET, "")
    missing = [
        f"--consumer-{name} (or {env})"
        for name, env, value in (
            ("key", ENV_CONSUMER_KEY, consumer_key),
            ("secret", ENV_CONSUMER_SECRET, consumer_secret),
        )
        if not value
    ]
    if missing:
        parser.error(f"missing {' and '.join(missing)}")
    shortcode = args.shortcode
    if shortcode is None:
        shortcode = environ.get(ENV_SHORTCODE) or SANDBOX_SHORTCODE
        if not re.fullmatch(r"[0-9]{5,7}", shortcode):
            parser.error(f"{ENV_SHORTCODE} must be 5-7 digits")
    return Settings(
        consumer_key=consumer_key,
        consumer_secret=consumer_secret,
        passkey=args.passkey or environ.get(ENV_PASSKEY) or SANDBOX_PASSKEY,
        shortcode=shortcode,
        host=args.host,
        port=args.port,
        callback_delay=args.callback_delay,
        callback_source=args.callback_source,
        token_ttl=args.token_ttl,
        require_https_callback=args.require_https_callback,
        access_log=args.access_log,
    )


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    parser = build_parser()
    settings = settings_from_args(parser, parser.parse_args(argv), os.environ if environ is None else environ)
    print(
        f"daraja simulator: http://{settings.host}:{settings.port} shortcode {settings.shortcode}, "
        f"callbacks from {settings.callback_source} after {settings.callback_delay:g} s",
        file=sys.stderr,
        flush=True,
    )
    serve(create_app(settings), host=settings.host, port=settings.port, access_log=settings.access_log)
    return 0


def _shortcode(text: str) -> str:
    if not re.fullmatch(r"[0-9]{5,7}", text):
        raise argparse.ArgumentTypeError("must be 5-7 digits")
    return text


def _ip_address(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise argparse.ArgumentTypeError("must be an IP address") from None


def _non_negative_seconds(text: str) -> float:
    seconds = float(text)
    if not 0 <= seconds < float("inf"):
        raise argparse.ArgumentTypeError("must be a number of seconds >= 0")
    return _whole_if_possible(seconds)


def _positive_seconds(text: str) -> float:
    seconds = float(text)
    if not 0 < seconds < float("inf"):
        raise argparse.ArgumentTypeError("must be a number of seconds > 0")
    return _whole_if_possible(seconds)


def _whole_if_possible(seconds: float) -> float:
    """3599 rather than 3599.0 in /__sim__/config."""
    return int(seconds) if seconds.is_integer() else seconds
