"""Student versions of a small generated notebook: solutions out, stubs in, outputs cleared,
checks kept, and the unfilled exercise's self-check reports "not implemented yet"."""

from __future__ import annotations

import nbformat
import pytest
from student_harness import run_exercises

from coursekit.exercises.student_version import (
    strip_solutions,
    student_notebook,
    write_student_versions,
)

SECRET = "distance_secret_4711"


def make_notebook(with_outputs: bool = True) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    setup = nbformat.v4.new_code_cell("%matplotlib inline\nimport torch\n"
                                      "from coursekit.runtime import seed_everything\n"
                                      "generator = seed_everything(0)")
    exercise = nbformat.v4.new_code_cell(
        "def triplet_loss(anchor, positive, negative, alpha=0.2):\n"
        '    """Σ max(‖a−p‖² − ‖a−n‖² + α, 0)."""\n'
        "    ### BEGIN SOLUTION\n"
        f"    {SECRET} = ((anchor - positive) ** 2).sum(-1) - ((anchor - negative) ** 2).sum(-1)\n"
        f"    return torch.clamp({SECRET} + alpha, min=0).sum()\n"
        "    ### END SOLUTION\n"
    )
    check = nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\nfrom coursekit.exercises import "
                                      "check_triplet_loss\ncheck_triplet_loss(triplet_loss);")
    nested = nbformat.v4.new_code_cell(
        "class Helper:\n"
        "    def conv1d_naive(self, x, w):\n"
        "        ### BEGIN SOLUTION\n"
        f"        return {SECRET}\n"
        "        ### END SOLUTION\n"
    )
    heavy = nbformat.v4.new_code_cell("print('train for an hour')")
    text = nbformat.v4.new_markdown_cell("## Exercise\nWrite the triplet loss.")
    if with_outputs:
        for i, cell in enumerate([setup, exercise, check, heavy]):
            cell.execution_count = i + 1
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"{SECRET} output\n")]
        heavy.metadata["execution"] = {"iopub.execute_input": "2024-01-01T00:00:00Z"}
    nb.cells = [text, setup, exercise, check, heavy, nested]
    nbformat.validate(nb)
    return nb


@pytest.fixture
def notebook_dir(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    nbformat.write(make_notebook(), folder / "4_04_triplet.ipynb")
    plain = nbformat.v4.new_notebook()
    plain.cells = [nbformat.v4.new_code_cell("x = 1")]
    nbformat.write(plain, folder / "4_99_plain.ipynb")
    (folder / "notes.txt").write_text("not a notebook")
    return folder


def test_strip_solutions_keeps_indentation_and_surroundings():
    source = "def f(x):\n    '''doc'''\n    ### BEGIN SOLUTION\n    y = x\n    return y\n" \
             "    ### END SOLUTION\n\nprint('after')"
    new, n = strip_solutions(source)
    assert n == 1
    assert new == ("def f(x):\n    '''doc'''\n    # YOUR CODE HERE\n    raise NotImplementedError()\n"
                   "\nprint('after')")


def test_strip_solutions_two_regions_and_markdown():
    source = "def f():\n  ### BEGIN SOLUTION\n  a\n  ### END SOLUTION\ndef g():\n" \
             "\t### BEGIN SOLUTION\n\tb\n\t### END SOLUTION"
    new, n = strip_solutions(source)
    assert n == 2 and "a\n" not in new and "\tb" not in new
    assert "  raise NotImplementedError()\ndef g():\n\t# YOUR CODE HERE\n\traise NotImplementedError()" in new
    md, n = strip_solutions("Answer:\n### BEGIN SOLUTION\nforty-two\n### END SOLUTION\n", markdown=True)
    assert n == 1 and md == "Answer:\nYOUR ANSWER HERE\n"


@pytest.mark.parametrize("source, message", [
    ("### BEGIN SOLUTION\nx\n", "without its"),
    ("x\n### END SOLUTION\n", "without a"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n", "inside another"),
    ("### BEGIN SOLUTION\nx = 1  ### END SOLUTION\n", "alone on its line"),
])
def test_strip_solutions_rejects_unbalanced_markers(source, message):
    with pytest.raises(ValueError, match=message):
        strip_solutions(source)


def test_student_notebook_replaces_solutions_and_clears_outputs():
    original = make_notebook()
    before = nbformat.writes(original)
    student = student_notebook(original)
    assert nbformat.writes(original) == before  # the input is untouched
    nb = student.notebook
    nbformat.validate(nb)
    assert student.solutions == 2 and student.warnings == []
    text = nbformat.writes(nb)
    assert SECRET not in text and "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
        assert "execution" not in cell.metadata
    assert "check_triplet_loss(triplet_loss);" in nb.cells[3].source  # self-check kept
    assert nb.cells[2].source.startswith("def triplet_loss(anchor, positive, negative, alpha=0.2):\n"
                                         '    """Σ max(‖a−p‖² − ‖a−n‖² + α, 0)."""\n'
                                         "    # YOUR CODE HERE\n    raise NotImplementedError()")
    assert "        # YOUR CODE HERE\n        raise NotImplementedError()" in nb.cells[5].source


def test_top_level_solution_is_reported():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("### BEGIN SOLUTION\nalpha = 0.2\n### END SOLUTION")]
    student = student_notebook(nb)
    assert student.solutions == 1 and "top level" in student.warnings[0]


def test_unfilled_exercise_reports_not_implemented(capsys):
    nb = student_notebook(make_notebook()).notebook
    lines = run_exercises(nb)
    assert lines == ["check_triplet_loss: not implemented yet — fill in the cell above and run it again"]


def test_the_solution_passes_its_check():
    assert run_exercises(make_notebook()) == ["check_triplet_loss: all 6 cases passed"]


def test_write_student_versions(notebook_dir, tmp_path):
    before = {p.name: p.read_bytes() for p in notebook_dir.iterdir()}
    out = tmp_path / "build" / "student"
    written = write_student_versions([notebook_dir], out)
    assert [p.name for p, _ in written] == ["4_04_triplet.ipynb", "4_99_plain.ipynb"]
    assert sorted(p.name for p in out.iterdir()) == ["4_04_triplet.ipynb", "4_99_plain.ipynb"]
    assert {p.name: p.read_bytes() for p in notebook_dir.iterdir()} == before
    for path, _ in written:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        assert SECRET not in path.read_text()
    # writing again replaces the files (no leftovers from the atomic write)
    write_student_versions([notebook_dir / "4_04_triplet.ipynb"], out)
    assert sorted(p.name for p in out.iterdir()) == ["4_04_triplet.ipynb", "4_99_plain.ipynb"]


@pytest.mark.parametrize("relative", [".", "sub", "sub/deeper"])
def test_refuses_output_in_the_input_folder(notebook_dir, relative):
    before = sorted(p.name for p in notebook_dir.rglob("*"))
    with pytest.raises(ValueError, match="input folder"):
        write_student_versions([notebook_dir], notebook_dir / relative)
    assert sorted(p.name for p in notebook_dir.rglob("*")) == before


def test_refuses_to_replace_an_input_file(notebook_dir):
    with pytest.raises(ValueError, match="replace an input"):
        write_student_versions([notebook_dir / "4_99_plain.ipynb"], notebook_dir)


def test_bad_notebook_writes_nothing(notebook_dir, tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("def f():\n    ### BEGIN SOLUTION\n    pass\n")]
    nbformat.write(nb, notebook_dir / "4_50_broken.ipynb")
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=r"4_50_broken.ipynb: cell 0: .*without its"):
        write_student_versions([notebook_dir], out)
    assert not out.exists()


def test_missing_or_empty_inputs(tmp_path):
    with pytest.raises(FileNotFoundError):
        write_student_versions([tmp_path / "nope"], tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no notebooks"):
        write_student_versions([tmp_path / "empty"], tmp_path / "out")


# ----------------------------------------------------------------------------- near-miss markers

NEAR_MISSES = ["## BEGIN SOLUTION", "### Begin Solution", "###BEGIN SOLUTION", "#### BEGIN SOLUTION",
               "### BEGIN_SOLUTION", "# begin solution", "### BEGIN  SOLUTION", "### END SOLUTION!",
               "## END SOLUTION", "### BEGIN SOLUTION: loop over the batch"]


@pytest.mark.parametrize("marker", NEAR_MISSES)
def test_near_miss_marker_is_refused_naming_notebook_and_cell(marker, notebook_dir, tmp_path):
    nb = nbformat.v4.new_notebook()
    body = f"def f(x):\n    {marker}\n    return x  # {SECRET}\n    ### END SOLUTION\n"
    if "END" in marker:
        body = f"def f(x):\n    ### BEGIN SOLUTION\n    return x  # {SECRET}\n    {marker}\n"
    nb.cells = [nbformat.v4.new_markdown_cell("# title"), nbformat.v4.new_code_cell(body)]
    nbformat.write(nb, notebook_dir / "4_50_typo.ipynb")
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=r"4_50_typo\.ipynb: cell 1: line [24]: .*solution marker"):
        write_student_versions([notebook_dir], out)
    assert not out.exists()


def test_near_miss_in_markdown_is_refused():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("Answer:\n## BEGIN SOLUTION\nforty-two\n## END SOLUTION")]
    with pytest.raises(ValueError, match="cell 0: line 2: '## BEGIN SOLUTION' is not a solution marker"):
        student_notebook(nb)


def test_prose_about_solutions_is_not_a_marker():
    text = "The solution begins below; BEGIN with the loss.\nprint('solution')"
    assert strip_solutions(text) == (text, 0)


# ----------------------------------------------------------------------------- widget state

def test_widget_state_is_dropped():
    nb = make_notebook()
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {SECRET: {}}}}
    view = nbformat.v4.new_output("display_data", data={
        "application/vnd.jupyter.widget-view+json": {"model_id": SECRET, "version_major": 2},
        "text/plain": "interactive(...)"})
    nb.cells[4].outputs = [view]
    student = student_notebook(nb).notebook
    assert "widgets" not in student.metadata
    assert SECRET not in nbformat.writes(student) and "widget-view" not in nbformat.writes(student)
    assert "widgets" in nb.metadata  # the input is untouched


# ----------------------------------------------------------------------------- library solutions

def _course(setup: str, *more: str) -> nbformat.NotebookNode:
    nb = make_notebook()
    nb.cells[1].source = setup
    nb.cells += [nbformat.v4.new_code_cell(src) for src in more]
    return nb


def _names_after_setup(nb) -> dict:
    namespace: dict = {}
    exec(compile(nb.cells[1].source, "<setup>", "exec"), namespace)  # noqa: S102
    return namespace


@pytest.mark.parametrize("setup, expected", [
    ("import torch\nfrom coursekit.face import triplet_loss, embed",
     "import torch\nfrom coursekit.face import embed"),
    ("from coursekit.face import (\n    embed,  # encodings\n    triplet_loss,\n    all_pairs,\n)\n"
     "import torch",
     "from coursekit.face import embed, all_pairs\nimport torch"),
    ("import torch\nfrom coursekit.face import triplet_loss  # the library's",
     "import torch"),
    ("import torch\nfrom coursekit.face import triplet_loss as triplet_loss, embed",
     "import torch\nfrom coursekit.face import embed"),
    ("import torch\nif True:\n    from coursekit.face import triplet_loss\n",
     "import torch\nif True:\n    pass\n"),
])
def test_exercise_name_is_not_imported_from_the_library(setup, expected):
    nb = _course(setup)
    student = student_notebook(nb)
    assert student.notebook.cells[1].source == expected
    assert student.unimported == ["triplet_loss"] and student.exercises == ["triplet_loss", "Helper"]
    assert "triplet_loss" not in _names_after_setup(student.notebook)
    assert run_exercises(student.notebook) == [
        "check_triplet_loss: not implemented yet — fill in the cell above and run it again"]


def test_library_solution_under_another_name_is_kept():
    setup = "import torch\nfrom coursekit.face import triplet_loss as library_triplet_loss"
    student = student_notebook(_course(setup))
    assert student.notebook.cells[1].source == setup and student.unimported == []


@pytest.mark.parametrize("cell, message", [
    ("import coursekit.face as cf\ntriplet_loss = cf.triplet_loss", "cell 6 binds triplet_loss"),
    ("def triplet_loss(a, p, n):\n    return 0", "cell 6 binds triplet_loss"),
    ("from coursekit.face import *", r"import \*"),
    ("import torch; from coursekit.face import triplet_loss", "on its own line"),
])
def test_other_bindings_of_the_exercise_name_are_refused(cell, message):
    with pytest.raises(ValueError, match=message):
        student_notebook(_course("import torch", cell))
