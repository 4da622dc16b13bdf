"""Per-customer numbers: centrality (influence) and activity."""

from .activity import activity_metrics, events_by_type
from .centrality import (Betweenness, betweenness, coreness, hits, influence_score, pagerank,
                         strength)

__all__ = ["activity_metrics", "events_by_type", "Betweenness", "betweenness", "coreness",
           "hits", "influence_score", "pagerank", "strength"]
