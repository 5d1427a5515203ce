"""The span tree as rows for people: children in start order, critical time per subtree,
long runs of look-alike siblings collapsed, and whole off-path subtrees folded away when the
tree would not fit. Iterative, so a 5,000-deep chain or a 20,000-wide fan-out is fine.

The tree is the analysis' own (:class:`obskit.analysis.outline.SpanOutline`, handed over in
the report), so the tree drawn is the tree the critical path was computed on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from obskit.model import Span

if TYPE_CHECKING:
    from obskit.analysis.outline import SpanOutline

RUN_MIN = 5  # siblings with the same service and operation collapse from this many on
RUN_HEAD = 2  # ... showing the first two and the last one
RUN_TAIL = 1


@dataclass(frozen=True, slots=True)
class Run:
    """Look-alike siblings collapsed into one row."""

    count: int
    service: str
    operation: str
    on_path: int  # how many of them hold critical time


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the tree: a span, or a run of siblings standing for ``hidden`` spans."""

    depth: int
    guides: str  # the box-drawing prefix, e.g. "│  ├─ "
    span: Span | None
    critical_ns: int  # the span's own CP time, or the collapsed run's total
    hidden: int = 0  # spans folded into this row (a run, or a folded off-path subtree)
    run: Run | None = None


def rows(tree: SpanOutline, *, max_rows: int, collapse_runs: bool = True) -> tuple[list[Row], int]:
    """The rows to show and how many spans did not make it (0 when everything is shown).

    First everything; if that is too long, subtrees without critical time are folded into
    their parent's row; if that is still too long, the list is cut at ``max_rows``.
    """
    full = _walk(tree, fold_off_path=False, collapse_runs=collapse_runs, budget=max_rows + 1)
    if len(full) <= max_rows:
        return full, 0
    folded = _walk(tree, fold_off_path=True, collapse_runs=collapse_runs, budget=max_rows + 1)
    if len(folded) <= max_rows:
        return folded, 0
    shown = folded[:max_rows]
    shown_spans = sum(1 + r.hidden if r.span is not None else r.hidden for r in shown)
    return shown, max(len(tree.spans) - shown_spans, 0)


def _walk(tree: SpanOutline, *, fold_off_path: bool, collapse_runs: bool, budget: int) -> list[Row]:
    out: list[Row] = []
    # stack items: (span index or a ready summary Row, depth, prefix for its children, guide)
    stack: list[tuple[int | Row, int, str, str]] = []
    roots = _visible(tree, tree.roots, fold_off_path, collapse_runs)
    for item in reversed(roots):
        stack.append((item, 0, "", ""))
    while stack and len(out) < budget:
        item, depth, prefix, guide = stack.pop()
        if isinstance(item, Row):
            out.append(Row(depth, guide, None, item.critical_ns, item.hidden, item.run))
            continue
        visible = _visible(tree, tree.children[item] or [], fold_off_path, collapse_runs)
        shown = sum(
            tree.subtree_size[k] if isinstance(k, int) else k.hidden for k in visible
        )  # spans reachable through the visible entries
        hidden = tree.subtree_size[item] - 1 - shown
        out.append(Row(depth, guide, tree.spans[item], tree.own_critical[item], hidden=hidden))
        for n, kid in reversed(list(enumerate(visible))):
            last = n == len(visible) - 1
            child_guide = prefix + ("└─ " if last else "├─ ")
            child_prefix = prefix + ("   " if last else "│  ")
            stack.append((kid, depth + 1, child_prefix, child_guide))
    return out


def _visible(
    tree: SpanOutline, kids: list[int], fold_off_path: bool, collapse_runs: bool
) -> list[int | Row]:
    if fold_off_path:
        kids = [k for k in kids if tree.subtree_critical[k] > 0]
    if not collapse_runs or len(kids) < RUN_MIN:
        return list(kids)
    out: list[int | Row] = []
    start = 0
    while start < len(kids):
        end = start + 1
        name = _name(tree.spans[kids[start]])
        while end < len(kids) and _name(tree.spans[kids[end]]) == name:
            end += 1
        run = kids[start:end]
        if len(run) >= RUN_MIN:
            middle = run[RUN_HEAD : len(run) - RUN_TAIL]
            out.extend(run[:RUN_HEAD])
            out.append(_summary(tree, middle))
            out.extend(run[len(run) - RUN_TAIL :])
        else:
            out.extend(run)
        start = end
    return out


def _name(span: Span) -> tuple[str, str]:
    return (span.service, span.name)


def _summary(tree: SpanOutline, middle: list[int]) -> Row:
    first = tree.spans[middle[0]]
    hidden = sum(tree.subtree_size[k] for k in middle)
    critical = sum(tree.subtree_critical[k] for k in middle)
    on_path = sum(1 for k in middle if tree.subtree_critical[k] > 0)
    run = Run(len(middle), first.service, first.name, on_path)
    return Row(0, "", None, critical, hidden=hidden, run=run)
