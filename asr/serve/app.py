"""The recognition server: an ASGI app (FastAPI) around one loaded Recognizer.

    app = create_app(recognizer, ServeSettings(token="..."))

HTTP: POST /v1/transcribe, GET /v1/model, GET /healthz; websocket /v1/stream (the protocol is in
docs/serving.md); the web page at / (static files, no build step). Decoding runs in a
bounded thread pool off the event loop; when the pool and its queue are full, a request gets 503
with Retry-After instead of waiting. Every bad input is a 4xx JSON {"error": one line}.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import logging
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.types import Message

from asr.audio import open_audio
from asr.errors import AudioError, UserError
from asr.recognizer import DecodeOverrides, Recognizer, hotword_phrases
from asr.serve.stream import MAX_RATE, MIN_RATE, Piece, Stream, StreamConfig
from asr.slots import SlotTagger
from asr.subtitles import to_srt, to_tsv, to_vtt
from asr.transcript import Char, Transcript, shifted, slots_json

STATIC = Path(__file__).parent / "static"
log = logging.getLogger("asr.serve")
FORMATS = ("json", "text", "tsv", "srt", "vtt")
MAX_HOTWORDS = 200


@dataclass(frozen=True)
class ServeSettings:
    token: str | None = None  # bearer token required on /v1/* (None: open)
    max_upload_mb: float = 50.0
    max_seconds: float = 600.0  # longest audio per request or stream
    workers: int = 2  # decoding threads
    queue: int = 16  # requests that may wait for a decoding thread before 503
    idle_timeout: float = 30.0  # seconds a websocket may stay silent
    partial_every: float = 0.5  # seconds of new audio between partial results
    endpoint_pause: float = 0.5  # seconds of quiet that close a streamed segment


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers


class Busy(ApiError):
    def __init__(self) -> None:
        super().__init__(503, "server busy: all decoding slots are taken; retry shortly", {"Retry-After": "1"})


class Pool:
    """Decoding threads with a bounded queue: `run` refuses (Busy) when workers + queue jobs are
    already in flight, instead of letting them pile up."""

    def __init__(self, workers: int, queue: int) -> None:
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="asr-decode")
        self.limit = workers + queue
        self.in_flight = 0
        self._lock = threading.Lock()

    async def run(self, fn, *args, wait: bool = False, **kwargs):
        """fn(*args, **kwargs) in a decoding thread. `wait`: take a slot even when full (a
        stream's final result must not be dropped; its partials may be)."""
        with self._lock:
            if self.in_flight >= self.limit and not wait:
                raise Busy()
            self.in_flight += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self.executor, lambda: fn(*args, **kwargs))
        finally:
            with self._lock:
                self.in_flight -= 1


def _error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _options(rec: Recognizer, params) -> dict:
    """Query parameters -> transcribe options; ApiError(400) naming the bad one."""
    known = {"decoder", "beam", "nbest", "hotwords", "hotword_boost", "timestamps", "format", "token"}
    unknown = sorted(set(params) - known)
    if unknown:
        raise ApiError(400, f"unknown parameter(s) {', '.join(unknown)}; known: {', '.join(sorted(known - {'token'}))}")
    out: dict = {"format": params.get("format", "json")}
    if out["format"] not in FORMATS:
        raise ApiError(400, f"format: expected one of {', '.join(FORMATS)}, got {out['format']!r}")
    # per-character times and confidence by default in JSON, as `asr transcribe -f json` prints them
    ts = params.get("timestamps", "true" if out["format"] == "json" else "false").lower()
    if ts not in ("true", "false", "1", "0"):
        raise ApiError(400, f"timestamps: expected true or false, got {ts!r}")
    out["times"] = ts in ("true", "1") or out["format"] in ("srt", "vtt")
    options = _decode_options(
        rec,
        params.get("decoder"),
        params.get("beam"),
        params.get("hotwords"),
        params.get("hotword_boost"),
        params.get("nbest"),
    )
    if options.nbest is None and out["format"] == "json":  # the n-best list JSON shows when the beam runs
        options = dataclasses.replace(options, nbest=5)
    out["decode"], out["warning"] = options, options.warning
    return out


def _integer(name: str, value, low: int, high: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = None
    if number is None or isinstance(value, bool) or not low <= number <= high:
        raise ApiError(400, f"{name}: expected an integer from {low} to {high}, got {value!r}")
    return number


def _decode_options(rec: Recognizer, decoder, beam, hotwords, boost=None, nbest=None) -> DecodeOverrides:
    """A request's decoder / beam / hotwords (a list, or one string with a phrase per line or
    comma) / hotword_boost / nbest -> the recognizer's checked DecodeOverrides (the command
    line's rules); ApiError(400) for a bad value or a contradiction."""
    if beam is not None:
        beam = _integer("beam", beam, 1, 100)
    if nbest is not None:
        nbest = _integer("nbest", nbest, 1, 100)
    if boost is not None:
        try:
            boost = float(boost)
        except (TypeError, ValueError):
            boost = float("nan")
        if not 0 <= boost <= 100:
            raise ApiError(400, f"hotword_boost: expected a number from 0 to 100, got {boost!r}")
    try:
        if hotwords:  # a JSON list, or a query string (phrases by line or comma), nothing else
            if not isinstance(hotwords, (str, list)):
                raise ApiError(400, "hotwords: expected a list of phrases")
            hotwords = hotword_phrases(hotwords)
        if hotwords and len(hotwords) > MAX_HOTWORDS:
            raise ApiError(400, f"hotwords: at most {MAX_HOTWORDS} phrases, got {len(hotwords)}")
        return rec.overrides(decoder=decoder, beam=beam, nbest=nbest, hotwords=hotwords or None, hotword_boost=boost)
    except UserError as exc:
        raise ApiError(400, str(exc)) from None


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"upload of {int(declared) / 2**20:.1f} MiB exceeds the limit of {limit / 2**20:g} MiB")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ApiError(413, f"upload exceeds the limit of {limit / 2**20:g} MiB")
    return bytes(body)


async def _audio_from_request(request: Request, limit: int) -> tuple[str, bytes]:
    """(name, bytes) of the uploaded audio: a multipart form's `file` field or a raw body."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "multipart/form-data":
        body = await _read_body(request, limit)

        async def replay():
            yield body

        try:
            form = await MultiPartParser(request.headers, replay(), max_files=1, max_fields=20).parse()
        except MultiPartException as exc:
            raise ApiError(400, f"malformed multipart form ({exc.message})") from None
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise ApiError(400, "multipart form without a `file` field holding the audio")
        data = await upload.read()
        await upload.close()
        return Path(upload.filename or "upload").name, data
    if ctype.startswith("audio/") or ctype == "application/octet-stream":
        return "upload", await _read_body(request, limit)
    raise ApiError(
        415,
        f"unsupported content type {ctype or '(none)'}: send multipart/form-data with a `file` field, "
        "or the audio itself as audio/* or application/octet-stream",
    )


def _check_header(name: str, data: bytes, max_seconds: float) -> None:
    """Refuse what is not audio, declares an absurd rate or is too long, from the header alone."""
    if not data:
        raise ApiError(400, "empty body: no audio was sent")
    try:
        with open_audio(io.BytesIO(data), name) as info:
            pass
    except AudioError as exc:
        raise ApiError(400, str(exc)) from None
    if not MIN_RATE <= info.samplerate <= MAX_RATE:
        raise ApiError(400, f"{name}: sample rate {info.samplerate} Hz is outside {MIN_RATE}-{MAX_RATE} Hz")
    if info.frames == 0:
        raise ApiError(400, f"{name}: contains no audio samples")
    if info.frames / info.samplerate > max_seconds:
        raise ApiError(
            413, f"{name}: {info.frames / info.samplerate:.0f} s of audio exceeds the limit of {max_seconds:g} s"
        )


def _render(t: Transcript, fmt: str) -> Response:
    # a warning (hotwords the model cannot spell, a silent file) is in the JSON, and in a header
    headers = {"X-ASR-Warning": quote(t.warning, safe=" :;,()/")} if t.warning else None
    if fmt == "text":
        assert t.text is not None  # a decoded transcript: failures are raised, not returned
        return PlainTextResponse(t.text + "\n", headers=headers)
    if fmt == "tsv":
        return PlainTextResponse(
            "path\tstart\tend\ttext\n" + to_tsv(t), media_type="text/tab-separated-values", headers=headers
        )
    if fmt == "srt":
        return PlainTextResponse(to_srt(t), media_type="application/x-subrip", headers=headers)
    if fmt == "vtt":
        return PlainTextResponse(to_vtt(t), media_type="text/vtt", headers=headers)
    return JSONResponse(t.to_json(), headers=headers)


def create_app(rec: Recognizer, settings: ServeSettings = ServeSettings(), tagger: SlotTagger | None = None) -> FastAPI:
    """The server around `rec` (loaded once; shared by every request); with `tagger`, every
    result also carries its filled slots and the page shows them as a booking form."""
    app = FastAPI(title="asr", docs_url="/docs", redoc_url=None)
    pool = Pool(settings.workers, settings.queue)
    app.state.pool = pool
    _add_error_handlers(app)

    @app.middleware("http")
    async def auth(request: Request, call_next):
        if request.url.path.startswith("/v1/") and not _authorized(settings, request.headers, request.query_params):
            return _error(401, "missing or wrong token (Authorization: Bearer TOKEN, or ?token=TOKEN)")
        return await call_next(request)

    @app.get("/healthz")
    async def healthz():
        return {"status": "ok", "in_flight": pool.in_flight}

    @app.get("/v1/model")
    async def model_info():
        return _model_info(rec, settings, tagger)

    @app.post("/v1/transcribe")
    async def transcribe(request: Request):
        return await _transcribe(request, rec, pool, settings, tagger)

    @app.post("/v1/subtitles")
    async def subtitles(request: Request):
        """SRT or WebVTT of per-character times (JSON {"chars": [...], "duration": s}, what the
        transcribe and stream results hold): the page's downloads use the renderer the API uses."""
        fmt = request.query_params.get("format", "srt")
        if fmt not in ("srt", "vtt"):
            raise ApiError(400, f"format: expected srt or vtt, got {fmt!r}")
        t = _chars_transcript(await _read_body(request, int(settings.max_upload_mb * 2**20)))
        return _render(t, fmt)

    @app.websocket("/v1/stream")
    async def stream(ws: WebSocket):
        await ws.accept()
        if not _authorized(settings, ws.headers, ws.query_params):
            await _ws_fail(ws, 1008, "missing or wrong token (?token=TOKEN)")
            return
        try:
            await _serve_stream(ws, rec, pool, settings, tagger)
        except WebSocketDisconnect:
            pass  # the client went away; nothing is owed to it

    @app.get("/")
    async def page():
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def _authorized(settings: ServeSettings, headers, query) -> bool:
    if not settings.token:
        return True
    given = query.get("token") or headers.get("authorization", "").removeprefix("Bearer ").strip()
    return secrets.compare_digest(given.encode(), settings.token.encode())


def _add_error_handlers(app: FastAPI) -> None:
    """Every error a JSON {"error": ...} with its status; a bug's traceback stays in the log."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError):
        return _error(exc.status, exc.message, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()))
        return _error(400, f"{where}: {first.get('msg', 'invalid request')}")

    @app.exception_handler(Exception)
    async def bug(request: Request, exc: Exception):
        log.exception("internal error on %s", request.url.path)  # the traceback stays in the server log
        return _error(500, "internal error (logged on the server)")


def _model_info(rec: Recognizer, settings: ServeSettings, tagger: SlotTagger | None) -> dict:
    """GET /v1/model: the model, its decoding settings and the server's limits."""
    r = rec.recipe
    return {
        "units": len(rec.vocab.units),
        "sample_rate": r.features.sample_rate,
        "word_boundaries": rec.joiner == " ",
        "parameters": sum(p.numel() for p in rec.model.parameters()),
        "model": {"cell": r.model.cell, "layers": r.model.layers, "hidden": r.model.hidden, "stack": r.model.stack},
        "features": {"n_mels": r.features.n_mels, "n_mfcc": r.features.n_mfcc, "deltas": r.features.deltas},
        "decode": {
            "decoder": rec.decode.decoder,
            "beam": rec.decode.beam,
            "lm": bool(rec.lm),
            "alpha": rec.decode.alpha,
            "beta": rec.decode.beta,
            "hotwords": bool(rec.hotwords),
        },
        "slots": tagger.slots if tagger else None,  # the slot names results carry (None: no slot model)
        "limits": {
            "max_upload_mb": settings.max_upload_mb,
            "max_seconds": settings.max_seconds,
            "idle_timeout": settings.idle_timeout,
        },
    }


async def _transcribe(
    request: Request, rec: Recognizer, pool: Pool, settings: ServeSettings, tagger: SlotTagger | None
) -> Response:
    """POST /v1/transcribe: one uploaded file, rendered in the format asked for."""
    opts = _options(rec, request.query_params)
    name, data = await _audio_from_request(request, int(settings.max_upload_mb * 2**20))
    _check_header(name, data, settings.max_seconds)
    try:
        t = await pool.run(
            rec.transcribe,
            io.BytesIO(data),
            name=name,
            times=opts["times"],
            max_seconds=settings.max_seconds,
            options=opts["decode"],
        )
    except AudioError as exc:
        raise ApiError(400, str(exc)) from None
    t.path = name
    if tagger:
        t.slots = tagger.fill(t.text, t.chars or None)
    if opts["warning"]:
        t.warning = "; ".join(w for w in (opts["warning"], t.warning) if w)
    return _render(t, opts["format"])


def _chars_transcript(body: bytes) -> Transcript:
    """A Transcript of the characters in a JSON body {"chars": [{"char", "start", "end"}, ...],
    "duration": seconds (optional)}; ApiError(400) for anything else."""
    try:
        data = json.loads(body)
        chars = [Char(str(c["char"]), float(c["start"]), float(c["end"])) for c in data["chars"]]
        duration = float(data["duration"]) if data.get("duration") is not None else None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, UnicodeDecodeError):
        raise ApiError(400, 'expected JSON {"chars": [{"char", "start", "end"}, ...], "duration": seconds}') from None
    return Transcript("subtitles", text="".join(c.char for c in chars), duration=duration, chars=chars)


async def _ws_fail(ws: WebSocket, code: int, message: str) -> None:
    try:
        await ws.send_json({"status": "failed", "type": "error", "message": message})
        await ws.close(code)
    except (WebSocketDisconnect, RuntimeError):
        pass


async def _receive(ws: WebSocket, timeout: float) -> Message:
    msg = await asyncio.wait_for(ws.receive(), timeout)
    if msg["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(msg.get("code", 1000))
    return msg


# asr's own keys, and WeNet's (nbest, continuous_decoding), so that WeNet's clients talk to it as they are
START_KEYS = {"signal", "sample_rate", "format", "hotwords", "hotword_boost", "decoder", "beam", "partial"}
START_KEYS |= {"nbest", "continuous_decoding"}


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


def _start_config(text: str | None, settings: ServeSettings) -> tuple[StreamConfig, dict]:
    """The start message -> (StreamConfig, decode options); ApiError(400) for a bad one."""
    try:
        start = json.loads(text) if text is not None else None
    except json.JSONDecodeError:
        start = None
    if not isinstance(start, dict) or start.get("signal") != "start":
        raise ApiError(400, 'expected a start message first: {"signal": "start", "sample_rate": 16000, ...}')
    unknown = sorted(set(start) - START_KEYS)
    if unknown:
        raise ApiError(400, f"start message: unknown key(s) {', '.join(unknown)}")
    if not isinstance(start.get("continuous_decoding", True), bool):
        raise ApiError(400, "start message: continuous_decoding: expected true or false")
    try:
        cfg = StreamConfig(
            sample_rate=start.get("sample_rate", 16000),
            format=start.get("format", "pcm16"),
            partial_every=settings.partial_every if start.get("partial", True) else 0.0,
            endpoint_pause=settings.endpoint_pause,
            max_seconds=settings.max_seconds,
        )
    except AudioError as exc:
        raise ApiError(400, f"start message: {exc}") from None
    return cfg, start


async def _serve_stream(
    ws: WebSocket, rec: Recognizer, pool: Pool, settings: ServeSettings, tagger: SlotTagger | None
) -> None:
    """One streaming session (protocol in docs/serving.md): start message, audio, end message."""
    try:
        first = await _receive(ws, settings.idle_timeout)
        cfg, start = _start_config(first.get("text"), settings)
        decode_opts = _decode_options(
            rec,
            start.get("decoder"),
            start.get("beam"),
            start.get("hotwords"),
            start.get("hotword_boost"),
            start.get("nbest"),
        )
        warning = decode_opts.warning
    except ApiError as exc:
        await _ws_fail(ws, 1003 if "expected a start" in exc.message else 1008, exc.message)
        return
    except asyncio.TimeoutError:
        await _ws_fail(ws, 1008, f"no start message within {settings.idle_timeout:g} s")
        return
    await ws.send_json({"status": "ok", "type": "server_ready", **({"warning": warning} if warning else {})})
    await _Session(ws, rec, pool, Stream(cfg), start, decode_opts, tagger).run(settings.idle_timeout)


def _end_signal(msg: Message) -> bool:
    try:
        return json.loads(msg.get("text") or "").get("signal") == "end"
    except (json.JSONDecodeError, AttributeError):
        return False


class _Session:
    """A started stream: audio in, partial and final results out, until the end message (or,
    without WeNet's continuous_decoding, the first final)."""

    def __init__(
        self,
        ws: WebSocket,
        rec: Recognizer,
        pool: Pool,
        stream: Stream,
        start: dict,
        decode_opts: DecodeOverrides,
        tagger: SlotTagger | None = None,
    ):
        self.ws, self.rec, self.pool, self.stream, self.decode_opts = ws, rec, pool, stream, decode_opts
        self.tagger = tagger
        self.n, self.continuous = decode_opts.nbest or 1, start.get("continuous_decoding", True)
        self.partial_opts = dataclasses.replace(decode_opts, nbest=None)

    async def run(self, idle_timeout: float) -> None:
        while True:
            try:
                msg = await _receive(self.ws, idle_timeout)
            except asyncio.TimeoutError:
                await _ws_fail(self.ws, 1008, f"idle for {idle_timeout:g} s: closing")
                return
            ended = msg.get("bytes") is None
            if ended and not _end_signal(msg):
                await _ws_fail(self.ws, 1003, 'expected binary audio or {"signal": "end"}')
                return
            try:
                pieces = self.stream.finish() if ended else self.stream.push(msg["bytes"])
            except AudioError as exc:
                await _ws_fail(self.ws, 1009 if "longer than" in str(exc) else 1003, str(exc))
                return
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
        final, n = piece.kind == "final", self.n
        try:
            [t] = await self.pool.run(
                self.rec.decode_waves,
                [piece.audio],
                times=final,
                options=self.decode_opts if final else self.partial_opts,
                wait=final,
            )
        except Busy:
            return  # a partial can be skipped when the server is busy; the next one comes
        msg = {"status": "ok", "type": f"{piece.kind}_result", "segment": piece.segment}
        msg.update({"start": round(piece.start, 3), "end": round(piece.end, 3), "text": t.text})
        if final:
            chars = shifted(t.chars, piece.start, piece.end)
            msg["chars"] = [c.to_json() for c in chars]
            if self.tagger:  # the segment's slots, times from the stream's start
                msg.update(slots_json(self.tagger.fill(t.text, chars)))
        msg["nbest"] = _wenet_nbest(t, piece.start, piece.end, final, n)
        await self.ws.send_json(msg)
