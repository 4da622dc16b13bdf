"""Per-customer numbers: centrality (influence) and activity."""

from .activity import activity_metrics
from .centrality import coreness, influence_score, pagerank, strength

__all__ = ["activity_metrics", "coreness", "influence_score", "pagerank", "strength"]
