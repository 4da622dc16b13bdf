"""The rule condition language: parsing, evaluation, errors (never eval())."""

import numpy as np
import pandas as pd
import pytest

from influence.conditions import ConditionSyntaxError, parse_condition, percentile

TABLE = pd.DataFrame({"a": [1.0, np.nan, 3.0, 5.0], "tier": ["high", None, "low", "mid"]})


@pytest.mark.parametrize("text, expected", [
    ("a >= 3", [False, False, True, True]),
    ("a != 1", [False, False, True, True]),          # missing never matches
    ("not a == 1", [False, True, True, True]),
    ('tier == "high" or a > 4', [True, False, False, True]),
    ("tier in ('high', 'mid') and a < 5", [True, False, False, False]),
    ('tier not in ("low")', [True, False, False, True]),
    ("not (a > 2 and tier == 'low')", [True, True, False, True]),
    ("pct(a) >= 30", [False, False, True, True]),
    ("3 <= a", [False, False, True, True]),
    ("true", [True] * 4),
    ("false or a == 5", [False, False, False, True]),
])
def test_evaluate(text, expected):
    assert parse_condition(text).evaluate(TABLE).tolist() == expected


def test_columns_in_order_of_appearance():
    assert parse_condition('b > 1 and (a < 2 or pct(b) > 3) and c == "x"').columns == (
        "b", "a", "c")


@pytest.mark.parametrize("text, needle", [
    ("", "empty"),
    ("a like 3", "unknown operator 'like'"),
    ("a > 1 xor b < 2", "unknown operator 'xor'"),
    ("a >", "end of the condition"),
    ("(a > 1", "expected ')'"),
    ("1 > 2", "two constants"),
    ("a > 1; import os", "unexpected character ';'"),
    ('__import__("os").system("x")', "unexpected character"),
])
def test_syntax_errors(text, needle):
    with pytest.raises(ConditionSyntaxError, match=None) as info:
        parse_condition(text)
    assert needle in str(info.value)


def test_percentile_ties_and_nan():
    assert percentile([1, 2, 2, 5]).tolist() == [0.0, 25.0, 25.0, 75.0]
    assert np.isnan(percentile([np.nan, 1.0])[0])
