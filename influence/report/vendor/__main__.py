"""Verify, re-fetch or update the report's vendored JavaScript and CSS.

Usage (from a checkout; ``--fetch`` needs ``npm`` and the npm registry)::

    python -m influence.report.vendor              # offline: files match assets.json
    python -m influence.report.vendor --fetch      # npm pack each package@version again:
                                                   # tarball integrity and file hashes match
    python -m influence.report.vendor --fetch --update
                                                   # after editing a version in assets.json:
                                                   # write the files, licences and hashes

Exit status 0 when everything matches, 1 otherwise.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from . import MANIFEST, verify

FOLDER = Path(__file__).resolve().parent


def _pack(package: str, version: str, into: Path) -> Path:
    """``npm pack package@version`` into ``into``; the tarball's path."""
    done = subprocess.run(["npm", "pack", "--ignore-scripts", "--json", f"{package}@{version}"],
                          cwd=into, check=True, capture_output=True, text=True)
    return into / json.loads(done.stdout)[0]["filename"]


def _integrity(path: Path) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def fetch(update: bool = False) -> list[str]:
    """Download every package again and compare (or, with ``update``, rewrite)."""
    manifest_path = FOLDER / MANIFEST
    data = json.loads(manifest_path.read_text(encoding="utf-8"))
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        for package in data["assets"]:
            name, version = package["package"], package["version"]
            tarball = _pack(name, version, Path(tmp))
            integrity = _integrity(tarball)
            if integrity != package.get("integrity"):
                if update:
                    package["integrity"] = integrity
                else:
                    problems.append(f"{name}@{version}: tarball integrity {integrity}, "
                                    f"manifest says {package.get('integrity')}")
                    continue
            with tarfile.open(tarball) as archive:
                for entry in package["files"]:
                    member = archive.extractfile(entry["from"])
                    if member is None:
                        problems.append(f"{name}@{version}: no file {entry['from']}")
                        continue
                    content = member.read()
                    digest = hashlib.sha256(content).hexdigest()
                    if update:
                        (FOLDER / entry["to"]).write_bytes(content)
                        entry["sha256"] = digest
                    elif digest != entry["sha256"]:
                        problems.append(f"{name}@{version}: {entry['from']} sha256 {digest}, "
                                        f"manifest says {entry['sha256']}")
            print(f"{name}@{version}: fetched, {integrity[:23]}...", file=sys.stderr)
    if update:
        manifest_path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m influence.report.vendor",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--fetch", action="store_true",
                        help="download the packages again with npm pack and compare")
    parser.add_argument("--update", action="store_true",
                        help="with --fetch: write the fetched files and their hashes")
    args = parser.parse_args(argv)
    if args.update and not args.fetch:
        parser.error("--update needs --fetch")
    problems = fetch(update=args.update) if args.fetch else []
    problems += verify()
    for problem in problems:
        print(f"vendor: {problem}", file=sys.stderr)
    if not problems:
        print("vendor: every file matches " + MANIFEST, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
