"""``python -m coursekit.cli``."""

from coursekit.cli import console_main

console_main()
