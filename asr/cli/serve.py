"""`asr serve`: the recognition server (HTTP, websocket, web page) on uvicorn."""

from __future__ import annotations

import errno
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from asr.cli.app import app
from asr.cli.options import Amp, DecodingFlags, Device, Int8, SlotModel, decoding_flags, recognizer
from asr.errors import UserError


def bound_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port (port 0: a free one the system picks), not yet listening.
    UserError for a port outside 0..65535, one in use, or an address this machine does not have."""
    if not 0 <= port <= 65535:
        raise UserError(f"--port {port}: the port must be 1..65535, or 0 for any free one")
    # IPPROTO_TCP named, not left 0: asyncio sets TCP_NODELAY only on sockets that say they are
    # TCP, and without it a response written in two parts waits ~40 ms for the client's delayed ACK
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        why = "in use by another program: stop it, or choose another --port" if exc.errno == errno.EADDRINUSE else None
        raise UserError(f"cannot listen on {host}:{port} ({why or exc.strerror or exc})") from None
    return sock


@app.command()
@decoding_flags
def serve(
    model: Annotated[Path, typer.Option("--model", "-m", help="Model file (best.pt)")],
    host: Annotated[str, typer.Option(help="Address to bind (0.0.0.0: every interface)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0: any free one; the address is printed)")] = 8000,
    token: Annotated[
        Optional[str], typer.Option(help="Bearer token required on /v1/* (default: $ASR_SERVE_TOKEN; none: open)")
    ] = None,
    workers: Annotated[
        Optional[int],
        typer.Option(
            min=1, help="Decoding processes (default: one per core but one; on a GPU or off Linux, 2 threads)"
        ),
    ] = None,
    queue: Annotated[int, typer.Option(min=0, help="Requests that may wait for a decoding slot before 503")] = 16,
    max_upload_mb: Annotated[float, typer.Option(help="Largest upload, MiB")] = 50.0,
    max_seconds: Annotated[float, typer.Option(help="Longest audio per request or stream, seconds")] = 600.0,
    idle_timeout: Annotated[float, typer.Option(help="Seconds a websocket may stay silent")] = 30.0,
    decoding: DecodingFlags = DecodingFlags(),
    int8: Int8 = False,
    device: Device = "auto",
    slots: SlotModel = None,
    amp: Amp = "off",
) -> None:
    """Serve MODEL: POST /v1/transcribe, websocket /v1/stream, a web page at /."""
    sock = bound_socket(host, port)  # before the model loads: a port in use is said at once
    try:
        import uvicorn  # noqa: F401 (the serve extra: said missing before the model loads)

        from asr.serve.app import ServeSettings, create_app
    except ImportError as exc:
        raise UserError(f"asr serve needs the serve extra ({exc.name} is missing): pip install 'asr[serve]'") from None
    import torch

    from asr.cores import usable_cores
    from asr.forked import CAN_FORK, Forked
    from asr.slots import SlotTagger

    tagger = SlotTagger.load(slots) if slots else None
    rec, _ = recognizer(model, decoding, int8, device, None, amp)
    # On a CPU (Linux), each decoding slot is a forked process of one thread, and one core is left
    # to this process's own work (HTTP, reading and cutting audio, slots); elsewhere, two threads here.
    workers = workers or (max(1, usable_cores() - 1) if rec.device.type == "cpu" and CAN_FORK else 2)
    settings = ServeSettings(
        token=token or os.environ.get("ASR_SERVE_TOKEN") or None,
        max_upload_mb=max_upload_mb,
        max_seconds=max_seconds,
        workers=workers,
        queue=queue,
        idle_timeout=idle_timeout,
    )
    with Forked(rec, workers, fork_one=True) as decoders:
        torch.set_num_threads(1 if decoders.pool else max(1, usable_cores() // workers))
        app = create_app(rec, settings, tagger, decoders if decoders.pool else None)
        sock.listen(128)
        # The socket listens already: a client that connects on this line is queued, not refused.
        print(f"asr serve: {_address(sock, host)} ({model}; {'token required' if settings.token else 'no token'})")
        sys.stdout.flush()
        _run(app, sock)


def _run(app, sock: socket.socket) -> None:
    """Serve `app` on the listening `sock` with uvicorn until it is stopped."""
    import uvicorn

    from asr.serve.ws import TRANSPORT_LIMIT

    config = uvicorn.Config(app, log_level="warning", ws_max_size=TRANSPORT_LIMIT, timeout_graceful_shutdown=5)
    # uvicorn stops on SIGTERM, then raises it again with the handler it found: this one, so that
    # the caller's with block ends (the decoding processes stopped in order) before the exit
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    uvicorn.Server(config).run(sockets=[sock])


def _address(sock: socket.socket, host: str) -> str:
    """The page's URL on a bound socket (its port, where 0 was asked for)."""
    return f"http://{f'[{host}]' if ':' in host else host}:{sock.getsockname()[1]}/"
