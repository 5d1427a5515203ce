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

from collections.abc import ItemsView, Iterator, KeysView, Mapping, ValuesView
from typing import Any

import msgspec
import orjson
from msgspec import UNSET, Raw, Struct, UnsetType

from obskit.errors import InputError
from obskit.ingest.values import SAFE_DIGITS, Bad, key_values

# The text: bytes, or msgspec's view into the input (which it keeps alive).
Buffer = bytes | Raw
# Readers defer texts longer than this ("[]", "null" are decoded at once) that open a list.
SHORT_TEXT = 4
OPEN_LIST = ord("[")


class DeferredAttributes(Struct, gc=False):
    """A read-only mapping decoded from an OTLP ``attributes`` JSON array on first use.

    A struct the garbage collector does not track (it can hold no reference cycle), like the
    spans themselves: a million tracked objects would make each full collection scan them all.
    Registered as a :class:`~collections.abc.Mapping`, with that interface spelled out.
    """

    text: Buffer | None
    span_id: str
    decoded: dict[str, Any] | None = None

    def _items(self) -> dict[str, Any]:
        items = self.decoded
        if items is None:
            text = self.text or b"[]"
            try:
                items = self._decode(text)
            except Bad as err:
                raise InputError(f"span {self.span_id}: {err}") from None
            except orjson.JSONDecodeError as err:
                raise InputError(f"span {self.span_id}: attributes: invalid JSON: {err}") from None
            except RecursionError:
                raise InputError(
                    f"span {self.span_id}: attribute values are nested too deeply"
                ) from None
            self.decoded, self.text = items, None
        return items

    def _decode(self, text: Buffer) -> dict[str, Any]:
        """The attributes, from OTLP/JSON's ``[{key, value: {stringValue: ...}}]``."""
        items = _plain_items(text)
        if items is None:
            items = key_values(orjson.loads(memoryview(text)), "attributes")
        return items

    # The three lookups skip the call to _items once decoded: the analysis makes hundreds of
    # thousands of them on a big trace.
    def __getitem__(self, key: str) -> Any:
        items = self.decoded
        return (self._items() if items is None else items)[key]

    def get(self, key: str, default: Any = None) -> Any:
        items = self.decoded
        return (self._items() if items is None else items).get(key, default)

    def __contains__(self, key: object) -> bool:
        items = self.decoded
        return key in (self._items() if items is None else items)

    def __iter__(self) -> Iterator[str]:
        return iter(self._items())

    def __len__(self) -> int:
        return len(self._items())

    def keys(self) -> KeysView[str]:
        return self._items().keys()

    def items(self) -> ItemsView[str, Any]:
        return self._items().items()

    def values(self) -> ValuesView[Any]:
        return self._items().values()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return self._items() == dict(other.items())
        return NotImplemented

    def __repr__(self) -> str:
        return repr(self._items())


Mapping.register(DeferredAttributes)


class _PlainValue(Struct, forbid_unknown_fields=True, gc=False):
    stringValue: str | UnsetType = UNSET
    intValue: str | UnsetType = UNSET


class _PlainAttribute(Struct, gc=False):
    key: str
    value: _PlainValue | None = None


_PLAIN_DECODER = msgspec.json.Decoder(list[_PlainAttribute])


def _plain_items(text: Buffer) -> dict[str, Any] | None:
    """The common case, decoded by msgspec: every value a string or a decimal integer (as
    ``key_values`` gives it); None for anything else, which ``key_values`` then reads."""
    try:
        attributes = _PLAIN_DECODER.decode(text)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, RecursionError):
        return None
    items: dict[str, Any] = {}
    for attribute in attributes:
        value = attribute.value
        if value is None:
            items[attribute.key] = None
            continue
        string, number = value.stringValue, value.intValue
        if number is UNSET and string is not UNSET:
            items[attribute.key] = string
        elif (
            string is UNSET
            and number is not UNSET
            and len(number) < SAFE_DIGITS
            and number.isdigit()
            and number.isascii()
        ):
            items[attribute.key] = int(number)
        else:
            return None
    return items
