"""Reading a backend's *answer* (status and error envelope), not its trace: is this "not
found", "this route does not exist here", or a failure worth one line to the user?

Content types lie (trace-backends.md §5.6): Jaeger sends JSON errors as text/plain and Tempo
sends plain text or nothing, so: status first, then try JSON, then fall back to text.
"""

from __future__ import annotations

from typing import Any

from obskit.errors import BackendError
from obskit.sources.http import HttpAnswer

# Bodies we look inside. A real trace is usually bigger; an error envelope or an empty
# "{}"/"data: []" answer is always smaller, so we never parse a whole trace here.
PEEK_LIMIT = 64 * 1024


def peek_json(answer: HttpAnswer) -> Any:
    """The body as JSON when it is small and valid JSON, else None."""
    if len(answer.body) > PEEK_LIMIT:
        return None
    import orjson

    try:
        return orjson.loads(answer.body)
    except orjson.JSONDecodeError:
        return None


def is_router_404(answer: HttpAnswer) -> bool:
    """A 404 from something that does not serve this route at all: Go's mux says
    ``404 page not found``; proxies and other web apps send HTML."""
    text = answer.body[:512].decode("utf-8", "replace").strip().lower()
    return text.startswith("404 page not found") or text.startswith("<") or "cannot get" in text


def jaeger_error(answer: HttpAnswer) -> str | None:
    """The message of a Jaeger error envelope: v1 ``{"errors":[{"msg":...}]}`` or api_v3
    ``{"error":{"message":...}}``; None when the body is not one."""
    body = peek_json(answer)
    if not isinstance(body, dict):
        return None
    errors = body.get("errors")
    if isinstance(errors, list) and errors:
        first = errors[0]
        if isinstance(first, dict):
            return str(first.get("msg") or first.get("message") or "error")
    error = body.get("error")
    if isinstance(error, dict):
        return str(error.get("message") or error.get("msg") or "error")
    return None


def failure(answer: HttpAnswer, what: str, detail: str | None = None) -> BackendError:
    """A non-2xx answer as one line: status, URL, the backend's own reason, retries."""
    detail = detail if detail is not None else answer.text_line
    tried = ""
    if answer.retries:
        tried = f" after {answer.retries} {'retry' if answer.retries == 1 else 'retries'}"
    reason = f" {answer.reason}" if answer.reason else ""
    message = f"{what} answered {answer.status}{reason}{tried} ({answer.url})"
    if detail:
        message += f": {detail}"
    hint = None
    if answer.status in (401, 403):
        hint = (
            "set OBSKIT_BACKEND_TOKEN_FILE (bearer) or OBSKIT_BACKEND_USER and "
            "OBSKIT_BACKEND_PASSWORD_FILE (basic auth)"
        )
    return BackendError(message, hint=hint)
