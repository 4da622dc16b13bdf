"""Per-customer numbers: centrality (influence) and activity."""

from .activity import activity_metrics, cohort_months, events_by_type, first_seen
from .centrality import (
                         Betweenness,
                         betweenness,
                         coreness,
                         hits,
                         influence_score,
                         pagerank,
                         strength,
)

__all__ = ["activity_metrics", "events_by_type", "first_seen", "cohort_months", "Betweenness",
           "betweenness", "coreness",
           "hits", "influence_score", "pagerank", "strength"]
