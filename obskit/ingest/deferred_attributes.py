"""Span attributes kept as their JSON text until someone reads them.

Attributes are most of an OTLP/JSON span's bytes, and building them (two dicts and two strings
per attribute) was most of the cost of reading a big trace; the analysis reads them for a few
spans only (a client span with no instrumented callee is named from them). So the fast reader
(:mod:`obskit.ingest.otlp_structs`) keeps each span's ``attributes`` array as text, and it
becomes the usual read-only mapping on first use. A malformed attribute is then reported when it
is first read, as an :class:`~obskit.errors.InputError` naming the span. The text is a view into
the input bytes, so they stay in memory as long as such a span does (the analysis keeps the
input anyway; copying each text out would cost as much again).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import orjson
from msgspec import Raw

from obskit.errors import InputError
from obskit.ingest.values import Bad, key_values

# The text: bytes, or msgspec's view into the input (which it keeps alive).
Buffer = bytes | Raw


class DeferredAttributes(Mapping[str, Any]):
    """A read-only mapping decoded from an OTLP ``attributes`` JSON array on first use."""

    __slots__ = ("_items", "_span_id", "_text")

    def __init__(self, text: Buffer, span_id: str) -> None:
        self._text: Buffer | None = text
        self._span_id = span_id
        self._items: dict[str, Any] | None = None

    def _decoded(self) -> dict[str, Any]:
        items = self._items
        if items is None:
            try:
                items = key_values(orjson.loads(memoryview(self._text or b"[]")), "attributes")
            except Bad as err:
                raise InputError(f"span {self._span_id}: {err}") from None
            except orjson.JSONDecodeError as err:
                raise InputError(f"span {self._span_id}: attributes: invalid JSON: {err}") from None
            except RecursionError:
                raise InputError(
                    f"span {self._span_id}: attribute values are nested too deeply"
                ) from None
            self._items, self._text = items, None
        return items

    def __getitem__(self, key: str) -> Any:
        return self._decoded()[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self._decoded().get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._decoded()

    def __iter__(self) -> Iterator[str]:
        return iter(self._decoded())

    def __len__(self) -> int:
        return len(self._decoded())

    def items(self):  # type: ignore[no-untyped-def, override]
        return self._decoded().items()

    def keys(self):  # type: ignore[no-untyped-def, override]
        return self._decoded().keys()

    def values(self):  # type: ignore[no-untyped-def, override]
        return self._decoded().values()

    def __repr__(self) -> str:
        return repr(self._decoded())
