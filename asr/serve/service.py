"""What every route and session of the server shares: its settings, the recognizer, the decoding
pool and the slot tagger, held on the app (`app.state.service`)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request, WebSocket

from asr.recognizer import Recognizer
from asr.serve.pool import Batcher, Pool
from asr.slots import SlotTagger


@dataclass(frozen=True)
class ServeSettings:
    token: str | None = None  # bearer token required on /v1/* (None: open)
    max_upload_mb: float = 50.0
    max_seconds: float = 600.0  # longest audio per request or stream
    workers: int = 2  # batches decoded at once (asr serve: a forked process each, one per core but one)
    queue: int = 16  # requests that may wait for a decoding slot before 503
    idle_timeout: float = 30.0  # seconds a websocket may stay silent
    partial_every: float = 0.5  # seconds of new audio between partial results
    endpoint_pause: float = 0.5  # seconds of quiet that close a streamed segment

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 2**20)


@dataclass(frozen=True)
class Service:
    rec: Recognizer  # loaded once, shared by every request
    settings: ServeSettings
    pool: Pool  # request threads, bounded
    batcher: Batcher  # decodes concurrent requests' pieces together
    tagger: SlotTagger | None = None  # with it, every result carries its filled slots


async def service(request: Request) -> Service:
    """The app's Service (a FastAPI dependency of the HTTP routes; `async`, as the other
    dependencies: FastAPI runs a plain function in its thread pool, a thread hop each request)."""
    return request.app.state.service


def ws_service(ws: WebSocket) -> Service:
    return ws.app.state.service
