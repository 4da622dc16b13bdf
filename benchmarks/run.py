"""Benchmark the analysis pipeline stage by stage on synthetic data.

One command::

    PYTHONPATH=. python benchmarks/run.py --sizes 10000,100000 [--networkx] [--sequential]

For each size N (customers; about 10 N events) it generates events with
:func:`influence.synth.generate_events` (cached as Parquet under ``--data``),
then, in a fresh worker process per size:

1. runs :func:`influence.analyze` and records its per-stage timings (wall and
   CPU), then ``Analysis.save(..., report=True)`` (the tables and report.html,
   as ``influence analyze`` writes them), the process's peak RSS and the peak
   PSS of the process and its forked Leiden worker together;
2. times the bare library kernels that the centrality and communities stages
   call (igraph PRPACK PageRank, coreness, Brandes betweenness from the same
   pivots, Leiden; scipy sparse products for HITS) on the same graph, and
   reports ``overhead = (centrality + communities stage work) / sum of kernels``
   (with Leiden in its worker process, its own seconds count, not the wait);
3. with ``--networkx``, runs a straightforward networkx implementation of the
   same metrics (graph build, PageRank, HITS, core number, betweenness with
   the same number of sampled sources, Louvain) and reports ``speedup =
   networkx seconds / our graph + centrality + communities seconds``.

It prints one table (Markdown) to stdout; progress goes to stderr. Not part of
the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _generate(n: int, data: Path, seed: int) -> tuple[Path, float]:
    path = data / f"synth-{n}-s{seed}.parquet"
    if path.exists():
        return path, float("nan")
    from influence.io import write_events
    from influence.synth import generate_events

    began = time.perf_counter()
    events, _ = generate_events(n, seed=seed)
    write_events(events, path)
    return path, time.perf_counter() - began


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class _TreeMemory:
    """Peak proportional set size (PSS) of this process plus its child processes,
    sampled every ``interval`` seconds from /proc (Linux). PSS splits pages shared
    between the parent and a forked worker, so the sum is the physical memory the
    run holds; RSS would count shared pages twice."""

    def __init__(self, interval: float = 0.5) -> None:
        import threading

        self.peak_mb = float("nan")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval,), daemon=True)
        if os.path.exists("/proc/self/smaps_rollup"):
            self.peak_mb = 0.0
            self._thread.start()

    @staticmethod
    def _pss_kb(pid: int) -> int:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as handle:
                for line in handle:
                    if line.startswith("Pss:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0

    @staticmethod
    def _children(pid: int) -> list[int]:
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as handle:
                        fields = handle.read().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == pid:
                    found.append(int(entry))
        return found

    def _run(self, interval: float) -> None:
        me = os.getpid()
        while not self._stop.wait(interval):
            total = self._pss_kb(me) + sum(self._pss_kb(c) for c in self._children(me))
            self.peak_mb = max(self.peak_mb, total / 1024.0)

    def stop(self) -> float:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        return self.peak_mb


def _kernels(graph, config) -> dict[str, float]:
    """Time the bare library calls the centrality and communities stages make."""
    import numpy as np
    import scipy.sparse as sp
    from threadpoolctl import threadpool_limits

    from influence.communities import _seeded_igraph_rng

    times: dict[str, float] = {}
    cpu_began = time.process_time()
    g = graph.graph
    rev = g.copy()
    rev.reverse_edges()
    began = time.perf_counter()
    with threadpool_limits(limits=1, user_api="openmp"):
        rev.pagerank(directed=True, damping=config.centrality.damping, weights="weight",
                     implementation="prpack")
    times["pagerank"] = time.perf_counter() - began
    und = graph.undirected()
    began = time.perf_counter()
    und.coreness(mode="all")
    times["coreness"] = time.perf_counter() - began
    n = graph.n_customers
    a = sp.csr_array((graph.edges["weight"].to_numpy(),
                      (graph.edges["src"].to_numpy(), graph.edges["dst"].to_numpy())),
                     shape=(n, n))
    at = a.T.tocsr()
    began = time.perf_counter()
    hub = np.full(n, 1.0 / n)
    for _ in range(1000):  # same stopping rule as influence.metrics.hits
        new = a @ (at @ hub)
        new /= new.sum()
        change = np.abs(new - hub).sum()
        hub = new
        if change < 1e-10:
            break
    times["hits"] = time.perf_counter() - began
    cen = config.centrality
    m = graph.n_edges
    began = time.perf_counter()
    if float(n) * m <= cen.betweenness_budget:
        g.betweenness(directed=True, weights=None)
        k = n
    else:
        k = int(min(n, max(cen.betweenness_min_pivots, cen.betweenness_budget // m)))
        pivots = np.sort(np.random.default_rng(config.communities.seed)
                         .choice(n, size=k, replace=False))
        g.betweenness(directed=True, weights=None, sources=pivots.tolist(), targets=None)
    times["betweenness"] = time.perf_counter() - began
    times["_pivots"] = k
    began = time.perf_counter()
    with _seeded_igraph_rng(config.communities.seed):
        und.community_leiden(objective_function="modularity", weights="weight",
                             resolution=config.communities.resolution, beta=0.01,
                             initial_membership=None,
                             n_iterations=config.communities.iterations)
    times["leiden"] = time.perf_counter() - began
    times["_cpu"] = time.process_time() - cpu_began
    return times


def _networkx(graph, pivots: int, seed: int) -> dict[str, float]:
    """A straightforward networkx implementation of the same metrics."""
    import networkx as nx

    times: dict[str, float] = {}
    began = time.perf_counter()
    src = graph.edges["src"].to_numpy().tolist()
    dst = graph.edges["dst"].to_numpy().tolist()
    w = graph.edges["weight"].to_numpy().tolist()
    g = nx.DiGraph()
    g.add_nodes_from(range(graph.n_customers))
    g.add_weighted_edges_from(zip(src, dst, w))
    und = nx.Graph()
    und.add_nodes_from(range(graph.n_customers))
    for u, v, x in zip(src, dst, w):
        if und.has_edge(u, v):
            und[u][v]["weight"] += x
        else:
            und.add_edge(u, v, weight=x)
    times["nx_build"] = time.perf_counter() - began
    began = time.perf_counter()
    nx.pagerank(g.reverse(copy=False), alpha=0.85, weight="weight")
    times["nx_pagerank"] = time.perf_counter() - began
    began = time.perf_counter()
    nx.hits(g)
    times["nx_hits"] = time.perf_counter() - began
    began = time.perf_counter()
    nx.core_number(und)
    times["nx_core_number"] = time.perf_counter() - began
    began = time.perf_counter()
    nx.betweenness_centrality(g, k=min(pivots, graph.n_customers), normalized=True,
                              weight=None, seed=seed)
    times["nx_betweenness"] = time.perf_counter() - began
    began = time.perf_counter()
    nx.community.louvain_communities(und, weight="weight", resolution=1.0, seed=seed)
    times["nx_louvain"] = time.perf_counter() - began
    return times


class _CpuClock:
    """Reporter recording each stage's CPU seconds (``time.process_time``): on a
    shared machine wall time swings with other load, single-threaded CPU time
    much less."""

    def __init__(self) -> None:
        self.cpu: dict[str, float] = {}
        self._start = 0.0

    def start(self, stage: str) -> None:
        self._start = time.process_time()

    def done(self, stage: str, seconds: float) -> None:
        self.cpu[stage] = self.cpu.get(stage, 0.0) + time.process_time() - self._start


def worker(path: str, with_networkx: bool, sequential: bool = False) -> dict:
    """Run one size in this process; returns a JSON-ready record."""
    import influence
    from influence.config import AnalysisConfig

    config = AnalysisConfig().replace(communities__parallel=not sequential)
    clock = _CpuClock()
    memory = _TreeMemory()
    began = time.perf_counter()
    cpu_began = time.process_time()
    result = influence.analyze(path, config=config, reporter=clock)
    total = time.perf_counter() - began
    record = {"rows": result.manifest["rows_read"], "customers": result.manifest["customers"],
              "edges": result.manifest["edges"], "stages": result.manifest["timings"],
              "stages_cpu": clock.cpu, "analyze_cpu_s": time.process_time() - cpu_began,
              "analyze_s": total, "peak_rss_mb": _peak_rss_mb(),
              "betweenness": result.manifest["betweenness"],
              "modularity": result.manifest["communities"]["modularity"]}
    import tempfile

    with tempfile.TemporaryDirectory(prefix="influence-bench-") as folder:
        began = time.perf_counter()
        result.save(folder, report=True)  # what `influence analyze` writes: tables + report
        record["save_s"] = time.perf_counter() - began
    record["peak_rss_mb"] = _peak_rss_mb()
    record["peak_pss_mb"] = memory.stop()
    _log(f"  analyze {total:.1f} s, save + report {record['save_s']:.1f} s, "
         f"peak RSS {record['peak_rss_mb']:.0f} MiB, peak PSS with the worker "
         f"{record['peak_pss_mb']:.0f} MiB; kernels ...")
    record["kernels"] = _kernels(result.graph, config)
    if with_networkx:
        _log("  networkx ...")
        record["networkx"] = _networkx(result.graph, record["kernels"]["_pivots"],
                                       config.communities.seed)
    return record


def _table(rows: list[dict]) -> str:
    stages = ["read", "validate", "graph", "centrality", "activity", "score", "referrals", "reach",
              "communities", "propagators", "rank", "spread", "segments", "profiles"]
    head = (["rows", "customers", "edges"] + [f"{s} s" for s in stages]
            + ["analyze s", "analyze CPU s", "save + report s", "command s", "peak RSS MiB",
               "peak PSS MiB",
               "kernels s", "overhead x",
               "pivots"])
    has_nx = any("networkx" in r for r in rows)
    if has_nx:
        head += ["networkx s", "speedup x"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---:|" * len(head)]
    for r in rows:
        kern = {k: v for k, v in r["kernels"].items() if not k.startswith("_")}
        kernel_s = sum(kern.values())
        st = r["stages"]
        # work of the two stages: Leiden's own seconds count, not the time the main
        # process waited for its worker (it ran beside centrality)
        ours = (st.get("centrality", 0) + st.get("communities", 0)
                - st.get("leiden_wait", 0) + st.get("leiden", 0))
        cells = [f"{r['rows']:,}", f"{r['customers']:,}", f"{r['edges']:,}"]
        cells += [f"{r['stages'].get(s, float('nan')):.2f}" for s in stages]
        save_s = r.get("save_s", float("nan"))
        cells += [f"{r['analyze_s']:.1f}", f"{r['analyze_cpu_s']:.1f}", f"{save_s:.1f}",
                  f"{r['analyze_s'] + save_s:.1f}", f"{r['peak_rss_mb']:.0f}",
                  f"{r.get('peak_pss_mb', float('nan')):.0f}", f"{kernel_s:.2f}",
                  f"{ours / kernel_s:.2f}", str(r["kernels"]["_pivots"])]
        if has_nx:
            if "networkx" in r:
                nx_s = sum(r["networkx"].values())
                mine = ours + r["stages"].get("graph", 0)
                cells += [f"{nx_s:.1f}", f"{nx_s / mine:.1f}"]
            else:
                cells += ["", ""]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000",
                        help="comma-separated customer counts (about 10 events each)")
    parser.add_argument("--networkx", action="store_true",
                        help="also time networkx on sizes <= --networkx-max")
    parser.add_argument("--networkx-max", type=int, default=100_000)
    parser.add_argument("--data", default=str(ROOT / "benchmarks" / "data"),
                        help="where generated events are cached")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", help="also write the raw records to this file")
    parser.add_argument("--sequential", action="store_true",
                        help="run Leiden in the main process ([communities] parallel = "
                             "false): clean per-stage times for the two ratios")
    parser.add_argument("--worker", nargs=3, metavar=("PATH", "NX", "SEQ"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker[0], args.worker[1] == "1", args.worker[2] == "1")))
        return 0
    data = Path(args.data)
    data.mkdir(parents=True, exist_ok=True)
    rows = []
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    for n in [int(s) for s in args.sizes.split(",") if s]:
        _log(f"size {n:,}: generating ...")
        path, gen_s = _generate(n, data, args.seed)
        _log(f"  {path} ({'cached' if gen_s != gen_s else f'{gen_s:.1f} s'})")
        nx_flag = "1" if args.networkx and n <= args.networkx_max else "0"
        out = subprocess.run([sys.executable, __file__, "--worker", str(path), nx_flag,
                              "1" if args.sequential else "0"],
                             env=env, stdout=subprocess.PIPE, check=True, text=True)
        record = json.loads(out.stdout.strip().splitlines()[-1])
        record["size"] = n
        rows.append(record)
        _log(json.dumps(record))
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, Leiden "
          f"{'in the main process' if args.sequential else 'in a worker beside centrality'}")
    print(_table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
