"""tools/run_course.py: frozen progress bars are dropped from unchecked cells only; no notebook
builds an ipywidgets Output widget (the cause of jupyter/nbclient#312 hangs), so the standard
executor runs every notebook."""

import importlib.util
from pathlib import Path

import nbformat

_spec = importlib.util.spec_from_file_location(
    "run_course", Path(__file__).resolve().parents[1] / "tools" / "run_course.py")
run_course = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_course)


def _widget(text):
    return nbformat.v4.new_output("display_data", data={
        "application/vnd.jupyter.widget-view+json": {"model_id": "x", "version_major": 2,
                                                      "version_minor": 0},
        "text/plain": text})


def test_drop_progress_bars_keeps_sliders_prints_and_checked_cells():
    bar = _widget("training (batch_hard):   0%|          | 0/200 [00:00<?, ?it/s]")
    slider = _widget("interactive(children=(FloatSlider(value=1.18, description='tau'), Output()))")
    printed = nbformat.v4.new_output("stream", name="stdout", text="50%| not a widget\n")
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("train()", outputs=[bar, printed]),
        nbformat.v4.new_code_cell("interact()", outputs=[slider]),
        nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\ntrain()", outputs=[bar]),
        nbformat.v4.new_markdown_cell("50%| text"),
    ])
    assert run_course.drop_progress_bars(nb) == 1
    assert nb.cells[0].outputs == [printed]
    assert nb.cells[1].outputs == [slider] and nb.cells[2].outputs == [bar]


def test_uses_output_widgets():
    def nb(*sources):
        return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])

    assert run_course.uses_output_widgets(nb("widgets.interactive(f, k=(1, 3))"))
    assert run_course.uses_output_widgets(nb("x = 1", "interact(f, k=2)"))
    assert run_course.uses_output_widgets(nb("out = widgets.Output()"))
    assert not run_course.uses_output_widgets(nb("interactive_figure(draw, k=(1, 3))"))
    assert not run_course.uses_output_widgets(nb("for _ in tqdm(range(3)): pass"))
    markdown = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("interactive(f)")])
    assert not run_course.uses_output_widgets(markdown)


NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("4_*.ipynb"))


def test_no_notebook_builds_output_widgets():
    assert len(NOTEBOOKS) == 11
    for path in NOTEBOOKS:
        assert not run_course.uses_output_widgets(nbformat.read(path, as_version=4)), path.name
