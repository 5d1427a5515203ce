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
from itertools import chain, compress
from operator import attrgetter
from typing import Any

import msgspec
import numpy as np
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


class _AnyValue(Struct, forbid_unknown_fields=True, gc=False):
    # Every OTLP AnyValue decodes, so one odd attribute does not fail a whole batch; only a
    # plain one (see _plain) is used, the others go to key_values.
    stringValue: Any = UNSET
    intValue: Any = UNSET
    boolValue: Any = UNSET
    doubleValue: Any = UNSET
    arrayValue: Any = UNSET
    kvlistValue: Any = UNSET
    bytesValue: Any = UNSET


class _KeyedAttribute(Struct, gc=False):
    key: str
    value: _AnyValue | None = None


_KEYED_LIST_DECODER = msgspec.json.Decoder(list[_KeyedAttribute])
_KEYED_LISTS_DECODER = msgspec.json.Decoder(list[list[_KeyedAttribute]])
_KEY, _VALUE = attrgetter("key"), attrgetter("value")
_NOT_PLAIN = object()


def select(mappings: list[Mapping[str, Any]], keys: frozenset[str]) -> list[Mapping[str, Any]]:
    """For each mapping, a dict of just those of ``keys`` it holds, with the values it gives.

    Naming a big trace's external callees needs a few keys of 100,000 spans. Their undecoded
    attribute texts are decoded together (one msgspec call) and read a column at a time; the
    mappings stay undecoded. Where a wanted value is not a plain string or decimal integer, or
    a text is not what the batch decoder takes, the mapping itself is asked, which decodes it
    (or reports it malformed) as usual.
    """
    found: list[Mapping[str, Any] | None] = [None] * len(mappings)
    texts, slots = [], []
    for k, mapping in enumerate(mappings):
        if type(mapping) is DeferredAttributes and mapping.decoded is None and mapping.text:
            texts.append(mapping.text)
            slots.append(k)
        else:
            found[k] = _asked(mapping, keys)
    for k, picked in zip(slots, _picked(_keyed_lists(texts), keys), strict=True):
        found[k] = _asked(mappings[k], keys) if picked is None else picked
    return found  # type: ignore[return-value]


def _asked(mapping: Mapping[str, Any], keys: frozenset[str]) -> dict[str, Any]:
    return {key: mapping[key] for key in keys if key in mapping}


def _picked(
    lists: list[list[_KeyedAttribute] | None], keys: frozenset[str]
) -> list[dict[str, Any] | None]:
    """Per attribute list, the wanted keys' values (the last of a repeated key, as in a dict),
    or None where the list is missing or a wanted value is not plain. A column at a time: a
    Python loop over every attribute of 100,000 spans is what this avoids."""
    attributes = list(chain.from_iterable(a for a in lists if a is not None))
    names = list(map(_KEY, attributes))
    wanted = list(map(keys.__contains__, names))
    chosen = list(compress(names, wanted))
    values = list(map(_plain, compress(map(_VALUE, attributes), wanted)))
    # the wanted attributes of list k are chosen[bounds[k]:bounds[k + 1]]
    sizes = [0 if a is None else len(a) for a in lists]
    owner = np.repeat(np.arange(len(lists)), sizes)[np.array(wanted, bool)]
    bounds = np.searchsorted(owner, np.arange(len(lists) + 1)).tolist()
    not_plain = [v is _NOT_PLAIN for v in values]
    bad = set(owner[np.array(not_plain, bool)].tolist()) if any(not_plain) else set()
    return [
        None
        if a is None or k in bad
        else dict(zip(chosen[start:end], values[start:end], strict=True))
        for k, (a, start, end) in enumerate(zip(lists, bounds, bounds[1:], strict=False))
    ]


def _plain(value: _AnyValue | None) -> Any:
    """A value as ``key_values`` gives a plain one (a string, a decimal integer, or None), or
    ``_NOT_PLAIN``."""
    if value is None:
        return None
    string, number = value.stringValue, value.intValue
    others = (value.boolValue, value.doubleValue, value.arrayValue, value.kvlistValue)
    if value.bytesValue is not UNSET or others.count(UNSET) != len(others):
        return _NOT_PLAIN
    if number is UNSET:
        return string if type(string) is str else _NOT_PLAIN
    if string is UNSET and type(number) is str and number.isdigit() and number.isascii():
        return int(number)
    return _NOT_PLAIN


def _keyed_lists(texts: list[Buffer]) -> list[list[_KeyedAttribute] | None]:
    """Each text decoded as a list of attributes, or None where it is not one; all at once
    when every one is."""
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
        return _KEYED_LIST_DECODER.decode(text)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError):
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
