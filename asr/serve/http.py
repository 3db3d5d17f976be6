"""The HTTP routes, declared: parameters with their types and bounds, the token as a dependency,
response models for results and errors. /openapi.json is the contract (docs/serving.md).

The audio body is read by the handler rather than parsed by FastAPI (UploadFile): the upload
limit is enforced while the bytes arrive, before a large body is spooled anywhere. The body's
two forms (a multipart `file`, or the audio itself) are declared in the schema all the same."""

from __future__ import annotations

import io
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.security import APIKeyQuery, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, model_validator
from starlette.formparsers import MultiPartException, MultiPartParser

from asr.audio import MAX_RATE, MIN_RATE, open_audio
from asr.errors import AudioError
from asr.recognizer import DecodeOverrides
from asr.serve.errors import ApiError, TooLarge, Unauthorized, UnsupportedMediaType
from asr.serve.options import SubtitlesQuery, TranscribeQuery, decode_overrides, for_format
from asr.serve.service import Service, service
from asr.subtitles import plain_text, to_srt, to_tsv, to_vtt
from asr.transcript import Char, Segment, Transcript


class ErrorOut(BaseModel):
    error: str = Field(description="one line saying what was wrong")


class CharOut(BaseModel):
    char: str
    start: float
    end: float
    score: float | None = None


class SegmentOut(BaseModel):
    start: float
    end: float
    text: str


class AlternativeOut(BaseModel):
    text: str
    score: float


class TranscriptOut(BaseModel):
    """A result as `asr transcribe -f json` prints it (fields that are not set are left out)."""

    path: str
    text: str
    warning: str | None = None
    duration: float | None = None
    confidence: float | None = None
    segments: list[SegmentOut] | None = None
    nbest: list[AlternativeOut] | None = None
    chars: list[CharOut] | None = None
    slots: dict[str, Any] | None = Field(
        None, description="the booking form: slot -> {text, value, start, end} (a server with a slot model)"
    )
    bookings: list[dict[str, Any]] | None = Field(None, description="one form per segment that has slots")
    slot_spans: list[dict[str, Any]] | None = None


class ModelOut(BaseModel):
    units: int
    sample_rate: int
    word_boundaries: bool
    parameters: int
    model: dict[str, Any] = Field(description="cell, layers, hidden, stack")
    features: dict[str, Any]
    decode: dict[str, Any] = Field(description="decoder, beam, lm, alpha, beta, hotwords")
    slots: list[str] | None = Field(description="the slot names results carry (null: no slot model)")
    limits: dict[str, float]


class Health(BaseModel):
    status: str
    in_flight: int
    decoding_processes: int = Field(
        description="forked decoding processes at work; 0: decoding in the server's own threads (on a GPU, "
        "off Linux, or since a decoding process died)"
    )


MAX_TIME = 1e6  # seconds: about 11 days, beyond any recording
MAX_CHARS = 50_000  # characters (or segments) of one /v1/subtitles body: hours of speech


class SubtitleChar(BaseModel):
    char: str = Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")  # no line breaks in a cue
    start: float = Field(ge=0, le=MAX_TIME, allow_inf_nan=False)
    end: float = Field(ge=0, le=MAX_TIME, allow_inf_nan=False)


class SubtitleSegment(BaseModel):
    start: float = Field(ge=0, le=MAX_TIME, allow_inf_nan=False)
    end: float = Field(ge=0, le=MAX_TIME, allow_inf_nan=False)
    text: str = Field("", max_length=100_000)


class SubtitlesIn(BaseModel):
    """Per-character times (what transcribe and stream results hold), the audio's length and
    its segments (pieces cut at pauses: no cue spans two)."""

    chars: list[SubtitleChar] = Field(max_length=MAX_CHARS)
    duration: float | None = Field(None, ge=0, le=MAX_TIME, allow_inf_nan=False)
    segments: list[SubtitleSegment] = Field(default_factory=list, max_length=MAX_CHARS)

    @model_validator(mode="after")
    def _consistent(self) -> SubtitlesIn:
        last = 0.0
        for i, c in enumerate(self.chars):
            if c.end < c.start:
                raise ValueError(f"chars[{i}] ({c.char!r}) ends at {c.end:g} s, before it starts at {c.start:g} s")
            if c.start < last:
                raise ValueError(f"chars[{i}] ({c.char!r}) starts at {c.start:g} s, before the one before it")
            if self.duration is not None and c.end > self.duration + 0.001:
                raise ValueError(f"chars[{i}] ({c.char!r}) ends at {c.end:g} s, after the duration {self.duration:g} s")
            last = c.start
        end = 0.0
        for i, g in enumerate(self.segments):
            if g.end < g.start:
                raise ValueError(f"segments[{i}] ends at {g.end:g} s, before it starts at {g.start:g} s")
            if g.start < end - 0.001:
                raise ValueError(f"segments[{i}] starts at {g.start:g} s, inside the one before it")
            if self.duration is not None and g.end > self.duration + 0.001:
                raise ValueError(f"segments[{i}] ends at {g.end:g} s, after the duration {self.duration:g} s")
            end = g.end
        return self


ERRORS = {
    400: "a bad value, a contradiction, or audio that cannot be read",
    401: "missing or wrong token",
    413: "upload or audio over the server's limit",
    415: "a content type that is not audio or a multipart form",
    503: "every decoding slot taken: retry after Retry-After seconds",
}


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The error answers of a route: JSON {"error": ...} whatever the route's own media type."""
    error = {"application/json": {"schema": ErrorOut.model_json_schema()}}
    return {s: {"description": ERRORS[s], "content": error} for s in statuses}


def _text(*media: str) -> dict[str, Any]:
    return {m: {"schema": {"type": "string"}} for m in media}


_bearer = HTTPBearer(auto_error=False, description="the server's token (asr serve --token)")
_query_token = APIKeyQuery(name="token", auto_error=False, description="the token, where a header cannot be set")


async def authorized(
    svc: Annotated[Service, Depends(service)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    token: Annotated[str | None, Depends(_query_token)],
) -> None:
    """The token check of every /v1 route (constant-time); a server without a token is open."""
    if not token_matches(svc.settings.token, token or (bearer.credentials if bearer else "")):
        raise Unauthorized("missing or wrong token (Authorization: Bearer TOKEN, or ?token=TOKEN)")


def token_matches(expected: str | None, given: str | None) -> bool:
    return not expected or secrets.compare_digest((given or "").encode(), expected.encode())


def _only(request: Request, declared: Iterable[str]) -> None:
    """Refuse a query parameter the route does not declare: a misspelt option is not ignored."""
    unknown = sorted(set(request.query_params) - set(declared) - {"token"})
    if unknown:
        raise ApiError(f"unknown parameter(s) {', '.join(unknown)}; known: {', '.join(sorted(declared))}")


async def known_query(request: Request) -> None:
    """/v1/transcribe's query: TranscribeQuery's fields."""
    _only(request, TranscribeQuery.model_fields)


async def known_subtitles_query(request: Request) -> None:
    """/v1/subtitles' query: SubtitlesQuery's fields."""
    _only(request, SubtitlesQuery.model_fields)


router = APIRouter()
v1 = APIRouter(prefix="/v1", dependencies=[Depends(authorized)], responses=_errors(401))


@router.get("/healthz", response_model=Health, summary="Liveness (no token needed)")
async def healthz(svc: Annotated[Service, Depends(service)]) -> dict:
    running = svc.batcher.decoders.running if svc.batcher.decoders else 0
    return {"status": "ok", "in_flight": svc.pool.in_flight, "decoding_processes": running}


@v1.get("/model", response_model=ModelOut, summary="The model, its decoding settings, the server's limits")
async def model_info(svc: Annotated[Service, Depends(service)]) -> dict:
    rec, r, settings = svc.rec, svc.rec.recipe, svc.settings
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
            "hotword_boost": rec.decode.hotword_boost,
        },
        "slots": svc.tagger.slots if svc.tagger else None,
        "limits": {
            "max_upload_mb": settings.max_upload_mb,
            "max_seconds": settings.max_seconds,
            "idle_timeout": settings.idle_timeout,
        },
    }


AUDIO = {"type": "string", "format": "binary"}
AUDIO_BODY = {
    "required": True,
    "description": "the audio: any format libsndfile reads (wav, flac, ogg, mp3, ...), any rate from "
    f"{MIN_RATE} to {MAX_RATE} Hz, any channels",
    "content": {
        "multipart/form-data": {
            "schema": {"type": "object", "properties": {"file": AUDIO}, "required": ["file"]},
        },
        "audio/*": {"schema": AUDIO},
        "application/octet-stream": {"schema": AUDIO},
    },
}


@v1.post(
    "/transcribe",
    summary="Transcribe one audio file",
    dependencies=[Depends(known_query)],
    response_model=TranscriptOut,
    responses={
        200: {"content": _text("text/plain", "text/tab-separated-values", "application/x-subrip", "text/vtt")},
        **_errors(400, 413, 415, 503),
    },
    openapi_extra={"requestBody": AUDIO_BODY},
)
async def transcribe(
    request: Request, query: Annotated[TranscribeQuery, Query()], svc: Annotated[Service, Depends(service)]
) -> Response:
    """The transcript of an uploaded file (a multipart form's `file`, or the audio as the body), in
    the format asked for; decoding options as on the command line (docs/serving.md)."""
    options = for_format(svc.rec, decode_overrides(svc.rec, query, query.hotwords), query.format)
    times = query.timestamps if query.timestamps is not None else query.format == "json"
    name, data = await audio_from_request(request, svc.settings.max_upload_bytes)
    check_header(name, data, svc.settings.max_seconds)
    try:
        t = await svc.pool.run(recognize, svc, data, name, times or query.format in ("srt", "vtt"), options)
    except AudioError as exc:
        raise ApiError(str(exc)) from None
    if options.warning:
        t.warning = "; ".join(w for w in (options.warning, t.warning) if w)
    if query.format in ("srt", "vtt"):  # cue layout is work: off the event loop; the other formats are a dump
        return await svc.pool.run(render, t, query.format, wait=True)
    return render(t, query.format)


def recognize(svc: Service, data: bytes, name: str, times: bool, options: DecodeOverrides) -> Transcript:
    """An upload's Transcript (in a request thread): decoded through the batcher, its slots
    filled a booking per segment when the server has a slot model."""
    t = svc.rec.transcribe(
        io.BytesIO(data),
        name=name,
        times=times,
        max_seconds=svc.settings.max_seconds,
        options=options,
        decode=svc.batcher.decode,
    )
    t.path = name
    if svc.tagger:
        t.slots = svc.tagger.fill_transcript(t)
    return t


@v1.post(
    "/subtitles",
    summary="SRT or WebVTT of per-character times",
    response_class=PlainTextResponse,
    responses={200: {"content": _text("application/x-subrip", "text/vtt")}, **_errors(400)},
    dependencies=[Depends(known_subtitles_query)],
)
async def subtitles(
    body: SubtitlesIn,
    svc: Annotated[Service, Depends(service)],
    query: Annotated[SubtitlesQuery, Query()],
) -> Response:
    """The subtitles of a result's characters, by the renderer `format=srt|vtt` uses: the page's
    downloads are the API's bytes."""
    chars = [Char(c.char, c.start, c.end) for c in body.chars]
    segments = [Segment(g.start, g.end, g.text) for g in body.segments]
    t = Transcript("subtitles", text="".join(c.char for c in chars), duration=body.duration, chars=chars)
    t.segments = segments
    return await svc.pool.run(render, t, query.format)


def render(t: Transcript, fmt: str) -> Response:
    # a warning (hotwords the model cannot spell, a silent file) is in the JSON, and in a header
    headers = {"X-ASR-Warning": quote(t.warning, safe=" :;,()/")} if t.warning else None
    if fmt == "text":
        return PlainTextResponse(plain_text(t), headers=headers)
    if fmt == "tsv":
        return PlainTextResponse(
            "path\tstart\tend\ttext\n" + to_tsv(t), media_type="text/tab-separated-values", headers=headers
        )
    if fmt == "srt":
        return PlainTextResponse(to_srt(t), media_type="application/x-subrip", headers=headers)
    if fmt == "vtt":
        return PlainTextResponse(to_vtt(t), media_type="text/vtt", headers=headers)
    return JSONResponse(t.to_json(), headers=headers)


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"upload of {int(declared) / 2**20:.1f} MiB exceeds the limit of {limit / 2**20:g} MiB")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise TooLarge(f"upload exceeds the limit of {limit / 2**20:g} MiB")
    return bytes(body)


async def audio_from_request(request: Request, limit: int) -> tuple[str, bytes]:
    """(name, bytes) of the uploaded audio: a multipart form's `file` field or a raw body."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "multipart/form-data":
        body = await read_body(request, limit)

        async def replay():
            yield body

        try:
            form = await MultiPartParser(request.headers, replay(), max_files=1, max_fields=20).parse()
        except MultiPartException as exc:
            raise ApiError(f"malformed multipart form ({exc.message})") from None
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise ApiError("multipart form without a `file` field holding the audio")
        data = await upload.read()
        await upload.close()
        return Path(upload.filename or "upload").name, data
    if ctype.startswith("audio/") or ctype == "application/octet-stream":
        return "upload", await read_body(request, limit)
    raise UnsupportedMediaType(
        f"unsupported content type {ctype or '(none)'}: send multipart/form-data with a `file` field, "
        "or the audio itself as audio/* or application/octet-stream"
    )


def check_header(name: str, data: bytes, max_seconds: float) -> None:
    """Refuse what is not audio, declares an absurd rate or is too long, from the header alone."""
    if not data:
        raise ApiError("empty body: no audio was sent")
    try:
        with open_audio(io.BytesIO(data), name) as info:
            pass
    except AudioError as exc:
        raise ApiError(str(exc)) from None
    if info.frames == 0:
        raise ApiError(f"{name}: contains no audio samples")
    if info.frames / info.samplerate > max_seconds:
        raise TooLarge(f"{name}: {info.frames / info.samplerate:.0f} s of audio exceeds the limit of {max_seconds:g} s")
