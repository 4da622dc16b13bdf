"""Per-customer numbers: centrality (influence) and activity."""

from .activity import activity_metrics, events_by_type
from .centrality import coreness, influence_score, pagerank, strength

__all__ = ["activity_metrics", "events_by_type", "coreness", "influence_score", "pagerank", "strength"]
