"""Run a student notebook's exercises without a kernel: the setup cell, then each exercise cell
and its self-check cell in one fresh namespace, capturing what the checks print."""

from __future__ import annotations

import contextlib
import io
import re

STUB_MARK = "# YOUR CODE HERE"
SOLUTION_MARK = "### BEGIN SOLUTION"


def is_check_cell(source: str) -> bool:
    return "coursekit.exercises" in source and re.search(r"\bcheck_\w+\(", source) is not None


def exercise_names(source: str) -> list[str]:
    return re.findall(r"^\s*def (\w+)\(", source, flags=re.M)


def python_source(source: str) -> str:
    """The cell without IPython magics and shell escapes (``%matplotlib inline``, ``!pip``)."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                     for line in source.splitlines())


def run_exercises(nb) -> list[str]:
    """Exec the first code cell (setup), every exercise cell (stubbed or with its solution) and
    every check cell, in order; return the lines printed by the check cells. Any exception
    propagates."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    namespace: dict = {"__name__": "__student__"}
    lines: list[str] = []
    for index, cell in enumerate(code):
        source = python_source(cell.source)
        if index == 0 or STUB_MARK in source or SOLUTION_MARK in source:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(source, f"<cell {index}>", "exec"), namespace)  # noqa: S102
        elif is_check_cell(source):
            buffer = io.StringIO()
            with contextlib.redirect_stdout(buffer):
                exec(compile(source, f"<cell {index}>", "exec"), namespace)  # noqa: S102
            lines.extend(buffer.getvalue().splitlines())
    return lines
