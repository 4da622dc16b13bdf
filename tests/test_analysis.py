import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import influence
from influence import Analysis, AnalysisConfig, analyze
from influence.export import write_graph
from influence.schema import CUSTOMER_COLUMNS


def test_api_tables_and_contract_columns(small_events):
    result = analyze(small_events)
    customers = result.customers
    assert customers["customer_id"].tolist()[0] in {"a", "c"}
    assert customers["influence_rank"].tolist() == list(range(1, 7))
    present = [c for c in customers.columns if c in CUSTOMER_COLUMNS]
    assert present == [c for c in CUSTOMER_COLUMNS if c in present]   # contract order
    for column in ("customer_id", "segment", "segment_reason", "influence_score",
                   "influence_rank", "pagerank", "in_strength", "out_strength", "coreness",
                   "community", "events_sent", "events_received", "last_active"):
        assert column in customers
    assert customers["pagerank"].sum() == pytest.approx(1.0)
    assert result.manifest["rows_read"] == 9
    assert result.communities["size"].sum() == 6
    assert "6 customers" in repr(result)


def test_customers_table_adds_everyone_and_attributes(small_events):
    table = pd.DataFrame({"customer_id": ["a", "zz"], "plan": ["gold", "free"],
                          "segment": ["x", "y"]})
    result = analyze(small_events, customers=table)
    customers = result.customers.set_index("customer_id")
    assert customers.loc["zz", "segment"] == "isolated"
    assert customers.loc["zz", "events_sent"] == 0
    assert customers.loc["a", "plan"] == "gold" and pd.isna(customers.loc["b", "plan"])
    assert customers.loc["a", "attribute_segment"] == "x"
    assert result.manifest["customers_from_table"] == 2


def test_every_customer_exactly_once_even_when_rows_dropped():
    events = pd.DataFrame({"source": ["a", "b", "c", None], "target": ["b", "b", None, "d"],
                           "type": ["share", "share", "share", "share"]})
    result = analyze(events)
    ids = result.customers["customer_id"]
    assert sorted(ids) == ["a", "b", "c", "d"] and ids.is_unique
    m = result.manifest
    assert m["rows_read"] == m["rows_used"] + sum(m["dropped"].values())
    assert m["dropped"]["self_loop"] == 1 and m["dropped"]["null_source"] == 1


def test_overrides_reach_the_config(small_events):
    result = analyze(small_events, seed=5, resolution=0.3, since="2026-01-02")
    cfg = result.manifest["config"]
    assert cfg["communities"] == {"resolution": 0.3, "seed": 5, "backend": "igraph",
                                  "stability_runs": 0, "iterations": 2,
                                  "parallel": True}
    assert result.manifest["dropped"]["outside_window"] == 1
    assert result.manifest["seed"] == 5


def test_save_load_round_trip(tmp_path, small_events):
    result = analyze(small_events)
    for fmt in ("csv", "parquet"):
        folder = result.save(tmp_path / fmt, fmt)
        assert sorted(p.name for p in folder.iterdir()) == sorted(
            [f"customers.{fmt}", f"communities.{fmt}", f"segments.{fmt}", f"edges.{fmt}",
             f"cascades.{fmt}", f"kfactor.{fmt}",
             "manifest.json"])
        back = Analysis.load(folder)
        assert back.customers["customer_id"].tolist() == result.customers["customer_id"].tolist()
        assert back.customers["segment"].tolist() == result.customers["segment"].tolist()
        assert back.manifest["rows_read"] == 9
        pd.testing.assert_frame_equal(back.edges, result.edges, check_dtype=False)
        assert back.edges["weight"].dtype == "float64"
        assert back.segments["segment"].tolist() == result.segments["segment"].tolist()
        # results written before segments.csv (and file checks) existed still load
        (folder / f"segments.{fmt}").unlink()
        manifest = json.loads((folder / "manifest.json").read_text())
        manifest["outputs"] = {"format": fmt, "files": [
            name for name in manifest["outputs"]["files"] if name != f"segments.{fmt}"]}
        (folder / "manifest.json").write_text(json.dumps(manifest))
        assert Analysis.load(folder).segments is None


def _digest(folder: Path, mask: tuple[str, ...] = ()) -> dict:
    """sha256 of every file in ``folder``: the manifest without its timings, and with
    each text of ``mask`` blanked out of every file (an input hash that differs). The
    manifest's own checksums of the files are left out with ``mask`` (the report holds
    the input hash): the files themselves are compared."""
    out = {}
    for path in sorted(folder.iterdir()):
        data = path.read_bytes()
        if path.name == "manifest.json":
            manifest = json.loads(data)
            manifest.pop("timings")
            if mask:
                for check in manifest.get("outputs", {}).get("checks", {}).values():
                    check.pop("sha256", None)
            data = json.dumps(manifest).encode()
        for text in mask:
            data = data.replace(text.encode(), b"")
        out[path.name] = hashlib.sha256(data).hexdigest()
    return out


def _money_events(n_customers: int = 400, seed: int = 3) -> pd.DataFrame:
    """Synthetic events with row weights and referral values that binary floats
    cannot hold exactly (0.1, 19.99, ...): their sums depend on the order of
    addition."""
    events = influence.generate_events(n_customers, seed=seed)[0]
    rng = np.random.default_rng(seed)
    referral = (events["type"] == "referral").to_numpy()
    events["value"] = np.where(referral, rng.choice([0.1, 0.2, 0.3, 19.99, 7.07], len(events)),
                               np.nan)
    events["weight"] = rng.choice([0.1, 0.7, 1.3, 2.2], len(events))
    return events


def test_byte_identical_across_processes_and_row_order(tmp_path):
    """Same input and seed in fresh processes -> identical bytes (timings aside); so too
    with the input rows shuffled, for every file analyze writes, the graph files
    included (only the input's hash differs)."""
    events = _money_events()
    shuffled = events.sample(frac=1, random_state=1)
    hashes = []
    for name, table in (("in", events), ("shuffled", shuffled)):
        (tmp_path / name).mkdir()
        table.to_csv(tmp_path / name / "events.csv", index=False)
        hashes.append(hashlib.sha256((tmp_path / name / "events.csv").read_bytes()).hexdigest())
    digests = []
    for i, folder in enumerate(["in", "in", "shuffled"]):
        # the same relative input path: the report and manifest name it
        subprocess.run([sys.executable, "-m", "influence", "analyze", "events.csv", "--out",
                        str(tmp_path / f"out{i}"), "--graph-format", "gexf", "--quiet"],
                       check=True, cwd=tmp_path / folder)
        back = Analysis.load(tmp_path / f"out{i}")
        write_graph(back, tmp_path / f"out{i}" / "export.graphml", "graphml")
        digests.append(_digest(tmp_path / f"out{i}", mask=(hashes[0], hashes[1],
                                                           hashes[0][:16], hashes[1][:16])))
    assert {"report.html", "edges.csv", "graph.gexf", "export.graphml", "cascades.csv",
            "kfactor.csv", "segments.csv"} <= set(digests[0])
    assert digests[0] == digests[1]
    assert digests[0] == digests[2]


def test_parquet_output_deterministic(tmp_path, small_events):
    a = analyze(small_events).save(tmp_path / "a", "parquet")
    b = analyze(small_events).save(tmp_path / "b", "parquet")
    assert (a / "customers.parquet").read_bytes() == (b / "customers.parquet").read_bytes()


def test_config_object_is_used(small_events):
    cfg = AnalysisConfig().replace(segments__high_share=0.5, segments__mid_share=0.5)
    result = analyze(small_events, config=cfg)
    assert (result.customers["influence_tier"] == "high").sum() >= 2


def test_engine_columns_manifest_and_stability(small_events):
    result = analyze(small_events, seed=0)
    columns = list(result.customers.columns)
    for name in ("betweenness", "hub", "authority", "community_role"):
        assert name in columns
    assert columns.index("coreness") < columns.index("betweenness") < columns.index("hub") \
        < columns.index("authority") < columns.index("community") \
        < columns.index("community_role") < columns.index("events_sent")
    assert "community_confidence" not in columns
    m = result.manifest
    assert m["betweenness"]["method"] == "exact"
    assert sum(m["communities"]["roles"].values()) == len(result.customers)
    assert "dominant_type" in result.communities and "share_champions" in result.communities
    stable = analyze(small_events, seed=0, config=AnalysisConfig().replace(
        communities__stability_runs=2, centrality__betweenness=False))
    assert stable.customers["community_confidence"].between(0, 1).all()
    extras = list(stable.customers.columns)[len(
        [c for c in stable.customers.columns if c in CUSTOMER_COLUMNS]):]
    assert "community_confidence" in extras  # after the contract columns
    assert stable.customers["betweenness"].isna().all()
    assert stable.manifest["betweenness"]["method"] == "skipped"


def test_ids_with_surrounding_spaces_are_one_customer():
    events = pd.DataFrame({"source": [" a", "a ", "b"], "target": ["b", " c", "  "],
                           "type": ["share", "share", "share"]})
    customers = pd.DataFrame({"customer_id": [" c ", "d"], "plan": ["x", "y"]})
    result = analyze(events, customers=customers)
    table = result.customers.set_index("customer_id")
    assert sorted(table.index) == ["a", "b", "c", "d"]
    assert table.loc["a", "events_sent"] == 2 and table.loc["c", "plan"] == "x"
