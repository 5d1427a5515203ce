"""The normalization step every reader shares: ids, integers, enums and attribute values.

Every function here either returns a normalized Python value or raises :class:`Bad` with a
message that starts with the offending field (relative to the caller's position), so readers
can prefix the path they know (``resourceSpans[0].scopeSpans[1].spans[3]``) and raise one
:class:`~obskit.errors.InputError` line.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from obskit.model import RefType, SpanKind, StatusCode
from obskit.model.span import EMPTY

UNKNOWN_SERVICE = "unknown_service"
# Jaeger v2's ingest sanitizer rewrites bad service names to these; they mean "unknown".
_SANITIZED_SERVICES = frozenset(
    {"empty-service-name", "missing-service-name", "service-name-wrong-type"}
)

_HEX32 = re.compile(r"[0-9a-f]{32}").fullmatch
_HEX16 = re.compile(r"[0-9a-f]{16}").fullmatch
_ANY_HEX = re.compile(r"[0-9a-fA-F]+").fullmatch
_ZERO32 = "0" * 32
_ZERO16 = "0" * 16
# For readers' fast paths: a span id already in normal form, and the all-zero (absent) id.
HEX16 = _HEX16
ZERO16 = _ZERO16


_CONTROL = {c: f"\\x{c:02x}" for c in range(32)} | {10: "\\n", 13: "\\r", 9: "\\t"}


def one_line(text: str) -> str:
    """Escape control characters: keys and messages come from the input, errors are one line."""
    return text.translate(_CONTROL)


def _bounded(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Bad(Exception):
    """A value is wrong. ``str(err)`` reads ``field: problem`` (field may be empty)."""

    def __init__(self, field: str, problem: str) -> None:
        # a field path holds the input's own keys: bounded, like the values show() renders
        field, problem = _bounded(one_line(field), 300), _bounded(one_line(problem), 600)
        super().__init__(f"{field}: {problem}" if field else problem)
        self.field = field
        self.problem = problem

    def under(self, prefix: str) -> Bad:
        """The same problem, one level further out (``prefix.field``)."""
        if not prefix:
            return self
        field = (
            f"{prefix}.{self.field}"
            if self.field and not self.field.startswith("[")
            else (prefix + self.field)
        )
        return Bad(field, self.problem)


def show(value: Any, limit: int = 40) -> str:
    """A short, safe rendering of a bad value for a one-line message."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def expect_dict(value: Any, field: str) -> dict[str, Any]:
    if type(value) is not dict:
        raise Bad(field, f"expected an object, got {show(value)}")
    return value


def expect_list(value: Any, field: str, *, optional: bool = True) -> list[Any]:
    """A JSON list; ``null``/absent is an empty list when ``optional``."""
    if type(value) is list:
        return value
    if value is None and optional:
        return []
    raise Bad(field, f"expected a list, got {show(value)}")


def expect_str(value: Any, field: str, default: str = "") -> str:
    if type(value) is str:
        return value
    if value is None:
        return default
    raise Bad(field, f"expected a string, got {show(value)}")


# The model holds what the wire formats do: int64 times and values (OTLP's fixed64 times above
# 2^63 - 1 ns, i.e. after 2262-04-11, fit neither SQLite, Jaeger, Go, nor JSON consumers).
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
MAX_TIME_NS = INT64_MAX
MAX_TIME_US = MAX_TIME_NS // 1000
# Decimal digits of the largest value above: anything longer is out of range before int() sees
# it (Python refuses to convert over 4,300 digits, and converting is quadratic below that).
MAX_DIGITS = 20
# Fast paths convert digit strings shorter than this without a range check: they fit int64.
SAFE_DIGITS = 19
# Times have 19 digits today; fast paths convert up to that many, then compare.
TIME_DIGITS = 19


class OutOfRange(Bad):
    """A number outside what the model holds: the span carrying it is refused on its own."""


def refusal(span_id: Any, err: Bad) -> str:
    """The message for one refused span: which one, and why."""
    return f"span {show(span_id)}: {err}"


def to_int(value: Any, field: str, high: int = INT64_MAX) -> int:
    """A non-negative integer given as a JSON number or a decimal string (OTLP int64/uint64),
    at most ``high``."""
    if type(value) is int:
        if value < 0:
            raise Bad(field, f"expected a non-negative integer, got {value}")
    elif type(value) is str and value.isascii() and value.isdigit():
        if len(value) > MAX_DIGITS:
            raise OutOfRange(field, f"{len(value)}-digit number is out of range (at most {high})")
        value = int(value)
    else:
        raise Bad(field, f"expected an integer, got {show(value)}")
    if value > high:
        raise OutOfRange(field, f"{value} is out of range (at most {high})")
    return value


def to_signed_int(value: Any, field: str) -> int:
    """An int64 attribute value: a number or a decimal string, possibly negative."""
    if type(value) is str:
        digits = value[1:] if value[:1] == "-" else value
        if digits.isascii() and digits.isdigit() and len(digits) <= MAX_DIGITS:
            value = int(value)
        elif digits.isascii() and digits.isdigit():
            raise OutOfRange(field, f"{len(digits)}-digit integer is out of range (int64)")
    if type(value) is int:
        if not INT64_MIN <= value <= INT64_MAX:
            raise OutOfRange(field, f"{value} is out of range (int64)")
        return value
    raise Bad(field, f"expected an integer, got {show(value)}")


LATEST_TIME = "the latest time obskit holds is 2262-04-11T23:47:16Z (2^63-1 ns)"


def to_time_ns(value: Any, field: str) -> int:
    """A time in nanoseconds since the epoch (OTLP ``fixed64``), within what the model holds."""
    try:
        return to_int(value, field, MAX_TIME_NS)
    except OutOfRange:
        raise OutOfRange(field, f"{show(value)} is out of range: {LATEST_TIME}") from None


def to_time_us(value: Any, field: str, start_us: int = 0) -> int:
    """A time (or, after ``start_us``, a duration) in microseconds (Jaeger, Zipkin), such that
    it ends within what the model holds in nanoseconds."""
    try:
        return to_int(value, field, MAX_TIME_US - start_us)
    except OutOfRange:
        ends = f"starting at {start_us} µs, {show(value)} µs" if start_us else show(value)
        raise OutOfRange(field, f"{ends} is out of range: {LATEST_TIME}") from None


def check_time_ns(value: int, field: str) -> int:
    """An already-integer time (protobuf, or a sum of start and duration), range-checked."""
    if not 0 <= value <= MAX_TIME_NS:
        raise OutOfRange(field, f"{value} is out of range: {LATEST_TIME}")
    return value


def to_float(value: Any, field: str) -> float:
    if type(value) is float or type(value) is int:
        return float(value)
    if type(value) is str and value in ("NaN", "Infinity", "-Infinity"):
        return float(value.replace("Infinity", "inf"))
    if type(value) is str:
        try:
            result = float(value)
        except ValueError:
            pass
        else:
            if not math.isnan(result) or value.lower() == "nan":
                return result
    raise Bad(field, f"expected a number, got {show(value)}")


def to_bytes(value: Any, field: str) -> bytes:
    if type(value) is str:
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            pass
    raise Bad(field, f"expected base64 bytes, got {show(value)}")


# ---- ids -------------------------------------------------------------------------------


def _decode_b64_id(value: str, field: str, size: int) -> str:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise Bad(field, f"not a hex or base64 id: {show(value)}") from None
    if not raw or len(raw) > size:
        raise Bad(field, f"base64 id {show(value)} decodes to {len(raw)} bytes, expected {size}")
    return raw.hex().rjust(size * 2, "0")


def _norm_id(value: Any, field: str, size: int) -> str:
    """Hex of any case and length up to ``2*size`` (left-padded), or padded base64."""
    width = size * 2
    if type(value) is not str:
        raise Bad(field, f"expected an id string, got {show(value)}")
    if not value:
        raise Bad(field, "is empty")
    if len(value) <= width and _ANY_HEX(value):
        return value.lower().rjust(width, "0")
    # Tempo and Jaeger api_v3 <= 1.53 use protobuf-JSON's padded base64 for ids: it always
    # contains '=' or a non-hex character, so it cannot be mistaken for hex.
    return _decode_b64_id(value, field, size)


def trace_id(value: Any, field: str = "traceId") -> str:
    result = value if type(value) is str and _HEX32(value) else _norm_id(value, field, 16)
    if result == _ZERO32:
        raise Bad(field, "the trace id is all zeros")
    return result


def span_id(value: Any, field: str = "spanId") -> str:
    result = value if type(value) is str and _HEX16(value) else _norm_id(value, field, 8)
    if result == _ZERO16:
        raise Bad(field, "the span id is all zeros")
    return result


def parent_id(value: Any, field: str = "parentSpanId") -> str | None:
    """An OTLP parent id: absent, empty or all zeros means "no parent"."""
    if value is None or value == "":
        return None
    if type(value) is str and _HEX16(value):
        return None if value == _ZERO16 else value
    result = _norm_id(value, field, 8)
    return None if result == _ZERO16 else result


def id_bytes(raw: bytes, field: str, size: int, *, optional: bool = False) -> str | None:
    """A protobuf ``bytes`` id → padded lowercase hex."""
    if not raw:
        if optional:
            return None
        raise Bad(field, "is empty")
    if len(raw) > size:
        raise Bad(field, f"is {len(raw)} bytes long, expected {size}")
    result = raw.hex().rjust(size * 2, "0")
    if result == "0" * (size * 2):
        if optional:
            return None
        raise Bad(field, "is all zeros")
    return result


# ---- enums -----------------------------------------------------------------------------

_KIND_BY_VALUE: dict[Any, SpanKind] = {}
for _kind in SpanKind:
    _KIND_BY_VALUE[int(_kind)] = _kind
    _KIND_BY_VALUE[f"SPAN_KIND_{_kind.name}"] = _kind
_KIND_BY_VALUE[None] = SpanKind.UNSPECIFIED

_STATUS_BY_VALUE: dict[Any, StatusCode] = {}
for _status in StatusCode:
    _STATUS_BY_VALUE[int(_status)] = _status
    _STATUS_BY_VALUE[f"STATUS_CODE_{_status.name}"] = _status
_STATUS_BY_VALUE[None] = StatusCode.UNSET

# Jaeger's ``span.kind`` tag and Zipkin's ``kind`` use plain words.
KIND_BY_WORD: dict[str, SpanKind] = {
    "client": SpanKind.CLIENT,
    "server": SpanKind.SERVER,
    "producer": SpanKind.PRODUCER,
    "consumer": SpanKind.CONSUMER,
    "internal": SpanKind.INTERNAL,
}

REF_TYPES: dict[str, RefType] = {
    "CHILD_OF": RefType.CHILD_OF,
    "FOLLOWS_FROM": RefType.FOLLOWS_FROM,
    "child_of": RefType.CHILD_OF,
    "follows_from": RefType.FOLLOWS_FROM,
}


def otlp_kind(value: Any, field: str = "kind") -> SpanKind:
    """OTLP kind: an integer (spec) or an enum name (Tempo, Jaeger api_v3 <= 1.53)."""
    if type(value) is not bool:
        try:
            return _KIND_BY_VALUE[value]
        except (KeyError, TypeError):
            pass
    raise Bad(field, f"unknown span kind {show(value)}")


def otlp_status(value: Any, field: str = "status.code") -> StatusCode:
    if type(value) is not bool:
        try:
            return _STATUS_BY_VALUE[value]
        except (KeyError, TypeError):
            pass
    raise Bad(field, f"unknown status code {show(value)}")


def service_name(value: Any) -> str:
    """A service name, or ``unknown_service`` (as OpenTelemetry does) when missing or bad."""
    if type(value) is not str or not value or value in _SANITIZED_SERVICES:
        return UNKNOWN_SERVICE
    return value


# ---- OTLP attribute values ---------------------------------------------------------------


def any_value(value: Any, field: str) -> Any:
    """An OTLP ``AnyValue`` → a Python value (str, bool, int, float, bytes, tuple, dict, None)."""
    if type(value) is not dict:
        raise Bad(field, f"expected an AnyValue object, got {show(value)}")
    for key, inner in value.items():
        if key == "stringValue":
            if type(inner) is str:
                return inner
            raise Bad(f"{field}.stringValue", f"expected a string, got {show(inner)}")
        if key == "intValue":
            return to_signed_int(inner, f"{field}.intValue")
        if key == "boolValue":
            if type(inner) is bool:
                return inner
            raise Bad(f"{field}.boolValue", f"expected true or false, got {show(inner)}")
        if key == "doubleValue":
            return to_float(inner, f"{field}.doubleValue")
        if key == "bytesValue":
            return to_bytes(inner, f"{field}.bytesValue")
        if key == "arrayValue":
            inner = expect_dict(inner, f"{field}.arrayValue") if inner is not None else {}
            items = expect_list(inner.get("values"), f"{field}.arrayValue.values")
            return tuple(
                any_value(item, f"{field}.arrayValue.values[{i}]") for i, item in enumerate(items)
            )
        if key == "kvlistValue":
            inner = expect_dict(inner, f"{field}.kvlistValue") if inner is not None else {}
            items = expect_list(inner.get("values"), f"{field}.kvlistValue.values")
            return key_values(items, f"{field}.kvlistValue.values")
        # Unknown keys are ignored, as the OTLP/JSON spec asks of receivers.
    return None


def key_values(items: Any, field: str) -> dict[str, Any]:
    """A list of OTLP ``KeyValue`` → a dict (a repeated key: the last one wins)."""
    if type(items) is not list:
        if items is None:
            return {}
        raise Bad(field, f"expected a list, got {show(items)}")
    out: dict[str, Any] = {}
    for i, item in enumerate(items):
        if type(item) is not dict:
            raise Bad(f"{field}[{i}]", f"expected a key/value object, got {show(item)}")
        key = item.get("key")
        if type(key) is not str:
            raise Bad(f"{field}[{i}].key", f"expected a string, got {show(key)}")
        raw = item.get("value")
        # The common cases first: {"stringValue": "..."}, {"intValue": "<digits>"}.
        if type(raw) is dict and len(raw) == 1:
            value = raw.get("stringValue")
            if type(value) is str:
                out[key] = value
                continue
            value = raw.get("intValue")
            if (
                type(value) is str
                and len(value) < SAFE_DIGITS
                and value.isdigit()
                and value.isascii()
            ):
                out[key] = int(value)
                continue
        if raw is None:
            out[key] = None
        else:
            out[key] = any_value(raw, f"{field}[{i}].value")
    return out


def freeze(mapping: dict[str, Any]) -> Mapping[str, Any]:
    """Read-only view: spans are frozen and their attributes should be too."""
    return MappingProxyType(mapping) if mapping else EMPTY
