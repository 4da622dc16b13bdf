"""The documentation site builds with every warning an error (``mkdocs build
--strict``: broken links and anchors, pages missing from the nav, docstrings
mkdocstrings cannot parse), and the README links every page."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

#: what mkdocs.yml uses: the theme, the API reference, the command reference
_PLUGINS = ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python", "mkdocs_click")


def test_the_site_builds_strict(tmp_path):
    missing = [name for name in _PLUGINS if importlib.util.find_spec(name) is None]
    if missing:
        pytest.skip(f"docs tools not installed ({', '.join(missing)}): "
                    "pip install -e '.[docs]'")
    site = tmp_path / "site"
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    run = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict",
                          "--config-file", str(ROOT / "mkdocs.yml"), "--site-dir", str(site)],
                         cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-6000:]
    # one page per docs/*.md
    for page in DOCS.glob("*.md"):
        built = site / ("index.html" if page.stem == "index" else f"{page.stem}/index.html")
        assert built.is_file(), page.name
    # the API reference is rendered from the docstrings, the command reference from click
    api = (site / "api" / "index.html").read_text(encoding="utf-8")
    assert 'id="influence.analysis.analyze"' in api
    assert "Parameters" in api and "engine" in api
    commands = (site / "cli-reference" / "index.html").read_text(encoding="utf-8")
    from influence.cli import cli

    for name in cli.commands:
        assert f"influence {name}" in commands, name
    # nothing fetched from the network when a page opens (fonts are the theme's default)
    index = (site / "index.html").read_text(encoding="utf-8")
    assert "fonts.googleapis.com" not in index


def test_the_readme_links_every_page():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"\]\(docs/([\w-]+\.md)", readme))
    pages = {page.name for page in DOCS.glob("*.md")}
    assert pages - linked == set(), f"README.md does not link {sorted(pages - linked)}"
