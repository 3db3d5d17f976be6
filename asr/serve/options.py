"""What a request may ask of the decoder, declared once (pydantic models) for the HTTP query and
the websocket's start message: their types and bounds are the OpenAPI contract, and the values go
through `Recognizer.overrides`, the rule the command line's flags follow."""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from asr.audio import MAX_RATE, MIN_RATE
from asr.errors import UserError
from asr.recognizer import DecodeOverrides, Recognizer, hotword_phrases
from asr.serve.errors import ApiError, Unsupported
from asr.subtitles import check_nbest_format

MAX_HOTWORDS = 200
Format = Literal["json", "text", "tsv", "srt", "vtt"]


class DecodeParams(BaseModel):
    """The decoding options of one request; absent ones keep the server's settings."""

    decoder: Literal["greedy", "beam"] | None = Field(
        None, description="greedy, or the prefix beam search (the default is the server's)"
    )
    beam: int | None = Field(None, ge=1, le=100, description="beam width; selects the beam search")
    nbest: int | None = Field(
        None,
        ge=1,
        le=100,
        description="hypotheses returned (JSON: 5 when the beam search runs); > 1 selects the beam, format=json only",
    )
    hotword_boost: float | None = Field(
        None, ge=0, le=100, allow_inf_nan=False, description="nats added per unit of a hotword (needs hotwords)"
    )
    alpha: float | None = Field(
        None, ge=0, le=10, allow_inf_nan=False, description="LM weight (a server with an LM only); selects the beam"
    )
    beta: float | None = Field(
        None, ge=-10, le=10, allow_inf_nan=False, description="insertion bonus per unit (a server with an LM only)"
    )


class TranscribeQuery(DecodeParams):
    """The query parameters of POST /v1/transcribe."""

    format: Format = Field("json", description="json (what `asr transcribe -f json` prints), text, tsv, srt or vtt")
    timestamps: bool | None = Field(None, description="per-character times and scores (default: true for json)")
    hotwords: str | None = Field(
        None, max_length=20_000, description="phrases to favour, separated by newlines or commas; selects the beam"
    )


class SubtitlesQuery(BaseModel):
    """The query parameters of POST /v1/subtitles (the cue limits are the style guide's defaults)."""

    format: Literal["srt", "vtt"] = Field("srt", description="srt or vtt")


class StartMessage(DecodeParams):
    """The websocket's first message. Strict: a value of the wrong JSON type is refused, not
    converted ("yes" is not true), and so is an unknown key."""

    model_config = ConfigDict(extra="forbid", strict=True)

    signal: Literal["start"]
    sample_rate: int = Field(16000, ge=MIN_RATE, le=MAX_RATE)
    format: Literal["pcm16", "float32"] = "pcm16"
    hotwords: list[str] | None = Field(None, max_length=MAX_HOTWORDS)
    partial: bool = True  # partial results while a segment is open
    continuous_decoding: bool = True  # WeNet's: false ends the stream at its first final


def decode_overrides(rec: Recognizer, params: DecodeParams, hotwords: str | list[str] | None) -> DecodeOverrides:
    """A request's options -> the recognizer's checked DecodeOverrides; ApiError (400) for a
    contradiction (beam options with decoder=greedy, LM weights on a server without an LM)."""
    phrases = hotword_phrases(hotwords) if hotwords else None
    if phrases and len(phrases) > MAX_HOTWORDS:
        raise ApiError(f"hotwords: at most {MAX_HOTWORDS} phrases, got {len(phrases)}")
    search = params.model_dump(include={"decoder", "beam", "alpha", "beta"})
    try:
        return rec.overrides(nbest=params.nbest, hotwords=phrases, hotword_boost=params.hotword_boost, **search)
    except UserError as exc:
        raise ApiError(str(exc)) from None


def for_format(rec: Recognizer, options: DecodeOverrides, fmt: str) -> DecodeOverrides:
    """A request's options for a result in `fmt`, by the command line's rules: more hypotheses
    than one are JSON's only (ApiError otherwise), and JSON has its default n-best
    (Recognizer.for_json)."""
    try:
        check_nbest_format(options.nbest, fmt, "nbest", "format=")
    except UserError as exc:
        raise ApiError(str(exc)) from None
    return rec.for_json(options) if fmt == "json" else options


def start_message(text: str | None) -> StartMessage:
    """The websocket's first frame -> StartMessage. Unsupported when it is not a start message at
    all, ApiError naming the key for a bad value."""
    expected = 'expected a start message first: {"signal": "start", "sample_rate": 16000, ...}'
    if text is None:
        raise Unsupported(f"{expected}; got binary audio")
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        raise Unsupported(f"{expected}; got text that is not JSON") from None
    if not isinstance(data, dict):
        kind = {"list": "an array", "str": "a string", "bool": "true or false", "NoneType": "null"}
        raise Unsupported(f"{expected}; got {kind.get(type(data).__name__, 'a number')}, not a JSON object")
    if data.get("signal") != "start":
        got = f"signal {data['signal']!r}" if "signal" in data else "an object without a signal"
        raise Unsupported(f"{expected}; got {got}")
    try:
        return StartMessage.model_validate(data)
    except ValidationError as exc:
        raise ApiError(f"start message: {first_error(exc.errors())}") from None


def first_error(errors) -> str:
    """One line for a list of pydantic/FastAPI validation errors: the first, named by its key
    (unknown keys all named together)."""
    extra = [str(e["loc"][-1]) for e in errors if e.get("type") == "extra_forbidden"]
    if extra:
        return f"unknown key(s) {', '.join(extra)}"
    first = errors[0] if errors else {}
    if first.get("type") == "json_invalid":  # loc is (body, character offset)
        return f"the body is not JSON ({first.get('ctx', {}).get('error', 'invalid')} at character {first['loc'][-1]})"
    where = ".".join(str(x) for x in first.get("loc", ()) if x not in ("query", "body", "header"))
    message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message
