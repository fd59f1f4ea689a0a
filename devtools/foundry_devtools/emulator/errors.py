"""The service's error envelope and the exception that carries it to the HTTP layer."""

from __future__ import annotations

import uuid
from typing import Any

INVALID_REQUEST = "invalid_request_error"


class ApiError(Exception):
    """An error the emulator answers with, in the envelope SDK 2.10 parses as ApiErrorResponse.

    Raised by pure state and validation code; the server turns it into a response, so that
    code never needs to know about HTTP objects.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        param: str | None = None,
        error_type: str = INVALID_REQUEST,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.param = param
        self.error_type = error_type
        self.headers = dict(headers or {})

    def envelope(self, request_id: str | None = None) -> dict[str, Any]:
        return error_envelope(
            self.code,
            self.message,
            param=self.param,
            error_type=self.error_type,
            request_id=request_id,
        )


def error_envelope(
    code: str,
    message: str,
    *,
    param: str | None = None,
    error_type: str = INVALID_REQUEST,
    request_id: str | None = None,
) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "param": param,
            "type": error_type,
            "details": [],
            "additionalInfo": {"request_id": request_id or uuid.uuid4().hex},
        }
    }


def invalid(message: str, param: str | None = None, code: str = "invalid_value") -> ApiError:
    return ApiError(400, code, message, param=param)


def not_found(message: str, param: str | None = None) -> ApiError:
    return ApiError(404, "not_found", message, param=param)


def conflict(code: str, message: str, param: str | None = None) -> ApiError:
    return ApiError(409, code, message, param=param)
