"""The websocket session of /v1/stream (protocol in docs/serving.md): a start message, binary
audio, an end message; partial and final results back. Each error closes the socket with the
close code of its kind (asr/serve/errors.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import json

from fastapi import WebSocket, WebSocketDisconnect
from fastapi.security.utils import get_authorization_scheme_param
from starlette.types import Message

from asr.errors import AudioError
from asr.recognizer import DecodeOverrides
from asr.serve.errors import ApiError, Busy, TooLarge, Unauthorized, Unsupported
from asr.serve.http import token_matches
from asr.serve.options import StartMessage, decode_overrides, start_message
from asr.serve.service import Service, ws_service
from asr.serve.stream import Piece, Stream, StreamConfig, StreamTooLong
from asr.transcript import Transcript, shifted, slots_json

# The largest message a client may send (a chunk of audio: 1 MiB is 32 s of 16 kHz pcm16, 16 s of
# float32), refused with an error message; the transport closes on one over TRANSPORT_LIMIT (each
# connection buffers a whole message) with no message at all.
MAX_MESSAGE = 2**20
TRANSPORT_LIMIT = 4 * MAX_MESSAGE


async def stream(ws: WebSocket) -> None:
    """/v1/stream: one session from the start message to the close."""
    svc = ws_service(ws)
    await ws.accept()
    try:
        scheme, credentials = get_authorization_scheme_param(ws.headers.get("authorization"))  # as HTTPBearer reads it
        given = ws.query_params.get("token") or (credentials if scheme.lower() == "bearer" else "")
        if not token_matches(svc.settings.token, given):
            raise Unauthorized("missing or wrong token (Authorization: Bearer TOKEN, or ?token=TOKEN)")
        session = await _start(ws, svc)
        await session.run()
    except ApiError as exc:
        await _fail(ws, exc)
    except WebSocketDisconnect:
        pass  # the client went away; nothing is owed to it


async def _start(ws: WebSocket, svc: Service) -> _Session:
    """Read and check the start message, answer server_ready: the session, ready for audio."""
    try:
        first = await _receive(ws, svc.settings.idle_timeout)
    except asyncio.TimeoutError:
        raise ApiError(f"no start message within {svc.settings.idle_timeout:g} s") from None
    start = start_message(first.get("text"))
    options = decode_overrides(svc.rec, start, start.hotwords)
    try:
        cfg = StreamConfig(
            sample_rate=start.sample_rate,
            format=start.format,
            partial_every=svc.settings.partial_every if start.partial else 0.0,
            endpoint_pause=svc.settings.endpoint_pause,
            max_seconds=svc.settings.max_seconds,
        )
    except AudioError as exc:
        raise ApiError(f"start message: {exc}") from None
    ready = {"status": "ok", "type": "server_ready"}
    await ws.send_json({**ready, **({"warning": options.warning} if options.warning else {})})
    return _Session(ws, svc, Stream(cfg), start, options)


async def _fail(ws: WebSocket, exc: ApiError) -> None:
    try:
        await ws.send_json({"status": "failed", "type": "error", "message": exc.message})
        await ws.close(exc.close_code)
    except (WebSocketDisconnect, RuntimeError):
        pass


async def _receive(ws: WebSocket, timeout: float) -> Message:
    msg = await asyncio.wait_for(ws.receive(), timeout)
    if msg["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(msg.get("code", 1000))
    size = len(msg["bytes"]) if msg.get("bytes") is not None else len((msg.get("text") or "").encode())
    if size > MAX_MESSAGE:
        raise TooLarge(f"a message of {size} bytes: send audio in chunks of at most {MAX_MESSAGE} bytes")
    return msg


def _end_signal(msg: Message) -> bool:
    try:
        return json.loads(msg.get("text") or "").get("signal") == "end"
    except (json.JSONDecodeError, AttributeError):
        return False


def _wenet_nbest(t: Transcript, start: float, end: float, final: bool, n: int) -> str:
    """WeNet's result field: a JSON string of [{"sentence", "word_pieces" (finals: "word",
    "start", "end" in ms from the stream's start)}], best first, at most `n`."""
    assert t.text is not None  # decode_waves always sets it
    sentences = [h.text for h in t.nbest[:n]] or [t.text]
    best: dict = {"sentence": sentences[0]}
    if final:
        best["word_pieces"] = [
            {"word": c.char, "start": round(c.start * 1000), "end": round(c.end * 1000)}
            for c in shifted(t.chars, start, end)
        ]
    return json.dumps([best] + [{"sentence": h} for h in sentences[1:n]], ensure_ascii=False)


class _Session:
    """A started stream: audio in, partial and final results out, until the end message (or,
    without WeNet's continuous_decoding, the first final)."""

    def __init__(self, ws: WebSocket, svc: Service, stream: Stream, start: StartMessage, options: DecodeOverrides):
        self.ws, self.svc, self.stream, self.options = ws, svc, stream, options
        self.n, self.continuous = options.nbest or 1, start.continuous_decoding
        self.partial_options = dataclasses.replace(options, nbest=None)

    async def run(self) -> None:
        idle = self.svc.settings.idle_timeout
        while True:
            try:
                msg = await _receive(self.ws, idle)
            except asyncio.TimeoutError:
                raise ApiError(f"idle for {idle:g} s: closing") from None
            ended = msg.get("bytes") is None
            if ended and not _end_signal(msg):
                raise Unsupported('expected binary audio or {"signal": "end"}')
            try:
                pieces = self.stream.finish() if ended else self.stream.push(msg["bytes"])
            except StreamTooLong as exc:
                raise TooLarge(str(exc)) from None
            except AudioError as exc:
                raise Unsupported(str(exc)) from None
            for piece in pieces:
                await self.send(piece)
                if not self.continuous and piece.kind == "final":  # WeNet's single utterance: done at the first pause
                    ended = True
                    break
            if ended:
                seconds = round(self.stream.received, 3)
                await self.ws.send_json({"status": "ok", "type": "speech_end", "seconds": seconds})
                await self.ws.close(1000)
                return

    async def send(self, piece: Piece) -> None:
        final, svc = piece.kind == "final", self.svc
        try:
            [t] = await svc.pool.run(
                svc.batcher.decode,
                [piece.audio],
                times=final,
                options=self.options if final else self.partial_options,
                wait=final,
            )
        except Busy:
            return  # a partial can be skipped when the server is busy; the next one comes
        msg = {"status": "ok", "type": f"{piece.kind}_result", "segment": piece.segment}
        msg.update({"start": round(piece.start, 3), "end": round(piece.end, 3), "text": t.text})
        if final:
            chars = shifted(t.chars, piece.start, piece.end)
            msg["chars"] = [c.to_json() for c in chars]
            if svc.tagger:  # the segment's slots, times from the stream's start
                msg.update(slots_json(svc.tagger.fill(t.text, chars)))
        msg["nbest"] = _wenet_nbest(t, piece.start, piece.end, final, self.n)
        await self.ws.send_json(msg)
