"""Reading a big OTLP/JSON document a slice at a time, so its parse tree never exists whole.

``orjson.loads`` of a 1M-span OTLP document builds ~3 GB of dicts, lists and strings before the
first span is converted. Here the ``spans`` arrays are cut into slices of about
:data:`SLICE_BYTES`; each slice is parsed, converted into spans and dropped before the next, and
what is left, the document with every ``spans`` array *hollowed* (its content replaced by one
marker string), is parsed last and read by :mod:`obskit.ingest.otlp_json` as usual: there the
markers are swapped for the converted spans, which then get their resource and scope.

Slices are cut where the next span object starts (the bytes that open the array's first span,
``{"traceId"`` in compact documents, recur before every span) and every cut is proven by the
parse itself: the slice is parsed as ``[`` + slice + ``]``, and since JSON parsing is
deterministic, a slice that starts where an element starts and parses whole ends where an
element ends. A cut inside a span (the same bytes opening a link) fails to parse and the next
candidate is tried; a slice holding the array's end closes the wrapper early, which locates the
``]``. Anything unexpected (not an object, invalid JSON, a marker not found where a ``spans``
list belongs, a span the converter rejects) raises :class:`NotSliceable`, and the caller parses
the document whole, which gives the exact error message or the same result.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

import orjson

from obskit.ingest.otlp_json import SpanConverter
from obskit.ingest.values import Bad
from obskit.model import Span

# Below this size a whole parse is cheap and simpler.
MIN_BYTES = 4 << 20
SLICE_BYTES = 1 << 20
# Failed cuts tolerated in a row (cuts inside links, slices too short for one span).
_MAX_MISSES = 24

# Formats whose documents are OTLP-shaped (``resourceSpans``/``batches`` of ``spans`` arrays).
_OTLP_START = re.compile(rb'[ \t\r\n]*\{[ \t\r\n]*"(?:resourceSpans|result|batches|trace)"').match
_SPANS_KEY = re.compile(rb'"spans"[ \t\r\n]*:[ \t\r\n]*\[')
_FIRST_KEY = re.compile(rb'\{[ \t\r\n]*"(?:[^"\\]|\\.)*"')
_WS = b" \t\r\n"
_COMMA, _CLOSE = ord(","), ord("]")


class NotSliceable(Exception):
    """The document cannot be read in slices; parse it whole."""


def looks_sliceable(data: bytes) -> bool:
    """Is ``data`` big and, by its first key, an OTLP-shaped JSON object?"""
    return len(data) >= MIN_BYTES and _OTLP_START(data) is not None


class Hollowed:
    """The converted spans of each hollowed ``spans`` array, in document order, and the
    document around them (``skeleton``, parsed), whose ``spans`` lists hold markers."""

    def __init__(self, data: bytes) -> None:
        self.converter = SpanConverter()
        self.arrays: list[list[Span]] = []
        self._nonce = secrets.token_hex(16)  # the input cannot contain a marker by chance
        self._taken = 0
        try:
            self.skeleton: Any = orjson.loads(self._hollow(data))
        except orjson.JSONDecodeError:
            raise NotSliceable from None

    # -- reading ---------------------------------------------------------------------------

    def take(self, spans: list[Any]) -> list[Span]:
        """The converted spans a ``spans`` list of the skeleton stands for, in order."""
        if not spans:
            return []
        if len(spans) != 1 or spans[0] != self._marker(self._taken):
            raise NotSliceable  # a spans list this reader did not hollow, or out of order
        converted = self.arrays[self._taken]
        self.arrays[self._taken] = []
        self._taken += 1
        return converted

    def check_all_taken(self) -> None:
        if self._taken != len(self.arrays):
            raise NotSliceable  # a marker sits where the reader does not look for spans

    def _marker(self, k: int) -> str:
        return f"{self._nonce}:{k}"

    # -- cutting ---------------------------------------------------------------------------

    def _hollow(self, data: bytes) -> bytes:
        view = memoryview(data)
        pieces: list[Any] = []
        copied = search = 0
        while True:
            found = _SPANS_KEY.search(data, search)
            if found is None:
                break
            first = _skip_ws(data, found.end())
            if first >= len(data) or data[first] == _CLOSE:
                search = first + 1  # empty: nothing to cut
                continue
            converted: list[Span] = []
            close = self._read_array(data, view, first, converted)
            pieces.append(view[copied : found.end()])
            pieces.append(orjson.dumps(self._marker(len(self.arrays))))
            self.arrays.append(converted)
            copied = search = close  # the ']' stays
        pieces.append(view[copied:])
        return b"".join(pieces)

    def _read_array(self, data: bytes, view: memoryview, start: int, out: list[Span]) -> int:
        """Convert the array whose first element starts at ``start``; returns the position of
        its closing ``]``."""
        opening = _FIRST_KEY.match(data, start)
        if opening is None:
            raise NotSliceable  # not an object: the whole parse explains
        sig = data[start : opening.end()]
        size = len(data)
        misses = 0
        window = 2 * SLICE_BYTES
        candidate = data.find(sig, start + SLICE_BYTES)
        while True:
            if candidate != -1 and candidate - start > 4 * SLICE_BYTES:
                candidate = -1  # too far: the array ends before it; cut by size instead
            if candidate != -1:
                cut = _rskip_ws(data, candidate)
                if data[cut] != _COMMA:  # e.g. the first element of a nested list
                    candidate = data.find(sig, candidate + 1)
                    continue
            else:
                # end the slice just after a '}' so that a cut inside a span fails at the end
                cut = data.rfind(b"}", start, min(size, start + window)) + 1
                if cut <= start:
                    cut = min(size, start + window)
            wrapped = b"".join((b"[", view[start:cut], b"]"))
            try:
                items = orjson.loads(wrapped)
            except orjson.JSONDecodeError as err:
                close = self._array_end(data, view, start, wrapped, err.pos, out)
                if close is not None:
                    return close
                misses += 1
                if misses > _MAX_MISSES:
                    raise NotSliceable from None
                if candidate != -1:
                    candidate = data.find(sig, candidate + 1)
                else:
                    window *= 2
                continue
            self._convert(items, out)
            del items, wrapped
            misses = 0
            if candidate != -1:
                start = candidate
            else:  # the size cut fell between two elements
                after = _skip_ws(data, cut)
                if after < size and data[after] == _CLOSE:
                    return after
                if after >= size or data[after] != _COMMA:
                    raise NotSliceable
                start = _skip_ws(data, after + 1)
            candidate = data.find(sig, start + SLICE_BYTES)

    def _array_end(
        self,
        data: bytes,
        view: memoryview,
        start: int,
        wrapped: bytes,
        pos: int,
        out: list[Span],
    ) -> int | None:
        """After a slice failed to parse at character ``pos``: if the array ended inside the
        slice (the wrapper closed early, then came more), convert its last elements and return
        the position of its ``]``; None if the cut fell inside an element."""
        if wrapped.isascii():
            text_len = offset = len(wrapped)
        else:
            try:
                text = wrapped.decode("utf-8")
            except UnicodeDecodeError:
                raise NotSliceable from None  # orjson's position counts characters
            text_len = len(text)
        if pos >= text_len - 1:
            return None  # failed at the appended ']' or at the end: the cut is inside a span
        offset = pos if wrapped.isascii() else len(text[:pos].encode())
        close = _rskip_ws(data, start - 1 + offset)
        if close < start or data[close] != _CLOSE:
            raise NotSliceable  # invalid JSON: the whole parse reports it
        try:
            items = orjson.loads(b"".join((b"[", view[start:close], b"]")))
        except orjson.JSONDecodeError:
            raise NotSliceable from None
        self._convert(items, out)
        return close

    def _convert(self, items: list[Any], out: list[Span]) -> None:
        try:
            out.extend(self.converter.spans(items, "", None, ""))
        except (Bad, RecursionError):
            raise NotSliceable from None  # the whole parse names the span and the field


def _skip_ws(data: bytes, pos: int) -> int:
    size = len(data)
    while pos < size and data[pos] in _WS:
        pos += 1
    return pos


def _rskip_ws(data: bytes, pos: int) -> int:
    """The position of the last non-blank byte before ``pos``."""
    pos -= 1
    while pos >= 0 and data[pos] in _WS:
        pos -= 1
    return pos
