"""coursekit.plotting.interactive_figure: one output per widget cell, no figure left in pyplot,
and a notebook built with it runs to the end under plain nbclient (the standard executor's engine),
several times in a row."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import matplotlib.pyplot as plt
import nbformat
import pytest

from coursekit.plotting import figure_png, interactive_figure

pytest.importorskip("ipywidgets")


def draw(n=3, label="a"):
    if n > 8:
        raise ValueError(f"n={n} is too large for this drawing")
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot(range(n))
    ax.set_title(label)
    return fig


def test_no_figure_left_in_pyplot_and_redraws_on_change():
    plt.close("all")
    view = interactive_figure(draw, n=(1, 10), label=["a", "b"])
    assert plt.get_fignums() == []  # nothing for the inline backend to show a second time
    assert view.values == {"n": 3, "label": "a"}
    first = view.png
    view.controls["label"].value = "b"
    assert view.png != first and view.image.value == view.png
    assert plt.get_fignums() == []


def test_a_value_error_is_shown_and_the_last_figure_kept():
    view = interactive_figure(draw, n=(1, 10))
    before = view.png
    view.controls["n"].value = 9
    assert "too large" in view.message.value and view.png == before
    assert plt.get_fignums() == []
    view.controls["n"].value = 4
    assert view.message.value == "" and view.png == figure_png(draw(4))
    plt.close("all")


def test_bad_uses():
    with pytest.raises(ValueError, match="takes no argument"):
        interactive_figure(draw, width=(1, 3))
    with pytest.raises(TypeError, match="must return a matplotlib Figure"):
        interactive_figure(lambda k=1: None, k=(1, 3))


def test_one_output_with_a_static_fallback():
    view = interactive_figure(draw, n=(1, 10))
    bundle = view._repr_mimebundle_()
    assert {"application/vnd.jupyter.widget-view+json", "image/png", "text/plain"} <= set(bundle)


_RUNS = 3
_SCRIPT = textwrap.dedent("""
    import json, sys, time
    import nbformat
    from nbclient import NotebookClient

    nb_json, runs = sys.argv[1], int(sys.argv[2])
    report = []
    for _ in range(runs):
        nb = nbformat.reads(nb_json, as_version=4)
        start = time.monotonic()
        NotebookClient(nb, timeout=120, kernel_name="python3").execute()  # plain nbclient
        report.append({"seconds": time.monotonic() - start,
                       "outputs": [[sorted(o.get("data", {})) or o["output_type"] for o in c.outputs]
                                   for c in nb.cells]})
    print(json.dumps(report))
""")


def test_widget_notebook_runs_under_plain_nbclient_several_times():
    """Each widget cell gives exactly one output (widget view + static PNG, no twin image),
    and every run reaches the last cell; the subprocess timeout catches a hang."""
    cells = [
        "%matplotlib inline\nimport matplotlib.pyplot as plt\n"
        "from coursekit.plotting import interactive_figure",
        "def draw(n=3):\n    fig, ax = plt.subplots(figsize=(3, 2))\n    ax.plot(range(n))\n    return fig",
        "interactive_figure(draw, n=(1, 9))",
        "interactive_figure(draw, n=[2, 4, 6])",
        "print('end')",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    proc = subprocess.run([sys.executable, "-c", _SCRIPT, nbformat.writes(nb), str(_RUNS)],
                          capture_output=True, text=True, timeout=120 * _RUNS)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(report) == _RUNS
    widget_output = ["application/vnd.jupyter.widget-view+json", "image/png", "text/plain"]
    for run in report:
        outputs = run["outputs"]
        assert outputs[2] == [widget_output] and outputs[3] == [widget_output]
        assert outputs[4] == ["stream"]
