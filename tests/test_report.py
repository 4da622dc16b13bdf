"""report.html: well-formed, self-contained, every section, escaped, deterministic."""

import json
import re
from html import unescape
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
from markupsafe import escape

from influence import Analysis, analyze
from influence.config import AnalysisConfig
from influence.report import SECTIONS, render_report, summary_html, summary_text

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}
EVIL = '<script>alert("x")</script>'
HOSTILE = ("</script><script>alert(1)</script>", "<!--", "]]>", "q\"u'o`te",
           "back\\slash\\u003c", "line\u2028para\u2029graph")


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


def _scripts(html: str) -> tuple[list[str], list[tuple[str, str]]]:
    """The page's code scripts (their text) and its JSON data scripts (id, text)."""
    code = re.findall(r"<script>(.*?)</script>", html, flags=re.S)
    data = re.findall(r'<script type="application/json" id="([^"]+)">(.*?)</script>', html,
                      flags=re.S)
    return code, data


def test_report_is_well_formed_self_contained_and_complete(tmp_path, small_events):
    from influence.report.embed import script_hash

    folder = analyze(small_events).save(tmp_path / "out", report=True)
    html = (folder / "report.html").read_text(encoding="utf-8")
    checker = _check(html)
    assert checker.errors == [] and checker.stack == []
    # the only links are relative ones to the results files beside the report
    assert checker.refs and set(checker.refs) <= {"customers.csv", "edges.csv", "kfactor.csv"}
    assert all((folder / ref).is_file() for ref in checker.refs)
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html)
    styles = "".join(re.findall(r"<style>(.*?)</style>", html, flags=re.S))
    assert "@import" not in styles and "url(" not in styles    # no external CSS or fonts
    assert re.findall(r"<(\w+)[^>]* src=", html) == ["img"] * html.count("<img ")
    code, data = _scripts(html)
    assert checker.scripts == len(code) + len(data) and len(code) == 3
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', html)
    policy = unescape(csp.group(1))
    assert "default-src 'none'" in policy
    assert all(script_hash(text) in policy for text in code)
    assert set(SECTIONS) - {"score-check"} <= checker.ids
    assert "score-check" not in checker.ids                    # no score_check in manifest
    assert html.count("data:image/svg+xml;base64,") >= 6       # + K-factor chart
    assert "No referral data" not in html                      # c referred d


def test_report_says_when_there_is_no_referral_data(tmp_path, small_events):
    shares = small_events[small_events["type"] != "referral"]
    folder = analyze(shares).save(tmp_path / "out", report=True)
    assert "No referral data" in (folder / "report.html").read_text(encoding="utf-8")


def test_report_escapes_ids_from_the_input(tmp_path, evil_events):
    result = analyze(evil_events, config=AnalysisConfig().replace(privacy__min_segment_size=1))
    html = render_report(result)
    assert EVIL not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "$x^2$ &amp; &#39;q&#39;" in html
    checker = _check(html)
    assert checker.errors == []
    assert EVIL not in result._repr_html_() and "&lt;script&gt;" in result._repr_html_()
    assert "&lt;" not in str(result)                            # plain text: not escaped


@pytest.fixture
def hostile_result(small_events):
    """small_events with ids that try every way out of HTML, JSON and script text."""
    events = small_events.copy()
    for old, new in zip("abcdef", HOSTILE):
        for column in ("source", "target"):
            events.loc[events[column] == old, column] = new
    return analyze(events, config=AnalysisConfig().replace(privacy__min_segment_size=1))


def test_no_id_reaches_a_script_context(hostile_result):
    from influence.report import _scripts as page_scripts

    html = render_report(hostile_result)
    code, data = _scripts(html)
    # exactly the page's own scripts run, byte for byte: no id is inside one
    assert code == page_scripts(network=True)
    assert _check(html).scripts == len(code) + len(data)
    ids = set(hostile_result.customers["customer_id"])
    assert ids == set(HOSTILE)
    seen = set()
    for name, text in data:
        for bad in ("<", ">", "&", "\u2028", "\u2029"):
            assert bad not in text, (name, bad)
        value = json.loads(text)                                  # the same strings come back
        rows = value["rows"] if "rows" in value else value["nodes"]
        for row in rows:
            seen |= ids & set(row if isinstance(row, list) else [row["id"]])
    assert seen == ids                                             # every id is in the data
    assert html.count("<!--") == 1                                 # the licence comment
    for hostile in HOSTILE:
        if set(hostile) & set("<>&\"'") and hostile != "<!--":
            assert hostile not in html, hostile                    # only escaped in the page


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


def test_network_from_the_edges_near_the_top_is_the_full_network(small_events):
    from influence.report import _edge_ends, _edges_near_top
    from influence.report.network import neighbourhood

    result = analyze(small_events)
    customers, edges = result.customers, result.edges
    ends = _edge_ends(customers, edges)
    for rank, n_top in (("influence_rank", 2), ("influence_rank", 30), ("pagerank", 1)):
        near = _edges_near_top(customers, edges, ends, rank, n_top)
        assert len(near) <= len(edges)
        fast = neighbourhood(customers, near, rank, n_top=n_top)
        full = neighbourhood(customers, edges, rank, n_top=n_top)
        pd.testing.assert_frame_equal(fast.nodes, full.nodes)
        pd.testing.assert_frame_equal(fast.links, full.links)


def test_network_is_capped_whatever_the_number_of_customers():
    from influence.report.network import neighbourhood

    # 60 hubs, each with 30 spokes, every hub linked to every other: far over the caps
    hubs = [f"h{i:02d}" for i in range(60)]
    rows = [(h, f"{h}-s{j:02d}", 1.0 + j) for h in hubs for j in range(30)]
    rows += [(a, b, 0.5) for i, a in enumerate(hubs) for b in hubs[i + 1:]]
    edges = pd.DataFrame(rows, columns=["source", "target", "weight"])
    ids = sorted(set(edges["source"]) | set(edges["target"]))
    customers = pd.DataFrame({"customer_id": ids, "segment": "champions", "community": 0,
                              "influence_score": 0.5})
    customers["influence_rank"] = [hubs.index(c) + 1 if c in hubs else 1000 + i
                                   for i, c in enumerate(ids)]
    hood = neighbourhood(customers, edges, "influence_rank", n_top=50, n_neighbours=4,
                         max_links=600)
    assert hood.top_ids == hubs[:50]
    assert len(hood.nodes) <= 50 * (1 + 4) and len(hood.links) == 600
    # each top hub keeps its 4 heaviest spokes (weights 30, 29, 28, 27)
    assert {f"h00-s{j}" for j in (29, 28, 27, 26)} <= set(hood.nodes["customer_id"])
    assert hood.nodes["x"].between(-1, 1).all() and hood.nodes["y"].between(-1, 1).all()


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


def _list_data(html: str) -> dict[str, dict]:
    return {name[len("list-"):]: json.loads(text) for name, text in _scripts(html)[1]
            if name.startswith("list-")}


def test_action_lists_open_the_report_with_reasons(small_events):
    # six customers: no cap (10% of them is no one)
    result = analyze(small_events, config=AnalysisConfig().replace(privacy__min_segment_size=1,
                                                                   segments__max_share=1.0))
    html = render_report(result)
    assert html.index('id="actions"') < html.index('id="summary"')
    lists = _list_data(html)
    customers = result.customers
    for key, segment in (("ambassadors", "champions"), ("wake-up", "dormant_advocates"),
                         ("connectors", "connectors"), ("rising-stars", "rising_stars")):
        members = customers[customers["segment"] == segment].sort_values("influence_rank")
        if not len(members):
            assert key not in lists
            continue
        names = [c["name"] for c in lists[key]["columns"]]
        assert names[:2] == ["influence_rank", "customer_id"] and names[-1] == "segment_reason"
        rows = lists[key]["rows"]
        assert [r[1] for r in rows] == members["customer_id"].tolist()
        assert [r[-1] for r in rows] == members["segment_reason"].tolist()
    assert "ambassadors" in lists


def test_action_lists_are_capped_and_never_show_a_suppressed_segment():
    from influence.report.lists import action_lists

    n = 1200
    customers = pd.DataFrame({
        "customer_id": [f"c{i:05d}" for i in range(n)],
        "segment": ["champions"] * 700 + ["connectors"] * 3 + ["passive_audience"] * 497,
        "segment_reason": [f"reason {i}" for i in range(n)],
        "influence_rank": np.arange(n, 0, -1), "influence_score": np.linspace(0, 1, n),
        "out_strength": 1.0, "events_sent": 2})
    lists = {e["key"]: e for e in action_lists(customers, {"connectors"}, cap=500)}
    ambassadors = lists["ambassadors"]
    assert ambassadors["total"] == 700 and ambassadors["shown"] == 500
    assert [r[0] for r in ambassadors["data"]["rows"]] == list(range(501, 1001))
    assert lists["connectors"]["suppressed"] and lists["connectors"]["data"] is None
    assert lists["wake-up"]["total"] == 0 and lists["wake-up"]["data"] is None


def test_suppressed_segments_get_no_list_and_no_reason_in_the_page(small_events):
    result = analyze(small_events)                       # min_segment_size 10: all suppressed
    suppressed = set(result.manifest["segments"]["suppressed"])
    assert suppressed == set(result.customers["segment"])
    html = render_report(result)
    assert _list_data(html) == {}
    assert html.count("Not shown: fewer customers than the privacy setting") == len(
        {"champions", "dormant_advocates", "connectors", "rising_stars"} & suppressed)
    network = json.loads(dict(_scripts(html)[1])["network-data"])
    assert {node["segment"] for node in network["nodes"]} == {"suppressed"}
    assert network["segments"] == {}


def test_score_check_section_renders_the_documented_shape(small_events):
    result = analyze(small_events)
    html = render_report(result)
    assert 'id="score-check"' not in html
    result.manifest["score_check"] = {
        "horizon": 28, "split": "2026-03-01T00:00:00+00:00", "judged": 1234, "k": [100, 1000],
        "rows": [{"score": "influence_score", "precision_at_k": {"100": 0.5, "1000": 0.25},
                  "captured": {"100": 0.2, "1000": 0.6}},
                 {"score": "out_degree <b>", "precision_at_k": {"100": 0.4, "1000": 0.3},
                  "captured": {"100": 0.1}}]}
    html = render_report(result)
    section = html[html.index('<section id="score-check">'):]
    section = section[:section.index("</section>")]
    assert "28 days" in section and "2026-03-01" in section and "1,234 customers" in section
    assert "precision@100</th>" in section and "captured@1000</th>" in section
    assert '<td class="num best">0.500</td>' in section          # best precision@100
    assert '<td class="num best">0.300</td>' in section          # best precision@1000
    assert "out_degree &lt;b&gt;" in section and '<td class="num"></td>' in section
    assert html.index('id="score-check"') < html.index('id="summary"')
    for broken in ({"rows": "x"}, {"k": [], "rows": []}, "nonsense"):
        result.manifest["score_check"] = broken
        assert 'id="score-check"' not in render_report(result)


def test_kfactor_chart_by_cohort_segment_and_community(small_events):
    result = analyze(small_events)
    html = render_report(result)
    assert "Invites per referrer by cohort month, segment and community" in html
    assert "no <code>converted</code> column" in html and "<dt>K-factor</dt>" in html
    events = small_events.assign(converted=["", "", "", "", "", "", "", "true", ""])
    html = render_report(analyze(events))
    assert "K-factor by cohort month, segment and community" in html
    result.kfactor = None
    assert "by cohort month, segment and community" not in render_report(result)


def test_segment_styles_are_distinct_fixed_and_shared_by_every_figure():
    from influence.report.palette import MUTED, segment_styles
    from influence.segments import SEGMENTS

    custom = [f"custom_{i}" for i in range(20)]
    styles = segment_styles(list(SEGMENTS) + custom)
    pairs = [(s.color, s.pattern) for s in styles.values()]
    assert len(set(pairs)) == len(pairs)                       # 31 segments, all distinct
    assert len({s.color for s in styles.values()}) == len(MUTED) + 2   # + the two greys
    assert len({styles[s].color for s in SEGMENTS}) == len(SEGMENTS)
    # a built-in segment looks the same whatever else is in the report
    assert segment_styles(["champions"])["champions"] == styles["champions"]
    assert segment_styles(["vip", "champions"])["vip"].color not in {
        styles["champions"].color}


def test_json_text_keeps_every_value_inside_its_element():
    from influence.report.embed import json_text

    for value in HOSTILE + ("]]>", "</SCRIPT >", "\u2028\u2029", "a&b", "\\\\u003c"):
        text = str(json_text({"v": [value]}))
        assert not set(text) & set("<>&\u2028\u2029")
        assert json.loads(text) == {"v": [value]}


def test_vendored_assets_match_their_manifest():
    from importlib import resources

    from influence.report.vendor import asset, manifest, verify

    assert verify() == []
    listed = {f["to"] for a in manifest()["assets"] for f in a["files"]}
    shipped = {p.name for p in resources.files("influence.report.vendor").iterdir()
               if p.is_file() and not p.name.endswith((".py", ".json", ".pyc"))}
    assert listed == shipped
    for package in manifest()["assets"]:
        assert package["license"] == "MIT" and package["integrity"].startswith("sha512-")
        assert any(f["to"].startswith("LICENSE-") for f in package["files"])
    with pytest.raises(ValueError, match="not a vendored report asset"):
        asset("evil.js")


def test_links_to_the_results_files_only_with_a_folder(tmp_path, small_events):
    from influence.report import write_report

    folder = analyze(small_events).save(tmp_path / "results", format="parquet")
    elsewhere = tmp_path / "reports"
    elsewhere.mkdir()
    html = write_report(Analysis.load(folder), elsewhere / "r.html", folder=folder).read_text(
        encoding="utf-8")
    assert set(_check(html).refs) == {"customers.parquet", "edges.parquet",
                                      "kfactor.parquet"}
    assert html == render_report(Analysis.load(folder), folder=folder)  # same bytes anywhere
    assert _check(render_report(Analysis.load(folder))).refs == []


def test_report_is_byte_identical_across_fresh_processes(tmp_path, small_events):
    import subprocess
    import sys

    folder = analyze(small_events, seed=5).save(tmp_path / "out")
    code = ("import sys; from influence import Analysis; from influence.report import "
            "write_report; write_report(Analysis.load(sys.argv[1]), sys.argv[2], "
            "folder=sys.argv[1])")
    for name in ("a.html", "b.html"):
        subprocess.run([sys.executable, "-c", code, str(folder), str(tmp_path / name)],
                       check=True)
    assert (tmp_path / "a.html").read_bytes() == (tmp_path / "b.html").read_bytes()
    assert "network-data" in (tmp_path / "a.html").read_text(encoding="utf-8")


def test_degree_plot_draws_a_bounded_number_of_points():
    from influence.report.plots import thin_tail

    few = np.arange(1, 250)
    assert thin_tail(few).tolist() == list(range(len(few)))     # small data: every point
    sizes = [len(thin_tail(np.arange(1, n))) for n in (10_000, 100_000, 1_000_000)]
    assert sizes[-1] <= 300 + 60 * 6 and sizes[-1] - sizes[0] <= 2 * 60
    values = np.unique(np.r_[np.arange(1, 400), [10 ** 5, 10 ** 5 + 1]])
    drawn = values[thin_tail(values)]
    assert drawn[0] == 1 and 10 ** 5 in drawn and 10 ** 5 + 1 not in drawn  # one per bin


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
