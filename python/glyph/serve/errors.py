"""OpenAI-style errors: every refusal carries an HTTP status, a message that names the field, and
the ``{"error": {"message", "type", "param", "code"}}`` body OpenAI clients read."""
from __future__ import annotations

from typing import Any, Dict, Optional

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
    502: "upstream_error",
    503: "service_unavailable",
    504: "timeout",
}


class ApiError(Exception):
    """A request refused with ``status``; ``param`` names the field (``messages[0].content[1]``)."""

    def __init__(self, status: int, message: str, *, param: Optional[str] = None,
                 code: Optional[str] = None):
        super().__init__(message)
        self.status = int(status)
        self.message = message
        self.param = param
        self.code = code

    def body(self) -> Dict[str, Any]:
        return {"error": {"message": self.message, "type": _TYPES.get(self.status, "error"),
                          "param": self.param, "code": self.code}}


def bad_request(param: Optional[str], message: str, code: str = "invalid_value") -> ApiError:
    """400 whose message starts with the field it is about."""
    text = f"{param}: {message}" if param else message
    return ApiError(400, text, param=param, code=code)
