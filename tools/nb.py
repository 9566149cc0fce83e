"""Build a notebook from a percent-format Python script (authoring aid).

    python tools/nb.py SCRIPT.py notebooks/4_04_triplet_loss.ipynb

Cells start with ``# %%`` (code) or ``# %% [markdown]`` (markdown; each line's leading ``# ``
is removed). Run ``python tools/run_course.py --inplace NOTEBOOK`` afterwards to execute it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat


def script_to_notebook(text: str) -> nbformat.NotebookNode:
    cells: list[tuple[str, list[str]]] = []
    kind, lines = None, []
    for line in text.splitlines():
        if line.startswith("# %%"):
            if kind is not None:
                cells.append((kind, lines))
            kind = "markdown" if "[markdown]" in line else "code"
            lines = []
        elif kind is not None:
            lines.append(line)
    if kind is not None:
        cells.append((kind, lines))
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for kind, body in cells:
        while body and not body[-1].strip():
            body.pop()
        while body and not body[0].strip():
            body.pop(0)
        if kind == "markdown":
            src = "\n".join(ln[2:] if ln.startswith("# ") else ln.lstrip("#") for ln in body)
            nb.cells.append(nbformat.v4.new_markdown_cell(src))
        else:
            nb.cells.append(nbformat.v4.new_code_cell("\n".join(body)))
    return nb


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    nb = script_to_notebook(Path(argv[0]).read_text())
    nbformat.write(nb, argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
