"""``python -m influence``: the command line."""

import sys

try:
    from .cli import main
except KeyboardInterrupt:  # pragma: no cover - Ctrl-C while Python starts
    sys.stderr.write("influence: error: interrupted\n")
    raise SystemExit(130) from None

sys.exit(main())
