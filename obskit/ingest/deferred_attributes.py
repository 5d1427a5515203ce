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
from obskit.ingest.values import Bad, key_values

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
                items = _plain_items(text)
                if items is None:
                    items = key_values(orjson.loads(memoryview(text)), "attributes")
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

    def __getitem__(self, key: str) -> Any:
        return self._items()[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self._items().get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._items()

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
_PLAIN_LISTS_DECODER = msgspec.json.Decoder(list[list[_PlainAttribute]])


class _KeyedAttribute(Struct, gc=False):
    key: str
    value: Raw = Raw(b"null")


_KEYED_LISTS_DECODER = msgspec.json.Decoder(list[list[_KeyedAttribute]])
_PLAIN_VALUE_DECODER = msgspec.json.Decoder(_PlainValue | None)


def select(mappings: list[Mapping[str, Any]], keys: frozenset[str]) -> list[Mapping[str, Any]]:
    """For each mapping, a dict of just those of ``keys`` it holds, with the values it gives.

    Naming a big trace's external callees needs a few keys of 100,000 spans: their undecoded
    attribute texts are read in one msgspec call, only the wanted values are decoded, and the
    texts stay as they are. Where a wanted value is not a plain string or decimal integer, the
    mapping itself is asked, which decodes it (or reports it malformed) as usual.
    """
    found: list[Mapping[str, Any] | None] = [None] * len(mappings)
    texts, slots = [], []
    for k, mapping in enumerate(mappings):
        if type(mapping) is DeferredAttributes and mapping.decoded is None and mapping.text:
            texts.append(mapping.text)
            slots.append(k)
        else:
            found[k] = _asked(mapping, keys)
    for k, attributes in zip(slots, _keyed_lists(texts), strict=True):
        picked = _picked(attributes, keys) if attributes is not None else None
        found[k] = _asked(mappings[k], keys) if picked is None else picked
    return found  # type: ignore[return-value]


def _asked(mapping: Mapping[str, Any], keys: frozenset[str]) -> dict[str, Any]:
    return {key: mapping[key] for key in keys if key in mapping}


def _picked(attributes: list[_KeyedAttribute], keys: frozenset[str]) -> dict[str, Any] | None:
    """The wanted keys' values (the last one of a repeated key, as in a dict), or None where
    one is not plain."""
    picked: dict[str, Any] = {}
    for attribute in attributes:
        if attribute.key in keys:
            picked[attribute.key] = attribute.value
    for key, raw in picked.items():
        try:
            value = _PLAIN_VALUE_DECODER.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError):
            return None
        if value is None:
            picked[key] = None
            continue
        string, number = value.stringValue, value.intValue
        if number is UNSET and string is not UNSET:
            picked[key] = string
        elif string is UNSET and number is not UNSET and number.isdigit() and number.isascii():
            picked[key] = int(number)
        else:
            return None
    return picked


def _keyed_lists(texts: list[Buffer]) -> list[list[_KeyedAttribute] | None]:
    """Each text decoded as a list of attributes with their values left as text, or None where
    it is not one; all at once when every one is."""
    if not texts:
        return []
    try:
        decoded = _KEYED_LISTS_DECODER.decode(b"[" + b",".join(texts) + b"]")
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError):
        decoded = None
    if decoded is None or len(decoded) != len(texts):  # one text held two lists: "[],[]"
        decoded = [_keyed_list(text) for text in texts]
    return decoded


def _keyed_list(text: Buffer) -> list[_KeyedAttribute] | None:
    try:
        return _KEYED_LISTS_DECODER.decode(b"[" + bytes(text) + b"]")[0]
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, IndexError):
        return None


def _plain_list(text: Buffer) -> list[_PlainAttribute] | None:
    try:
        return _PLAIN_DECODER.decode(text)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError):
        return None


def _is_plain(attribute: _PlainAttribute) -> bool:
    value = attribute.value
    if value is None:
        return True
    string, number = value.stringValue, value.intValue
    if number is UNSET:
        return string is not UNSET
    return string is UNSET and number.isdigit() and number.isascii()


def _plain_value(value: _PlainValue | None) -> Any:
    if value is None:
        return None
    return value.stringValue if value.intValue is UNSET else int(value.intValue)


def _plain_items(text: Buffer) -> dict[str, Any] | None:
    """The common case, decoded by msgspec: every value a string or a decimal integer (as
    ``key_values`` gives it); None for anything else, which ``key_values`` then reads."""
    try:
        attributes = _PLAIN_DECODER.decode(text)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError):
        return None
    if not all(map(_is_plain, attributes)):
        return None
    return {attribute.key: _plain_value(attribute.value) for attribute in attributes}
