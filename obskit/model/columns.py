"""What a reader already holds of a trace's spans, a column at a time, handed to the analysis.

The fast OTLP reader checks and converts spans a field at a time (span ids joined and parsed as
hex, start times as one list, ...). The analysis of a big trace works on the same columns; read
back from a million span records they cost it a second. So the reader keeps them, and a
:class:`SpanColumns` travels with the trace. It describes exactly one tuple of spans, the one
it names: any other trace, even one made with ``dataclasses.replace``, is analysed from its
spans as usual (:meth:`SpanColumns.describes`). Everything here is also in the spans; nothing
here is needed to read them.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain

from obskit.model.kinds import SpanKind
from obskit.model.span import Span


class ColumnChunk:
    """The columns of one run of spans, in order. ``id_hex`` holds each span id as 8 bytes;
    ``has_parent`` a byte per span, 1 for one with a parent (a ``CHILD_OF`` reference, its only
    one), and ``parent_hex`` the parent ids of those, 8 bytes each."""

    __slots__ = ("ends", "has_parent", "id_hex", "ids", "kinds", "parent_hex", "starts")

    def __init__(
        self,
        ids: list[str],
        id_hex: bytes,
        starts: list[int],
        ends: list[int],
        kinds: list[SpanKind],
        has_parent: bytes,
        parent_hex: bytes,
    ) -> None:
        self.ids, self.id_hex, self.starts, self.ends, self.kinds = ids, id_hex, starts, ends, kinds
        self.has_parent, self.parent_hex = has_parent, parent_hex


class SpanColumns(ColumnChunk):
    """The chunks of a whole trace, joined, for the tuple ``spans``."""

    __slots__ = ("spans",)

    def __init__(self, spans: tuple[Span, ...], chunks: Sequence[ColumnChunk]) -> None:
        super().__init__(
            list(chain.from_iterable(c.ids for c in chunks)),
            b"".join(c.id_hex for c in chunks),
            list(chain.from_iterable(c.starts for c in chunks)),
            list(chain.from_iterable(c.ends for c in chunks)),
            list(chain.from_iterable(c.kinds for c in chunks)),
            b"".join(c.has_parent for c in chunks),
            b"".join(c.parent_hex for c in chunks),
        )
        self.spans = spans

    def describes(self, spans: tuple[Span, ...]) -> bool:
        return spans is self.spans and len(self.ids) == len(spans)
