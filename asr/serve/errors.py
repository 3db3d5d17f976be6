"""The server's error kinds. Each class carries its HTTP status and its websocket close code, so
a protocol's answer follows from the kind of error, never from the wording of its message."""

from __future__ import annotations


class ApiError(Exception):
    """A request the server refuses: a bad value or a contradiction (400; websocket 1008, policy)."""

    status = 400
    close_code = 1008

    def __init__(self, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message, self.headers = message, headers


class Unsupported(ApiError):
    """Data of the wrong kind: not a start message, not audio, a text frame where audio belongs
    (websocket 1003, unsupported data)."""

    close_code = 1003


class Unauthorized(ApiError):
    status = 401


class TooLarge(ApiError):
    """An upload or audio over the server's limit (413; websocket 1009, message too big)."""

    status = 413
    close_code = 1009


class UnsupportedMediaType(ApiError):
    status = 415


class Busy(ApiError):
    """Every decoding slot is taken (503 with Retry-After; websocket 1013, try again later)."""

    status = 503
    close_code = 1013

    def __init__(self) -> None:
        super().__init__("server busy: all decoding slots are taken; retry shortly", {"Retry-After": "1"})
