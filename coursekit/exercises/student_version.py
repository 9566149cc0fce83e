"""Student versions of the notebooks: solutions out, stubs in, outputs cleared.

The committed notebooks carry each exercise's solution between ``### BEGIN SOLUTION`` and
``### END SOLUTION`` lines (the nbgrader convention). The student version replaces every such
region with ``# YOUR CODE HERE`` and ``raise NotImplementedError()``, indented like the region,
clears all outputs and keeps everything else, self-check cells included; so a student who runs
an unfilled exercise sees its check report "not implemented yet".
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coursekit.files import atomic_write

__all__ = ["StudentNotebook", "strip_solutions", "student_notebook", "write_student_versions"]

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
_BEGIN_RE = re.compile(r"^(?P<indent>[ \t]*)### BEGIN SOLUTION[ \t]*$")
_END_RE = re.compile(r"^[ \t]*### END SOLUTION[ \t]*$")
STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
MARKDOWN_STUB = "YOUR ANSWER HERE"


def strip_solutions(source: str, *, markdown: bool = False) -> tuple[str, int]:
    """Replace each solution region of a cell's source with the stub.

    Args:
        source: the cell's source text.
        markdown: replace with ``YOUR ANSWER HERE`` instead of the code stub.

    Returns:
        The new source and the number of regions replaced.

    Raises:
        ValueError: a BEGIN without its END, an END without a BEGIN, or nested regions.

    Example:
        >>> text, n = strip_solutions('def f(x):\\n    ### BEGIN SOLUTION\\n    return x\\n'
        ...                           '    ### END SOLUTION\\n')
        >>> print(text)
        def f(x):
            # YOUR CODE HERE
            raise NotImplementedError()
        <BLANKLINE>
        >>> n
        1
    """
    out: list[str] = []
    inside: str | None = None  # the indentation of the open region
    count = 0
    for number, line in enumerate(source.splitlines(keepends=True), start=1):
        begin, end = _BEGIN_RE.match(line.rstrip("\r\n")), _END_RE.match(line.rstrip("\r\n"))
        if begin:
            if inside is not None:
                raise ValueError(f"line {number}: '{BEGIN}' inside another solution region")
            inside = begin.group("indent")
            newline = "\n" if line.endswith("\n") else ""
            stub = (MARKDOWN_STUB,) if markdown else STUB
            out.append("\n".join(inside + s for s in stub) + newline)
            count += 1
        elif end:
            if inside is None:
                raise ValueError(f"line {number}: '{END}' without a '{BEGIN}' before it")
            inside = None
        elif inside is None:
            out.append(line)
        elif BEGIN in line or END in line:
            raise ValueError(f"line {number}: a solution marker must be alone on its line")
    if inside is not None:
        raise ValueError(f"'{BEGIN}' without its '{END}'")
    text = "".join(out)
    if not source.endswith("\n") and text.endswith("\n"):
        text = text[:-1]
    return text, count


@dataclass
class StudentNotebook:
    """A student version and what was done to it.

    Example:
        >>> import nbformat
        >>> student = StudentNotebook(nbformat.v4.new_notebook(), solutions=2)
        >>> student.solutions, student.warnings
        (2, [])
    """

    notebook: Any  # nbformat.NotebookNode
    solutions: int = 0
    warnings: list[str] = field(default_factory=list)


def student_notebook(notebook: Any) -> StudentNotebook:
    """The student version of a notebook (the input is left unchanged).

    Every solution region becomes the stub, every code cell loses its outputs and execution
    count, and the per-cell execution timings are dropped.

    Args:
        notebook: an ``nbformat`` version-4 notebook.

    Returns:
        The new notebook, the number of solutions removed, and warnings (a region that is not
        inside a function would stop the student's notebook at that cell).

    Raises:
        ValueError: unbalanced or nested markers; the message names the cell.

    Example:
        >>> import nbformat
        >>> code = "def f(x):\\n    ### BEGIN SOLUTION\\n    return x\\n    ### END SOLUTION"
        >>> cell = nbformat.v4.new_code_cell(code, execution_count=3)
        >>> student = student_notebook(nbformat.v4.new_notebook(cells=[cell]))
        >>> print(student.notebook.cells[0].source)
        def f(x):
            # YOUR CODE HERE
            raise NotImplementedError()
        >>> student.solutions, student.notebook.cells[0].execution_count, cell.execution_count
        (1, None, 3)
    """
    nb = copy.deepcopy(notebook)
    result = StudentNotebook(nb)
    for index, cell in enumerate(nb.cells):
        source = cell.get("source", "")
        if isinstance(source, list):  # tolerate the on-disk list form
            source = "".join(source)
        if BEGIN in source or END in source:
            try:
                new, n = strip_solutions(source, markdown=cell.cell_type == "markdown")
            except ValueError as err:
                raise ValueError(f"cell {index}: {err}") from None
            if cell.cell_type == "code" and any(
                _BEGIN_RE.match(line) and not _BEGIN_RE.match(line).group("indent")
                for line in source.splitlines()
            ):
                result.warnings.append(f"cell {index}: a solution region at the top level raises "
                                       "NotImplementedError when the cell runs; put it inside a "
                                       "function body")
            cell.source = new
            result.solutions += n
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.get("metadata", {}).pop("execution", None)
    return result


def _atomic_write(text: str, path: Path) -> None:
    with atomic_write(path, "w") as fh:
        fh.write(text)


def _notebooks(sources: Iterable[str | os.PathLike]) -> list[Path]:
    found: list[Path] = []
    for src in map(Path, sources):
        if src.is_dir():
            found.extend(sorted(p for p in src.glob("*.ipynb") if not p.name.startswith(".")))
        elif src.is_file() and src.suffix == ".ipynb":
            found.append(src)
        elif src.exists():
            raise ValueError(f"{src} is not a notebook (.ipynb) or a folder of notebooks")
        else:
            raise FileNotFoundError(f"{src} does not exist")
    return found


def write_student_versions(sources: Iterable[str | os.PathLike], out_dir: str | os.PathLike
                           ) -> list[tuple[Path, StudentNotebook]]:
    """Write the student version of each notebook in ``sources`` into ``out_dir``.

    Args:
        sources: notebook files and/or folders (their ``*.ipynb``, not recursive).
        out_dir: the output folder, created when missing; it must not be, or lie inside, an
            input folder, and no output may replace an input notebook.

    Returns:
        ``(written path, StudentNotebook)`` for each notebook, in order.

    Raises:
        FileNotFoundError: a source does not exist.
        ValueError: no notebooks found, an unsafe output folder, two inputs with the same name,
            or unbalanced solution markers (nothing is written then).

    Example:
        >>> import nbformat, tempfile
        >>> tmp = Path(tempfile.mkdtemp())
        >>> code = "def f(x):\\n    ### BEGIN SOLUTION\\n    return x\\n    ### END SOLUTION"
        >>> nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)]),
        ...                tmp / "lesson.ipynb")
        >>> [(p.name, s.solutions) for p, s in write_student_versions([tmp / "lesson.ipynb"],
        ...                                                          tmp / "student")]
        [('lesson.ipynb', 1)]
    """
    import nbformat

    sources = list(sources)
    out = Path(out_dir).resolve()
    for src in map(Path, sources):
        folder = src.resolve() if src.is_dir() else src.resolve().parent
        if src.is_dir() and (out == folder or folder in out.parents):
            raise ValueError(f"the output folder {out_dir} is the input folder {src} or inside it; "
                             "choose another one, e.g. build/student/")
    notebooks = _notebooks(sources)
    if not notebooks:
        raise ValueError(f"no notebooks (*.ipynb) in {', '.join(map(str, sources))}")
    names = [p.name for p in notebooks]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"two inputs share the name {duplicates[0]}")
    inputs = {p.resolve() for p in notebooks}
    if any((out / n).resolve() in inputs for n in names):
        raise ValueError(f"writing into {out_dir} would replace an input notebook")

    converted = []
    for path in notebooks:  # convert everything first: a bad notebook writes nothing
        nb = nbformat.read(path, as_version=4)
        try:
            student = student_notebook(nb)
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from None
        nbformat.validate(student.notebook)
        converted.append((path, student))
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path, student in converted:
        target = out / path.name
        _atomic_write(nbformat.writes(student.notebook) + "\n", target)
        written.append((target, student))
    return written
