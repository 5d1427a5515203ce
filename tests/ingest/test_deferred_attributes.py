"""Attributes kept as JSON text (obskit.ingest.deferred_attributes) read exactly as the careful
``key_values`` reads the parsed list: same mapping, or the same message under the span's id."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from obskit.errors import InputError
from obskit.ingest.deferred_attributes import DeferredAttributes
from obskit.ingest.values import Bad, key_values

digits = st.integers(min_value=0, max_value=2**64).map(str)
any_value = st.one_of(
    st.fixed_dictionaries({"stringValue": st.text(max_size=8)}),
    st.fixed_dictionaries({"intValue": st.one_of(digits, st.integers(-5, 5), st.text(max_size=3))}),
    st.fixed_dictionaries({"boolValue": st.booleans()}),
    st.fixed_dictionaries({"doubleValue": st.floats(allow_nan=False, allow_infinity=False)}),
    st.fixed_dictionaries({"stringValue": st.text(max_size=3), "intValue": digits}),
    st.fixed_dictionaries({"arrayValue": st.fixed_dictionaries({"values": st.just([])})}),
    st.just({}),
    st.none(),
    st.integers(-100, 100),
)
attribute = st.one_of(
    st.fixed_dictionaries({"key": st.sampled_from(["a", "b", "server.port"]), "value": any_value}),
    st.fixed_dictionaries({"key": st.sampled_from(["a", "b"])}),
    st.fixed_dictionaries({"key": st.integers(-100, 100)}),
)


@given(st.lists(attribute, max_size=6))
def test_deferred_reads_like_key_values(items) -> None:
    deferred = DeferredAttributes(orjson.dumps(items), "00000000000000aa")
    try:
        expected = key_values(items, "attributes")
    except Bad as err:
        with pytest.raises(InputError) as got:
            deferred.get("a")
        assert str(got.value) == f"span 00000000000000aa: {err}"
    else:
        assert dict(deferred.items()) == expected
        assert deferred == expected and deferred == MappingProxyType(expected)
        assert len(deferred) == len(expected) and list(deferred) == list(expected)


def test_it_is_a_read_only_mapping() -> None:
    deferred = DeferredAttributes(b'[{"key":"a","value":{"intValue":"7"}}]', "00000000000000aa")
    assert isinstance(deferred, Mapping)
    assert deferred["a"] == 7 and "a" in deferred and deferred.get("b", 1) == 1
    with pytest.raises(TypeError):
        deferred["a"] = 8  # type: ignore[index]
