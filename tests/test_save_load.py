"""Saving and loading a results folder: the fast paths give what the plain pandas ones gave."""

import numpy as np
import pandas as pd

from influence.analysis import _iso


def test_iso_text_is_strftime_to_the_second():
    rng = np.random.default_rng(7)
    low, high = pd.Timestamp.min.value + 10**9, pd.Timestamp.max.value - 10**9
    stamps = rng.integers(low, high, 5000)
    stamps[::5] = stamps[::5] // 10**9 * 10**9          # whole seconds
    stamps[:4] = [0, -1, 1, -10**9]                     # around the epoch: floor, not truncate
    column = pd.Series(pd.to_datetime(stamps, utc=True), index=np.arange(5000) * 3, name="t")
    column.iloc[::11] = pd.NaT
    for times in (column, column.dt.tz_convert("Asia/Kolkata"), column.dt.tz_localize(None),
                  column.iloc[:0], pd.Series(pd.to_datetime([None, None], utc=True))):
        expected = times.dt.strftime("%Y-%m-%dT%H:%M:%SZ").astype("str")
        pd.testing.assert_series_equal(_iso(times), expected, check_exact=True)
    assert _iso(column.iloc[1:4]).tolist() == ["1969-12-31T23:59:59Z", "1970-01-01T00:00:00Z",
                                               "1969-12-31T23:59:59Z"]
