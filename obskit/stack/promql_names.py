"""Which metric names a PromQL expression reads.

Cross-checks ("every dashboard panel and every rule queries a metric the stack produces") need
the series names out of an expression without a full PromQL parser. A small lexer is enough:
PromQL names a series either as a bare identifier in vector-selector position or with a
``__name__="..."`` matcher; everything else that looks like a word is a function, a keyword, a
label name (inside ``{...}`` or a ``by (...)``-style list), or part of a duration.

Grafana template variables (``$service``, ``${service}``, ``$__rate_interval``) are tolerated:
they are never metric names.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(
    r"""
      (?P<space>\s+)
    | (?P<comment>\#[^\n]*)
    | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
    | (?P<variable>\$\{[^}]*\}|\$\w+|\[\[\w+\]\])
    | (?P<number>(?:\d|\.\d)[\w.]*)
    | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
    | (?P<op>=~|!~|!=|==|>=|<=|.)
    """,
    re.VERBOSE | re.DOTALL,
)

# Keywords followed by a parenthesised list of label names.
_LABEL_LISTS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
# Keywords and literals that never name a series.
_KEYWORDS = frozenset({"and", "or", "unless", "bool", "offset", "inf", "nan", "start", "end"})
# Aggregation operators may put their grouping before the parentheses: ``sum by (le) (...)``.
_AGGREGATIONS = frozenset(
    {
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
        "limitk",
        "limit_ratio",
    }
)


class PromQLSyntaxError(ValueError):
    """The expression's brackets do not balance: it cannot be read for names."""


def _tokens(expr: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for match in _TOKEN.finditer(expr):
        kind = match.lastgroup or "op"
        if kind in ("space", "comment"):
            continue
        found.append((kind, match.group()))
    return found


def _unquote(literal: str) -> str:
    if literal.startswith("`"):
        return literal[1:-1]
    body = literal[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


def metric_names(expr: str) -> list[str]:
    """Every metric name ``expr`` selects, in order of first appearance, without repeats.

    >>> metric_names('sum by (le) (rate(http_server_request_duration_seconds_bucket[5m]))')
    ['http_server_request_duration_seconds_bucket']
    """
    tokens = _tokens(expr)
    names: list[str] = []
    brace = bracket = paren = 0
    i = 0
    while i < len(tokens):
        kind, text = tokens[i]
        nxt = tokens[i + 1][1] if i + 1 < len(tokens) else ""
        if kind == "op":
            if text == "{":
                brace += 1
            elif text == "}":
                brace -= 1
            elif text == "[":
                bracket += 1
            elif text == "]":
                bracket -= 1
            elif text == "(":
                paren += 1
            elif text == ")":
                paren -= 1
            if min(brace, bracket, paren) < 0:
                raise PromQLSyntaxError(f"unbalanced {text!r} in {expr!r}")
            i += 1
            continue
        if bracket:  # ranges and subquery steps: durations and variables only
            i += 1
            continue
        if brace:  # label matchers: only a __name__="..." matcher names a series
            if kind == "ident" and text == "__name__" and nxt == "=" and i + 2 < len(tokens):
                value_kind, value = tokens[i + 2]
                if value_kind == "string":
                    names.append(_unquote(value))
                i += 3
                continue
            i += 1
            continue
        if kind != "ident":
            i += 1
            continue
        word = text.lower()
        if word in _LABEL_LISTS:  # group_left/group_right may come without a list
            i = _skip_parens(tokens, i + 1, expr) if nxt == "(" else i + 1
            continue
        if word in _KEYWORDS or nxt == "(":
            i += 1
            continue
        if word in _AGGREGATIONS and nxt.lower() in ("by", "without"):
            i += 1
            continue
        names.append(text)
        i += 1
    if brace or bracket or paren:
        raise PromQLSyntaxError(f"unclosed bracket in {expr!r}")
    return list(dict.fromkeys(names))


def _skip_parens(tokens: list[tuple[str, str]], start: int, expr: str) -> int:
    """Index just past the ``)`` closing the ``(`` at ``start``."""
    depth = 0
    for j in range(start, len(tokens)):
        text = tokens[j][1]
        if text == "(":
            depth += 1
        elif text == ")":
            depth -= 1
            if depth == 0:
                return j + 1
    raise PromQLSyntaxError(f"unclosed label list in {expr!r}")
