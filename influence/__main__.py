"""``python -m influence``: the command line."""

try:
    from .cli import main
except KeyboardInterrupt:  # pragma: no cover - Ctrl-C while Python starts
    import sys

    sys.stderr.write("influence: error: interrupted\n")
    raise SystemExit(130) from None

main()
