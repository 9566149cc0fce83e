"""``python -m coursekit``: the ``coursekit`` command."""

from coursekit.cli import console_main

console_main()
