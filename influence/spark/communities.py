"""Whole-graph algorithms: the driver hand-off, and label propagation above it.

When the aggregated influence graph has at most ``[spark] driver_edges_max``
edges, :func:`handoff_graph` brings the edge list to the driver through Arrow
and builds the local :class:`~influence.graph.InfluenceGraph`, so communities
(Leiden), roles, coreness, betweenness, HITS and key propagators are the local
engine's own functions on the same graph. Above the threshold,
:func:`label_propagation` finds communities on the executors, and
:func:`community_parts` computes modularity, roles and the edge sums of the
community profiles there too.
"""

from __future__ import annotations

import logging

import igraph as ig
import numpy as np
import pandas as pd
import pyarrow as pa

from ..communities import renumber, roles_from_strengths
from ..graph import InfluenceGraph
from .frames import batched, checkpoint, collect_arrow, frame_from_arrow

__all__ = ["handoff_graph", "label_propagation", "community_parts"]

logger = logging.getLogger(__name__)
_DECIMAL = "decimal(38,18)"  # exact, order-independent sums: same bits on every run


def _igraph(n: int, src: np.ndarray, dst: np.ndarray, weight: np.ndarray) -> ig.Graph:
    """Directed igraph graph with a ``weight`` attribute (edges added in chunks of
    Python int tuples, python-igraph's fastest input)."""
    graph = ig.Graph(n=n, directed=True)
    step = 1 << 20
    for start in range(0, len(src), step):
        graph.add_edges(list(zip(src[start:start + step].tolist(),
                                 dst[start:start + step].tolist())))
    graph.es["weight"] = weight.tolist()
    return graph


def handoff_graph(edges: pa.Table, edge_types: pa.Table, ids: pd.Index) -> InfluenceGraph:
    """The local engine's graph from the edge tables collected from Spark.

    Parameters
    ----------
    edges : pyarrow.Table
        ``a``, ``b`` (vids: ``a`` influenced ``b``), ``weight``, ``n_events``.
    edge_types : pyarrow.Table
        ``a``, ``b``, ``kind``, ``weight``.
    ids : pandas.Index
        Customer ids in vertex order (sorted).

    Returns
    -------
    InfluenceGraph
        Edges sorted by (src, dst), ``edge_types`` sorted by (edge, type), as
        :func:`influence.graph.build_graph` makes them.
    """
    n = len(ids)
    a = edges.column("a").to_numpy().astype(np.int64)
    b = edges.column("b").to_numpy().astype(np.int64)
    order = np.lexsort((b, a))
    table = pd.DataFrame({
        "src": a[order].astype(np.int32), "dst": b[order].astype(np.int32),
        "weight": edges.column("weight").to_numpy().astype(np.float64)[order],
        "n_events": edges.column("n_events").to_numpy().astype(np.int64)[order]})
    key = a[order] * np.int64(n) + b[order]
    ta = edge_types.column("a").to_numpy().astype(np.int64)
    tb = edge_types.column("b").to_numpy().astype(np.int64)
    names = edge_types.column("kind").to_numpy(zero_copy_only=False).astype(object)
    type_names = np.array(sorted(set(names.tolist())), dtype=object)
    code = np.searchsorted(type_names, names) if len(names) else np.zeros(0, np.int64)
    edge = np.searchsorted(key, ta * np.int64(n) + tb)
    t_order = np.lexsort((code, edge))
    types = pd.DataFrame({
        "edge": edge[t_order].astype(np.int64),
        "type": pd.Categorical.from_codes(code[t_order].astype(np.int64),
                                          categories=pd.Index(type_names.astype(str),
                                                              dtype="str")),
        "weight": edge_types.column("weight").to_numpy().astype(np.float64)[t_order]})
    graph = _igraph(n, table["src"].to_numpy(), table["dst"].to_numpy(),
                    table["weight"].to_numpy())
    return InfluenceGraph(ids=ids, edges=table, graph=graph, edge_types=types)


def _undirected(edges):
    """Both directions of the undirected view: ``v``, ``u``, ``w = w(u->v) + w(v->u)``."""
    from pyspark.sql import functions as F

    pairs = (edges.select(F.least("a", "b").alias("lo"), F.greatest("a", "b").alias("hi"),
                          F.col("a"), F.col("weight"))
             .groupBy("lo", "hi")
             # the local view adds w(lo->hi) + w(hi->lo), in that order
             .agg(F.array_sort(F.collect_list(F.struct(F.col("a"), F.col("weight"))))
                  .alias("_w"))
             .select("lo", "hi", F.aggregate(F.col("_w"), F.lit(0.0),
                                             lambda acc, x: acc + x["weight"]).alias("w")))
    return (pairs.select(F.col("lo").alias("v"), F.col("hi").alias("u"), "w")
            .unionByName(pairs.select(F.col("hi").alias("v"), F.col("lo").alias("u"), "w")))


def label_propagation(spark, edges, n: int, *, max_iter: int, every: int,
                      checkpoint_dir: str | None, partitions: int, storage
                      ) -> tuple[np.ndarray, dict]:
    """Weighted label propagation on the undirected view, on the executors.

    Every customer starts in a community of its own (label = its vertex). In
    round ``t``, customers whose vertex has the parity of ``t`` take the label
    carrying the most weight among their neighbours (ties: keep their own label
    if it is among the best, else the one with the smallest hash of label,
    vertex and round); the others keep theirs, which
    stops the two-colour oscillation of fully synchronous updates. It stops
    when two rounds in a row change nothing, or after ``max_iter`` rounds.
    Label weights are summed exactly (decimal), so the result does not depend
    on partitioning. Customers without ties stay alone.

    Returns
    -------
    membership : numpy.ndarray of int64
        Renumbered like the local engine: by decreasing size, ties by smallest vertex.
    info : dict
        Method, rounds, whether it converged.

    References
    ----------
    .. [1] Raghavan, U. N., Albert, R. and Kumara, S. (2007). Near linear time
       algorithm to detect community structures in large-scale networks.
       Physical Review E 76, 036106. doi:10.1103/PhysRevE.76.036106
    """
    from pyspark.sql import functions as F

    adjacency = checkpoint(_undirected(edges).repartition(partitions, "u"), checkpoint_dir)
    labels = spark.range(n).select(F.col("id").alias("vid"), F.col("id").alias("label"))
    labels = checkpoint(labels.repartition(partitions, "vid"), checkpoint_dir)

    def step(frame, k):
        """Round ``k``: the new ``label``, and ``c<k>`` (1 where it changed)."""
        parity = k % 2
        current = frame.select("vid", "label")
        votes = (adjacency.join(current.select(F.col("vid").alias("u"), "label"), "u")
                 .groupBy("v", "label").agg(F.sum(F.col("w").cast(_DECIMAL)).alias("score")))
        own = current.select(F.col("vid").alias("v"), F.col("label").alias("own"))
        # the best label of each vertex: the highest score; its own label if that is
        # among the best, else the smallest hash of (label, vertex, round) -- not the
        # smallest label, which would flood the graph with label 0
        tie = F.xxhash64(F.col("label"), F.col("v"), F.lit(k))
        ranked = votes.join(own, "v").select(
            "v", F.struct(F.col("score"), (F.col("label") == F.col("own")).alias("mine"),
                          (-tie).alias("tie"), (-F.col("label")).alias("neg")).alias("key"))
        choice = (ranked.groupBy("v").agg(F.max("key").alias("key"))
                  .select(F.col("v").alias("vid"), (-F.col("key.neg")).alias("proposal")))
        moves = (F.col("vid") % 2 == parity) & F.col("proposal").isNotNull()
        kept = [c for c in frame.columns if c != "label"]
        return (frame.join(choice, "vid", "left")
                .select(*kept, F.when(moves, F.col("proposal")).otherwise(F.col("label"))
                        .alias("label"),
                        (moves & (F.col("proposal") != F.col("label"))).cast("long")
                        .alias(f"c{k}")))

    def measure(frame, ks):
        row = frame.agg(*[F.sum(f"c{k}").alias(f"c{k}") for k in ks]).first()
        return [int(row[f"c{k}"] or 0) for k in ks]

    quiet = [0]

    def stop(changed: int) -> bool:
        # two quiet rounds in a row (both parities) are a fixed point: later rounds of
        # the batch change nothing, so the labels are those of this round
        quiet[0] = quiet[0] + 1 if changed == 0 else 0
        return quiet[0] >= 2

    labels, rounds, _ = batched(labels, step, measure, max_iter=max_iter, every=every,
                                stop=stop, state=("vid", "label"),
                                checkpoint_dir=checkpoint_dir, partitions=partitions)
    logger.debug("label propagation: %d rounds", rounds)
    table = collect_arrow(labels.select("vid", "label"))
    membership = np.zeros(n, dtype=np.int64)
    membership[table.column("vid").to_numpy().astype(np.int64)] = \
        table.column("label").to_numpy().astype(np.int64)
    adjacency.unpersist()
    converged = quiet[0] >= 2
    info = {"method": "label propagation on DataFrames (executors), weighted, "
                      "semi-synchronous (alternating vertex parity)",
            "rounds": rounds, "converged": converged, "max_rounds": max_iter}
    return renumber(membership), info


def community_parts(spark, edges, edge_types, membership: np.ndarray, *, resolution: float,
                    roles_config) -> tuple[float, pd.DataFrame, pd.DataFrame]:
    """Modularity, roles and the edge sums of the community profiles, on the executors.

    The same definitions as :func:`influence.communities.modularity`,
    :func:`influence.communities.community_roles` and
    :func:`influence.communities.community_profiles`, for graphs too large for
    the driver. Sums are exact decimals, so results do not depend on partitioning.

    Returns
    -------
    modularity : float
    roles : pandas.DataFrame
        ``community_role``, ``within_z``, ``participation`` in vertex order.
    edge_sums : pandas.DataFrame
        Per community (index): ``internal_weight``, ``internal_edges``,
        ``external_weight``, ``dominant_type``.
    """
    from pyspark.sql import functions as F

    n = len(membership)
    n_comm = int(membership.max()) + 1 if n else 0
    comm = frame_from_arrow(spark, pa.table({"vid": np.arange(n, dtype=np.int64),
                                              "c": membership.astype(np.int64)}))
    comm = F.broadcast(comm) if n <= 2_000_000 else comm
    und = _undirected(edges)
    cv = comm.select(F.col("vid").alias("v"), F.col("c").alias("cv"))
    cu = comm.select(F.col("vid").alias("u"), F.col("c").alias("cu"))
    ties = und.join(cv, "v").join(cu, "u")
    dec = lambda c: F.col(c).cast(_DECIMAL)  # noqa: E731
    # strength to each community, per vertex
    parts = ties.groupBy("v", "cv", "cu").agg(F.sum(dec("w")).alias("k"))
    per_vertex = (parts.groupBy("v", "cv")
                  .agg(F.sum("k").alias("strength"),
                       F.sum(F.when(F.col("cu") == F.col("cv"), F.col("k"))
                             .otherwise(F.lit(0))).alias("within"),
                       F.collect_list("k").alias("_ks")))
    got = collect_arrow(per_vertex.select(
        "v", F.col("strength").cast("double").alias("strength"),
        F.col("within").cast("double").alias("within"),
        F.aggregate(F.array_sort(F.transform(
            "_ks", lambda k: F.pow(k.cast("double") / F.col("strength").cast("double"), 2))),
            F.lit(0.0), lambda a, x: a + x).alias("concentration")))
    vv = got.column("v").to_numpy().astype(np.int64)
    strength = np.zeros(n)
    within = np.zeros(n)
    participation = np.zeros(n)
    strength[vv] = got.column("strength").to_numpy()
    within[vv] = got.column("within").to_numpy()
    participation[vv] = 1.0 - got.column("concentration").to_numpy()
    participation[strength == 0] = 0.0
    rc = roles_config
    roles = roles_from_strengths(membership, within, participation, strength, hub_z=rc.hub_z,
                                 hub_participation=rc.hub_participation,
                                 connector_participation=rc.connector_participation,
                                 peripheral_z=rc.peripheral_z)
    # modularity of the undirected view: sum_c L_c / m - gamma (d_c / 2m)^2
    m = float(np.sum(strength)) / 2.0
    internal_und = np.bincount(membership, weights=within, minlength=n_comm) / 2.0
    degree = np.bincount(membership, weights=strength, minlength=n_comm)
    q = float(np.sum(internal_und / m - resolution * (degree / (2 * m)) ** 2)) if m > 0 else 0.0
    # directed edge sums of the profiles
    ca = comm.select(F.col("vid").alias("a"), F.col("c").alias("ca"))
    cb = comm.select(F.col("vid").alias("b"), F.col("c").alias("cb"))
    directed = edges.join(ca, "a").join(cb, "b")
    inside = (directed.filter(F.col("ca") == F.col("cb")).groupBy(F.col("ca").alias("c"))
              .agg(F.sum(dec("weight")).cast("double").alias("internal_weight"),
                   F.count(F.lit(1)).alias("internal_edges")))
    across = directed.filter(F.col("ca") != F.col("cb"))
    outside = (across.select(F.col("ca").alias("c"), "weight")
               .unionByName(across.select(F.col("cb").alias("c"), "weight"))
               .groupBy("c").agg(F.sum(dec("weight")).cast("double").alias("external_weight")))
    typed = (edge_types.join(ca, "a").join(cb, "b").filter(F.col("ca") == F.col("cb"))
             .groupBy(F.col("ca").alias("c"), "kind").agg(F.sum(dec("weight")).alias("tw")))
    sums = pd.DataFrame({"internal_weight": np.zeros(n_comm),
                         "internal_edges": np.zeros(n_comm, np.int64),
                         "external_weight": np.zeros(n_comm),
                         "dominant_type": np.full(n_comm, "", dtype=object)})
    for frame, columns in ((inside, ("internal_weight", "internal_edges")),
                           (outside, ("external_weight",))):
        got = collect_arrow(frame)
        cc = got.column("c").to_numpy().astype(np.int64)
        for column in columns:
            sums.loc[cc, column] = got.column(column).to_numpy()
    got = collect_arrow(typed.select("c", "kind", F.col("tw").cast("double").alias("tw")))
    if got.num_rows:
        frame = pd.DataFrame({"c": got.column("c").to_numpy().astype(np.int64),
                              "kind": got.column("kind").to_numpy(zero_copy_only=False),
                              "tw": got.column("tw").to_numpy()})
        frame = frame[frame["tw"] > 0].sort_values(["c", "tw", "kind"],
                                                    ascending=[True, False, True])
        first = frame.drop_duplicates("c")
        sums.loc[first["c"].to_numpy(), "dominant_type"] = first["kind"].to_numpy()
    return q, roles, sums
