"""Student versions of the notebooks: solutions out, stubs in, outputs cleared, nbgrader metadata in.

The committed notebooks carry each exercise's solution between ``### BEGIN SOLUTION`` and
``### END SOLUTION`` lines (the nbgrader convention). The student version

- replaces every such region with ``# YOUR CODE HERE`` and ``raise NotImplementedError()``,
  indented like the region, so a student who runs an unfilled exercise sees its check report
  "not implemented yet";
- removes the exercise's name from ``from coursekit... import`` lines, so the name a student
  fills in never refers to the library's solution, and refuses a notebook where it still would;
- clears all outputs and drops the saved widget state;
- writes nbgrader cell metadata (:func:`nbgrader_metadata`): exercise cells are solution cells,
  self-check cells are locked grade cells worth one point per check, so nbgrader or otter-grader
  can score the checks students see (run with ``COURSEKIT_GRADING=1``, where a failing check
  raises ``AssertionError``).

Near-miss markers (``## BEGIN SOLUTION``, ``### Begin Solution``, ``###BEGIN SOLUTION``) are
refused with an error naming the notebook and cell: they would leave a solution in the copy.
"""

from __future__ import annotations

import ast
import copy
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coursekit.files import atomic_write

__all__ = [
    "StudentNotebook",
    "exercise_names",
    "nbgrader_metadata",
    "read_notebook",
    "strip_solutions",
    "student_notebook",
    "write_student_versions",
]

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
_BEGIN_RE = re.compile(r"^(?P<indent>[ \t]*)### BEGIN SOLUTION[ \t]*$")
_END_RE = re.compile(r"^[ \t]*### END SOLUTION[ \t]*$")
# anything a person may have meant as a marker: any number of '#', any case, any spacing
_NEAR_MISS_RE = re.compile(r"#\s*(BEGIN|END)[\s_-]*SOLUTION", re.IGNORECASE)
STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
MARKDOWN_STUB = "YOUR ANSWER HERE"
NBGRADER_SCHEMA_VERSION = 3
_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def strip_solutions(source: str, *, markdown: bool = False) -> tuple[str, int]:
    """Replace each solution region of a cell's source with the stub.

    Args:
        source: the cell's source text.
        markdown: replace with ``YOUR ANSWER HERE`` instead of the code stub.

    Returns:
        The new source and the number of regions replaced.

    Raises:
        ValueError: a BEGIN without its END, an END without a BEGIN, nested regions, or a line
            that looks like a marker but is not exactly ``### BEGIN SOLUTION`` /
            ``### END SOLUTION`` alone on its line.

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
        >>> strip_solutions('def f(x):\\n    ## BEGIN SOLUTION\\n    return x\\n')
        Traceback (most recent call last):
        ...
        ValueError: line 2: '## BEGIN SOLUTION' is not a solution marker: write '### BEGIN ...
    """
    out: list[str] = []
    inside: str | None = None  # the indentation of the open region
    count = 0
    for number, line in enumerate(source.splitlines(keepends=True), start=1):
        text = line.rstrip("\r\n")
        begin, end = _BEGIN_RE.match(text), _END_RE.match(text)
        if not (begin or end) and _NEAR_MISS_RE.search(text):
            if BEGIN in text or END in text:
                raise ValueError(f"line {number}: a solution marker must be alone on its line")
            wanted = BEGIN if "BEGIN" in text.upper() else END
            raise ValueError(f"line {number}: {text.strip()!r} is not a solution marker: write "
                             f"'{wanted}' exactly, alone on its line")
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
    if inside is not None:
        raise ValueError(f"'{BEGIN}' without its '{END}'")
    text = "".join(out)
    if not source.endswith("\n") and text.endswith("\n"):
        text = text[:-1]
    return text, count


# ---------------------------------------------------------------------------------------------
# the exercise's name must not be the library's solution


def _python(source: str) -> ast.Module | None:
    """The cell's syntax tree, IPython magics and shell escapes blanked (line numbers kept);
    ``None`` for a cell magic (``%%time``) or a cell that is not Python."""
    if source.lstrip().startswith("%%"):
        return None
    lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n")]
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError:
        return None


def exercise_names(source: str) -> list[str]:
    """The top-level functions (or classes) of a code cell that hold a solution region.

    Example:
        >>> exercise_names("import torch\\ndef f(x):\\n    ### BEGIN SOLUTION\\n    return x\\n"
        ...                "    ### END SOLUTION\\ndef helper():\\n    pass")
        ['f']
    """
    tree = _python(source)
    if tree is None:
        return []
    lines = source.split("\n")
    begins = [n for n, line in enumerate(lines, start=1) if _BEGIN_RE.match(line)]
    names = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and any(
                node.lineno <= n <= node.end_lineno for n in begins):
            names.append(node.name)
    return names


def _from_coursekit(node: ast.AST) -> bool:
    return (isinstance(node, ast.ImportFrom) and node.level == 0 and node.module is not None
            and (node.module == "coursekit" or node.module.startswith("coursekit.")))


def _import_line(indent: str, module: str, names: list[str], rest: str) -> str:
    line = f"{indent}from {module} import {', '.join(names)}{rest}"
    if len(line) <= 100:
        return line
    body = f",\n{indent}    ".join(names)
    return f"{indent}from {module} import (\n{indent}    {body},\n{indent}){rest}"


def _unimport(source: str, names: set[str]) -> tuple[str, list[str]]:
    """``source`` with ``names`` removed from its ``from coursekit... import`` statements, and
    the names removed. A statement left empty disappears (``pass`` inside a block).

    Raises:
        ValueError: ``from coursekit... import *``, or an import sharing its line with other code.
    """
    tree = _python(source)
    if tree is None:
        return source, []
    lines = source.split("\n")
    edits = []
    for node in ast.walk(tree):
        if not _from_coursekit(node):
            continue
        if any(a.name == "*" for a in node.names):
            raise ValueError(f"'from {node.module} import *' may bring in the library's solution "
                             f"of {', '.join(sorted(names))}: import the names you need")
        drop = [a for a in node.names if (a.asname or a.name) in names]
        if drop:
            edits.append((node, drop))
    removed: list[str] = []
    for node, drop in sorted(edits, key=lambda e: e[0].lineno, reverse=True):
        first, last = lines[node.lineno - 1], lines[node.end_lineno - 1]
        before, rest = first[:node.col_offset], last[node.end_col_offset:]
        if before.strip() or (rest.strip() and not rest.strip().startswith("#")):
            raise ValueError(f"line {node.lineno}: put the import of {drop[0].name} on its own line")
        keep = [a.name if a.asname is None else f"{a.name} as {a.asname}"
                for a in node.names if a not in drop]
        if keep:
            new = [_import_line(before, node.module, keep, rest)]
        else:
            new = [f"{before}pass"] if before else []
        lines[node.lineno - 1:node.end_lineno] = new
        removed.extend(a.asname or a.name for a in drop)
    return "\n".join(lines), sorted(set(removed))


def _rebindings(source: str, names: set[str]) -> list[str]:
    """Names of ``names`` that the cell binds at its top level (import, assignment, ``def``)."""
    tree = _python(source)
    if tree is None:
        return sorted(n for n in names if re.search(rf"\bimport\b.*\b{re.escape(n)}\b", source))
    bound = []
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            bound += [(a.asname or a.name).split(".")[0] for a in node.names]
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            bound += [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.append(node.name)
    return sorted(set(bound) & names)


# ---------------------------------------------------------------------------------------------
# nbgrader metadata


def _check_names() -> set[str]:
    import coursekit.exercises as exercises

    return {name for name in exercises.__all__ if name.startswith("check_")}


def _called_checks(source: str, checks: set[str]) -> list[str]:
    tree = _python(source)
    if tree is None:
        return []
    return [node.func.id for node in ast.walk(tree) if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name) and node.func.id in checks]


def _unique(grade_id: str, used: set[str]) -> str:
    candidate, n = grade_id, 1
    while candidate in used:
        n += 1
        candidate = f"{grade_id}-{n}"
    used.add(candidate)
    return candidate


def nbgrader_metadata(notebook: Any) -> Any:
    """A copy of ``notebook`` with nbgrader cell metadata (schema version 3) on its exercise and
    self-check cells; sources and outputs are unchanged.

    A cell holding a solution region becomes a solution cell (``grade_id``: the exercise's name;
    a markdown answer is also a grade cell worth one point, as nbgrader requires); a cell that
    calls a ``coursekit.exercises`` check becomes a locked grade cell worth one point per check
    (``grade_id``: the check's name). Other cells lose any nbgrader metadata they had. Run
    through nbgrader's ``ClearSolutions``, the result is the student version
    :func:`student_notebook` writes.

    Example:
        >>> import nbformat
        >>> nb = nbformat.v4.new_notebook(cells=[
        ...     nbformat.v4.new_code_cell("def f(x):\\n    ### BEGIN SOLUTION\\n    return x\\n"
        ...                               "    ### END SOLUTION"),
        ...     nbformat.v4.new_code_cell("check_conv1d(f)")])
        >>> [sorted(c.metadata.nbgrader.items()) for c in nbgrader_metadata(nb).cells]
        ... # doctest: +NORMALIZE_WHITESPACE
        [[('grade', False), ('grade_id', 'f'), ('locked', False), ('schema_version', 3),
          ('solution', True)],
         [('grade', True), ('grade_id', 'check_conv1d'), ('locked', True), ('points', 1),
          ('schema_version', 3), ('solution', False)]]
    """
    nb = copy.deepcopy(notebook)
    checks, used = _check_names(), set()
    for index, cell in enumerate(nb.cells):
        source = _source(cell)
        meta = None
        if any(_BEGIN_RE.match(line) for line in source.splitlines()):
            names = exercise_names(source) if cell.cell_type == "code" else []
            markdown = cell.cell_type == "markdown"
            meta = {"grade": markdown, "grade_id": _unique("_".join(names) or f"answer-{index}", used),
                    "locked": False, "solution": True}
            if markdown:
                meta["points"] = 1
        elif cell.cell_type == "code" and (called := _called_checks(source, checks)):
            meta = {"grade": True, "grade_id": _unique("_".join(dict.fromkeys(called)), used),
                    "locked": True, "points": len(called), "solution": False}
        if meta is not None:
            cell.metadata["nbgrader"] = {**meta, "schema_version": NBGRADER_SCHEMA_VERSION}
        else:
            cell.metadata.pop("nbgrader", None)
    return nb


# ---------------------------------------------------------------------------------------------
# the student version


@dataclass
class StudentNotebook:
    """A student version and what was done to it.

    Attributes:
        notebook: the student version (an ``nbformat`` notebook).
        solutions: the number of solution regions replaced by stubs.
        exercises: the names of the exercise functions, in order.
        unimported: exercise names removed from ``from coursekit... import`` lines.
        warnings: things the author should look at (they do not stop the conversion).

    Example:
        >>> import nbformat
        >>> student = StudentNotebook(nbformat.v4.new_notebook(), solutions=2)
        >>> student.solutions, student.warnings
        (2, [])
    """

    notebook: Any  # nbformat.NotebookNode
    solutions: int = 0
    exercises: list[str] = field(default_factory=list)
    unimported: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _source(cell: Any) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source  # the on-disk list form


def student_notebook(notebook: Any, *, keep_solutions: bool = False) -> StudentNotebook:
    """The student version of a notebook (the input is left unchanged).

    Every solution region becomes the stub; exercise names are removed from
    ``from coursekit... import`` lines; every code cell loses its outputs and execution count;
    the per-cell execution timings and the saved widget state are dropped; exercise and
    self-check cells get nbgrader metadata (:func:`nbgrader_metadata`).

    Args:
        notebook: an ``nbformat`` version-4 notebook.
        keep_solutions: keep the solution regions (everything else as above): the instructor
            version for nbgrader, whose ``ClearSolutions`` then gives the student version.

    Returns:
        The new notebook, the number of solutions removed (or kept), the exercise names, and warnings (a
        region that is not inside a function would stop the student's notebook at that cell).

    Raises:
        ValueError: unbalanced, nested or near-miss markers; ``from coursekit... import *``; an
            exercise name that another cell binds (it could be the library's solution). The
            message names the cell.

    Example:
        >>> import nbformat
        >>> setup = nbformat.v4.new_code_cell("from coursekit.face import embed, triplet_loss")
        >>> code = "def triplet_loss(a, p, n):\\n    ### BEGIN SOLUTION\\n    return 0\\n    ### END SOLUTION"
        >>> cell = nbformat.v4.new_code_cell(code, execution_count=3)
        >>> student = student_notebook(nbformat.v4.new_notebook(cells=[setup, cell]))
        >>> print(student.notebook.cells[0].source)
        from coursekit.face import embed
        >>> print(student.notebook.cells[1].source)
        def triplet_loss(a, p, n):
            # YOUR CODE HERE
            raise NotImplementedError()
        >>> student.solutions, student.exercises, student.notebook.cells[1].execution_count
        (1, ['triplet_loss'], None)
    """
    nb = nbgrader_metadata(notebook)
    result = StudentNotebook(nb)
    owner: dict[str, int] = {}  # exercise name -> its cell
    for index, cell in enumerate(nb.cells):
        source = _source(cell)
        try:
            new, n = strip_solutions(source, markdown=cell.cell_type == "markdown")
        except ValueError as err:
            raise ValueError(f"cell {index}: {err}") from None
        if n and cell.cell_type == "code":
            for name in exercise_names(source):
                owner.setdefault(name, index)
            if any(m and not m.group("indent") for m in map(_BEGIN_RE.match, source.splitlines())):
                result.warnings.append(f"cell {index}: a solution region at the top level raises "
                                       "NotImplementedError when the cell runs; put it inside a "
                                       "function body")
        if not keep_solutions:
            cell.source = new
        result.solutions += n
    result.exercises = list(owner)
    names = set(owner)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and names:
            try:
                cell.source, removed = _unimport(cell.source, names)
            except ValueError as err:
                raise ValueError(f"cell {index}: {err}") from None
            result.unimported += removed
            clash = [n for n in _rebindings(cell.source, names) if owner[n] != index]
            if clash:
                raise ValueError(f"cell {index} binds {clash[0]}, the name of the exercise in cell "
                                 f"{owner[clash[0]]}: in the student version it could be the "
                                 "library's solution; give it another name")
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.get("metadata", {}).pop("execution", None)
    nb.metadata.pop("widgets", None)
    return result


def read_notebook(path: str | os.PathLike) -> Any:
    """Read and validate a notebook, as version 4.

    Raises:
        ValueError: one line naming the file: unreadable, not UTF-8, not JSON, not a JSON
            object, or not a valid notebook (the first schema error).

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "list.ipynb"
        >>> _ = path.write_text("[1, 2]")
        >>> read_notebook(path)
        Traceback (most recent call last):
        ...
        ValueError: .../list.ipynb is not a notebook: its JSON is a list, not an object
    """
    import nbformat

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not a notebook: it is not UTF-8 text") from None
    except OSError as err:
        raise ValueError(f"cannot read {path}: {err.strerror or err}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not a notebook: not valid JSON ({err.msg} at line "
                         f"{err.lineno}, column {err.colno})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a notebook: its JSON is a {_json_type(data)}, "
                         "not an object") from None
    version = data.get("nbformat")
    if "nbformat" not in data:
        raise ValueError(f"{path} is not a valid notebook: it has no 'nbformat' version number")
    if not isinstance(version, int) or isinstance(version, bool) or not 3 <= version <= 4:
        raise ValueError(f"{path} is not a valid notebook: 'nbformat' is {version!r}, "
                         "expected 4 (or 3)")
    try:
        if version == 4:  # nbformat's own reader fails with a TypeError on some invalid files
            from nbformat.validator import get_validator

            minor = data.get("nbformat_minor")
            validator = get_validator(version=4, version_minor=minor if isinstance(minor, int) else None)
            error = next(iter(validator.iter_errors(data)), None)
            if error is not None:
                raise ValueError(re.sub(r"^data\.?", "", str(error.message)))
        nb = nbformat.reads(text, as_version=4, capture_validation_error={})
        nbformat.validate(nb)
    except Exception as err:  # noqa: BLE001 - nbformat raises many types on malformed input
        message = getattr(err, "message", None) or str(err) or type(err).__name__
        message = message.strip().splitlines()[0] if message.strip() else type(err).__name__
        if len(message) > 150:
            message = message[:147] + "..."
        raise ValueError(f"{path} is not a valid notebook: {message}") from None
    return nb


def _json_type(value: Any) -> str:
    names = {list: "list", str: "string", int: "number", float: "number", bool: "boolean"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _atomic_write(text: str, path: Path) -> None:
    try:
        with atomic_write(path, "w") as fh:
            fh.write(text)
    except OSError as err:
        raise ValueError(f"cannot write {path}: {err.strerror or err}") from None


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


def _check_output_folder(out_dir: str | os.PathLike) -> None:
    """A folder we can create or write into: not an existing file, nor under one."""
    out = Path(out_dir)
    for folder in (out, *out.parents):
        if folder.exists():
            if not folder.is_dir():
                what = "is" if folder == out else f"lies under {folder}, which is"
                raise ValueError(f"the output folder {out_dir} {what} an existing file; give a "
                                 "folder, e.g. build/student/")
            if not os.access(folder, os.W_OK | os.X_OK):
                raise ValueError(f"cannot write into {folder}: permission denied")
            return


def write_student_versions(sources: Iterable[str | os.PathLike], out_dir: str | os.PathLike, *,
                           keep_solutions: bool = False) -> list[tuple[Path, StudentNotebook]]:
    """Write the student version of each notebook in ``sources`` into ``out_dir``.

    Args:
        sources: notebook files and/or folders (their ``*.ipynb``, not recursive).
        out_dir: the output folder, created when missing; it must not be, or lie inside, an
            input folder, and no output may replace an input notebook.
        keep_solutions: write the instructor version for nbgrader instead (see
            :func:`student_notebook`).

    Returns:
        ``(written path, StudentNotebook)`` for each notebook, in order.

    Raises:
        FileNotFoundError: a source does not exist.
        ValueError: no notebooks found, an unsafe or unwritable output folder, two inputs with
            the same name, a file that is not a valid notebook, or a notebook
            :func:`student_notebook` refuses (nothing is written then). The message names the
            file.

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
    _check_output_folder(out_dir)
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
        nb = read_notebook(path)
        try:
            student = student_notebook(nb, keep_solutions=keep_solutions)
            nbformat.validate(student.notebook)
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from None
        converted.append((path, student))
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"cannot create the output folder {out_dir}: {err.strerror or err}") from None
    written = []
    for path, student in converted:
        target = out / path.name
        if target.is_dir():
            raise ValueError(f"cannot write {target}: it is a folder")
        _atomic_write(nbformat.writes(student.notebook) + "\n", target)
        written.append((target, student))
    return written
