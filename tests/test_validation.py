import pandas as pd
import pytest

from influence.config import AnalysisConfig, config_from_dict
from influence.errors import InputError
from influence.validation import DROP_REASONS, clean_events, customer_universe, parse_timestamps


def raw(rows, columns=("source", "target", "type", "timestamp")):
    return pd.DataFrame(rows, columns=list(columns)).astype("str").where(
        pd.DataFrame(rows, columns=list(columns)).notna())


def test_each_reason_counted_once_and_accounting_holds():
    table = raw([
        ("a", "b", "share", "2026-01-01"),
        ("a", "b", "share", "2026-01-01"),      # duplicate
        (None, "b", "share", "2026-01-01"),     # null_source
        ("a", "b", None, "2026-01-01"),         # null_type
        ("a", "b", "share", "yesterday"),       # bad_timestamp
        ("c", "c", "share", "2026-01-02"),      # self_loop
        ("c", "c", "share", "garbage"),         # bad_timestamp wins over self_loop
        ("d", None, "comment", "2026-01-03"),   # activity only: kept
    ])
    clean = clean_events(table, AnalysisConfig())
    assert clean.dropped == {**{r: 0 for r in DROP_REASONS}, "duplicate": 1, "null_source": 1,
                             "null_type": 1, "bad_timestamp": 2, "self_loop": 1}
    assert clean.rows_read == clean.rows_used + sum(clean.dropped.values()) == 8
    assert clean.rows_used == 2
    assert any("dropped 6 of 8 rows" in w for w in clean.warnings)


def test_weights_converted_and_values():
    table = raw([
        ("a", "b", "share", "2", "true", "10"),
        ("a", "c", "share", "-1", "false", "5"),     # bad_weight
        ("a", "d", "referral", "x", None, None),     # bad_weight
        ("a", "e", "referral", None, "maybe", None),  # bad_converted
        ("a", "f", "referral", None, "1", "-3"),     # bad_value
        ("a", "g", "comment", None, None, "abc"),    # bad_value
    ], columns=("source", "target", "type", "weight", "converted", "value"))
    clean = clean_events(table, AnalysisConfig())
    assert clean.dropped["bad_weight"] == 2
    assert clean.dropped["bad_converted"] == 1
    assert clean.dropped["bad_value"] == 2
    assert clean.events["weight"].tolist() == [4.0]  # share weight 2 x row weight 2
    assert clean.events["converted"].tolist() == [True]


def test_undeclared_type_is_an_input_error_listing_declared():
    table = raw([("a", "b", "like", None), ("a", "b", "share", None)])
    with pytest.raises(InputError, match=r"undeclared type 'like' \(1 rows\); declared types "
                                         r"are \['comment', 'referral', 'share'\]"):
        clean_events(table, AnalysisConfig())
    cfg = config_from_dict({"types": {"like": {"flow": "reverse", "weight": 0.5}}})
    assert clean_events(table, cfg).rows_used == 2


def test_timestamps_iso_epoch_and_zones():
    got = parse_timestamps(pd.Series(["2026-01-01T01:00:00+01:00", "1767225600",
                                      "2026-01-01", "nope", None], dtype="str"))
    assert got[0] == pd.Timestamp("2026-01-01T00:00:00Z")
    assert got[1] == pd.Timestamp("2026-01-01T00:00:00Z")
    assert got[2] == pd.Timestamp("2026-01-01T00:00:00Z")
    assert got[3:].isna().all()


def test_window_and_its_accounting():
    table = raw([("a", "b", "share", "2025-12-31"), ("a", "b", "share", "2026-01-15"),
                 ("a", "b", "share", "2026-02-01T00:00:01Z")])
    cfg = AnalysisConfig().replace(window__since="2026-01-01", window__until="2026-01-31")
    clean = clean_events(table, cfg)
    assert clean.dropped["outside_window"] == 2 and clean.rows_used == 1
    assert clean.end == cfg.window.until
    no_time = raw([("a", "b", "share")], columns=("source", "target", "type"))
    with pytest.raises(InputError, match="no timestamp column"):
        clean_events(no_time, cfg)


def test_half_life_decays_weights():
    table = raw([("a", "b", "share", "2026-01-01"), ("a", "c", "share", "2026-01-11")])
    cfg = config_from_dict({"window": {"half_life_days": 10}})
    weights = clean_events(table, cfg).events["weight"].tolist()
    assert weights == pytest.approx([1.0, 2.0])


def test_all_rows_dropped_is_an_input_error():
    with pytest.raises(InputError, match="no usable events"):
        clean_events(raw([("a", "a", "share", None)]), AnalysisConfig())


def test_universe_keeps_customers_of_dropped_rows():
    table = raw([("a", "a", "share", None), ("b", "c", "share", None)])
    customers = pd.DataFrame({"customer_id": ["z"]})
    assert customer_universe(table, customers).tolist() == ["a", "b", "c", "z"]


@pytest.mark.parametrize("values", [
    ["2026-01-01T00:06:12Z", "2026-03-01T10:00:00.25+01:30", None, "2026-12-31T23:59:59-05:00"],
    ["2026-01-01 00:06:12", "2026-03-01", "2026-03-01T10:00:00.123456789", None],
    ["2026-01-01T00:00:00Z", "2026-01-01 00:00:00"],        # mixed: the pandas path
    ["2026-01-01", " 2026-01-02 ", "1767225600", "nope"],   # spaces, epoch, bad: pandas path
])
def test_timestamps_fast_path_agrees_with_pandas(values):
    series = pd.Series(values, dtype="str")
    text = series.str.strip()
    expected = pd.to_datetime(text.where(~text.str.fullmatch(r"\d+").fillna(False)),
                              format="ISO8601", utc=True, errors="coerce")
    epoch = text.str.fullmatch(r"\d+").fillna(False)
    expected[epoch] = pd.to_datetime(pd.to_numeric(text[epoch]), unit="s", utc=True)
    got = parse_timestamps(series)
    assert str(got.dtype) == "datetime64[ns, UTC]"
    pd.testing.assert_series_equal(got, expected.astype("datetime64[ns, UTC]"),
                                   check_names=False)


def test_timestamps_already_datetimes():
    naive = pd.Series(pd.to_datetime(["2026-01-01 10:00", None]))
    got = parse_timestamps(naive)
    assert got[0] == pd.Timestamp("2026-01-01T10:00:00Z") and pd.isna(got[1])
    zoned = naive.dt.tz_localize("Europe/Paris")
    assert parse_timestamps(zoned)[0] == pd.Timestamp("2026-01-01T09:00:00Z")


def test_numeric_value_and_weight_columns_match_their_text(tmp_path):
    """A Parquet file with numeric value/weight gives what the same rows as text give."""
    from influence.sources import read_events

    frame = pd.DataFrame({"source": ["a", "a", "b", "c"], "target": ["b", "c", "c", "a"],
                          "type": ["share", "referral", "comment", "share"],
                          "value": [10.0, -1.0, None, 2.5], "weight": [2.0, 1.0, 0.0, 1.0]})
    frame.to_parquet(tmp_path / "e.parquet")
    as_numbers, _ = read_events(tmp_path / "e.parquet")
    assert as_numbers["value"].dtype == "float64"
    as_text = frame.astype("str").where(frame.notna())
    a, b = clean_events(as_numbers, AnalysisConfig()), clean_events(as_text, AnalysisConfig())
    assert a.dropped == b.dropped and a.dropped["bad_value"] == 1 and a.dropped["bad_weight"] == 1
    pd.testing.assert_frame_equal(a.events, b.events)


def test_clean_events_are_categorical_over_the_ids_read():
    table = raw([(" a", "b ", " share", None), ("c", "c", "share", None),
                 ("a", None, "comment", None)])
    clean = clean_events(table, AnalysisConfig())
    assert clean.ids.tolist() == ["a", "b", "c"]  # c only in a dropped self-loop
    assert clean.events["source"].tolist() == ["a", "a"]
    assert clean.events["target"].isna().tolist() == [False, True]
    assert list(clean.events["type"].cat.categories) == ["comment", "share"]
    assert clean.events["type"].value_counts().to_dict() == {"comment": 1, "share": 1}


#: Timestamps outside what datetime64[ns] holds: counted as bad_timestamp, with a hint.
OUT_OF_RANGE_TIMESTAMPS = [
    ("1767225600000", "1 look like epoch milliseconds (declare the unit with "
                      "--timestamp-unit ms or [input] timestamp_unit)"),
    ("1767225600000000", "1 look like epoch microseconds"),
    ("1767225600000000000", "1 look like epoch nanoseconds"),
    ("9999-12-31", "1 lie outside 1677-09-21 .. 2262-04-11"),
    ("1677-01-01", "1 lie outside 1677-09-21 .. 2262-04-11"),
    ("2999-06-30T12:00:00Z", "1 lie outside 1677-09-21 .. 2262-04-11"),
    ("2999-06-30 12:00", "1 lie outside 1677-09-21 .. 2262-04-11"),
    ("99999999999999999999", "1 lie outside 1677-09-21 .. 2262-04-11"),
]


@pytest.mark.parametrize("value, hint", OUT_OF_RANGE_TIMESTAMPS)
def test_timestamps_out_of_range_are_bad_timestamps_with_a_hint(value, hint):
    table = raw([("a", "b", "share", "2026-01-01"), ("b", "c", "share", value)])
    clean = clean_events(table, AnalysisConfig())
    assert clean.dropped["bad_timestamp"] == 1 and clean.rows_used == 1
    assert [w for w in clean.warnings if w.startswith("bad_timestamp:")] == [
        w for w in clean.warnings if hint in w]
    assert any(hint in w for w in clean.warnings)
    with pytest.raises(InputError, match="no usable events.*bad_timestamp: 1 (look|lie)"):
        clean_events(raw([("b", "c", "share", value)]), AnalysisConfig())


@pytest.mark.parametrize("unit, value", [("s", "1767225600"), ("ms", "1767225600000"),
                                         ("us", "1767225600000000"),
                                         ("ns", "1767225600000000000"),
                                         ("ms", "1767225600000.0")])
def test_epoch_unit_can_be_declared(unit, value):
    cfg = config_from_dict({"input": {"timestamp_unit": unit}})
    clean = clean_events(raw([("a", "b", "share", value), ("a", "c", "share", "2026-01-02")]),
                         cfg)
    assert clean.rows_used == 2
    assert clean.events["timestamp"].tolist()[0] == pd.Timestamp("2026-01-01T00:00:00Z")
    got = parse_timestamps(pd.Series([value], dtype="str"), unit=unit)
    assert got[0] == pd.Timestamp("2026-01-01T00:00:00Z")


def test_datetime_columns_out_of_range_are_bad_timestamps(tmp_path):
    """A Parquet timestamp column (microseconds) with dates beyond the nanosecond range."""
    from influence.sources import read_events

    stamps = pd.Series(pd.to_datetime(["2026-01-01", "2999-01-01", "1600-01-01"],
                                      utc=True).astype("datetime64[us, UTC]"))
    frame = pd.DataFrame({"source": ["a", "b", "c"], "target": ["b", "c", "a"],
                          "type": ["share"] * 3, "timestamp": stamps})
    frame.to_parquet(tmp_path / "e.parquet")
    events, _ = read_events(tmp_path / "e.parquet")
    clean = clean_events(events, AnalysisConfig())
    assert clean.dropped["bad_timestamp"] == 2 and clean.rows_used == 1
    assert any("2 lie outside" in w for w in clean.warnings)
    assert parse_timestamps(stamps).isna().tolist() == [False, True, True]
    assert parse_timestamps(stamps.dt.tz_localize(None)).isna().tolist() == [False, True, True]
