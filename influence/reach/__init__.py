"""Word of mouth: referral cascades, k-hop reach, diffusion spread, key propagators.

Re-exports the family modules: :mod:`~influence.reach.cascades` (referral
forest, cascades, K-factor), :mod:`~influence.reach.spread` (reach, IC model,
Monte Carlo), :mod:`~influence.reach.imm` (RR sets, IMM) and
:mod:`~influence.reach.propagators` (the public ``find_propagators``).
"""

from .cascades import (
                       CASCADE_COLUMNS,
                       KFACTOR_COLUMNS,
                       ReferralForest,
                       cascades_table,
                       referral_forest,
                       referral_metrics,
                       viral_coefficients,
)
from .imm import RRSets, imm, sample_rr_sets, select_seeds
from .propagators import Propagators, edge_probabilities, find_propagators, top_k
from .spread import (
                       Adjacency,
                       adjacency,
                       cascade,
                       k_hop_reach,
                       learn_type_probabilities,
                       learned_probabilities,
                       simulate_spread,
                       weight_probabilities,
)

__all__ = [
    "CASCADE_COLUMNS", "KFACTOR_COLUMNS", "ReferralForest", "cascades_table",
    "referral_forest", "referral_metrics", "viral_coefficients", "RRSets", "imm",
    "sample_rr_sets", "select_seeds", "Propagators", "edge_probabilities", "find_propagators",
    "top_k", "Adjacency", "adjacency", "cascade", "k_hop_reach", "learn_type_probabilities",
    "learned_probabilities", "simulate_spread", "weight_probabilities",
]
