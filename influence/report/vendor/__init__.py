"""Third-party JavaScript and CSS inlined into report.html, vendored unmodified.

Each file here comes from the npm registry, byte for byte as published, with
its package's licence text beside it; ``assets.json`` records the package,
version, SPDX licence, the tarball's npm ``integrity`` and each file's SHA-256.
``python -m influence.report.vendor`` checks the files against it (offline);
``--fetch`` downloads the tarballs again with ``npm pack`` and compares;
``--update`` rewrites files and hashes after a version is changed in
``assets.json`` (see ``docs/report.md``).

The report inlines these texts into ``<script>`` and ``<style>`` elements, so
:func:`asset` refuses any text that could end those elements early
(``</script``, ``</style``, ``<!--``): a later version that contains one must
be looked at, not embedded blindly.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import lru_cache
from importlib import resources

__all__ = ["MANIFEST", "asset", "manifest", "verify"]

#: File name of the manifest beside the vendored files.
MANIFEST = "assets.json"

_UNSAFE = re.compile(r"</script|</style|<!--", re.IGNORECASE)


def _folder():
    return resources.files(__name__)


@lru_cache(maxsize=1)
def manifest() -> dict:
    """The parsed ``assets.json``."""
    return json.loads(_folder().joinpath(MANIFEST).read_text(encoding="utf-8"))


@lru_cache(maxsize=None)
def asset(name: str) -> str:
    """The text of vendored file ``name`` (as listed in ``assets.json``).

    Raises
    ------
    ValueError
        If ``name`` is not listed, its SHA-256 differs from the manifest, or its
        text could close the element it is inlined into.
    """
    entry = next((f for a in manifest()["assets"] for f in a["files"] if f["to"] == name),
                 None)
    if entry is None:
        raise ValueError(f"{name!r} is not a vendored report asset; see {MANIFEST}")
    data = _folder().joinpath(name).read_bytes()
    if hashlib.sha256(data).hexdigest() != entry["sha256"]:
        raise ValueError(f"vendored {name} does not match its sha256 in {MANIFEST}; "
                         "run 'python -m influence.report.vendor --fetch --update'")
    text = data.decode("utf-8")
    if _UNSAFE.search(text):
        raise ValueError(f"vendored {name} contains </script, </style or <!--: it cannot "
                         "be inlined as it is")
    return text


def verify() -> list[str]:
    """Problems with the vendored files (empty when all match ``assets.json``)."""
    problems = []
    for package in manifest()["assets"]:
        for entry in package["files"]:
            path = _folder().joinpath(entry["to"])
            if not path.is_file():
                problems.append(f"{entry['to']}: missing")
                continue
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if digest != entry["sha256"]:
                problems.append(f"{entry['to']}: sha256 {digest}, manifest says "
                                f"{entry['sha256']}")
    return problems
