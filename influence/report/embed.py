"""Data and code inside the page: JSON that cannot leave its element, and the CSP.

Presentation only. The page's scripts never contain a value from the input:
ids, names and reasons travel as JSON in ``<script type="application/json">``
elements (inert: the browser does not run them), which the page's own code
reads with ``JSON.parse``. Two things keep a hostile value inside its element:

* :func:`json_text` writes ``<``, ``>`` and ``&`` as ``\\u003c``, ``\\u003e``,
  ``\\u0026`` (so no ``</script>``, ``<!--`` or ``]]>`` can appear) and
  U+2028/U+2029 as ``\\u2028``/``\\u2029``; JSON.parse reads them back as the
  same characters.
* :func:`content_security_policy` allows only the page's own inline scripts,
  by their SHA-256, and nothing from the network (``default-src 'none'``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from typing import Any

from markupsafe import Markup

__all__ = ["json_text", "json_value", "script_hash", "content_security_policy"]

_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028",
            "\u2029": "\\u2029"}
_TABLE = str.maketrans(_ESCAPES)


def json_value(value: Any, digits: int = 6) -> Any:
    """``value`` as plain JSON data: NaN/NA as None, floats to ``digits`` significant
    digits (shorter pages; the full values are in the results files)."""
    import numpy as np
    import pandas as pd

    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if math.isnan(value) or math.isinf(value):
            return None
        if value.is_integer() and abs(value) < 2 ** 53:
            return int(value)
        return float(f"{value:.{digits}g}")
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, dict):
        return {str(k): json_value(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_value(v, digits) for v in value]
    return str(value)


def json_text(data: Any) -> Markup:
    """JSON for a ``<script type="application/json">`` element (deterministic).

    Examples
    --------
    >>> str(json_text({"id": "</script><!--\\u2028"}))
    '{"id":"\\\\u003c/script\\\\u003e\\\\u003c!--\\\\u2028"}'
    """
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return Markup(text.translate(_TABLE))


def script_hash(code: str) -> str:
    """The CSP source that allows exactly this inline script."""
    digest = hashlib.sha256(code.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def content_security_policy(scripts: list[str]) -> str:
    """The page's policy: its inline scripts by hash, inline styles, ``data:`` images,
    and nothing else (no fetch, no frame, no form, no base URL)."""
    return ("default-src 'none'; script-src " + " ".join(script_hash(s) for s in scripts)
            + "; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
              "form-action 'none'")
