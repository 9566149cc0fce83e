"""The student version is what nbgrader itself makes of the instructor version: nbgrader's own
preprocessors (``ClearSolutions`` with ``enforce_metadata``, ``LockCells``, ``ComputeChecksums``,
``CheckCellMetadata``) accept the metadata ``coursekit student-version`` writes, and turn the
``--keep-solutions`` copy into the same cells; in grading mode the grade cells score the checks.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import nbformat
import pytest
from student_harness import python_source

from coursekit.exercises.student_version import student_notebook

nbgrader = pytest.importorskip("nbgrader", reason="nbgrader is a dev dependency (pyproject.toml)")
from nbgrader.nbgraderformat import MetadataValidator  # noqa: E402
from nbgrader.preprocessors import (  # noqa: E402
    CheckCellMetadata,
    ClearOutput,
    ClearSolutions,
    ComputeChecksums,
    LockCells,
)

ROOT = Path(__file__).resolve().parents[2]
REAL = sorted((ROOT / "notebooks").glob("*.ipynb"))


def course_notebook() -> nbformat.NotebookNode:
    code, md = nbformat.v4.new_code_cell, nbformat.v4.new_markdown_cell
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        md("# Triplet loss"),
        code("%matplotlib inline\nimport torch\nfrom coursekit.face import embed, triplet_loss"),
        code("def triplet_loss(anchor, positive, negative, alpha=0.2):\n"
             "    ### BEGIN SOLUTION\n"
             "    pos = ((anchor - positive) ** 2).sum(-1)\n"
             "    neg = ((anchor - negative) ** 2).sum(-1)\n"
             "    return torch.clamp(pos - neg + alpha, min=0).sum()\n"
             "    ### END SOLUTION"),
        code("from coursekit.exercises import check_triplet_loss\ncheck_triplet_loss(triplet_loss);"),
        md("Why a margin?\n### BEGIN SOLUTION\nSo that the loss cannot be zero for f = 0.\n"
           "### END SOLUTION"),
        code("def conv_output_shape(n, f, stride=1, padding=0):\n"
             "    ### BEGIN SOLUTION\n"
             "    return (n + 2 * padding - f) // stride + 1\n"
             "    ### END SOLUTION\n"),
        code("from coursekit.exercises import check_conv_output_shape\n"
             "ok = check_conv_output_shape(conv_output_shape)"),
    ]
    return nb


def nbgrader_release(instructor: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """What ``nbgrader generate_assignment`` does to a source notebook, minus the database."""
    nb, resources = nbformat.from_dict(instructor), {}
    for step in (CheckCellMetadata(), ClearSolutions(enforce_metadata=True), ClearOutput(),
                 LockCells(), ComputeChecksums(), CheckCellMetadata()):
        nb, resources = step.preprocess(nb, resources)
    return nb


def assert_same_cells(ours, theirs):
    assert len(ours.cells) == len(theirs.cells)
    for mine, nbg in zip(ours.cells, theirs.cells):
        assert mine.cell_type == nbg.cell_type
        assert mine.source.rstrip("\n") == nbg.source.rstrip("\n")
        keys = ("grade", "grade_id", "locked", "points", "solution", "schema_version")
        ours_meta = {k: v for k, v in mine.metadata.get("nbgrader", {}).items() if k in keys}
        theirs_meta = {k: v for k, v in nbg.metadata.get("nbgrader", {}).items() if k in keys}
        assert ours_meta == theirs_meta


def test_metadata_marks_solutions_and_checks():
    student = student_notebook(course_notebook()).notebook
    MetadataValidator().validate_nb(student)
    meta = [c.metadata.get("nbgrader") for c in student.cells]
    assert meta[0] is None and meta[1] is None
    assert meta[2] == {"grade": False, "grade_id": "triplet_loss", "locked": False, "solution": True,
                       "schema_version": 3}
    assert meta[3] == {"grade": True, "grade_id": "check_triplet_loss", "locked": True, "points": 1,
                       "solution": False, "schema_version": 3}
    assert meta[4]["solution"] and meta[4]["grade"] and meta[4]["points"] == 1  # a written answer
    assert [m["grade_id"] for m in meta[5:]] == ["conv_output_shape", "check_conv_output_shape"]


def test_nbgrader_makes_the_same_student_version():
    instructor = student_notebook(course_notebook(), keep_solutions=True).notebook
    assert "pos - neg + alpha" in instructor.cells[2].source
    release = nbgrader_release(instructor)
    student = student_notebook(course_notebook()).notebook
    assert_same_cells(student, release)
    assert "pos - neg" not in nbformat.writes(release)


@pytest.mark.parametrize("path", REAL, ids=lambda p: p.stem)
def test_nbgrader_accepts_the_real_notebooks(path):
    teacher = nbformat.read(path, as_version=4)
    student = student_notebook(teacher).notebook
    MetadataValidator().validate_nb(student)
    assert_same_cells(student, nbgrader_release(student_notebook(teacher, keep_solutions=True).notebook))


def grade(nb) -> tuple[int, int, list[str]]:
    """Run the notebook's code cells in order as ``nbgrader autograde`` would score them: a grade
    cell that raises scores 0. Returns (score, total, failure messages)."""
    namespace: dict = {"__name__": "__grading__"}
    score = total = 0
    failures = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        meta = cell.metadata.get("nbgrader", {})
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(python_source(cell.source), "<cell>", "exec"), namespace)  # noqa: S102
            passed = True
        except AssertionError as err:
            passed = False
            failures.append(str(err))
        if meta.get("grade"):
            total += meta["points"]
            score += meta["points"] * passed
    return score, total, failures


def test_grading_mode_scores_the_checks(monkeypatch):
    monkeypatch.setenv("COURSEKIT_GRADING", "1")
    student = student_notebook(course_notebook()).notebook
    score, total, failures = grade(student)
    assert (score, total) == (0, 2) and all("not implemented yet" in f for f in failures)

    wrong = student_notebook(course_notebook()).notebook  # a max(., 0) on the total: 0 points
    wrong.cells[2].source = wrong.cells[2].source.replace(
        "# YOUR CODE HERE\n    raise NotImplementedError()",
        "d = ((anchor - positive) ** 2).sum(-1) - ((anchor - negative) ** 2).sum(-1)\n"
        "    return torch.clamp((d + alpha).sum(), min=0)")
    score, total, failures = grade(wrong)
    assert (score, total) == (0, 2) and "max(·, 0) to EACH triplet" in failures[0]

    assert grade(student_notebook(course_notebook(), keep_solutions=True).notebook)[:2] == (2, 2)
