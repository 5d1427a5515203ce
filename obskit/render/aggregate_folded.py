"""``--format folded`` for the aggregate report: ``a;b;c 1234`` lines (see
:mod:`obskit.render.folded`)."""

from __future__ import annotations

from obskit.aggregate.report import AggregateReport
from obskit.render.folded import render_folded


def render(report: AggregateReport) -> str:
    return render_folded(report.folded)
