"""Execute the course notebooks; write executed copies and HTML pages, or refresh in place.

    python tools/run_course.py                       # all notebooks -> build/course/ (+ index.html)
    python tools/run_course.py --inplace             # refresh notebooks/ with their outputs
    python tools/run_course.py --inplace notebooks/4_04_triplet_loss.ipynb

Prints a table of notebook, status and seconds; exits 1 if any notebook failed.
"""

from __future__ import annotations

import argparse
import html
import os
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


# ipywidgets' Output widget, built by interact/interactive/interactive_output or directly. What
# such a widget captures during a cell, nbclient mirrors back to the kernel on the shell channel,
# the channel it polls for the cell's reply, and a run sometimes stalled there with the kernel idle
# and the cell timeout never firing (jupyter/nbclient#312, jupyter/nbconvert#2029). The notebooks
# build their widgets with coursekit.plotting.interactive_figure instead, which uses no Output
# widget, so plain nbclient (and nbconvert --execute, papermill, jupyter-book) runs them.
_OUTPUT_WIDGET = re.compile(r"\b(?:interact|interactive|interactive_output|Output)\s*\(")


def uses_output_widgets(nb: nbformat.NotebookNode) -> bool:
    """Whether a code cell builds an ipywidgets ``Output`` widget (``interact``, ``interactive``,
    ``interactive_output``, ``Output``); ``coursekit.plotting.interactive_figure`` builds none."""
    return any(c.cell_type == "code" and _OUTPUT_WIDGET.search(c.source) for c in nb.cells)


def execute(path: Path, timeout: int) -> tuple[nbformat.NotebookNode, str, float]:
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute()
        status = "ok"
    except Exception as err:  # CellExecutionError, timeouts, dead kernels
        status = f"FAILED: {type(err).__name__}"
        first = str(err).strip().splitlines()
        if first:
            status += f": {first[-1][:120]}"
    return nb, status, time.perf_counter() - start


_BAR = re.compile(r"\d+%\|")  # tqdm's text: " 40%|████      | 4/10 [...]"


def drop_progress_bars(nb: nbformat.NotebookNode) -> int:
    """Remove tqdm progress-bar widgets from the outputs of unchecked cells; return how many.

    A saved notebook keeps no widget state, so a bar is shown by its text fallback, frozen at
    the moment it was first displayed ("0%| 0/200"), which reads as a stalled run. Students
    running the notebook live still see the bars. Cells marked ``# NBVAL_CHECK_OUTPUT`` keep
    their outputs, as nbval compares them.
    """
    dropped = 0
    for cell in nb.cells:
        if cell.cell_type != "code" or "NBVAL_CHECK_OUTPUT" in cell.source:
            continue
        keep = [o for o in cell.get("outputs", [])
                if not ("application/vnd.jupyter.widget-view+json" in o.get("data", {})
                        and _BAR.search(str(o["data"].get("text/plain", ""))))]
        dropped += len(cell.get("outputs", [])) - len(keep)
        cell["outputs"] = keep
    return dropped


def write_html(nb: nbformat.NotebookNode, out: Path) -> None:
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(nb)
    out.write_text(body, encoding="utf-8")


def title_of(path: Path) -> str:
    """The notebook's first heading, e.g. '4.4 Triplet loss'."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return path.stem


def write_index(rows: list[tuple[str, str, float]], out_dir: Path) -> None:
    items = "\n".join(
        f'<tr><td><a href="{html.escape(Path(n).stem)}.html">{html.escape(title_of(Path(n)))}</a></td>'
        f'<td><a href="{html.escape(Path(n).name)}">notebook</a></td>'
        f"<td>{html.escape(s)}</td><td>{t:.1f}</td></tr>"
        for n, s, t in rows
    )
    (out_dir / "index.html").write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>coursekit course</title></head>"
        "<body><h1>coursekit: face recognition and neural style transfer (4.1-4.11)</h1>"
        "<table border='1' cellpadding='4'><tr><th>lesson</th><th>file</th><th>status</th>"
        f"<th>seconds</th></tr>{items}</table></body></html>\n",
        encoding="utf-8",
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("notebooks", nargs="*", type=Path)
    ap.add_argument("--inplace", action="store_true", help="write outputs back into the notebooks")
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "course")
    ap.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    args = ap.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("4_*.ipynb"))
    if not args.inplace:
        args.out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PYTHONHASHSEED", "0")
    rows = []
    print(f"{'notebook':45s} {'status':8s} {'seconds':>8s}", flush=True)
    for path in paths:
        nb, status, secs = execute(path, args.timeout)
        drop_progress_bars(nb)
        if args.inplace:
            nbformat.write(nb, path)
        else:
            nbformat.write(nb, args.out / path.name)
            write_html(nb, args.out / f"{path.stem}.html")
        rows.append((str(path), status, secs))
        print(f"{path.name:45s} {status:8s} {secs:8.1f}", flush=True)
    if not args.inplace:
        write_index(rows, args.out)
        print(f"wrote {args.out / 'index.html'}")
    failed = [r for r in rows if r[1] != "ok"]
    print(f"{len(rows) - len(failed)} of {len(rows)} notebooks ran ok; total {sum(r[2] for r in rows):.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
