"""Graph exports: GEXF and GraphML load back in networkx with every attribute."""

import math

import networkx as nx
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from influence import Analysis, analyze
from influence.cli import cli
from influence.errors import InputError
from influence.export import restore_xml_text, to_networkx, write_graph, xml_text


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


# ids XML 1.0 cannot carry (controls, U+FFFE/U+FFFF), markup, and texts that look like
# the escape: every one a distinct customer, each must stay one distinct node
XML_HOSTILE = ["a\x00z", "a\x01z", "b\x1fz", "c\x7fz", "d]]>", "e<&\"'>", "f\ufffez",
               "g\uffffz", "h\tx", "h x", "i\rx", "i\nx", "i\r\nx", "j\\u0000", "j\x00z",
               "j\\\\u0000", "k\\z", "l\x0bz", "m\x0cz", "plain", "é\u2028ü"]


def _hostile_analysis():
    n = len(XML_HOSTILE)
    rows = ([(XML_HOSTILE[i], XML_HOSTILE[(i + 1) % n], "share") for i in range(n)]
            + [(XML_HOSTILE[i], XML_HOSTILE[(i + 3) % n], "referral") for i in range(n)])
    customers = pd.DataFrame({"customer_id": XML_HOSTILE, "note\x01<": XML_HOSTILE})
    return analyze(pd.DataFrame(rows, columns=["source", "target", "type"]),
                   customers=customers)


@pytest.mark.parametrize("fmt", ["gexf", "graphml"])
def test_graph_files_with_hostile_ids_are_well_formed_and_keep_ids_apart(tmp_path, fmt):
    """Control characters in ids made GEXF/GraphML that no XML parser reads (exit 0):
    every written file now parses, with expat and in networkx, and distinct ids stay
    distinct nodes that restore_xml_text turns back into the ids."""
    import xml.etree.ElementTree as ET

    result = _hostile_analysis()
    assert sorted(result.customers["customer_id"]) == sorted(XML_HOSTILE)
    folder = result.save(tmp_path / "out", graph_format=fmt)
    exported = tmp_path / f"export.{fmt}"
    assert CliRunner().invoke(cli, ["export", str(folder), "--graph-format", fmt, "--out",
                                    str(exported)]).exit_code == 0
    for path in (folder / f"graph.{fmt}", exported):
        ET.parse(path)  # raises on a file that is not well-formed
        graph = _read(path, fmt)
        assert graph.number_of_nodes() == len(XML_HOSTILE)
        assert sorted(graph.nodes) == sorted(xml_text(i) for i in XML_HOSTILE)
        assert sorted(restore_xml_text(n) for n in graph.nodes) == sorted(XML_HOSTILE)
        assert graph.number_of_edges() == len(result.edges)
        for node, attrs in graph.nodes(data=True):
            # text attributes (the customers-table column, its name escaped too)
            assert restore_xml_text(attrs[xml_text("note\x01<")]) == restore_xml_text(node)
    assert (folder / f"graph.{fmt}").read_bytes() == exported.read_bytes()


def test_graph_file_with_lone_surrogates(tmp_path):
    """Lone surrogates cannot come through analyze (ids are UTF-8 text), but an Analysis
    built by hand can hold them: they are escaped like the other unsafe characters."""
    import xml.etree.ElementTree as ET

    ids = ["s\ud800", "s\udfff", "s\\ud800", "t"]
    customers = pd.DataFrame({"customer_id": pd.Series(ids, dtype=object),
                              "influence_rank": [1, 2, 3, 4]})
    edges = pd.DataFrame({"source": pd.Series(ids[:3], dtype=object),
                          "target": pd.Series(ids[1:], dtype=object),
                          "weight": [1.0, 2.0, 3.0], "n_events": [1, 1, 1]})
    analysis = Analysis(customers=customers, communities=pd.DataFrame(), manifest={},
                        edges=edges)
    for fmt in ("gexf", "graphml"):
        path = write_graph(analysis, tmp_path / f"g.{fmt}")
        ET.parse(path)
        assert sorted(restore_xml_text(n) for n in _read(path, fmt).nodes) == sorted(ids)


@given(st.text(max_size=12), st.text(max_size=12))
def test_xml_text_is_one_to_one_and_legal(a, b):
    import xml.etree.ElementTree as ET

    for text in (a, b):
        written = xml_text(text)
        assert restore_xml_text(written) == text
        # legal as XML 1.0 text and attribute: expat reads it back unchanged
        root = ET.fromstring(ET.tostring(ET.Element("n", id=written)))
        assert root.get("id") == written
        element = ET.Element("d")
        element.text = written
        assert (ET.fromstring(ET.tostring(element)).text or "") == written
    assert (xml_text(a) == xml_text(b)) == (a == b)
