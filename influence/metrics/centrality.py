"""Centrality on the influence-flow graph: how much weight a customer carries.

Direction convention (see :mod:`influence.schema`): an edge ``u -> v`` means
"u influenced v"; its weight is the summed weight of the events behind it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from threadpoolctl import ThreadpoolController

from ..graph import InfluenceGraph

__all__ = ["strength", "pagerank", "coreness", "hits", "betweenness", "Betweenness",
           "influence_score", "MEASURED_ERROR"]


def strength(graph: InfluenceGraph, mode: str) -> np.ndarray:
    """Weighted degree.

    Parameters
    ----------
    graph : InfluenceGraph
    mode : {"out", "in"}
        ``out``: influence exerted, the total weight of influence edges leaving
        the customer. ``in``: influence received.

    Returns
    -------
    numpy.ndarray of float64, one value per vertex.
    """
    if mode not in ("out", "in"):
        raise ValueError(f"mode must be 'out' or 'in'; got {mode!r}")
    column = "src" if mode == "out" else "dst"
    return np.bincount(graph.edges[column].to_numpy(), weights=graph.edges["weight"].to_numpy(),
                       minlength=graph.n_customers).astype(np.float64)


def unit_scaled(weights: np.ndarray) -> np.ndarray:
    """``weights`` times the power of two that puts the largest in [0.5, 1).

    Multiplying by a power of two is exact, so a scale-free algorithm (PageRank,
    HITS) gives bit-identical results on the scaled weights, and its sums and
    products stay far from overflow and underflow whatever the input's scale.
    Weights that are then subnormal (below 2.2e-308, so under 1e-307 of the
    largest: events decayed by a thousand half-lives) count as zero, since
    solvers divide by them. All-zero (or empty) weights are returned as they are.

    >>> unit_scaled(np.array([3.0, 1.5, 0.0, 1e-320])).tolist()
    [0.75, 0.375, 0.0, 0.0]
    """
    top = weights.max() if len(weights) else 0.0
    if not (top > 0 and np.isfinite(top)):
        return weights
    scaled = np.ldexp(weights, -int(np.frexp(top)[1]))
    return np.where(scaled < np.finfo(np.float64).tiny, 0.0, scaled)


@functools.cache
def _openmp() -> ThreadpoolController:
    """The process's thread pools, scanned once (each scan reads /proc/self/maps); igraph's
    OpenMP is loaded with this module, before the first scan."""
    return ThreadpoolController()


def pagerank(graph: InfluenceGraph, *, damping: float = 0.85) -> np.ndarray:
    """Weighted PageRank of influence, run on the *reversed* influence graph.

    Standard PageRank rewards a vertex for the links it *receives*. On the
    influence-flow graph that would rank the most-influenced customers. We run
    it on the reversed graph (``v -> u`` for every ``u -> v``), so a customer
    scores high when they influence many customers who themselves influence
    many: influence that carries on beyond one hop. Each influence edge passes
    score in proportion to its weight. Dangling vertices (nobody they
    influenced) jump uniformly.

    Parameters
    ----------
    graph : InfluenceGraph
    damping : float, default=0.85
        Probability of following an edge rather than jumping; in (0, 1).

    Returns
    -------
    numpy.ndarray of float64, one value per vertex, summing to 1.

    Notes
    -----
    igraph's PRPACK solver (a near-exact linear solve). PRPACK sums in parallel
    under OpenMP, in an order that varies between runs; we pin it to one thread
    so scores are bit-identical from run to run. The weights are scaled by a
    power of two first (:func:`unit_scaled`): exact, and PageRank does not
    depend on their scale, but weights that decayed to subnormal numbers no
    longer give NaN.

    References
    ----------
    .. [1] Brin, S. and Page, L. (1998). The anatomy of a large-scale
       hypertextual web search engine. Computer Networks and ISDN Systems 30,
       107-117. doi:10.1016/S0169-7552(98)00110-X
    """
    reversed_graph = graph.graph.copy()
    reversed_graph.reverse_edges()
    weights = unit_scaled(np.asarray(reversed_graph.es["weight"], dtype=np.float64))
    with _openmp().limit(limits=1, user_api="openmp"):
        scores = reversed_graph.pagerank(directed=True, damping=damping,
                                         weights=weights.tolist(), implementation="prpack")
    return np.asarray(scores, dtype=np.float64)


def coreness(graph: InfluenceGraph) -> np.ndarray:
    """k-core number on the undirected simple graph (direction and weight ignored).

    A customer has coreness k when they belong to a group in which everyone
    interacts with at least k others of the group: how deep in the dense core
    of the network they sit.

    Returns
    -------
    numpy.ndarray of int64, one value per vertex.

    References
    ----------
    .. [1] Batagelj, V. and Zaversnik, M. (2003). An O(m) algorithm for cores
       decomposition of networks. arXiv:cs/0310049.
    """
    return np.asarray(graph.undirected().coreness(mode="all"), dtype=np.int64)


def hits(graph: InfluenceGraph, *, tol: float = 1e-10,
         max_iter: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """Weighted HITS hub and authority scores on the influence-flow graph.

    A customer is a good **hub** when they influence good authorities, and a
    good **authority** when good hubs influence them: ``hub = A @ authority``,
    ``authority = A.T @ hub``, where ``A[u, v]`` is the weight of the influence
    edge ``u -> v`` (so hubs are the senders of influence, authorities its
    receivers). The scores are the leading left and right singular vectors of
    ``A``, each normalised to sum to 1 (as networkx does).

    Parameters
    ----------
    graph : InfluenceGraph
    tol : float, default=1e-10
        Stop when the L1 change of the (sum-1) hub vector is below ``tol``.
    max_iter : int, default=1000
        Upper bound on power iterations.

    Returns
    -------
    hub, authority : numpy.ndarray of float64
        One value per vertex, each summing to 1 (all zeros without edges, or
        when every edge weight is zero).

    Notes
    -----
    Power iteration on ``A @ A.T`` with scipy sparse products: single-threaded
    and started from the uniform vector, so results are bit-identical from run
    to run (igraph's ARPACK solver draws a random start vector). Each iteration
    costs two sparse products, O(m). When the top singular value is not unique
    (e.g. two disconnected components of equal strength) HITS itself is not
    unique; the power iteration then returns a mixture fixed by the start.

    References
    ----------
    .. [1] Kleinberg, J. M. (1999). Authoritative sources in a hyperlinked
       environment. Journal of the ACM 46(5), 604-632. doi:10.1145/324133.324140
    """
    n = graph.n_customers
    # HITS does not depend on the scale of the weights; scaled (exactly) so the largest is
    # in [0.5, 1), the products of the power iteration can neither overflow nor underflow
    weights = unit_scaled(graph.edges["weight"].to_numpy(dtype=np.float64))
    if not (len(weights) and weights.max() > 0):  # no edges, or every weight decayed to 0
        return np.zeros(n), np.zeros(n)
    a = sp.csr_array((weights,
                      (graph.edges["src"].to_numpy(), graph.edges["dst"].to_numpy())),
                     shape=(n, n))
    at = a.T.tocsr()
    hub = np.full(n, 1.0 / n)
    for _ in range(max_iter):
        authority = at @ hub
        new_hub = a @ authority
        new_hub /= new_hub.sum()
        change = np.abs(new_hub - hub).sum()
        hub = new_hub
        if change < tol:
            break
    authority = at @ hub
    authority /= authority.sum()
    return hub, authority


#: Error of the sampled estimate, measured at the default budget (1e7 edge visits) by
#: ``benchmarks/betweenness_error.py``: exact Brandes betweenness against the estimate with
#: pivot seeds 0-4, relative error ``|sampled - exact| / exact`` per customer.
MEASURED_ERROR = {
    "definition": "relative error |sampled - exact| / exact per customer, pivot seeds 0-4 "
                  "pooled: median and p90 over customers with nonzero exact betweenness, "
                  "median over the 100 and the 10 with the highest",
    "source": "benchmarks/betweenness_error.py at the default budget (docs/concepts.md)",
    "graphs": [
        {"graph": graph, "customers": customers, "edges": edges, "pivots": pivots,
         "median": median, "p90": p90, "top100_median": top100, "top10_median": top10}
        for graph, customers, edges, pivots, median, p90, top100, top10 in (
            ("email-eu-core", 1005, 24929, 401, 0.196, 0.696, 0.117, 0.050),
            ("collegemsg", 1899, 20296, 492, 0.298, 0.933, 0.122, 0.073),
            ("sx-mathoverflow a2q", 21688, 88711, 112, 0.703, 1.0, 0.307, 0.138),
            ("sx-mathoverflow c2q", 16836, 91149, 109, 0.835, 1.0, 0.248, 0.144),
            ("sx-mathoverflow c2a", 13840, 77212, 129, 0.640, 1.0, 0.324, 0.213),
            ("sx-mathoverflow all", 24818, 227991, 43, 0.878, 1.0, 0.417, 0.226),
        )],
}


@dataclass(frozen=True)
class Betweenness:
    """Betweenness scores and how they were computed (for the manifest).

    Attributes
    ----------
    scores : numpy.ndarray of float64
        Normalised betweenness per vertex (NaN everywhere when skipped).
    method : {"exact", "sampled", "skipped"}
    pivots : int
        Source vertices used (``n`` when exact, 0 when skipped).
    """

    scores: np.ndarray
    method: str
    pivots: int

    def describe(self, n: int) -> dict:
        """JSON-ready summary; for a sampled estimate, the error measured on real graphs
        (:data:`MEASURED_ERROR`: this run's own error is not known without the exact
        scores)."""
        out = {"method": self.method, "pivots": self.pivots,
               "paths": "shortest directed hop-count paths (weights ignored)",
               "normalised_by": "(n - 1) * (n - 2)"}
        if self.method == "sampled":
            out["estimator"] = "n / pivots x sum of pivot dependencies (unbiased)"
            out["expected_error"] = (
                f"not measured for this run ({self.pivots} pivots); it shrinks as "
                "1/sqrt(pivots). Measured at the default budget on real graphs "
                "(measured_error): relative error |sampled - exact| / exact, median over "
                "customers with nonzero betweenness 20-30% at 401-492 pivots "
                "(email-eu-core, CollegeMsg) and 64-88% at 43-129 pivots (sx-mathoverflow); "
                "median over the 10 highest 5-7% and 14-23%, over the 100 highest 12% and "
                "25-42%; many low scores are estimated as 0 (p90 70-100%). A ranking of "
                "the top brokers, not values to quote")
            out["measured_error"] = MEASURED_ERROR
        return out


def betweenness(graph: InfluenceGraph, *, budget: float = 1e7, min_pivots: int = 8,
                seed: int = 0, enabled: bool = True) -> Betweenness:
    """Betweenness: how often a customer lies on shortest influence paths.

    ``b(v) = sum over s != v != t of sigma_st(v) / sigma_st``, the share of
    shortest directed paths ``s -> ... -> t`` of the influence-flow graph that
    pass through ``v``, divided by ``(n - 1)(n - 2)`` so it lies in [0, 1].
    Paths count hops: a customer who passes influence on between groups is a
    broker whatever the weights (edge weight is tie *strength*, not a
    distance, so weighted shortest paths would favour the weakest ties).

    Parameters
    ----------
    graph : InfluenceGraph
    budget : float, default=1e7
        Work allowed, in edge visits (one Brandes pass from one source visits
        every edge once; 1e7 is 1-2 s on the reference machine). Exact (every vertex a
        source) when ``n * m <= budget``; otherwise ``k = max(min_pivots,
        budget // m)`` sources are sampled and their dependencies scaled by
        ``n / k``. > 0.
    min_pivots : int, default=8
        Lower bound on sampled sources, so very large graphs still get an
        estimate (at 10M edges, 8 pivots take ~8 s). >= 1.
    seed : int, default=0
        Seed of the pivot sample (:func:`numpy.random.default_rng`).
    enabled : bool, default=True
        ``False`` skips the computation; scores are NaN.

    Returns
    -------
    Betweenness

    Notes
    -----
    Brandes' algorithm from the chosen sources (igraph ``betweenness`` with
    ``sources=``), O(k m). Sampling sources uniformly without replacement and
    scaling by ``n / k`` gives an unbiased estimate [2]_; its error shrinks as
    ``1 / sqrt(k)``, and customers with high betweenness are estimated far
    better (relatively) than those with little. Measured at the default budget
    on real graphs (:data:`MEASURED_ERROR`, ``benchmarks/betweenness_error.py``):
    median relative error over customers with nonzero betweenness 20-30% at
    ~400-500 pivots and 64-88% at 43-129 pivots; over the 10 highest 5-23%.

    References
    ----------
    .. [1] Brandes, U. (2001). A faster algorithm for betweenness centrality.
       Journal of Mathematical Sociology 25(2), 163-177.
       doi:10.1080/0022250X.2001.9990249
    .. [2] Brandes, U. and Pich, C. (2007). Centrality estimation in large
       networks. International Journal of Bifurcation and Chaos 17(7),
       2303-2318. doi:10.1142/S0218127407018403
    """
    n, m = graph.n_customers, graph.n_edges
    if not enabled:
        return Betweenness(np.full(n, np.nan), "skipped", 0)
    if n < 3 or m == 0:
        return Betweenness(np.zeros(n), "exact", n)
    g = graph.graph
    if float(n) * float(m) <= budget:
        raw = np.asarray(g.betweenness(directed=True, weights=None), dtype=np.float64)
        method, k = "exact", n
    else:
        k = int(min(n, max(min_pivots, budget // m)))
        pivots = np.sort(np.random.default_rng(seed).choice(n, size=k, replace=False))
        raw = np.asarray(g.betweenness(directed=True, weights=None, sources=pivots.tolist(),
                                       targets=None), dtype=np.float64) * (n / k)
        method = "sampled" if k < n else "exact"
    scores = raw / ((n - 1.0) * (n - 2.0))
    return Betweenness(np.round(scores, 12), method, k)


def _percentile(values: np.ndarray) -> np.ndarray:
    """Share of customers with a strictly smaller value, in [0, 1]."""
    n = len(values)
    if n <= 1:
        return np.zeros(n)
    ranks = pd.Series(values).rank(method="min").to_numpy()
    return (ranks - 1.0) / (n - 1.0)


def influence_score(pagerank_scores: np.ndarray, out_strength: np.ndarray) -> np.ndarray:
    """Composite influence in [0, 1]: the mean of two percentiles.

    ``influence_score = (pct(pagerank) + pct(out_strength)) / 2``, where
    ``pct(x)`` is the share of customers with a strictly smaller value. In one
    sentence: half how far your influence carries through the network
    (PageRank), half how much you push directly (out strength), each as the
    share of customers you beat. Customers who influenced nobody get 0 on the
    second half. Rounded to 6 decimals so ranks never flip on last-bit noise.
    """
    score = (_percentile(np.round(pagerank_scores, 15)) + _percentile(out_strength)) / 2.0
    return np.round(score, 6)
