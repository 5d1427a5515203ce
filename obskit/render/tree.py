"""The span tree as rows for people: children in start order, critical time per subtree,
long runs of look-alike siblings collapsed, and whole off-path subtrees folded away when the
tree would not fit. Iterative, so a 5,000-deep chain or a 20,000-wide fan-out is fine.

The parent rule is the analysis' (obskit/analysis/tree.py), so the tree drawn is the tree
the critical path was computed on.
"""

from __future__ import annotations

from dataclasses import dataclass

from obskit.model import Span, Trace

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


@dataclass
class SpanTree:
    spans: list[Span] | tuple[Span, ...]
    roots: list[int]
    children: list[list[int] | None]  # None for a leaf; children in start order
    own_critical: list[int]
    subtree_critical: list[int]
    subtree_size: list[int]


def build(trace: Trace, span_critical_ns: dict[str, int]) -> SpanTree:
    from obskit.analysis.tree import NO_PARENT
    from obskit.analysis.tree import SpanTree as AnalysisTree

    # the analysis' own tree, so the picture follows the one parent rule (and its handling
    # of duplicate ids, orphans and cycles) that the numbers came from
    linked = AnalysisTree(trace)
    spans = linked.spans
    by_start = linked.starts.__getitem__  # a stable sort keeps trace order among equal starts
    children: list[list[int] | None] = [
        kids if kids is None or len(kids) < 2 else sorted(kids, key=by_start)
        for kids in linked.children
    ]
    roots = sorted(linked.roots, key=by_start)
    order = _preorder(roots, children)
    own = [span_critical_ns.get(span_id, 0) for span_id in linked.ids]
    sub_crit = own.copy()
    size = [1] * len(spans)
    parent = linked.parent
    for i in reversed(order):  # children before parents
        p = parent[i]
        if p != NO_PARENT:
            sub_crit[p] += sub_crit[i]
            size[p] += size[i]
    return SpanTree(spans, roots, children, own, sub_crit, size)


def _preorder(roots: list[int], children: list[list[int] | None]) -> list[int]:
    order: list[int] = []
    stack = roots[::-1]
    while stack:
        i = stack.pop()
        order.append(i)
        kids = children[i]
        if kids:
            stack.extend(reversed(kids))
    return order


def rows(tree: SpanTree, *, max_rows: int, collapse_runs: bool = True) -> tuple[list[Row], int]:
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


def _walk(tree: SpanTree, *, fold_off_path: bool, collapse_runs: bool, budget: int) -> list[Row]:
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
    tree: SpanTree, kids: list[int], fold_off_path: bool, collapse_runs: bool
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


def _summary(tree: SpanTree, middle: list[int]) -> Row:
    first = tree.spans[middle[0]]
    hidden = sum(tree.subtree_size[k] for k in middle)
    critical = sum(tree.subtree_critical[k] for k in middle)
    on_path = sum(1 for k in middle if tree.subtree_critical[k] > 0)
    run = Run(len(middle), first.service, first.name, on_path)
    return Row(0, "", None, critical, hidden=hidden, run=run)
