"""The ``coursekit`` command line: ``coursekit faces ...``, ``coursekit style ...``,
``coursekit student-version ...``.

Each topic registers its own sub-command from its own module (``coursekit/cli/faces.py``,
``style.py``, ``student.py``) through a ``register(subparsers)`` function that adds a parser
and sets ``func`` to a callable taking the parsed arguments and returning an exit code.
Errors a user can fix (a missing file, a bad option) are printed as one line, exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

__all__ = ["build_parser", "main"]

_COMMANDS = ("coursekit.cli.faces", "coursekit.cli.style", "coursekit.cli.student", "coursekit.cli.data")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every topic's sub-commands.

    Example:
        >>> args = build_parser().parse_args(["style", "c.png", "s.png", "-o", "o.png"])
        >>> args.command, args.content, args.styles, args.output
        ('style', 'c.png', ['s.png'], 'o.png')
    """
    parser = argparse.ArgumentParser(
        prog="coursekit",
        description="Face recognition and neural style transfer from the command line.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMANDS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``coursekit`` command. Returns the exit code: 0, or 2 after one
    ``coursekit: error: ...`` line on standard error for a bad input or option.

    Example:
        >>> main(["style", "no_such_photo.jpg", "style.jpg", "-o", "out.png"])  # the error: stderr
        2
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (FileNotFoundError, ValueError, FileExistsError) as err:
        print(f"coursekit: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("coursekit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
