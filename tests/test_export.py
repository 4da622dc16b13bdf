"""Graph exports: GEXF and GraphML load back in networkx with every attribute."""

import math

import networkx as nx
import pandas as pd
import pytest
from click.testing import CliRunner

from influence import Analysis, analyze
from influence.cli import cli
from influence.errors import InputError
from influence.export import to_networkx, write_graph


def _read(path, fmt):
    return nx.read_gexf(path) if fmt == "gexf" else nx.read_graphml(path)


def _same(a, b):
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(float(a), float(b), rel_tol=1e-9)
    return a == b


@pytest.mark.parametrize("fmt", ["gexf", "graphml"])
def test_graph_file_round_trip(tmp_path, small_events, fmt):
    customers = pd.DataFrame({"customer_id": ["a", "zz"], "plan": ["gold", "free"]})
    result = analyze(small_events, customers=customers)
    folder = result.save(tmp_path / "out")
    loaded = Analysis.load(folder)
    path = write_graph(loaded, tmp_path / f"g.{fmt}")
    graph = _read(path, fmt)
    assert graph.is_directed()
    table = loaded.customers.set_index("customer_id")
    assert sorted(graph.nodes) == sorted(table.index)
    for node, attrs in graph.nodes(data=True):
        row = table.loc[node]
        for column in table.columns:
            value = row[column]
            if pd.isna(value):
                assert column not in attrs               # missing values are left out
            else:
                if isinstance(value, pd.Timestamp):
                    value = value.strftime("%Y-%m-%dT%H:%M:%SZ")
                assert _same(attrs[column], value.item() if hasattr(value, "item")
                             else value), (node, column)
    assert graph.nodes["a"]["plan"] == "gold" and "plan" not in graph.nodes["b"]
    edges = loaded.edges
    assert graph.number_of_edges() == len(edges) == result.manifest["edges"]
    for u, v, w, n in edges[["source", "target", "weight", "n_events"]].itertuples(
            index=False):
        assert graph[u][v]["weight"] == pytest.approx(w)
        assert int(graph[u][v]["n_events"]) == n


def test_in_memory_and_loaded_graphs_agree(tmp_path, small_events):
    result = analyze(small_events)
    loaded = Analysis.load(result.save(tmp_path / "out"))
    a, b = to_networkx(result), to_networkx(loaded)
    assert sorted(a.edges(data=True)) == sorted(b.edges(data=True))
    assert {(u, v): d["weight"] for u, v, d in a.edges(data=True)} == {
        (u, v): d["weight"] for u, v, d in result.graph.to_networkx().edges(data=True)}


def test_graph_files_are_deterministic(tmp_path, small_events):
    result = analyze(small_events)
    for fmt in ("gexf", "graphml"):
        one = write_graph(result, tmp_path / f"1.{fmt}").read_bytes()
        two = write_graph(result, tmp_path / f"2.{fmt}").read_bytes()
        assert one == two and b"lastmodifieddate" not in one


def test_export_needs_edges(tmp_path, small_events):
    result = analyze(small_events)
    result.edges = None  # a folder saved without edges.csv (older versions)
    folder = result.save(tmp_path / "out")
    with pytest.raises(InputError, match="no influence edges"):
        write_graph(Analysis.load(folder), tmp_path / "g.gexf")
    result = CliRunner().invoke(cli, ["export", str(folder)])
    assert result.exit_code == 3 and "re-run 'influence analyze'" in result.stderr


def test_cli_export_and_analyze_graph_format(tmp_path, small_events):
    events = tmp_path / "events.csv"
    small_events.to_csv(events, index=False)
    runner = CliRunner()
    out = tmp_path / "res"
    run = runner.invoke(cli, ["analyze", str(events), "--out", str(out), "--graph-format",
                              "graphml", "-q"])
    assert run.exit_code == 0, run.output
    assert nx.read_graphml(out / "graph.graphml").number_of_nodes() == 6
    run = runner.invoke(cli, ["export", str(out)])
    assert run.exit_code == 0 and run.stdout.strip() == str(out / "graph.gexf")
    assert nx.read_gexf(out / "graph.gexf").number_of_edges() == 7
    target = tmp_path / "elsewhere.graphml"
    run = runner.invoke(cli, ["export", str(out), "--graph-format", "graphml", "--out",
                              str(target)])
    assert run.exit_code == 0 and target.is_file()
    assert runner.invoke(cli, ["export", str(out), "--graph-format", "dot"]).exit_code == 2
