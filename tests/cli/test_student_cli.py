"""``coursekit student-version``: on a generated notebook and on the real notebooks/ — valid
notebooks, no solution text, and every unfilled exercise's check says "not implemented yet"."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import nbformat
import pytest

from coursekit.cli import main

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
_spec = importlib.util.spec_from_file_location(
    "student_harness", ROOT / "tests" / "exercises" / "student_harness.py")
harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harness)

NOT_IMPLEMENTED = "not implemented yet — fill in the cell above and run it again"


def _split_solutions(nb) -> tuple[list[str], str]:
    """The non-blank, non-comment lines inside the solution regions, and the notebook's code and
    text outside them (docstrings may state the formula a solution line also contains)."""
    solution, outside, inside = [], [], False
    for cell in nb.cells:
        for line in cell.source.splitlines():
            if line.strip() == "### BEGIN SOLUTION":
                inside = True
            elif line.strip() == "### END SOLUTION":
                inside = False
            elif inside:
                if line.strip() and not line.strip().startswith("#"):
                    solution.append(line.strip())
            else:
                outside.append(line)
    return solution, "\n".join(outside)


def _stub_calls(nb) -> tuple[list[str], list[str]]:
    """Cells (other than exercise and check cells) that call an unfilled exercise function:
    those before a later self-check (the notebook would stop before reaching it) and those after
    the last one."""
    cells = [(i, c.source) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    last_check = max((i for i, src in cells if harness.is_check_cell(src)), default=-1)
    stubbed: set[str] = set()
    blocking, after = [], []
    for index, source in cells:
        if harness.STUB_MARK in source:
            stubbed.update(harness.exercise_names(source))
        elif not harness.is_check_cell(source) and "except NotImplementedError" not in source:
            calls = [f"cell {index} calls {name}()" for name in sorted(stubbed)
                     if re.search(rf"(?<![\w.]){name}\(", source)]
            (blocking if index < last_check else after).extend(calls)
    return blocking, after


def _write(folder: Path, name: str, cells) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = cells
    path = folder / name
    nbformat.write(nb, path)
    return path


@pytest.fixture
def small_course(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    code, md = nbformat.v4.new_code_cell, nbformat.v4.new_markdown_cell
    exercise = code("def conv_output_shape(n, f, stride=1, padding=0):\n"
                    '    """⌊(n + 2p − f)/s⌋ + 1."""\n'
                    "    ### BEGIN SOLUTION\n"
                    "    size_solution = (n + 2 * padding - f) // stride + 1\n"
                    "    return size_solution\n"
                    "    ### END SOLUTION\n")
    exercise.outputs = [nbformat.v4.new_output("stream", name="stdout", text="size_solution\n")]
    exercise.execution_count = 2
    _write(folder, "4_11_conv.ipynb", [
        md("# 1-D convolutions"), code("import torch"), exercise,
        code("# NBVAL_CHECK_OUTPUT\nfrom coursekit.exercises import check_conv_output_shape\n"
             "check_conv_output_shape(conv_output_shape);")])
    _write(folder, "4_01_intro.ipynb", [md("# Intro"), code("print(1)")])
    return folder


def test_cli_writes_student_notebooks(small_course, tmp_path, capsys):
    out = tmp_path / "build" / "student"
    before = {p.name: p.read_bytes() for p in small_course.iterdir()}
    assert main(["student-version", str(small_course), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "4_11_conv.ipynb: 1 solution(s) replaced by stubs" in printed
    assert printed.strip().splitlines()[-1] == (
        f"wrote 2 student notebook(s) with 1 exercise stub(s) to {out}")
    assert {p.name: p.read_bytes() for p in small_course.iterdir()} == before
    nb = nbformat.read(out / "4_11_conv.ipynb", as_version=4)
    nbformat.validate(nb)
    text = (out / "4_11_conv.ipynb").read_text()
    assert "size_solution" not in text and "BEGIN SOLUTION" not in text
    assert all(c.outputs == [] for c in nb.cells if c.cell_type == "code")
    assert harness.run_exercises(nb) == [f"check_conv_output_shape: {NOT_IMPLEMENTED}"]
    # the teacher's version passes its own check
    assert harness.run_exercises(nbformat.read(small_course / "4_11_conv.ipynb", as_version=4)) == [
        "check_conv_output_shape: all 8 cases passed"]


def test_cli_refuses_output_equal_to_input(small_course, capsys):
    before = {p.name: p.read_bytes() for p in small_course.iterdir()}
    assert main(["student-version", str(small_course), "-o", str(small_course)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("coursekit: error: the output folder") and "input folder" in err
    assert {p.name: p.read_bytes() for p in small_course.iterdir()} == before


def test_cli_missing_input_is_a_one_line_error(tmp_path, capsys):
    assert main(["student-version", str(tmp_path / "nope"), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "does not exist" in err[0]


# ----------------------------------------------------------------------------- bad inputs: one line, exit 2

BAD_NOTEBOOKS = {
    "list.ipynb": ("[1, 2]", "is not a notebook: its JSON is a list, not an object"),
    "string.ipynb": ('"text"', "is not a notebook: its JSON is a string, not an object"),
    "not_json.ipynb": ("nope", "is not a notebook: not valid JSON (Expecting value at line 1"),
    "truncated.ipynb": ('{"cells": [', "is not a notebook: not valid JSON"),
    "empty.ipynb": ("", "is not a notebook: not valid JSON"),
    "schema.ipynb": ('{"cells": 3, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}',
                     "is not a valid notebook: "),
    "no_version.ipynb": ('{"cells": []}', "is not a valid notebook: it has no 'nbformat' version"),
    "version_2.ipynb": ('{"cells": [], "nbformat": 2}', "is not a valid notebook: 'nbformat' is 2, "),
    "bad_cell.ipynb": ('{"cells": [{"cell_type": "code"}], "metadata": {}, "nbformat": 4, '
                       '"nbformat_minor": 5}', "is not a valid notebook: "),
    "latin1.ipynb": (b"{\"cells\": \"\xe9\"}", "is not a notebook: it is not UTF-8 text"),
}


def one_error_line(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    assert lines[0].startswith("coursekit: error: ")
    return lines[0]


@pytest.mark.parametrize("name", sorted(BAD_NOTEBOOKS))
def test_bad_notebook_is_one_line_naming_the_file(name, small_course, tmp_path, capsys):
    content, message = BAD_NOTEBOOKS[name]
    path = small_course / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    before = {p.name: p.read_bytes() for p in small_course.iterdir()}
    out = tmp_path / "out"
    assert main(["student-version", str(small_course), "-o", str(out)]) == 2
    line = one_error_line(capsys)
    assert f"{path} " in line and message in line, line
    assert not out.exists()  # a bad notebook writes nothing, not even the good ones
    assert {p.name: p.read_bytes() for p in small_course.iterdir()} == before


def test_output_that_is_an_existing_file(small_course, tmp_path, capsys):
    target = tmp_path / "handout"
    target.write_text("keep me")
    assert main(["student-version", str(small_course), "-o", str(target)]) == 2
    line = one_error_line(capsys)
    assert line == (f"coursekit: error: the output folder {target} is an existing file; give a "
                    "folder, e.g. build/student/")
    assert target.read_text() == "keep me"
    assert main(["student-version", str(small_course), "-o", str(target / "sub")]) == 2
    assert f"lies under {target}, which is an existing file" in one_error_line(capsys)


def test_output_notebook_that_is_a_folder(small_course, tmp_path, capsys):
    out = tmp_path / "out"
    (out / "4_11_conv.ipynb").mkdir(parents=True)
    assert main(["student-version", str(small_course), "-o", str(out)]) == 2
    assert f"cannot write {out / '4_11_conv.ipynb'}: it is a folder" in one_error_line(capsys)


def test_near_miss_marker_is_one_line_naming_notebook_and_cell(small_course, tmp_path, capsys):
    nb = nbformat.read(small_course / "4_11_conv.ipynb", as_version=4)
    nb.cells[2].source = nb.cells[2].source.replace("### BEGIN SOLUTION", "### Begin Solution")
    nbformat.write(nb, small_course / "4_11_conv.ipynb")
    assert main(["student-version", str(small_course), "-o", str(tmp_path / "out")]) == 2
    line = one_error_line(capsys)
    assert f"{small_course / '4_11_conv.ipynb'}: cell 2: line 3: '### Begin Solution' is not a " \
           "solution marker: write '### BEGIN SOLUTION' exactly" in line


def test_keep_solutions_writes_the_instructor_version(small_course, tmp_path, capsys):
    out = tmp_path / "source"
    assert main(["student-version", str(small_course), "-o", str(out), "--keep-solutions"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == (
        f"wrote 2 instructor notebook(s) with 1 solution(s) for nbgrader to {out}")
    nb = nbformat.read(out / "4_11_conv.ipynb", as_version=4)
    assert "size_solution" in nb.cells[2].source and nb.cells[2].metadata.nbgrader.solution
    assert nb.cells[3].metadata.nbgrader.grade_id == "check_conv_output_shape"
    assert all(c.outputs == [] for c in nb.cells if c.cell_type == "code")


# ----------------------------------------------------------------------------- the real notebooks

REAL = sorted(NOTEBOOKS.glob("*.ipynb"))
WITH_EXERCISES = [p for p in REAL if "### BEGIN SOLUTION" in p.read_text(encoding="utf-8")]


@pytest.fixture(scope="module")
def student_course(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    assert main(["student-version", str(NOTEBOOKS), "-o", str(out), "--quiet"]) == 0
    return out


def test_every_real_notebook_gets_a_student_copy(student_course):
    assert sorted(p.name for p in student_course.glob("*.ipynb")) == [p.name for p in REAL]
    for path in student_course.glob("*.ipynb"):
        nbformat.validate(nbformat.read(path, as_version=4))


@pytest.mark.parametrize("path", WITH_EXERCISES, ids=lambda p: p.stem)
def test_real_student_notebook(path, student_course):
    teacher = nbformat.read(path, as_version=4)
    student = nbformat.read(student_course / path.name, as_version=4)
    text = "\n".join(cell.source for cell in student.cells)
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
    solution, outside = _split_solutions(teacher)
    leaked = [line for line in solution if text.count(line) > outside.count(line)]
    assert not leaked, f"solution text left in the student copy: {leaked[:3]}"
    assert all(c.outputs == [] for c in student.cells if c.cell_type == "code")
    assert "widgets" not in student.metadata and "widget-view" not in (student_course / path.name).read_text()

    checks = [c for c in student.cells if c.cell_type == "code" and harness.is_check_cell(c.source)]
    assert checks, "an exercise without a self-check cell"
    assert all(c.metadata.nbgrader.grade and c.metadata.nbgrader.locked for c in checks)
    lines = harness.run_exercises(student)  # raises if a cell crashes instead of reporting
    assert len(lines) == len(checks)
    assert all(re.fullmatch(rf"check_\w+: {NOT_IMPLEMENTED}", line) for line in lines), lines


@pytest.mark.parametrize("path", WITH_EXERCISES, ids=lambda p: p.stem)
def test_real_solutions_pass_their_checks(path):
    lines = harness.run_exercises(nbformat.read(path, as_version=4))
    assert lines and all(re.fullmatch(r"check_\w+: all \d+ cases passed", line) for line in lines), lines


@pytest.mark.parametrize("path", WITH_EXERCISES, ids=lambda p: p.stem)
def test_every_self_check_is_reached(path, student_course):
    """No cell calls an unfilled exercise function unguarded: "Run All" on the student version
    reaches every check and the end of the notebook. A demo cell that reuses the student's
    function catches ``NotImplementedError`` and says "fill in ... first"."""
    blocking, after = _stub_calls(nbformat.read(student_course / path.name, as_version=4))
    assert not blocking, blocking
    assert not after, f"{path.name}: {', '.join(after)} after the last self-check, unguarded"


def test_stub_calls_are_found():
    code = nbformat.v4.new_code_cell
    nb = nbformat.v4.new_notebook()
    nb.cells = [code("import torch"),
                code("def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()"),
                code("y = f(1)"),  # before the check: "Run All" would never reach it
                code("from coursekit.exercises import check_conv1d\ncheck_conv1d(f);"),
                code("z = f(2)\nw = lib.f(3)")]
    assert _stub_calls(nb) == (["cell 2 calls f()"], ["cell 4 calls f()"])


@pytest.mark.slow
def test_student_notebook_in_a_real_kernel(small_course, tmp_path, capsys):
    """Executed by Jupyter, the unfilled exercise reports "not implemented yet" and no cell
    errors."""
    nbclient = pytest.importorskip("nbclient")
    out = tmp_path / "student"
    assert main(["student-version", str(small_course), "-o", str(out), "--quiet"]) == 0
    nb = nbformat.read(out / "4_11_conv.ipynb", as_version=4)
    nb.cells[1].source = "%matplotlib inline\n" + nb.cells[1].source
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert [o.text for o in outputs if o.output_type == "stream"] == [
        f"check_conv_output_shape: {NOT_IMPLEMENTED}\n"]
