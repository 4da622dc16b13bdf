"""report.html: well-formed, self-contained, every section, escaped, deterministic."""

import json
import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
from markupsafe import escape

from influence import Analysis, analyze
from influence.report import SECTIONS, render_report, summary_html, summary_text

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}
EVIL = '<script>alert("x")</script>'


class _Checker(HTMLParser):
    """Balanced tags, and every src/href that is not a fragment or a data: URI."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.refs, self.ids, self.scripts = [], [], [], set(), 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            self.scripts += 1
        if "id" in attrs:
            self.ids.add(attrs["id"])
        for name in ("src", "href"):
            value = attrs.get(name)
            if value is not None and not value.startswith(("#", "data:")):
                self.refs.append(value)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()


def _check(html: str) -> _Checker:
    checker = _Checker()
    checker.feed(html)
    checker.close()
    return checker


@pytest.fixture
def evil_events(small_events):
    events = small_events.copy()
    events.loc[events["source"] == "a", "source"] = EVIL
    events.loc[events["target"] == "a", "target"] = EVIL
    events.loc[events["source"] == "d", "source"] = "$x^2$ & 'q'"
    return events


def test_report_is_well_formed_self_contained_and_complete(tmp_path, small_events):
    folder = analyze(small_events).save(tmp_path / "out", report=True)
    html = (folder / "report.html").read_text(encoding="utf-8")
    checker = _check(html)
    assert checker.errors == [] and checker.stack == []
    assert checker.refs == []                                  # no external src/href
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html)
    assert "@import" not in html and "url(" not in html        # no external CSS or fonts
    assert checker.scripts == 0
    assert set(SECTIONS) <= checker.ids
    assert html.count("data:image/svg+xml;base64,") >= 5       # segments, network, map, 2 plots
    assert "No referral data" not in html                      # c referred d


def test_report_says_when_there_is_no_referral_data(tmp_path, small_events):
    shares = small_events[small_events["type"] != "referral"]
    folder = analyze(shares).save(tmp_path / "out", report=True)
    assert "No referral data" in (folder / "report.html").read_text(encoding="utf-8")


def test_report_escapes_ids_from_the_input(tmp_path, evil_events):
    result = analyze(evil_events)
    html = render_report(result)
    assert EVIL not in html and "<script" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "$x^2$ &amp; &#39;q&#39;" in html
    checker = _check(html)
    assert checker.errors == [] and checker.scripts == 0
    assert EVIL not in result._repr_html_() and "&lt;script&gt;" in result._repr_html_()
    assert "&lt;" not in str(result)                            # plain text: not escaped


def test_report_rerendered_from_folder_is_byte_identical(tmp_path, small_events):
    folder = analyze(small_events, seed=3).save(tmp_path / "a", report=True)
    again = analyze(small_events, seed=3).save(tmp_path / "b", report=True)
    written = (folder / "report.html").read_bytes()
    assert written == (again / "report.html").read_bytes()
    assert render_report(Analysis.load(folder), folder=folder).encode() == written


def test_report_without_edges_says_so(tmp_path, small_events):
    result = analyze(small_events)
    result.edges = None  # a folder saved without edges.csv (older versions)
    folder = result.save(tmp_path / "out")
    assert not (folder / "edges.csv").exists()
    loaded = Analysis.load(folder)
    assert loaded.edges is None
    html = render_report(loaded, folder=folder)
    assert "No influence edges in these results" in html
    assert _check(html).errors == []


def test_word_of_mouth_lights_up_with_cascades_and_kfactor(tmp_path, small_events):
    result = analyze(small_events)
    result.manifest["kfactor"] = 0.42
    result.cascades = pd.DataFrame({"cascade": ["c", "c", "c", "a"],
                                    "customer_id": ["c", "d", "e", "a"],
                                    "parent": [None, "c", "d", None]})
    html = render_report(result)
    assert "No referral data" not in html
    assert "K-factor" in html and "0.420" in html
    assert "cascade c: 3 customers" in html
    # the same from a cascades.csv beside the results, K-factor as a dict
    saved = analyze(small_events)
    saved.cascades = None  # not in the manifest: the report looks beside the results
    folder = saved.save(tmp_path / "out")
    result.cascades.to_csv(folder / "cascades.csv", index=False)
    loaded = Analysis.load(folder)
    loaded.manifest["kfactor"] = {"overall": 0.5, "by_month": {"2026-01": 0.25}}
    html = render_report(loaded, folder=folder)
    assert "cascade c: 3 customers" in html and "by_month.2026-01" in html


def test_propagator_rank_is_used_when_present(small_events):
    result = analyze(small_events)
    result.customers["propagator_rank"] = result.customers["influence_rank"].to_numpy()[::-1]
    html = render_report(result)
    assert "best <code>propagator_rank</code>" in html


def test_summaries(small_events):
    events = pd.concat([small_events, small_events.head(1)])    # one duplicate row
    result = analyze(events)
    text = summary_text(result)
    assert "6 customers" in text and "duplicate 1" in text and "segments" in text
    assert str(result) == text
    html = summary_html(result)
    assert _check(html).errors == []
    assert "1 dropped" in html and "6 customers" in html and "<table>" in html


def _random_table(rng, n):
    key = rng.integers(0, 6, n).astype(float)
    key[rng.random(n) < 0.2] = float("nan")
    return pd.DataFrame({
        "key": key,
        "rank": rng.integers(-3, 3, n),
        "flag": rng.random(n) < 0.5,
        "nullable": pd.array([int(v) if keep else None for v, keep in
                              zip(rng.integers(0, 4, n), rng.random(n) < 0.8)], dtype="Int64"),
        "id": pd.array([f"c{i}" for i in rng.integers(0, 9, n)], dtype="str"),
    }, index=rng.permutation(n) * 2)


@pytest.mark.parametrize("seed", range(6))
def test_first_rows_is_the_head_of_the_full_stable_sort(seed):
    from influence.report.select import first_rows

    rng = np.random.default_rng(seed)
    table = _random_table(rng, 300)
    for by in (["key", "id"], ["rank", "id"], ["flag", "id"], ["nullable", "id"], ["id", "key"]):
        for ascending in (True, False, [False, True], [True, False]):
            for n in (1, 5, 40, 299, 300, 301):
                expected = table.sort_values(by, ascending=ascending, kind="mergesort").head(n)
                pd.testing.assert_frame_equal(first_rows(table, by, n, ascending), expected)
    few = table.assign(key=float("nan"))
    few.iloc[3, 0] = 1.0                     # fewer present keys than rows asked for
    pd.testing.assert_frame_equal(first_rows(few, ["key", "id"], 10),
                                  few.sort_values(["key", "id"], kind="mergesort").head(10))


def test_network_picture_from_the_edges_near_the_top_is_the_full_picture(small_events):
    from influence.report import _edge_ends, _edges_near_top, plots

    result = analyze(small_events)
    customers, edges = result.customers, result.edges
    ends = _edge_ends(customers, edges)
    for rank, n_top in (("influence_rank", 2), ("influence_rank", 30), ("pagerank", 1)):
        near = _edges_near_top(customers, edges, ends, rank, n_top)
        assert len(near) <= len(edges)
        assert (plots.network_figure(customers, near, rank, n_top=n_top)
                == plots.network_figure(customers, edges, rank, n_top=n_top))


def test_community_map_links_from_edge_ends_match_community_links(small_events):
    from influence.communities import community_link_weights, community_links
    from influence.report import _edge_ends

    result = analyze(small_events)
    customers, edges = result.customers, result.edges
    source, target = _edge_ends(customers, edges)
    community = customers["community"].to_numpy()
    pd.testing.assert_frame_equal(
        community_link_weights(community[source], community[target], edges["weight"]),
        community_links(edges, customers))
    assert customers["customer_id"].iloc[source].tolist() == edges["source"].tolist()
    with pytest.raises(ValueError, match="not in the customers table"):
        _edge_ends(customers.iloc[1:], edges)


def test_report_suppresses_small_segments_of_older_results_too(tmp_path, small_events):
    """Results saved without segments.csv: the report suppresses the segments smaller
    than the saved [privacy] min_segment_size (the default 10 here: all of them)."""
    folder = analyze(small_events).save(tmp_path / "out")
    # as written before segments.csv (and the manifest's file checks) existed
    (folder / "segments.csv").unlink()
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["outputs"] = {"format": "csv", "files": [
        name for name in manifest["outputs"]["files"] if name != "segments.csv"]}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    loaded = Analysis.load(folder)
    assert loaded.segments is None
    html = render_report(loaded, folder=folder)
    section = html[html.index('<section id="segments">'):]
    section = section[:section.index("</section>")]
    sizes = loaded.customers["segment"].value_counts()
    assert section.count("suppressed: fewer than 10 customers") == len(sizes)
    for reason in loaded.customers["segment_reason"]:
        assert str(escape(reason)) not in section
    assert f"The {len(loaded.customers)} customers of segments suppressed" in html
    assert _check(html).errors == []
