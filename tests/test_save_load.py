"""Saving and loading a results folder: the fast paths give what the plain pandas ones gave."""

import numpy as np
import pandas as pd

from influence.result import _iso


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


# --- ids survive the formula guard --------------------------------------------------

from hypothesis import HealthCheck, assume, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from influence import analyze  # noqa: E402
from influence.analysis import Analysis  # noqa: E402

#: Ids a spreadsheet would run, their escaped look-alikes, and any text at all.
_tricky = st.sampled_from(["=x", "'=x", "''=x", "-5", "'-5", "+1", "@a", "'", "''", "'a",
                           "\tx", "'\tx", "a;b", "a,b", '"q"', "x\ny", "007", "1.0", "nan",
                           "NULL", "é", "漢字"])
_ids = st.one_of(_tricky, st.text(st.characters(blacklist_categories=("Cs",)), min_size=1,
                                  max_size=6))


@st.composite
def _id_events(draw):
    ids = draw(st.lists(_ids, min_size=2, max_size=8, unique=True))
    pairs = draw(st.lists(st.tuples(st.sampled_from(ids), st.sampled_from(ids)),
                          min_size=1, max_size=12))
    kinds = draw(st.lists(st.sampled_from(["share", "referral", "comment"]),
                          min_size=len(pairs), max_size=len(pairs)))
    stamps = [f"2026-01-{1 + i % 28:02d}" for i in range(len(pairs))]
    return pd.DataFrame({"source": [s for s, _ in pairs], "target": [t for _, t in pairs],
                         "type": kinds, "timestamp": stamps})


def _text_cells(result):
    """Every text column of every table, as lists (missing or empty as None: CSV writes
    both as an empty cell)."""
    out = {}
    for name in ("customers", "communities", "segments", "cascades", "kfactor", "edges"):
        table = getattr(result, name)
        if table is None:
            continue
        for column in table.columns:
            values = table[column]
            if pd.api.types.is_string_dtype(values.dtype) or values.dtype == object:
                out[(name, column)] = [None if pd.isna(v) or v == "" else str(v)
                                       for v in values]
    return out


@settings(deadline=None, max_examples=30, suppress_health_check=[HealthCheck.too_slow])
@given(_id_events())
@example(pd.DataFrame({"source": ["=x", "'=x", "-5", "'-5"], "target": ["a", "b", "a", "c"],
                       "type": ["share", "referral", "share", "referral"],
                       "timestamp": ["2026-01-01"] * 4}))
def test_ids_round_trip_through_csv_and_parquet(tmp_path_factory, events):
    """analyze -> save -> Analysis.load gives back exactly the ids that went in, and every
    text cell (ids, top_members, leader, segment_reason, edges, cascades, referred_by)."""
    stripped = {v.strip() for v in pd.concat([events["source"], events["target"]])}
    usable = (events["source"].str.strip() != events["target"].str.strip()) \
        & (events["source"].str.strip() != "")
    assume(usable.any())
    result = analyze(events)
    assert set(result.customers["customer_id"]) == stripped - {""}
    cells = _text_cells(result)
    for fmt in ("csv", "parquet"):
        folder = result.save(tmp_path_factory.mktemp(fmt), fmt)
        loaded = Analysis.load(folder)
        ids = loaded.customers["customer_id"].tolist()
        assert len(ids) == len(set(ids)) and set(ids) == stripped - {""}
        got = _text_cells(loaded)
        for key, values in cells.items():
            assert got.get(key) == values, (fmt, key)


def test_a_folder_without_csv_escape_is_read_with_the_old_rule(tmp_path):
    import json

    events = pd.DataFrame({"source": ["'q", "=x"], "target": ["b", "b"],
                           "type": ["share", "share"]})
    folder = analyze(events).save(tmp_path / "old")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["outputs"]["csv_escape"].startswith("v2")
    del manifest["outputs"]["csv_escape"]  # as written before the escape was reversible
    del manifest["outputs"]["checks"]  # ... and before manifests held file checks
    (folder / "manifest.json").write_text(json.dumps(manifest))
    text = (folder / "customers.csv").read_text()
    (folder / "customers.csv").write_text(text.replace("\"''q\"", "\"'q\""))
    assert set(Analysis.load(folder).customers["customer_id"]) == {"'q", "=x", "b"}


# --- the graph of loaded results (issue 18) -------------------------------------------

def test_loaded_results_rebuild_the_graph_from_their_edges(tmp_path):
    """``Analysis.load(...).graph.to_networkx()`` (the README's example) gives the graph
    ``analyze`` built: same customers, edges, weights and event counts; rebuilt on first
    use, not at load time."""
    import networkx as nx

    from influence.export import pseudonymize_analysis

    events = pd.DataFrame({"source": ["a", "b", "c", "a", "d", "=x"],
                           "target": ["b", "c", "a", "b", None, "a"],
                           "type": ["share", "referral", "comment", "share", "share",
                                    "share"]})
    events.loc[len(events)] = ["e", "a", "share"]
    result = analyze(events, customers=pd.DataFrame({"customer_id": ["lonely"]}), seed=0)
    for fmt in ("csv", "parquet"):
        loaded = Analysis.load(result.save(tmp_path / fmt, fmt))
        assert "_graph" not in loaded.__dict__ or loaded.__dict__["_graph"] is None
        assert nx.utils.graphs_equal(loaded.graph.to_networkx(), result.graph.to_networkx())
        assert loaded.graph.edges.equals(result.graph.edges)
        assert loaded.graph.ids.equals(result.graph.ids)
        assert loaded.graph.graph.ecount() == result.graph.graph.ecount()
    hidden = pseudonymize_analysis(result, b"k" * 16)
    assert sorted(hidden.graph.to_networkx().nodes) == \
        sorted(hidden.customers["customer_id"].tolist())
