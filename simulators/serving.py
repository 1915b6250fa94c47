"""What every simulator's command line shares: a port argument and serving the app with uvicorn."""

from __future__ import annotations

import argparse

import uvicorn


def port_number(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a number 0..65535") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError("must be 0..65535")
    return port


def serve(app: object, *, host: str, port: int, access_log: bool) -> None:
    uvicorn.run(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        access_log=access_log,
        log_level="info" if access_log else "warning",
        server_header=False,
    )
