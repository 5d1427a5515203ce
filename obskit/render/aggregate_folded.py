"""``--format folded`` for the aggregate report: ``a;b;c 1234`` lines (see
:mod:`obskit.aggregate.folded`)."""

from __future__ import annotations

from obskit.aggregate.folded import render_folded
from obskit.aggregate.report import AggregateReport


def render(report: AggregateReport) -> str:
    return render_folded(report.folded)
