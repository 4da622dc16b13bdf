"""``python -m influence``: the command line."""

from .cli import main

main()
