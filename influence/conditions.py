"""A small, safe condition language over the columns of the customers table.

Segment rules in the config say *who* is in a segment with a condition such as
``referrals_converted >= 5 and recency_days <= 30`` or
``influence_tier == "high" and not (activity_tier == "low")``. This module
parses such text into a tree (a hand-written tokenizer and recursive-descent
parser: nothing is ever passed to :func:`eval`) and evaluates the tree over a
DataFrame, column-wise.

Grammar
-------
::

    condition  := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | "(" condition ")" | comparison | "true" | "false"
    comparison := operand OP operand
                | operand "in" "(" literal ("," literal)* ")"
                | operand "not" "in" "(" literal ("," literal)* ")"
    operand    := COLUMN | NUMBER | STRING | "pct" "(" COLUMN ")"
    OP         := "==" | "!=" | "<" | "<=" | ">" | ">="

``COLUMN`` is a name of an output column (letters, digits, ``_``; checked
against the known names when the rule is loaded). ``NUMBER`` is a decimal
number (``5``, ``0.25``, ``1e-3``, ``-2``); ``STRING`` is quoted with ``"`` or
``'``. ``pct(column)`` is the customer's percentile on that column: the share
of customers with a strictly smaller value, times 100 (so ``pct(pagerank) >=
99`` is the top 1%); segment rules compute it among the customers with events
(``Condition.evaluate(..., among=...)``). Keywords are lower case.

Missing values (no timestamp, a customer who never sent anything) never match
a comparison, ``!=`` and ``not in`` included; ``not`` applied to such a
comparison does match.

Examples
--------
>>> import pandas as pd
>>> cond = parse_condition('score >= 2 and tier in ("high", "mid")')
>>> sorted(cond.columns)
['score', 'tier']
>>> table = pd.DataFrame({"score": [1, 2, 3], "tier": ["high", "mid", "low"]})
>>> cond.evaluate(table).tolist()
[False, True, False]
"""

from __future__ import annotations

import operator
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd

__all__ = ["Condition", "ConditionSyntaxError", "parse_condition", "Comparison",
           "percentile"]

OPERATORS = ("==", "!=", "<=", ">=", "<", ">")
_KEYWORDS = ("and", "or", "not", "in", "true", "false", "pct")
_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
  | (?P<string>"[^"\\]*"|'[^'\\]*')
  | (?P<op>==|!=|<=|>=|<|>)
  | (?P<punct>[(),])
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
""", re.VERBOSE)


class ConditionSyntaxError(ValueError):
    """A condition that cannot be parsed; the message says where and why."""


@dataclass(frozen=True)
class Column:
    name: str
    percentile: bool = False

    def text(self) -> str:
        return f"pct({self.name})" if self.percentile else self.name


@dataclass(frozen=True)
class Literal:
    value: float | str

    def text(self) -> str:
        return f'"{self.value}"' if isinstance(self.value, str) else f"{self.value:g}"


Operand = Column | Literal


@dataclass(frozen=True)
class Comparison:
    """``left OP right``; ``OP`` is one of :data:`OPERATORS`, ``in`` or ``not in``."""

    left: Operand
    op: str
    right: Operand | tuple


@dataclass(frozen=True)
class BoolOp:
    op: str  # "and" | "or"
    parts: tuple


@dataclass(frozen=True)
class Not:
    part: object


@dataclass(frozen=True)
class Constant:
    value: bool


def percentile(values: pd.Series | np.ndarray) -> np.ndarray:
    """Share of customers with a strictly smaller value, times 100 (NaN stays NaN).

    >>> percentile([1, 2, 2, 5]).tolist()
    [0.0, 25.0, 25.0, 75.0]
    """
    values = pd.Series(np.asarray(values, dtype=np.float64))
    ranks = values.rank(method="min", ascending=True).to_numpy() - 1
    n = int(values.notna().sum())
    return 100.0 * ranks / max(n, 1)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = list(self._tokenize(text))
        self.i = 0

    def _tokenize(self, text: str) -> Iterator[tuple[str, str, int]]:
        pos = 0
        while pos < len(text):
            match = _TOKEN.match(text, pos)
            if match is None:
                raise ConditionSyntaxError(
                    f"unexpected character {text[pos]!r} at position {pos + 1}")
            kind = cast(str, match.lastgroup)  # every alternative of _TOKEN is named
            if kind != "space":
                value = match.group()
                if (kind == "name" and value in _KEYWORDS) or kind == "punct":
                    kind = value
                yield kind, value, pos
            pos = match.end()

    def peek(self, offset: int = 0) -> tuple[str, str, int]:
        j = self.i + offset
        return self.tokens[j] if j < len(self.tokens) else ("end", "", len(self.text))

    def take(self, *kinds: str) -> tuple[str, str, int]:
        token = self.peek()
        if token[0] not in kinds:
            self.fail(token, " or ".join(repr(k) if k in _KEYWORDS or not k.isalpha() else k
                                         for k in kinds))
        self.i += 1
        return token

    def fail(self, token: tuple[str, str, int], expected: str) -> None:
        found = "the end of the condition" if token[0] == "end" else repr(token[1])
        raise ConditionSyntaxError(f"expected {expected} at position {token[2] + 1}, "
                                   f"found {found}")

    def parse(self):
        if not self.tokens:
            raise ConditionSyntaxError("the condition is empty")
        node = self.parse_or()
        token = self.peek()
        if token[0] != "end":
            if token[0] == "name":
                raise ConditionSyntaxError(
                    f"unknown operator {token[1]!r} at position {token[2] + 1}; operators "
                    f"are {list(OPERATORS)}, in, not in, and, or, not")
            self.fail(token, "'and', 'or' or the end")
        return node

    def parse_or(self):
        parts = [self.parse_and()]
        while self.peek()[0] == "or":
            self.i += 1
            parts.append(self.parse_and())
        return parts[0] if len(parts) == 1 else BoolOp("or", tuple(parts))

    def parse_and(self):
        parts = [self.parse_not()]
        while self.peek()[0] == "and":
            self.i += 1
            parts.append(self.parse_not())
        return parts[0] if len(parts) == 1 else BoolOp("and", tuple(parts))

    def parse_not(self):
        kind = self.peek()[0]
        if kind == "not":
            self.i += 1
            return Not(self.parse_not())
        if kind == "(":
            self.i += 1
            node = self.parse_or()
            self.take(")")
            return node
        if kind in ("true", "false"):
            self.i += 1
            return Constant(kind == "true")
        return self.parse_comparison()

    def parse_operand(self) -> Operand:
        kind, value, _ = self.peek()
        if kind == "number":
            self.i += 1
            return Literal(float(value))
        if kind == "string":
            self.i += 1
            return Literal(value[1:-1])
        if kind == "name":
            self.i += 1
            return Column(value)
        if kind == "pct":
            self.i += 1
            self.take("(")
            name = self.take("name")[1]
            self.take(")")
            return Column(name, percentile=True)
        self.fail(self.peek(), "a column name, a number or a quoted string")
        raise AssertionError  # unreachable

    def parse_literal(self) -> Literal:
        kind, value, _ = self.take("number", "string")
        return Literal(float(value) if kind == "number" else value[1:-1])

    def parse_comparison(self) -> Comparison:
        left = self.parse_operand()
        kind, value, pos = self.peek()
        if kind == "op":
            self.i += 1
            right = self.parse_operand()
            if isinstance(left, Literal) and isinstance(right, Literal):
                raise ConditionSyntaxError(
                    f"comparison at position {pos + 1} compares two constants; "
                    "one side must be a column")
            return Comparison(left, value, right)
        negate = False
        if kind == "not" and self.peek(1)[0] == "in":
            self.i += 1
            negate = True
            kind = "in"
        if kind == "in":
            self.i += 1
            self.take("(")
            values = [self.parse_literal()]
            while self.peek()[0] == ",":
                self.i += 1
                values.append(self.parse_literal())
            self.take(")")
            if not isinstance(left, Column):
                raise ConditionSyntaxError(f"'in' at position {pos + 1} needs a column "
                                           "on its left")
            return Comparison(left, "not in" if negate else "in", tuple(values))
        if kind == "name":
            raise ConditionSyntaxError(
                f"unknown operator {value!r} at position {pos + 1}; operators are "
                f"{list(OPERATORS)}, in, not in")
        self.fail(self.peek(), f"an operator ({', '.join(OPERATORS)}, in)")
        raise AssertionError  # unreachable


def _walk(node) -> Iterator[object]:
    yield node
    if isinstance(node, BoolOp):
        for part in node.parts:
            yield from _walk(part)
    elif isinstance(node, Not):
        yield from _walk(node.part)


class Condition:
    """A parsed condition. Build with :func:`parse_condition`.

    Attributes
    ----------
    text : str
        The condition as written.
    columns : tuple of str
        Column names it reads, in order of first appearance.
    comparisons : tuple of Comparison
        Its comparisons, in order (used to explain a match).
    """

    def __init__(self, text: str, tree) -> None:
        self.text = text
        self.tree = tree
        self.comparisons = tuple(n for n in _walk(tree) if isinstance(n, Comparison))
        names: list[str] = []
        for comparison in self.comparisons:
            for side in (comparison.left, comparison.right):
                if isinstance(side, Column) and side.name not in names:
                    names.append(side.name)
        self.columns = tuple(names)

    def __repr__(self) -> str:
        return f"Condition({self.text!r})"

    def evaluate(self, table: pd.DataFrame, *, among: np.ndarray | None = None,
                 percentiles: dict | None = None) -> np.ndarray:
        """Boolean mask over the rows of ``table`` (which has every column read).

        ``among`` (a boolean mask) is the population of ``pct()``: percentiles are
        computed among those rows only, and the other rows never match a
        comparison that reads a percentile. ``percentiles`` (column -> array over
        the rows, NaN outside the population) gives them instead, for rows that
        are a part of the table the percentiles are of.
        """
        cache: dict = {"among": among}
        for name, values in (percentiles or {}).items():
            cache[("pct", name)] = np.asarray(values, dtype=np.float64)
        return self._eval(self.tree, table, cache)

    def _eval(self, node, table: pd.DataFrame, cache: dict) -> np.ndarray:
        n = len(table)
        if isinstance(node, Constant):
            return np.full(n, node.value, dtype=bool)
        if isinstance(node, Not):
            return ~self._eval(node.part, table, cache)
        if isinstance(node, BoolOp):
            masks = [self._eval(part, table, cache) for part in node.parts]
            out = masks[0].copy()
            for mask in masks[1:]:
                out = (out & mask) if node.op == "and" else (out | mask)
            return out
        return _compare(node, table, cache)


def _values(operand: Operand, table: pd.DataFrame, cache: dict):
    if isinstance(operand, Literal):
        return operand.value
    if operand.percentile:
        key = ("pct", operand.name)
        if key not in cache:
            values = pd.to_numeric(table[operand.name], errors="coerce").to_numpy(
                dtype=np.float64, na_value=np.nan)
            among = cache.get("among")
            if among is not None:
                values = np.where(among, values, np.nan)
            cache[key] = percentile(values)
        return cache[key]
    return table[operand.name]


def _as_array(values, n: int, numeric: bool) -> tuple[np.ndarray, np.ndarray]:
    """(values, missing mask) as a numpy array of float or object."""
    if isinstance(values, (float, str)):
        array = np.full(n, values, dtype=np.float64 if numeric else object)
        return array, np.zeros(n, dtype=bool)
    if isinstance(values, np.ndarray):
        return values, np.isnan(values)
    series = values
    missing = series.isna().to_numpy()
    if numeric:
        if pd.api.types.is_bool_dtype(series.dtype):
            series = series.astype("float64")
        array = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64,
                                                                 na_value=np.nan)
        return array, missing | np.isnan(array)
    return series.astype("object").to_numpy(), missing


def _is_text(values) -> bool:
    if isinstance(values, str):
        return True
    if isinstance(values, (float, np.ndarray)):
        return False
    return not (pd.api.types.is_numeric_dtype(values.dtype)
                or pd.api.types.is_bool_dtype(values.dtype))


def _compare(node: Comparison, table: pd.DataFrame, cache: dict) -> np.ndarray:
    n = len(table)
    left = _values(node.left, table, cache)
    if node.op in ("in", "not in"):
        text = _is_text(left)
        array, missing = _as_array(left, n, numeric=not text)
        wanted = [lit.value if text else (float(lit.value) if not isinstance(lit.value, str)
                                          else np.nan) for lit in cast(tuple, node.right)]
        hit = pd.Series(array).isin(wanted).to_numpy()
        result = ~hit if node.op == "not in" else hit
        return result & ~missing
    right = _values(cast(Operand, node.right), table, cache)
    text = _is_text(left) or _is_text(right)
    a, a_missing = _as_array(left, n, numeric=not text)
    b, b_missing = _as_array(right, n, numeric=not text)
    missing = a_missing | b_missing
    if text:
        # text compares by code point, in Arrow (no per-row Python strings)
        a, b = _as_text(left, n), _as_text(right, n)
        result = _OPERATORS[node.op](a, b)
        return result.fillna(False).to_numpy(dtype=bool) & ~missing
    with np.errstate(invalid="ignore"):
        result = _OPERATORS[node.op](a, b)
    return np.asarray(result, dtype=bool) & ~missing


_OPERATORS = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
              ">": operator.gt, ">=": operator.ge}


def _as_text(values, n: int) -> pd.Series:
    """An operand as a text Series (a literal is repeated; numbers are written as Python does)."""
    if isinstance(values, pd.Series):
        return values.astype("str").reset_index(drop=True)
    if isinstance(values, np.ndarray):
        return pd.Series(values.astype(object), dtype="str").where(~np.isnan(values))
    return pd.Series(np.full(n, str(values), dtype=object), dtype="str")


def parse_condition(text: str) -> Condition:
    """Parse ``text`` into a :class:`Condition`.

    Raises
    ------
    ConditionSyntaxError
        With the position and what was expected.
    """
    if not isinstance(text, str):
        raise ConditionSyntaxError(f"a condition must be text; got {text!r}")
    return Condition(text, _Parser(text).parse())
