"""The ``coursekit`` command line: ``coursekit faces ...``, ``coursekit style ...``,
``coursekit student-version ...`` (also ``python -m coursekit``).

Each topic registers its own sub-command from its own module (``coursekit/cli/faces.py``,
``style.py``, ``student.py``) through a ``register(subparsers)`` function that adds a parser
and sets ``func`` to a callable taking the parsed arguments and returning an exit code.

Conventions every command follows: results on standard output, progress bars (only on a
terminal) and notes on standard error; an error a user can fix is one line on standard error
naming the path or option, never a traceback; the exit codes are :data:`EXIT_CODES`.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import importlib
import math
import os
import re
import signal
import sys
import threading
from collections.abc import Iterator, Sequence

__all__ = ["EXIT_CODES", "EXIT_CODES_HELP", "CommandParser", "build_parser", "console_main", "main",
           "non_negative_float", "plain_text", "positive_float", "positive_int", "show_progress"]

_COMMANDS = ("coursekit.cli.faces", "coursekit.cli.style", "coursekit.cli.student", "coursekit.cli.data")

EXIT_CODES = {
    0: "success",
    1: "a negative answer: faces verify rejected the face, faces identify knew no one",
    2: "bad input or option, or a failure explained in one line on standard error",
    130: "interrupted (Ctrl-C, SIGINT)",
    143: "terminated (SIGTERM)",
}
"""Exit status -> meaning, for every ``coursekit`` command."""

EXIT_CODES_HELP = "exit status:\n" + "\n".join(f"  {code:<4} {text}" for code, text in EXIT_CODES.items())
""":data:`EXIT_CODES` as the epilog of ``--help``."""


def plain_text(text: str) -> str:
    """reStructuredText markup (````x````, ``:class:`~a.B```) as plain text for ``--help``.

    Example:
        >>> plain_text("a ``DB`` is a :class:`~coursekit.face.FaceDatabase` ``.npz`` file")
        'a DB is a FaceDatabase .npz file'
        >>> plain_text(":func:`load <coursekit.images.load_image>` and :mod:`coursekit.cli`")
        'load and coursekit.cli'
    """
    def role(match: re.Match) -> str:
        target = match.group(1)
        if "<" in target:  # :role:`title <target>`
            return target.split("<")[0].strip()
        return target[1:].rsplit(".", 1)[-1] if target.startswith("~") else target

    text = re.sub(r":[a-z]+:`([^`]+)`", role, text)
    return text.replace("``", "")


def positive_int(text: str) -> int:
    """An ``argparse`` type: an integer >= 1 (argparse names the option in the error).

    Example:
        >>> positive_int("3")
        3
        >>> positive_int("0")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: expected an integer >= 1, got '0'
    """
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def _finite(text: str, positive: bool) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise argparse.ArgumentTypeError(
            f"expected a finite number {'>' if positive else '>='} 0, got {text!r}")
    return value


def non_negative_float(text: str) -> float:
    """An ``argparse`` type: a finite number >= 0 (``nan``, ``inf`` and negatives refused).

    Example:
        >>> non_negative_float("0")
        0.0
        >>> non_negative_float("nan")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: expected a finite number >= 0, got 'nan'
    """
    return _finite(text, positive=False)


def positive_float(text: str) -> float:
    """An ``argparse`` type: a finite number > 0.

    Example:
        >>> positive_float("0.5")
        0.5
    """
    return _finite(text, positive=True)


def show_progress(quiet: bool = False) -> bool:
    """Whether a command draws progress bars: not with ``--quiet``, and only when standard
    error is a terminal (tqdm's ``disable=None``), so logs and CI output hold no bar redraws.

    Example:
        >>> show_progress(quiet=True)
        False
    """
    if quiet:
        return False
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class _Formatter(argparse.HelpFormatter):
    """Wraps each paragraph of a description on its own; keeps paragraphs with indented lines
    (tables, command examples) as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        paragraphs = []
        for para in text.strip().split("\n\n"):
            if any(line[:1].isspace() for line in para.splitlines()):
                paragraphs.append("\n".join(indent + line for line in para.splitlines()))
            else:
                paragraphs.append(super()._fill_text(para, width, indent))
        return "\n\n".join(paragraphs)


class CommandParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors are one line (``PROG: error: ...``, exit 2)
    and whose help wraps descriptions by paragraph (keeping tables such as the exit codes)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):  # noqa: D401 - argparse's hook
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every topic's sub-commands.

    Example:
        >>> args = build_parser().parse_args(["style", "c.png", "s.png", "-o", "o.png"])
        >>> args.command, args.content, args.styles, args.output
        ('style', 'c.png', ['s.png'], 'o.png')
    """
    from coursekit import __version__

    parser = CommandParser(
        prog="coursekit",
        description="Face recognition and neural style transfer from the command line. "
                    "Results go to standard output; progress and errors to standard error.",
        epilog=EXIT_CODES_HELP,
    )
    parser.add_argument("--version", action="version", version=f"coursekit {__version__}",
                        help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMANDS:
        importlib.import_module(name).register(sub)
    return parser


class _Terminated(BaseException):
    """SIGTERM, raised like ``KeyboardInterrupt`` so that every ``finally`` and cleanup runs."""


def _on_sigterm(signum, frame):
    raise _Terminated


@contextlib.contextmanager
def _sigterm_as_exception() -> Iterator[None]:
    """Within the block, SIGTERM unwinds the stack (removing temporary files) like Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _one_line(err: BaseException) -> str:
    """The error as one line: ``PATH: reason`` for a system error, else its first line."""
    if isinstance(err, OSError) and err.filename is not None and err.strerror:
        return f"{err.filename}: {err.strerror}"
    lines = [ln.strip() for ln in str(err).strip().splitlines() if ln.strip()]
    return lines[0] if lines else type(err).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``coursekit`` command. Returns the exit code (:data:`EXIT_CODES`):
    0, 1 for a negative answer, 2 after one ``coursekit: error: ...`` line on standard error,
    130 or 143 when interrupted (temporary files removed, no file half-written).

    Example:
        >>> main(["style", "no_such_photo.jpg", "style.jpg", "-o", "out.png"])  # the error: stderr
        2
    """
    parser = build_parser()
    with _sigterm_as_exception():
        try:
            try:
                args = parser.parse_args(argv)
            except SystemExit as exc:  # --help, --version, or a usage error already printed
                return exc.code if isinstance(exc.code, int) else 2
            if not getattr(args, "func", None):
                parser.print_help(sys.stderr)
                return 2
            return int(args.func(args) or 0)
        except KeyboardInterrupt:
            print("coursekit: interrupted", file=sys.stderr)
            return 130
        except _Terminated:
            print("coursekit: terminated", file=sys.stderr)
            return 143
        except (OSError, ValueError) as err:  # files, permissions, bad values
            print(f"coursekit: error: {_one_line(err)}", file=sys.stderr)
            return 2
        except RuntimeError as err:  # out of memory, a device failure
            line = _one_line(err)
            if "out of memory" in line.lower() or "allocate" in line.lower():
                line = f"out of memory ({line}); try a smaller --size or --device cpu"
            print(f"coursekit: error: {line}", file=sys.stderr)
            return 2


def console_main() -> None:
    """The ``coursekit`` program (the installed script and ``python -m coursekit``): :func:`main`
    on the command line's arguments, then the end of the process, without Python's own
    clean-up of every loaded module.

    Once PyTorch is loaded, that clean-up (thousands of modules and their objects torn down one
    by one) is a large share of a quick command's time, such as ``coursekit faces identify``,
    and it does nothing a finished command needs: :func:`main` has returned (its ``finally``
    blocks have run and its temporary files are gone), so this waits for any non-daemon thread
    as Python would, runs the ``atexit`` functions, flushes the standard streams and then ends
    the process with :func:`os._exit` and :func:`main`'s exit code (120 if standard output
    could not be flushed, as Python does).
    """
    code = main()
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream
            if stream is sys.stdout and code == 0:
                code = 120
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    console_main()
