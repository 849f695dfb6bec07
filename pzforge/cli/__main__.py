"""``python -m pzforge.cli``: the same as the ``pzforge`` command."""

from pzforge.cli import main

main()
