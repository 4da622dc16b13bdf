"""influence: customer interaction logs -> influence graph -> segments.

Read events (shares, referrals, comments), build the weighted influence-flow
graph, measure each customer's influence and activity, find communities, and
segment customers with a readable reason for each.

>>> import influence
>>> result = influence.analyze("examples/events.csv")      # doctest: +SKIP
>>> result.customers.head()                                # doctest: +SKIP
"""

__version__ = "0.1.0"

from .analysis import Analysis, analyze
from .backtest import Backtest, backtest
from .compare import Comparison, compare
from .config import AnalysisConfig, config_from_dict, load_config
from .errors import ConfigError, InfluenceError, InputError
from .graph import InfluenceGraph, build_graph
from .io import read_customers, read_events, write_events
from .reach import find_propagators

__all__ = [
    "__version__", "analyze", "Analysis", "AnalysisConfig", "load_config", "config_from_dict",
    "InfluenceError", "InputError", "ConfigError", "InfluenceGraph", "build_graph",
    "read_events", "read_customers", "write_events", "generate_events", "find_propagators",
    "compare", "Comparison", "backtest", "Backtest",
    "render_report", "write_report", "write_graph",
]


def __getattr__(name):
    if name == "generate_events":
        from .synth import generate_events

        return generate_events
    if name in ("render_report", "write_report"):
        from . import report

        return getattr(report, name)
    if name == "write_graph":
        from .export import write_graph

        return write_graph
    raise AttributeError(f"module 'influence' has no attribute {name!r}")
