"""influence: customer interaction logs -> influence graph -> segments.

Read events (shares, referrals, comments), build the weighted influence-flow
graph, measure each customer's influence and activity, find communities, and
segment customers with a readable reason for each.

>>> import influence
>>> result = influence.analyze("examples/events.csv")      # doctest: +SKIP
>>> result.customers.head()                                # doctest: +SKIP

The public names are imported on first use (PEP 562), so ``import influence``
and the command line start in milliseconds instead of loading pandas, igraph
and friends up front; the command line installs its Ctrl-C and SIGTERM
handling before any of them loads.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

__all__ = [
    "__version__", "analyze", "Analysis", "AnalysisConfig", "load_config", "config_from_dict",
    "InfluenceError", "InputError", "ConfigError", "InfluenceGraph", "build_graph",
    "read_events", "read_customers", "write_events", "generate_events", "find_propagators",
    "compare", "Comparison", "backtest", "Backtest",
    "render_report", "write_report", "write_graph", "validate_events", "ValidationReport",
    "pseudonymize", "Query", "write_database",
]

#: Where each public name lives.
_HOMES = {
    "Analysis": "result", "analyze": "analysis",
    "Backtest": "backtest", "backtest": "backtest",
    "Comparison": "compare", "compare": "compare",
    "AnalysisConfig": "config", "config_from_dict": "config", "load_config": "config",
    "ConfigError": "errors", "InfluenceError": "errors", "InputError": "errors",
    "InfluenceGraph": "graph", "build_graph": "graph",
    "read_customers": "sources", "read_events": "sources", "write_events": "io",
    "find_propagators": "reach",
    "generate_events": "synth",
    "render_report": "report", "write_report": "report",
    "write_graph": "export",
    "validate_events": "validation", "ValidationReport": "validation",
    "Query": "sources",
    "write_database": "sinks",
}
#: Public names that are another name in their module.
_ALIASES = {"pseudonymize": ("export", "pseudonymize_analysis")}

if TYPE_CHECKING:  # for type checkers and editors: the same names, eagerly
    from .analysis import Analysis, analyze  # noqa: F401
    from .backtest import Backtest, backtest  # noqa: F401
    from .compare import Comparison, compare  # noqa: F401
    from .config import AnalysisConfig, config_from_dict, load_config  # noqa: F401
    from .errors import ConfigError, InfluenceError, InputError  # noqa: F401
    from .export import pseudonymize_analysis as pseudonymize  # noqa: F401
    from .export import write_graph  # noqa: F401
    from .graph import InfluenceGraph, build_graph  # noqa: F401
    from .io import write_events  # noqa: F401
    from .reach import find_propagators  # noqa: F401
    from .report import render_report, write_report  # noqa: F401
    from .sinks import write_database  # noqa: F401
    from .sources import Query, read_customers, read_events  # noqa: F401
    from .synth import generate_events  # noqa: F401
    from .validation import ValidationReport, validate_events  # noqa: F401


def __getattr__(name: str) -> Any:
    if name in _ALIASES:
        module, attribute = _ALIASES[name]
        value = getattr(importlib.import_module(f".{module}", __name__), attribute)
        globals()[name] = value
        return value
    home = _HOMES.get(name)
    if home is not None:
        value = getattr(importlib.import_module(f".{home}", __name__), name)
        globals()[name] = value
        return value
    if not name.startswith("_") and importlib.util.find_spec(f".{name}", __name__):
        return importlib.import_module(f".{name}", __name__)  # influence.analysis, ...
    raise AttributeError(f"module 'influence' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(types.ModuleType):
    """``influence.compare`` and ``influence.backtest`` are functions, though
    modules of the same names exist: importing such a module (``from
    influence.compare import ...``) must not replace the function on the package."""

    def __setattr__(self, name: str, value) -> None:
        if name in _HOMES and _HOMES[name] == name and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
