"""Security events as JSON lines on the ``csp.security`` logger.

Every sign-in success, failure and pause, every second-factor step, password change and
refusal is one call to :func:`event`. The formatter writes one JSON object a line, so a
value holding a line feed (a user name typed as ``"x\\n{...}"``) is escaped inside its string
and cannot start a forged line. The audit table (issue 10) takes the same fields.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest

LOGGER = "csp.security"
_log = logging.getLogger(LOGGER)


def client_address(request: HttpRequest | None) -> str | None:
    """The socket's address (a forwarded-for header is not trusted here)."""
    return request.META.get("REMOTE_ADDR") if request is not None else None


def event(
    name: str, request: HttpRequest | None = None, *, level: int = logging.INFO, **fields: Any
) -> None:
    """Log one security event: its name, the request's user, address and path, and fields."""
    data: dict[str, Any] = {"event": name}
    if request is not None:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and "username" not in fields:
            data["username"] = user.get_username()
        data["ip"] = client_address(request)
        data["path"] = request.path
    data.update(fields)
    _log.log(level, name, extra={"security": data})


class JsonLines(logging.Formatter):
    """One JSON object per record: time (UTC), level, logger, and the event's fields."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
        }
        fields = getattr(record, "security", None)
        if isinstance(fields, dict):
            data.update(fields)
        else:
            data["message"] = record.getMessage()
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str)  # ASCII: no raw line separator of any kind
