"""Do the scores and segments hold up on real data? Out-of-time tables (issue 16).

    PYTHONPATH=. python benchmarks/validity.py [--data /work/shared/data] [--synth 20000]
        [--sections score,selfcheck,segments,communities,cost] [--horizon 30]
        [--fracs 0.6,0.7,0.8] [--bootstrap 200] [--cost-size 100000]

Datasets: every timestamped real dataset in ``--data`` (CollegeMsg, read
forward: the sender of a message influenced its recipient, and reverse: the
recipient's earlier contact moved the sender to write; sx-mathoverflow's a2q,
c2q and c2a layers each and combined, "reverse" as in
``benchmarks/mathoverflow.toml``: the post's author influenced who answered or
commented) and generated data (:func:`influence.synth.generate_events`, two
seeds). Sections:

``score``
    For each dataset and each split at 60/70/80% of its time range:
    :func:`influence.backtest.backtest` (scores on the events before the split,
    judged by the later influence in the next ``--horizon`` days, the target
    defined in ``docs/backtest.md``) at k = 100 and 1000, plus candidate scores
    computed here from the same events. Prints capture (share of the later
    influence the top k carry) and precision@k of every score, the oracle, and a
    summary of ``expected_influence`` and ``influence_score`` against the best
    single-metric baseline with a paired bootstrap standard error.
``selfcheck``
    The inner backtest a run would print (:func:`influence.metrics.score.self_check`):
    the score set one horizon before the end, judged on the last horizon.
``segments``
    ``analyze``'s segments (relative rules, capped action segments: issue 16)
    as shares of the customers with events, how many champions or dormant
    advocates never acted, the seconds of ``analyze``, its score and spread
    stages; on generated data the planted-truth precision and recall.
``communities``
    Leiden NMI against the ground truth of the labelled graphs for candidate
    default changes.
``cost``
    Seconds of the score's features, calibration and self-check on generated
    data of ``--cost-size`` customers (about 10 events each).

Results: ``docs/validity.md``. Not part of the test suite. The score section takes about 8
minutes on 2 busy cores, the segments section 5 (``analyze`` of the mathoverflow layers).
"""

from __future__ import annotations

import argparse
import gzip
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from influence import AnalysisConfig, analyze, config_from_dict
from influence.backtest import backtest, evaluate_scores
from influence.graph import encode_events
from influence.metrics import score as S
from influence.synth import generate_events
from influence.validation import clean_events

DAY_NS = 86_400e9
BASELINES = ("received", "out_degree", "received_7d", "pagerank", "out_strength", "events",
             "events_sent")
ACTION_SEGMENTS = ("champions", "dormant_advocates", "connectors", "local_leaders",
                   "rising_stars", "quiet_influencers")
MO_TYPES = {"a2q": {"flow": "reverse", "weight": 2.0}, "c2q": {"flow": "reverse", "weight": 1.0},
            "c2a": {"flow": "reverse", "weight": 1.0}}


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def markdown(table: pd.DataFrame, floatfmt: str = ".3f", index: bool = True) -> str:
    """A pipe table (what ``DataFrame.to_markdown`` prints, without tabulate)."""
    frame = table.reset_index() if index else table
    def cell(v):
        if isinstance(v, (float, np.floating)):
            return "" if np.isnan(v) else format(v, floatfmt)
        return str(v)
    head = [str(c) for c in frame.columns]
    body = [[cell(v) for v in row] for row in frame.itertuples(index=False)]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)


# --------------------------------------------------------------------------- datasets

def datasets(data: Path, synth: int) -> list[tuple[str, pd.DataFrame, AnalysisConfig, object]]:
    """(name, events, config, planted truth or None) for every dataset found."""
    out = []
    college = data / "collegemsg" / "CollegeMsg.txt.gz"
    if college.exists():
        events = pd.read_csv(college, sep=" ", header=None, dtype=str,
                             names=["source", "target", "timestamp"]).assign(type="message")
        for flow, short in (("forward", "fwd"), ("reverse", "rev")):
            config = config_from_dict({"types": {"message": {"flow": flow, "weight": 1.0}}})
            out.append((f"collegemsg-{short}", events, config, None))
    folder = data / "sx-mathoverflow"
    if folder.exists():
        layers = {kind: pd.read_csv(folder / f"sx-mathoverflow-{kind}.txt.gz", sep=" ",
                                    header=None, names=["source", "target", "timestamp"],
                                    dtype=str).assign(type=kind)
                  for kind in ("a2q", "c2q", "c2a")}
        for kind, events in layers.items():
            out.append((f"mo-{kind}", events, config_from_dict({"types": {kind: MO_TYPES[kind]}}),
                        None))
        out.append(("mo-all", pd.concat(layers.values(), ignore_index=True),
                    config_from_dict({"types": MO_TYPES}), None))
    for seed in (0, 1):
        events, truth = generate_events(synth, seed=seed)
        out.append((f"generated-s{seed}", events, AnalysisConfig(), truth))
    return out


class History:
    """The clean events of one dataset as the arrays :mod:`influence.metrics.score` takes."""

    def __init__(self, events: pd.DataFrame, config: AnalysisConfig) -> None:
        clean = clean_events(events, config)
        ev = clean.events
        self.ids = clean.ids
        self.n = len(self.ids)
        self.source, self.target = encode_events(ev, self.ids)
        flows = {k: v.flow == "reverse" for k, v in config.types.items()}
        self.reverse = ev["type"].map(flows).astype(bool).to_numpy()
        self.days = ev["timestamp"].to_numpy(dtype="datetime64[ns]").view(np.int64) / DAY_NS
        self.converted = (ev["converted"].fillna(False).to_numpy(dtype=bool)
                          if "converted" in ev else None)
        self.rows, self.by, _ = S.influence_events(self.source, self.target, self.reverse)

    def features(self, end: float) -> np.ndarray:
        return S.decayed_influence(self.by, self.days[self.rows], end, self.n)

    def split(self, frac: float) -> pd.Timestamp:
        lo, hi = self.days.min(), self.days.max()
        return pd.Timestamp(int(np.floor(lo + frac * (hi - lo)) * DAY_NS), tz="UTC")


# --------------------------------------------------------------------------- score

def candidates(history: History, end: float, horizon: float) -> dict[str, np.ndarray]:
    """Candidate scores measured beside ``expected_influence`` (one value per vertex)."""
    from scipy.optimize import nnls

    features = history.features(end)
    out = {"prior_formula": features @ S.prior_weights(horizon)}
    split = end - horizon
    inner = history.features(split)
    active = np.zeros(history.n, dtype=bool)
    before = history.days < split
    active[history.source[before]] = True
    targets = history.target[before]
    active[targets[targets >= 0]] = True
    judged = np.flatnonzero(active)
    later = S.later_influence(history.source, history.target, history.reverse, history.days,
                              split, end, history.n, converted=history.converted)[judged]
    x = inner[judged]
    scale = np.where(x.mean(axis=0) > 0, x.mean(axis=0), 1.0)
    weights, _ = nnls(x / scale, later.astype(float))
    out["least_squares_fit"] = features @ (weights / scale)
    best = max(range(len(S.HALF_LIVES)), key=lambda j: sum(
        S.top_k_metrics(x[:, j], later, k)["capture"] for k in (100, 1000)))
    out["best_half_life"] = features[:, best]
    return out


def _bootstrap_se(a: np.ndarray, b: np.ndarray, later: np.ndarray, k: int, metric: str,
                  reps: int, seed: int = 0) -> float:
    """Standard error of metric(a) - metric(b), resampling judged customers (paired)."""
    if reps <= 0:
        return float("nan")
    rng = np.random.default_rng(seed)
    n = len(later)
    diffs = []
    for _ in range(reps):
        pick = np.sort(rng.integers(0, n, n))
        diffs.append(S.top_k_metrics(a[pick], later[pick], k)[metric]
                     - S.top_k_metrics(b[pick], later[pick], k)[metric])
    return float(np.std(diffs, ddof=1))


def score_section(cases, fracs, horizon, reps) -> pd.DataFrame:
    rows, summary = [], []
    ks = (100, 1000)
    for name, events, config, _ in cases:
        history = History(events, config)
        fast = config.replace(propagators__k=0, centrality__betweenness=False)
        for frac in fracs:
            split = history.split(frac)
            began = time.perf_counter()
            result = backtest(events, split, horizon=f"{horizon:g}d", k=list(ks), config=fast)
            judged = result.customers
            position = history.ids.get_indexer(judged["customer_id"])
            for cname, values in candidates(history, split.value / DAY_NS, horizon).items():
                judged[cname] = values[position]
            extra = [c for c in judged.columns if c in ("prior_formula", "least_squares_fit",
                                                        "best_half_life")]
            table = pd.concat([result.scores] + [
                evaluate_scores(judged, extra, k).query("score not in ('oracle', 'random')")
                for k in ks], ignore_index=True)
            for row in table.itertuples():
                rows.append({"data": name, "split": f"{frac:.0%}", "score": row.score,
                             "k": row.k, "capture": row.captured_spread,
                             "precision": row.precision_at_k})
            later = judged["spread"].to_numpy(dtype=float)
            sub = table.set_index(["score", "k"])
            for k in sorted(set(table["k"])):
                for metric, column in (("capture", "captured_spread"),
                                       ("precision", "precision_at_k")):
                    base = {b: sub.loc[(b, k), column] for b in BASELINES}
                    best = max(base, key=base.get)
                    for cand in ("expected_influence", "influence_score"):
                        diff = sub.loc[(cand, k), column] - base[best]
                        se = _bootstrap_se(judged[cand].to_numpy(float),
                                           judged[best].to_numpy(float), later, k, metric,
                                           reps if cand == "expected_influence" else 0)
                        summary.append({"data": name, "split": f"{frac:.0%}", "k": k,
                                        "metric": metric, "score": cand, "best_baseline": best,
                                        "baseline": base[best], "value": sub.loc[(cand, k),
                                                                                 column],
                                        "diff": diff, "se": se})
            _log(f"score: {name} split {split.date()} ({frac:.0%}): judged "
                 f"{result.summary['judged_customers']}, later influence "
                 f"{result.summary['spread_total']}, {time.perf_counter() - began:.1f} s")
    results = pd.DataFrame(rows)
    summary = pd.DataFrame(summary)
    order = ["expected_influence", "influence_score", "prior_formula", "least_squares_fit",
             "best_half_life", *BASELINES, "propagator_rank", "oracle", "random"]
    for name in results["data"].unique():
        part = results[results["data"] == name]
        wide = part.pivot_table(index="score", columns=["split", "k"],
                                values=["capture", "precision"])
        wide = wide.reorder_levels([1, 0, 2], axis=1).sort_index(axis=1)
        wide.columns = [f"{s} {m[:4]}@{k}" for s, m, k in wide.columns]
        wide = wide.reindex([s for s in order if s in wide.index])
        print(f"\n### {name}: capture and precision at k, by split (horizon {horizon:g} days)\n")
        print(markdown(wide, floatfmt=".3f"))
    print("\n### Per dataset: influence_score, each baseline and the oracle (mean of the "
          "splits)\n")
    table = results[results["score"].isin(["influence_score", *BASELINES, "oracle"])]
    table = table.groupby(["data", "score", "k"], sort=False)[["capture", "precision"]].mean()
    table = table.unstack("k")
    table.columns = [f"{m}@{k}" for m, k in table.columns]
    for name in results["data"].unique():
        print(f"\n{name}\n")
        part = table.loc[name].reindex(["influence_score", *BASELINES, "oracle"])
        print(markdown(part, floatfmt=".3f"))
    print("\n### expected_influence and influence_score against the best single baseline\n")
    for cand in ("expected_influence", "influence_score"):
        part = summary[summary["score"] == cand]
        wins = (part["diff"] > 1e-9).sum()
        ties = (part["diff"].abs() <= 1e-9).sum()
        print(f"{cand}: wins {wins}, ties {ties}, losses {len(part) - wins - ties} of "
              f"{len(part)} (dataset x split x k x metric); mean difference "
              f"{part['diff'].mean():+.3f}")
    part = summary[summary["score"] == "expected_influence"].copy()
    part["z"] = part["diff"] / part["se"]
    print("\nexpected_influence - best baseline (2 SE, paired bootstrap):\n")
    table = part.assign(cell=[f"{d:+.3f} ({2 * e:.3f})" for d, e in zip(part["diff"],
                                                                          part["se"])])
    table = table.pivot(index=["data", "split"], columns=["metric", "k"], values="cell")
    table.columns = [f"{m}@{k}" for m, k in table.columns]
    print(markdown(table))
    losses = part[part["diff"] < -1e-9]
    if len(losses):
        print("\nlosses:\n")
        print(markdown(losses[["data", "split", "k", "metric", "best_baseline", "baseline",
                               "value", "diff", "se"]], index=False))
    return summary


# --------------------------------------------------------------------------- self-check

def selfcheck_section(cases, horizon) -> None:
    from influence.graph import build_graph
    from influence.metrics import pagerank

    print(f"\n### Inner backtest (self-check): score set {horizon:g} days before the end, "
          f"judged on the last {horizon:g} days\n")
    for name, events, config, _ in cases:
        history = History(events, config)
        end = history.days.max() + 1.0 / 86_400
        began = time.perf_counter()
        table, summary = S.self_check(history.source, history.target, history.reverse,
                                      history.days, history.n, end=end,
                                      converted=history.converted, horizon_days=horizon)
        seconds = time.perf_counter() - began
        if table.empty:
            print(f"{name}: skipped ({summary['skipped']})")
            continue
        # PageRank on the events before the check, for comparison (a second graph: not
        # what a run would do, see docs/validity.md)
        before = history.days < summary["check"]
        clean = clean_events(events, config).events[before]
        graph = build_graph(clean, history.ids, config,
                            (history.source[before], history.target[before]))
        pr = pagerank(graph)
        judged = np.zeros(history.n, dtype=bool)
        judged[history.source[before]] = True
        t = history.target[before]
        judged[t[t >= 0]] = True
        later = S.later_influence(history.source, history.target, history.reverse,
                                  history.days, summary["check"], end, history.n,
                                  converted=history.converted)[judged]
        extra = [{"score": "pagerank", **S.top_k_metrics(pr[judged], later, k)}
                 for k in (100, 1000)]
        table = pd.concat([table, pd.DataFrame(extra)], ignore_index=True)
        wide = table.pivot_table(index="score", columns="k", values=["capture", "precision"])
        wide.columns = [f"{m}@{k}" for m, k in wide.columns]
        model = summary["model"]
        check = pd.Timestamp(int(summary["check"] * DAY_NS), tz="UTC").date()
        print(f"\n{name}: checked on {check} .. end; {summary['judged']} customers judged, "
              f"{summary['spreaders']} exerted influence ({summary['later_total']} events); "
              f"weights {model['method']} {[round(w, 4) for w in model['weights']]} "
              f"(half-lives {model['half_lives']}, shrink {model['shrink']:.2f}); "
              f"{seconds:.2f} s\n")
        print(markdown(wide, floatfmt=".3f"))


# --------------------------------------------------------------------------- segments

def _shares(segment: np.ndarray, active: np.ndarray) -> dict[str, float]:
    values, counts = np.unique(segment[active], return_counts=True)
    return {v: c / active.sum() for v, c in zip(values, counts)}


def segments_section(cases, max_share: float, horizon: float) -> None:
    """The product's segments (``analyze`` with the dataset's config and defaults) as
    shares of the customers with events, and planted truth on generated data; with
    the seconds of ``analyze`` and of its spread stage (``expected_spread`` from IMM's
    RR sets, the default since issue 16)."""
    rows, planted = [], []
    for name, events, config, truth in cases:
        if name == "collegemsg-rev":
            continue
        began = time.perf_counter()
        result = analyze(events, config=config.replace(segments__max_share=max_share))
        seconds = time.perf_counter() - began
        customers = result.customers
        segment = customers["segment"].astype(str).to_numpy()
        active = ((customers["events_sent"] + customers["events_received"]) > 0).to_numpy()
        never = ((customers["events_sent"] == 0) | (customers["out_strength"] == 0)).to_numpy()
        shares = _shares(segment, active)
        row = {"data": name, "active": int(active.sum())}
        row.update({s: shares.get(s, 0.0) for s in ACTION_SEGMENTS})
        row["champions or dormant who never acted"] = int(
            (np.isin(segment, ["champions", "dormant_advocates"]) & never).sum())
        row["key propagators"] = int(customers["propagator_rank"].notna().sum())
        timings = result.manifest["timings"]
        row["analyze s"] = round(seconds, 1)
        row["score s"] = round(timings.get("score", 0.0), 2)
        row["spread s"] = round(timings.get("spread", 0.0), 2)
        rows.append(row)
        if truth is not None:
            role = truth.set_index("customer_id")["role"].reindex(
                customers["customer_id"]).to_numpy()
            for seg, planted_role in (("champions", "propagator"),
                                      ("dormant_advocates", "dormant")):
                members = segment == seg
                hits = int((members & (role == planted_role)).sum())
                total = int((role == planted_role).sum())
                planted.append({"data": name, "segment": seg,
                                "planted": f"{planted_role} ({total})",
                                "size": int(members.sum()), "hits": hits,
                                "precision": hits / max(int(members.sum()), 1),
                                "recall": hits / max(total, 1)})
        _log(f"segments: {name} analyzed in {seconds:.1f} s")
    print(f"\n### Action segments as shares of the customers with events (cap {max_share:.0%})\n")
    print(markdown(pd.DataFrame(rows), index=False))
    if planted:
        print("\n### Planted truth on generated data\n")
        print(markdown(pd.DataFrame(planted), index=False))


# --------------------------------------------------------------------------- communities

def communities_section(data: Path) -> None:
    import networkx as nx
    import scipy.sparse as sp

    from influence.communities import detect_communities, modularity
    from influence.graph import InfluenceGraph, _igraph, build_graph
    from influence.validation import customer_universe

    def nmi(a, b) -> float:
        table = pd.crosstab(np.asarray(a), np.asarray(b)).to_numpy() / len(a)
        pa, pb = table.sum(1), table.sum(0)
        nz = table > 0
        mi = (table[nz] * np.log(table[nz] / np.outer(pa, pb)[nz])).sum()
        h = lambda p: -(p[p > 0] * np.log(p[p > 0])).sum()  # noqa: E731
        return float(2 * mi / (h(pa) + h(pb)))

    def graph_of(events: pd.DataFrame, config: AnalysisConfig):
        clean = clean_events(events, config)
        ids = customer_universe(events)
        return build_graph(clean.events, ids, config, encode_events(clean.events, ids))

    cases = {}
    gt = data / "community-benchmarks-gt"
    for name in ("karate", "football", "polbooks", "dolphins", "eu-core"):
        if (gt / f"{name}.gml").exists():
            g = nx.read_gml(gt / f"{name}.gml")
            events = pd.DataFrame([(str(u), str(v)) for u, v in g.edges()],
                                  columns=["source", "target"]).assign(type="share")
            graph = graph_of(events, AnalysisConfig())
            truth = {str(k): str(v) for k, v in nx.get_node_attributes(g, "gt").items()}
            cases[name] = (graph, np.array([truth[i] for i in graph.ids]))
    folder = data / "email-eu-core"
    if folder.exists():
        with gzip.open(folder / "email-Eu-core.txt.gz", "rt") as handle:
            pairs = [line.split() for line in handle if line.strip()]
        events = pd.DataFrame(pairs, columns=["source", "target"]).assign(type="message")
        config = config_from_dict({"types": {"message": {"flow": "forward", "weight": 1.0}}})
        graph = graph_of(events, config)
        labels = pd.read_csv(folder / "email-Eu-core-department-labels.txt", sep=r"\s+",
                             header=None, names=["id", "d"], dtype=str).set_index("id")["d"]
        cases["email-eu-core (directed)"] = (graph, labels.reindex(graph.ids).to_numpy())

    def reweighted(graph, how: str):
        und = graph.undirected_edges()
        a, b = und["low"].to_numpy(), und["high"].to_numpy()
        w = und["weight"].to_numpy()
        n = graph.n_customers
        adj = sp.csr_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
        adj = adj + adj.T
        common = np.asarray(adj[a].multiply(adj[b]).sum(axis=1)).ravel()
        if how == "common_neighbours":
            w = w * (1 + common)
        else:
            degree = np.asarray(adj.sum(axis=1)).ravel()
            w = w * (common + 1) / (degree[a] + degree[b] - common - 1)
        out = InfluenceGraph(ids=graph.ids, edges=graph.edges, graph=graph.graph)
        out._undirected_edges = pd.DataFrame({"low": a, "high": b, "weight": w})
        out._undirected = _igraph(n, a, b, w, directed=False)
        return out

    variants = {
        "default (res 1, 2 it.)": lambda g, s: detect_communities(g, seed=s),
        "iterations -1": lambda g, s: detect_communities(g, seed=s, iterations=-1),
        "resolution 1.25": lambda g, s: detect_communities(g, seed=s, resolution=1.25),
        "resolution 1.5": lambda g, s: detect_communities(g, seed=s, resolution=1.5),
        "best modularity of 10 seeds": None,
        "common-neighbour weights": lambda g, s: detect_communities(
            reweighted(g, "common_neighbours"), seed=s),
        "Jaccard weights": lambda g, s: detect_communities(reweighted(g, "jaccard"), seed=s),
    }
    rows = []
    for vname, run in variants.items():
        row = {"variant": vname}
        for cname, (graph, truth) in cases.items():
            if run is None:
                values = []
                for s in range(5):
                    parts = [detect_communities(graph, seed=10 * s + j) for j in range(10)]
                    q = [modularity(graph, p) for p in parts]
                    values.append(nmi(parts[int(np.argmax(q))], truth))
            else:
                values = [nmi(run(graph, s), truth) for s in range(5)]
            row[cname] = f"{values[0]:.3f} / {np.mean(values):.3f}"
        rows.append(row)
    print("\n### Leiden NMI against ground truth: seed 0 / mean of 5 seeds\n")
    print(markdown(pd.DataFrame(rows), index=False))


# --------------------------------------------------------------------------- cost

def cost_section(size: int, horizon: float) -> None:
    """Wall and CPU seconds of each step the score would add to ``analyze``."""
    began = time.perf_counter()
    events, _ = generate_events(size, seed=0)
    history = History(events, AnalysisConfig())
    del events
    _log(f"cost: generated and cleaned {len(history.days)} events in "
         f"{time.perf_counter() - began:.1f} s")
    end = history.days.max() + 1.0 / 86_400
    timings = {}

    def timed(label, call):
        wall, cpu = time.perf_counter(), time.process_time()
        out = call()
        timings[label] = {"wall s": time.perf_counter() - wall,
                          "cpu s": time.process_time() - cpu}
        return out

    run = timed("fit_and_check: features at end, calibration, self-check (what a run adds)",
                lambda: S.fit_and_check(history.source, history.target, history.reverse,
                                        history.days, history.n, end=end,
                                        converted=history.converted, horizon_days=horizon))
    expected = timed("expected_influence + contributions", lambda: S.expected_influence(
        run.features, run.model.weights))
    shares = S.contributions(run.features, run.model.weights)
    timed("reason_text", lambda: S.reason_text(expected, shares))
    timed("  of which: decayed_influence (4 half-lives, one time)",
          lambda: history.features(end))
    timed("  of which: later_influence (one period)", lambda: S.later_influence(
        history.source, history.target, history.reverse, history.days, end - horizon, end,
        history.n, converted=history.converted))
    timed("  of which: baseline_scores (one time)", lambda: S.baseline_scores(
        history.source, history.target, history.reverse, history.days, end - horizon,
        history.n))
    table = pd.DataFrame(timings).T
    table.loc["total (first three rows)"] = table.iloc[:3].sum()
    print(f"\n### Cost at {history.n:,} customers, {len(history.days):,} events\n")
    print(markdown(table, floatfmt=".2f"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="/work/shared/data")
    parser.add_argument("--synth", type=int, default=20_000)
    parser.add_argument("--sections", default="score,selfcheck,segments,communities,cost")
    parser.add_argument("--horizon", type=float, default=S.HORIZON_DAYS)
    parser.add_argument("--fracs", default="0.6,0.7,0.8")
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--max-share", type=float, default=0.10)
    parser.add_argument("--cost-size", type=int, default=100_000)
    parser.add_argument("--only", default="", help="comma-separated dataset names")
    parser.add_argument("--all-influence", action="store_true",
                        help="features count every influence event, not only those "
                             "followed by activity (the first version of the score)")
    args = parser.parse_args(argv)
    if args.all_influence:
        S.FOLLOWED = False
    sections = set(args.sections.split(","))
    data = Path(args.data)
    cases = []
    if sections & {"score", "selfcheck", "segments"}:
        cases = datasets(data, args.synth)
        if args.only:
            cases = [c for c in cases if c[0] in args.only.split(",")]
    if "score" in sections:
        score_section(cases, [float(f) for f in args.fracs.split(",")], args.horizon,
                      args.bootstrap)
    if "selfcheck" in sections:
        selfcheck_section(cases, args.horizon)
    if "segments" in sections:
        segments_section(cases, args.max_share, args.horizon)
    if "communities" in sections:
        communities_section(data)
    if "cost" in sections:
        cost_section(args.cost_size, args.horizon)
    return 0


if __name__ == "__main__":
    sys.exit(main())
